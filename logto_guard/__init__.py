"""logto-guard: protect FastAPI APIs called by Logto machine-to-machine apps.

Verifies Logto access tokens (JWKS cached and refreshed safely; ES384/RS256 and the rest of
the asymmetric family; ``iss``, ``aud``, ``exp``, ``typ``) and answers as RFC 6750 says.
See :class:`LogtoGuard` for the FastAPI entry point.
"""

import typing as _typing

from ._authenticator import Authenticator
from ._config import (
    DEFAULT_ALGORITHMS,
    ORGANIZATION_AUDIENCE,
    ORGANIZATION_AUDIENCE_PREFIX,
    SUPPORTED_ALGORITHMS,
    GuardConfig,
)
from ._errors import (
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
from ._identity import AuthInfo
from ._jwks_cache import JWKSCache
from ._policy import Policy
from ._rfc6750 import Refusal
from ._status import Readiness, Stats
from ._trusted_keys import TrustedKey
from ._validator import TokenValidator
from ._version import __version__

if _typing.TYPE_CHECKING:  # type checkers see the real name; no __getattr__ hides typos
    from .fastapi import LogtoGuard
else:

    def __getattr__(name: str) -> object:
        # FastAPI loads only for users of LogtoGuard: MCP-only and ASGI users never pay.
        if name == "LogtoGuard":
            from .fastapi import LogtoGuard

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
