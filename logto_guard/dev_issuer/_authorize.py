"""The authorization-code grant with PKCE (S256) for dev users, and RFC 7591 registration.

``GET <issuer>/auth`` approves at once (dev mode, no login page) for the user named by
``login_hint`` (a username or user id; default the ``dev`` user) and redirects to the
client's registered ``redirect_uri`` with ``code``, ``state`` and ``iss`` (RFC 9207). It
answers only requests whose ``Host`` is loopback or the issuer's host. ``POST <issuer>/reg``
registers a public client (``token_endpoint_auth_method`` ``none``).
:data:`DEV_PUBLIC_CLIENT` is pre-registered and accepts any ``http`` loopback redirect URI
(RFC 8252 §7.3).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode, urlsplit

from logto_guard.dev_issuer._errors import OAuthError
from logto_guard.dev_issuer._runtime import CODE_TTL, Code, PublicClient, Runtime
from logto_guard.dev_issuer._state import IssuerState
from logto_guard.dev_issuer._token import Params, authenticate, single, token_body
from logto_guard.dev_issuer._users import DEFAULT_USER_ID, Directory, User
from logto_guard.lowlevel import is_loopback

DEV_PUBLIC_CLIENT = "dev-public-client"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")


def _loopback_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and is_loopback(parts.hostname or "")


def find_client(runtime: Runtime, client_id: str) -> PublicClient | None:
    """A registered public client, or the pre-registered :data:`DEV_PUBLIC_CLIENT`."""
    if client_id == DEV_PUBLIC_CLIENT:
        return PublicClient(DEV_PUBLIC_CLIENT, (), "dev public client")
    return runtime.clients.get(client_id)


def redirect_allowed(client: PublicClient, uri: str) -> bool:
    """Exact match with a registered URI (any loopback one for the dev public client)."""
    if client.client_id == DEV_PUBLIC_CLIENT:
        return _loopback_redirect(uri)
    return uri in client.redirect_uris


def register(runtime: Runtime, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """RFC 7591 registration of a public client: status and JSON body."""
    uris = data.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        return 400, {"error": "invalid_redirect_uri", "error_description": "redirect_uris required"}
    if any("#" in u or "://" not in u for u in uris):
        return 400, {"error": "invalid_redirect_uri", "error_description": "invalid redirect_uri"}
    method = data.get("token_endpoint_auth_method", "none")
    if method != "none":
        return 400, {
            "error": "invalid_client_metadata",
            "error_description": "only public clients (token_endpoint_auth_method none)",
        }
    name = data.get("client_name") if isinstance(data.get("client_name"), str) else ""
    client = runtime.register(tuple(uris), str(name))
    return 201, {
        "client_id": client.client_id,
        "client_id_issued_at": int(runtime.clock()),
        "redirect_uris": list(client.redirect_uris),
        "client_name": client.client_name,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }


def authorize(
    state: IssuerState, directory: Directory, runtime: Runtime, query: dict[str, str]
) -> tuple[int, str]:
    """Handle ``GET /auth``: ``(302, location)`` or ``(400, plain-text reason)``."""
    client = find_client(runtime, query.get("client_id", ""))
    if client is None:
        return 400, "unknown client_id"
    redirect_uri = query.get("redirect_uri", "")
    if not redirect_allowed(client, redirect_uri):
        return 400, "redirect_uri is not registered for this client"

    def back(params: dict[str, str]) -> tuple[int, str]:
        if "state" in query:
            params["state"] = query["state"]
        params["iss"] = state.issuer  # RFC 9207: lets the client detect a mix-up
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return 302, redirect_uri + separator + urlencode(params)

    def fail(error: str, description: str) -> tuple[int, str]:
        return back({"error": error, "error_description": description})

    if query.get("response_type") != "code":
        return fail("unsupported_response_type", "only response_type=code is supported")
    challenge = query.get("code_challenge", "")
    if query.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
        return fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
    resource = query.get("resource") or None
    if resource is not None and resource not in state.resources:
        return fail("invalid_target", "resource indicator is missing, or unknown")
    hint = query.get("login_hint", "")
    user = directory.find_username(hint) or directory.get_user(hint or DEFAULT_USER_ID)
    if user is None:
        return fail("access_denied", "unknown dev user")
    scopes = tuple(dict.fromkeys(s for s in query.get("scope", "").split(" ") if s))
    code = Code(
        client.client_id, redirect_uri, challenge, resource, user.user_id, scopes,
        runtime.clock() + CODE_TTL,
    )  # fmt: skip
    return back({"code": runtime.new_code(code)})


def user_scopes(state: IssuerState, user: User, resource: str, requested: Any) -> list[str]:
    """Requested ∩ the user's role scopes for ``resource`` ∩ what the resource defines."""
    defined = state.resources[resource].scopes
    allowed = set(user.roles.get(resource, ())) & set(defined)
    return [s for s in requested if s in allowed]


def authorization_code(
    state: IssuerState, directory: Directory, runtime: Runtime, params: Params, auth: str | None
) -> dict[str, Any]:
    """The ``authorization_code`` grant (public clients, or confidential apps).

    Raises:
        OAuthError: invalid_client, invalid_request or invalid_grant.
    """
    client_id = single(params, "client_id") or ""
    if auth is not None or single(params, "client_secret") is not None:
        client_id = authenticate(state, params, auth).app_id
    elif find_client(runtime, client_id) is None:
        raise OAuthError("invalid_client", f"invalid client {client_id}")
    value, verifier = single(params, "code"), single(params, "code_verifier")
    if value is None:
        raise OAuthError("invalid_request", "missing required parameter 'code'")
    if verifier is None:
        raise OAuthError("invalid_grant", "PKCE verification failed")
    code = runtime.take_code(value)
    if code is None or code.client_id != client_id:
        raise OAuthError("invalid_grant", "grant request is invalid")
    if single(params, "redirect_uri") != code.redirect_uri:
        raise OAuthError("invalid_grant", "authorization code redirect_uri mismatch")
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    if not hmac.compare_digest(expected, code.code_challenge):
        raise OAuthError("invalid_grant", "PKCE verification failed")
    resource = single(params, "resource") or code.resource
    if resource != code.resource and code.resource is not None:
        raise OAuthError("invalid_target", "resource does not match the authorization request")
    user = directory.get_user(code.user_id)
    if user is None:
        raise OAuthError("invalid_grant", "grant request is invalid")
    if resource is None:
        oidc = tuple(s for s in code.scopes if s in OIDC_SCOPES)
        token = runtime.new_opaque(user.user_id, oidc, client_id)
        return token_body(token, 3600, " ".join(oidc))
    if resource not in state.resources:
        raise OAuthError("invalid_target", "resource indicator is missing, or unknown")
    granted = user_scopes(state, user, resource, code.scopes)
    jwt_token = state.mint(
        client_id, audience=resource, scopes=granted or None, extra_claims={"sub": user.user_id}
    )
    ttl = state.resources[resource].access_token_ttl
    return token_body(jwt_token, ttl, " ".join(granted) or None)
