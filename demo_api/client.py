"""A small client of the shopping API that gets its tokens with logto_guard.client.

Usage::

    python -m demo_api.client list
    python -m demo_api.client create --name "Green tea" --price 4.5
    python -m demo_api.client get 1
    python -m demo_api.client update 1 --price 5
    python -m demo_api.client delete 1
    python -m demo_api.client mcp-tools                      # MCP: list the tools
    python -m demo_api.client mcp-call list_products
    python -m demo_api.client mcp-call create_product '{"name": "Tea", "price": 4.5}'

Credentials come from ``LOGTO_ENDPOINT`` / ``LOGTO_APP_ID`` / ``LOGTO_APP_SECRET``, or, when
those are unset, from the dev issuer state that ``make demo`` left in ``--state-dir``
(``--as reader`` or ``--as writer``). The global options (``--api-url``, ``--as``,
``--state-dir``, ``--issuer-port``) come before the command.
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

from .settings import DEFAULT_API_URL, ClientSettings

SCOPES = ["read:products", "write:products"]


EPILOG = """\
examples:
  python -m demo_api.client list
  python -m demo_api.client create --name "Green tea" --price 4.5 --description Sencha
  python -m demo_api.client get 1
  python -m demo_api.client update 1 --price 5
  python -m demo_api.client delete 1
  python -m demo_api.client --as reader list
  python -m demo_api.client --api-url http://127.0.0.1:8001 --issuer-port 3002 list
  python -m demo_api.client mcp-tools
  python -m demo_api.client mcp-call list_products
  python -m demo_api.client mcp-call create_product '{"name": "Tea", "price": 4.5}'

credentials: LOGTO_ENDPOINT, LOGTO_APP_ID and LOGTO_APP_SECRET when all are set; else the
  app (--as) from the dev issuer state that `make demo` left in --state-dir.
environment: SHOPPING_API_URL replaces the default of --api-url; LOGTO_AUDIENCE is the
  API's resource indicator (https://shopping.api); MCP_RESOURCE is the MCP endpoint
  (default: <api-url>/mcp).
exit status: 0 ok; 1 the API or the tool answered an error; 2 usage error, token request
  failed or API unreachable."""


def parse_args(
    argv: Sequence[str] | None = None, *, default_api_url: str = DEFAULT_API_URL
) -> argparse.Namespace:
    """Parse the command line; ``default_api_url`` is ``--api-url``'s default (from
    ``SHOPPING_API_URL`` when set, see :class:`ClientSettings`)."""
    parser = argparse.ArgumentParser(
        prog="python -m demo_api.client",
        description="Call the demo shopping API (REST or MCP) with an M2M access token\n"
        "that logto_guard.client gets from Logto or from the demo's dev issuer.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--api-url",
        metavar="URL",
        default=default_api_url,
        help="the shopping API (%(default)s; $SHOPPING_API_URL sets the default)",
    )
    add(
        "--as",
        dest="role",
        choices=["reader", "writer"],
        default="writer",
        help="which dev issuer app to act as (%(default)s)",
    )
    add("--state-dir", metavar="DIR", default=".logto-dev", help="dev issuer state (%(default)s)")
    add(
        "--issuer-port",
        metavar="PORT",
        type=int,
        default=3001,
        help="dev issuer port (%(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="list products")
    get = commands.add_parser("get", help="show one product")
    get.add_argument("id", type=int, help="product id")
    create = commands.add_parser("create", help="create a product")
    create.add_argument("--name", required=True, help="1 to 200 characters")
    create.add_argument("--price", type=float, required=True, help="a number >= 0")
    create.add_argument("--description", default="", help="up to 2000 characters ('')")
    update = commands.add_parser("update", help="change some fields of a product")
    update.add_argument("id", type=int, help="product id")
    update.add_argument("--name", help="new name")
    update.add_argument("--price", type=float, help="new price")
    update.add_argument("--description", help="new description")
    delete = commands.add_parser("delete", help="delete a product")
    delete.add_argument("id", type=int, help="product id")
    commands.add_parser("mcp-tools", help="list the MCP server's tools")
    call = commands.add_parser("mcp-call", help="call an MCP tool")
    call.add_argument("tool", help="list_products, get_product, create_product, ...")
    call.add_argument(
        "arguments",
        metavar="JSON",
        nargs="?",
        default="{}",
        help="the tool's arguments, a JSON object ({})",
    )
    args = parser.parse_args(argv)
    if args.command == "update" and all(
        getattr(args, k) is None for k in ("name", "price", "description")
    ):
        update.error("give at least one of --name, --price, --description")
    return args


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
    settings = ClientSettings.from_env(environ)
    args = parse_args(argv, default_api_url=settings.api_url)
    try:
        endpoint, app_id, app_secret = credentials(args, settings)
    except StateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command.startswith("mcp-"):
        from .mcp_client import run_mcp_command  # the MCP SDK is only needed here

        mcp_url = settings.mcp_resource or args.api_url.rstrip("/") + "/mcp"
        return run_mcp_command(args, endpoint, app_id, app_secret, mcp_url)
    method, path, body = request(args)
    with LogtoM2MClient(endpoint=endpoint, app_id=app_id, app_secret=app_secret) as m2m:
        auth = m2m.auth(resource=settings.audience, scopes=SCOPES)
        try:
            with httpx.Client(base_url=args.api_url, auth=auth) as api:
                response = api.request(method, path, json=body)
        except TokenRequestError as exc:
            print(f"token request failed: {exc}", file=sys.stderr)
            return 2
        except httpx.HTTPError as exc:
            print(f"cannot reach the API at {args.api_url}: {exc}", file=sys.stderr)
            return 2
    if response.content:
        print(json.dumps(response.json(), indent=2))
    if response.is_error:
        print(f"HTTP {response.status_code}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
