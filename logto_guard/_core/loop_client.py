"""An ``httpx.AsyncClient`` created on first use, and again when the running loop changes.

A client's connection pool belongs to the event loop that opened its connections: reused
from another loop (``asyncio.run`` twice, a new loop per test, a worker thread with its own
loop), it fails or hangs. The JWKS cache, the M2M client and the Swagger relay create
their own clients through :class:`LoopBoundClient`; a client passed in by the caller is the
caller's to manage and is used as is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx


class LoopBoundClient:
    """The given client, or one made by ``factory`` for the running loop (and closed here).

    Args:
        given: a caller's client, always returned and never closed.
        factory: makes this object's own client when there is no ``given`` one.
    """

    def __init__(
        self,
        given: httpx.AsyncClient | None = None,
        factory: Callable[[], httpx.AsyncClient] = httpx.AsyncClient,
    ) -> None:
        self._given = given
        self._factory = factory
        self._own: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def owns_client(self) -> bool:
        """True when an own client is open (it was created and is not closed yet)."""
        return self._own is not None

    def get(self) -> httpx.AsyncClient:
        """The client for the running loop (call from a coroutine)."""
        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        if self._own is None or self._loop is not loop:
            # The old client's pool belongs to a loop that is gone or elsewhere: abandon
            # it (closing it would need that loop), start a new one here.
            self._own, self._loop = self._factory(), loop
        return self._own

    async def aclose(self) -> None:
        """Close the own client, if open (a client made for another loop is dropped)."""
        client, loop, self._own, self._loop = self._own, self._loop, None, None
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()
