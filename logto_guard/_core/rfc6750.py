"""RFC 6750 on the wire: reading ``Authorization`` and writing refusals.

:func:`refusal` is the one place where an :class:`AuthError` becomes a status, headers and
a JSON body; every front end (FastAPI, ASGI, MCP, the dev issuer's stand-in) sends what it
returns, so all of them answer exactly alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
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
    return [value.decode("latin-1") for name, value in headers if name.lower() == b"authorization"]


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
        """The body as compact UTF-8 JSON."""
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


def refusal(exc: AuthError, realm: str, *, resource_metadata: str | None = None) -> Refusal:
    """The answer to ``exc``; ``resource_metadata`` is the RFC 9728 metadata URL, if any."""
    return Refusal(
        error=exc,
        status_code=exc.status_code,
        headers=error_headers(exc, realm, resource_metadata=resource_metadata),
        body=error_body(exc),
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def error_headers(
    exc: AuthError, realm: str, *, resource_metadata: str | None = None
) -> dict[str, str]:
    """Response headers for ``exc``: ``WWW-Authenticate`` (RFC 6750 §3), or ``Retry-After``."""
    if isinstance(exc, KeysUnavailableError):
        return {"Retry-After": str(exc.retry_after)}
    params = [f"realm={_quote(realm)}"]
    if exc.error is not None:
        params.append(f"error={_quote(exc.error)}")
        params.append(f"error_description={_quote(exc.description)}")
    if isinstance(exc, InsufficientScopeError):
        params.append(f"scope={_quote(' '.join(exc.required_scopes))}")
    if resource_metadata is not None:  # RFC 9728 §5.1
        params.append(f"resource_metadata={_quote(resource_metadata)}")
    return {"WWW-Authenticate": "Bearer " + ", ".join(params)}


def error_body(exc: AuthError) -> dict[str, Any]:
    """The JSON body for ``exc``: ``detail``, plus ``error`` when RFC 6750 gives a code."""
    body: dict[str, Any] = {"detail": exc.description}
    if exc.error is not None:
        body["error"] = exc.error
    return body
