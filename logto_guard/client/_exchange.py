"""Token exchange (RFC 8693) the way Logto implements it, for :mod:`logto_guard.client`.

Logto reads exactly ``subject_token``, ``subject_token_type``, ``actor_token``,
``actor_token_type``, ``resource``, ``organization_id`` and ``scope`` (everything else,
``audience`` and ``requested_token_type`` included, is dropped), answers without
``issued_token_type``, and hides every subject-token failure behind one opaque
``invalid_grant``: :func:`explain` turns it into a message listing the usual causes.

Logto gives the issued token the target resource's full TTL, however little the subject
token has left. A cached exchanged token must not outlive the user's own token (the user's
session ended; the service acting for the user must stop too), so the cache is bounded by
the subject token's ``exp`` when it is a JWT: decoded *without* verification, only to
shorten the cache. A forged ``exp`` can only make us ask Logto sooner, never grant more:
Logto itself verifies the subject token on every exchange.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Iterable

from ._auth import Plan, scope_set

# URNs, not secrets (S105).
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
"""A Logto access token of the tenant (opaque or JWT), e.g. the one your API received."""
IMPERSONATION_TOKEN_TYPE = "urn:logto:token-type:impersonation_token"  # noqa: S105
"""A ``sub_...`` token from Logto's Management API ``POST /api/subject-tokens`` (single use)."""
PERSONAL_ACCESS_TOKEN_TYPE = "urn:logto:token-type:personal_access_token"  # noqa: S105
"""A user's personal access token (``pat_...``, reusable)."""

DEFAULT_MAX_CACHED_TOKENS = 1024

_INVALID_GRANT_CAUSES = (
    "Logto says only 'grant request is invalid'; the usual causes: the subject token "
    "expired or (impersonation tokens) was already used; a wrong subject_token_type; a "
    "subject token from another Logto tenant; a deleted or suspended user; or this app is "
    "not allowed to exchange tokens (Logto Console: the app's settings, enable token "
    "exchange, customClientMetadata.allowTokenExchange). Logto's audit log has the reason."
)
_NOT_ALLOWED_FIX = (
    "this app may not use token exchange: enable it in Logto Console (the app's settings, "
    "token exchange; customClientMetadata.allowTokenExchange)"
)


def digest(token: str) -> str:
    """SHA-256 hex of a token: what the cache keys hold instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def build(
    subject_token: str,
    *,
    resource: str | None,
    scopes: Iterable[str],
    subject_token_type: str,
    actor_token: str | None,
    actor_token_type: str,
    organization_id: str | None,
) -> Plan:
    """The form Logto reads, the cache key (digests only) and the cap of one exchange.

    Raises:
        ValueError: ``subject_token`` or ``subject_token_type`` is empty or not a string.
    """
    scopes = scope_set(scopes)
    for name, value in (
        ("subject_token", subject_token),
        ("subject_token_type", subject_token_type),
    ):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
    form = {
        "grant_type": TOKEN_EXCHANGE_GRANT,
        "subject_token": subject_token,
        "subject_token_type": subject_token_type,
    }
    if resource is not None:
        form["resource"] = resource
    if scopes:
        form["scope"] = " ".join(sorted(scopes))
    if organization_id is not None:
        form["organization_id"] = organization_id
    secrets = [subject_token]
    actor = None
    if actor_token is not None:
        form["actor_token"] = actor_token
        form["actor_token_type"] = actor_token_type
        secrets.append(actor_token)
        actor = (digest(actor_token), actor_token_type)
    key = (
        "exchange",
        digest(subject_token),
        subject_token_type,
        resource,
        tuple(sorted(scopes)),
        organization_id,
        actor,
    )
    return Plan(
        key=key,
        form=form,
        resource=resource,
        organization_id=organization_id,
        secrets=tuple(secrets),
        explain=explain,
        not_after=unverified_exp(subject_token),
    )


def unverified_exp(token: str) -> float | None:
    """The ``exp`` of a JWT, read without verification (only to bound a cache); else None."""
    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > 16384:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    try:
        value = float(exp)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def explain(error: str, description: str | None) -> str | None:
    """A description naming the usual causes of Logto's opaque exchange refusals."""
    if error == "invalid_grant":
        return f"{description or 'grant request is invalid'}. {_INVALID_GRANT_CAUSES}"
    if error == "invalid_request" and description and "not allowed for this client" in description:
        return f"{description}: {_NOT_ALLOWED_FIX}"
    return description
