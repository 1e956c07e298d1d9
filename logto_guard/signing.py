"""The issuer side: keys, public JWKs and tokens shaped like Logto's.

The toolkit under :class:`logto_guard.testing.FakeLogto`, the dev issuer
(:mod:`logto_guard.dev_issuer`) and the benchmarks, for whoever mints Logto-shaped tokens
of their own; the guard itself never signs. Apps testing their API need only
:mod:`logto_guard.testing`.

Example::

    from logto_guard.signing import generate_private_key, logto_claims, public_jwk, sign

    key = generate_private_key("ES384")
    jwks = {"keys": [public_jwk(key)]}           # kid: the RFC 7638 thumbprint
    claims = logto_claims(app_id="m2m-app", issuer="https://tenant.logto.app/oidc",
                          audience="https://shopping.api", now=1_700_000_000,
                          scopes=["read:products"])
    token = sign(claims, key)                    # typ at+jwt, as Logto signs
"""

from ._core.config import ORGANIZATION_AUDIENCE_PREFIX
from ._core.public import publish as _publish
from .testing._signing import (
    LOGTO_JWKS_CACHE_CONTROL,
    PrivateKey,
    generate_private_key,
    load_private_pem,
    logto_claims,
    private_pem,
    public_jwk,
    sign,
    thumbprint,
)

__all__ = [
    "LOGTO_JWKS_CACHE_CONTROL",
    "ORGANIZATION_AUDIENCE_PREFIX",
    "PrivateKey",
    "generate_private_key",
    "load_private_pem",
    "logto_claims",
    "private_pem",
    "public_jwk",
    "sign",
    "thumbprint",
]

_publish(__name__, __all__, globals())
