"""``logto-guard inspect``: the report line by line, then the guard's own verdict."""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from typing import TextIO

import httpx

from .._core.authenticator import Authenticator
from .._core.config import SUPPORTED_ALGORITHMS
from .._core.errors import ConfigurationError, KeysUnavailableError
from .._core.identity import AuthInfo
from .._core.rfc6750 import Refusal
from ._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, IO, UsageError
from ._report import Check, inspect_token, plural

_PREFIX_LENGTH = 12


def _read_token(value: str, stdin: TextIO) -> str:
    token = (stdin.read() if value == "-" else value).strip()
    if token[:7].lower() == "bearer ":  # a pasted Authorization header value
        token = token[7:].strip()
    if not token:
        raise UsageError("the token is empty")
    return token


def _describe(token: str) -> str:
    fingerprint = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]
    head = token[:_PREFIX_LENGTH]
    show_head = len(token) >= 4 * _PREFIX_LENGTH and head.isascii() and head.isprintable()
    prefix = f"{head}… " if show_head else ""
    return f"{prefix}({len(token)} chars, sha256 {fingerprint})"


def _print_checks(checks: Sequence[Check], out: TextIO) -> None:
    noted = False
    for check in checks:
        if check.unverified and not noted:
            print("      the claims below are UNVERIFIED: the signature did not verify", file=out)
            noted = True
        refusal = f" [{check.refusal}]" if check.refusal else ""
        mark = " [unverified]" if check.unverified else ""
        print(f"{check.status:<4}  {check.name:<15}  {check.detail}{refusal}{mark}", file=out)


async def run_inspect(args: argparse.Namespace, io: IO) -> int:
    """Run ``inspect``: report every check, then print the verdict of the guard itself."""
    token = _read_token(args.token, io.stdin)
    client = io.http_client or httpx.AsyncClient()
    try:
        # The very authenticator a guard uses, minus the token cache: its verdict is the
        # guard's verdict.
        authenticator = Authenticator(
            endpoint=args.endpoint,
            audience=args.audience,
            issuer=tuple(args.issuer) or None,
            jwks_uri=args.jwks_uri or "",
            algorithms=args.algorithm or SUPPORTED_ALGORITHMS,
            leeway=args.leeway,
            require_typ=None if args.no_require_typ else args.require_typ,
            allow_insecure_http=args.allow_insecure_http,
            token_cache_size=0,
            http_client=client,
            clock=io.clock,
        )
    except ConfigurationError as exc:
        if io.http_client is None:
            await client.aclose()
        raise UsageError(str(exc)) from exc
    config = authenticator.config
    try:
        readiness = await authenticator.refresh_keys()
        keys = authenticator.keys
        if not keys:
            problem = f"cannot use the JWKS at {config.jwks_uri}: {readiness.last_error}"
            print(f"logto-guard inspect: error: {problem}", file=io.stderr)
            return EXIT_USAGE
        print(f"token {_describe(token)}", file=io.stdout)
        print(f"jwks  {config.jwks_uri} ({plural(len(keys), 'usable key')})", file=io.stdout)
        required = list(dict.fromkeys(args.scope))
        now = io.clock()
        _print_checks(
            inspect_token(token, config=config, keys=keys, now=now, required_scopes=required),
            io.stdout,
        )
        verdict, status = await verdict_of(authenticator, token, required)
        print(f"verdict: {verdict}", file=io.stdout)
        return status
    finally:
        await authenticator.aclose()
        if io.http_client is None:
            await client.aclose()


async def verdict_of(
    authenticator: Authenticator, token: str, required: Sequence[str]
) -> tuple[str, int]:
    """The guard's verdict (``VALID`` / ``INVALID: reason: description``) and exit status."""
    try:
        result = await authenticator.check([f"Bearer {token}"], required)
    except Exception as exc:
        # A guard bug must still end in a verdict, not a traceback (nor exception text,
        # which could quote the token).
        return f"INVALID: internal_error: the guard raised {type(exc).__name__}", EXIT_INVALID
    if isinstance(result, AuthInfo):
        return "VALID", EXIT_OK
    assert isinstance(result, Refusal)
    error = result.error
    detail = f"{error.reason}: {error.description}"  # names missing scopes itself
    status = EXIT_USAGE if isinstance(error, KeysUnavailableError) else EXIT_INVALID
    return f"INVALID: {detail}", status
