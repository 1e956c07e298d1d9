"""The HTTP side of the MCP front ends, free of any MCP package.

The MCP SDK and FastMCP answer every refused token with the same bare 401 (a JWKS outage
included), and a missing scope with a 403 that has no ``scope=``. :class:`MCPAuthMiddleware`
sits in front of their streamable-HTTP app and answers first, as the rest of logto-guard
does (RFC 6750 status, ``WWW-Authenticate``, ``error``), adding ``resource_metadata``
(RFC 9728 §5.1) and a per-tool ``insufficient_scope`` step-up with ``scope="..."``; it also
serves the protected-resource metadata document.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from .._core.asgi_types import ASGIApp, Receive, Scope, Send
from .._core.authenticator import Authenticator
from .._core.claims import expiry_deadline
from .._core.errors import AuthError, ConfigurationError, InsufficientScopeError
from .._core.identity import AuthInfo
from .._core.policy import Policy
from .._core.resource_metadata import metadata_document, metadata_path, metadata_url
from .._core.rfc6750 import (
    Refusal,
    authorization_values,
    encode_headers,
    json_bytes,
    parse_authorization,
    refusal,
    send_json,
    send_refusal,
)
from .._core.scopes import (
    ScopeImplications,
    check_resource_scopes,
    implication_closure,
    implied_scopes,
)
from .._core.urls import check_url
from .expiry import serve_until_expiry
from .request import (
    read_body,
    replay,
    route_path,
    routes_to,
    tool_calls,
)

#: JSON-RPC 2.0 §5.1 leaves -32000..-32099 to the server; MCP names no code for a
#: missing scope, so the step-up's JSON-RPC error uses this one (the HTTP 403 is what counts).
INSUFFICIENT_SCOPE_CODE = -32003
#: Bodies larger than this are refused (413) when a tools/call must be inspected.
DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024


#: The caller :class:`MCPAuthMiddleware` authenticated for the request being handled, so
#: the SDK's ``verify_token`` further down the same call chain does not check (and count)
#: the token a second time.
_verified: ContextVar[tuple[str, AuthInfo] | None] = ContextVar("logto_guard_mcp", default=None)


async def verify_bearer(authenticator: Authenticator, token: str) -> AuthInfo | None:
    """The verified identity behind a bare token, or None for any refusal (the MCP SDK's
    and FastMCP's ``verify_token`` contract: they answer the refusal themselves).

    Inside a request :class:`MCPAuthMiddleware` already authenticated, the identity it
    found is returned as is: one authentication (and one ``accepted`` count) per request.
    """
    known = _verified.get()
    if known is not None and known[0] == token:
        return known[1]
    authorization = f"Bearer {token}"
    # The warm path first (a token already verified, no await), as the middleware does.
    info = authenticator.peek(authorization)
    if info is not None:
        return info
    result = await authenticator.check([authorization])
    return result if isinstance(result, AuthInfo) else None


def check_resource(authenticator: Authenticator) -> None:
    """Refuse an MCP resource (the audience) that is plain ``http://`` to a host other than
    loopback, as the endpoints are, unless ``allow_insecure_http``: it is advertised in the
    metadata and clients send their tokens to it.

    Raises:
        ConfigurationError: the audience is no acceptable URL.
    """
    config = authenticator.config
    check_url("audience", config.audience, allow_insecure_http=config.allow_insecure_http)


def access_token_fields(info: AuthInfo, token: str, leeway: float = 0) -> dict[str, Any]:
    """The fields of an MCP ``AccessToken`` (the SDK's and FastMCP's share them) for a
    verified token: ``resource`` is the matched audience (RFC 8707); ``claims`` carries
    every claim, ``iss`` included, which the SDK reads to identify the principal;
    ``expires_at`` is ``exp`` + ``leeway``, the core's own deadline, so the SDK never
    refuses a token the core accepts (the core's refusal answers at expiry)."""
    return {
        "token": token,
        "client_id": info.client_id or info.subject,
        "scopes": sorted(info.scopes),
        "expires_at": int(expiry_deadline(info.expires_at.timestamp(), leeway)),
        "resource": info.audience,
        "subject": info.subject,
        "claims": dict(info.claims),
    }


class MCPAuthMiddleware:
    """Authenticate the MCP endpoint of ``app`` with logto-guard's answers.

    Args:
        app: the ASGI app serving MCP (the SDK's or FastMCP's streamable-HTTP app).
        authenticator: the shared :class:`~logto_guard.Authenticator` (never modified:
            the ``resource_metadata`` of this front end's challenges is its own).
        path: the MCP endpoint's route path (relative to ``root_path``, as Starlette
            routes), and every path below it; other paths pass through untouched.
        resource_url: the server's resource indicator; when given, the metadata document
            is served at its well-known path and challenges carry ``resource_metadata``.
        required_scopes: scopes every MCP request needs.
        tool_scopes: scopes per tool name, checked on ``tools/call`` before the tool runs;
            a shortfall is a 403 ``insufficient_scope`` naming every scope the request
            needs (``required_scopes`` and those of each tool called, batches included).
        scopes_supported: scopes advertised in the metadata document (default: every
            scope of ``required_scopes`` and ``tool_scopes``).
        max_body_size: the largest request body inspected for ``tools/call``.
        allowed_origins: when given, a request to the MCP endpoint whose ``Origin`` is
            present and not among them is a 403 (streamable HTTP: servers MUST validate
            ``Origin``; the SDK's ``transport_security`` does it for the SDK front end).
        policy: who may call beyond scopes (:class:`~logto_guard.Policy`: allowed App
            IDs, actor and delegated tokens), checked with the token; a refusal is a 403.
        scope_implications: the server's scope hierarchy, e.g. ``{"write:products":
            ["read:products"]}``: a token with a key scope also satisfies the listed ones
            (transitively), here and in the SDK's/FastMCP's ``AccessToken.scopes``.
            Logto itself implies nothing.

    Raises:
        ConfigurationError: ``app`` shows its routes and none serves ``path`` (the
            requests it routes to MCP would otherwise pass unchecked),
            ``scope_implications`` is malformed, or ``offline_access`` is among the
            scopes (a refresh-token scope, never a resource's).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: Authenticator,
        path: str = "/mcp",
        resource_url: str | None = None,
        required_scopes: Sequence[str] = (),
        tool_scopes: Mapping[str, Sequence[str]] | None = None,
        scopes_supported: Sequence[str] = (),
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        allowed_origins: Sequence[str] | None = None,
        policy: Policy | None = None,
        scope_implications: ScopeImplications | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise ConfigurationError(f"the MCP path must start with '/', got {path!r}")
        if routes_to(app, path) is False:
            raise ConfigurationError(
                f"the wrapped app has no route at {path!r}: pass path= the MCP app's own "
                "streamable_http_path (relative to where it is mounted)"
            )
        self.app = app
        self.authenticator = authenticator
        self.policy = policy
        self._implies = implication_closure(scope_implications)
        self.path = path
        self._below = path.rstrip("/") + "/"
        self.required_scopes = tuple(required_scopes)
        self.tool_scopes = {name: tuple(s) for name, s in (tool_scopes or {}).items()}
        check_resource_scopes([*required_scopes, *scopes_supported])
        for scopes in self.tool_scopes.values():
            check_resource_scopes(scopes)
        self.max_body_size = max_body_size
        self.allowed_origins = (
            None if allowed_origins is None else {o.rstrip("/").lower() for o in allowed_origins}
        )
        self.resource_url = resource_url
        self.resource_metadata = metadata_url(resource_url) if resource_url else None
        self._metadata_path = metadata_path(resource_url) if resource_url else None
        self.metadata: dict[str, Any] | None = None
        if resource_url:
            advertised = list(scopes_supported) or [
                *self.required_scopes,
                *(s for scopes in self.tool_scopes.values() for s in scopes),
            ]
            self.metadata = metadata_document(
                resource_url, authenticator.config.issuers, scopes_supported=advertised
            )

    def _is_mcp(self, path: str) -> bool:
        return path == self.path or path.startswith(self._below)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if self.metadata is not None and self._metadata_path in (path, scope["path"]):
            await self.serve_metadata(scope, send)
            return
        if not self._is_mcp(path) and not self._is_mcp(scope["path"]):
            await self.app(scope, receive, send)
            return
        if self.allowed_origins is not None and not self._origin_allowed(scope):
            await send_json(send, 403, json_bytes({"detail": "origin not allowed"}))
            return
        values = authorization_values(scope.get("headers", []))
        # The warm path first: a token already verified needs no await.
        authenticator, policy = self.authenticator, self.policy
        info = authenticator.peek(values[0], (), policy) if len(values) == 1 else None
        if info is not None:
            # peek found the token after "Bearer ": a token that passed the syntax check
            # when it was verified (and what the SDK's bearer backend will pass on).
            token = values[0][7:]
        else:
            try:
                info = await authenticator.authenticate(values, policy=policy)
            except AuthError as exc:
                await send_refusal(scope, send, self.refuse(exc, self.required_scopes))
                return
            token = parse_authorization(values)
        if self._implies:
            info = dataclasses.replace(info, scopes=implied_scopes(info.scopes, self._implies))
        needed = list(self.required_scopes)
        denied: list[tuple[Any, str, tuple[str, ...]]] = []
        if self.tool_scopes and scope.get("method") == "POST":
            body = await read_body(receive, self.max_body_size)
            if body is None:
                await send_json(send, 413, json_bytes({"detail": "request body too large"}))
                return
            calls = tool_calls(body)
            if calls is None:
                await send_json(send, 400, json_bytes(_PARSE_ERROR))
                return
            for message_id, name in calls:
                wanted = self.tool_scopes.get(name, ())
                needed.extend(wanted)
                if not info.scopes.issuperset(wanted):
                    denied.append((message_id, name, wanted))
            receive = replay(body, receive)
        needed = list(dict.fromkeys(needed))
        if not info.scopes.issuperset(needed):
            answer = self.refuse(InsufficientScopeError(needed, info.scopes))
            await send_refusal(scope, send, answer, _step_up(denied, needed) if denied else None)
            return
        reset = _verified.set((token, info))
        try:
            # An event stream ends when the core would refuse its token (exp + leeway).
            deadline = authenticator.deadline(info)
            await serve_until_expiry(
                self.app, scope, receive, send, deadline=deadline, clock=authenticator.clock
            )
        finally:
            _verified.reset(reset)

    def _origin_allowed(self, scope: Scope) -> bool:
        allowed = self.allowed_origins or set()
        origins = [v for n, v in scope.get("headers", []) if n.lower() == b"origin"]
        return all(v.decode("latin-1").rstrip("/").lower() in allowed for v in origins)

    def refuse(self, exc: AuthError, scopes: Sequence[str] = ()) -> Refusal:
        """The answer to ``exc`` from this front end: its own ``resource_metadata``, and
        on a 401 ``scope=`` naming ``scopes`` (MCP "Scope Selection Strategy")."""
        realm = self.authenticator.realm
        return refusal(exc, realm, resource_metadata=self.resource_metadata, scope=scopes)

    async def serve_metadata(self, scope: Scope, send: Send) -> None:
        """Answer a request for the metadata document (and its CORS preflight)."""
        cors = {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, OPTIONS",
            "Access-Control-Allow-Headers": "authorization, mcp-protocol-version",
        }
        if scope.get("method") == "OPTIONS":
            raw = [(b"content-length", b"0"), *encode_headers(cors)]
            await send({"type": "http.response.start", "status": 204, "headers": raw})
            await send({"type": "http.response.body", "body": b""})
            return
        await send_json(send, 200, json_bytes(self.metadata), cors)


_PARSE_ERROR = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}}


def _step_up(denied: list[tuple[Any, str, tuple[str, ...]]], needed: Sequence[str]) -> Any:
    errors = [
        {
            "jsonrpc": "2.0",
            "id": message_id,
            "error": {
                "code": INSUFFICIENT_SCOPE_CODE,
                "message": f"insufficient_scope: tool {name} requires {' '.join(wanted)}",
                "data": {"error": "insufficient_scope", "scope": " ".join(needed)},
            },
        }
        for message_id, name, wanted in denied
    ]
    return errors[0] if len(errors) == 1 else errors
