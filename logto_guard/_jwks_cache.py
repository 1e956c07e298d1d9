"""The trusted key set: fetched from the tenant's JWKS, parsed once, refreshed carefully.

Refresh policy (after panva/jose's remote JWKS, plus what Logto needs):

* a key set is used for ``max_age`` seconds, then refreshed in the background while the
  old set keeps answering (Logto sends ``max-age=0``, so its header is not honoured);
* an unknown ``kid`` triggers a refetch, but refetches are spaced by a cooldown that starts
  at ``min_cooldown`` and doubles each time a refetch or fetch does not help, up to
  ``max_cooldown``; it resets when a refetch finds the key it was asked for, or after a
  quiet spell. A freshly rotated key is thus found at once, while a flood of random
  ``kid``s settles at one fetch per ``max_cooldown``;
* concurrent callers share one fetch; a failed fetch keeps the last good set for
  ``stale_if_error`` seconds past its age;
* only ``200`` with a JSON object holding a ``keys`` array is accepted: redirects,
  oversized or malformed bodies count as failures.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection, Mapping

import httpx

from ._config import (
    DEFAULT_JWKS_COOLDOWN,
    DEFAULT_JWKS_MAX_AGE,
    DEFAULT_JWKS_MIN_COOLDOWN,
    DEFAULT_JWKS_STALE_IF_ERROR,
    DEFAULT_JWKS_TIMEOUT,
)
from ._errors import KeysUnavailableError, UnknownKeyError
from ._trusted_keys import MAX_JWKS_BYTES, JWKSFetchError, TrustedKey, parse_jwks

logger = logging.getLogger("logto_guard")


class JWKSCache:
    """Signing keys of one JWKS URI, fetched with httpx and cached by the policy above.

    Args:
        jwks_uri: the JWKS URL.
        algorithms: the algorithm allow-list; keys usable with none of them are ignored.
        http_client: an ``httpx.AsyncClient`` to fetch with (tests pass a MockTransport);
            by default one is created lazily and closed by :meth:`aclose`.
        clock: seconds since the epoch; injected by tests.
    """

    def __init__(
        self,
        jwks_uri: str,
        *,
        algorithms: Collection[str],
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = DEFAULT_JWKS_TIMEOUT,
        max_age: float = DEFAULT_JWKS_MAX_AGE,
        min_cooldown: float = DEFAULT_JWKS_MIN_COOLDOWN,
        max_cooldown: float = DEFAULT_JWKS_COOLDOWN,
        stale_if_error: float = DEFAULT_JWKS_STALE_IF_ERROR,
    ) -> None:
        self.jwks_uri = jwks_uri
        self._allowed = frozenset(algorithms)
        self._given_client = http_client
        self._own_client: httpx.AsyncClient | None = None
        self._own_client_loop: asyncio.AbstractEventLoop | None = None
        self._clock = clock
        self._timeout = timeout
        self._max_age = max_age
        self._min_cooldown = min_cooldown
        self._max_cooldown = max_cooldown
        self._stale_if_error = stale_if_error
        self._keys: dict[str, TrustedKey] | None = None
        self._fetched_at = -math.inf
        self._next_fetch_at = -math.inf
        self._cooldown = min_cooldown
        self._last_miss_fetch_at = -math.inf
        self._inflight: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.last_error_is_misconfiguration = False
        #: Fetches by outcome: ``success``, ``failure`` (unreachable, 5xx, timeout) and
        #: ``misconfigured`` (an answer no JWKS URL gives).
        self.fetches: dict[str, int] = {"success": 0, "failure": 0, "misconfigured": 0}
        #: Called after each fetch with its outcome and duration in seconds (metrics).
        self.on_fetch: Callable[[str, float], None] | None = None

    @property
    def keys(self) -> Mapping[str, TrustedKey]:
        """The current key set by ``kid`` (empty before the first successful fetch)."""
        return dict(self._keys or {})

    @property
    def fetched_at(self) -> float | None:
        """When the key set in use was fetched (seconds since the epoch), if ever."""
        return None if self._keys is None else self._fetched_at

    def usable(self) -> bool:
        """True while a key set is held and not past ``max_age + stale_if_error``."""
        limit = self._fetched_at + self._max_age + self._stale_if_error
        return self._keys is not None and self._clock() < limit

    def has_fresh_key(self, kid: str, *, before: float = math.inf) -> bool:
        """True when ``kid`` is in a key set that needs no refresh (no I/O, no await), and
        it is not yet ``before`` (one clock reading serves the caller's deadline too)."""
        keys = self._keys
        if keys is None or kid not in keys:
            return False
        now = self._clock()
        return now < self._fetched_at + self._max_age and now < before

    async def get_key(self, kid: str) -> TrustedKey:
        """The trusted key for ``kid``, fetching or refetching the JWKS when policy allows.

        Raises:
            UnknownKeyError: no such key, even after any refetch the cooldown allowed.
            KeysUnavailableError: no usable key set could be obtained.
        """
        now = self._clock()
        keys = self._keys
        if keys is not None and now < self._fetched_at + self._max_age:
            key = keys.get(kid)
            if key is not None:
                return key
            return await self._refetch_for(kid, now)
        if keys is not None and now < self._fetched_at + self._max_age + self._stale_if_error:
            key = keys.get(kid)
            if key is not None:
                # Stale but usable: refresh behind the request instead of delaying it.
                if now >= self._next_fetch_at:
                    self._start_fetch(now)
                return key
            return await self._refetch_for(kid, now)
        if now >= self._next_fetch_at or self._inflight is not None:
            await self._fetch(now, wanted=kid)
        return self._lookup_after_fetch(kid)

    async def refresh(self) -> None:
        """Fetch the JWKS now (ignoring the cooldown); failures keep the current set."""
        await self._fetch(self._clock(), wanted=None)

    async def wait_idle(self) -> None:
        """Wait for a background refresh in flight, if any (for tests and shutdown)."""
        task = self._inflight
        if task is not None:
            await asyncio.shield(task)

    async def aclose(self) -> None:
        """Cancel a refresh in flight and close the HTTP client this cache created."""
        task, self._inflight = self._inflight, None
        if task is not None and not task.done():
            task.cancel()
        client, self._own_client = self._own_client, None
        if client is not None:
            await client.aclose()

    async def _refetch_for(self, kid: str, now: float) -> TrustedKey:
        if now - self._last_miss_fetch_at >= 2 * self._max_cooldown:
            self._cooldown = self._min_cooldown  # quiet for a while: forget past floods
        if now < self._next_fetch_at and self._inflight is None:
            raise UnknownKeyError()
        self._last_miss_fetch_at = now
        await self._fetch(now, wanted=kid)
        return self._lookup_after_fetch(kid)

    def _lookup_after_fetch(self, kid: str) -> TrustedKey:
        now = self._clock()
        if self._keys is None or now >= self._fetched_at + self._max_age + self._stale_if_error:
            retry_after = max(1, math.ceil(self._next_fetch_at - now))
            raise KeysUnavailableError(retry_after=retry_after)
        key = self._keys.get(kid)
        if key is None:
            raise UnknownKeyError()
        return key

    def _start_fetch(self, now: float, wanted: str | None = None) -> asyncio.Task[None]:
        loop = asyncio.get_running_loop()
        if self._inflight is not None and self._inflight.get_loop() is not loop:
            self._inflight = None  # left behind by a closed event loop: it will never finish
        if self._inflight is None:
            self._next_fetch_at = now + self._cooldown
            self._inflight = loop.create_task(self._run_fetch(now, wanted))
        return self._inflight

    async def _fetch(self, now: float, *, wanted: str | None) -> None:
        # shield: a caller that is cancelled must not cancel the fetch others wait on.
        await asyncio.shield(self._start_fetch(now, wanted))

    async def _run_fetch(self, started: float, wanted: str | None) -> None:
        timer = time.perf_counter()
        outcome = "failure"  # also when cancelled
        try:
            keys = await asyncio.wait_for(self._download(), self._timeout)
        except (JWKSFetchError, asyncio.TimeoutError) as exc:
            misconfigured = isinstance(exc, JWKSFetchError) and exc.misconfiguration
            outcome = "misconfigured" if misconfigured else "failure"
            self.last_error = str(exc) or "JWKS fetch timed out"
            self.last_error_is_misconfiguration = misconfigured
            helped = False
            if misconfigured:
                logger.error(
                    "JWKS at %s is misconfigured: %s. Check the endpoint (the Logto endpoint "
                    "without /oidc, e.g. https://<tenant>.logto.app) or jwks_uri.",
                    self.jwks_uri,
                    self.last_error,
                )
            else:
                logger.warning("JWKS fetch from %s failed: %s", self.jwks_uri, self.last_error)
        else:
            self._keys = keys
            self._fetched_at = self._clock()
            self.last_error = None
            self.last_error_is_misconfiguration = False
            helped = wanted is None or wanted in keys
            outcome = "success"
        finally:
            self._inflight = None
            self.fetches[outcome] += 1
            if self.on_fetch is not None:
                self.on_fetch(outcome, time.perf_counter() - timer)
        if wanted is not None and helped:
            self._cooldown = self._min_cooldown
        elif not helped:
            self._cooldown = min(2 * self._cooldown, self._max_cooldown)
        # The outcome of this fetch decides how long until the next one may start.
        self._next_fetch_at = started + self._cooldown

    async def _download(self) -> dict[str, TrustedKey]:
        client = self._client()
        try:
            async with client.stream(
                "GET",
                self.jwks_uri,
                headers={"Accept": "application/jwk-set+json, application/json"},
                follow_redirects=False,
            ) as response:
                status = response.status_code
                if status != 200:
                    # 4xx and redirects cannot be an outage: the URL is wrong.
                    wrong_url = 300 <= status < 500 and status not in (408, 429)
                    raise JWKSFetchError(f"JWKS answered HTTP {status}", misconfiguration=wrong_url)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise JWKSFetchError("JWKS body is too large")
        except httpx.HTTPError as exc:
            raise JWKSFetchError(f"JWKS request failed: {type(exc).__name__}") from exc
        return parse_jwks(bytes(body), self._allowed)

    def _client(self) -> httpx.AsyncClient:
        if self._given_client is not None:
            return self._given_client
        loop = asyncio.get_running_loop()
        if self._own_client is None or self._own_client_loop is not loop:
            # A client's connection pool is bound to the loop that used it; test clients
            # run each app in a new loop, so the old pool is abandoned, not reused.
            self._own_client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
            self._own_client_loop = loop
        return self._own_client
