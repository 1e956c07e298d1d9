"""The parts under :class:`~logto_guard.Authenticator`: the JWKS cache, the trusted keys
and the token validator, and the loopback rule (:func:`is_loopback`).

An app needs none of them: the front ends build their own. They are public for what sits
beside the guard rather than in front of an API: the benchmarks time
:meth:`TokenValidator.validate` alone, and :attr:`Authenticator.key_source
<logto_guard.Authenticator.key_source>` (a :class:`JWKSCache`, shared between front ends
with ``key_source=``) and :attr:`Authenticator.keys <logto_guard.Authenticator.keys>`
(:class:`TrustedKey` by ``kid``) hand them out.

Example::

    from logto_guard import GuardConfig
    from logto_guard.lowlevel import JWKSCache, TokenValidator

    config = GuardConfig(endpoint="https://tenant.logto.app", audience="https://shopping.api")
    keys = JWKSCache(config.jwks_uri, algorithms=config.algorithms)
    validator = TokenValidator(config, keys)
    info = await validator.validate(token)   # AuthInfo, or an AuthError raised
"""

from ._core.jwks_cache import JWKSCache
from ._core.public import publish as _publish
from ._core.trusted_keys import TrustedKey
from ._core.urls import is_loopback
from ._core.validator import TokenValidator

__all__ = ["JWKSCache", "TokenValidator", "TrustedKey", "is_loopback"]

_publish(__name__, __all__, globals())
