"""Only a 200 answer is a key set: a JWKS body under any other status is never trusted
(a mutation removing that check used to survive)."""

from __future__ import annotations

import json

import httpx
import pytest

from logto_guard import JWKSCache, KeysUnavailableError
from logto_guard._config import SUPPORTED_ALGORITHMS
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
