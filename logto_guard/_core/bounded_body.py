"""Read an HTTP body within a byte budget, compressed or not, without trusting its codings.

httpx decodes every ``Content-Encoding`` layer it is given before a size check can run, so
``gzip, gzip`` of a few KB expands to gigabytes on the event loop. Here the raw bytes are
read (``aiter_raw``), at most one ``gzip``/``deflate`` layer is decoded with an incremental
decompressor whose output per call is capped, and both the compressed and the decoded size
stay within ``limit``. Any other or stacked coding is refused.
"""

from __future__ import annotations

import zlib

import httpx

from .trusted_keys import JWKSFetchError

_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


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
    decoder = zlib.decompressobj(_DECODERS[codings[0]]) if codings else None
    body = bytearray()
    received = 0
    try:
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > limit:
                raise JWKSFetchError("JWKS body is too large")
            if decoder is None:
                body += chunk
            else:
                # One bounded step: never more than limit + 1 bytes of output per call.
                body += decoder.decompress(chunk, limit + 1 - len(body))
                if decoder.unconsumed_tail:
                    raise JWKSFetchError("JWKS body is too large once decompressed")
            if len(body) > limit:
                raise JWKSFetchError("JWKS body is too large once decompressed")
        if decoder is not None:
            body += decoder.flush(limit + 1 - len(body))
    except zlib.error as exc:
        raise JWKSFetchError("JWKS body is not validly compressed") from exc
    if len(body) > limit:
        raise JWKSFetchError("JWKS body is too large once decompressed")
    return bytes(body)
