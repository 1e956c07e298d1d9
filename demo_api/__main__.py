"""Run the demo: ``python -m demo_api`` (what ``make demo`` does).

With ``LOGTO_ENDPOINT`` unset, the embedded dev issuer starts on ``--issuer-port`` (3001)
with a read-only and a read-write M2M app (and ``shopping-admin`` for its Management API
stand-in), and the shopping API on ``--port`` (8000) trusts it; the apps' credentials and
ready-to-paste shell lines are printed on stdout. With ``LOGTO_ENDPOINT`` set, only the API
starts and it trusts that Logto endpoint. The servers' log lines, labelled ``[issuer]`` /
``[api]``, and every refused request (``logto_guard``, with its reason) go to stderr.

Before serving, the API checks its configuration: a JWKS URL that answers no key set stops
the start (exit status 1, one ``error:`` line); an unreachable issuer only warns.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import socket
import sys
import threading
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from logto_guard import ConfigurationError
from logto_guard.dev_issuer import (
    DEFAULT_USER_ID,
    DEFAULT_USERNAME,
    MANAGEMENT_API,
    Directory,
    IssuerState,
    import_uvicorn,
    open_issuer,
)
from logto_guard.dev_issuer import create_app as create_issuer_app

from .app import SCOPES, create_app
from .banner import ADMIN, MCP_SERVER, READER, WRITER, instructions
from .console import ISSUER_THREAD, configure_console
from .settings import Settings

__all__ = ["ADMIN", "MCP_SERVER", "READER", "WRITER", "main", "parse_args", "register_apps"]
log = logging.getLogger("demo_api")
ISSUER, API = {"server": "[issuer]"}, {"server": "[api]"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m demo_api", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="API bind address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="API port (8000; 0: any free)")
    parser.add_argument(
        "--issuer-port", type=int, default=3001, help="dev issuer port (3001; 0: any free)"
    )
    parser.add_argument("--db", default="demo.sqlite3", help="SQLite file for products")
    parser.add_argument("--state-dir", default=".logto-dev", help="dev issuer state directory")
    parser.add_argument(
        "--quiet-refusals",
        action="store_true",
        help="do not log refused requests (logto_guard INFO lines); JWKS warnings still show",
    )
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


def _server(uvicorn: ModuleType, app: Any) -> Any:
    # log_config=None, log_level=None: logging is configured once, by configure_console
    # (both servers share uvicorn's loggers).
    return uvicorn.Server(uvicorn.Config(app, log_config=None, log_level=None, access_log=False))


def register_apps(
    state: IssuerState,
    audience: str,
    mcp_resource: str | None = None,
    directory: Directory | None = None,
) -> None:
    """The demo's resources (the REST API and, when given, the MCP endpoint) and its two
    M2M apps, granted their scopes on each; and the Management API (scope ``all``) with
    ``shopping-admin`` granted it, so Logto's Management API examples run against the
    demo (idempotent across restarts). With ``directory``: the MCP server's own app
    ``shopping-mcp``, allowed to exchange tokens (its delegated tool), and the dev user
    with read and write roles on both resources."""
    resources = [audience] + ([mcp_resource] if mcp_resource else [])
    for resource in resources:
        state.add_resource(resource, list(SCOPES))
    state.ensure_app(READER, grants={r: ["read:products"] for r in resources})
    state.ensure_app(WRITER, grants={r: ["read:products", "write:products"] for r in resources})
    state.add_resource(MANAGEMENT_API, ["all"])
    state.ensure_app(ADMIN, grants={MANAGEMENT_API: ["all"]})
    if directory is not None:
        # Its own grants serve M2M callers of the tool (no user to act for).
        mcp_server = state.ensure_app(MCP_SERVER, grants={audience: list(SCOPES)})
        directory.set_token_exchange(mcp_server.app_id, True)
        directory.set_user(
            DEFAULT_USER_ID,
            username=DEFAULT_USERNAME,
            roles={r: list(SCOPES) for r in resources},
        )


def _wait_started(server: Any, thread: threading.Thread | None = None) -> bool:
    # Poll with a deadline: uvicorn offers no event to wait on.
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        if thread is not None and not thread.is_alive():
            return False
        time.sleep(0.05)
    return bool(server.started)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status (1 when the API could not start,
    2 when uvicorn is missing: then nothing has been written)."""
    args = parse_args(argv)
    uvicorn = import_uvicorn("python -m demo_api")
    if uvicorn is None:
        return 2
    configure_console(quiet_refusals=args.quiet_refusals)
    api_sock = _bind(args.host, args.port, "shopping API")
    api_port = api_sock.getsockname()[1]  # with --port 0, the port the OS picked
    settings = Settings.from_env(db_path=args.db).with_mcp_default(api_port)
    issuer_thread: threading.Thread | None = None
    issuer_server: Any = None
    state: IssuerState | None = None
    if settings.endpoint is None:
        issuer_sock = _bind("127.0.0.1", args.issuer_port, "dev issuer")
        endpoint = f"http://127.0.0.1:{issuer_sock.getsockname()[1]}"
        settings = Settings.from_env(endpoint=endpoint, db_path=args.db).with_mcp_default(api_port)
        state = open_issuer(args.state_dir, issuer=f"{endpoint}/oidc")
        directory = Directory.open(args.state_dir)
        register_apps(state, settings.audience, settings.mcp_resource, directory)
        mcp_server = state.find_app(MCP_SERVER)
        if mcp_server is not None and settings.mcp_app_id is None:
            settings = dataclasses.replace(
                settings, mcp_app_id=mcp_server.app_id, mcp_app_secret=mcp_server.app_secret
            )
        issuer_server = _server(uvicorn, create_issuer_app(state, directory=directory))
        issuer_thread = threading.Thread(
            target=issuer_server.run,
            kwargs={"sockets": [issuer_sock]},
            name=ISSUER_THREAD,  # labels its log lines [issuer]
            daemon=True,
        )
    try:
        app = create_app(settings)
    except ConfigurationError as exc:  # e.g. LOGTO_ENDPOINT ending in /oidc
        print(f"error: {exc}", file=sys.stderr)
        return 1
    api_server = _server(uvicorn, app)
    if issuer_thread is not None:
        issuer_thread.start()
        # The API's start-up check fetches the issuer's keys: let the issuer listen first.
        if not _wait_started(issuer_server, issuer_thread):
            print("error: the dev issuer did not start (see the log above)", file=sys.stderr)
            return 1
    host = f"[{args.host}]" if ":" in args.host else args.host
    api_url = f"http://{host}:{api_port}"
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

    def announce() -> None:
        # Print once the API listens, so the curl lines work as soon as they show.
        if not _wait_started(api_server):
            return
        if state is not None:
            log.info("dev issuer listening on %s", settings.endpoint, extra=ISSUER)
        log.info("shopping API listening on %s", api_url, extra=API)
        print(banner, flush=True)

    threading.Thread(target=announce, daemon=True).start()
    # The API runs in the main thread so uvicorn's own Ctrl-C handling applies; the
    # issuer thread is told to stop once the API has.
    # uvicorn exits (SystemExit 3) when the lifespan start fails: reported below.
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        api_server.run(sockets=[api_sock])
    if issuer_thread is not None:
        issuer_server.should_exit = True
        issuer_thread.join(timeout=10)
    if app.state.startup_error is not None:
        print(f"error: {app.state.startup_error}", file=sys.stderr)
        return 1
    if not api_server.started:
        print("error: the shopping API did not start (see the log above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
