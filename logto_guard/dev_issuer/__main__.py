"""Run the dev issuer: ``python -m logto_guard.dev_issuer [--port 3001] [--config FILE]``.

Flags: ``--host`` (127.0.0.1), ``--port`` (3001), ``--state-dir`` (``.logto-dev``),
``--issuer`` (``http://<host>:<port>/oidc``), ``--alg`` (first key of a fresh state,
ES384), ``--config FILE`` (resources, apps and users, see :mod:`logto_guard.dev_issuer._config`),
``--rotate ALG`` (rotate the signing key in the state directory and exit),
``--allow-remote-dev-endpoints`` (serve ``/__dev__/*``, which sign anything, on a
non-loopback ``--host``; without it they are left out there, with a warning).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from starlette.applications import Starlette

from logto_guard.dev_issuer._app import create_app
from logto_guard.dev_issuer._authorize import DEV_PUBLIC_CLIENT
from logto_guard.dev_issuer._config import open_issuer
from logto_guard.dev_issuer._errors import StateError
from logto_guard.dev_issuer._model import SUPPORTED_ALGS
from logto_guard.dev_issuer._serve import import_uvicorn
from logto_guard.dev_issuer._state import DEFAULT_ALG, IssuerState
from logto_guard.dev_issuer._users import Directory
from logto_guard.lowlevel import is_loopback


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m logto_guard.dev_issuer",
        description="Local Logto-compatible OAuth issuer for development.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=3001, help="port (3001)")
    parser.add_argument("--state-dir", default=".logto-dev", help="state directory")
    parser.add_argument("--issuer", help="issuer URL (default http://<host>:<port>/oidc)")
    parser.add_argument(
        "--alg", default=DEFAULT_ALG, choices=SUPPORTED_ALGS, help="first key of a fresh state"
    )
    parser.add_argument("--config", metavar="FILE", help="JSON file declaring resources and apps")
    parser.add_argument(
        "--rotate", metavar="ALG", choices=SUPPORTED_ALGS, help="rotate the signing key and exit"
    )
    parser.add_argument(
        "--allow-remote-dev-endpoints",
        action="store_true",
        help="serve /__dev__/* (they sign anything) on a non-loopback --host too",
    )
    return parser.parse_args(argv)


def dev_endpoints_warning(host: str, *, allowed: bool) -> str | None:
    """The start-up warning for ``/__dev__/*`` on a non-loopback bind, if any."""
    if is_loopback(host):
        return None
    if allowed:
        return (
            f"warning: --host {host} with --allow-remote-dev-endpoints: /__dev__/* (which "
            "sign arbitrary tokens) answer requests whose Host is the issuer's host"
        )
    return (
        f"warning: --host {host} is not loopback: /__dev__/* are not served "
        "(pass --allow-remote-dev-endpoints to serve them)"
    )


def describe(state: IssuerState, directory: Directory | None = None) -> str:
    """The start-up banner: issuer URL, each app's name, App ID and App Secret, the users."""
    lines = [f"Logto dev issuer: {state.issuer}", f"  JWKS: {state.issuer}/jwks"]
    for app in state.apps:
        exchange = directory is not None and directory.allows_token_exchange(app.app_id)
        lines.append(
            f"  app {app.name!r}: App ID {app.app_id}  App Secret {app.app_secret}"
            + ("  (token exchange allowed)" if exchange else "")
        )
    if not state.apps:
        lines.append("  no apps yet: pass --config FILE to declare resources and apps")
    for user in directory.users if directory is not None else []:
        roles = "; ".join(f"{r}: {' '.join(s)}" for r, s in user.roles.items()) or "no roles"
        lines.append(f"  user {user.username!r} (id {user.user_id}): {roles}")
    if directory is not None:
        lines.append(
            f"  log in (auto-approved, PKCE S256): {state.issuer}/auth, public client "
            f"{DEV_PUBLIC_CLIENT!r} or register at {state.issuer}/reg"
        )
    return "\n".join(lines)


def serving_app(args: argparse.Namespace, state: IssuerState) -> tuple[Starlette, str | None]:
    """The app to serve for the parsed command line, and the warning to print, if any."""
    dev_endpoints = is_loopback(args.host) or args.allow_remote_dev_endpoints
    warning = dev_endpoints_warning(args.host, allowed=args.allow_remote_dev_endpoints)
    return create_app(state, dev_endpoints=dev_endpoints), warning


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = parse_args(argv)
    uvicorn = None if args.rotate else import_uvicorn("python -m logto_guard.dev_issuer")
    if uvicorn is None and not args.rotate:
        return 2
    issuer = args.issuer or f"http://{args.host}:{args.port}/oidc"
    try:
        state = open_issuer(args.state_dir, issuer=issuer, config=args.config, alg=args.alg)
        if args.rotate:
            key = state.rotate(args.rotate)
            print(f"rotated: current key {key.kid} ({key.alg})")
            return 0
    except (StateError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(describe(state, Directory.open(args.state_dir)), flush=True)
    app, warning = serving_app(args, state)
    if warning is not None:
        print(warning, file=sys.stderr, flush=True)
    assert uvicorn is not None
    # uvicorn handles SIGINT itself; the suppress covers a Ctrl-C during start-up.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
