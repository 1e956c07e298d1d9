"""The shopping API: FastAPI routes guarded by logto-guard, products in SQLite."""

from __future__ import annotations

import importlib.resources
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, HTTPException, Path, Query, Request, Response, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.routing import Route

from logto_guard import AuthInfo, ConfigurationError, LogtoGuard
from logto_guard.client import LogtoM2MClient
from logto_guard.mcp import LogtoTokenVerifier

from .delegation import Reorderer
from .health import add_probes
from .mcp_server import MCP_PATH, create_mcp_server, mcp_app
from .settings import Settings, mcp_default
from .store import Product, ProductStore

SCOPES = {
    "read:products": "List and read products",
    "write:products": "Create, change and delete products",
}
ProductId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Product id")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Price = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
Description = Annotated[str, Field(max_length=2000)]


class ProductIn(BaseModel):
    """A new product, or a full replacement."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    price: Price
    description: Description = ""


class ProductPatch(BaseModel):
    """Some fields of a product."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    price: Price | None = None
    description: Description | None = None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's default echoes the input back, which fails to serialise NaN or infinity
    # (a 500); where and why is all a client needs.
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": errors}, status_code=422)


def _app_id(auth: AuthInfo) -> str:
    return auth.client_id or auth.subject


def _audit(store: ProductStore, action: str, product: Product | None, auth: AuthInfo) -> None:
    """Record the chain: the user (sub), the acting app (client_id), the actor (act.sub)."""
    if product is not None:
        _record(store, action, product.id, auth)


def _record(store: ProductStore, action: str, product_id: int, auth: AuthInfo) -> None:
    act = auth.claims.get("act")
    actor = act.get("sub") if isinstance(act, dict) and isinstance(act.get("sub"), str) else None
    store.record(action, product_id, subject=auth.subject, client_id=auth.client_id, actor=actor)


def _swagger_assets(app: FastAPI) -> dict[str, str]:
    """Swagger UI's files from fastapi-offline when it is installed (the docs then work
    offline), mounted at /docs/static; none (FastAPI's CDN defaults) otherwise."""
    try:
        static = importlib.resources.files("fastapi_offline") / "static"
    except ModuleNotFoundError:
        return {}
    app.mount("/docs/static", StaticFiles(directory=str(static)), name="swagger")
    return {
        "swagger_js_url": "/docs/static/swagger-ui-bundle.js",
        "swagger_css_url": "/docs/static/swagger-ui.css",
    }


def build_guard(settings: Settings) -> LogtoGuard:
    """The guard for ``settings`` (the endpoint must be known by now)."""
    assert settings.endpoint is not None
    return LogtoGuard(
        endpoint=settings.endpoint,
        audience=settings.audience,
        scopes=SCOPES,
        **_tenant_options(settings),
    )


def build_reorderer(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> Reorderer:
    """The delegated tool's REST caller: the MCP server's own app (``MCP_APP_ID`` /
    ``MCP_APP_SECRET``) exchanging its callers' tokens for the shopping API's audience."""
    assert settings.endpoint is not None
    m2m = None
    if settings.mcp_app_id and settings.mcp_app_secret:
        m2m = LogtoM2MClient(
            endpoint=settings.endpoint,
            app_id=settings.mcp_app_id,
            app_secret=settings.mcp_app_secret,
        )
    # The REST API is served next to /mcp, on the same origin.
    mcp_resource = settings.mcp_resource or mcp_default(8000)
    api_url = mcp_resource.removesuffix("/").removesuffix(MCP_PATH)
    return Reorderer(m2m=m2m, api_url=api_url, audience=settings.audience, transport=transport)


def build_mcp_verifier(settings: Settings, guard: LogtoGuard) -> LogtoTokenVerifier:
    """The MCP endpoint's verifier: same tenant, the MCP resource as audience, and the REST
    guard's key source (one JWKS cache and one background keeper for the tenant)."""
    assert settings.endpoint is not None
    return LogtoTokenVerifier(
        endpoint=settings.endpoint,
        audience=settings.mcp_resource or mcp_default(8000),
        key_source=guard.authenticator.key_source,
        **_tenant_options(settings),
    )


def _tenant_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if settings.issuer:
        options["issuer"] = tuple(part.strip() for part in settings.issuer.split(","))
    if settings.jwks_uri:
        options["jwks_uri"] = settings.jwks_uri
    return options


def create_app(
    settings: Settings,
    *,
    guard: LogtoGuard | None = None,
    mcp_verifier: LogtoTokenVerifier | None = None,
) -> FastAPI:
    """The shopping API for ``settings``; pass ``guard`` / ``mcp_verifier`` to inject
    them (tests)."""
    guard = guard or build_guard(settings)
    verifier = mcp_verifier or build_mcp_verifier(settings, guard)
    store = ProductStore(settings.db_path)
    reorderer = build_reorderer(settings)
    mcp = create_mcp_server(store, verifier, reorderer)
    mcp_asgi = mcp_app(mcp, verifier, stateless=settings.mcp_stateless)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        try:
            # A configuration mistake stops the start here (kept for `python -m demo_api`
            # to report); the streamable-HTTP session manager only serves inside its run().
            # guard.lifespan: start-up check, background key keeper, aclose on exit.
            async with guard.lifespan(served), mcp.session_manager.run():
                yield
        except ConfigurationError as exc:
            served.state.startup_error = exc
            raise
        finally:
            await verifier.aclose()
            await reorderer.aclose()
            store.close()

    app = FastAPI(
        title="Shopping API (logto-guard demo)",
        description="Products guarded by Logto M2M access tokens. Click *Authorize* and "
        "enter an M2M app's App ID and App Secret to call the routes.",
        lifespan=lifespan,
    )
    guard.install(app)
    # The one call a user's app makes too: token relay + docs with the routes' scopes.
    guard.add_swagger_login(app, **_swagger_assets(app))
    app.add_exception_handler(RequestValidationError, _validation_error)
    add_probes(app, guard.authenticator)
    app.state.store = store
    app.state.startup_error = None
    app.state.guard = guard
    app.state.mcp = mcp
    # MCP (streamable HTTP) at /mcp and its RFC 9728 metadata, as plain ASGI routes.
    for path in (MCP_PATH, verifier.metadata_path):
        app.router.routes.append(Route(path, endpoint=mcp_asgi, include_in_schema=False))
    read = Security(guard, scopes=["read:products"])
    write = Security(guard, scopes=["write:products"])
    missing = HTTPException(status.HTTP_404_NOT_FOUND, "product not found")

    @app.get("/products", tags=["products"])
    def list_products(
        auth: AuthInfo = read,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    ) -> list[Product]:
        return store.list(limit=limit, offset=offset)

    @app.get("/products/{product_id}", tags=["products"])
    def get_product(product_id: ProductId, auth: AuthInfo = read) -> Product:
        product = store.get(product_id)
        if product is None:
            raise missing
        return product

    @app.post("/products", status_code=status.HTTP_201_CREATED, tags=["products"])
    def create_product(body: ProductIn, auth: AuthInfo = write) -> Product:
        product = store.create(**body.model_dump(), app_id=_app_id(auth))
        _audit(store, "create", product, auth)
        return product

    @app.put("/products/{product_id}", tags=["products"])
    def replace_product(product_id: ProductId, body: ProductIn, auth: AuthInfo = write) -> Product:
        product = store.update(product_id, body.model_dump(), app_id=_app_id(auth))
        _audit(store, "replace", product, auth)
        if product is None:
            raise missing
        return product

    @app.patch("/products/{product_id}", tags=["products"])
    def patch_product(product_id: ProductId, body: ProductPatch, auth: AuthInfo = write) -> Product:
        changes = body.model_dump(exclude_unset=True)
        if any(value is None for value in changes.values()):
            raise HTTPException(422, "fields cannot be null")
        product = store.update(product_id, changes, app_id=_app_id(auth))
        _audit(store, "update", product, auth)
        if product is None:
            raise missing
        return product

    @app.delete("/products/{product_id}", status_code=204, tags=["products"])
    def delete_product(product_id: ProductId, auth: AuthInfo = write) -> Response:
        if not store.delete(product_id):
            raise missing
        _record(store, "delete", product_id, auth)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return app
