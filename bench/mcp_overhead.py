"""logto-guard's own cost per MCP request, in process: ``python -m bench.mcp_overhead``.

The MCP SDK front end costs two things per request with a reused (cached) token:
``verifier.protect()``'s :class:`~logto_guard.mcp.MCPAuthMiddleware` (header read, cache
probe, for ``tool_scopes`` the body read and its ``tools/call`` names, the replay) and
``LogtoTokenVerifier.verify_token``, which the SDK's bearer backend awaits further down
(the ``AccessToken`` it builds). Both are measured here in front of a stand-in for the SDK
(an ASGI app reading the body and answering 200; with a verifier it awaits
``verify_token`` as the SDK's backend does), called as ASGI callables with no socket:

* ``none``: the stand-in alone (the floor);
* ``protect+tools``: ``protect(tool_scopes=...)`` as the demo has it, and the verifier;
* ``protect``: ``protect()`` without ``tool_scopes`` (no body read), and the verifier;
* ``verifier``: the verifier alone (the SDK's own auth, no ``protect()``).

Variants are interleaved in rounds (order rotated); the report gives each variant's
median us per request and its cost over ``none`` (median of the per-round differences).
``--baseline REV`` also loads ``logto_guard`` as of git revision REV (``git archive``,
imported under another name) and measures its variants in the same rounds: before and
after side by side.

``--stack`` measures the whole servers of :mod:`bench.mcp` instead (``bench._mcp_app``:
the MCP SDK and FastMCP, without auth, with a static verifier, with logto-guard, ...),
each ``tools/call`` through the real SDK stack, in process: the ratios of
:mod:`bench.mcp` without the socket, the HTTP parser and the load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

from ._common import AUDIENCE, ENDPOINT, Issuer, jwks_http_client, median, print_table, rotated

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]
BODY = (
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    b'"params":{"name":"list_products","arguments":{}}}'
)
TOOL_SCOPES = {"list_products": ["read:products"], "create_product": ["write:products"]}
SHAPES = ("protect+tools", "protect", "verifier")


class Receive:
    """The request body as one ``http.request`` message, then a disconnect."""

    def __init__(self) -> None:
        self.sent = False

    async def __call__(self) -> dict[str, Any]:
        if self.sent:
            return {"type": "http.disconnect"}
        self.sent = True
        return {"type": "http.request", "body": BODY, "more_body": False}


async def send(message: Any) -> None:
    """Drop the response."""


def stand_in(verifier: Any = None) -> ASGI:
    """The SDK stand-in: awaits ``verifier.verify_token`` as the SDK's bearer backend does
    (the header's token after ``Bearer ``), reads the body, answers 200."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if verifier is not None:
            header = next(v for n, v in scope["headers"] if n == b"authorization")
            if await verifier.verify_token(header.decode()[7:]) is None:
                raise RuntimeError("the token was refused")
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def scope_for(token: str) -> Scope:
    """A POST /mcp scope as uvicorn builds it."""
    headers = {
        b"host": b"127.0.0.1:8000",
        b"user-agent": b"python-httpx/0.28.1",
        b"accept": b"application/json, text/event-stream",
        b"content-type": b"application/json",
        b"mcp-protocol-version": b"2025-11-25",
        b"authorization": f"Bearer {token}".encode(),
        b"content-length": str(len(BODY)).encode(),
    }
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "root_path": "",
        "query_string": b"",
        "headers": list(headers.items()),
    }


def load_baseline(rev: str, into: Path) -> ModuleType:
    """``logto_guard.mcp`` as of git revision ``rev``, as ``logto_guard_baseline.mcp``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "logto_guard"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "logto_guard").rename(into / "logto_guard_baseline")
    sys.path.insert(0, str(into))
    return importlib.import_module("logto_guard_baseline.mcp")


def variants(package: ModuleType, label: str, jwks: dict[str, Any]) -> dict[str, ASGI]:
    """The three shapes on ``package`` (a ``logto_guard.mcp`` module)."""
    built: dict[str, ASGI] = {}
    for shape in SHAPES:
        verifier = package.LogtoTokenVerifier(
            endpoint=ENDPOINT, audience=AUDIENCE, http_client=jwks_http_client(jwks)
        )
        app = stand_in(verifier)
        if shape != "verifier":
            tools = TOOL_SCOPES if shape == "protect+tools" else None
            app = verifier.protect(app, path="/mcp", tool_scopes=tools)
        built[f"{shape} ({label})"] = app
    return built


async def measure(apps: dict[str, ASGI], scope: Scope, rounds: int, count: int) -> Any:
    """ns per request of each app, per round."""
    for app in apps.values():  # warm: the first request verifies and caches the token
        await app(scope, Receive(), send)
    samples: dict[str, list[float]] = {name: [] for name in apps}
    for index in range(rounds):
        for name in rotated(list(apps), index):
            app = apps[name]
            receives = [Receive() for _ in range(count)]
            started = time.perf_counter_ns()
            for receive in receives:
                await app(scope, receive, send)
            samples[name].append((time.perf_counter_ns() - started) / count)
    return samples


class Pending(Receive):
    """The body, then a receive that waits (the SDK listens for a disconnect meanwhile)."""

    async def __call__(self) -> dict[str, Any]:
        if self.sent:
            await asyncio.Event().wait()
        return await super().__call__()


async def measure_stack(rounds: int, count: int) -> dict[str, list[float]]:
    """ns per ``tools/call`` of each :mod:`bench.mcp` variant through its whole stack."""
    from logto_guard.testing import FakeLogto

    from ._mcp_app import CONFIG_ENV, RESOURCE, VARIANTS, create

    tenant = FakeLogto(endpoint=ENDPOINT, audience=RESOURCE, alg="ES384")
    token = tenant.token(scopes=["read:products"])
    with tempfile.NamedTemporaryFile("w", suffix=".json") as config:
        config.write(json.dumps({"jwks": tenant.jwks()}))
        config.flush()
        os.environ[CONFIG_ENV] = config.name
        dispatch = create()
    statuses: list[int] = []

    async def record(message: Any) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started, ready, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def lifespan_receive() -> dict[str, Any]:
        if not started.is_set():
            started.set()
            return {"type": "lifespan.startup"}
        await stop.wait()
        return {"type": "lifespan.shutdown"}

    async def lifespan_send(message: Any) -> None:
        if message["type"] == "lifespan.startup.complete":
            ready.set()

    async def run_lifespan() -> None:
        await dispatch({"type": "lifespan"}, lifespan_receive, lifespan_send)

    lifespan = asyncio.create_task(run_lifespan())
    await ready.wait()  # every variant's session manager runs
    base = scope_for(token)
    scopes = {v: {**base, "path": f"/{v}/mcp", "raw_path": f"/{v}/mcp".encode()} for v in VARIANTS}
    samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for index in range(rounds + 1):  # round 0 warms up
        for name in rotated(list(VARIANTS), index):
            began = time.perf_counter_ns()
            for _ in range(count):
                await dispatch(scopes[name], Pending(), record)
            if index:
                samples[name].append((time.perf_counter_ns() - began) / count)
    stop.set()
    await lifespan
    if set(statuses) != {200}:
        raise RuntimeError(f"unexpected statuses {sorted(set(statuses))}")
    return samples


def report_stack(samples: dict[str, list[float]]) -> None:
    """us per call and the ratios of throughput to the same framework without auth."""
    rows = []
    for name, values in samples.items():
        floor = samples["sdk-none" if name.startswith("sdk-") else "fastmcp-none"]
        ratio = median([f / v for v, f in zip(values, floor, strict=True)])
        rows.append(
            [
                name,
                f"{median(values) / 1000:.0f}",
                f"{median(floor) / median(values):.3f}",
                f"{ratio:.3f}",
            ]
        )
    print_table(
        ["variant", "us/call (median)", "throughput / no auth (of medians)", "per round"], rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.mcp_overhead", description=__doc__)
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--baseline", metavar="REV", help="also measure logto_guard at REV")
    parser.add_argument("--stack", action="store_true", help="the bench.mcp servers instead")
    args = parser.parse_args(argv)
    if args.stack:
        import logging

        logging.disable(logging.INFO)  # the SDK logs every stateless request at INFO
        rounds, count = args.rounds, max(1, args.requests // 10)
        print(f"== bench.mcp servers, in process: {rounds} rounds x {count} tools/call ==")
        report_stack(asyncio.run(measure_stack(rounds, count)))
        return 0
    import logto_guard.mcp

    issuer = Issuer.generate("ES384")
    jwks, token = issuer.jwks(), issuer.token()
    apps: dict[str, ASGI] = {"none": stand_in()}
    with tempfile.TemporaryDirectory() as scratch:
        if args.baseline:
            apps |= variants(load_baseline(args.baseline, Path(scratch)), args.baseline, jwks)
        apps |= variants(logto_guard.mcp, "this tree", jwks)
        samples = asyncio.run(measure(apps, scope_for(token), args.rounds, args.requests))
    print(f"== MCP front end, in process: {args.rounds} rounds x {args.requests} requests ==")
    floor = samples["none"]
    rows = []
    for name, values in samples.items():
        over = median([v - f for v, f in zip(values, floor, strict=True)])
        extra = "" if name == "none" else f"{over / 1000:.2f}"
        rows.append([name, f"{median(values) / 1000:.2f}", extra])
    print_table(["variant", "us/request (median)", "us over none (paired median)"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
