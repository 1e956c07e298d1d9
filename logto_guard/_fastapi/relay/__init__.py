"""A token relay so Swagger UI's "Authorize" works against Logto: a development/docs aid.

Swagger UI's client-credentials flow sends App ID and secret (Basic) and ``scope`` to the
``tokenUrl`` but cannot add ``resource``, which Logto requires to issue an access token for
an API (otherwise ``invalid_target``); and a browser page on the API's origin cannot post
cross-origin to Logto without CORS. The relay sits on the API's origin and forwards exactly
what Swagger UI 5 sends for ``clientCredentials`` (``authorizeApplication`` in its auth
plugin: ``grant_type=client_credentials`` and ``scope``, form-encoded, with
``Authorization: Basic base64(id:secret)``), adding ``resource=<audience>``. Anything else
is refused before Logto is called: other grant types, unknown or repeated parameters,
another ``resource``, credentials in the body (Swagger never puts them there for this
flow), other content types or authorization schemes, non-ASCII headers, cross-origin
requests (``Origin`` or ``Sec-Fetch-Site`` naming another site), bodies over 16 KiB.

Its cost is bounded: one shared HTTP client (connection pool) per relay, a total deadline
per upstream call, a cap on concurrent upstream calls (excess answered 503 at once) and
token-bucket attempt limits overall, per client IP and per App ID (429). The answer is
rebuilt from Logto's JSON, never passed through. It stores and logs nothing.

The relay exists for the interactive docs: in production, disable ``/docs`` and do not
add the relay (an API that does not serve Swagger UI has no use for it).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypedDict

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ..._core import bounded_body
from ..._core.loop_client import LoopBoundClient
from ..._core.options import Unpack
from ._checks import (
    NO_STORE,
    NQSCHAR,
    RelayRefusal,
    basic_authorization,
    check_same_origin,
    checked_form,
    read_capped,
)
from ._limits import KeyedBuckets, RateLimit, try_acquire

MAX_UPSTREAM_BYTES = 64 * 1024
DEFAULT_RELAY_TIMEOUT = 10.0
DEFAULT_MAX_CONCURRENT = 8
DEFAULT_RATE = RateLimit(rate=5.0, burst=20)
DEFAULT_RATE_PER_IP = RateLimit(rate=1.0, burst=10)
DEFAULT_RATE_PER_CLIENT = RateLimit(rate=0.5, burst=5)


class TokenRelay:
    """The relay's state: upstream client, limits; :meth:`handle` is the route.

    Args:
        token_endpoint: Logto's ``<endpoint>/oidc/token``.
        audience: the API resource indicator, the only ``resource`` forwarded.
        transport: an httpx transport for the upstream client (tests).
        timeout: total seconds allowed for one upstream call.
        max_concurrent: upstream calls in flight at once; more are answered 503.
        rate, rate_per_ip, rate_per_client: attempt limits overall, per client IP and per
            App ID (the Basic user name); attempts over a limit are answered 429.
        allowed_origins: extra ``Origin`` values accepted besides the request's own host
            (e.g. ``https://api.example.com`` behind a proxy that rewrites ``Host``).
        clock: monotonic seconds, for the rate limits (tests).
    """

    def __init__(
        self,
        *,
        token_endpoint: str,
        audience: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_RELAY_TIMEOUT,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        rate: RateLimit = DEFAULT_RATE,
        rate_per_ip: RateLimit = DEFAULT_RATE_PER_IP,
        rate_per_client: RateLimit = DEFAULT_RATE_PER_CLIENT,
        allowed_origins: Collection[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (timeout > 0 and math.isfinite(timeout)) or max_concurrent < 1:
            raise ValueError("timeout must be positive and finite, max_concurrent at least 1")
        self.token_endpoint, self.audience = token_endpoint, audience
        self._timeout, self._max_concurrent = timeout, max_concurrent
        self._overall = KeyedBuckets(rate, clock, max_keys=1)
        self._per_ip = KeyedBuckets(rate_per_ip, clock)
        self._per_client = KeyedBuckets(rate_per_client, clock)
        self._allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self._active = 0
        limits = httpx.Limits(
            max_connections=max_concurrent,
            max_keepalive_connections=max_concurrent,
            keepalive_expiry=30.0,
        )
        # One pooled client per event loop (test clients run each app in a new loop).
        self._client = LoopBoundClient(
            factory=partial(
                httpx.AsyncClient,
                transport=transport,
                timeout=timeout,
                limits=limits,
                follow_redirects=False,
                trust_env=False,
            )
        )

    async def handle(self, request: Request) -> Response:
        """Validate, limit, forward and rebuild one token request; never raises."""
        try:
            form, authorization, app_id = await self._validate(request)
            client_ip = request.client.host if request.client else ""
            return await self._forward(form, authorization, app_id, client_ip)
        except RelayRefusal as refusal:
            return refusal.response()

    async def aclose(self) -> None:
        """Close the upstream client (on application shutdown)."""
        await self._client.aclose()

    async def _validate(self, request: Request) -> tuple[str, str, str]:
        headers = request.headers
        check_same_origin(
            headers.get("origin"),
            headers.get("sec-fetch-site"),
            headers.get("host", ""),
            self._allowed_origins,
        )
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            raise RelayRefusal(415, "invalid_request", "the body must be form-encoded")
        authorization, app_id = basic_authorization(headers.get("authorization"))
        body = await read_capped(request)
        return checked_form(body, self.audience), authorization, app_id

    async def _forward(self, form: str, authorization: str, app_id: str, ip: str) -> Response:
        if self._active >= self._max_concurrent:
            raise RelayRefusal(
                503, "temporarily_unavailable", "too many token requests in flight", retry_after=1
            )
        wait = try_acquire([(self._overall, ""), (self._per_ip, ip), (self._per_client, app_id)])
        if wait > 0:
            raise RelayRefusal(429, "slow_down", "too many token requests", retry_after=wait)
        self._active += 1
        try:
            call = self._call_upstream(form, authorization)
            status, payload = await asyncio.wait_for(call, self._timeout)
        except (httpx.HTTPError, asyncio.TimeoutError) as exc:
            raise RelayRefusal(
                502, "temporarily_unavailable", "token endpoint unreachable"
            ) from exc
        finally:
            self._active -= 1
        return _rebuild_answer(status, payload)

    async def _call_upstream(self, form: str, authorization: str) -> tuple[int, bytes]:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": authorization,
            "Accept": "application/json",
        }
        client = self._client.get()
        request = client.build_request("POST", self.token_endpoint, content=form, headers=headers)
        response = await client.send(request, stream=True)
        try:
            body = await bounded_body.read_capped(response.aiter_bytes(), MAX_UPSTREAM_BYTES)
            return (502, b"") if body is None else (response.status_code, body)
        finally:
            await response.aclose()


class RelayLimits(TypedDict, total=False):
    """:class:`TokenRelay`'s limits as typed keywords (a test keeps them in step)."""

    timeout: float
    max_concurrent: int
    rate: RateLimit
    rate_per_ip: RateLimit
    rate_per_client: RateLimit
    allowed_origins: Collection[str]
    clock: Callable[[], float]


def add_token_relay(
    app: FastAPI,
    *,
    token_endpoint: str,
    audience: str,
    path: str,
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Unpack[RelayLimits],
) -> TokenRelay:
    """Serve ``POST path`` on ``app`` relaying Swagger UI's client-credentials login.

    ``options`` are :class:`TokenRelay`'s limits. The upstream client is closed when the
    app shuts down (its lifespan is wrapped).
    """
    relay = TokenRelay(
        token_endpoint=token_endpoint, audience=audience, transport=transport, **options
    )
    app.add_api_route(path, relay.handle, methods=["POST"], include_in_schema=False)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(asgi_app: Any) -> AsyncIterator[Any]:
        try:
            async with inner(asgi_app) as state:
                yield state
        finally:
            await relay.aclose()

    app.router.lifespan_context = lifespan
    return relay


def _rebuild_answer(status: int, raw: bytes) -> Response:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # deeply nested JSON raises RecursionError
        data = None
    if not isinstance(data, dict):
        raise RelayRefusal(502, "temporarily_unavailable", "token endpoint answered non-JSON")
    if status == 200:
        answer = {k: data.get(k) for k in ("access_token", "token_type", "expires_in", "scope")}
        if not (
            isinstance(answer["access_token"], str)
            and isinstance(answer["token_type"], str)
            and type(answer["expires_in"]) is int
            and isinstance(answer["scope"], (str, type(None)))
        ):
            raise RelayRefusal(502, "temporarily_unavailable", "token endpoint answered oddly")
        return JSONResponse({k: v for k, v in answer.items() if v is not None}, headers=NO_STORE)
    error, description = data.get("error"), data.get("error_description")
    if not (400 <= status < 500 and isinstance(error, str) and NQSCHAR.fullmatch(error)):
        raise RelayRefusal(502, "temporarily_unavailable", "token endpoint failed")
    body = {"error": error[:64] or "invalid_request"}
    if isinstance(description, str) and NQSCHAR.fullmatch(description):
        body["error_description"] = description[:300]
    if status == 401 and body["error"] == "invalid_client":
        # Swagger UI shows the status text ("Bad Request") unless the answer says more.
        logto_said = body.get("error_description")
        body["error_description"] = "invalid App ID or App Secret" + (
            f" (Logto: {logto_said})"[:300] if logto_said else ""
        )
    # 401 would need a WWW-Authenticate (and Logto's "Basic" makes browsers prompt): 400.
    return JSONResponse(body, status_code=403 if status == 403 else 400, headers=NO_STORE)
