"""Probes and start-up: ``GET /health`` (liveness), ``GET /ready`` (can the guard verify
right now) and the configuration check the API runs before serving.

``/ready`` reads :meth:`~logto_guard.Authenticator.readiness` and does no I/O: a probe
storm cannot turn into JWKS fetches against Logto. Keys arrive from the start-up check, from
the library's background keeper (started by the guard's lifespan: it keeps fetching while
the issuer is unreachable and refreshes before the keys age out), or from the first request
that carries a token.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from logto_guard import Authenticator

#: Seconds a load balancer should wait before asking ``/ready`` again after a 503.
RETRY_AFTER = 5


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
