"""Probes and start-up: ``GET /health`` (liveness), ``GET /ready`` (can the guard verify
right now) and the configuration check the API runs before serving.

``/ready`` reads :meth:`~logto_guard.Authenticator.readiness` and does no I/O: a probe
storm cannot turn into JWKS fetches against Logto. Keys arrive from the start-up check, from
the background retry started when the issuer was unreachable at start, or from the first
request that carries a token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from logto_guard import Authenticator

#: Seconds a load balancer should wait before asking ``/ready`` again after a 503.
RETRY_AFTER = 5
#: The background key fetch after an unreachable start: first delay, then doubling to this.
FIRST_RETRY, MAX_RETRY = 1.0, 10.0


class Ready(BaseModel):
    """``GET /ready`` when tokens can be verified."""

    status: str = "ready"
    keys: int
    key_set_age: float | None


class NotReady(BaseModel):
    """``GET /ready`` while no usable signing keys are held (HTTP 503)."""

    status: str = "not ready"
    reason: str


def add_probes(app: FastAPI, authenticator: Authenticator) -> None:
    """Add the open ``/health`` and ``/ready`` routes (OpenAPI tag ``health``)."""

    @app.get("/health", tags=["health"], summary="Liveness: 200 while the process serves")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        tags=["health"],
        response_model=Ready,
        summary="Readiness: 200 when access tokens can be verified, else 503",
        responses={503: {"model": NotReady, "description": "No usable signing keys yet"}},
    )
    def ready() -> Ready | JSONResponse:
        readiness = authenticator.readiness()
        if readiness.ready:
            age = None if readiness.key_set_age is None else round(readiness.key_set_age, 1)
            return Ready(keys=readiness.keys, key_set_age=age)
        reason = readiness.last_error or "signing keys not fetched yet"
        return JSONResponse(
            NotReady(reason=reason).model_dump(),
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER), "Cache-Control": "no-store"},
        )


async def _fetch_keys_until_ready(authenticator: Authenticator) -> None:
    delay = FIRST_RETRY
    while not authenticator.readiness().ready:
        await asyncio.sleep(delay)
        delay = min(2 * delay, MAX_RETRY)
        await authenticator.refresh_keys()


@contextlib.asynccontextmanager
async def checked_start(authenticator: Authenticator) -> AsyncIterator[None]:
    """Check the configuration before serving (lifespan): a configuration mistake raises
    :class:`~logto_guard.ConfigurationError` and the start stops; an unreachable issuer
    only warns, and keys are fetched in the background until they arrive."""
    readiness = await authenticator.startup_check()
    retry = None if readiness.ready else asyncio.create_task(_fetch_keys_until_ready(authenticator))
    try:
        yield
    finally:
        if retry is not None:
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry
