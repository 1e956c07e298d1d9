"""FastAPI front end: the security scheme (its documents in docs.py, its errors in errors.py).

Public names live in :mod:`logto_guard.fastapi`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Generic, Literal, cast, overload

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.models import OAuth2, OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection

# FastAPI depends on typing_extensions; its TypeVar takes a default (PEP 696) on 3.10.
from typing_extensions import TypeVar

from .._core.config import GuardConfig
from .._core.errors import ConfigurationError
from .._core.front_end import KeyLifecycle, authenticator_for
from .._core.identity import AuthInfo
from .._core.options import AuthenticatorOptions, Unpack
from .._core.policy import Policy
from .._core.resource_metadata import metadata_url
from .._core.rfc6750 import Refusal, authorization_values
from .docs import complete_openapi, serve_resource_metadata, serve_swagger_login
from .errors import GuardHTTPException, guard_exception_handler, raise_refusal
from .openapi import default_description
from .relay import add_token_relay
from .routes import check_organization_parameter

__all__ = ["GuardHTTPException", "LogtoGuard", "guard_exception_handler"]

#: What a guard hands the route: ``AuthInfo``, or ``AuthInfo | None`` with ``auto_error=False``.
Caller = TypeVar("Caller", bound="AuthInfo | None", default=AuthInfo)


class LogtoGuard(KeyLifecycle, SecurityBase, Generic[Caller]):
    """Security scheme accepting Logto access tokens for one API resource.

    Use it as ``auth: AuthInfo = Security(guard, scopes=[...])``: every listed scope is
    required. Refusals carry the RFC 6750 JSON body; call :meth:`install` once so the
    OpenAPI scheme lists every scope routes use and operations declare their refusals.

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
            401; invalid credentials are still refused. The guard is then a
            ``LogtoGuard[AuthInfo | None]`` (type checkers see the ``None``).
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
        self: LogtoGuard[AuthInfo],
        *,
        endpoint: str,
        audience: str,
        scopes: Mapping[str, str] | None = None,
        organization: str | Callable[[Request], str | None] | None = None,
        auto_error: Literal[True] = True,
        scheme_name: str | None = None,
        description: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        resource_url: str | None = None,
        **options: Unpack[AuthenticatorOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: LogtoGuard[AuthInfo | None],
        *,
        endpoint: str,
        audience: str,
        scopes: Mapping[str, str] | None = None,
        organization: str | Callable[[Request], str | None] | None = None,
        auto_error: bool,
        scheme_name: str | None = None,
        description: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        resource_url: str | None = None,
        **options: Unpack[AuthenticatorOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: LogtoGuard[AuthInfo],
        *,
        config: GuardConfig,
        scopes: Mapping[str, str] | None = None,
        organization: str | Callable[[Request], str | None] | None = None,
        auto_error: Literal[True] = True,
        scheme_name: str | None = None,
        description: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        resource_url: str | None = None,
        **options: Unpack[AuthenticatorOptions],
    ) -> None: ...
    @overload
    def __init__(
        self: LogtoGuard[AuthInfo | None],
        *,
        config: GuardConfig,
        scopes: Mapping[str, str] | None = None,
        organization: str | Callable[[Request], str | None] | None = None,
        auto_error: bool,
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
        #: The RFC 9728 metadata URL this guard's challenges name (``None``: none served).
        self.resource_metadata: str | None = None
        if resource_url is not None:
            if resource_url not in config.audiences:
                raise ConfigurationError(
                    f"resource_url {resource_url!r} must be the audience {config.audience!r}: "
                    "clients ask Logto for a token for the resource the metadata names"
                )
            self.resource_metadata = metadata_url(resource_url)
        self.organization_parameter = organization if isinstance(organization, str) else None
        if isinstance(organization, str):
            parameter = organization
            organization = lambda request: request.path_params.get(parameter)  # noqa: E731
        self.organization = organization
        self.authenticator.check_organization_source(organization)
        self.auto_error = auto_error
        self.scheme_name = scheme_name or type(self).__name__
        # Kept typed: SecurityBase declares ``model`` as the base model, without flows.
        self._client_credentials = OAuthFlowClientCredentials(
            tokenUrl=config.token_endpoint, scopes=dict(scopes or {})
        )
        self.model = OAuth2(
            flows=OAuthFlows(clientCredentials=self._client_credentials),
            description=description or default_description(config.audience),
        )

    async def __call__(self, request: HTTPConnection, security_scopes: SecurityScopes) -> Caller:
        """Authenticate ``request`` (an HTTP request or a WebSocket handshake) and require
        ``security_scopes``; raise on failure.

        A refused WebSocket is closed with code 1008 (RFC 6455 §7.4.1, policy violation)
        before it is accepted. Like the ASGI middleware, the socket is authenticated once,
        at its handshake.
        """
        # Straight from the ASGI scope: Starlette's Headers object costs a microsecond the
        # warm path does not need.
        values = authorization_values(request.scope["headers"])
        authenticator = self.authenticator
        organization_id = None
        if self.organization is not None:
            # A WebSocket handshake carries path parameters like a request does.
            organization_id = self.organization(cast(Request, request))
        elif len(values) == 1:
            info = authenticator.peek(values[0], security_scopes.scopes, self.route_policy)
            if info is not None:
                return cast(Caller, info)
        result = await authenticator.check(
            values,
            security_scopes.scopes,
            organization_id=organization_id,
            organization_required=self.organization is not None,
            optional=not self.auto_error,
            policy=self.route_policy,
            resource_metadata=self.resource_metadata,
        )
        if isinstance(result, Refusal):
            raise_refusal(request.scope, result, self.make_http_error)
        # None only when auto_error=False, which makes Caller ``AuthInfo | None``.
        return cast(Caller, result)

    def policy(
        self,
        *,
        clients: Collection[str] | None = None,
        allow_actor: bool = True,
        allow_delegated: bool = True,
    ) -> LogtoGuard[Caller]:
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
        complete_openapi(app, self.scheme_name)
        # Without a lifespan of the app's own; with one, call check_routes(app) in it.
        app.router.add_event_handler("startup", lambda: self.check_routes(app))
        if self.resource_url is not None:
            issuers = self.authenticator.config.issuers
            described = list(self._client_credentials.scopes)
            serve_resource_metadata(app, self.resource_url, issuers, described, self.scheme_name)

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
        assets = {"swagger_js_url": swagger_js_url, "swagger_css_url": swagger_css_url}
        given = {name: url for name, url in assets.items() if url is not None}
        serve_swagger_login(app, self.scheme_name, given)

    def add_token_relay(
        self,
        app: FastAPI,
        path: str = "/docs/oauth2/token",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """Let Swagger UI's "Authorize" get tokens: relay to Logto, adding ``resource``.

        The OpenAPI scheme's ``tokenUrl`` becomes ``path`` on the API itself; see
        the docs' "Swagger UI login" section for why Swagger UI cannot call Logto directly.
        """
        add_token_relay(
            app,
            token_endpoint=self.authenticator.config.token_endpoint,
            audience=self.authenticator.config.audience,
            path=path,
            transport=transport,
        )
        self._client_credentials.tokenUrl = path

    def lifespan(self, app: object = None) -> AbstractAsyncContextManager[None]:
        """Startup check, background key refresh, ``aclose`` on exit: ``lifespan=x.lifespan``.

        Given the FastAPI app, it also runs :meth:`check_routes` (FastAPI skips startup
        handlers when an app has a lifespan).
        """
        if isinstance(app, FastAPI):
            self.check_routes(app)
        return super().lifespan(app)
