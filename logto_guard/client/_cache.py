"""The token cache behind :class:`logto_guard.client.LogtoM2MClient`.

One :class:`AccessToken` per key, reused until shortly before it expires, and single-flight
fetching: concurrent callers wanting the same missing token share one request. Async
callers share an ``asyncio.Task`` (created in the running loop, so a new loop per test or
per ``asyncio.run`` is fine); threads share a ``concurrent.futures.Future``. One
``threading.Lock`` guards the dictionaries and is never held while a request is in flight.
The cache holds at most ``max_entries`` tokens and forgets the least recently used first
(exchanged tokens are one per user: without a bound, memory grows with the user count).
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

_T = TypeVar("_T")


@dataclass(frozen=True)
class AccessToken:
    """An access token from Logto's token endpoint.

    Its ``repr`` leaves out ``access_token``, so tokens do not end up in logs.

    Attributes:
        access_token: the token to send as ``Authorization: Bearer <access_token>``.
        token_type: ``Bearer``.
        expires_in: lifetime in seconds, as the token endpoint said.
        expires_at: ``expires_in`` added to the client's clock when the request was sent.
        scopes: the scopes granted (Logto silently drops scopes the app was not granted).
        resource, organization_id: what the token was requested for.
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_in: float
    expires_at: float
    scopes: frozenset[str] = frozenset()
    resource: str | None = None
    organization_id: str | None = None

    def is_expired(self, now: float, margin: float = 0.0) -> bool:
        """Whether the token has expired at ``now``, or will within ``margin`` seconds."""
        return now >= self.expires_at - margin


class TokenCache:
    """Cached tokens by key, with single-flight fetching for coroutines and threads."""

    def __init__(
        self, *, clock: Callable[[], float], refresh_margin: float, max_entries: int = 1024
    ) -> None:
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._tokens: OrderedDict[Hashable, AccessToken] = OrderedDict()
        self._tasks: dict[Hashable, asyncio.Task[AccessToken]] = {}
        self._futures: dict[Hashable, Future[AccessToken]] = {}

    def fresh(self, key: Hashable) -> AccessToken | None:
        """The cached token for ``key`` unless it is due for a refresh."""
        token = self._tokens.get(key)
        if token is None:
            return None
        self._tokens.move_to_end(key)
        # Half the lifetime at most: a token shorter-lived than the margin is still reused.
        margin = min(self._refresh_margin, token.expires_in / 2)
        return None if token.is_expired(self._clock(), margin) else token

    def store(self, key: Hashable, token: AccessToken) -> AccessToken:
        """Cache ``token`` under ``key`` and return it."""
        with self._lock:
            self._tokens[key] = token
            self._tokens.move_to_end(key)
            while len(self._tokens) > self._max_entries:
                self._tokens.popitem(last=False)
        return token

    def __len__(self) -> int:
        return len(self._tokens)

    def discard(self, key: Hashable, token: AccessToken | None = None) -> None:
        """Drop the token cached under ``key`` (only if it is ``token``, when given)."""
        with self._lock:
            if token is None or self._tokens.get(key) is token:
                self._tokens.pop(key, None)

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[AccessToken]]) -> AccessToken:
        """The fresh cached token, or the result of one shared ``fetch()`` (which stores it)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            token = self.fresh(key)
            if token is not None:
                return token
            task = self._tasks.get(key)
            if task is None or task.done() or task.get_loop() is not loop:
                task = loop.create_task(_run(fetch))
                self._tasks[key] = task
                task.add_done_callback(partial(self._task_done, key))
        # shield: one caller being cancelled must not cancel the request the others await.
        return await asyncio.shield(task)

    def get_sync(self, key: Hashable, fetch: Callable[[], AccessToken]) -> AccessToken:
        """Blocking twin of :meth:`get`: the first thread fetches, the others wait for it."""
        with self._lock:
            token = self.fresh(key)
            if token is not None:
                return token
            future = self._futures.get(key)
            if future is not None:
                leader = False
            else:
                leader, future = True, Future()
                self._futures[key] = future
        if not leader:
            return future.result()
        try:
            token = fetch()
        except BaseException as exc:
            self._forget(self._futures, key, future)  # first: a later caller starts afresh
            future.set_exception(exc)
            raise
        self._forget(self._futures, key, future)
        future.set_result(token)
        return token

    def _task_done(self, key: Hashable, task: asyncio.Task[AccessToken]) -> None:
        self._forget(self._tasks, key, task)
        if not task.cancelled():
            task.exception()  # retrieved: every caller that wanted it may have gone

    def _forget(self, pending: dict[Hashable, _T], key: Hashable, value: _T) -> None:
        with self._lock:
            if pending.get(key) is value:
                del pending[key]


async def _run(fetch: Callable[[], Awaitable[AccessToken]]) -> AccessToken:
    return await fetch()
