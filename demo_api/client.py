"""A small client of the shopping API that gets its tokens with logto_guard.client.

Usage::

    python -m demo_api.client list
    python -m demo_api.client create "Green tea" 4.5
    python -m demo_api.client get 1
    python -m demo_api.client update 1 --price 5
    python -m demo_api.client delete 1
    python -m demo_api.client mcp-tools                      # MCP: list the tools
    python -m demo_api.client mcp-call list_products
    python -m demo_api.client mcp-call create_product '{"name": "Tea", "price": 4.5}'

Credentials come from ``LOGTO_ENDPOINT`` / ``LOGTO_APP_ID`` / ``LOGTO_APP_SECRET``, or, when
those are unset, from the dev issuer state that ``make demo`` left in ``--state-dir``
(``--as reader`` or ``--as writer``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from logto_guard.client import LogtoM2MClient, TokenRequestError
from logto_guard.dev_issuer import IssuerState, StateError

from .settings import ClientSettings

SCOPES = ["read:products", "write:products"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m demo_api.client", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--as", dest="role", choices=["reader", "writer"], default="writer")
    parser.add_argument("--state-dir", default=".logto-dev", help="dev issuer state (.logto-dev)")
    parser.add_argument("--issuer-port", type=int, default=3001, help="dev issuer port (3001)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list products")
    get = commands.add_parser("get", help="show one product")
    get.add_argument("id", type=int)
    create = commands.add_parser("create", help="create a product")
    create.add_argument("name")
    create.add_argument("price", type=float)
    create.add_argument("--description", default="")
    update = commands.add_parser("update", help="change a product")
    update.add_argument("id", type=int)
    update.add_argument("--name")
    update.add_argument("--price", type=float)
    update.add_argument("--description")
    delete = commands.add_parser("delete", help="delete a product")
    delete.add_argument("id", type=int)
    commands.add_parser("mcp-tools", help="list the MCP server's tools")
    call = commands.add_parser("mcp-call", help="call an MCP tool")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object")
    return parser.parse_args(argv)


def credentials(args: argparse.Namespace, settings: ClientSettings) -> tuple[str, str, str]:
    """Endpoint, App ID and App Secret from the environment or the dev issuer state."""
    if settings.endpoint and settings.app_id and settings.app_secret:
        return settings.endpoint, settings.app_id, settings.app_secret
    endpoint = settings.endpoint or f"http://127.0.0.1:{args.issuer_port}"
    state = IssuerState.open(args.state_dir, issuer=f"{endpoint}/oidc")
    app = state.find_app(f"shopping-{args.role}")
    if app is None:
        raise SystemExit(
            f"error: no shopping-{args.role} app in {args.state_dir}: run `make demo` first "
            "or set LOGTO_ENDPOINT, LOGTO_APP_ID and LOGTO_APP_SECRET"
        )
    return endpoint, app.app_id, app.app_secret


def request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    """Method, path and JSON body for the command."""
    if args.command == "list":
        return "GET", "/products", None
    if args.command == "get":
        return "GET", f"/products/{args.id}", None
    if args.command == "create":
        body = {"name": args.name, "price": args.price, "description": args.description}
        return "POST", "/products", body
    if args.command == "update":
        fields = {k: getattr(args, k) for k in ("name", "price", "description")}
        return "PATCH", f"/products/{args.id}", {k: v for k, v in fields.items() if v is not None}
    return "DELETE", f"/products/{args.id}", None


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point: prints the API's JSON answer; exit status 1 on an HTTP error."""
    args = parse_args(argv)
    settings = ClientSettings.from_env(environ)
    try:
        endpoint, app_id, app_secret = credentials(args, settings)
    except StateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command.startswith("mcp-"):
        from .mcp_client import run_mcp_command  # the MCP SDK is only needed here

        mcp_url = settings.mcp_resource or settings.api_url.rstrip("/") + "/mcp"
        return run_mcp_command(args, endpoint, app_id, app_secret, mcp_url)
    method, path, body = request(args)
    with LogtoM2MClient(endpoint=endpoint, app_id=app_id, app_secret=app_secret) as m2m:
        auth = m2m.auth(resource=settings.audience, scopes=SCOPES)
        try:
            with httpx.Client(base_url=settings.api_url, auth=auth) as api:
                response = api.request(method, path, json=body)
        except TokenRequestError as exc:
            print(f"token request failed: {exc}", file=sys.stderr)
            return 2
        except httpx.HTTPError as exc:
            print(f"cannot reach the API at {settings.api_url}: {exc}", file=sys.stderr)
            return 2
    if response.content:
        print(json.dumps(response.json(), indent=2))
    if response.is_error:
        print(f"HTTP {response.status_code}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
