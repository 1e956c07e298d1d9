"""The pure ASGI middleware answers exactly like the FastAPI guard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logto_guard.asgi import LogtoAuthMiddleware, Message, Receive, Scope, Send
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


async def whoami(request: Request) -> JSONResponse:
    auth = request.auth
    return JSONResponse({"client_id": auth.client_id if auth else None})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def build(logto: FakeLogto, clock: FakeClock, **options: Any) -> LogtoAuthMiddleware:
    app = Starlette(routes=[Route("/whoami", whoami), Route("/health", health)])
    return LogtoAuthMiddleware(
        app,
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        public_paths={"/health"},
        **options,
    )


@pytest.fixture
async def client(logto: FakeLogto, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = build(logto, clock, required_scopes=["read:products"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


async def test_valid_token_puts_auth_info_on_the_scope(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    token = logto.token(scopes=["read:products"])
    response = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.json()) == (200, {"client_id": logto.app_id})


@pytest.mark.parametrize(
    ("headers", "status", "challenge", "body"),
    [
        ({}, 401, 'Bearer realm="https://shopping.api"', {"detail": "bearer token required"}),
        (
            {"Authorization": "Bearer a b"},
            400,
            'Bearer realm="https://shopping.api", error="invalid_request", '
            'error_description="bearer credentials are not a single token"',
            {"detail": "bearer credentials are not a single token", "error": "invalid_request"},
        ),
        (
            {"Authorization": "Bearer x.y.z"},
            401,
            'Bearer realm="https://shopping.api", error="invalid_token", '
            'error_description="token header is not valid base64url JSON"',
            {"detail": "token header is not valid base64url JSON", "error": "invalid_token"},
        ),
    ],
)
async def test_refusals_match_the_rfc6750_contract(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    status: int,
    challenge: str,
    body: dict[str, str],
) -> None:
    response = await client.get("/whoami", headers=headers)
    assert response.status_code == status
    assert response.headers["www-authenticate"] == challenge
    assert response.json() == body


async def test_missing_scope_gets_403(client: httpx.AsyncClient, logto: FakeLogto) -> None:
    response = await client.get("/whoami", headers={"Authorization": f"Bearer {logto.token()}"})
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'scope="read:products"' in response.headers["www-authenticate"]


async def test_public_paths_pass_without_credentials(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}


async def test_jwks_outage_gets_503_with_retry_after(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    logto.jwks_fault = lambda request: httpx.Response(500)
    token = logto.token(scopes=["read:products"])
    response = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers


async def test_optional_mode_lets_anonymous_requests_through(
    logto: FakeLogto, clock: FakeClock
) -> None:
    transport = httpx.ASGITransport(app=build(logto, clock, optional=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        assert (await client.get("/whoami")).json() == {"client_id": None}
        bad = await client.get("/whoami", headers={"Authorization": "Bearer x.y.z"})
        assert bad.status_code == 401


async def test_websocket_handshake_is_guarded(logto: FakeLogto, clock: FakeClock) -> None:
    seen: list[object] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["auth"].client_id)

    middleware = LogtoAuthMiddleware(
        inner,
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
    )
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "websocket", "path": "/ws", "headers": []}
    await middleware(scope, receive, send)
    # As the FastAPI front end closes it: 1008 and the refusal's description.
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "bearer token required"}]
    assert seen == []
    token = logto.token().encode()
    scope = {
        "type": "websocket",
        "path": "/ws",
        "headers": [(b"authorization", b"Bearer " + token)],
    }
    await middleware(scope, receive, send)
    assert seen == [logto.app_id]


async def echo_until_disconnect(scope: Scope, receive: Receive, send: Send) -> None:
    """A WebSocket app: accept, then echo text until the client goes away."""
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message["text"]})


async def run_session(
    middleware: LogtoAuthMiddleware, token: str, texts: list[str]
) -> list[Message]:
    incoming: list[Message] = [{"type": "websocket.connect"}]
    incoming += [{"type": "websocket.receive", "text": text} for text in texts]
    incoming.append({"type": "websocket.disconnect", "code": 1000})
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "websocket",
        "path": "/ws",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
    }
    await middleware(scope, receive, send)
    return sent


@pytest.mark.parametrize("close_at_expiry", [False, True])
async def test_a_websocket_lives_as_long_as_the_core_accepts_its_token(
    logto: FakeLogto, clock: FakeClock, close_at_expiry: bool
) -> None:
    """exp one second ago is still inside the leeway: the handshake is accepted and, even
    when sockets close at expiry, the socket lives until exp + leeway, as a request would."""
    middleware = LogtoAuthMiddleware(
        echo_until_disconnect,
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        close_websockets_at_expiry=close_at_expiry,
    )
    sent = await run_session(middleware, logto.token(ttl=-1), ["hello", "again"])
    assert sent[0] == {"type": "websocket.accept"}
    assert [m.get("text") for m in sent[1:]] == ["hello", "again"]


@pytest.mark.parametrize(("past_deadline", "closed"), [(0, True), (-1, False)])
async def test_a_websocket_closes_when_the_core_would_refuse_its_token(
    logto: FakeLogto, clock: FakeClock, past_deadline: int, closed: bool
) -> None:
    """The socket's deadline is the core's: exp + the 30 s leeway, not exp."""
    middleware = LogtoAuthMiddleware(
        echo_until_disconnect,
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        close_websockets_at_expiry=True,
    )
    token = logto.token(ttl=60)

    incoming: list[Message] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hello"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        message = incoming.pop(0)
        if message["type"] == "websocket.receive":
            clock.advance(60 + 30 + past_deadline)
        return message

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "websocket",
        "path": "/ws",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
    }
    await middleware(scope, receive, send)
    assert sent[0] == {"type": "websocket.accept"}
    if closed:
        assert sent[1:] == [{"type": "websocket.close", "code": 1008}]
    else:
        assert sent[1:] == [{"type": "websocket.send", "text": "hello"}]


async def test_a_websocket_with_a_live_token_is_not_closed(
    logto: FakeLogto, clock: FakeClock
) -> None:
    middleware = LogtoAuthMiddleware(
        echo_until_disconnect,
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        close_websockets_at_expiry=True,
    )
    sent = await run_session(middleware, logto.token(), ["hello"])
    assert sent == [{"type": "websocket.accept"}, {"type": "websocket.send", "text": "hello"}]
