"""Exceptions raised by logto-guard.

Every error the guard can raise while authenticating a request carries the HTTP status and
the RFC 6750 ``error`` code it maps to, plus a stable ``reason`` for logs and metrics::

    LogtoGuardError
    ├── ConfigurationError            bad options, raised when the guard is built
    │   └── ClientConfigurationError  bad M2M client options (logto_guard.client)
    ├── TokenRequestError             the token endpoint refused or failed (logto_guard.client)
    └── AuthError                     a request cannot be authenticated
        ├── CredentialsMissingError   401, no error code (RFC 6750 §3.1)
        ├── InvalidRequestError       400 invalid_request: malformed Authorization header
        ├── InvalidTokenError         401 invalid_token
        │   ├── MalformedTokenError   not a well-formed JWS / JWT
        │   ├── UnknownKeyError       ``kid`` not in the trusted JWKS, even after a refresh
        │   ├── AlgorithmError        ``alg`` not allowed or not matching the key
        │   ├── InvalidSignatureError signature does not verify
        │   ├── InvalidTypeError      header ``typ`` is not the access-token type
        │   └── InvalidClaimError     a claim is missing, mistyped or rejected (``.claim``)
        │       ├── ExpiredTokenError
        │       └── ImmatureTokenError
        ├── InsufficientScopeError    403 insufficient_scope (``.required_scopes``)
        ├── OrganizationMismatchError 403 insufficient_scope: token for another organization
        ├── OrganizationTokenError    403 insufficient_scope: organization token, global guard
        ├── PolicyError               403 insufficient_scope: the route's delegation policy
        │   ├── ClientNotAllowedError     ``client_id`` not among the route's ``clients``
        │   ├── ActorNotAllowedError      ``act`` present and actors refused
        │   └── DelegationNotAllowedError a delegated token and delegation refused
        └── KeysUnavailableError      503: the JWKS cannot be fetched (``.retry_after``)

Descriptions are fixed strings chosen here: they never echo token bytes back to the client.
Foreign exceptions never escape the library: httpx's and PyJWT's (PyJWT only parses JWKS
entries; signatures are checked with ``cryptography`` directly) are contained in the JWKS
cache, which turns them into a failed fetch or a skipped key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar


class LogtoGuardError(Exception):
    """Base class of every exception raised by logto-guard."""


class ConfigurationError(LogtoGuardError, ValueError):
    """An option given to the guard is invalid (raised at construction, not per request)."""


class AuthError(LogtoGuardError):
    """A request could not be authenticated or authorized.

    Attributes:
        status_code: the HTTP status the guard answers with.
        error: the RFC 6750 error code, or ``None`` when none is sent.
        reason: a stable, machine-readable reason for logs and metrics.
        description: a human-readable, client-safe explanation.
    """

    status_code: ClassVar[int] = 401
    error: ClassVar[str | None] = None
    reason: ClassVar[str] = "unauthenticated"
    default_description: ClassVar[str] = "authentication required"
    #: Operator-facing evidence for the log line (expected and received public values,
    #: already escaped); never sent to the client.
    log_detail: str | None = None

    def __init__(self, description: str | None = None) -> None:
        self.description = description or self.default_description
        super().__init__(self.description)


class CredentialsMissingError(AuthError):
    """No ``Authorization`` header, or a scheme other than Bearer."""

    reason = "credentials_missing"
    default_description = "bearer token required"


class InvalidRequestError(AuthError):
    """The ``Authorization`` header says Bearer but its credentials are malformed."""

    status_code = 400
    error = "invalid_request"
    reason = "invalid_request"
    default_description = "malformed bearer credentials"


class InvalidTokenError(AuthError):
    """The bearer token is not a valid access token for this API."""

    error = "invalid_token"
    reason = "invalid_token"
    default_description = "invalid access token"


class MalformedTokenError(InvalidTokenError):
    """The token is not a well-formed compact JWS carrying a JSON claims object."""

    reason = "malformed_token"
    default_description = "token is not a well-formed JWT"


class UnknownKeyError(InvalidTokenError):
    """The token's ``kid`` names no key of the trusted JWKS."""

    reason = "unknown_kid"
    default_description = "signing key not found"


class AlgorithmError(InvalidTokenError):
    """The token's ``alg`` is not allowed or does not fit the trusted key."""

    reason = "algorithm_not_allowed"
    default_description = "signing algorithm not allowed"


class InvalidSignatureError(InvalidTokenError):
    """The signature does not verify with the trusted key."""

    reason = "invalid_signature"
    default_description = "signature verification failed"


class InvalidTypeError(InvalidTokenError):
    """The header ``typ`` is missing or not the access-token type (RFC 9068 §4)."""

    reason = "invalid_typ"
    default_description = "token type is not at+jwt"


class InvalidClaimError(InvalidTokenError):
    """A claim is missing, has the wrong type, or holds a rejected value.

    Attributes:
        claim: the name of the offending claim (``"aud"``, ``"iss"``, ...).
    """

    reason = "invalid_claim"

    def __init__(self, claim: str, description: str | None = None) -> None:
        self.claim = claim
        super().__init__(description or f"invalid {claim} claim")


class ExpiredTokenError(InvalidClaimError):
    """The token's ``exp`` has passed (leeway included)."""

    reason = "token_expired"

    def __init__(self, description: str = "token expired") -> None:
        super().__init__("exp", description)


class ImmatureTokenError(InvalidClaimError):
    """The token's ``nbf`` or ``iat`` lies in the future (leeway included)."""

    reason = "token_not_yet_valid"


class InsufficientScopeError(AuthError):
    """The token is valid but lacks scopes the route requires.

    The description names the missing scopes (``token lacks required scopes:
    write:products``): they are the route's own, never the token's.

    Attributes:
        required_scopes: every scope the route requires, in declaration order.
        granted_scopes: the scopes the token carries.
        missing_scopes: the required scopes the token lacks, in declaration order.
    """

    status_code = 403
    error = "insufficient_scope"
    reason = "insufficient_scope"
    default_description = "token lacks required scopes"

    def __init__(self, required_scopes: Iterable[str], granted_scopes: Iterable[str]) -> None:
        self.required_scopes = tuple(required_scopes)
        self.granted_scopes = frozenset(granted_scopes)
        self.missing_scopes = tuple(s for s in self.required_scopes if s not in self.granted_scopes)
        missing = " ".join(self.missing_scopes)
        super().__init__(f"{self.default_description}: {missing}" if missing else None)


class OrganizationMismatchError(AuthError):
    """The token's ``organization_id`` is not the organization the request is about.

    Attributes:
        expected: the organization named by the request.
        actual: the token's ``organization_id`` (``None`` when it has none).
    """

    status_code = 403
    error = "insufficient_scope"
    reason = "organization_mismatch"
    default_description = "token is not for this organization"

    def __init__(self, expected: str, actual: str | None) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__()


class OrganizationTokenError(AuthError):
    """An organization-level API token (``organization_id`` claim) reached a guard without
    ``organization=``: its scopes come from roles *in that organization*, not global ones.

    ``insufficient_scope`` (RFC 6750 §3.1: the request needs other privileges than the
    token's) rather than ``invalid_token``: the token is genuine, only not a global grant.
    Opt in with ``accept_organization_tokens=True``.

    Attributes:
        organization_id: the token's ``organization_id`` (kept out of the description).
    """

    status_code = 403
    error = "insufficient_scope"
    reason = "organization_token"
    default_description = (
        "organization token not accepted here: this API needs a token without organization_id"
    )

    def __init__(self, organization_id: str) -> None:
        self.organization_id = organization_id
        super().__init__()


class PolicyError(AuthError):
    """The token is valid but the route's :class:`~logto_guard.Policy` refuses its caller.

    403 ``insufficient_scope`` (RFC 6750 §3.1: the request needs other privileges than
    the token's): the token is genuine, so ``invalid_token`` (401, "get a new token")
    would send the client to fetch another token that is refused the same way.
    """

    status_code = 403
    error = "insufficient_scope"
    reason = "policy"
    default_description = "caller not allowed on this route"


class ClientNotAllowedError(PolicyError):
    """The token's ``client_id`` is not among the App IDs the route allows.

    Attributes:
        client_id: the token's ``client_id`` (kept out of the description).
    """

    reason = "client_not_allowed"
    default_description = "client not allowed on this route"

    def __init__(self, client_id: str | None) -> None:
        self.client_id = client_id
        super().__init__()


class ActorNotAllowedError(PolicyError):
    """The token carries ``act`` (issued with an actor token) and the route refuses actors."""

    reason = "actor_not_allowed"
    default_description = "actor tokens not allowed on this route"


class DelegationNotAllowedError(PolicyError):
    """The token is delegated (token exchange) and the route takes callers' own tokens only."""

    reason = "delegation_not_allowed"
    default_description = "delegated tokens not allowed on this route"


class KeysUnavailableError(AuthError):
    """The signing keys cannot be obtained: the JWKS is unreachable and none are cached.

    Attributes:
        retry_after: seconds after which a retry may succeed (for ``Retry-After``).
    """

    status_code = 503
    reason = "jwks_unavailable"
    default_description = "signing keys are temporarily unavailable"

    def __init__(self, description: str | None = None, *, retry_after: int = 5) -> None:
        self.retry_after = retry_after
        super().__init__(description)
