"""The M2M client: :class:`LogtoM2MClient` and its ``httpx.Auth``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from ._auth import BearerAuth, Plan, mcp_auth
from ._cache import AccessToken, TokenCache
from ._exchange import ACCESS_TOKEN_TYPE, DEFAULT_MAX_CACHED_TOKENS
from ._settings import check_settings, checked_endpoints, credentials_plan, exchange_plan, key
from ._source import TokenSource
from ._wire import TokenEndpoint

DEFAULT_REFRESH_MARGIN = 60.0
DEFAULT_TIMEOUT = 10.0


class LogtoM2MClient:
    """Requests and caches client-credentials tokens for one Logto M2M application.

    Args:
        endpoint: the Logto endpoint, e.g. ``https://my-tenant.logto.app`` (no ``/oidc``).
        app_id: the M2M application's App ID.
        app_secret: the M2M application's App Secret (never shown in reprs or errors).
        token_endpoint: replaces ``<endpoint>/oidc/token``.
        http_client: ``httpx.AsyncClient`` for the token requests; by default the object
            creates (and closes) its own.
        sync_http_client: ``httpx.Client`` for the blocking methods, likewise.
        clock: seconds since the epoch (injectable for tests).
        refresh_margin: refresh a cached token this many seconds before it expires (at most
            half its lifetime, so short-lived tokens are still reused).
        timeout: timeout of each token request, in seconds.
        allow_insecure_http: allow ``http://`` to hosts other than loopback (the App
            Secret then travels in clear: a private network only).
        max_cached_tokens: how many tokens the cache keeps (least recently used go first).

    Raises:
        ClientConfigurationError: an argument is unusable.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        app_id: str,
        app_secret: str,
        token_endpoint: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        sync_http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        timeout: float = DEFAULT_TIMEOUT,
        allow_insecure_http: bool = False,
        max_cached_tokens: int = DEFAULT_MAX_CACHED_TOKENS,
    ) -> None:
        self.endpoint, self.token_endpoint = checked_endpoints(
            endpoint, token_endpoint, allow_insecure_http=allow_insecure_http
        )
        check_settings(
            app_id=app_id,
            app_secret=app_secret,
            refresh_margin=refresh_margin,
            timeout=timeout,
            max_cached_tokens=max_cached_tokens,
        )
        self.app_id = app_id
        wire = TokenEndpoint(
            url=self.token_endpoint, app_id=app_id, app_secret=app_secret, timeout=timeout
        )
        cache = TokenCache(
            clock=clock, refresh_margin=float(refresh_margin), max_entries=max_cached_tokens
        )
        self._source = TokenSource(
            wire=wire,
            cache=cache,
            clock=clock,
            http_client=http_client,
            sync_http_client=sync_http_client,
        )

    def __repr__(self) -> str:
        return f"LogtoM2MClient(endpoint={self.endpoint!r}, app_id={self.app_id!r})"

    async def fetch_token(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> AccessToken:
        """Request a new token, always (it replaces the cached one).

        ``scopes`` are sent space-joined; a string is split on spaces.

        Raises:
            TokenRequestError: the token endpoint could not be reached or refused.
        """
        return await self._source.fetch(self._plan(resource, scopes, organization_id))

    async def get_token(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> AccessToken:
        """The cached token for these arguments, or a new one when it is due for refresh.

        Concurrent callers asking for the same missing token share one request.

        Raises:
            TokenRequestError: the token endpoint could not be reached or refused.
        """
        return await self._source.get(self._plan(resource, scopes, organization_id))

    def fetch_token_sync(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> AccessToken:
        """Blocking twin of :meth:`fetch_token` (uses ``sync_http_client``)."""
        return self._source.fetch_sync(self._plan(resource, scopes, organization_id))

    def get_token_sync(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> AccessToken:
        """Blocking twin of :meth:`get_token`; concurrent threads share one request."""
        return self._source.get_sync(self._plan(resource, scopes, organization_id))

    def invalidate(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> None:
        """Forget the cached token for these arguments; the next ``get_token*`` requests one."""
        self._source.cache.discard(key(resource, scopes, organization_id))

    def auth(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> httpx.Auth:
        """An ``httpx.Auth`` that sends ``Authorization: Bearer <cached token>``.

        Works with ``httpx.Client`` (sync token methods) and ``httpx.AsyncClient`` (async
        ones). When the API answers 401 it drops that token, gets a fresh one and retries
        once; a second 401 is returned as is. Streamed request bodies cannot be replayed.
        """
        return BearerAuth(
            self._source,
            self._plan(resource, scopes, organization_id),
            self.app_id,
        )

    async def exchange(
        self,
        subject_token: str,
        *,
        resource: str | None,
        scopes: Iterable[str] = (),
        subject_token_type: str = ACCESS_TOKEN_TYPE,
        actor_token: str | None = None,
        actor_token_type: str = ACCESS_TOKEN_TYPE,
        organization_id: str | None = None,
    ) -> AccessToken:
        """A token for ``resource`` acting for the user of ``subject_token`` (RFC 8693).

        Sends Logto's token-exchange grant with this app's Basic credentials. The result is
        cached per (SHA-256 of the subject token, resource, scopes, organization, actor),
        never past the subject token's own ``exp`` when it is a JWT; concurrent callers share
        one request. The app needs token exchange enabled in Logto Console.

        Raises:
            TokenRequestError: Logto refused (``invalid_grant`` lists the usual causes) or
                could not be reached.
        """
        plan = exchange_plan(
            subject_token,
            resource=resource,
            scopes=scopes,
            subject_token_type=subject_token_type,
            actor_token=actor_token,
            actor_token_type=actor_token_type,
            organization_id=organization_id,
        )
        return await self._source.get(plan)

    def exchange_sync(
        self,
        subject_token: str,
        *,
        resource: str | None,
        scopes: Iterable[str] = (),
        subject_token_type: str = ACCESS_TOKEN_TYPE,
        actor_token: str | None = None,
        actor_token_type: str = ACCESS_TOKEN_TYPE,
        organization_id: str | None = None,
    ) -> AccessToken:
        """Blocking twin of :meth:`exchange` (uses ``sync_http_client``)."""
        plan = exchange_plan(
            subject_token,
            resource=resource,
            scopes=scopes,
            subject_token_type=subject_token_type,
            actor_token=actor_token,
            actor_token_type=actor_token_type,
            organization_id=organization_id,
        )
        return self._source.get_sync(plan)

    def delegated_auth(
        self,
        subject_token: str,
        *,
        resource: str | None,
        scopes: Iterable[str] = (),
        subject_token_type: str = ACCESS_TOKEN_TYPE,
        organization_id: str | None = None,
    ) -> httpx.Auth:
        """An ``httpx.Auth`` calling another API as the user of ``subject_token``.

        Exchanges the token (through the cache) and sends ``Authorization: Bearer``; works
        with ``httpx.Client`` and ``httpx.AsyncClient``. A 401 from the API drops that
        exchanged token and retries once with a new exchange. Its ``repr`` shows no token.
        """
        plan = exchange_plan(
            subject_token,
            resource=resource,
            scopes=scopes,
            subject_token_type=subject_token_type,
            actor_token=None,
            actor_token_type=ACCESS_TOKEN_TYPE,
            organization_id=organization_id,
        )
        return BearerAuth(self._source, plan, self.app_id, f"delegated_auth(resource={resource!r})")

    def mcp_auth(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> Any:
        """:meth:`auth` for the official MCP client SDK, which uses ``httpx2``, not httpx.

        ``httpx2.AsyncClient(auth=m2m.mcp_auth(resource=MCP_URL))``, given to
        ``mcp.client.streamable_http.streamable_http_client(url, http_client=...)``.
        """
        plan = self._plan(resource, scopes, organization_id)
        return mcp_auth(BearerAuth(self._source, plan, self.app_id, "mcp_auth"))

    async def mcp_headers(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> dict[str, str]:
        """``{"Authorization": "Bearer <cached token>"}``, for any client's ``headers=``."""
        token = await self.get_token(
            resource=resource, scopes=scopes, organization_id=organization_id
        )
        return {"Authorization": f"Bearer {token.access_token}"}

    def _plan(self, resource: str | None, scopes: Iterable[str], organization: str | None) -> Plan:
        return credentials_plan(self._source.wire, key(resource, scopes, organization))

    def close(self) -> None:
        """Close the sync HTTP client if this object created it (:meth:`aclose` closes both)."""
        self._source.close()

    async def aclose(self) -> None:
        """Close the HTTP clients this object created; clients passed in stay open."""
        await self._source.aclose()

    def __enter__(self) -> LogtoM2MClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> LogtoM2MClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
