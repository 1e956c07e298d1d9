"""The token endpoint's protocol for :mod:`logto_guard.client`.

The request is the one in Logto's M2M guide (RFC 6749 §4.4, client credentials)::

    POST <endpoint>/oidc/token
    Authorization: Basic base64(app_id:app_secret)
    Content-Type: application/x-www-form-urlencoded

    grant_type=client_credentials&resource=...&scope=a b&organization_id=...

and every answer other than a well-formed 200 becomes a :class:`TokenRequestError`. No
message carries the app secret, and no httpx exception escapes.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import httpx

from .._errors import LogtoGuardError
from ._cache import AccessToken


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


class TokenEndpoint:
    """Builds token requests for one M2M app and turns the answers into tokens or errors."""

    def __init__(self, *, url: str, app_id: str, app_secret: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._secrets = (app_secret, quote(app_secret, safe=""))
        # RFC 6749 §2.3.1: id and secret are form-urlencoded first, then Basic-encoded.
        basic = f"{quote(app_id, safe='')}:{quote(app_secret, safe='')}".encode()
        self._headers = {
            "Authorization": f"Basic {base64.b64encode(basic).decode('ascii')}",
            "Accept": "application/json",
        }

    def request(
        self, resource: str | None, scopes: Iterable[str], organization_id: str | None
    ) -> dict[str, Any]:
        """Keyword arguments for ``Client.post`` / ``AsyncClient.post``."""
        form = {"grant_type": "client_credentials"}
        if resource is not None:
            form["resource"] = resource
        if scopes:
            form["scope"] = " ".join(sorted(scopes))
        if organization_id is not None:
            form["organization_id"] = organization_id
        # auth=None: a client-wide auth (even one from auth()) must not touch this request;
        # no redirects: the credentials go to the token endpoint and nowhere else.
        return {
            "url": self.url,
            "data": form,
            "headers": self._headers,
            "auth": None,
            "follow_redirects": False,
            "timeout": self.timeout,
        }

    def parse(
        self,
        response: httpx.Response,
        *,
        requested_at: float,
        resource: str | None,
        organization_id: str | None,
    ) -> AccessToken:
        """The token in a 200 answer; raises :class:`TokenRequestError` for anything else."""
        try:
            body = response.json()
        except ValueError:  # not JSON, or not even UTF-8
            body = None
        fields: dict[str, Any] = body if isinstance(body, dict) else {}
        status = response.status_code
        if status != 200:
            # Logto: {"code": "oidc.<error>", "message", "error", "error_description"}; its
            # errors from outside the OIDC provider have only "code" and "message".
            error, code = _text(fields, "error"), _text(fields, "code")
            if error is None and code is None:
                detail = f"HTTP {status} without an OAuth error body"
                raise TokenRequestError("invalid_response", detail, status_code=status)
            description = _text(fields, "error_description") or _text(fields, "message")
            raise TokenRequestError(
                self._redact(error or code or ""),
                self._redact(description) if description else None,
                code=code,
                status_code=status,
            )
        problem = _success_problem(body)
        if problem is not None:
            raise TokenRequestError("invalid_response", problem, status_code=status)
        return AccessToken(
            access_token=fields["access_token"],
            token_type=fields["token_type"],
            expires_in=fields["expires_in"],
            expires_at=requested_at + fields["expires_in"],
            scopes=frozenset((fields.get("scope") or "").split()),
            resource=resource,
            organization_id=organization_id,
        )

    def network_error(self, exc: httpx.HTTPError) -> TokenRequestError:
        """The :class:`TokenRequestError` for a timeout, refused connection, ..."""
        detail = self._redact(f"{type(exc).__name__}: {exc}")
        return TokenRequestError("network_error", f"POST {self.url} failed: {detail}")

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


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
    if not math.isfinite(expires_in) or expires_in <= 0:
        return "the token response's expires_in is not a positive number"
    if body.get("scope") is not None and not isinstance(body["scope"], str):
        return "the token response's scope is not a string"
    return None
