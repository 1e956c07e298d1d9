"""``logto-guard token``: an M2M access token by client credentials, for scripts.

Logto drops requested scopes the app was not granted without a word (the token is issued
without them); this command names them on stderr, and ``--require-scopes`` turns that
into exit status 3 (:data:`EXIT_SCOPES_DROPPED`) with no token printed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import warnings
from datetime import datetime, timezone

from .._core.errors import ConfigurationError
from ..client import LogtoM2MClient, TokenRequestError
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, IO, UsageError
from ._report import show

EXIT_SCOPES_DROPPED = 3
"""``--require-scopes`` and Logto granted fewer scopes than requested."""


def _secret(args: argparse.Namespace, io: IO) -> str:
    secret = io.environ.get(args.secret_env)
    if secret:
        return secret
    try:
        with warnings.catch_warnings():
            # getpass falls back to an echoing prompt without a terminal: refuse instead.
            warnings.simplefilter("error", getpass.GetPassWarning)
            secret = io.prompt(f"App Secret for {args.app_id} (from ${args.secret_env} if set): ")
    except (EOFError, KeyboardInterrupt, getpass.GetPassWarning) as exc:
        raise UsageError(f"no App Secret: set ${args.secret_env} or type it") from exc
    if not secret:
        raise UsageError(f"no App Secret: set ${args.secret_env} or type it")
    return secret


async def run_token(args: argparse.Namespace, io: IO) -> int:
    if args.resource is None and args.organization_id is None:
        raise UsageError("give --resource, --organization-id, or both")
    secret = _secret(args, io)
    try:
        m2m = LogtoM2MClient(
            endpoint=args.endpoint,
            app_id=args.app_id,
            app_secret=secret,
            http_client=io.http_client,
            clock=io.clock,
            allow_insecure_http=args.allow_insecure_http,
        )
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from exc
    async with m2m:
        try:
            token = await m2m.fetch_token(
                resource=args.resource, scopes=args.scope, organization_id=args.organization_id
            )
        except TokenRequestError as exc:
            status = f" (HTTP {exc.status_code})" if exc.status_code is not None else ""
            # The token endpoint's words are foreign bytes: escaped, never raw.
            print(f"{show(str(exc), limit=500)}{status}", file=io.stderr)
            return EXIT_USAGE if exc.error == "network_error" else EXIT_INVALID
    requested = {scope for part in args.scope for scope in part.split(" ") if scope}
    dropped = sorted(requested - token.scopes)
    if dropped:
        level = "error" if args.require_scopes else "warning"
        names = " ".join(show(scope, limit=100) for scope in dropped)
        print(
            f"logto-guard token: {level}: Logto did not grant {names} to app "
            f"{show(args.app_id, limit=100)} (it drops unassigned scopes silently): assign "
            "a role with these permissions to the app in Logto Console",
            file=io.stderr,
        )
        if args.require_scopes:
            return EXIT_SCOPES_DROPPED
    if not args.json:
        print(token.access_token, file=io.stdout)
        return EXIT_OK
    answer = {
        "access_token": token.access_token,
        "token_type": token.token_type,
        "expires_in": token.expires_in,
        "expires_at": _iso(token.expires_at),
        "scope": " ".join(sorted(token.scopes)),
        "resource": token.resource,
        "organization_id": token.organization_id,
    }
    print(json.dumps(answer, indent=2), file=io.stdout)
    return EXIT_OK


def _iso(timestamp: float) -> str | None:
    """``timestamp`` as ISO 8601 UTC; ``None`` when no calendar date can hold it."""
    try:
        return datetime.fromtimestamp(int(timestamp), tz=timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        return None
