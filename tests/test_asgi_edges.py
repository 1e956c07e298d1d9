"""Edges of the ASGI middleware that earlier tests could not tell apart from a broken check:
exact public paths, and a WebSocket closed at its token's expiry on an injected clock."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logto_guard.asgi import LogtoAuthMiddleware, Message, Receive, Scope, Send
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


async def ok(request: Request) -> JSONResponse:
    return JSONResponse({"path": request.url.path})


@pytest.mark.parametrize("path", ["/health/", "/health/secret", "/healthz", "/HEALTH"])
async def test_public_paths_are_exact_not_prefixes(
    logto: FakeLogto, clock: FakeClock, path: str
) -> None:
    app = Starlette(routes=[Route("/{rest:path}", ok)])
    guarded = LogtoAuthMiddleware(
        app,
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        public_paths={"/health"},
    )
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        assert (await client.get("/health")).status_code == 200
        refused = await client.get(path)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == f'Bearer realm="{logto.audience}"'


def _socket(logto: FakeLogto, clock: FakeClock, app: object) -> LogtoAuthMiddleware:
    return LogtoAuthMiddleware(
        app,  # type: ignore[arg-type]
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        close_websockets_at_expiry=True,
    )


def _scope(token: str) -> Scope:
    return {
        "type": "websocket",
        "path": "/ws",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
    }


async def test_what_the_app_sends_after_expiry_closes_the_socket_instead(
    logto: FakeLogto, clock: FakeClock
) -> None:
    """Deterministic: the clock is moved past exp between accept and the app's send."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        clock.advance(3600 + 31)  # past exp and the leeway
        await send({"type": "websocket.send", "text": "after expiry"})

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    token = logto.token(ttl=3600)
    await _socket(logto, clock, app)(_scope(token), receive, send)
    assert sent == [{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1008}]


async def test_the_wait_for_a_message_is_bounded_by_exp(logto: FakeLogto, clock: FakeClock) -> None:
    """exp + leeway is 0.05 s of the (injected) clock away and the client never speaks:
    the receive ends then. Without the bound the middleware would wait forever."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        assert (await receive())["type"] == "websocket.disconnect"

    sent: list[Message] = []
    connected = False
    forever = asyncio.Event()

    async def receive() -> Message:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        await forever.wait()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    token = logto.token(ttl=60)
    clock.advance(60 + 30 - 0.05)  # 0.05 s left of exp + the 30 s leeway on the guard's clock
    await asyncio.wait_for(_socket(logto, clock, app)(_scope(token), receive, send), timeout=10)
    assert sent == [{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1008}]


async def test_closing_at_expiry_leaves_http_requests_untouched(
    logto: FakeLogto, clock: FakeClock
) -> None:
    """close_websockets_at_expiry is about WebSockets: an HTTP request gets the server's
    own receive and send, so a response sent after exp + leeway is still sent."""
    seen: list[tuple[object, object]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((receive, send))
        clock.advance(3600 + 31)  # past exp and the leeway while answering
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"late but whole"})

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {**_scope(logto.token()), "type": "http", "method": "GET"}
    await _socket(logto, clock, app)(scope, receive, send)
    assert seen == [(receive, send)]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == b"late but whole"
