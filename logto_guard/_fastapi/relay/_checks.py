"""The token relay's request checks: same origin, Basic authorization, body size, form.

Each raises :class:`RelayRefusal`, which the relay answers as an RFC 6749 §5.2 error.
The package docstring says what Swagger UI sends and why the rest is refused.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse

from ..._core import bounded_body

MAX_FORM_BYTES = 16 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", "X-Content-Type-Options": "nosniff"}
# RFC 6749 §5.2 / appendix A: error and error_description characters (NQSCHAR).
NQSCHAR = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
_KNOWN_PARAMS = frozenset({"grant_type", "scope", "resource"})
_BODY_CREDENTIALS = frozenset({"client_id", "client_secret"})
_SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class RelayRefusal(Exception):
    """A request the relay answers itself, as an RFC 6749 §5.2 error."""

    def __init__(
        self, status: int, error: str, description: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        """The JSON answer, with ``Retry-After`` (whole seconds) when set."""
        headers = dict(NO_STORE)
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers=headers)


def check_same_origin(
    origin: str | None, fetch_site: str | None, host: str, allowed: frozenset[str]
) -> None:
    """Refuse (403) a request whose ``Sec-Fetch-Site`` or ``Origin`` names another site."""
    # Browsers send Origin on every POST made by fetch (same-origin ones too) and
    # Sec-Fetch-Site on every request; non-browser clients send neither and are not a
    # cross-site risk. A form-encoded POST is a CORS "simple request": it reaches the
    # server from any page, so the check must happen here, not in the browser.
    if fetch_site is not None and fetch_site.strip().lower() not in _SAME_ORIGIN_FETCH:
        raise RelayRefusal(403, "access_denied", "cross-origin token requests are refused")
    if origin is None:
        return
    normalized = origin.strip().rstrip("/").lower()
    if normalized in allowed:
        return
    scheme, _, netloc = normalized.partition("://")
    own = _authority(host.strip().lower(), scheme)
    if own is None or _authority(netloc, scheme) != own:
        raise RelayRefusal(403, "access_denied", "cross-origin token requests are refused")


def _authority(netloc: str, scheme: str) -> str | None:
    """``host[:port]`` with the scheme's default port dropped; None when malformed."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or scheme not in _DEFAULT_PORTS or "/" in netloc:
        return None
    if port is None or str(port) == _DEFAULT_PORTS[scheme]:
        return parts.hostname
    return f"{parts.hostname}:{port}"


def basic_authorization(value: str | None) -> tuple[str, str]:
    """The ``Basic`` header to forward and its App ID; 400 ``invalid_client`` otherwise."""
    if value is None or not value.isascii():
        raise RelayRefusal(400, "invalid_client", "Basic client authentication (ASCII) required")
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "basic":
        raise RelayRefusal(400, "invalid_client", "Basic client authentication (ASCII) required")
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise RelayRefusal(400, "invalid_client", "malformed Basic credentials") from exc
    app_id, colon, _ = decoded.partition(":")
    if not colon or not app_id or not decoded.isprintable():
        raise RelayRefusal(400, "invalid_client", "malformed Basic credentials")
    return f"Basic {credentials.strip()}", app_id


async def read_capped(request: Request) -> bytes:
    """The body, refused (413) past ``MAX_FORM_BYTES`` by ``Content-Length`` or stream."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise RelayRefusal(413, "invalid_request", "request body too large")
    body = await bounded_body.read_capped(request.stream(), MAX_FORM_BYTES)
    if body is None:  # chunked or lying Content-Length: reading stopped past the cap
        raise RelayRefusal(413, "invalid_request", "request body too large")
    return body


def checked_form(body: bytes, audience: str) -> str:
    """The form to forward: known parameters once each, client_credentials, the audience."""
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=8)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RelayRefusal(400, "invalid_request", "body is not a valid form") from exc
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in _BODY_CREDENTIALS:
            raise RelayRefusal(400, "invalid_request", "credentials belong in the Basic header")
        if name not in _KNOWN_PARAMS:
            raise RelayRefusal(400, "invalid_request", "unknown parameter")
        if name in params:
            raise RelayRefusal(400, "invalid_request", "a parameter is repeated")
        params[name] = value
    if params.get("grant_type") != "client_credentials":
        raise RelayRefusal(400, "unsupported_grant_type", "only client_credentials is relayed")
    if params.setdefault("resource", audience) != audience:
        raise RelayRefusal(400, "invalid_target", "resource must be this API's audience")
    if not NQSCHAR.fullmatch(params.get("scope", "")):
        raise RelayRefusal(400, "invalid_scope", "scope contains invalid characters")
    return urlencode(params)
