"""Logto's token exchange (RFC 8693), offline: see LOGTO.md § Token exchange.

Only ``subject_token``, ``subject_token_type``, ``actor_token``, ``actor_token_type``,
``resource``, ``organization_id`` and ``scope`` are read; anything else is ignored. Every
subject-token failure is Logto's opaque ``invalid_grant`` "grant request is invalid".
"""

from __future__ import annotations

from typing import Any

import jwt

from logto_guard.dev_issuer._authorize import user_scopes
from logto_guard.dev_issuer._errors import OAuthError
from logto_guard.dev_issuer._runtime import Runtime
from logto_guard.dev_issuer._state import IssuerState
from logto_guard.dev_issuer._token import Params, authenticate, single, token_body
from logto_guard.dev_issuer._users import Directory, User

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant type URN
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - token type URN
IMPERSONATION_TOKEN_TYPE = "urn:logto:token-type:impersonation_token"  # noqa: S105
PERSONAL_ACCESS_TOKEN_TYPE = "urn:logto:token-type:personal_access_token"  # noqa: S105


def _invalid_grant() -> OAuthError:
    return OAuthError(
        "invalid_grant", "grant request is invalid", message="Grant request is invalid."
    )


def _jwt_user(state: IssuerState, token: str) -> str | None:
    """The ``sub`` of a user access token this issuer signed (never an app token)."""
    try:
        header = jwt.get_unverified_header(token)
        key = next((k for k in state.keys if k.kid == header.get("kid")), None)
        if key is None or header.get("typ") != "at+jwt":
            return None
        claims = jwt.decode(
            token,
            key.private_key.public_key(),
            algorithms=[key.alg],
            issuer=state.issuer,
            # expiry is checked against the issuer's (injectable) clock below
            options={
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "require": ["exp", "sub", "client_id"],
            },
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= state.clock():
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) and sub != claims.get("client_id") else None


def subject_user(
    state: IssuerState, directory: Directory, runtime: Runtime, token: str, kind: str
) -> User:
    """The user a subject token stands for.

    Raises:
        OAuthError: invalid_grant for every kind of failure (Logto tells nothing more).
    """
    user_id: str | None = None
    if kind == IMPERSONATION_TOKEN_TYPE and token.startswith("sub_"):
        grant = runtime.take_subject_token(token)
        user_id = grant.user_id if grant else None
    elif kind == PERSONAL_ACCESS_TOKEN_TYPE and token.startswith("pat_"):
        owner = directory.user_for_pat(token)
        user_id = owner.user_id if owner else None
    elif kind == ACCESS_TOKEN_TYPE:
        opaque = runtime.opaque(token)
        user_id = opaque.user_id if opaque else _jwt_user(state, token)
    user = directory.get_user(user_id) if user_id else None
    if user is None:
        raise _invalid_grant()
    return user


def token_exchange(
    state: IssuerState, directory: Directory, runtime: Runtime, params: Params, auth: str | None
) -> dict[str, Any]:
    """The token-exchange grant, as Logto answers it.

    Raises:
        OAuthError: invalid_client, invalid_request, invalid_grant, invalid_target or
            access_denied (see LOGTO.md).
    """
    app = authenticate(state, params, auth)
    if not directory.allows_token_exchange(app.app_id):
        raise OAuthError("invalid_request", "requested grant type is not allowed for this client")
    subject, kind = single(params, "subject_token"), single(params, "subject_token_type")
    if subject is None or kind is None:
        name = "subject_token" if subject is None else "subject_token_type"
        raise OAuthError("invalid_request", f"missing required parameter '{name}'")
    resources = params.get("resource", [])
    if len(resources) > 1:
        raise OAuthError(
            "invalid_target",
            "only a single resource indicator value is supported for this grant type",
        )
    resource = resources[0] if resources else None
    if resource is not None and resource not in state.resources:
        raise OAuthError("invalid_target", "resource indicator is missing, or unknown")
    user = subject_user(state, directory, runtime, subject, kind)
    actor = _actor(runtime, params)
    organization_id = single(params, "organization_id")
    if organization_id is not None:
        raise OAuthError(
            "access_denied", "user is not a member of the organization", status_code=403
        )
    requested = list(dict.fromkeys(s for s in (single(params, "scope") or "").split(" ") if s))
    if resource is None:
        return token_body(runtime.new_opaque(user.user_id, (), app.app_id), 3600, "")
    granted = user_scopes(state, user, resource, requested)
    extra: dict[str, Any] = {"sub": user.user_id}
    if actor is not None:
        extra["act"] = {"sub": actor}
    token = state.mint(app, audience=resource, scopes=granted, extra_claims=extra)
    return token_body(token, state.resources[resource].access_token_ttl, " ".join(granted))


def _actor(runtime: Runtime, params: Params) -> str | None:
    """The actor's user id: an opaque user token with ``openid``, of type access_token."""
    token, kind = single(params, "actor_token"), single(params, "actor_token_type")
    if token is None:
        return None
    grant = runtime.opaque(token)
    if kind != ACCESS_TOKEN_TYPE or grant is None or "openid" not in grant.scopes:
        raise _invalid_grant()
    return grant.user_id
