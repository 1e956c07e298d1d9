"""Read an HTTP body within a byte budget, compressed or not, without trusting its codings.

:class:`CappedBytes` is the one rule for a capped body: it stops at the first byte past the
limit, so a body never costs more than ``limit`` plus one chunk. :func:`read_capped` applies
it to chunks (the Swagger relay's request bodies, token-endpoint and relay answers, identity
JWKS bodies); the MCP layer applies it to ASGI messages directly (its hot path).
:func:`read_bounded` adds the JWKS's coding rules:

httpx decodes every ``Content-Encoding`` layer it is given before a size check can run, so
``gzip, gzip`` of a few KB expands to gigabytes on the event loop. Here the raw bytes are
read (``aiter_raw``), at most one ``gzip``/``deflate`` layer is decoded with an incremental
decompressor whose output per call is capped, and both the compressed and the decoded size
stay within ``limit``. Any other or stacked coding is refused.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, Iterable

import httpx

from .trusted_keys import JWKSFetchError

_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class CappedBytes:
    """Chunks collected while their total stays within ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> bool:
        """Keep ``chunk``; False (and nothing kept) once the total would pass the limit."""
        self._size += len(chunk)
        if self._size > self.limit:
            self._chunks.clear()
            return False
        self._chunks.append(chunk)
        return True

    def value(self) -> bytes:
        """The bytes kept so far."""
        return b"".join(self._chunks)


async def read_capped(chunks: AsyncIterable[bytes], limit: int) -> bytes | None:
    """The concatenated ``chunks``, or ``None`` as soon as they pass ``limit`` bytes (the
    rest is not read)."""
    collected = CappedBytes(limit)
    async for chunk in chunks:
        if not collected.add(chunk):
            return None
    return collected.value()


def read_capped_sync(chunks: Iterable[bytes], limit: int) -> bytes | None:
    """Blocking twin of :func:`read_capped` (the same :class:`CappedBytes` rule)."""
    collected = CappedBytes(limit)
    for chunk in chunks:
        if not collected.add(chunk):
            return None
    return collected.value()


async def read_bounded(response: httpx.Response, limit: int) -> bytes:
    """The decoded body of ``response``, at most ``limit`` bytes compressed and decoded.

    Raises:
        JWKSFetchError: the body is larger than ``limit``, or uses a coding refused here.
    """
    codings = [c.strip().lower() for c in response.headers.get("content-encoding", "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > 1 or (codings and codings[0] not in _DECODERS):
        raise JWKSFetchError(f"JWKS uses a refused Content-Encoding: {', '.join(codings)}")
    if response.is_stream_consumed:
        # Built in memory (httpx.MockTransport with content=): httpx decoded it already.
        if len(response.content) > limit:
            raise JWKSFetchError("JWKS body is too large")
        return response.content
    if not codings:
        raw = await read_capped(response.aiter_raw(), limit)
        if raw is None:
            raise JWKSFetchError("JWKS body is too large")
        return raw
    decoder = zlib.decompressobj(_DECODERS[codings[0]])
    body = bytearray()
    received = 0
    try:
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > limit:
                raise JWKSFetchError("JWKS body is too large")
            # One bounded step: never more than limit + 1 bytes of output per call.
            body += decoder.decompress(chunk, limit + 1 - len(body))
            if decoder.unconsumed_tail or len(body) > limit:
                raise JWKSFetchError("JWKS body is too large once decompressed")
        body += decoder.flush(limit + 1 - len(body))
    except zlib.error as exc:
        raise JWKSFetchError("JWKS body is not validly compressed") from exc
    if len(body) > limit:
        raise JWKSFetchError("JWKS body is too large once decompressed")
    return bytes(body)
