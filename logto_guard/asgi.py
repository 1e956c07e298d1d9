"""A pure ASGI middleware for Starlette and other ASGI apps.

It authenticates every HTTP request (and WebSocket handshake) with the same checks and the
same RFC 6750 answers as :class:`logto_guard.LogtoGuard`, and puts the caller's
:class:`~logto_guard.AuthInfo` at ``scope["auth"]`` (``request.auth`` in Starlette).

Example::

    from starlette.applications import Starlette
    from logto_guard.asgi import LogtoAuthMiddleware

    app = Starlette(routes=[...])
    app = LogtoAuthMiddleware(
        app,
        endpoint="https://tenant.logto.app",
        audience="https://shopping.api",
        required_scopes=["read:products"],
        public_paths={"/health"},
    )
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Sequence

import httpx

# The ASGI aliases, re-exported: ``from logto_guard.asgi import ASGIApp, Scope, ...``.
from ._core.asgi_types import ASGIApp as ASGIApp
from ._core.asgi_types import Message as Message
from ._core.asgi_types import Receive as Receive
from ._core.asgi_types import Scope as Scope
from ._core.asgi_types import Send as Send
from ._core.authenticator import Authenticator
from ._core.config import GuardConfig
from ._core.front_end import KeyLifecycle, shared_or_built
from ._core.options import AuthenticatorOptions, Unpack
from ._core.policy import Policy
from ._core.rfc6750 import (
    WEBSOCKET_REFUSAL_CODE,
    Refusal,
    authorization_values,
    send_refusal,
)

__all__ = ["LogtoAuthMiddleware"]


class LogtoAuthMiddleware(KeyLifecycle):
    """Require a valid Logto access token (and ``required_scopes``) on every request.

    Args:
        app: the ASGI app to protect.
        required_scopes: scopes every request needs (per-route checks can read
            ``scope["auth"].scopes``).
        public_paths: exact paths served without authentication (e.g. ``/health``).
        organization: for organization tokens, a function of the ASGI scope returning the
            organization the request is about (see :class:`logto_guard.LogtoGuard`).
        optional: when True, a request without credentials passes with ``scope["auth"]``
            set to ``None``; invalid credentials are still refused.
        authenticator: share an existing :class:`Authenticator` instead of building one.
        clients: the App IDs (``client_id``) allowed to call (see :class:`Policy`).
        allow_actor: when False, tokens carrying ``act`` are refused (403).
        allow_delegated: when False, delegated (token-exchange) tokens are refused (403).
        close_websockets_at_expiry: a WebSocket is authenticated once, at its handshake,
            and by default outlives its token. When True, it is closed with code 1008 when
            the token's ``exp`` plus the leeway passes, when the core itself stops
            accepting the token (the app then receives ``websocket.disconnect``).
        endpoint: the Logto endpoint (unless ``config`` or ``authenticator`` is given).
        audience: the API resource indicator (unless ``config`` or ``authenticator``).
        config: a ready :class:`~logto_guard.GuardConfig`, instead of ``endpoint``,
            ``audience`` and the config options.
        http_client: ``httpx.AsyncClient`` for fetching the JWKS (tests inject one).
        clock: seconds since the epoch (tests inject a fake clock).
        **options: the other guard options (typed:
            :class:`~logto_guard.AuthenticatorOptions`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        required_scopes: Sequence[str] = (),
        public_paths: Collection[str] = (),
        organization: Callable[[Scope], str | None] | None = None,
        optional: bool = False,
        authenticator: Authenticator | None = None,
        close_websockets_at_expiry: bool = False,
        clients: Collection[str] | None = None,
        allow_actor: bool = True,
        allow_delegated: bool = True,
        endpoint: str | None = None,
        audience: str | None = None,
        config: GuardConfig | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        **options: Unpack[AuthenticatorOptions],
    ) -> None:
        self.app = app
        self.required_scopes = tuple(required_scopes)
        self.public_paths = frozenset(public_paths)
        self.organization = organization
        self.optional = optional
        self.authenticator = shared_or_built(
            authenticator,
            config,
            endpoint,
            audience,
            http_client=http_client,
            clock=clock,
            **options,
        )
        self.authenticator.check_organization_source(organization)
        self.close_websockets_at_expiry = close_websockets_at_expiry
        policy = Policy(clients=clients, allow_actor=allow_actor, allow_delegated=allow_delegated)
        self.policy = policy if policy.restricts else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"} or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        values = authorization_values(scope.get("headers", []))
        result = await self.authenticator.check(
            values,
            self.required_scopes,
            organization_id=self.organization(scope) if self.organization else None,
            organization_required=self.organization is not None,
            optional=self.optional,
            policy=self.policy,
        )
        if isinstance(result, Refusal):
            await send_refusal(scope, send, result)
            return
        scope["auth"] = result
        if result is not None and scope["type"] == "websocket" and self.close_websockets_at_expiry:
            deadline = self.authenticator.deadline(result)
            session = _ExpiringSession(receive, send, deadline, self.clock)
            receive, send = session.receive, session.send
        await self.app(scope, receive, send)

    @property
    def clock(self) -> Callable[[], float]:
        """The clock tokens are checked against (the authenticator's)."""
        return self.authenticator.clock


class _ExpiringSession:
    """A WebSocket's receive and send, closing it (1008) once its token has expired."""

    def __init__(
        self, receive: Receive, send: Send, expires_at: float, clock: Callable[[], float]
    ) -> None:
        self._receive, self._send = receive, send
        self._expires_at, self._clock = expires_at, clock
        self._accepted = self._closed = False

    async def _expire(self) -> Message:
        if not self._closed:
            self._closed = True
            await self._send({"type": "websocket.close", "code": WEBSOCKET_REFUSAL_CODE})
        return {"type": "websocket.disconnect", "code": WEBSOCKET_REFUSAL_CODE}

    async def receive(self) -> Message:
        if not self._accepted:  # the handshake itself was just authenticated
            return await self._receive()
        remaining = self._expires_at - self._clock()
        if self._closed or remaining <= 0:
            return await self._expire()
        try:
            return await asyncio.wait_for(self._receive(), remaining)
        except asyncio.TimeoutError:
            return await self._expire()

    async def send(self, message: Message) -> None:
        if message["type"] == "websocket.accept":
            self._accepted = True
        elif self._accepted and self._clock() >= self._expires_at:
            await self._expire()
        if self._closed:
            return  # the session is over: what the app still sends goes nowhere
        if message["type"] == "websocket.close":
            self._closed = True
        await self._send(message)
