"""Issue 17 §1: started while Logto is down, a service turns ready by itself once it is back.

Real HTTP on loopback: the guarded app is served by uvicorn while the JWKS port refuses
connections, then a JWKS server starts on that port; ``/ready`` is polled (no other traffic)
and must answer 200 within 10 s. Both recipes: the README's lifespan as written, and the
one-line ``lifespan=guard.lifespan``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logto_guard import LogtoGuard
from logto_guard.testing import FakeLogto

from .servers import bind_free_port, serve

pytestmark = pytest.mark.integration


def readme_recipe(guard: LogtoGuard) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await guard.authenticator.startup_check()
        yield
        await guard.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ready")
    def ready() -> JSONResponse:
        readiness = guard.authenticator.readiness()
        return JSONResponse({"ready": readiness.ready}, status_code=200 if readiness.ready else 503)

    return app


def docs_recipe(guard: LogtoGuard) -> FastAPI:
    """docs/fastapi.md's lifespan as written now: the front end's own methods."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await guard.startup_check()
        yield
        await guard.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ready")
    def ready() -> JSONResponse:
        readiness = guard.readiness()
        return JSONResponse({"ready": readiness.ready}, status_code=200 if readiness.ready else 503)

    return app


def one_line_recipe(guard: LogtoGuard) -> FastAPI:
    app = FastAPI(lifespan=guard.lifespan)

    @app.get("/ready")
    def ready() -> JSONResponse:
        ready = guard.readiness().ready
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    return app


@pytest.mark.parametrize(
    "recipe",
    [readme_recipe, docs_recipe, one_line_recipe],
    ids=["readme-as-filed", "docs", "one-line"],
)
def test_ready_within_10_s_of_logto_coming_back(recipe: Callable[[LogtoGuard], FastAPI]) -> None:
    jwks_sock = bind_free_port()  # bound, not listening: connections are refused
    endpoint = f"http://127.0.0.1:{jwks_sock.getsockname()[1]}"
    logto = FakeLogto(endpoint=endpoint)

    async def jwks(request: Request) -> Response:
        return Response(json.dumps(logto.jwks()), media_type="application/jwk-set+json")

    guard = LogtoGuard(endpoint=endpoint, audience=logto.audience)
    with serve(recipe(guard)) as base:
        assert httpx.get(f"{base}/ready").status_code == 503
        with serve(Starlette(routes=[Route("/oidc/jwks", jwks)]), jwks_sock):
            back = time.monotonic()
            status = 503
            while status != 200 and time.monotonic() - back < 10:
                status = httpx.get(f"{base}/ready").status_code
                time.sleep(0.05)  # the probe interval, not a wait for a server
            assert status == 200
            assert time.monotonic() - back < 10
