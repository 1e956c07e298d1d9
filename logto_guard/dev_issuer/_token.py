"""The token endpoint's logic: client authentication and the client_credentials grant.

Errors follow Logto (node-oidc-provider underneath): see ``OAuthError.body``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from logto_guard.dev_issuer._errors import OAuthError
from logto_guard.dev_issuer._model import DEFAULT_TTL, App
from logto_guard.dev_issuer._state import IssuerState
from logto_guard.signing import ORGANIZATION_AUDIENCE_PREFIX

Params = dict[str, list[str]]

# RFC 6749 §3.3 scope = scope-token *( SP scope-token ); empty tokens from extra spaces are
# tolerated like node-oidc-provider does.
_SCOPE_CHARS = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
_MULTI_VALUED = frozenset({"resource"})
MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32


def load_json(raw: bytes | str) -> Any:
    """``json.loads`` after refusing nesting deeper than ``MAX_JSON_DEPTH``.

    The standard parser recurses once per level: a body of 100,000 ``[`` raises
    ``RecursionError``. Counting brackets outside strings first keeps that a client error.

    Raises:
        ValueError: not JSON, not UTF-8, or nested too deeply.
    """
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        elif char in "]}":
            depth -= 1
    return json.loads(text)


def parse_body(body: bytes, content_type: str) -> Params:
    """Parse a form-encoded or JSON token request into ``name -> values`` (empty dropped).

    Raises:
        OAuthError: invalid_request when the body cannot be parsed.
    """
    try:
        text = body.decode("utf-8")
        if content_type.split(";")[0].strip().lower() == "application/json":
            return _json_params(load_json(text) if text.strip() else {})
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=256)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "could not parse the request body") from exc
    params: Params = {}
    for name, value in pairs:
        if value:
            params.setdefault(name, []).append(value)
    return params


def _json_params(data: Any) -> Params:
    if not isinstance(data, dict):
        raise ValueError("the JSON body must be an object")
    params: Params = {}
    for name, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise ValueError(f"{name!r} must be a string or a list of strings")
        kept = [v for v in values if v]
        if kept:
            params[name] = kept
    return params


def single(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if authorization is None:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_request", "invalid authorization header value format") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise OAuthError("invalid_request", "invalid authorization header value format")
    # RFC 6749 §2.3.1: both parts are application/x-www-form-urlencoded before base64.
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate(state: IssuerState, params: Params, authorization: str | None) -> App:
    """Authenticate the client by HTTP Basic (client_secret_basic) or body (client_secret_post).

    Raises:
        OAuthError: invalid_request (no or two mechanisms) or invalid_client.
    """
    basic = _basic_credentials(authorization)
    body_id, body_secret = single(params, "client_id"), single(params, "client_secret")
    if basic is not None:
        if body_secret is not None:
            raise OAuthError(
                "invalid_request", "client authentication must only be provided using one mechanism"
            )
        if body_id is not None and body_id != basic[0]:
            raise OAuthError("invalid_request", "mismatch in body and authorization client ids")
        client_id, secret = basic
    elif body_id is not None:
        client_id, secret = body_id, body_secret or ""
    else:
        raise OAuthError("invalid_request", "no client authentication mechanism provided")
    app = state.get_app(client_id)
    if app is None:
        raise OAuthError("invalid_client", f"invalid client {client_id}")
    if not secret or not hmac.compare_digest(secret.encode(), app.app_secret.encode()):
        headers = {"WWW-Authenticate": f'Basic realm="{state.issuer}"'} if basic else {}
        raise OAuthError(
            "invalid_client", "client authentication failed", status_code=401, headers=headers
        )
    return app


GrantHandler = Callable[[Params, "str | None"], dict[str, Any]]


def token_response(
    state: IssuerState,
    params: Params,
    authorization: str | None,
    grants: Mapping[str, GrantHandler] | None = None,
) -> dict[str, Any]:
    """Handle one token request and return the success body.

    ``grants`` maps further grant types (authorization_code, token exchange) to handlers
    that authenticate the client themselves.

    Raises:
        OAuthError: every error of Logto's token endpoint table.
    """
    for name, values in params.items():
        if len(values) > 1 and name not in _MULTI_VALUED:
            raise OAuthError("invalid_request", f"'{name}' parameter must not be provided twice")
    grant_type = single(params, "grant_type")
    handler = (grants or {}).get(grant_type or "")
    if handler is not None:
        return handler(params, authorization)
    app = authenticate(state, params, authorization)
    if grant_type is None:
        raise OAuthError("invalid_request", "missing required parameter 'grant_type'")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "unsupported grant_type requested")
    return _client_credentials(state, app, params)


def _client_credentials(state: IssuerState, app: App, params: Params) -> dict[str, Any]:
    scope = single(params, "scope") or ""
    if not _SCOPE_CHARS.fullmatch(scope):
        raise OAuthError("invalid_scope", "scope contains invalid characters")
    requested = list(dict.fromkeys(s for s in scope.split(" ") if s))
    resources = params.get("resource", [])
    organization_id = single(params, "organization_id")
    if len(resources) > 1:
        raise OAuthError(
            "invalid_target",
            "only a single resource indicator value is supported for this grant type",
        )
    if not resources and organization_id is None:
        raise OAuthError("invalid_target", "both `resource` and `organization_id` are not provided")
    resource = state.resources.get(resources[0]) if resources else None
    if resources and resource is None:
        raise OAuthError("invalid_target", "resource indicator is missing, or unknown")

    grants: Mapping[str, Sequence[str]] = app.grants
    if organization_id is not None:
        membership = app.organizations.get(organization_id)
        if membership is None:
            raise OAuthError(
                "access_denied", "app has not associated with the organization", status_code=403
            )
        grants = membership

    if resource is None:  # organization token: organization permissions, scope always present
        granted = [s for s in requested if s in grants.get("", ())]
        audience = ORGANIZATION_AUDIENCE_PREFIX + str(organization_id)
        token = state.mint(app, audience=audience, scopes=granted, ttl=DEFAULT_TTL)
        return token_body(token, DEFAULT_TTL, " ".join(granted))

    allowed = set(grants.get(resource.indicator, ())) & set(resource.scopes)
    granted = [s for s in requested if s in allowed]
    token = state.mint(
        app,
        audience=resource.indicator,
        scopes=granted or None,
        organization_id=organization_id,
        ttl=resource.access_token_ttl,
    )
    return token_body(token, resource.access_token_ttl, " ".join(granted) or None)


def token_body(token: str, ttl: int, scope: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": token, "expires_in": ttl, "token_type": "Bearer"}
    if scope is not None:
        body["scope"] = scope
    return body
