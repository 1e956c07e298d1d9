"""Run the MCP conformance suite's server scenarios against the demo's ``/mcp``, with and
without logto-guard: ``python -m bench.conformance``.

The suite (``@modelcontextprotocol/conformance`` on npm, Node >= 22, fetched by ``npx``
with ``node@22``) has no resource-server auth scenario and no option to send a header, so:

1. ``python -m demo_api`` starts as its own process on free ports (dev issuer and API);
2. a token for the MCP resource (``read:products write:products``) comes from the dev
   issuer's token endpoint, as the shopping-writer app (credentials from the banner);
3. a token-adding reverse proxy (:class:`bench._conformance_proxy.TokenProxy`, loopback)
   sends it with every request of the suite;
4. the suite runs against four servers: the demo's ``/mcp``; the same MCP app with
   logto-guard off (the SDK's own bearer plumbing, a verifier accepting any token, no
   ``protect()``); and the fixtures server (:mod:`bench._conformance_server`: the tools,
   resources and prompts the scenarios call, stateful, SSE) behind ``protect()`` with a
   real :class:`~logto_guard.mcp.LogtoTokenVerifier` (the dev issuer's keys, the same
   token) and with logto-guard off; those three are served in this process;
5. per scenario, its checks are counted (``checks.json``), side by side.

A scenario failing only with logto-guard is the guard's problem; one failing in both
needs something that server does not implement. Exit status 1 when logto-guard changes
some scenario's failures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import httpx

from logto_guard.client import LogtoM2MClient
from logto_guard.mcp import LogtoTokenVerifier
from tests.integration.servers import reserve_port, reserved_port

from ._common import print_table
from ._conformance_proxy import AnyTokenVerifier, ThreadServer, TokenProxy, unguarded_demo_mcp
from ._conformance_server import fixtures_app
from .soak import log_text, spawn, stop_process

PACKAGE = "@modelcontextprotocol/conformance@0.1.16"
DEFAULT_COMMAND = f"npx -y -p node@22 -p {PACKAGE} -- conformance"
SCOPES = ["read:products", "write:products"]
_WRITER = re.compile(r"shopping-writer: App ID (\S+)\s+App Secret (\S+)")
_RESULT_DIR = re.compile(r"^server-(.+)-\d{4}-\d\d-\d\dT")


Demo = tuple[str, str, tuple[str, str]]

#: Ports held for this run (see reserve_port): no other process can take one meanwhile.
_RESERVATIONS: list[socket.socket] = []


def free_port() -> int:
    """A free loopback port, reserved until this process exits (no bind-close race)."""
    reservation = reserve_port()
    _RESERVATIONS.append(reservation)
    return reserved_port(reservation)


def start_demo(workdir: Path) -> tuple[subprocess.Popen[bytes], Demo]:
    """``python -m demo_api`` on free ports: the process, and its API URL, issuer URL and
    writer app (ID, secret)."""
    api_port, issuer_port = free_port(), free_port()
    log = workdir / "demo.log"
    command = [sys.executable, "-m", "demo_api", "--port", str(api_port)]
    command += ["--issuer-port", str(issuer_port), "--db", str(workdir / "demo.sqlite3")]
    command += ["--state-dir", str(workdir / "state"), "--quiet-refusals"]
    process = spawn(command, Path.cwd(), None, log)
    deadline = time.monotonic() + 60
    while "Press Ctrl-C" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"the demo did not start; log:\n{log_text(log)}")
        time.sleep(0.1)  # polling the banner, with a deadline
    found = _WRITER.search(log.read_text(errors="replace"))
    if found is None:
        stop_process(process)
        raise RuntimeError(f"no shopping-writer credentials in the banner:\n{log_text(log)}")
    writer = (found.group(1), found.group(2))
    return process, (f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{issuer_port}", writer)


async def get_token(endpoint: str, app: tuple[str, str], resource: str) -> str:
    """A client-credentials token for ``resource`` from the dev issuer."""
    async with LogtoM2MClient(endpoint=endpoint, app_id=app[0], app_secret=app[1]) as m2m:
        token = await m2m.get_token(resource=resource, scopes=SCOPES)
    return token.access_token


def run_suite(command: str, url: str, outdir: Path, extra: Sequence[str]) -> int:
    """Run the suite's server scenarios against ``url``; results land in ``outdir``."""
    argv = [*shlex.split(command), "server", "--url", url, "-o", str(outdir), *extra]
    print(f"$ {shlex.join(argv)}", flush=True)
    with (outdir.parent / f"{outdir.name}.log").open("wb") as out:
        return subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode


def read_results(outdir: Path) -> dict[str, list[dict[str, object]]]:
    """The checks of each scenario the suite wrote to ``outdir``."""
    results: dict[str, list[dict[str, object]]] = {}
    for path in sorted(outdir.glob("*/checks.json")):
        found = _RESULT_DIR.match(path.parent.name)
        name = found.group(1) if found else path.parent.name
        results[name] = json.loads(path.read_text())
    return results


def counts(checks: Sequence[dict[str, object]]) -> str:
    """``passed/failed/warnings/skipped`` of a scenario's checks (INFO lines not counted)."""
    tally = Counter(str(check.get("status")) for check in checks)
    skipped = sum(n for s, n in tally.items() if s not in {"SUCCESS", "FAILURE", "WARNING", "INFO"})
    return f"{tally['SUCCESS']}/{tally['FAILURE']}/{tally['WARNING']}/{skipped}"


def failures(checks: Sequence[dict[str, object]]) -> list[str]:
    """``id: message`` of each failed check."""
    return [
        f"{check.get('id')}: {check.get('errorMessage') or check.get('description')}"
        for check in checks
        if check.get("status") == "FAILURE"
    ]


Results = dict[str, list[dict[str, object]]]


def report(server: str, guarded: Results, off: Results) -> list[str]:
    """Print one server's side-by-side table and its failures; the scenarios whose
    failures differ with logto-guard."""
    variants = {"logto-guard": guarded, "guard off": off}
    names = sorted({*guarded, *off})
    rows, differ = [], []
    for name in names:
        cells = [counts(r[name]) if name in r else "-" for r in variants.values()]
        if failures(guarded.get(name, [])) != failures(off.get(name, [])):
            differ.append(name)
        rows.append([name, *cells, "DIFFERS" if name in differ else ""])
    totals = [counts([c for per in r.values() for c in per]) for r in variants.values()]
    rows.append(["total checks", *totals, ""])
    clean = [sum(not failures(c) for c in r.values()) for r in variants.values()]
    rows.append(["scenarios without a failure", *(f"{n}/{len(names)}" for n in clean), ""])
    print(f"\n== {server}: checks per scenario, passed/failed/warnings/skipped ==")
    print_table(["scenario", *variants, ""], rows)
    for label, results in variants.items():
        lines = [f"  {n}  {line}" for n in names for line in failures(results.get(n, []))]
        print(f"failed checks, {label}: {len(lines)}", *lines, sep="\n")
    return differ


async def check_guarded(mcp_url: str, token: str) -> None:
    """The demo's ``/mcp`` refuses a request without the token and accepts it with it, so
    the suite's requests did go through logto-guard."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench.conformance", "version": "0"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=10) as client:
        bare = await client.post(mcp_url, json=initialize, headers=accept)
        auth = {**accept, "Authorization": f"Bearer {token}"}
        with_token = await client.post(mcp_url, json=initialize, headers=auth)
    print(f"demo /mcp: {bare.status_code} without the token, {with_token.status_code} with it")
    if bare.status_code != 401 or with_token.status_code != 200:
        raise RuntimeError("the demo's /mcp does not guard as expected")


def run_through_proxy(
    command: str, upstream: str, token: str, outdir: Path, extra: Sequence[str]
) -> Results:
    """The suite through a token-adding proxy to ``upstream``; its results."""
    proxy, port = TokenProxy(upstream, token), free_port()
    outdir.mkdir(exist_ok=True)
    with ThreadServer(proxy, port):
        status = run_suite(command, f"http://127.0.0.1:{port}/mcp", outdir, extra)
    print(f"  suite exit status {status}, {proxy.forwarded} requests proxied", flush=True)
    return read_results(outdir)


def run_servers(command: str, workdir: Path, extra: Sequence[str], demo: Demo) -> int:
    """The suite against the demo and the fixtures server, each with logto-guard and
    with it off; print the reports; 1 when logto-guard changes a result."""
    api_url, issuer_url, writer = demo
    mcp_url = f"{api_url}/mcp"
    token = asyncio.run(get_token(issuer_url, writer, mcp_url))
    asyncio.run(check_guarded(mcp_url, token))
    verifier = LogtoTokenVerifier(endpoint=issuer_url, audience=mcp_url)
    anyone = cast(LogtoTokenVerifier, AnyTokenVerifier(mcp_url, verifier.issuer))
    ports = [free_port() for _ in range(3)]
    servers = {
        "demo off": unguarded_demo_mcp(str(workdir / "off.sqlite3"), mcp_url, issuer_url),
        "fixtures": fixtures_app(verifier, guarded=True),
        "fixtures off": fixtures_app(anyone, guarded=False),
    }
    # MCPServer configures INFO logging for the process; the unknown prompts and tools the
    # suite asks for are logged as errors with tracebacks: keep the report readable.
    for name in ("httpx", "mcp"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # The suite tests 2025-11-25 features (logging, sampling) the SDK deprecates at 2026-07-28.
    warnings.filterwarnings("ignore", message=r".*deprecated as of 2026-07-28")
    results: dict[str, Results] = {}
    upstreams = {"demo": api_url}
    with contextlib.ExitStack() as running:
        for (name, app), port in zip(servers.items(), ports, strict=True):
            running.enter_context(ThreadServer(app, port))
            upstreams[name] = f"http://127.0.0.1:{port}"
        for name, upstream in upstreams.items():
            print(f"{name}:", flush=True)
            outdir = workdir / name.replace(" ", "-")
            results[name] = run_through_proxy(command, upstream, token, outdir, extra)
    differ = report(
        "demo (python -m demo_api, stateless JSON)", results["demo"], results["demo off"]
    )
    differ += report(
        "fixtures server (stateful, SSE)", results["fixtures"], results["fixtures off"]
    )
    if differ:
        print(f"\nresults differ with logto-guard in: {', '.join(differ)}")
    return 1 if differ else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Start the demo, get a token, run the suite with and without logto-guard, report."""
    parser = argparse.ArgumentParser(prog="python -m bench.conformance", description=__doc__)
    parser.add_argument("--command", default=DEFAULT_COMMAND, help="the suite's CLI")
    parser.add_argument("--scenario", help="run only this scenario (default: the suite)")
    parser.add_argument("--suite", default="active", help="active (default), all, pending")
    parser.add_argument("--keep", type=Path, help="keep the results and logs in this folder")
    args = parser.parse_args(argv)
    extra = ["--scenario", args.scenario] if args.scenario else ["--suite", args.suite]
    with tempfile.TemporaryDirectory(prefix="conformance-") as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        process, demo = start_demo(workdir)
        try:
            status = run_servers(args.command, workdir, extra, demo)
        finally:
            stop_process(process)
        if args.keep:
            print(f"results and logs in {args.keep}")
        return status


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
