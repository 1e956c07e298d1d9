"""Pieces of :mod:`bench.conformance`: the token-adding reverse proxy, the demo's MCP app
with logto-guard off, and a uvicorn server in a thread.

The MCP conformance suite (``@modelcontextprotocol/conformance``) connects without any
credentials and has no option to add a header, so :class:`TokenProxy` adds
``Authorization: Bearer <token>`` to every request that has none and streams the answer
back unchanged (SSE included). ``Host`` and ``Origin`` are forwarded as sent: the suite's
DNS-rebinding scenario reaches the server under test as it sent it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import MutableMapping
from typing import Any, cast

import anyio
import httpx
from mcp.server.auth.provider import AccessToken

from demo_api.mcp_server import create_mcp_server, mcp_app
from demo_api.store import ProductStore
from logto_guard.mcp import LogtoTokenVerifier

Scope = MutableMapping[str, Any]
#: Hop-by-hop headers (RFC 9110 §7.6.1) and those the proxy recomputes.
_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"trailer"}
#: Headers httpx adds when absent: removed again, so the server sees what the suite sent.
_HTTPX_DEFAULTS = ("accept", "accept-encoding", "user-agent")


class TokenProxy:
    """ASGI reverse proxy to ``upstream`` adding a bearer ``token`` to requests without one."""

    def __init__(self, upstream: str, token: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.token = token
        self.forwarded = 0
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        sent = [(k.lower(), v) for k, v in scope["headers"] if k.lower() not in _HOP]
        if not any(k == b"authorization" for k, _ in sent):
            sent.append((b"authorization", f"Bearer {self.token}".encode()))
        target = self.upstream + scope["raw_path"].decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        if self._client is None:
            # No read timeout: an SSE stream may stay quiet for as long as the suite waits.
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(10, read=None))
        request = self._client.build_request(
            scope["method"], target, headers=sent, content=bytes(body)
        )
        names = {k for k, _ in sent}
        for name in _HTTPX_DEFAULTS:
            if name.encode() not in names:
                del request.headers[name]
        self.forwarded += 1
        response = await self._client.send(request, stream=True)
        try:
            raw = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in _HOP]
            start = {"type": "http.response.start", "status": response.status_code}
            await send({**start, "headers": raw})
            async with anyio.create_task_group() as tasks:
                # An SSE stream the suite closes must be closed upstream too.
                tasks.start_soon(_cancel_on_disconnect, receive, tasks.cancel_scope)
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                tasks.cancel_scope.cancel()
        finally:
            await response.aclose()

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _cancel_on_disconnect(receive: Any, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


class AnyTokenVerifier:
    """logto-guard off: the demo's MCP server on the SDK's own bearer plumbing, with a
    verifier that accepts any token (both scopes), and ``protect()`` adding nothing."""

    def __init__(self, resource_url: str, issuer: str) -> None:
        self.resource_url = resource_url
        self.issuer = issuer

    async def verify_token(self, token: str) -> AccessToken:
        """The same identity for any token."""
        return AccessToken(
            token=token,
            client_id="conformance",
            scopes=["read:products", "write:products"],
            resource=self.resource_url,
            subject="conformance",
            claims={"iss": self.issuer},
        )

    def protect(self, app: Any, **_: Any) -> Any:
        """``app`` itself: no logto-guard middleware."""
        return app


def unguarded_demo_mcp(db_path: str, resource_url: str, issuer: str) -> Any:
    """The demo's MCP app (same tools, transport settings and scopes checks inside the
    tools) with logto-guard replaced by :class:`AnyTokenVerifier`."""
    verifier = cast(LogtoTokenVerifier, AnyTokenVerifier(resource_url, issuer))
    return mcp_app(create_mcp_server(ProductStore(db_path), verifier), verifier)


class ThreadServer:
    """``app`` under uvicorn on 127.0.0.1:``port``, in a daemon thread."""

    def __init__(self, app: Any, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:  # uvicorn offers no event to wait on
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        with contextlib.suppress(RuntimeError):
            self.thread.join(timeout=10)
