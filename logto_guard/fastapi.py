"""FastAPI integration: :class:`LogtoGuard`, a security scheme for Logto access tokens.

Example::

    from fastapi import FastAPI, Security
    from logto_guard import AuthInfo, LogtoGuard

    guard = LogtoGuard(endpoint="https://tenant.logto.app", audience="https://shopping.api")
    app = FastAPI()
    guard.install(app)

    @app.get("/products")
    async def products(auth: AuthInfo = Security(guard, scopes=["read:products"])):
        return {"caller": auth.client_id}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.models import OAuth2, OAuthFlowClientCredentials, OAuthFlows
from fastapi.responses import JSONResponse
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase

from ._bearer import error_body, error_headers
from ._core import Authenticator
from ._errors import AuthError, CredentialsMissingError
from ._models import AuthInfo
from ._relay import add_token_relay

__all__ = ["GuardHTTPException", "LogtoGuard", "guard_exception_handler"]


class GuardHTTPException(HTTPException):
    """The HTTP form of an :class:`AuthError`; ``auth_error`` keeps the evidence."""

    def __init__(self, auth_error: AuthError, realm: str) -> None:
        self.auth_error = auth_error
        super().__init__(
            status_code=auth_error.status_code,
            detail=auth_error.description,
            headers=error_headers(auth_error, realm),
        )


async def guard_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer a :class:`GuardHTTPException` with the RFC 6750 JSON body and headers."""
    assert isinstance(exc, GuardHTTPException)
    return JSONResponse(error_body(exc.auth_error), exc.status_code, headers=exc.headers)


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
        **options: the remaining :class:`GuardConfig` options (``issuer``, ``jwks_uri``,
            ``algorithms``, ``leeway``, ``require_typ``, ``jwks_*``, ...).

    Raises:
        ConfigurationError: an option is invalid.
    """

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
        **options: Any,
    ) -> None:
        self.authenticator = Authenticator(
            endpoint=endpoint, audience=audience, http_client=http_client, clock=clock, **options
        )
        self.config = config = self.authenticator.config
        self.jwks = self.authenticator.jwks
        self.validator = self.authenticator.validator
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
            description=description or f"Logto access token for {config.audience}",
        )

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> AuthInfo:
        """Authenticate ``request`` and require ``security_scopes``; raise on failure."""
        try:
            organization_id = self.organization(request) if self.organization else None
            return await self.authenticate(
                request.headers.getlist("authorization"),
                security_scopes.scopes,
                organization_id=organization_id,
            )
        except CredentialsMissingError as exc:
            if not self.auto_error:
                return None  # type: ignore[return-value]  # documented opt-in
            raise self.make_http_error(exc) from None
        except AuthError as exc:
            raise self.make_http_error(exc) from None

    async def authenticate(
        self,
        authorization: Sequence[str],
        required_scopes: Sequence[str] = (),
        *,
        organization_id: str | None = None,
    ) -> AuthInfo:
        """Validate raw ``Authorization`` header values and check ``required_scopes``
        (and ``organization_id``, as :meth:`Authenticator.authenticate` does).

        Raises:
            AuthError: (a subclass of) the request is refused; see the error table.
        """
        return await self.authenticator.authenticate(
            authorization, required_scopes, organization_id=organization_id
        )

    def make_http_error(self, exc: AuthError) -> HTTPException:
        """Turn ``exc`` into the HTTP exception FastAPI answers with (override to customise)."""
        return GuardHTTPException(exc, self.authenticator.realm)

    def install(self, app: FastAPI) -> None:
        """Register the RFC 6750 error handler and complete the OpenAPI scope list on ``app``."""
        app.add_exception_handler(GuardHTTPException, guard_exception_handler)
        generate = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                self._document_used_scopes(generate())
            return generate()

        app.openapi = openapi  # type: ignore[method-assign]

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

    def _document_used_scopes(self, schema: dict[str, Any]) -> None:
        used: dict[str, None] = {}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for requirement in operation.get("security", []):
                    used.update(dict.fromkeys(requirement.get(self.scheme_name, [])))
        scheme = schema.get("components", {}).get("securitySchemes", {}).get(self.scheme_name)
        if scheme is not None:
            documented = scheme["flows"]["clientCredentials"].setdefault("scopes", {})
            for scope in used:
                documented.setdefault(scope, scope)

    async def aclose(self) -> None:
        """Close the JWKS HTTP client the guard created (call on application shutdown)."""
        await self.authenticator.aclose()
