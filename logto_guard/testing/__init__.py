"""Helpers for testing APIs protected by logto-guard, without a Logto tenant.

:class:`FakeLogto` holds real signing keys, mints Logto-shaped access tokens and serves its
JWKS through an ``httpx.MockTransport``; :class:`FakeClock` is a settable clock for the
guard's ``clock=`` argument.

Example::

    logto = FakeLogto()
    guard = LogtoGuard(endpoint=logto.endpoint, audience=logto.audience,
                       http_client=logto.http_client())
    token = logto.token(scopes=["read:products"])
"""

from ._fake import FakeClock, FakeLogto, Guarded, HasAuthenticator
from ._signing import (
    LOGTO_JWKS_CACHE_CONTROL,
    PrivateKey,
    default_alg,
    generate_private_key,
    load_private_pem,
    logto_claims,
    private_pem,
    public_jwk,
    sign,
    sign_compact,
    thumbprint,
)

__all__ = [
    "LOGTO_JWKS_CACHE_CONTROL",
    "FakeClock",
    "FakeLogto",
    "Guarded",
    "HasAuthenticator",
    "PrivateKey",
    "default_alg",
    "generate_private_key",
    "load_private_pem",
    "logto_claims",
    "private_pem",
    "public_jwk",
    "sign",
    "sign_compact",
    "thumbprint",
]
