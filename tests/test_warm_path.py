"""The warm path (a verified token seen again) answers exactly like the full path.

``LogtoGuard`` first asks :meth:`Authenticator.peek`, which never awaits; any doubt sends the
request down :meth:`Authenticator.check`. These tests put a token in the verified-token
cache, then change one thing at a time and expect the full path's answer.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Security

from logto_guard import Authenticator, AuthInfo, LogtoGuard
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


def build(logto: FakeLogto, clock: FakeClock) -> tuple[FastAPI, LogtoGuard]:
    guard = LogtoGuard(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
    )
    app = FastAPI()
    guard.install(app)

    @app.get("/read")
    async def read(auth: AuthInfo = Security(guard, scopes=["read:products"])) -> str:
        return auth.subject

    @app.get("/write")
    async def write(auth: AuthInfo = Security(guard, scopes=["write:products"])) -> str:
        return auth.subject

    return app, guard


async def get(app: FastAPI, path: str, headers: list[tuple[str, str]]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.get(path, headers=headers)


async def warm(logto: FakeLogto, clock: FakeClock) -> tuple[FastAPI, LogtoGuard, str]:
    app, guard = build(logto, clock)
    token = logto.token(scopes=["read:products"])
    first = await get(app, "/read", [("Authorization", f"Bearer {token}")])
    assert first.status_code == 200 and guard.authenticator.stats.cached_tokens == 1
    return app, guard, token


async def test_a_reused_token_is_verified_once(logto: FakeLogto, clock: FakeClock) -> None:
    app, guard, token = await warm(logto, clock)
    for spelling in ("Bearer", "bearer", "BEARER"):
        response = await get(app, "/read", [("Authorization", f"{spelling} {token}")])
        assert response.status_code == 200, spelling
    assert guard.authenticator.stats.verified_tokens == 1


async def test_a_cached_token_still_needs_the_route_scope(
    logto: FakeLogto, clock: FakeClock
) -> None:
    app, _, token = await warm(logto, clock)
    response = await get(app, "/write", [("Authorization", f"Bearer {token}")])
    assert response.status_code == 403
    assert 'scope="write:products"' in response.headers["www-authenticate"]


async def test_a_cached_token_beside_a_second_header_is_a_bad_request(
    logto: FakeLogto, clock: FakeClock
) -> None:
    app, _, token = await warm(logto, clock)
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    response = await get(app, "/read", headers)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_a_cached_token_with_extra_spaces_is_answered_by_the_full_path(
    logto: FakeLogto, clock: FakeClock
) -> None:
    app, _, token = await warm(logto, clock)
    assert (await get(app, "/read", [("Authorization", f"Bearer  {token} ")])).status_code == 200
    bad = await get(app, "/read", [("Authorization", f"Bearer {token} x")])
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_request")


async def test_a_cached_token_expires(logto: FakeLogto, clock: FakeClock) -> None:
    app, _, token = await warm(logto, clock)
    clock.advance(3600 + 30)  # exp + leeway
    response = await get(app, "/read", [("Authorization", f"Bearer {token}")])
    assert (response.status_code, response.json()["detail"]) == (401, "token expired")


async def test_a_cached_token_dies_with_its_key(logto: FakeLogto, clock: FakeClock) -> None:
    app, guard, token = await warm(logto, clock)
    old = logto.signing_kid
    logto.rotate()
    logto.remove_key(old)
    await guard.authenticator.refresh_keys()
    response = await get(app, "/read", [("Authorization", f"Bearer {token}")])
    assert (response.status_code, response.json()["error"]) == (401, "invalid_token")


async def test_peek_declines_what_it_cannot_decide(logto: FakeLogto, clock: FakeClock) -> None:
    authenticator = Authenticator(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
    )
    token = logto.token(scopes=["a"])
    assert authenticator.peek(f"Bearer {token}") is None  # never verified yet
    assert await authenticator.authenticate([f"Bearer {token}"])
    assert authenticator.peek(f"Bearer {token}", ["a"]) is not None
    assert authenticator.peek(f"Bearer {token}", ["a", "b"]) is None
    assert authenticator.peek(f"Basic {token}") is None
    assert authenticator.peek(f"Bearer {token}x") is None
