"""The app factory :mod:`bench.e2e` runs under uvicorn: the demo API plus two extra routes.

``uvicorn bench._e2e_app:create --factory`` with ``BENCH_E2E_CONFIG`` naming a JSON file
holding ``endpoint``, ``audience``, ``jwks`` (the public JWKS) and ``db_path``. The guard
fetches that JWKS through an ``httpx.MockTransport``, so no issuer has to run.

Added routes:

* ``GET /open/products``: the very handler of the guarded ``GET /products``, called with a
  fixed :class:`AuthInfo` and no security dependency (the unguarded baseline);
* ``GET /trivial/noop`` and ``GET /trivial/guarded``: a trivial ``async`` route behind a
  no-op security scheme (:class:`bench.overhead.NoopScheme`) and behind the guard, to
  show the guard against the framework's floor rather than against no dependency at all;
* ``GET /bench/stats``: how many tokens the guard fully verified (signature and claims) and
  how many it holds in its verified-token cache (:attr:`Authenticator.stats`), so the
  benchmark can check that "distinct token" requests really miss the cache and "reused
  token" requests really hit it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import FastAPI, Query, Security
from fastapi.routing import APIRoute

from demo_api.app import create_app
from demo_api.settings import Settings
from demo_api.store import Product
from logto_guard import AuthInfo, LogtoGuard

from ._common import jwks_http_client
from .overhead import NoopScheme

CONFIG_ENV = "BENCH_E2E_CONFIG"


def _guarded_list_handler(app: FastAPI) -> Callable[..., list[Product]]:
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path == "/products" and route.methods == {"GET"}:
            handler: Callable[..., list[Product]] = route.endpoint
            return handler
    raise RuntimeError("the demo app has no GET /products route")


def create() -> FastAPI:
    """The demo app guarded by a JWKS served from memory, plus the benchmark routes."""
    config: dict[str, Any] = json.loads(Path(os.environ[CONFIG_ENV]).read_text())
    settings = Settings(
        endpoint=config["endpoint"], audience=config["audience"], db_path=config["db_path"]
    )
    guard = LogtoGuard(
        endpoint=config["endpoint"],
        audience=config["audience"],
        http_client=jwks_http_client(config["jwks"]),
    )
    app = create_app(settings, guard=guard)
    list_products = _guarded_list_handler(app)
    anonymous = AuthInfo(
        subject="anonymous",
        client_id=None,
        audience=config["audience"],
        issuer="none",
        scopes=frozenset({"read:products"}),
        organization_id=None,
        expires_at=datetime.max.replace(tzinfo=timezone.utc),
        claims=MappingProxyType({}),
    )

    @app.get("/open/products", tags=["bench"])
    def open_products(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    ) -> list[Product]:
        return list_products(auth=anonymous, limit=limit, offset=offset)

    noop = NoopScheme()

    @app.get("/trivial/noop", tags=["bench"])
    async def trivial_noop(auth: AuthInfo = Security(noop, scopes=["read:products"])) -> str:
        return auth.subject

    @app.get("/trivial/guarded", tags=["bench"])
    async def trivial_guarded(auth: AuthInfo = Security(guard, scopes=["read:products"])) -> str:
        return auth.subject

    @app.get("/bench/stats", tags=["bench"])
    async def stats() -> dict[str, int]:
        stats = guard.authenticator.stats
        return {"verified": stats.verified_tokens, "cache_size": stats.cached_tokens}

    return app
