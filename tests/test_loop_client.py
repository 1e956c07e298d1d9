"""Own HTTP clients follow the running event loop; clients passed in are the caller's."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from typing import Any

import httpx

from logto_guard._core.loop_client import LoopBoundClient
from logto_guard.client import LogtoM2MClient
from tests.integration.servers import serve


def test_own_client_is_made_on_first_use_kept_per_loop_and_closed() -> None:
    made: list[httpx.AsyncClient] = []

    def factory() -> httpx.AsyncClient:
        made.append(httpx.AsyncClient())
        return made[-1]

    holder = LoopBoundClient(factory=factory)
    assert made == [] and not holder.owns_client

    async def use_twice() -> None:
        assert holder.get() is holder.get()

    asyncio.run(use_twice())
    asyncio.run(use_twice())  # a new loop: a new client, the old pool is not reused
    assert len(made) == 2

    async def close() -> None:
        holder.get()
        await holder.aclose()

    asyncio.run(close())
    assert len(made) == 3 and made[2].is_closed and not holder.owns_client


def test_a_client_passed_in_is_used_in_every_loop_and_never_closed() -> None:
    given = httpx.AsyncClient()
    holder = LoopBoundClient(given, factory=lambda: (_ for _ in ()).throw(AssertionError))

    async def use_and_close() -> None:
        assert holder.get() is given
        await holder.aclose()

    asyncio.run(use_and_close())
    asyncio.run(use_and_close())
    assert not given.is_closed


async def token_endpoint(scope: Any, receive: Any, send: Any) -> None:
    """Logto's token endpoint, as far as the M2M client needs it (keeps connections open)."""
    if scope["type"] != "http":
        return
    body = json.dumps({"access_token": "t", "token_type": "Bearer", "expires_in": 3600})
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body.encode()})


def test_m2m_client_works_under_two_successive_asyncio_runs() -> None:
    """asyncio.run() twice (a script, a CLI, a new loop per test): the own client's pooled
    connection belongs to the first, closed loop and must not be reused by the second."""
    with serve(token_endpoint) as url, warnings.catch_warnings():
        # The first loop's pooled connection cannot be closed once its loop is: it is
        # dropped, and asyncio warns when the garbage collector closes its socket.
        warnings.simplefilter("ignore", ResourceWarning)
        m2m = LogtoM2MClient(endpoint=url, app_id="app", app_secret="secret")
        first = asyncio.run(m2m.fetch_token(resource="https://api.test"))
        second = asyncio.run(m2m.fetch_token(resource="https://api.test"))
        asyncio.run(m2m.aclose())
        gc.collect()
    assert (first.access_token, second.access_token) == ("t", "t")
