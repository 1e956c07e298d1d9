"""Helpers for testing APIs protected by logto-guard, without a Logto tenant.

:class:`FakeLogto` holds real signing keys, mints Logto-shaped access tokens and serves its
JWKS through an ``httpx.MockTransport``; :class:`FakeClock` is a settable clock for the
guard's ``clock=`` argument.

Example::

    logto = FakeLogto()
    guard = LogtoGuard(endpoint=logto.endpoint, audience=logto.audience,
                       http_client=logto.http_client())
    token = logto.token(scopes=["read:products"])

The keys and signing behind it are :mod:`logto_guard.signing`.
"""

from .._core.public import publish as _publish
from ._fake import FakeClock, FakeLogto, FakeLogtoOptions, Guarded, HasAuthenticator

__all__ = [
    "FakeClock",
    "FakeLogto",
    "FakeLogtoOptions",
    "Guarded",
    "HasAuthenticator",
]

_publish(__name__, __all__, globals())
