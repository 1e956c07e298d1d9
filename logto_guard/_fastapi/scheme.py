"""FastAPI front end: the security scheme, its OpenAPI and Swagger glue.

Public names live in :mod:`logto_guard.fastapi`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, cast, overload

import httpx
from fastapi import FastAPI, HTTPException, Request, WebSocketException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.models import OAuth2, OAuthFlowClientCredentials, OAuthFlows
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection
from starlette.routing import Route

from .._core.authenticator import authenticator_for
from .._core.config import GuardConfig
from .._core.errors import ConfigurationError
from .._core.identity import AuthInfo
from .._core.options import AuthenticatorOptions, Unpack
from .._core.policy import Policy
from .._core.resource_metadata import metadata_document, metadata_path, metadata_url
from .._core.rfc6750 import WEBSOCKET_REFUSAL_CODE, Refusal
from .._core.status import Readiness
from .openapi import document_guard, used_scopes
from .relay import add_token_relay
from .routes import check_organization_parameter

__all__ = ["GuardHTTPException", "LogtoGuard", "guard_exception_handler"]


class GuardHTTPException(HTTPException):
    """The HTTP form of a :class:`Refusal`; ``auth_error`` keeps the evidence."""

    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal
        self.auth_error = refusal.error
        super().__init__(
            status_code=refusal.status_code,
            detail=refusal.error.description,
            headers=dict(refusal.headers),
        )


async def guard_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer a :class:`GuardHTTPException` with the RFC 6750 JSON body and headers."""
    assert isinstance(exc, GuardHTTPException)
    refusal = exc.refusal
    return JSONResponse(dict(refusal.body), refusal.status_code, headers=dict(refusal.headers))


def _default_description(audience: str) -> str:
    # Swagger UI's Authorize dialog labels its fields client_id and client_secret: say
    # what Logto's Console calls them.
    return (
        f"Logto access token for {audience}. In Authorize, client_id is the M2M app's"
        " App ID and client_secret its App Secret (Logto Console: Applications)."
    )


class LogtoGuard(SecurityBase):
    """Security scheme accepting Logto access tokens for one API resource.

    Use it as ``auth: AuthInfo = Security(guard, scopes=[...])``: every listed scope is
    required. Call :meth:`install` once so errors carry the full RFC 6750 JSON body and
    the OpenAPI scheme lists every scope routes use.

    Args:
        endpoint: the Logto endpoint, e.g. ``https://<tenant>.logto.app``.
        audience: the API resource indicator, e.g. ``https://shopping.api``.
        scopes: optional descriptions of scopes for OpenAPI (``{"read:products": "..."}``).
        organization: for organization tokens, where the request names its organization:
            a path parameter name, or a function of the request. With
            ``audience=ORGANIZATION_AUDIENCE`` the token's ``aud`` must be
            ``urn:logto:organization:<id>``; with an API audience (organization-level API
            resources) its ``organization_id`` claim must equal ``<id>``.
        auto_error: when False, a request without credentials yields ``None`` instead of
            401; invalid credentials are still refused.
        scheme_name: the OpenAPI security scheme name (default ``LogtoGuard``).
        description: the OpenAPI scheme description.
        http_client: ``httpx.AsyncClient`` for fetching the JWKS (tests inject one).
        clock: seconds since the epoch (tests inject a fake clock).
        resource_url: opt-in RFC 9728 discovery: the API's public URL when it is also its
            resource indicator (the audience, as MCP requires). :meth:`install` then
            serves ``/.well-known/oauth-protected-resource[/<path>]`` and every 401/403
            challenge carries ``resource_metadata="..."``.
        config: a ready :class:`GuardConfig`, instead of ``endpoint``, ``audience`` and
            the config options.
        **options: the remaining :class:`GuardConfig` options (``issuer``, ``jwks_uri``,
            ``algorithms``, ``leeway``, ``require_typ``, ``jwks_*``, ...) and the
            Authenticator's ``metrics``, ``meter_provider`` and ``key_source``; typed:
            :class:`AuthenticatorOptions`.

    Raises:
        ConfigurationError: an option is invalid.
    """

    #: The route policy of a guard made by :meth:`policy` (``None``: scopes only).
    route_policy: Policy | None = None

    @overload
    def __init__(
        self,
        *,
        endpoint: str,
        audience: str,
        scopes: Mapping[str, str] | None = None,
        organization: str | Callable[[Request], str | None] | None = None,
        auto_error: bool = True,
        scheme_name: str | None = None,
        description: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        resource_url: str | None = None,
        **options: Unpack[AuthenticatorOptions],
    ) -> None: ...

    @overload
    def __init__(
        self,
        *,
        config: GuardConfig,
        scopes: Mapping[str, str] | None = None,
        organization: str | Callable[[Request], str | None] | None = None,
        auto_error: bool = True,
        scheme_name: str | None = None,
        description: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        resource_url: str | None = None,
        **options: Unpack[AuthenticatorOptions],
    ) -> None: ...

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        audience: str | None = None,
        config: GuardConfig | None = None,
        scopes: Mapping[str, str] | None = None,
        organization: str | Callable[[Request], str | None] | None = None,
        auto_error: bool = True,
        scheme_name: str | None = None,
        description: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        resource_url: str | None = None,
        **options: Unpack[AuthenticatorOptions],
    ) -> None:
        self.authenticator = authenticator_for(
            config, endpoint, audience, http_client=http_client, clock=clock, **options
        )
        config = self.authenticator.config
        self.resource_url = resource_url
        if resource_url is not None:
            if resource_url not in config.audiences:
                raise ConfigurationError(
                    f"resource_url {resource_url!r} must be the audience {config.audience!r}: "
                    "clients ask Logto for a token for the resource the metadata names"
                )
            self.authenticator.resource_metadata = metadata_url(resource_url)
        self.organization_parameter = organization if isinstance(organization, str) else None
        if isinstance(organization, str):
            parameter = organization
            organization = lambda request: request.path_params.get(parameter)  # noqa: E731
        self.organization = organization
        self.authenticator.check_organization_source(organization)
        self.auto_error = auto_error
        self.scheme_name = scheme_name or type(self).__name__
        self.model = OAuth2(
            flows=OAuthFlows(
                clientCredentials=OAuthFlowClientCredentials(
                    tokenUrl=config.token_endpoint, scopes=dict(scopes or {})
                )
            ),
            description=description or _default_description(config.audience),
        )

    async def __call__(self, request: HTTPConnection, security_scopes: SecurityScopes) -> AuthInfo:
        """Authenticate ``request`` (an HTTP request or a WebSocket handshake) and require
        ``security_scopes``; raise on failure.

        A refused WebSocket is closed with code 1008 (RFC 6455 §7.4.1, policy violation)
        before it is accepted. Like the ASGI middleware, the socket is authenticated once,
        at its handshake.
        """
        # Straight from the ASGI scope (names are lower-case there): Starlette's Headers
        # object costs a microsecond the warm path does not need.
        values = [v for k, v in request.scope["headers"] if k == b"authorization"]
        authenticator = self.authenticator
        organization_id = None
        if self.organization is not None:
            # A WebSocket handshake carries path parameters like a request does.
            organization_id = self.organization(cast(Request, request))
        elif len(values) == 1:
            info = authenticator.peek(
                values[0].decode("latin-1"), security_scopes.scopes, self.route_policy
            )
            if info is not None:
                return info
        result = await authenticator.check(
            [value.decode("latin-1") for value in values],
            security_scopes.scopes,
            organization_id=organization_id,
            organization_required=self.organization is not None,
            optional=not self.auto_error,
            policy=self.route_policy,
        )
        if isinstance(result, Refusal):
            if request.scope["type"] == "websocket":
                raise WebSocketException(WEBSOCKET_REFUSAL_CODE, result.error.description)
            raise self.make_http_error(result)
        return result  # type: ignore[return-value]  # None only with auto_error=False

    def policy(
        self,
        *,
        clients: Collection[str] | None = None,
        allow_actor: bool = True,
        allow_delegated: bool = True,
    ) -> LogtoGuard:
        """A dependency for routes with a delegation policy, sharing this guard's keys,
        caches and OpenAPI scheme: ``Security(guard.policy(clients=[...]), scopes=[...])``.

        See :class:`Policy` for the arguments; refusals are 403 ``insufficient_scope``
        with a description naming the rule ("client not allowed on this route").
        """
        derived = copy.copy(self)
        derived.route_policy = Policy(
            clients=clients, allow_actor=allow_actor, allow_delegated=allow_delegated
        )
        return derived

    def check_routes(self, app: FastAPI) -> None:
        """Refuse to start when ``organization=`` names a path parameter that a route
        guarded by this guard (or one of its :meth:`policy` guards) does not have.

        :meth:`install` runs it at application startup; an app with its own ``lifespan``
        (where FastAPI skips startup handlers) calls it there.

        Raises:
            ConfigurationError: naming the routes and the parameter.
        """
        parameter = self.organization_parameter
        if parameter is not None:
            organization = self.organization
            check_organization_parameter(
                app.routes,
                parameter,
                lambda call: isinstance(call, LogtoGuard) and call.organization is organization,
            )

    def make_http_error(self, refusal: Refusal) -> HTTPException:
        """Turn ``refusal`` into the HTTP exception FastAPI answers with (override to
        customise; ``refusal.error`` is the :class:`AuthError` with its evidence)."""
        return GuardHTTPException(refusal)

    def install(self, app: FastAPI) -> None:
        """Register the RFC 6750 error handler on ``app`` and complete its OpenAPI: the
        scheme lists every scope routes use; guarded operations declare 400, 401, 403 and
        503 with the error body's schema."""
        app.add_exception_handler(GuardHTTPException, guard_exception_handler)
        generate = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                document_guard(generate(), self.scheme_name)
            return generate()

        app.openapi = openapi  # type: ignore[method-assign]
        # Without a lifespan of the app's own; with one, call check_routes(app) in it.
        app.router.add_event_handler("startup", lambda: self.check_routes(app))
        if self.resource_url is not None:
            self._serve_resource_metadata(app, self.resource_url)

    def _serve_resource_metadata(self, app: FastAPI, resource_url: str) -> None:
        issuers = self.authenticator.config.issuers
        described = list(self.model.flows.clientCredentials.scopes)  # type: ignore[attr-defined]

        async def metadata() -> JSONResponse:
            scopes = [*described, *used_scopes(app.openapi(), self.scheme_name)]
            document = metadata_document(resource_url, issuers, scopes_supported=scopes)
            return JSONResponse(document, headers={"Access-Control-Allow-Origin": "*"})

        path = metadata_path(resource_url)
        app.add_api_route(path, metadata, methods=["GET"], include_in_schema=False)

    def add_swagger_login(
        self,
        app: FastAPI,
        *,
        swagger_js_url: str | None = None,
        swagger_css_url: str | None = None,
        relay_path: str = "/docs/oauth2/token",
    ) -> None:
        """Make Swagger UI's **Authorize** work against Logto, with every scope the routes
        use pre-selected: the token relay (:meth:`add_token_relay`) plus ``app``'s docs
        page (``app.docs_url``) asking for those scopes. Call after :meth:`install`.

        ``swagger_js_url`` / ``swagger_css_url`` replace FastAPI's CDN assets (serve them
        yourself for offline docs). The relay is a development and docs aid: in production
        leave it out, with ``/docs``.
        """
        self.add_token_relay(app, relay_path)
        docs_url = app.docs_url
        if docs_url is None:
            return
        assets = {
            name: value
            for name, value in (
                ("swagger_js_url", swagger_js_url),
                ("swagger_css_url", swagger_css_url),
            )
            if value is not None
        }

        async def docs(request: Request) -> HTMLResponse:
            root = request.scope.get("root_path", "").rstrip("/")
            scopes = used_scopes(app.openapi(), self.scheme_name)
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

    def add_token_relay(
        self,
        app: FastAPI,
        path: str = "/docs/oauth2/token",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Let Swagger UI's "Authorize" get tokens: relay to Logto, adding ``resource``.

        The OpenAPI scheme's ``tokenUrl`` becomes ``path`` on the API itself; see
        :mod:`logto_guard._relay` for why Swagger UI cannot call Logto directly.
        """
        add_token_relay(
            app,
            token_endpoint=self.authenticator.config.token_endpoint,
            audience=self.authenticator.config.audience,
            path=path,
            transport=transport,
        )
        flows = self.model.flows  # type: ignore[attr-defined]
        flows.clientCredentials.tokenUrl = path

    async def aclose(self) -> None:
        """Close the JWKS HTTP client the guard created (call on application shutdown)."""
        await self.authenticator.aclose()

    def readiness(self) -> Readiness:
        """Whether tokens can be verified now, for a readiness probe (no I/O)."""
        return self.authenticator.readiness()

    async def startup_check(self) -> Readiness:
        """Fetch the keys once and keep them fresh in the background (see Authenticator)."""
        return await self.authenticator.startup_check()

    def lifespan(self, app: object = None) -> AbstractAsyncContextManager[None]:
        """Startup check, background key refresh, ``aclose`` on exit: ``lifespan=x.lifespan``.

        Given the FastAPI app, it also runs :meth:`check_routes` (FastAPI skips startup
        handlers when an app has a lifespan).
        """
        if isinstance(app, FastAPI):
            self.check_routes(app)
        return self.authenticator.lifespan(app)
