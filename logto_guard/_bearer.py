"""RFC 6750 on the wire: reading ``Authorization`` and writing error answers.

Shared by the FastAPI security scheme and the plain ASGI middleware so that both answer
exactly alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ._errors import (
    AuthError,
    CredentialsMissingError,
    InsufficientScopeError,
    InvalidRequestError,
    KeysUnavailableError,
)

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive
# (RFC 9110 §11.1).
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


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


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def error_headers(exc: AuthError, realm: str) -> dict[str, str]:
    """Response headers for ``exc``: ``WWW-Authenticate`` (RFC 6750 §3), or ``Retry-After``."""
    if isinstance(exc, KeysUnavailableError):
        return {"Retry-After": str(exc.retry_after)}
    params = [f"realm={_quote(realm)}"]
    if exc.error is not None:
        params.append(f"error={_quote(exc.error)}")
        params.append(f"error_description={_quote(exc.description)}")
    if isinstance(exc, InsufficientScopeError):
        params.append(f"scope={_quote(' '.join(exc.required_scopes))}")
    return {"WWW-Authenticate": "Bearer " + ", ".join(params)}


def error_body(exc: AuthError) -> dict[str, Any]:
    """The JSON body for ``exc``: ``detail``, plus ``error`` when RFC 6750 gives a code."""
    body: dict[str, Any] = {"detail": exc.description}
    if exc.error is not None:
        body["error"] = exc.error
    return body
