"""The M2M client: :class:`LogtoM2MClient` and its ``httpx.Auth``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from types import TracebackType

import httpx

from .._config import check_endpoint, check_url
from .._errors import ConfigurationError
from ._cache import AccessToken, TokenCache
from ._wire import TokenEndpoint

DEFAULT_REFRESH_MARGIN = 60.0
DEFAULT_TIMEOUT = 10.0

_Key = tuple[str | None, frozenset[str], str | None]


class ClientConfigurationError(ConfigurationError):
    """:class:`LogtoM2MClient` was given an unusable endpoint, credential or setting."""


class LogtoM2MClient:
    """Requests and caches client-credentials tokens for one Logto M2M application.

    Args:
        endpoint: the Logto endpoint, e.g. ``https://my-tenant.logto.app`` (no ``/oidc``).
        app_id, app_secret: the M2M application's credentials.
        token_endpoint: replaces ``<endpoint>/oidc/token``.
        http_client, sync_http_client: clients for the token requests; by default the object
            creates (and closes) its own.
        clock: seconds since the epoch (injectable for tests).
        refresh_margin: refresh a cached token this many seconds before it expires (at most
            half its lifetime, so short-lived tokens are still reused).
        timeout: timeout of each token request, in seconds.
        allow_insecure_http: allow ``http://`` to hosts other than loopback (the App
            Secret then travels in clear: a private network only).

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
    ) -> None:
        error = ClientConfigurationError
        endpoint = check_endpoint(endpoint, allow_insecure_http=allow_insecure_http, error=error)
        if token_endpoint is not None:
            check_url(
                "token_endpoint",
                token_endpoint,
                allow_insecure_http=allow_insecure_http,
                error=error,
            )
        for name, value in (("app_id", app_id), ("app_secret", app_secret)):
            if not isinstance(value, str) or not value:
                raise ClientConfigurationError(f"{name} must be a non-empty string")
        if not math.isfinite(refresh_margin) or refresh_margin < 0:
            raise ClientConfigurationError("refresh_margin must be a finite number >= 0")
        if not math.isfinite(timeout) or timeout <= 0:
            raise ClientConfigurationError("timeout must be a finite number > 0")
        self.endpoint = endpoint
        self.app_id = app_id
        self.token_endpoint = token_endpoint or f"{self.endpoint}/oidc/token"
        self._wire = TokenEndpoint(
            url=self.token_endpoint, app_id=app_id, app_secret=app_secret, timeout=timeout
        )
        self._clock = clock
        self._cache = TokenCache(clock=clock, refresh_margin=float(refresh_margin))
        self._async_client, self._owns_async = http_client, http_client is None
        self._sync_client, self._owns_sync = sync_http_client, sync_http_client is None
        self._sync_client_lock = threading.Lock()

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
        return await self._fetch(_key(resource, scopes, organization_id))

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
        return await self._get(_key(resource, scopes, organization_id))

    def fetch_token_sync(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> AccessToken:
        """Blocking twin of :meth:`fetch_token` (uses ``sync_http_client``)."""
        return self._fetch_sync(_key(resource, scopes, organization_id))

    def get_token_sync(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> AccessToken:
        """Blocking twin of :meth:`get_token`; concurrent threads share one request."""
        return self._get_sync(_key(resource, scopes, organization_id))

    def invalidate(
        self,
        *,
        resource: str | None = None,
        scopes: Iterable[str] = (),
        organization_id: str | None = None,
    ) -> None:
        """Forget the cached token for these arguments; the next ``get_token*`` requests one."""
        self._cache.discard(_key(resource, scopes, organization_id))

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
        return _BearerAuth(self, _key(resource, scopes, organization_id))

    async def _get(self, key: _Key) -> AccessToken:
        return await self._cache.get(key, lambda: self._fetch(key))

    def _get_sync(self, key: _Key) -> AccessToken:
        return self._cache.get_sync(key, lambda: self._fetch_sync(key))

    async def _fetch(self, key: _Key) -> AccessToken:
        if self._async_client is None:
            self._async_client = httpx.AsyncClient()
        requested_at = self._clock()
        try:
            response = await self._async_client.post(**self._wire.request(*key))
        except httpx.HTTPError as exc:
            raise self._wire.network_error(exc) from exc
        token = self._wire.parse(
            response, requested_at=requested_at, resource=key[0], organization_id=key[2]
        )
        return self._cache.store(key, token)

    def _fetch_sync(self, key: _Key) -> AccessToken:
        with self._sync_client_lock:
            if self._sync_client is None:
                self._sync_client = httpx.Client()
            client = self._sync_client
        requested_at = self._clock()
        try:
            response = client.post(**self._wire.request(*key))
        except httpx.HTTPError as exc:
            raise self._wire.network_error(exc) from exc
        token = self._wire.parse(
            response, requested_at=requested_at, resource=key[0], organization_id=key[2]
        )
        return self._cache.store(key, token)

    def close(self) -> None:
        """Close the sync HTTP client if this object created it (:meth:`aclose` closes both)."""
        if self._owns_sync and self._sync_client is not None:
            client, self._sync_client = self._sync_client, None
            client.close()

    async def aclose(self) -> None:
        """Close the HTTP clients this object created; clients passed in stay open."""
        self.close()
        if self._owns_async and self._async_client is not None:
            client, self._async_client = self._async_client, None
            await client.aclose()

    def __enter__(self) -> LogtoM2MClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> LogtoM2MClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _BearerAuth(httpx.Auth):
    """Bearer token from the client's cache; one retry with a fresh token after a 401."""

    def __init__(self, client: LogtoM2MClient, key: _Key) -> None:
        self._client = client
        self._key = key

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._client._get_sync(self._key)
        response = yield _with_token(request, token)
        if response.status_code == 401:
            # Drop only the token that failed: another caller may have replaced it already.
            self._client._cache.discard(self._key, token)
            yield _with_token(request, self._client._get_sync(self._key))

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._client._get(self._key)
        response = yield _with_token(request, token)
        if response.status_code == 401:
            self._client._cache.discard(self._key, token)
            yield _with_token(request, await self._client._get(self._key))


def _with_token(request: httpx.Request, token: AccessToken) -> httpx.Request:
    request.headers["Authorization"] = f"Bearer {token.access_token}"
    return request


def _key(resource: str | None, scopes: Iterable[str], organization_id: str | None) -> _Key:
    # Scopes travel space-joined, so "a b" and ["a", "b"] are the same request.
    parts = [scopes] if isinstance(scopes, str) else scopes
    return resource, frozenset(s for part in parts for s in part.split()), organization_id
