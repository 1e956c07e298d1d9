"""The key keeper: keeps a key set usable without traffic (a pod that is not ready gets
none), run by :meth:`~logto_guard._core.jwks_cache.JWKSCache.start_keeper`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

#: The keeper's first retry after a failed fetch, and its cap (seconds).
KEEPER_FIRST_RETRY = 0.5
KEEPER_MAX_RETRY = 5.0
#: The keeper refreshes once this fraction of ``max_age`` has passed.
KEEPER_REFRESH_AT = 0.9


async def keep(
    due_in: Callable[[], float],
    failed: Callable[[], bool],
    refresh: Callable[[], Awaitable[None]],
) -> None:
    """Refresh whenever ``due_in()`` (seconds until a refresh is due) is not positive,
    backing off from :data:`KEEPER_FIRST_RETRY` doubling to :data:`KEEPER_MAX_RETRY` while
    ``failed()``; runs until cancelled."""
    retry = KEEPER_FIRST_RETRY
    while True:
        wait = due_in()
        if wait > 0:
            retry = KEEPER_FIRST_RETRY
            await asyncio.sleep(max(wait, KEEPER_FIRST_RETRY))
            continue
        if failed():  # the last fetch failed: back off first
            await asyncio.sleep(retry)
            retry = min(2 * retry, KEEPER_MAX_RETRY)
        await refresh()
