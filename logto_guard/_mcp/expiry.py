"""Closing an MCP event stream when the token that opened it expires.

A token is checked once per HTTP request, but an SSE response can outlive it: the legacy
GET stream (MCP 2025-03-26 to 2025-11-25) and the ``subscriptions/listen`` stream of
2026-07-28 stay open until one side closes them. MCP servers "MUST validate access tokens
before processing the request ... and take all necessary steps to ensure no data is
returned to unauthorized parties" (2026-07-28, Security Considerations, "Access Token
Privilege Restriction"), so a stream ends when its token stops being accepted: at ``exp``
plus the guard's leeway, the same deadline the core applies to a new request. The client
then sees the stream end and reconnects with a fresh token (or is refused with a 401).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .._core.asgi_types import ASGIApp, Message, Receive, Scope, Send

_DISCONNECT: Message = {"type": "http.disconnect"}


async def serve_until_expiry(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    deadline: float,
    clock: Callable[[], float],
) -> None:
    """Run ``app``; an event-stream response it is still sending at ``deadline`` (seconds
    of ``clock``) is ended there, and the app's ``receive`` reports ``http.disconnect``.

    Other responses pass untouched: a JSON answer is sent before its token matters again.
    """
    stream = _ExpiringStream(receive, send, deadline, clock)
    try:
        await app(scope, stream.receive, stream.send)
    finally:
        stream.stop()


class _ExpiringStream:
    def __init__(
        self, receive: Receive, send: Send, deadline: float, clock: Callable[[], float]
    ) -> None:
        self._receive, self._send = receive, send
        self._deadline, self._clock = deadline, clock
        self._body_read = False  # until then receive() is the request body: never raced
        self._streaming = False
        self._ended = False
        self._expired: asyncio.Future[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None

    async def receive(self) -> Message:
        if self._ended and self._streaming:
            return _DISCONNECT
        if not self._body_read:
            message = await self._receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                self._body_read = True
            return message
        # After the body, receive() waits for the client to go away (an SSE response
        # listens for http.disconnect): the stream's expiry must wake it too.
        expired = self._expired_future()
        get = asyncio.ensure_future(self._receive())
        try:
            await asyncio.wait((get, expired), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not get.done():
                get.cancel()
        if expired.done() or get.cancelled():
            return _DISCONNECT
        return get.result()

    async def send(self, message: Message) -> None:
        if self._ended:
            return  # the response is over: what the app still sends goes nowhere
        kind = message["type"]
        if kind == "http.response.start" and _is_event_stream(message):
            self._streaming = True
            self._lock = asyncio.Lock()
            self._watchdog = asyncio.ensure_future(self._watch())
        if not self._streaming or self._lock is None:
            await self._send(message)
            return
        async with self._lock:
            if kind == "http.response.body" and self._clock() >= self._deadline:
                await self._end()
                return
            if self._ended:
                return
            if kind == "http.response.body" and not message.get("more_body", False):
                self._ended = True
            await self._send(message)

    async def _watch(self) -> None:
        # The deadline is on the injected clock, which signals nothing: sleep until it
        # should have passed, and check again on waking (a clock may lag the loop's).
        while (remaining := self._deadline - self._clock()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)
        assert self._lock is not None
        async with self._lock:
            await self._end()

    async def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._expired_future().set_result(None)
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    def _expired_future(self) -> asyncio.Future[None]:
        if self._expired is None:
            self._expired = asyncio.get_running_loop().create_future()
        return self._expired

    def stop(self) -> None:
        if self._watchdog is not None and not self._watchdog.done():
            self._watchdog.cancel()


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get("headers", ()):
        if name.lower() == b"content-type":
            return bytes(value).split(b";")[0].strip().lower() == b"text/event-stream"
    return False
