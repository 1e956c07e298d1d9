"""MCP SDK front end: the token verifier and the HTTP layer in front of the SDK.

Public names live in :mod:`logto_guard.mcp`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlsplit

import httpx

try:
    from mcp.server.auth.middleware.auth_context import get_access_token
    from mcp.server.auth.provider import AccessToken
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import AnyHttpUrl
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "logto_guard.mcp needs the MCP Python SDK: pip install 'logto-guard[mcp]'"
    ) from exc

from .._core.asgi_types import ASGIApp
from .._core.authenticator import Authenticator
from .._core.config import GuardConfig
from .._core.front_end import KeyLifecycle, shared_or_built
from .._core.identity import AuthInfo
from .._core.options import AuthenticatorOptions, Unpack
from .._core.policy import Policy
from .._core.resource_metadata import metadata_path, metadata_url
from .http import MCPAuthMiddleware, access_token_fields, check_resource, verify_bearer
from .issued import Issued
from .request import routes_to

__all__ = [
    "LogtoTokenVerifier",
    "MCPAuthMiddleware",
    "MissingScopeError",
    "auth_settings",
    "require_scopes",
    "to_access_token",
]


def to_access_token(info: AuthInfo, token: str, leeway: float = 0) -> AccessToken:
    """The SDK's ``AccessToken`` for a verified Logto token.

    ``resource`` is the matched audience (RFC 8707); ``claims`` carries every claim,
    ``iss`` included, which the SDK reads to identify the principal; ``expires_at`` is
    ``exp`` + ``leeway``.
    """
    return AccessToken(**access_token_fields(info, token, leeway))


class LogtoTokenVerifier(KeyLifecycle):
    """The MCP SDK's ``TokenVerifier`` for Logto access tokens, on logto-guard's core.

    Args:
        endpoint: the Logto endpoint, e.g. ``https://<tenant>.logto.app``.
        audience: the MCP server's resource indicator: its public URL, e.g.
            ``https://shop.example.com/mcp``, byte for byte as registered in Logto
            (``match_trailing_slash=True`` accepts ``.../mcp`` and ``.../mcp/`` alike).
        authenticator: share an existing :class:`~logto_guard.Authenticator` instead.
        http_client: ``httpx.AsyncClient`` for the JWKS (tests inject one).
        clock: seconds since the epoch (tests inject a fake clock).
        config: a ready :class:`~logto_guard.GuardConfig`, instead of ``endpoint``,
            ``audience`` and the config options.
        **options: the other :class:`~logto_guard.GuardConfig` options and the
            Authenticator's (typed: :class:`~logto_guard.AuthenticatorOptions`).

    Raises:
        ConfigurationError: an option is invalid, the audience is the organization
            audience (MCP requests name no organization), or it is a plain ``http://``
            URL of a host other than loopback without ``allow_insecure_http=True``.
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        audience: str | None = None,
        config: GuardConfig | None = None,
        authenticator: Authenticator | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        **options: Unpack[AuthenticatorOptions],
    ) -> None:
        self.authenticator = shared_or_built(
            authenticator,
            config,
            endpoint,
            audience,
            http_client=http_client,
            clock=clock,
            **options,
        )
        self.authenticator.check_organization_source(None)
        check_resource(self.authenticator)
        self._issued = Issued(to_access_token)

    @property
    def resource_url(self) -> str:
        """The resource indicator tokens must carry in ``aud`` (the audience)."""
        return self.authenticator.config.audience

    @property
    def issuer(self) -> str:
        """The (first) accepted issuer, ``<endpoint>/oidc`` by default."""
        return self.authenticator.config.issuers[0]

    @property
    def metadata_url(self) -> str:
        """Where the RFC 9728 metadata document for this resource lives (§3.1)."""
        return metadata_url(self.resource_url)

    @property
    def metadata_path(self) -> str:
        """The path part of :attr:`metadata_url`, to route it in an app."""
        return metadata_path(self.resource_url)

    async def verify_token(self, token: str) -> AccessToken | None:
        """An ``AccessToken`` for a valid Logto token for this resource, else ``None``.

        The requests of one token share one ``AccessToken`` (treat it as read-only)."""
        info = await verify_bearer(self.authenticator, token)
        if info is None:
            return None
        return self._issued.get(info, token, self.authenticator.config.leeway)

    def protect(
        self,
        app: ASGIApp,
        *,
        path: str | None = None,
        required_scopes: Sequence[str] = (),
        tool_scopes: Mapping[str, Sequence[str]] | None = None,
        scopes_supported: Sequence[str] = (),
        policy: Policy | None = None,
        scope_implications: Mapping[str, Sequence[str]] | None = None,
    ) -> MCPAuthMiddleware:
        """Wrap the streamable-HTTP ``app`` so refusals are logto-guard's, not the SDK's.

        Requests to ``path`` get RFC 6750 answers carrying ``resource_metadata``
        (RFC 9728 §5.1), a 503 with ``Retry-After`` when the JWKS is unreachable, and a
        403 ``insufficient_scope`` with ``scope="..."`` for a ``tools/call`` of a tool
        listed in ``tool_scopes`` whose scopes the token lacks. The metadata document is
        served at ``/.well-known/oauth-protected-resource<path of the resource>``.

        ``path`` is the SDK's ``streamable_http_path`` (default: the path of the
        audience, e.g. ``/mcp``); requests are matched on their route path (relative to
        ``root_path``), so the app may be mounted or served with ``--root-path``. When
        mounted, also route :attr:`metadata_path` at the origin to
        :meth:`MCPAuthMiddleware.serve_metadata` (e.g. ``protect()`` the outer app).

        ``policy`` restricts who may call beyond scopes (allowed App IDs, actor and
        delegated tokens, see :class:`~logto_guard.Policy`): a refusal is a 403.

        ``scope_implications`` declares the server's scope hierarchy (Logto has none):
        ``{"write:products": ["read:products"]}`` lets a write token call read tools; the
        tools' ``require_scopes()`` see the implied scopes too.

        Raises:
            ConfigurationError: ``app`` has no route at ``path``, or
                ``scope_implications`` is malformed.
        """
        if path is None:
            path = _route_of(app, urlsplit(self.resource_url).path or "/mcp")
        return MCPAuthMiddleware(
            app,
            authenticator=self.authenticator,
            path=path,
            resource_url=self.resource_url,
            required_scopes=required_scopes,
            tool_scopes=tool_scopes,
            scopes_supported=scopes_supported,
            policy=policy,
            scope_implications=scope_implications,
        )


def _route_of(app: ASGIApp, resource_path: str) -> str:
    # The audience's path, or its last segments when the app is mounted below a prefix
    # (audience .../shop/mcp, app routing /mcp); the SDK's default /mcp otherwise.
    segments = resource_path.rstrip("/").split("/")
    for start in range(1, len(segments)):
        candidate = "/" + "/".join(segments[start:])
        if routes_to(app, candidate):
            return candidate
    return "/mcp"


def auth_settings(
    verifier: LogtoTokenVerifier,
    *,
    required_scopes: Sequence[str] | None = None,
    resource_server_url: str | None = None,
) -> AuthSettings:
    """``AuthSettings`` for ``MCPServer(token_verifier=verifier, auth=...)``.

    The issuer is the verifier's (``<endpoint>/oidc``), the resource server URL its
    audience; ``validate_token_resource`` is on (the verifier matched the audience already,
    so the SDK's own check agrees; it also silences the SDK's 3.0 deprecation warning).
    """
    return AuthSettings(
        issuer_url=AnyHttpUrl(verifier.issuer),
        resource_server_url=AnyHttpUrl(resource_server_url or verifier.resource_url),
        required_scopes=list(required_scopes) if required_scopes else None,
        validate_token_resource=True,
    )


class MissingScopeError(ToolError):
    """A tool was called with a token lacking scopes it requires.

    The SDK turns it into an ``is_error`` tool result whose text names the scopes.

    Attributes:
        required_scopes: every scope the tool requires.
        missing_scopes: those the token lacks.
    """

    def __init__(self, required_scopes: Sequence[str], missing_scopes: Sequence[str]) -> None:
        self.required_scopes = tuple(required_scopes)
        self.missing_scopes = tuple(missing_scopes)
        super().__init__(f"insufficient_scope: this tool requires {' '.join(self.missing_scopes)}")


def require_scopes(*scopes: str) -> AccessToken:
    """Inside a tool: the caller's ``AccessToken``, after checking it has ``scopes``.

    Raises:
        MissingScopeError: the request has no verified token, or lacks a scope.
    """
    token = get_access_token()
    granted = set(token.scopes) if token is not None else set()
    missing = [scope for scope in scopes if scope not in granted]
    if token is None or missing:
        raise MissingScopeError(scopes, missing or scopes)
    return token
