"""logto-guard: protect FastAPI APIs called by Logto machine-to-machine apps.

Verifies Logto access tokens (JWKS cached and refreshed safely; ES384/RS256 and the rest of
the asymmetric family; ``iss``, ``aud``, ``exp``, ``typ``) and answers as RFC 6750 says.
See :class:`LogtoGuard` for the FastAPI entry point.
"""

import typing as _typing

from ._core.authenticator import Authenticator
from ._core.config import (
    DEFAULT_ALGORITHMS,
    ORGANIZATION_AUDIENCE,
    ORGANIZATION_AUDIENCE_PREFIX,
    SUPPORTED_ALGORITHMS,
    GuardConfig,
)
from ._core.errors import (
    ActorNotAllowedError,
    AlgorithmError,
    AuthError,
    ClientNotAllowedError,
    ConfigurationError,
    CredentialsMissingError,
    DelegationNotAllowedError,
    ExpiredTokenError,
    ImmatureTokenError,
    InsufficientScopeError,
    InvalidClaimError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    InvalidTypeError,
    KeysUnavailableError,
    LogtoGuardError,
    MalformedTokenError,
    OrganizationMismatchError,
    OrganizationTokenError,
    PolicyError,
    UnknownKeyError,
)
from ._core.identity import AuthInfo
from ._core.jwks_cache import JWKSCache
from ._core.policy import Policy
from ._core.rfc6750 import Refusal
from ._core.status import Readiness, Stats
from ._core.trusted_keys import TrustedKey
from ._core.validator import TokenValidator
from ._version import __version__

if _typing.TYPE_CHECKING:  # type checkers see the real name; no __getattr__ hides typos
    from ._fastapi.scheme import LogtoGuard
else:

    def __getattr__(name: str) -> object:
        # FastAPI loads only for users of LogtoGuard: MCP-only and ASGI users never pay.
        if name == "LogtoGuard":
            from ._fastapi.scheme import LogtoGuard

            globals()["LogtoGuard"] = LogtoGuard
            return LogtoGuard
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})


__all__ = [
    "DEFAULT_ALGORITHMS",
    "ORGANIZATION_AUDIENCE",
    "ORGANIZATION_AUDIENCE_PREFIX",
    "SUPPORTED_ALGORITHMS",
    "ActorNotAllowedError",
    "AlgorithmError",
    "AuthError",
    "AuthInfo",
    "Authenticator",
    "ClientNotAllowedError",
    "ConfigurationError",
    "CredentialsMissingError",
    "DelegationNotAllowedError",
    "ExpiredTokenError",
    "GuardConfig",
    "ImmatureTokenError",
    "InsufficientScopeError",
    "InvalidClaimError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "InvalidTypeError",
    "JWKSCache",
    "KeysUnavailableError",
    "LogtoGuard",
    "LogtoGuardError",
    "MalformedTokenError",
    "OrganizationMismatchError",
    "OrganizationTokenError",
    "Policy",
    "PolicyError",
    "Readiness",
    "Refusal",
    "Stats",
    "TokenValidator",
    "TrustedKey",
    "UnknownKeyError",
    "__version__",
]
