"""FastMCP front end: the auth provider.

Public names live in :mod:`logto_guard.fastmcp`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, overload
from urllib.parse import urlsplit

import httpx

try:
    from fastmcp.server.auth import AccessToken, RemoteAuthProvider, TokenVerifier
    from pydantic import AnyHttpUrl
    from starlette.middleware import Middleware
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        "logto_guard.fastmcp needs FastMCP: pip install 'logto-guard[fastmcp]'"
    ) from exc

from .._core.asgi_types import ASGIApp, Receive, Scope, Send
from .._core.authenticator import Authenticator
from .._core.config import GuardConfig
from .._core.errors import ConfigurationError
from .._core.front_end import KeyLifecycle, authenticator_for, shared_or_built
from .._core.identity import AuthInfo
from .._core.options import AuthenticatorOptions, Unpack
from .._core.policy import Policy
from .._core.scopes import check_resource_scopes, implication_closure
from .http import MCPAuthMiddleware, access_token_fields, check_resource, verify_bearer
from .issued import Issued

__all__ = ["LogtoFastMCPVerifier", "LogtoProvider"]


class LogtoFastMCPVerifier(TokenVerifier):
    """A FastMCP ``TokenVerifier`` on a logto-guard :class:`~logto_guard.Authenticator`.

    Returns ``None`` for any refused token (another audience included).
    """

    def __init__(
        self, *, authenticator: Authenticator, required_scopes: Sequence[str] | None = None
    ) -> None:
        super().__init__(required_scopes=list(required_scopes or []))
        self.authenticator = authenticator
        self._issued = Issued(_fastmcp_access_token)

    async def verify_token(self, token: str) -> AccessToken | None:
        """FastMCP's ``AccessToken`` for a valid Logto token, else ``None``.

        The requests of one token share one ``AccessToken`` (treat it as read-only)."""
        info = await verify_bearer(self.authenticator, token)
        if info is None:
            return None
        return self._issued.get(info, token, self.authenticator.config.leeway)


def _fastmcp_access_token(info: AuthInfo, token: str, leeway: float) -> AccessToken:
    return AccessToken(**access_token_fields(info, token, leeway))


class LogtoProvider(KeyLifecycle, RemoteAuthProvider):
    """A FastMCP auth provider for Logto access tokens.

    Args:
        endpoint: the Logto endpoint, e.g. ``https://<tenant>.logto.app``.
        base_url: the server's public URL; the MCP endpoint is ``<base_url><mcp path>``.
        audience: the resource indicator tokens must carry; defaults to
            ``<base_url><FastMCP's MCP path>`` (``http_app(path=...)``, ``/mcp`` by
            default). Register exactly this in Logto's API resources. When mounted
            (``app.mount("/api", mcp.http_app())``), ``base_url`` includes the prefix.
        required_scopes: scopes every MCP request needs.
        scopes_supported: scopes advertised in the metadata (default: every scope of
            required_scopes and tool_scopes).
        tool_scopes: scopes per tool name, checked on ``tools/call`` before FastMCP sees
            it: a shortfall is a 403 ``insufficient_scope`` with ``scope="..."`` naming
            them (FastMCP's own ``auth=require_scopes(...)`` hides the tool instead, so
            a caller only learns "Unknown tool").
        allowed_origins: browser origins allowed to call the MCP endpoint (default: the
            origin of ``base_url``); a request with another ``Origin`` is a 403, as
            streamable HTTP requires (FastMCP's own Host/Origin guard is off by default).
        policy: who may call beyond scopes (:class:`~logto_guard.Policy`: allowed App
            IDs, actor and delegated tokens); a refusal is a 403 before FastMCP runs.
        scope_implications: the server's scope hierarchy (Logto has none), e.g.
            ``{"write:products": ["read:products"]}``: a token with a key scope also
            satisfies the listed ones, for ``tool_scopes``, ``required_scopes`` and the
            ``AccessToken.scopes`` FastMCP's own checks read.
        authenticator: share an existing :class:`~logto_guard.Authenticator` instead.
        config: a ready :class:`~logto_guard.GuardConfig` (its audience is the resource),
            instead of ``endpoint``, ``audience`` and the config options.
        http_client: as for :class:`~logto_guard.Authenticator`.
        clock: as for :class:`~logto_guard.Authenticator`.
        **options: as for :class:`~logto_guard.Authenticator` (typed:
            :class:`~logto_guard.AuthenticatorOptions`).
    """

    @overload
    def __init__(
        self,
        *,
        endpoint: str,
        base_url: str,
        audience: str | None = None,
        required_scopes: Sequence[str] | None = None,
        scopes_supported: Sequence[str] | None = None,
        tool_scopes: Mapping[str, Sequence[str]] | None = None,
        allowed_origins: Sequence[str] | None = None,
        policy: Policy | None = None,
        scope_implications: Mapping[str, Sequence[str]] | None = None,
        authenticator: Authenticator | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        **options: Unpack[AuthenticatorOptions],
    ) -> None: ...

    @overload
    def __init__(
        self,
        *,
        config: GuardConfig,
        base_url: str,
        required_scopes: Sequence[str] | None = None,
        scopes_supported: Sequence[str] | None = None,
        tool_scopes: Mapping[str, Sequence[str]] | None = None,
        allowed_origins: Sequence[str] | None = None,
        policy: Policy | None = None,
        scope_implications: Mapping[str, Sequence[str]] | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        **options: Unpack[AuthenticatorOptions],
    ) -> None: ...

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        config: GuardConfig | None = None,
        base_url: str,
        audience: str | None = None,
        required_scopes: Sequence[str] | None = None,
        scopes_supported: Sequence[str] | None = None,
        tool_scopes: Mapping[str, Sequence[str]] | None = None,
        allowed_origins: Sequence[str] | None = None,
        policy: Policy | None = None,
        scope_implications: Mapping[str, Sequence[str]] | None = None,
        authenticator: Authenticator | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        **options: Unpack[AuthenticatorOptions],
    ) -> None:
        base = base_url.rstrip("/")
        self._base = base
        # Without audience= (and authenticator=, config=), the audience follows FastMCP's
        # MCP path (set_mcp_path): http_app(path="/api/mcp") means <base_url>/api/mcp.
        self._derive_audience = audience is None and authenticator is None and config is None

        def make(aud: str) -> Authenticator:
            return authenticator_for(
                config,
                endpoint,
                aud if config is None else audience,  # with config=, audience= is an error
                http_client=http_client,
                clock=clock,
                **options,
            )

        self._make: Callable[[str], Authenticator] = make
        if authenticator is None:
            self.authenticator = self._make(audience or f"{base}/mcp")
        else:
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
        self.logto_mcp_path = "/mcp"
        self.logto_scopes_supported = tuple(scopes_supported or ())
        parts = urlsplit(base)
        self.allowed_origins = (
            [f"{parts.scheme}://{parts.netloc}"]
            if allowed_origins is None
            else list(allowed_origins)
        )
        self.tool_scopes = {name: list(scopes) for name, scopes in (tool_scopes or {}).items()}
        for scopes in [required_scopes or (), scopes_supported or (), *self.tool_scopes.values()]:
            check_resource_scopes(scopes)
        self.policy = policy
        self.scope_implications = implication_closure(scope_implications)  # checked now
        super().__init__(
            token_verifier=LogtoFastMCPVerifier(
                authenticator=self.authenticator, required_scopes=required_scopes
            ),
            authorization_servers=[AnyHttpUrl(i) for i in self.authenticator.config.issuers],
            base_url=base,
            scopes_supported=list(scopes_supported) if scopes_supported is not None else None,
        )

    @property
    def resource_url(self) -> str:
        """The resource indicator tokens must carry in ``aud``."""
        return self.authenticator.config.audience

    def set_mcp_path(self, mcp_path: str | None) -> None:
        """Remember where the MCP endpoint is, for the refusal middleware, and make the
        audience ``<base_url><mcp_path>`` (FastMCP's resource URL).

        Raises:
            ConfigurationError: ``audience=`` (or the shared authenticator's) is not the
                resource FastMCP serves at ``mcp_path``.
        """
        path = mcp_path or "/mcp"
        resource = f"{self._base}{path}"
        config = self.authenticator.config
        if resource not in config.audiences:
            if not self._derive_audience:
                raise ConfigurationError(
                    f"FastMCP serves MCP at {resource} but the audience is {config.audience!r}: "
                    "pass audience= that URL (and register it in Logto)"
                )
            self.authenticator = self._make(resource)
            check_resource(self.authenticator)
            verifier = self.token_verifier
            if isinstance(verifier, LogtoFastMCPVerifier):
                verifier.authenticator = self.authenticator
        super().set_mcp_path(mcp_path)
        self.logto_mcp_path = path

    def get_middleware(self) -> list[Any]:
        """logto-guard's refusals first, then FastMCP's authentication middleware."""
        return [Middleware(_RefusalGate, provider=self), *super().get_middleware()]


class _RefusalGate:
    # Built by Starlette when the app first runs, after FastMCP told the provider its
    # MCP path (get_routes runs after get_middleware).
    def __init__(self, app: ASGIApp, provider: LogtoProvider) -> None:
        self.provider = provider
        self.app = app
        self.gate: MCPAuthMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.gate is None:
            provider = self.provider
            self.gate = MCPAuthMiddleware(
                self.app,
                authenticator=provider.authenticator,
                path=provider.logto_mcp_path,
                resource_url=provider.resource_url,
                required_scopes=provider.required_scopes,
                tool_scopes=provider.tool_scopes,
                scopes_supported=provider.logto_scopes_supported,
                allowed_origins=provider.allowed_origins,
                policy=provider.policy,
                scope_implications=provider.scope_implications,
            )
        await self.gate(scope, receive, send)
