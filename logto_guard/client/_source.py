"""Where :class:`~logto_guard.client.LogtoM2MClient`'s tokens come from: cache, then Logto.

One path for both grants (client credentials, token exchange) and both worlds: the sync
methods differ from the async ones only in the call that does I/O; the request, the
checks of the answer and the caching are shared (:meth:`TokenSource._finish`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import httpx

from .._core.loop_client import LoopBoundClient
from ._auth import Plan
from ._cache import AccessToken, TokenCache
from ._wire import Answer, TokenEndpoint, TokenRequestError, read_async, read_sync


class TokenSource:
    """Single-flight, cached token requests for one app, with the HTTP clients they use."""

    def __init__(
        self,
        *,
        wire: TokenEndpoint,
        cache: TokenCache,
        clock: Callable[[], float],
        http_client: httpx.AsyncClient | None,
        sync_http_client: httpx.Client | None,
    ) -> None:
        self.wire = wire
        self.cache = cache
        self._clock = clock
        self._async_client = LoopBoundClient(http_client)
        self._sync_client, self._owns_sync = sync_http_client, sync_http_client is None
        self._sync_client_lock = threading.Lock()

    async def get(self, plan: Plan) -> AccessToken:
        """The fresh cached token of ``plan``, or one shared new request."""
        return await self.cache.get(plan.key, lambda: self.fetch(plan))

    def get_sync(self, plan: Plan) -> AccessToken:
        """Blocking twin of :meth:`get`: the first thread requests, the others wait."""
        return self.cache.get_sync(plan.key, lambda: self.fetch_sync(plan))

    def discard(self, plan: Plan, token: AccessToken | None = None) -> None:
        """Forget ``plan``'s cached token (only if it is ``token``, when given)."""
        self.cache.discard(plan.key, token)

    async def fetch(self, plan: Plan) -> AccessToken:
        """Request a token for ``plan`` now and cache it."""
        requested_at = self._refuse_expired_subject(plan)
        try:
            answer = await read_async(self._async_client.get(), self.wire.request(plan.form))
        except httpx.HTTPError as exc:
            raise self.wire.network_error(exc, plan.secrets) from exc
        return self._finish(plan, answer, requested_at)

    def fetch_sync(self, plan: Plan) -> AccessToken:
        """Blocking twin of :meth:`fetch`."""
        requested_at = self._refuse_expired_subject(plan)
        with self._sync_client_lock:
            if self._sync_client is None:
                self._sync_client = httpx.Client()
            client = self._sync_client
        try:
            answer = read_sync(client, self.wire.request(plan.form))
        except httpx.HTTPError as exc:
            raise self.wire.network_error(exc, plan.secrets) from exc
        return self._finish(plan, answer, requested_at)

    def _refuse_expired_subject(self, plan: Plan) -> float:
        now = self._clock()
        if plan.not_after is not None and plan.not_after <= now:
            raise TokenRequestError(
                "invalid_grant", "the subject token has expired (its exp is past): not sent"
            )
        return now

    def _finish(self, plan: Plan, answer: Answer, requested_at: float) -> AccessToken:
        token = self.wire.parse(
            answer,
            requested_at=requested_at,
            resource=plan.resource,
            organization_id=plan.organization_id,
            secrets=plan.secrets,
            explain=plan.explain,
        )
        if plan.not_after is not None and token.expires_at > plan.not_after:
            # Logto gives the full resource TTL; we stop at the user's own token's exp.
            token = replace(
                token,
                expires_at=plan.not_after,
                expires_in=max(plan.not_after - requested_at, 0.0),
            )
        return self.cache.store(plan.key, token)

    def close(self) -> None:
        """Close the sync client if this object created it."""
        if self._owns_sync and self._sync_client is not None:
            client, self._sync_client = self._sync_client, None
            client.close()

    async def aclose(self) -> None:
        """Close both clients this object created; clients passed in stay open."""
        self.close()
        await self._async_client.aclose()
