"""The ``logto-guard`` command line: inspect an access token, or get one for an M2M app.

``inspect`` prints one line per check with its evidence, then the verdict of the real
:class:`~logto_guard.TokenValidator`; ``TOKEN`` may be ``-`` to read it from stdin, which
keeps it out of shell history. The token is never printed, only a short prefix and a
SHA-256 fingerprint. ``token`` prints only the access token (or, with ``--json``, the whole
answer), so ``TOKEN=$(logto-guard token ...)`` works; the App Secret comes from
``$LOGTO_APP_SECRET`` or a prompt that does not echo.

Exit status: 0 success; 1 the token is invalid, lacks a required scope, or the token
endpoint refused; 2 usage error, or Logto (JWKS or token endpoint) unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import hashlib
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TextIO

import httpx

from ._config import DEFAULT_LEEWAY, DEFAULT_TYP, SUPPORTED_ALGORITHMS, GuardConfig
from ._errors import AuthError, ConfigurationError, InsufficientScopeError, KeysUnavailableError
from ._inspect import Check, inspect_token, plural
from ._jwks import JWKSCache
from ._models import AuthInfo
from ._validator import TokenValidator
from .client import LogtoM2MClient, TokenRequestError

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
DEFAULT_SECRET_ENV = "LOGTO_APP_SECRET"  # noqa: S105 (a variable name, not a secret)
_PREFIX_LENGTH = 12


class _UsageError(Exception):
    """Bad arguments found after parsing (exit status 2; the message is safe to print)."""


@dataclass(frozen=True)
class _IO:
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    environ: Mapping[str, str]
    prompt: Callable[[str], str]
    http_client: httpx.AsyncClient | None
    clock: Callable[[], float]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``logto-guard`` (both subcommands)."""
    parser = argparse.ArgumentParser(
        prog="logto-guard",
        description="Inspect Logto access tokens and fetch M2M tokens.",
        epilog="exit status: 0 ok, 1 invalid token or refused request, 2 usage or network error",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = commands.add_parser(
        "inspect",
        help="check a token step by step and print the guard's verdict",
        description="Check a token step by step, then validate it as the guard would.",
    )
    add = inspect.add_argument
    add("token", metavar="TOKEN", help="the access token, or - to read it from stdin")
    add("--endpoint", metavar="URL", required=True, help="Logto endpoint (without /oidc)")
    add("--audience", metavar="AUD", required=True, help="your API's resource indicator")
    add("--issuer", metavar="ISS", action="append", default=[], help="accepted iss (repeatable)")
    add("--jwks-uri", metavar="URL", help="JWKS URL (default: <endpoint>/oidc/jwks)")
    add("--leeway", metavar="N", type=float, default=DEFAULT_LEEWAY, help="skew (%(default)gs)")
    typ = inspect.add_mutually_exclusive_group()
    typ.add_argument("--require-typ", metavar="TYP", default=DEFAULT_TYP, help="typ (%(default)s)")
    typ.add_argument("--no-require-typ", action="store_true", help="do not check the header typ")
    add(
        "--algorithm",
        metavar="ALG",
        action="append",
        choices=sorted(SUPPORTED_ALGORITHMS),
        help="allowed alg (repeatable; default: every asymmetric one)",
    )
    add("--scope", metavar="S", action="append", default=[], help="required scope (repeatable)")
    token = commands.add_parser(
        "token",
        help="get an access token with client credentials",
        description="Get an M2M access token; prints only the token (or JSON with --json).",
    )
    add = token.add_argument
    add("--endpoint", metavar="URL", required=True, help="Logto endpoint (without /oidc)")
    add("--app-id", metavar="ID", required=True, help="the M2M app's App ID")
    add("--resource", metavar="RES", help="API resource indicator")
    add("--scope", metavar="S", action="append", default=[], help="scope (repeatable)")
    add("--organization-id", metavar="ORG", help="organization to get a token for")
    add(
        "--secret-env",
        metavar="NAME",
        default=DEFAULT_SECRET_ENV,
        help="variable holding the App Secret (%(default)s); prompts when unset",
    )
    add("--json", action="store_true", help="print the whole token response as JSON")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    prompt: Callable[[str], str] | None = None,
) -> int:
    """Run ``logto-guard`` and return its exit status.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        environ: where ``--secret-env`` is looked up (default ``os.environ``).
        http_client: client for the JWKS and token requests (tests pass a MockTransport);
            by default one is created and closed per run.
        clock: seconds since the epoch (default ``time.time``).
        stdin, stdout, stderr: the streams (default ``sys.*``).
        prompt: asks for the App Secret without echo (default ``getpass.getpass``).

    Example::

        status = main(["inspect", "-", "--endpoint", URL, "--audience", API])
    """
    io = _IO(
        stdin=stdin or sys.stdin,
        stdout=stdout or sys.stdout,
        stderr=stderr or sys.stderr,
        environ=os.environ if environ is None else environ,
        prompt=prompt or getpass.getpass,
        http_client=http_client,
        clock=clock or time.time,
    )
    try:
        with contextlib.redirect_stdout(io.stdout), contextlib.redirect_stderr(io.stderr):
            args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    run = _run_inspect if args.command == "inspect" else _run_token
    # The JWKS cache logs fetch failures; this command reports them itself, so Python's
    # last-resort handler must not print them twice (configured handlers still see them).
    quiet = logging.NullHandler()
    logging.getLogger("logto_guard").addHandler(quiet)
    try:
        return asyncio.run(run(args, io))
    except _UsageError as exc:
        print(f"logto-guard {args.command}: error: {exc}", file=io.stderr)
        return EXIT_USAGE
    finally:
        logging.getLogger("logto_guard").removeHandler(quiet)


def _read_token(value: str, stdin: TextIO) -> str:
    token = (stdin.read() if value == "-" else value).strip()
    if token[:7].lower() == "bearer ":  # a pasted Authorization header value
        token = token[7:].strip()
    if not token:
        raise _UsageError("the token is empty")
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
        mark = " [unverified]" if check.unverified else ""
        print(f"{check.status:<4}  {check.name:<15}  {check.detail}{mark}", file=out)


async def _run_inspect(args: argparse.Namespace, io: _IO) -> int:
    token = _read_token(args.token, io.stdin)
    try:
        config = GuardConfig(
            endpoint=args.endpoint,
            audience=args.audience,
            issuer=tuple(args.issuer) or None,
            jwks_uri=args.jwks_uri,
            algorithms=args.algorithm or SUPPORTED_ALGORITHMS,
            leeway=args.leeway,
            require_typ=None if args.no_require_typ else args.require_typ,
            token_cache_size=0,
        )
    except ConfigurationError as exc:
        raise _UsageError(str(exc)) from exc
    assert config.jwks_uri is not None  # GuardConfig fills it in
    client = io.http_client or httpx.AsyncClient(timeout=config.jwks_timeout)
    jwks = JWKSCache(
        config.jwks_uri, algorithms=config.algorithms, http_client=client, clock=io.clock
    )
    try:
        await jwks.refresh()
        keys = jwks.keys
        if not keys:
            problem = f"cannot use the JWKS at {config.jwks_uri}: {jwks.last_error}"
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
        validator = TokenValidator(config, jwks, clock=io.clock)
        verdict, status = await _verdict(validator.validate, token, required)
        print(f"verdict: {verdict}", file=io.stdout)
        return status
    finally:
        await jwks.aclose()
        if io.http_client is None:
            await client.aclose()


async def _verdict(
    validate: Callable[[str], Awaitable[AuthInfo]], token: str, required: Sequence[str]
) -> tuple[str, int]:
    """The validator's verdict (``VALID`` / ``INVALID: reason: description``), exit status."""
    try:
        info = await validate(token)
    except AuthError as exc:
        status = EXIT_USAGE if isinstance(exc, KeysUnavailableError) else EXIT_INVALID
        return f"INVALID: {exc.reason}: {exc.description}", status
    except Exception as exc:
        # A validator bug must still end in a verdict, not a traceback (nor exception text,
        # which could quote the token).
        return f"INVALID: internal_error: the validator raised {type(exc).__name__}", EXIT_INVALID
    missing = [scope for scope in required if scope not in info.scopes]
    if missing:
        error = InsufficientScopeError(required, info.scopes)
        detail = f"{error.reason}: {error.description} (missing: {' '.join(missing)})"
        return f"INVALID: {detail}", EXIT_INVALID
    return "VALID", EXIT_OK


def _secret(args: argparse.Namespace, io: _IO) -> str:
    secret = io.environ.get(args.secret_env)
    if secret:
        return secret
    try:
        with warnings.catch_warnings():
            # getpass falls back to an echoing prompt without a terminal: refuse instead.
            warnings.simplefilter("error", getpass.GetPassWarning)
            secret = io.prompt(f"App Secret for {args.app_id} (from ${args.secret_env} if set): ")
    except (EOFError, KeyboardInterrupt, getpass.GetPassWarning) as exc:
        raise _UsageError(f"no App Secret: set ${args.secret_env} or type it") from exc
    if not secret:
        raise _UsageError(f"no App Secret: set ${args.secret_env} or type it")
    return secret


async def _run_token(args: argparse.Namespace, io: _IO) -> int:
    if args.resource is None and args.organization_id is None:
        raise _UsageError("give --resource, --organization-id, or both")
    secret = _secret(args, io)
    try:
        m2m = LogtoM2MClient(
            endpoint=args.endpoint,
            app_id=args.app_id,
            app_secret=secret,
            http_client=io.http_client,
            clock=io.clock,
        )
    except ConfigurationError as exc:
        raise _UsageError(str(exc)) from exc
    async with m2m:
        try:
            token = await m2m.fetch_token(
                resource=args.resource, scopes=args.scope, organization_id=args.organization_id
            )
        except TokenRequestError as exc:
            status = f" (HTTP {exc.status_code})" if exc.status_code is not None else ""
            print(f"{exc}{status}", file=io.stderr)
            return EXIT_USAGE if exc.error == "network_error" else EXIT_INVALID
    if not args.json:
        print(token.access_token, file=io.stdout)
        return EXIT_OK
    answer = {
        "access_token": token.access_token,
        "token_type": token.token_type,
        "expires_in": token.expires_in,
        "expires_at": datetime.fromtimestamp(int(token.expires_at), tz=timezone.utc).isoformat(),
        "scope": " ".join(sorted(token.scopes)),
        "resource": token.resource,
        "organization_id": token.organization_id,
    }
    print(json.dumps(answer, indent=2), file=io.stdout)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
