"""Get, cache and use Logto machine-to-machine access tokens (OAuth 2.0 client credentials).

The request is the one in Logto's M2M guide: ``POST <endpoint>/oidc/token`` with
``Authorization: Basic base64(app_id:app_secret)`` and a form body
``grant_type=client_credentials&resource=...&scope=...``. Tokens are cached per
(resource, scopes, organization) and refreshed shortly before they expire; concurrent
callers share one token request. :meth:`LogtoM2MClient.auth` plugs them into httpx.

Errors (both are :class:`logto_guard.LogtoGuardError`)::

    ClientConfigurationError   ValueError: a bad endpoint or credentials, at construction
    TokenRequestError          the token endpoint said no (.error, .code, .status_code),
                               answered garbage (invalid_response: also too large, compressed,
                               absurdly nested or out of range) or was
                               unreachable (network_error)

Example, for the Logto Management API (resource ``<endpoint>/api``, scope ``all``) and for
an API of your own::

    from logto_guard.client import LogtoM2MClient

    async with LogtoM2MClient(
        endpoint="https://my-tenant.logto.app", app_id=APP_ID, app_secret=APP_SECRET
    ) as m2m:
        auth = m2m.auth(resource="https://my-tenant.logto.app/api", scopes=["all"])
        async with httpx.AsyncClient(auth=auth) as api:
            apps = await api.get("https://my-tenant.logto.app/api/applications")
        token = await m2m.get_token(resource="https://shopping.api", scopes=["read:products"])
"""

from .._core.public import publish as _publish
from ._cache import AccessToken
from ._challenge import Challenge
from ._exchange import ACCESS_TOKEN_TYPE, IMPERSONATION_TOKEN_TYPE, PERSONAL_ACCESS_TOKEN_TYPE
from ._m2m import LogtoM2MClient
from ._settings import ClientConfigurationError
from ._wire import MAX_RESPONSE_BYTES, TokenRequestError

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "IMPERSONATION_TOKEN_TYPE",
    "MAX_RESPONSE_BYTES",
    "PERSONAL_ACCESS_TOKEN_TYPE",
    "AccessToken",
    "Challenge",
    "ClientConfigurationError",
    "LogtoM2MClient",
    "TokenRequestError",
]

_publish(__name__, __all__, globals())
