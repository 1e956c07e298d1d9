"""An MCP event stream ends when its token stops being accepted (``exp`` + leeway).

The middleware is driven over raw ASGI with a small SSE app that, like the SDK's
``EventSourceResponse``, sends events and waits on ``receive()`` for ``http.disconnect``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from logto_guard import Authenticator
from logto_guard.mcp import MCPAuthMiddleware
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio
RESOURCE = "http://testserver/mcp"
LEEWAY = 30


class StreamApp:
    """Sends ``content_type`` headers, then one event per ``go`` set, until disconnected."""

    def __init__(self, content_type: bytes = b"text/event-stream") -> None:
        self.content_type = content_type
        self.go = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.sent = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await receive()  # the (empty) request body
        headers = [(b"content-type", self.content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.disconnected.set()

        listener = asyncio.ensure_future(listen())
        try:
            while not self.disconnected.is_set():
                event = {"type": "http.response.body", "body": b"data: x\n\n", "more_body": True}
                await send(event)
                self.sent += 1
                self.go.clear()
                waiter = asyncio.ensure_future(self.go.wait())
                await asyncio.wait((waiter, listener), return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
        finally:
            listener.cancel()


class Client:
    """An ASGI client that never disconnects and records what it is sent."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._body_sent = False
        self._forever = asyncio.Event()
        self.last_at = 0.0

    async def receive(self) -> dict[str, Any]:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._forever.wait()
        raise AssertionError("unreachable")

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.last_at = time.time()

    @property
    def events(self) -> int:
        return sum(1 for m in self.messages if m.get("body") == b"data: x\n\n")

    @property
    def ended(self) -> bool:
        last = self.messages[-1] if self.messages else {}
        return last.get("type") == "http.response.body" and not last.get("more_body", False)


def guarded(app: Any, logto: FakeLogto, clock: Callable[[], float], leeway: float) -> Any:
    authenticator = Authenticator(
        endpoint=logto.endpoint,
        audience=RESOURCE,
        http_client=logto.http_client(),
        allow_insecure_http=True,
        clock=clock,
        leeway=leeway,
    )
    return MCPAuthMiddleware(app, authenticator=authenticator, resource_url=RESOURCE)


def scope_for(token: str) -> dict[str, Any]:
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"accept", b"text/event-stream")]
    return {"type": "http", "method": "GET", "path": "/mcp", "headers": headers}


async def until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    """Poll with a deadline (the stream runs in another task)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_stream_is_ended_once_the_clock_passes_exp_plus_leeway() -> None:
    clock = FakeClock()
    logto = FakeLogto(audience=RESOURCE, clock=clock)
    app, client = StreamApp(), Client()
    middleware = guarded(app, logto, clock, LEEWAY)
    task = asyncio.ensure_future(
        middleware(scope_for(logto.token(ttl=60)), client.receive, client.send)
    )
    await until(lambda: client.events == 1)
    clock.advance(60 + LEEWAY - 1)  # expired, but inside the leeway: still streaming
    app.go.set()
    await until(lambda: client.events == 2)
    assert not client.ended
    clock.advance(1)  # exp + leeway: the next event is not delivered
    app.go.set()
    await asyncio.wait_for(task, 10)
    assert client.events == 2
    assert client.ended
    assert app.disconnected.is_set()  # the app was told, so it stops its work


async def test_stream_is_ended_at_the_deadline_without_the_app_sending() -> None:
    """The watchdog, not only the next send: a quiet stream ends at exp + leeway."""
    logto = FakeLogto(audience=RESOURCE, clock=time.time)
    app, client = StreamApp(), Client()
    token = logto.token(ttl=1)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    middleware = guarded(app, logto, time.time, leeway=0)
    await asyncio.wait_for(middleware(scope_for(token), client.receive, client.send), 10)
    assert client.last_at >= exp  # ended at the token's deadline, not before
    assert (client.events, client.ended, app.disconnected.is_set()) == (1, True, True)


async def test_a_json_response_is_not_cut_by_the_deadline() -> None:
    clock = FakeClock()
    logto = FakeLogto(audience=RESOURCE, clock=clock)
    app, client = StreamApp(content_type=b"application/json"), Client()
    middleware = guarded(app, logto, clock, LEEWAY)
    task = asyncio.ensure_future(
        middleware(scope_for(logto.token(ttl=60)), client.receive, client.send)
    )
    await until(lambda: client.events == 1)
    clock.advance(3600)
    app.go.set()
    await until(lambda: client.events == 2)
    assert not client.ended and not app.disconnected.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
