"""RFC 6750 on the wire: reading ``Authorization`` and writing refusals.

:func:`refusal` is the one place where an :class:`AuthError` becomes a status, headers and
a JSON body, :func:`json_bytes` the one JSON encoding and :meth:`Refusal.raw_headers` the
one header list. :func:`send_refusal` is the one ASGI writer (the ASGI and MCP middleware,
and a :class:`Refusal` used as an ASGI app, as the dev issuer's stand-in does); the FastAPI
front end's Starlette response carries the same bytes. So all of them answer exactly alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import (
    AuthError,
    CredentialsMissingError,
    InsufficientScopeError,
    InvalidRequestError,
    KeysUnavailableError,
)

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive
# (RFC 9110 §11.1).
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def authorization_values(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    """Every ``Authorization`` value among an ASGI scope's raw ``headers``."""
    # ASGI servers send lower-case names; the length test spares lower() on every other one.
    return [
        value.decode("latin-1")
        for name, value in headers
        if len(name) == 13 and name.lower() == b"authorization"
    ]


def parse_authorization(values: Sequence[str]) -> str:
    """The bearer token from the request's ``Authorization`` header values.

    Raises:
        CredentialsMissingError: no header, or another scheme (answered without error code).
        InvalidRequestError: several headers, or Bearer with empty or malformed credentials.
    """
    if not values:
        raise CredentialsMissingError()
    if len(values) > 1:
        raise InvalidRequestError("multiple Authorization headers")
    scheme, _, credentials = values[0].strip(" \t").partition(" ")
    if scheme.lower() != "bearer":
        raise CredentialsMissingError()
    credentials = credentials.strip(" ")
    if not credentials:
        raise InvalidRequestError("bearer token is empty")
    if not _B64TOKEN.fullmatch(credentials):
        raise InvalidRequestError("bearer credentials are not a single token")
    return credentials


#: RFC 6455 §7.4.1 (policy violation): how every front end closes a refused WebSocket.
WEBSOCKET_REFUSAL_CODE = 1008
#: RFC 6455 §5.5: a close frame's payload is at most 125 bytes, 2 of them the code.
_MAX_CLOSE_REASON = 123

_Message = MutableMapping[str, Any]
_Send = Callable[[_Message], Awaitable[None]]


def json_bytes(value: Any) -> bytes:
    """The one JSON encoding of every answer logto-guard writes: compact UTF-8 (as
    Starlette's ``JSONResponse`` encodes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """``headers`` as ASGI sends them: lower-case latin-1 names, latin-1 values."""
    return [(name.lower().encode("latin-1"), v.encode("latin-1")) for name, v in headers.items()]


def json_headers(body: bytes, headers: Mapping[str, str] = {}) -> list[tuple[bytes, bytes]]:
    """The raw ASGI headers of a JSON answer: content type, length of ``body``, ``headers``."""
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("latin-1")),
        *encode_headers(headers),
    ]


def websocket_close_reason(description: str) -> str:
    """The close reason of a refused WebSocket: the description, cut to fit a close frame."""
    encoded = description.encode("utf-8")
    if len(encoded) <= _MAX_CLOSE_REASON:
        return description
    return encoded[:_MAX_CLOSE_REASON].decode("utf-8", "ignore")


@dataclass(frozen=True, slots=True)
class Refusal:
    """How to answer a refused request: status, headers and JSON body of one AuthError.

    Attributes:
        error: the refusal's cause, with its evidence.
        status_code: 400, 401, 403 or 503.
        headers: ``WWW-Authenticate`` (RFC 6750 §3), or ``Retry-After`` for a 503.
        body: ``{"detail": ...}``, plus ``"error"`` when RFC 6750 gives a code.
    """

    error: AuthError
    status_code: int
    headers: Mapping[str, str]
    body: Mapping[str, Any]

    def body_bytes(self) -> bytes:
        """The body as compact UTF-8 JSON (:func:`json_bytes`)."""
        return json_bytes(self.body)

    def raw_headers(self, body: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """Every response header as ASGI sends it: ``content-type``, ``content-length`` (of
        ``body``, by default :meth:`body_bytes`), then ``www-authenticate`` or
        ``retry-after``."""
        return json_headers(self.body_bytes() if body is None else body, self.headers)

    async def __call__(
        self, scope: _Message, receive: Callable[[], Awaitable[_Message]], send: _Send
    ) -> None:
        """Answer as an ASGI app (a Starlette endpoint may return the refusal itself): the
        status, :meth:`raw_headers` and :meth:`body_bytes`; a WebSocket is closed with
        :data:`WEBSOCKET_REFUSAL_CODE` before it is accepted."""
        await send_refusal(scope, send, self)


async def send_json(send: _Send, status: int, body: bytes, headers: Mapping[str, str] = {}) -> None:
    """Send a JSON answer (``body`` already encoded) on an ASGI ``send``."""
    raw = json_headers(body, headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_refusal(scope: _Message, send: _Send, refusal: Refusal, body: Any = None) -> None:
    """The one ASGI writer of a :class:`Refusal`: its status, headers and JSON body (or
    ``body`` instead, e.g. a JSON-RPC error), or for a WebSocket handshake a close with
    :data:`WEBSOCKET_REFUSAL_CODE` and the description as reason."""
    if scope["type"] == "websocket":
        reason = websocket_close_reason(refusal.error.description)
        await send({"type": "websocket.close", "code": WEBSOCKET_REFUSAL_CODE, "reason": reason})
        return
    payload = refusal.body_bytes() if body is None else json_bytes(body)
    await send_json(send, refusal.status_code, payload, refusal.headers)


def refusal(
    exc: AuthError,
    realm: str,
    *,
    resource_metadata: str | None = None,
    scope: Sequence[str] = (),
) -> Refusal:
    """The answer to ``exc``; ``resource_metadata`` is the RFC 9728 metadata URL, if any,
    and ``scope`` the scopes the operation needs, named in a 401 challenge."""
    return Refusal(
        error=exc,
        status_code=exc.status_code,
        headers=error_headers(exc, realm, resource_metadata=resource_metadata, scope=scope),
        body=error_body(exc),
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def error_headers(
    exc: AuthError,
    realm: str,
    *,
    resource_metadata: str | None = None,
    scope: Sequence[str] = (),
) -> dict[str, str]:
    """Response headers for ``exc``: ``WWW-Authenticate`` (RFC 6750 §3), or ``Retry-After``.

    ``scope`` is named in a 401 challenge (RFC 6750 §3 allows it on any challenge; MCP's
    "Scope Selection Strategy" asks for it); a 403 names the missing scopes instead.
    """
    if isinstance(exc, KeysUnavailableError):
        return {"Retry-After": str(exc.retry_after)}
    params = [f"realm={_quote(realm)}"]
    if exc.error is not None:
        params.append(f"error={_quote(exc.error)}")
        params.append(f"error_description={_quote(exc.description)}")
    if isinstance(exc, InsufficientScopeError):
        params.append(f"scope={_quote(' '.join(exc.required_scopes))}")
    elif scope and exc.status_code == 401:
        params.append(f"scope={_quote(' '.join(scope))}")
    if resource_metadata is not None:  # RFC 9728 §5.1
        params.append(f"resource_metadata={_quote(resource_metadata)}")
    return {"WWW-Authenticate": "Bearer " + ", ".join(params)}


def error_body(exc: AuthError) -> dict[str, Any]:
    """The JSON body for ``exc``: ``detail``, plus ``error`` when RFC 6750 gives a code."""
    body: dict[str, Any] = {"detail": exc.description}
    if exc.error is not None:
        body["error"] = exc.error
    return body
