"""logto-guard: protect FastAPI APIs called by Logto machine-to-machine apps.

Verifies Logto access tokens (JWKS cached and refreshed safely; ES384/RS256 and the rest of
the asymmetric family; ``iss``, ``aud``, ``exp``, ``typ``) and answers as RFC 6750 says.
See :class:`LogtoGuard` for the FastAPI entry point.
"""

import typing as _typing

from ._core.authenticator import Authenticator
from ._core.config import ORGANIZATION_AUDIENCE, SUPPORTED_ALGORITHMS, GuardConfig
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
from ._core.options import AuthenticatorOptions, GuardOptions
from ._core.policy import Policy
from ._core.public import publish as _publish
from ._core.rfc6750 import Refusal
from ._core.status import Readiness, Stats
from ._version import __version__

if _typing.TYPE_CHECKING:  # type checkers see the real name; no __getattr__ hides typos
    from ._fastapi.scheme import LogtoGuard
else:

    def __getattr__(name: str) -> object:
        # FastAPI loads only for users of LogtoGuard: MCP-only and ASGI users never pay.
        if name == "LogtoGuard":
            from .fastapi import LogtoGuard  # its public home, which sets __module__

            globals()["LogtoGuard"] = LogtoGuard
            return LogtoGuard
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})


__all__ = [
    "ORGANIZATION_AUDIENCE",
    "SUPPORTED_ALGORITHMS",
    "ActorNotAllowedError",
    "AlgorithmError",
    "AuthError",
    "AuthInfo",
    "Authenticator",
    "AuthenticatorOptions",
    "ClientNotAllowedError",
    "ConfigurationError",
    "CredentialsMissingError",
    "DelegationNotAllowedError",
    "ExpiredTokenError",
    "GuardConfig",
    "GuardOptions",
    "ImmatureTokenError",
    "InsufficientScopeError",
    "InvalidClaimError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "InvalidTypeError",
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
    "UnknownKeyError",
    "__version__",
]

# LogtoGuard's home is logto_guard.fastapi (loaded lazily, never here).
_publish(__name__, [name for name in __all__ if name != "LogtoGuard"], globals())
