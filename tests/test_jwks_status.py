"""Only a 200 answer is a key set: a JWKS body under any other status is never trusted
(a mutation removing that check used to survive)."""

from __future__ import annotations

import json

import httpx
import pytest

from logto_guard import KeysUnavailableError
from logto_guard._core.config import SUPPORTED_ALGORITHMS
from logto_guard.lowlevel import JWKSCache
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("status", [201, 203, 206, 304, 404, 500, 503])
async def test_a_key_set_under_another_status_is_not_trusted(
    logto: FakeLogto, clock: FakeClock, status: int
) -> None:
    good = logto.http_client()
    body = (await good.get(logto.jwks_uri)).content  # a real, valid JWKS document
    assert json.loads(body)["keys"]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

    cache = JWKSCache(
        logto.jwks_uri,
        algorithms=SUPPORTED_ALGORITHMS,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
        clock=clock,
    )
    with pytest.raises(KeysUnavailableError):
        await cache.get_key(logto.signing_kid)
    assert cache.keys == {}


async def test_a_redirect_is_never_followed_to_another_key_set(
    logto: FakeLogto, clock: FakeClock
) -> None:
    """A JWKS URL answering 302 elsewhere is a failed fetch: the target is never asked,
    even when the HTTP client given to the cache follows redirects by default."""
    good = logto.http_client()
    body = (await good.get(logto.jwks_uri)).content
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.path == "/elsewhere/jwks":
            return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
        return httpx.Response(302, headers={"Location": "https://attacker.example/elsewhere/jwks"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer), follow_redirects=True)
    cache = JWKSCache(
        logto.jwks_uri, algorithms=SUPPORTED_ALGORITHMS, http_client=client, clock=clock
    )
    with pytest.raises(KeysUnavailableError):
        await cache.get_key(logto.signing_kid)
    assert asked == [logto.jwks_uri]
    assert cache.keys == {}
