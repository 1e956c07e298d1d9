"""JWKS bomb: peak RSS and event-loop stall while the guard fetches a stacked-gzip JWKS.

Run: ``python -m bench.jwks_bomb [MiB]`` (default 512 MiB decompressed, sent as
``Content-Encoding: gzip, gzip``). Prints the fetch outcome, peak RSS and the longest gap
seen by a 10 ms ticker running beside the fetch.
"""

from __future__ import annotations

import asyncio
import itertools
import resource
import sys
import time
import zlib
from collections.abc import Iterable, Iterator

import httpx

from logto_guard.lowlevel import JWKSCache


def _gzip_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        yield compressor.compress(chunk)
    yield compressor.flush()


def bomb(mib: int) -> bytes:
    """``mib`` MiB of JSON-ish text under two gzip layers, built without holding it."""
    spaces = (b" " * (1024 * 1024) for _ in range(mib))
    inner = _gzip_stream(itertools.chain([b"{"], spaces))
    return b"".join(_gzip_stream(inner))


async def main(mib: int) -> None:
    body = bomb(mib)
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, stream=httpx.ByteStream(body), headers={"Content-Encoding": "gzip, gzip"}
        )
    )
    cache = JWKSCache(
        "https://tenant.logto.app/oidc/jwks",
        algorithms=["ES384"],
        http_client=httpx.AsyncClient(transport=transport),
        timeout=1,
    )
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            worst = max(worst, now - last - 0.01)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    try:
        await cache.refresh()
        outcome = cache.last_error or "accepted"
    except BaseException as exc:
        outcome = f"ESCAPED {type(exc).__name__}"
    done = True
    await tick
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"body={len(body)} B  outcome={outcome!r}  peak_rss={peak:.0f} MiB  stall={worst:.3f} s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 512))
