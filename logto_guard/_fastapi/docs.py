"""What a FastAPI guard adds to its app's documents: the completed OpenAPI, the RFC 9728
metadata route and a Swagger UI page asking for the scopes routes use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Route

from .._core.resource_metadata import metadata_document, metadata_path
from .openapi import document_guard, used_scopes


def complete_openapi(app: FastAPI, scheme_name: str) -> None:
    """Make ``app.openapi()`` document the guard ``scheme_name`` (scopes, refusals)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_guard(generate(), scheme_name)
        return generate()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def serve_resource_metadata(
    app: FastAPI,
    resource_url: str,
    issuers: Sequence[str],
    described: Sequence[str],
    scheme_name: str,
) -> None:
    """Route the RFC 9728 metadata document of ``resource_url``: its issuers, and the
    ``described`` scopes plus every scope routes use."""

    async def metadata() -> JSONResponse:
        scopes = [*described, *used_scopes(app.openapi(), scheme_name)]
        document = metadata_document(resource_url, issuers, scopes_supported=scopes)
        return JSONResponse(document, headers={"Access-Control-Allow-Origin": "*"})

    path = metadata_path(resource_url)
    app.add_api_route(path, metadata, methods=["GET"], include_in_schema=False)


def serve_swagger_login(app: FastAPI, scheme_name: str, assets: dict[str, str]) -> None:
    """Replace ``app``'s docs page by one asking for every scope routes use."""
    docs_url = app.docs_url
    if docs_url is None:
        return

    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        scopes = used_scopes(app.openapi(), scheme_name)
        redirect = app.swagger_ui_oauth2_redirect_url
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + redirect if redirect else None,
            init_oauth={**(app.swagger_ui_init_oauth or {}), "scopes": " ".join(scopes)},
            swagger_ui_parameters=app.swagger_ui_parameters,
            **assets,
        )

    app.router.routes[:] = [
        route
        for route in app.router.routes
        if not (isinstance(route, APIRoute | Route) and route.path == docs_url)
    ]
    app.add_api_route(docs_url, docs, methods=["GET"], include_in_schema=False)
