"""Warm-path overhead: what the guard itself costs over a no-op FastAPI security scheme.

FastAPI resolving *any* ``Security`` dependency costs several microseconds; the guard's
own share on the warm path (a reused, already verified token) is what this measures, in
process, with no server and no socket. Two measurements, variants interleaved in rounds:

* ``route``: a trivial ``async`` route called through a whole FastAPI app as an ASGI
  callable (scope in, response messages out): two apps, identical but for the route's
  ``Security(noop, scopes=[...])`` or ``Security(guard, scopes=[...])``, both sent the same
  ``Authorization`` header (two apps, not two routes of one app: Starlette matches routes
  in order, and a second route would pay ~1 us more for matching alone). The difference
  of the per-request medians is the guard's cost on a route.
* ``call``: the dependency alone, ``await scheme(request, SecurityScopes([...]))`` for the
  no-op scheme and for the guard: a finer cross-check of the same difference.

The no-op scheme is a :class:`fastapi.security.base.SecurityBase` whose ``__call__``
returns a fixed :class:`AuthInfo`: the framework's floor for a security dependency.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, Request, Security
from fastapi.openapi.models import HTTPBearer
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase

from logto_guard import AuthInfo, LogtoGuard

from ._common import AUDIENCE, ENDPOINT, Issuer, jwks_http_client, median, print_table, rotated

SCOPES = ["read:products"]
VARIANTS = ("noop", "guard")

FIXED = AuthInfo(
    subject="app",
    client_id="app",
    audience=AUDIENCE,
    issuer=f"{ENDPOINT}/oidc",
    scopes=frozenset(SCOPES),
    organization_id=None,
    expires_at=datetime.max.replace(tzinfo=timezone.utc),
    claims=MappingProxyType({}),
)


class NoopScheme(SecurityBase):
    """A security scheme that accepts every request: the framework's floor."""

    def __init__(self) -> None:
        self.model = HTTPBearer()
        self.scheme_name = "noop"

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> AuthInfo:
        return FIXED


def build_app(scheme: LogtoGuard | NoopScheme) -> FastAPI:
    """An app with one trivial route behind ``scheme``."""
    app = FastAPI()
    if isinstance(scheme, LogtoGuard):
        scheme.install(app)

    @app.get("/r")
    async def route(auth: AuthInfo = Security(scheme, scopes=SCOPES)) -> str:
        return auth.subject

    return app


def scope_for(path: str, token: str) -> dict[str, Any]:
    """An ASGI HTTP scope as uvicorn builds it (lower-case header names)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", b"bench"),
            (b"accept", b"*/*"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


Runner = Callable[[int], Awaitable[float]]


def route_runner(app: FastAPI, path: str, token: str) -> Runner:
    """Per-request seconds of ``count`` requests to ``path`` through the ASGI app."""
    template = scope_for(path, token)
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def run(count: int) -> float:
        statuses.clear()
        started = time.perf_counter()
        for _ in range(count):
            await app(dict(template), receive, send)
        elapsed = time.perf_counter() - started
        if statuses != [200] * count:
            raise RuntimeError(f"{path} answered {sorted(set(statuses))}, not only 200")
        return elapsed / count

    return run


def call_runner(scheme: Any, token: str) -> Runner:
    """Per-call seconds of ``await scheme(request, SecurityScopes(SCOPES))``."""
    request = Request(scope_for("/x", token))
    scopes = SecurityScopes(SCOPES)

    async def run(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            info = await scheme(request, scopes)
        elapsed = time.perf_counter() - started
        if not info.scopes.issuperset(SCOPES):
            raise RuntimeError("the scheme did not authenticate")
        return elapsed / count

    return run


async def measure(runners: dict[str, Runner], rounds: int, count: int) -> dict[str, list[float]]:
    """Per-request seconds of each variant, in many short interleaved rounds (order
    rotated), so that both variants see the same load."""
    for runner in runners.values():  # warm-up: JWKS fetch, caches, code paths
        await runner(max(100, count // 10))
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for index in range(rounds):
        for name in rotated(tuple(runners), index):
            samples[name].append(await runners[name](count))
    return samples


async def run(rounds: int, count: int) -> dict[str, float]:
    """Both measurements; returns the guard's cost over the no-op scheme in ns."""
    issuer = Issuer.generate("ES384")
    token = issuer.token()
    guard = LogtoGuard(
        endpoint=ENDPOINT, audience=AUDIENCE, http_client=jwks_http_client(issuer.jwks())
    )
    noop = NoopScheme()
    results: dict[str, float] = {}
    rows = []
    for kind, runners in (
        (
            "route",
            {
                "noop": route_runner(build_app(noop), "/r", token),
                "guard": route_runner(build_app(guard), "/r", token),
            },
        ),
        ("call", {"noop": call_runner(noop, token), "guard": call_runner(guard, token)}),
    ):
        samples = await measure(runners, rounds, count)
        noop_ns = median(samples["noop"]) * 1e9
        guard_ns = median(samples["guard"]) * 1e9
        paired = [(g - n) * 1e9 for g, n in zip(samples["guard"], samples["noop"], strict=True)]
        results[kind] = guard_ns - noop_ns
        rows.append(
            [
                kind,
                f"{noop_ns:,.0f}",
                f"{guard_ns:,.0f}",
                f"{guard_ns - noop_ns:,.0f}",
                f"{median(paired):,.0f}",
                f"{noop_ns / guard_ns:.3f}",
            ]
        )
    if guard.authenticator.stats.verified_tokens != 1:
        raise RuntimeError("the reused token was verified more than once")
    print_table(
        [
            "measured",
            "no-op scheme ns",
            "guard ns",
            "guard overhead ns",
            "paired median ns",
            "no-op/guard",
        ],
        rows,
    )
    await guard.aclose()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the warm-path overhead benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--rounds", type=int, help="rounds (default 41, quick 9)")
    parser.add_argument("--count", type=int, help="requests per round (default 2000)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (9 if args.quick else 41)
    count = args.count or 2000
    print("== overhead: the guard's warm path over a no-op security scheme, in process ==")
    print(f"   {rounds} rounds x {count} requests per variant, interleaved, order rotated")
    results = asyncio.run(run(rounds, count))
    target = 2500
    verdict = "met" if results["route"] <= target else "NOT met"
    print(
        f"  guard overhead on a route: {results['route']:,.0f} ns (target <= {target}: {verdict})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
