"""The HTTP side of the MCP front ends, free of any MCP package.

The MCP SDK and FastMCP answer every refused token with the same bare 401 (a JWKS outage
included), and a missing scope with a 403 that has no ``scope=``. :class:`MCPAuthMiddleware`
sits in front of their streamable-HTTP app and answers first, as the rest of logto-guard
does (RFC 6750 status, ``WWW-Authenticate``, ``error``), adding ``resource_metadata``
(RFC 9728 §5.1) and a per-tool ``insufficient_scope`` step-up with ``scope="..."``; it also
serves the protected-resource metadata document.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

from ._authenticator import Authenticator
from ._errors import InsufficientScopeError
from ._identity import AuthInfo
from ._resource_metadata import metadata_document, metadata_path, metadata_url
from ._rfc6750 import Refusal, authorization_values

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: JSON-RPC 2.0 §5.1 leaves -32000..-32099 to the server; MCP names no code for a
#: missing scope, so the step-up's JSON-RPC error uses this one (the HTTP 403 is what counts).
INSUFFICIENT_SCOPE_CODE = -32003
#: Bodies larger than this are refused (413) when a tools/call must be inspected.
DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024


async def verify_bearer(authenticator: Authenticator, token: str) -> AuthInfo | None:
    """The verified identity behind a bare token, or None for any refusal (the MCP SDK's
    and FastMCP's ``verify_token`` contract: they answer the refusal themselves)."""
    result = await authenticator.check([f"Bearer {token}"])
    return result if isinstance(result, AuthInfo) else None


def access_token_fields(info: AuthInfo, token: str) -> dict[str, Any]:
    """The fields of an MCP ``AccessToken`` (the SDK's and FastMCP's share them) for a
    verified token: ``resource`` is the matched audience (RFC 8707); ``claims`` carries
    every claim, ``iss`` included, which the SDK reads to identify the principal."""
    return {
        "token": token,
        "client_id": info.client_id or info.subject,
        "scopes": sorted(info.scopes),
        "expires_at": int(info.expires_at.timestamp()),
        "resource": info.audience,
        "subject": info.subject,
        "claims": dict(info.claims),
    }


def _headers(pairs: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), v.encode("latin-1")) for name, v in pairs.items()]


async def _send_json(send: Send, status: int, body: Any, headers: Mapping[str, str]) -> None:
    payload = json.dumps(body).encode("utf-8")
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *_headers(headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class MCPAuthMiddleware:
    """Authenticate the MCP endpoint of ``app`` with logto-guard's answers.

    Args:
        app: the ASGI app serving MCP (the SDK's or FastMCP's streamable-HTTP app).
        authenticator: the shared :class:`~logto_guard.Authenticator`.
        path: the MCP endpoint's path; other paths pass through untouched.
        resource_url: the server's resource indicator; when given, the metadata document
            is served at its well-known path and the authenticator's challenges carry
            ``resource_metadata`` (it sets ``authenticator.resource_metadata``).
        required_scopes: scopes every MCP request needs.
        tool_scopes: scopes per tool name, checked on ``tools/call`` before the tool runs;
            a shortfall is a 403 ``insufficient_scope`` naming the scopes.
        scopes_supported: scopes advertised in the metadata document.
        max_body_size: the largest request body inspected for ``tools/call``.
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
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.path = path
        self.required_scopes = tuple(required_scopes)
        self.tool_scopes = {name: tuple(s) for name, s in (tool_scopes or {}).items()}
        self.max_body_size = max_body_size
        self.resource_url = resource_url
        if resource_url:
            authenticator.resource_metadata = metadata_url(resource_url)
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if self.metadata is not None and path == self._metadata_path:
            await _send_json(send, 200, self.metadata, {"Access-Control-Allow-Origin": "*"})
            return
        if path != self.path:
            await self.app(scope, receive, send)
            return
        values = authorization_values(scope.get("headers", []))
        result = await self.authenticator.check(values, self.required_scopes)
        if not isinstance(result, AuthInfo):
            assert result is not None  # optional=False: a missing token is a Refusal
            await self._refuse(send, result)
            return
        if self.tool_scopes and scope.get("method") == "POST":
            body = await _read_body(receive, self.max_body_size)
            if body is None:
                await _send_json(send, 413, {"detail": "request body too large"}, {})
                return
            denied = self._tool_denial(body, result)
            if denied is not None:
                await self._refuse(send, *denied)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _tool_denial(self, body: bytes, auth: AuthInfo) -> tuple[Refusal, Any] | None:
        try:
            parsed = json.loads(body)
        except ValueError:
            return None  # the MCP app answers the parse error itself
        for message in parsed if isinstance(parsed, list) else [parsed]:
            if not isinstance(message, dict) or message.get("method") != "tools/call":
                continue
            params = message.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            needed = self.tool_scopes.get(name) if isinstance(name, str) else None
            if needed and any(s not in auth.scopes for s in needed):
                refusal = self.authenticator.refuse(InsufficientScopeError(needed, auth.scopes))
                error = {
                    "jsonrpc": "2.0",
                    "id": message.get("id"),
                    "error": {
                        "code": INSUFFICIENT_SCOPE_CODE,
                        "message": f"insufficient_scope: tool {name} requires {' '.join(needed)}",
                        "data": {"error": "insufficient_scope", "scope": " ".join(needed)},
                    },
                }
                return refusal, error
        return None

    async def _refuse(self, send: Send, refusal: Refusal, body: Any = None) -> None:
        answer = refusal.body if body is None else body
        await _send_json(send, refusal.status_code, answer, refusal.headers)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
