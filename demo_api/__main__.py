"""Run the demo: ``python -m demo_api`` (what ``make demo`` does).

With ``LOGTO_ENDPOINT`` unset, the embedded dev issuer starts on ``--issuer-port`` (3001)
with a read-only and a read-write M2M app, and the shopping API on ``--port`` (8000) trusts
it; the apps' credentials and ready-to-paste curl lines are printed. With ``LOGTO_ENDPOINT``
set, only the API starts and it trusts that Logto endpoint.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import shlex
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from logto_guard.dev_issuer import IssuerState, open_issuer
from logto_guard.dev_issuer import create_app as create_issuer_app

from .app import SCOPES, create_app
from .settings import Settings

READER, WRITER = "shopping-reader", "shopping-writer"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m demo_api", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="API bind address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="API port (8000)")
    parser.add_argument("--issuer-port", type=int, default=3001, help="dev issuer port (3001)")
    parser.add_argument("--db", default="demo.sqlite3", help="SQLite file for products")
    parser.add_argument("--state-dir", default=".logto-dev", help="dev issuer state directory")
    return parser.parse_args(argv)


def _bind(host: str, port: int, what: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        message = f"error: cannot listen on {host}:{port} for the {what}: {exc.strerror}"
        raise SystemExit(message) from None
    return sock


def _server(app: Any, *, log_level: str = "info") -> Any:
    import uvicorn  # a dev dependency: only needed to serve

    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False))


def register_apps(state: IssuerState, audience: str, mcp_resource: str | None = None) -> None:
    """The demo's resources (the REST API and, when given, the MCP endpoint) and its two
    M2M apps, granted their scopes on each (idempotent across restarts)."""
    resources = [audience] + ([mcp_resource] if mcp_resource else [])
    for resource in resources:
        state.add_resource(resource, list(SCOPES))
    state.ensure_app(READER, grants={r: ["read:products"] for r in resources})
    state.ensure_app(WRITER, grants={r: ["read:products", "write:products"] for r in resources})


def instructions(
    state: IssuerState,
    *,
    api_url: str,
    audience: str,
    endpoint: str,
    mcp_resource: str | None = None,
) -> str:
    """The banner: credentials, then curl lines that work when pasted into a shell."""
    lines = [
        "",
        f"Dev issuer (Logto-compatible): {endpoint}   token endpoint: {endpoint}/oidc/token",
        f"Shopping API: {api_url}   docs: {api_url}/docs   audience: {audience}",
        "",
    ]
    for name in (READER, WRITER):
        app = state.find_app(name)
        assert app is not None
        lines.append(f"  {name}: App ID {app.app_id}   App Secret {app.app_secret}")
    writer = state.find_app(WRITER)
    assert writer is not None
    basic = base64.b64encode(f"{writer.app_id}:{writer.app_secret}".encode()).decode()
    product = shlex.quote('{"name": "Green tea", "price": 4.5}')
    lines += [
        "",
        "# 1. Get an access token (exactly as in Logto's M2M guide):",
        f"curl -s -X POST {endpoint}/oidc/token \\",
        f"  -H 'Authorization: Basic {basic}' \\",
        "  -H 'Content-Type: application/x-www-form-urlencoded' \\",
        "  --data-urlencode grant_type=client_credentials \\",
        f"  --data-urlencode resource={audience} \\",
        "  --data-urlencode 'scope=read:products write:products'",
        "",
        "# 2. Keep it and call the API:",
        f"TOKEN=$(curl -s -X POST {endpoint}/oidc/token -H 'Authorization: Basic {basic}'"
        f" --data-urlencode grant_type=client_credentials --data-urlencode resource={audience}"
        " --data-urlencode 'scope=read:products write:products'"
        " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
        f'curl -s -X POST {api_url}/products -H "Authorization: Bearer $TOKEN"'
        f" -H 'Content-Type: application/json' -d {product}",
        f'curl -s {api_url}/products -H "Authorization: Bearer $TOKEN"',
    ]
    if mcp_resource:
        lines += mcp_instructions(endpoint=endpoint, basic=basic, mcp_resource=mcp_resource)
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def mcp_instructions(*, endpoint: str, basic: str, mcp_resource: str) -> list[str]:
    """Banner lines for the MCP endpoint: a token for its resource, then a client snippet."""
    return [
        "",
        f"MCP server (streamable HTTP): {mcp_resource}   resource indicator: {mcp_resource}",
        "# 3. A token for the MCP resource (resource= is the MCP endpoint's URL):",
        f"MCP_TOKEN=$(curl -s -X POST {endpoint}/oidc/token -H 'Authorization: Basic {basic}'"
        f" --data-urlencode grant_type=client_credentials --data-urlencode resource={mcp_resource}"
        " --data-urlencode 'scope=read:products write:products'"
        " | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')",
        "# 4. Call the tools from Python (or: python -m demo_api.client mcp-tools):",
        "#   import anyio, httpx2, os",
        "#   from mcp import ClientSession",
        "#   from mcp.client.streamable_http import streamable_http_client",
        "#   async def main():",
        '#       auth = {"Authorization": "Bearer " + os.environ["MCP_TOKEN"]}',
        "#       async with httpx2.AsyncClient(headers=auth) as http, streamable_http_client(",
        f'#               "{mcp_resource}", http_client=http) as (read, write), \\',
        "#               ClientSession(read, write) as session:",
        "#           await session.initialize()",
        '#           print(await session.call_tool("list_products", {}))',
        "#   anyio.run(main)",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = parse_args(argv)
    settings = Settings.from_env(db_path=args.db).with_mcp_default(args.port)
    issuer_thread: threading.Thread | None = None
    issuer_server: Any = None
    state: IssuerState | None = None
    if settings.endpoint is None:
        endpoint = f"http://127.0.0.1:{args.issuer_port}"
        settings = Settings.from_env(endpoint=endpoint, db_path=args.db).with_mcp_default(args.port)
        state = open_issuer(args.state_dir, issuer=f"{endpoint}/oidc")
        register_apps(state, settings.audience, settings.mcp_resource)
        issuer_sock = _bind("127.0.0.1", args.issuer_port, "dev issuer")
        issuer_server = _server(create_issuer_app(state), log_level="warning")
        issuer_thread = threading.Thread(
            target=issuer_server.run, kwargs={"sockets": [issuer_sock]}, daemon=True
        )
    api_sock = _bind(args.host, args.port, "shopping API")
    api_server = _server(create_app(settings))
    if issuer_thread is not None:
        issuer_thread.start()
    host = f"[{args.host}]" if ":" in args.host else args.host
    api_url = f"http://{host}:{args.port}"
    if state is not None:
        assert settings.endpoint is not None
        banner = instructions(
            state,
            api_url=api_url,
            audience=settings.audience,
            endpoint=settings.endpoint,
            mcp_resource=settings.mcp_resource,
        )
    else:
        banner = (
            f"Shopping API on {api_url}, trusting {settings.endpoint} for {settings.audience}"
            f"\nMCP server at {api_url}/mcp, resource indicator {settings.mcp_resource}"
            " (create an API resource with exactly this indicator in the Logto Console)"
        )
    servers = [api_server] + ([issuer_server] if issuer_server is not None else [])

    def announce() -> None:
        # Print once both servers listen, so the curl lines work as soon as they show.
        deadline = time.monotonic() + 30
        while not all(server.started for server in servers) and time.monotonic() < deadline:
            time.sleep(0.05)
        print(banner, flush=True)

    threading.Thread(target=announce, daemon=True).start()
    # The API runs in the main thread so uvicorn's own Ctrl-C handling applies; the
    # issuer thread is told to stop once the API has.
    with contextlib.suppress(KeyboardInterrupt):
        api_server.run(sockets=[api_sock])
    if issuer_thread is not None:
        issuer_server.should_exit = True
        issuer_thread.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
