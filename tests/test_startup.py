"""Startup check and readiness: a configuration mistake stops the start, an outage does not."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest

from logto_guard import Authenticator, AuthInfo, ConfigurationError
from logto_guard._core.rfc6750 import Refusal
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


def guard_answering(
    handler: httpx.MockTransport | FakeLogto, clock: FakeClock | None = None
) -> Authenticator:
    client = (
        handler.http_client()
        if isinstance(handler, FakeLogto)
        else httpx.AsyncClient(transport=handler)
    )
    return Authenticator(
        endpoint="https://tenant.logto.app",
        audience="https://shopping.api",
        http_client=client,
        clock=clock or time.time,
    )


@pytest.mark.parametrize(
    ("answer", "evidence"),
    [
        (httpx.Response(404, text="Not Found"), "HTTP 404"),
        (httpx.Response(200, text="<html>Sign in</html>"), "not JSON"),
        (httpx.Response(200, json={"issuer": "https://x/oidc"}), "no 'keys' array"),
        (httpx.Response(301, headers={"Location": "https://x"}), "HTTP 301"),
    ],
)
async def test_a_misconfigured_jwks_stops_the_start(
    answer: httpx.Response, evidence: str, caplog: pytest.LogCaptureFixture
) -> None:
    guard = guard_answering(httpx.MockTransport(lambda request: answer))
    with pytest.raises(ConfigurationError, match="without /oidc") as caught:
        await guard.startup_check()
    assert evidence in str(caught.value) and "https://tenant.logto.app/oidc/jwks" in str(
        caught.value
    )
    (record,) = [r for r in caplog.records if r.name == "logto_guard"]
    assert record.levelno == logging.ERROR and "misconfigured" in record.getMessage()


@pytest.mark.parametrize(("status", "body"), [(503, ""), (500, "<html>oops</html>")])
async def test_an_unreachable_issuer_only_warns_and_is_not_ready(
    status: int, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    guard = guard_answering(httpx.MockTransport(lambda r: httpx.Response(status, text=body)))
    readiness = await guard.startup_check()
    assert not readiness.ready and readiness.keys == 0 and readiness.key_set_age is None
    assert readiness.last_error == f"JWKS answered HTTP {status}"
    assert any("starting without signing keys" in r.getMessage() for r in caplog.records)


async def test_connection_refused_only_warns() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    readiness = await guard_answering(httpx.MockTransport(refuse)).startup_check()
    assert not readiness.ready
    assert readiness.last_error == "JWKS request failed: ConnectError (connection refused)"


async def test_readiness_follows_the_key_set(logto: FakeLogto, clock: FakeClock) -> None:
    guard = guard_answering(logto, clock)
    assert not guard.readiness().ready
    ready = await guard.startup_check()
    assert ready.ready and ready.keys == 1 and ready.key_set_age == 0 and ready.last_error is None
    clock.advance(120)
    assert guard.readiness().key_set_age == 120
    logto.jwks_fault = lambda request: httpx.Response(503)
    clock.advance(600 + 3600)  # max age plus stale-if-error, with every refresh failing
    await guard.refresh_keys()
    late = guard.readiness()
    assert not late.ready and late.last_error == "JWKS answered HTTP 503"


@pytest.mark.anyio
async def test_startup_during_an_outage_recovers_without_traffic() -> None:
    """Issue 17 §1: after startup_check() finds Logto down, the keeper fetches by itself."""
    from logto_guard import Authenticator
    from logto_guard.testing import FakeLogto

    logto = FakeLogto()
    logto.jwks_fault = lambda request: httpx.Response(503)
    auth = Authenticator(
        endpoint="https://tenant.logto.app",
        audience="https://shopping.api",
        http_client=logto.http_client(),
    )
    async with auth.lifespan():
        assert not auth.readiness().ready
        logto.jwks_fault = None
        for _ in range(300):  # poll with a deadline: the keeper retries within 0.5 s
            if auth.readiness().ready:
                break
            await asyncio.sleep(0.01)
        assert auth.readiness().ready


async def test_two_front_ends_of_one_tenant_share_one_key_source() -> None:
    """REST guard and MCP verifier: one JWKS cache, one fetch, one keeper, one readiness."""
    from logto_guard.fastapi import LogtoGuard

    logto = FakeLogto()
    guard = LogtoGuard(
        endpoint=logto.endpoint, audience="https://shopping.api", http_client=logto.http_client()
    )
    mcp = Authenticator(
        endpoint=logto.endpoint,
        audience="http://127.0.0.1:8000/mcp",
        key_source=guard.authenticator.key_source,
    )
    async with guard.lifespan(None):
        assert guard.readiness().ready and mcp.readiness().ready
        rest_token = logto.token(aud="https://shopping.api")
        mcp_token = logto.token(aud="http://127.0.0.1:8000/mcp")
        assert isinstance(await guard.authenticator.check([f"Bearer {rest_token}"]), AuthInfo)
        assert isinstance(await mcp.check([f"Bearer {mcp_token}"]), AuthInfo)
        assert isinstance(await mcp.check([f"Bearer {rest_token}"]), Refusal)  # its own aud
    assert logto.jwks_requests == 1
    assert mcp.stats.jwks_fetches["success"] == 1


def _front_ends(logto: FakeLogto) -> dict[str, object]:
    from logto_guard.asgi import LogtoAuthMiddleware
    from logto_guard.fastapi import LogtoGuard
    from logto_guard.mcp import LogtoTokenVerifier

    endpoint, audience = logto.endpoint, "https://shop.example.com/mcp"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    ends: dict[str, object] = {
        "fastapi": LogtoGuard(
            endpoint=endpoint, audience=audience, http_client=logto.http_client()
        ),
        "asgi": LogtoAuthMiddleware(
            app, endpoint=endpoint, audience=audience, http_client=logto.http_client()
        ),
        "mcp": LogtoTokenVerifier(
            endpoint=endpoint, audience=audience, http_client=logto.http_client()
        ),
    }
    try:
        from logto_guard.fastmcp import LogtoProvider
    except ImportError:  # FastMCP needs Python >= 3.11
        return ends
    ends["fastmcp"] = LogtoProvider(
        endpoint=logto.endpoint,
        base_url="https://shop.example.com",
        http_client=logto.http_client(),
    )
    return ends


@pytest.mark.parametrize("name", ["fastapi", "asgi", "mcp", "fastmcp"])
async def test_every_front_end_owns_its_key_lifecycle(name: str) -> None:
    """readiness / startup_check / lifespan / aclose on the front end itself (issue 17 §1)."""
    logto = FakeLogto()
    ends = _front_ends(logto)
    if name not in ends:
        pytest.skip("FastMCP needs Python >= 3.11")
    front_end: Any = ends[name]
    assert front_end.key_source is front_end.authenticator.key_source
    assert not front_end.readiness().ready
    async with front_end.lifespan():
        assert front_end.readiness().ready  # the lifespan ran the startup check
        assert front_end.readiness().keys == 1
    await front_end.aclose()
