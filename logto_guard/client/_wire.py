"""The token endpoint's protocol for :mod:`logto_guard.client`.

The request is the one in Logto's M2M guide (RFC 6749 §4.4, client credentials)::

    POST <endpoint>/oidc/token
    Authorization: Basic base64(app_id:app_secret)
    Content-Type: application/x-www-form-urlencoded

    grant_type=client_credentials&resource=...&scope=a b&organization_id=...

and every answer other than a well-formed 200 becomes a :class:`TokenRequestError`. No
message carries the app secret (raw, form-encoded, or inside the Basic credentials in any
base64 alphabet), and no httpx exception escapes.

A hostile or broken token endpoint cannot exhaust the process: the request asks for
``Accept-Encoding: identity`` and the raw body is read with a cap
(:data:`MAX_RESPONSE_BYTES`); an answer in any content coding, or longer than the cap, is
``invalid_response`` without decompressing a byte (a 2 KB gzip bomb once took 2.1 GB).
JSON nested too deeply for the parser and out-of-range ``expires_in`` values are
``invalid_response`` too.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from .._core.bounded_body import read_capped, read_capped_sync
from .._core.errors import LogtoGuardError
from ._cache import AccessToken

MAX_RESPONSE_BYTES = 256 * 1024
"""The largest token-endpoint answer read (Logto's are under 4 KiB; a JWT with many claims
stays far below)."""

MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
"""A longer ``expires_in`` is nonsense (Logto's maximum TTL is far lower): refused."""


class TokenRequestError(LogtoGuardError):
    """The token endpoint refused the request, answered nonsense, or could not be reached.

    Attributes:
        error: the OAuth error (``invalid_client``, ``invalid_target``, ...), or
            ``invalid_response`` / ``network_error`` when there is no usable answer.
        error_description: the explanation, if any.
        code: Logto's own code (``oidc.invalid_client``), if any.
        status_code: the HTTP status of the token response (``None`` for network errors).
    """

    def __init__(
        self,
        error: str,
        error_description: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(f"{error}: {error_description}" if error_description else error)
        self.error = error
        self.error_description = error_description
        self.code = code
        self.status_code = status_code


class Answer:
    """A token-endpoint answer read within the caps: status and raw body, or a problem."""

    __slots__ = ("body", "problem", "status")

    def __init__(self, status: int, body: bytes, problem: str | None = None) -> None:
        self.status = status
        self.body = body
        self.problem = problem


def _coding_problem(headers: Mapping[str, str]) -> str | None:
    coding = headers.get("content-encoding", "identity").strip().lower()
    if coding not in ("", "identity"):
        # We asked for identity: decoding a coding we refused to accept is how bombs go off.
        return f"the token response uses Content-Encoding {coding[:40]!r} (identity was asked)"
    return None


_TOO_LARGE = f"the token response is larger than {MAX_RESPONSE_BYTES} bytes"


def _answer(status: int, body: bytes | None) -> Answer:
    return Answer(status, b"", _TOO_LARGE) if body is None else Answer(status, body)


async def read_async(client: httpx.AsyncClient, request: dict[str, Any]) -> Answer:
    """POST ``request`` and read the raw answer within :data:`MAX_RESPONSE_BYTES`."""
    async with client.stream("POST", **request) as response:
        problem = _coding_problem(response.headers)
        if problem is not None:
            return Answer(response.status_code, b"", problem)
        # Identity checked above, so aiter_bytes decodes nothing (and also serves mocks).
        body = await read_capped(response.aiter_bytes(), MAX_RESPONSE_BYTES)
        return _answer(response.status_code, body)


def read_sync(client: httpx.Client, request: dict[str, Any]) -> Answer:
    """Blocking twin of :func:`read_async`: the same checks, only the reads block."""
    with client.stream("POST", **request) as response:
        problem = _coding_problem(response.headers)
        if problem is not None:
            return Answer(response.status_code, b"", problem)
        body = read_capped_sync(response.iter_bytes(), MAX_RESPONSE_BYTES)
        return _answer(response.status_code, body)


class TokenEndpoint:
    """Builds token requests for one M2M app and turns the answers into tokens or errors."""

    def __init__(self, *, url: str, app_id: str, app_secret: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        # RFC 6749 §2.3.1: id and secret are form-urlencoded first, then Basic-encoded.
        basic = f"{quote(app_id, safe='')}:{quote(app_secret, safe='')}".encode()
        self._headers = {
            "Authorization": f"Basic {base64.b64encode(basic).decode('ascii')}",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
        }
        self._secrets = _spellings(app_secret, basic, f"{app_id}:{app_secret}".encode())

    def client_credentials(
        self, resource: str | None, scopes: Iterable[str], organization_id: str | None
    ) -> dict[str, Any]:
        """Keyword arguments for ``client.stream("POST", ...)``: a client-credentials request."""
        form = {"grant_type": "client_credentials"}
        if resource is not None:
            form["resource"] = resource
        if scopes:
            form["scope"] = " ".join(sorted(scopes))
        if organization_id is not None:
            form["organization_id"] = organization_id
        return self.request(form)

    def request(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Keyword arguments for ``client.stream("POST", ...)`` carrying ``form``."""
        # auth=None: a client-wide auth (even one from auth()) must not touch this request;
        # no redirects: the credentials go to the token endpoint and nowhere else.
        return {
            "url": self.url,
            "data": dict(form),
            "headers": self._headers,
            "auth": None,
            "follow_redirects": False,
            "timeout": self.timeout,
        }

    def parse(
        self,
        answer: Answer,
        *,
        requested_at: float,
        resource: str | None,
        organization_id: str | None,
        secrets: Iterable[str] = (),
        explain: Callable[[str, str | None], str | None] | None = None,
    ) -> AccessToken:
        """The token in a 200 answer; raises :class:`TokenRequestError` for anything else.

        ``secrets`` (subject and actor tokens) are redacted like the app secret;
        ``explain(error, description)`` may replace the description of a refusal.
        """
        status = answer.status
        if answer.problem is not None:
            raise TokenRequestError("invalid_response", answer.problem, status_code=status)
        try:
            body = json.loads(answer.body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested absurdly deep
            body = None
        fields: dict[str, Any] = body if isinstance(body, dict) else {}
        if status != 200:
            redact = self._redactor(secrets)
            # Logto: {"code": "oidc.<error>", "message", "error", "error_description"}; its
            # errors from outside the OIDC provider have only "code" and "message".
            error, code = _text(fields, "error"), _text(fields, "code")
            if error is None and code is None:
                detail = f"HTTP {status} without an OAuth error body"
                raise TokenRequestError("invalid_response", detail, status_code=status)
            description = _text(fields, "error_description") or _text(fields, "message")
            error_text = redact(error or code or "")
            description = redact(description) if description else None
            if explain is not None:
                description = explain(error_text, description)
            raise TokenRequestError(
                error_text,
                description,
                code=redact(code) if code else None,
                status_code=status,
            )
        problem = _success_problem(body)
        if problem is not None:
            raise TokenRequestError("invalid_response", problem, status_code=status)
        expires_in = float(fields["expires_in"])
        return AccessToken(
            access_token=fields["access_token"],
            token_type=fields["token_type"],
            expires_in=expires_in,
            expires_at=requested_at + expires_in,
            scopes=frozenset((fields.get("scope") or "").split(" ")) - {""},
            resource=resource,
            organization_id=organization_id,
        )

    def network_error(self, exc: httpx.HTTPError, secrets: Iterable[str] = ()) -> TokenRequestError:
        """The :class:`TokenRequestError` for a timeout, refused connection, ..."""
        detail = self._redactor(secrets)(f"{type(exc).__name__}: {exc}")
        return TokenRequestError("network_error", f"POST {self.url} failed: {detail}")

    def _redactor(self, extra: Iterable[str]) -> Callable[[str], str]:
        spellings = sorted(
            {*self._secrets, *(s for token in extra for s in _spellings(token))},
            key=len,
            reverse=True,  # the Basic credentials before the secret they contain
        )

        def redact(text: str) -> str:
            for secret in spellings:
                text = text.replace(secret, "***")
            return text

        return redact


def _spellings(secret: str, *credentials: bytes) -> set[str]:
    """Every way ``secret`` (and base64 ``credentials``) may be echoed back to us."""
    found = {secret, quote(secret, safe=""), quote(secret), json.dumps(secret)[1:-1]}
    for raw in credentials:
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            text = encoded.decode("ascii")
            found |= {text, text.rstrip("="), quote(text, safe=""), quote(text.rstrip("="))}
    return {s for s in found if len(s) >= 4}  # "***" for every "a" would be absurd


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) and value else None


def _success_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the token response is not a JSON object"
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        return "the token response has no access_token"
    if not isinstance(body.get("token_type"), str) or body["token_type"].lower() != "bearer":
        return "the token response's token_type is not Bearer"
    expires_in = body.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return "the token response has no numeric expires_in"
    if isinstance(expires_in, int) and not 0 < expires_in <= MAX_EXPIRES_IN:
        # Checked as an int first: float() of a 401-digit integer raises OverflowError.
        return f"the token response's expires_in is not between 1 and {MAX_EXPIRES_IN}"
    if not math.isfinite(expires_in) or not 0 < expires_in <= MAX_EXPIRES_IN:
        return f"the token response's expires_in is not between 1 and {MAX_EXPIRES_IN}"
    if body.get("scope") is not None and not isinstance(body["scope"], str):
        return "the token response's scope is not a string"
    return None
