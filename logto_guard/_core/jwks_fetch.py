"""One JWKS request: what :class:`~logto_guard._core.jwks_cache.JWKSCache` accepts as an
answer (only ``200`` with a key set, a ``304`` to a conditional request; no redirects;
bodies capped, compressed and decoded) and how a failure is described."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

import httpx

from .bounded_body import read_bounded
from .trusted_keys import MAX_JWKS_BYTES, JWKSFetchError, TrustedKey, parse_jwks

logger = logging.getLogger("logto_guard")

_ACCEPT = "application/jwk-set+json, application/json"
#: What a fetch may fail with; anything else is a bug and propagates.
FETCH_FAILURES = (JWKSFetchError, asyncio.TimeoutError, MemoryError)


async def download(
    client: httpx.AsyncClient, jwks_uri: str, allowed: Collection[str], etag: str | None
) -> tuple[dict[str, TrustedKey] | None, str | None]:
    """GET ``jwks_uri`` (conditional on ``etag`` when given): the parsed key set and its
    ETag, or ``None`` and ``etag`` for a 304 (the set in use is still current).

    Raises:
        JWKSFetchError: unreachable, an HTTP status other than 200, or no usable key set.
    """
    # Bodies are decoded by read_bounded, one layer at most, within MAX_JWKS_BYTES.
    headers = {"Accept": _ACCEPT, "Accept-Encoding": "identity"}
    if etag is not None:
        headers["If-None-Match"] = etag
    try:
        async with client.stream(
            "GET", jwks_uri, headers=headers, follow_redirects=False
        ) as response:
            status = response.status_code
            if status == 304 and etag is not None:
                return None, etag
            if status != 200:
                # 4xx and redirects cannot be an outage: the URL is wrong.
                wrong_url = 300 <= status < 500 and status not in (408, 429)
                raise JWKSFetchError(f"JWKS answered HTTP {status}", misconfiguration=wrong_url)
            body = await read_bounded(response, MAX_JWKS_BYTES)
            new_etag = response.headers.get("etag")
    except httpx.HTTPError as exc:
        raise JWKSFetchError(f"JWKS request failed: {describe_http_error(exc)}") from exc
    return parse_jwks(body, frozenset(allowed)), new_etag


def report_failure(exc: BaseException, jwks_uri: str) -> tuple[str, bool]:
    """Log a failed fetch (an error when only a configuration mistake explains it, else a
    warning); returns its message and whether it is such a mistake."""
    misconfigured = isinstance(exc, JWKSFetchError) and exc.misconfiguration
    message = str(exc) or (
        "JWKS fetch timed out"
        if isinstance(exc, asyncio.TimeoutError)
        else f"JWKS fetch failed: {type(exc).__name__}"
    )
    if misconfigured:
        logger.error(
            "JWKS at %s is misconfigured: %s. Check the endpoint (the Logto endpoint "
            "without /oidc, e.g. https://<tenant>.logto.app) or jwks_uri.",
            jwks_uri,
            message,
        )
    else:
        logger.warning("JWKS fetch from %s failed: %s", jwks_uri, message)
    return message, misconfigured


#: What OpenSSL says when an https:// URL reaches a server speaking plain HTTP.
_PLAIN_HTTP_SIGNS = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure")


def describe_http_error(exc: httpx.HTTPError) -> str:
    """``ConnectError`` plus what the transport said (printable ASCII, 160 characters at
    most), and the fix when an https:// URL reached a plain-HTTP server."""
    detail = "".join(c if " " <= c <= "~" else "?" for c in str(exc))[:160]
    text = type(exc).__name__ + (f" ({detail})" if detail else "")
    if any(sign in detail for sign in _PLAIN_HTTP_SIGNS):
        text += ": the server answers plain HTTP; use http:// for it (e.g. a local Logto)"
    return text
