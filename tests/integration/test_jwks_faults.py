"""Fault injection: a real JWKS server on loopback that can be told to misbehave.

The guard fetches over real HTTP with its own httpx client; time is a fake clock so
cooldowns and stale periods are exact.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI, Security
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from logto_guard import AuthInfo, LogtoGuard
from logto_guard.testing import FakeClock, FakeLogto

from ..helpers import bearer, settled
from .servers import serve

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@dataclass
class JwksServer:
    """A JWKS endpoint whose behaviour the test sets through ``mode``."""

    logto: FakeLogto
    mode: str = "ok"
    delay: float = 0.0
    requests: int = 0
    release: asyncio.Event | None = None
    seen: list[str] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        self.requests += 1
        self.seen.append(request.url.path)
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        answers: dict[str, Response] = {
            "500": PlainTextResponse("boom", status_code=500),
            "503": PlainTextResponse("down", status_code=503),
            "html": PlainTextResponse("<html>maintenance</html>", media_type="text/html"),
            "invalid-json": Response('{"keys": [', media_type="application/json"),
            "empty": JSONResponse({"keys": []}),
            "unsupported": JSONResponse({"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}),
            "redirect": RedirectResponse("http://127.0.0.1:9/evil-jwks", status_code=302),
        }
        if self.mode in answers:
            return answers[self.mode]
        return Response(
            json.dumps(self.logto.jwks()),
            media_type="application/jwk-set+json",
            headers={"Cache-Control": "no-cache, max-age=0, must-revalidate"},
        )

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/oidc/jwks", self.endpoint)])


@pytest.fixture
def jwks(clock: FakeClock) -> Iterator[tuple[JwksServer, str]]:
    server = JwksServer(FakeLogto(clock=clock))
    with serve(server.app()) as base_url:
        yield server, base_url


def guarded_app(guard: LogtoGuard) -> FastAPI:
    app = FastAPI()
    guard.install(app)

    @app.get("/products")
    async def products(
        auth: AuthInfo = Security(guard, scopes=["read:products"]),
    ) -> dict[str, str]:
        return {"client_id": auth.client_id or ""}

    return app


@pytest.fixture
async def api(
    jwks: tuple[JwksServer, str], clock: FakeClock
) -> AsyncIterator[tuple[httpx.AsyncClient, LogtoGuard]]:
    _server, base_url = jwks
    guard = LogtoGuard(
        endpoint="https://tenant.logto.app",
        audience="https://shopping.api",
        jwks_uri=f"{base_url}/oidc/jwks",
        clock=clock,
        jwks_timeout=0.5,
        jwks_stale_if_error=3600,
    )
    transport = httpx.ASGITransport(app=guarded_app(guard))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client, guard
    await guard.aclose()


async def assert_accepted(client: httpx.AsyncClient, token: str) -> None:
    """One request that must succeed (it also puts the JWKS in the cache)."""
    assert (await client.get("/products", headers=bearer(token))).status_code == 200


async def test_down_at_startup_gives_503_then_recovers_without_restart(
    jwks: tuple[JwksServer, str], api: tuple[httpx.AsyncClient, LogtoGuard], clock: FakeClock
) -> None:
    server, _ = jwks
    client, _guard = api
    token = server.logto.token(scopes=["read:products"])
    server.mode = "503"
    refused = await client.get("/products", headers=bearer(token))
    assert refused.status_code == 503
    retry_after = int(refused.headers["retry-after"])
    assert retry_after >= 1
    server.mode = "ok"
    clock.advance(retry_after)
    await assert_accepted(client, token)


@pytest.mark.parametrize(
    "mode", ["500", "503", "html", "invalid-json", "empty", "unsupported", "redirect"]
)
async def test_failed_refresh_keeps_last_good_keys(
    jwks: tuple[JwksServer, str],
    api: tuple[httpx.AsyncClient, LogtoGuard],
    clock: FakeClock,
    mode: str,
) -> None:
    server, _ = jwks
    client, guard = api
    token = server.logto.token(scopes=["read:products"], ttl=7200)
    await assert_accepted(client, token)
    server.mode = mode
    clock.advance(601)  # past max age: refreshes now fail, the cached keys keep serving
    for _ in range(3):
        await assert_accepted(client, token)
        await settled(guard.authenticator.key_source)
        clock.advance(60)
    assert guard.authenticator.readiness().last_error is not None
    assert server.requests >= 2
    assert server.seen == ["/oidc/jwks"] * server.requests  # the redirect was not followed


async def test_stale_keys_serve_for_a_bounded_period_only(
    jwks: tuple[JwksServer, str], api: tuple[httpx.AsyncClient, LogtoGuard], clock: FakeClock
) -> None:
    server, _ = jwks
    client, guard = api
    clock_start = clock.now
    await assert_accepted(client, server.logto.token(scopes=["read:products"]))
    server.mode = "500"
    clock.now = clock_start + 600 + 3600 - 5  # just inside jwks_stale_if_error
    fresh = server.logto.token(scopes=["read:products"])
    await assert_accepted(client, fresh)
    await settled(guard.authenticator.key_source)
    clock.advance(10)  # beyond it: no keys may be trusted any more
    late = server.logto.token(scopes=["read:products"])
    assert (await client.get("/products", headers=bearer(late))).status_code == 503


async def test_slow_jwks_bounds_the_request_and_does_not_delay_cached_keys(
    jwks: tuple[JwksServer, str], api: tuple[httpx.AsyncClient, LogtoGuard], clock: FakeClock
) -> None:
    server, _ = jwks
    client, guard = api
    token = server.logto.token(scopes=["read:products"], ttl=7200)
    await assert_accepted(client, token)
    server.mode, server.delay = "slow", 30.0
    clock.advance(601)
    started = time.monotonic()
    # Cached key: answered while the background refresh hangs on the slow server.
    await assert_accepted(client, token)
    cached_elapsed = time.monotonic() - started
    new_kid = server.logto.rotate()
    fresh = server.logto.token(scopes=["read:products"], kid=new_kid)
    await settled(guard.authenticator.key_source)  # the hanging refresh times out (0.5 s)
    clock.advance(2)
    started = time.monotonic()
    response = await client.get("/products", headers=bearer(fresh))
    bounded_elapsed = time.monotonic() - started
    assert response.status_code == 401  # refetch timed out: kid still unknown
    assert cached_elapsed < server.delay and bounded_elapsed < server.delay
    assert guard.authenticator.readiness().last_error == "JWKS fetch timed out"


async def test_random_kid_flood_causes_at_most_one_fetch_per_cooldown(
    jwks: tuple[JwksServer, str], api: tuple[httpx.AsyncClient, LogtoGuard], clock: FakeClock
) -> None:
    server, _ = jwks
    client, _guard = api
    await assert_accepted(client, server.logto.token(scopes=["read:products"]))
    clock.advance(31)
    before = server.requests
    for _ in range(1000):
        forged = server.logto.token(scopes=["read:products"], headers={"kid": uuid.uuid4().hex})
        response = await client.get("/products", headers=bearer(forged))
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
    assert server.requests - before == 1


async def test_hundred_concurrent_requests_after_rotation_cause_one_fetch(
    jwks: tuple[JwksServer, str], api: tuple[httpx.AsyncClient, LogtoGuard], clock: FakeClock
) -> None:
    server, _ = jwks
    client, _guard = api
    await assert_accepted(client, server.logto.token(scopes=["read:products"]))
    clock.advance(5)
    server.logto.rotate()
    token = server.logto.token(scopes=["read:products"])
    before = server.requests
    responses = await asyncio.gather(
        *(client.get("/products", headers=bearer(token)) for _ in range(100))
    )
    assert {r.status_code for r in responses} == {200}
    assert server.requests - before == 1
