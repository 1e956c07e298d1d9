"""The trusted key set: fetched from the tenant's JWKS, parsed once, refreshed carefully.

Refresh policy (after panva/jose's remote JWKS, plus what Logto needs):

* a key set is used for ``max_age`` seconds, then refreshed in the background while the
  old set keeps answering (Logto sends ``max-age=0``, so its header is not honoured);
* an unknown ``kid`` triggers a conditional refetch (``If-None-Match`` with the last
  ``ETag``; a 304 keeps the set and counts as a fetch); refetches start at most once per
  ``min_cooldown`` (1 s) and are shared. While one is held back by that spacing an unknown
  ``kid`` is answered 503 with ``Retry-After`` (the key may have just been published), and
  401 only right after a refetch that did not find it: a rotated key is accepted within
  ~1 s, while a flood of forged ``kid``s costs the issuer one request per second;
* :meth:`JWKSCache.start_keeper` keeps the set usable without traffic: bounded-backoff
  fetches while there are no keys, a refresh before ``max_age`` afterwards;
* concurrent callers share one fetch; a failed fetch keeps the last good set for
  ``stale_if_error`` seconds past its age;
* only ``200`` with a JSON object holding a ``keys`` array is accepted: redirects,
  oversized (compressed or decoded), stacked-coded or malformed bodies count as failures.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Collection, Mapping
from functools import partial

import httpx

from .config import (
    DEFAULT_JWKS_COOLDOWN,
    DEFAULT_JWKS_MAX_AGE,
    DEFAULT_JWKS_MIN_COOLDOWN,
    DEFAULT_JWKS_STALE_IF_ERROR,
    DEFAULT_JWKS_TIMEOUT,
    GuardConfig,
)
from .errors import KeysUnavailableError, UnknownKeyError
from .jwks_fetch import FETCH_FAILURES, download, report_failure
from .jwks_keeper import KEEPER_REFRESH_AT, keep
from .loop_client import LoopBoundClient
from .trusted_keys import TrustedKey

#: Unknown kids remembered per refetch (they get 401 until the next one, not 503).
MAX_MISSED_KIDS = 1024


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
        factory = partial(httpx.AsyncClient, timeout=timeout, follow_redirects=False)
        self._client = LoopBoundClient(http_client, factory)
        self._clock = clock
        self._timeout = timeout
        self._max_age = max_age
        self._min_cooldown = min_cooldown
        self._max_cooldown = max_cooldown
        self._stale_if_error = stale_if_error
        self._keys: dict[str, TrustedKey] | None = None
        self._fetched_at = -math.inf
        self._next_fetch_at = -math.inf
        #: Refetches for unknown kids are spaced apart from each other only: a kid unknown
        #: after a cold, background or explicit fetch gets one refetch at once.
        self._next_miss_at = -math.inf
        self._last_miss_started = -math.inf
        self._missed: set[str] = set()  # kids the last refetch looked for and did not find
        self._etag: str | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._inflight: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.last_error_is_misconfiguration = False
        #: Fetches by outcome: ``success``, ``failure`` (unreachable, 5xx, timeout) and
        #: ``misconfigured`` (an answer no JWKS URL gives).
        self.fetches: dict[str, int] = {"success": 0, "failure": 0, "misconfigured": 0}
        self._fetch_observers: list[Callable[[str, float], None]] = []

    @classmethod
    def for_config(
        cls,
        config: GuardConfig,
        *,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> JWKSCache:
        """The key source of ``config``'s tenant, with its JWKS timings and allow-list."""
        return cls(
            config.jwks_uri,
            algorithms=config.algorithms,
            http_client=http_client,
            clock=clock,
            timeout=config.jwks_timeout,
            max_age=config.jwks_max_age,
            min_cooldown=config.jwks_min_cooldown,
            max_cooldown=config.jwks_cooldown,
            stale_if_error=config.jwks_stale_if_error,
        )

    def observe_fetches(self, observer: Callable[[str, float], None]) -> None:
        """Call ``observer(outcome, seconds)`` after each fetch (metrics); adding the same
        observer again changes nothing."""
        if observer not in self._fetch_observers:
            self._fetch_observers.append(observer)

    @property
    def fetching(self) -> bool:
        """True while a JWKS request is in flight (a status: poll it, with a deadline)."""
        return self._inflight is not None

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
        return self._age(self._clock()) != "none"

    def has_fresh_key(self, kid: str, *, before: float = math.inf) -> bool:
        """True when ``kid`` is in a key set that needs no refresh (no I/O, no await), and
        it is not yet ``before`` (one clock reading serves the caller's deadline too)."""
        keys = self._keys
        if keys is None or kid not in keys:
            return False
        now = self._clock()
        return now < before and self._age(now) == "fresh"

    def _age(self, now: float) -> str:
        """``fresh`` (usable, no refresh due), ``stale`` (usable, refresh due) or ``none``."""
        if self._keys is None:
            return "none"
        age = now - self._fetched_at
        if age < self._max_age:
            return "fresh"
        return "stale" if age < self._max_age + self._stale_if_error else "none"

    async def get_key(self, kid: str) -> TrustedKey:
        """The trusted key for ``kid``, fetching or refetching the JWKS when policy allows.

        Unknown ``kid`` rule: a conditional refetch (``If-None-Match``) starts at most once
        per ``min_cooldown`` seconds (1 s by default), shared by all callers. A caller whose
        ``kid`` is unknown joins or starts that refetch when one may run, and gets
        :class:`UnknownKeyError` (401) only if the refetch it waited for, or the last one
        that looked for this ``kid``, did not find the key. Otherwise, while refetches are
        held back by the spacing, it gets
        :class:`KeysUnavailableError` (503, ``Retry-After`` = seconds until the next refetch
        may run): a client keeps its token and retries, and a key Logto has just published
        is found by the next refetch, at most ``min_cooldown`` later.

        Raises:
            UnknownKeyError: a refetch made for this ``kid`` did not find it.
            KeysUnavailableError: no usable key set, or a refetch is due but held back.
        """
        now = self._clock()
        state = self._age(now)
        if state != "none":
            key = self._keys.get(kid) if self._keys is not None else None
            if key is not None:
                if state == "stale" and now >= self._next_fetch_at:
                    self._start_fetch(now)  # refresh behind the request, not before it
                return key
            if now < self._next_miss_at and self._inflight is None:
                if kid in self._missed or now <= self._last_miss_started:
                    raise UnknownKeyError()  # the last refetch looked for it: not published
                raise KeysUnavailableError(retry_after=self._retry_after(now))
            if self._inflight is None:
                self._next_miss_at = now + self._min_cooldown
                self._last_miss_started = now
                self._missed.clear()
            await self._fetch(now, wanted=kid)
            try:
                return self._lookup_after_fetch(kid)
            except UnknownKeyError:
                if len(self._missed) < MAX_MISSED_KIDS:
                    self._missed.add(kid)
                raise
        if now >= self._next_fetch_at or self._inflight is not None:
            await self._fetch(now, wanted=kid)
        return self._lookup_after_fetch(kid)

    async def refresh(self) -> None:
        """Fetch the JWKS now (ignoring the spacing); failures keep the current set."""
        await self._fetch(self._clock(), wanted=None)

    async def aclose(self) -> None:
        """Stop the keeper, cancel a fetch in flight, close the HTTP client this created."""
        self.stop_keeper()
        task, self._inflight = self._inflight, None
        if task is not None and not task.done():
            task.cancel()
        await self._client.aclose()

    def start_keeper(self) -> None:
        """Keep the key set usable in the background until :meth:`aclose` (idempotent).

        Without keys it fetches with a bounded backoff (``KEEPER_FIRST_RETRY`` doubling up
        to ``KEEPER_MAX_RETRY`` seconds); with keys it refreshes shortly before ``max_age``.
        One keeper per cache, however many front ends share it.
        """
        loop = asyncio.get_running_loop()
        keeper = self._keeper
        if keeper is not None and not keeper.done() and keeper.get_loop() is loop:
            return
        keeper_loop = keep(self._refresh_due_in, lambda: self.last_error is not None, self.refresh)
        self._keeper = loop.create_task(keeper_loop)

    def stop_keeper(self) -> None:
        """Stop the background keeper, if running."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None and not keeper.done():
            keeper.cancel()

    def _refresh_due_in(self) -> float:
        now = self._clock()
        if self._age(now) != "fresh":
            return 0.0
        return self._fetched_at + self._max_age * KEEPER_REFRESH_AT - now

    def _retry_after(self, now: float) -> int:
        return max(1, math.ceil(max(self._next_fetch_at, self._next_miss_at) - now))

    def _lookup_after_fetch(self, kid: str) -> TrustedKey:
        now = self._clock()
        if self._age(now) == "none" or self._keys is None:
            raise KeysUnavailableError(retry_after=self._retry_after(now))
        key = self._keys.get(kid)
        if key is None:
            raise UnknownKeyError()
        return key

    def _start_fetch(self, now: float, wanted: str | None = None) -> asyncio.Task[None]:
        loop = asyncio.get_running_loop()
        if self._inflight is not None and self._inflight.get_loop() is not loop:
            self._inflight = None  # left behind by a closed event loop: it will never finish
        if self._inflight is None:
            self._next_fetch_at = now + self._min_cooldown
            self._inflight = loop.create_task(self._run_fetch())
        return self._inflight

    async def _fetch(self, now: float, *, wanted: str | None) -> None:
        # shield: a caller that is cancelled must not cancel the fetch others wait on.
        await asyncio.shield(self._start_fetch(now, wanted))

    async def _run_fetch(self) -> None:
        timer = time.perf_counter()
        outcome = "failure"  # also when cancelled
        etag = self._etag if self._keys is not None else None
        try:
            keys, etag = await asyncio.wait_for(
                download(self._client.get(), self.jwks_uri, self._allowed, etag), self._timeout
            )
        except FETCH_FAILURES as exc:
            self.last_error, misconfigured = report_failure(exc, self.jwks_uri)
            self.last_error_is_misconfiguration = misconfigured
            outcome = "misconfigured" if misconfigured else "failure"
        else:
            self._etag = etag
            if keys is not None:  # None: 304 Not Modified, the set in use is still current
                self._keys = keys
            self._fetched_at = self._clock()
            self.last_error = None
            self.last_error_is_misconfiguration = False
            outcome = "success"
        finally:
            self._inflight = None
            self.fetches[outcome] += 1
            seconds = time.perf_counter() - timer
            for observer in self._fetch_observers:
                observer(outcome, seconds)
