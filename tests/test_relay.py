"""The Swagger UI token relay adds ``resource`` and forwards to Logto's token endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI, Security

from logto_guard import AuthInfo, LogtoGuard
from logto_guard._fastapi.relay import add_token_relay
from logto_guard._fastapi.relay._limits import KeyedBuckets, RateLimit, try_acquire
from logto_guard.testing import FakeClock

pytestmark = pytest.mark.anyio


def relay_app(upstream: httpx.MockTransport) -> tuple[FastAPI, LogtoGuard]:
    guard = LogtoGuard(endpoint="https://tenant.logto.app", audience="https://shopping.api")
    app = FastAPI()
    guard.install(app)
    guard.add_token_relay(app, transport=upstream)
    return app, guard


async def test_relay_adds_resource_and_forwards_credentials() -> None:
    seen: list[httpx.Request] = []

    def logto(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"access_token": "eyJ.x.y", "token_type": "Bearer", "expires_in": 3600},
            headers={"Cache-Control": "no-store"},
        )

    app, _ = relay_app(httpx.MockTransport(logto))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post(
            "/docs/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "read:products"},
            headers={"Authorization": "Basic YXBwOnNlY3JldA=="},
        )
    assert (response.status_code, response.json()["access_token"]) == (200, "eyJ.x.y")
    assert response.headers["cache-control"] == "no-store"
    (request,) = seen
    assert str(request.url) == "https://tenant.logto.app/oidc/token"
    assert request.headers["authorization"] == "Basic YXBwOnNlY3JldA=="
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["read:products"],
        "resource": ["https://shopping.api"],
    }


BASIC = {"Authorization": "Basic YXBwOnNlY3JldA=="}


async def test_relay_rebuilds_logto_errors_without_its_basic_challenge() -> None:
    """Logto's 401 + ``WWW-Authenticate: Basic`` would make browsers prompt: 400, no header."""

    def logto(request: httpx.Request) -> httpx.Response:
        body = {"error": "invalid_client", "error_description": "client authentication failed"}
        return httpx.Response(401, json=body, headers={"WWW-Authenticate": "Basic"})

    app, _ = relay_app(httpx.MockTransport(logto))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post(
            "/docs/oauth2/token", data={"grant_type": "client_credentials"}, headers=BASIC
        )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "invalid App ID or App Secret (Logto: client authentication failed)",
    }
    assert "www-authenticate" not in response.headers


async def test_relay_refuses_huge_bodies_and_reports_unreachable_logto() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app, _ = relay_app(httpx.MockTransport(down))
    transport = httpx.ASGITransport(app=app)
    form = {"Content-Type": "application/x-www-form-urlencoded", **BASIC}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        huge = await client.post("/docs/oauth2/token", content=b"a=" + b"x" * 20000, headers=form)
        unreachable = await client.post(
            "/docs/oauth2/token", data={"grant_type": "client_credentials"}, headers=BASIC
        )
        not_text = await client.post("/docs/oauth2/token", content=b"\xff\xfe", headers=form)
    assert (huge.status_code, huge.json()["error"]) == (413, "invalid_request")
    assert (unreachable.status_code, unreachable.json()["error"]) == (
        502,
        "temporarily_unavailable",
    )
    assert (not_text.status_code, not_text.json()["error"]) == (400, "invalid_request")


async def test_openapi_token_url_points_at_the_relay() -> None:
    app, guard = relay_app(httpx.MockTransport(lambda r: httpx.Response(500)))

    @app.get("/products")
    async def products(auth: AuthInfo = Security(guard, scopes=["read:products"])) -> None:
        return None

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        schema = (await client.get("/openapi.json")).json()
    flows = schema["components"]["securitySchemes"]["LogtoGuard"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/docs/oauth2/token"
    assert "/docs/oauth2/token" not in schema["paths"]


def test_token_buckets_allow_a_burst_then_the_rate() -> None:
    clock = FakeClock(1000.0)
    per_key = KeyedBuckets(RateLimit(rate=0.5, burst=2), clock)
    overall = KeyedBuckets(RateLimit(rate=0.1, burst=3), clock, max_keys=1)
    checks = [(overall, ""), (per_key, "app")]
    assert [try_acquire(checks) for _ in range(3)] == [0.0, 0.0, 2.0]  # burst of 2, then 2 s
    clock.now += 1.9
    assert try_acquire(checks) == pytest.approx(0.1)
    clock.now += 0.1
    assert try_acquire(checks) == 0.0
    # overall: 3 taken, 0.2 regained in 2 s: 8 s more for a whole token
    assert try_acquire([(overall, ""), (per_key, "other")]) == pytest.approx(8.0)


def test_refused_attempt_takes_no_token_from_other_buckets() -> None:
    clock = FakeClock(1000.0)
    overall = KeyedBuckets(RateLimit(rate=1, burst=2), clock, max_keys=1)
    per_key = KeyedBuckets(RateLimit(rate=1, burst=1), clock)
    assert try_acquire([(overall, ""), (per_key, "a")]) == 0.0
    assert try_acquire([(overall, ""), (per_key, "a")]) > 0  # "a" empty: overall untouched
    assert try_acquire([(overall, ""), (per_key, "b")]) == 0.0


def test_keyed_buckets_remember_at_most_max_keys() -> None:
    clock = FakeClock(1000.0)
    buckets = KeyedBuckets(RateLimit(rate=1, burst=1), clock, max_keys=2)
    for key in ("a", "b", "c"):
        assert try_acquire([(buckets, key)]) == 0.0
    assert try_acquire([(buckets, "c")]) > 0
    assert try_acquire([(buckets, "a")]) == 0.0  # "a" was evicted: a fresh burst


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("inf"), 1), (1, 0)])
def test_rate_limit_is_validated(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimit(rate=rate, burst=burst)


async def test_upstream_deadline_answers_502() -> None:
    never = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        await never.wait()
        return httpx.Response(200)

    app = FastAPI()
    add_token_relay(
        app,
        token_endpoint="https://tenant.logto.app/oidc/token",
        audience="https://shopping.api",
        path="/token",
        transport=httpx.MockTransport(hang),
        timeout=0.05,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post(
            "/token", data={"grant_type": "client_credentials"}, headers=BASIC
        )
    assert (response.status_code, response.json()["error"]) == (502, "temporarily_unavailable")


class ClosingTransport(httpx.MockTransport):
    closed = 0

    async def aclose(self) -> None:
        ClosingTransport.closed += 1


async def test_relay_client_is_closed_with_the_app_and_the_app_lifespan_still_runs() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, str]]:
        events.append("start")
        yield {"name": "shop"}
        events.append("stop")

    app = FastAPI(lifespan=lifespan)
    ok = {"access_token": "t", "token_type": "Bearer", "expires_in": 60}
    transport = ClosingTransport(lambda r: httpx.Response(200, json=ok))
    add_token_relay(
        app,
        token_endpoint="https://tenant.logto.app/oidc/token",
        audience="https://shopping.api",
        path="/token",
        transport=transport,
    )
    ClosingTransport.closed = 0
    async with app.router.lifespan_context(app) as state:
        assert state == {"name": "shop"}
        asgi = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=asgi, base_url="http://127.0.0.1") as client:
            form = {"grant_type": "client_credentials"}
            assert (await client.post("/token", data=form, headers=BASIC)).status_code == 200
        assert ClosingTransport.closed == 0
    assert events == ["start", "stop"]
    assert ClosingTransport.closed == 1


@pytest.mark.parametrize("status", [200, 400])
async def test_a_deeply_nested_upstream_answer_is_a_502_not_a_500(status: int) -> None:
    nested = b"[" * 30_000 + b"]" * 30_000  # under the 64 KiB cap

    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=nested, headers={"Content-Type": "application/json"})

    app, _ = relay_app(httpx.MockTransport(upstream))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.post(
            "/docs/oauth2/token", data={"grant_type": "client_credentials"}, headers=BASIC
        )
    assert (answer.status_code, answer.json()["error"]) == (502, "temporarily_unavailable")
