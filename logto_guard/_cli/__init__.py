"""The ``logto-guard`` command line: inspect an access token, or get one for an M2M app.

``inspect`` prints one line per check with its evidence, then the verdict of the real
:class:`~logto_guard.Authenticator`; ``TOKEN`` may be ``-`` to read it from stdin, which
keeps it out of shell history. The token is never printed, only a short prefix and a
SHA-256 fingerprint. ``token`` prints only the access token (or, with ``--json``, the whole
answer), so ``TOKEN=$(logto-guard token ...)`` works; the App Secret comes from
``$LOGTO_APP_SECRET`` or a prompt that does not echo.

Exit status: 0 success; 1 the token is invalid, lacks a required scope, or the token
endpoint refused; 2 usage error, or Logto (JWKS or token endpoint) unreachable; 3
``token --require-scopes`` and Logto dropped a requested scope; 141 the
reader of the output went away (``| head``), as for any Unix tool killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

import httpx

from .._core.config import DEFAULT_LEEWAY, DEFAULT_TYP, SUPPORTED_ALGORITHMS
from .._version import __version__
from ._common import DEFAULT_SECRET_ENV, EXIT_USAGE, IO, UsageError
from ._inspect_command import run_inspect
from ._token_command import run_token

_EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE, what a shell reports for such a writer


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``logto-guard`` (both subcommands)."""
    parser = argparse.ArgumentParser(
        prog="logto-guard",
        description="Inspect Logto access tokens and fetch M2M tokens.",
        epilog=(
            "exit status: 0 ok, 1 invalid token or refused request, 2 usage or network error,"
            " 3 token --require-scopes and a scope was not granted"
        ),
    )
    parser.add_argument("--version", action="version", version=f"logto-guard {__version__}")
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
    add("--allow-insecure-http", action="store_true", help="allow http:// to non-loopback hosts")
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
    add(
        "--require-scopes",
        action="store_true",
        help="exit 3 (no token printed) when Logto grants fewer scopes than requested",
    )
    add("--allow-insecure-http", action="store_true", help="allow http:// to non-loopback hosts")
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
    io = IO(
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
    run = run_inspect if args.command == "inspect" else run_token
    # The JWKS cache logs fetch failures; this command reports them itself, so Python's
    # last-resort handler must not print them twice (configured handlers still see them).
    quiet = logging.NullHandler()
    logging.getLogger("logto_guard").addHandler(quiet)
    try:
        return asyncio.run(run(args, io))
    except UsageError as exc:
        print(f"logto-guard {args.command}: error: {exc}", file=io.stderr)
        return EXIT_USAGE
    finally:
        logging.getLogger("logto_guard").removeHandler(quiet)


def entry() -> None:
    """The ``logto-guard`` console script: :func:`main`, quiet when its reader goes away."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # `logto-guard token --json | head -c 300`: the reader has all it wanted. Point
        # stdout at /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = _EXIT_BROKEN_PIPE
    sys.exit(status)


if __name__ == "__main__":
    entry()
