"""A local Logto-compatible OAuth issuer for development, the demo and integration tests.

It serves ``/oidc/.well-known/openid-configuration`` (also as RFC 8414 metadata),
``/oidc/jwks`` and ``/oidc/token`` (``client_credentials`` with client_secret_basic /
client_secret_post, ``resource``, ``scope``, ``organization_id``; ``authorization_code``
with PKCE S256 for dev users through ``/oidc/auth`` and RFC 7591 ``/oidc/reg``; Logto's
token exchange) with Logto's token shape and error bodies, signs ES384 by
default (RSA and other curves on request), rotates keys, and keeps its keys and apps in a
state directory so a restart keeps issued tokens valid. Dev-only ``/__dev__/rotate``,
``/__dev__/stage`` and ``/__dev__/sign`` endpoints exist only here, never in Logto;
``GET /api/applications`` and ``POST /api/subject-tokens`` stand in for the Management
API (``MANAGEMENT_API``, scope ``all``) and are guarded by logto_guard itself. Users and
the per-app ``allowTokenExchange`` flag live in a :class:`Directory` (``directory.json``
in the state directory).

Run it with ``python -m logto_guard.dev_issuer``, or in-process::

    from logto_guard.dev_issuer import IssuerState, create_app

    state = IssuerState.open(".logto-dev", issuer="http://127.0.0.1:3001/oidc")
    state.add_resource("https://shopping.api", ["read:products", "write:products"])
    app = state.ensure_app("client", grants={"https://shopping.api": ["read:products"]})
    asgi_app = create_app(state)  # serve with uvicorn on 127.0.0.1:3001
"""

import inspect
import types
import typing

from logto_guard.dev_issuer._app import create_app
from logto_guard.dev_issuer._authorize import DEV_PUBLIC_CLIENT
from logto_guard.dev_issuer._config import apply_config, build_app, load_config, open_issuer
from logto_guard.dev_issuer._errors import DevIssuerError, OAuthError, StateError
from logto_guard.dev_issuer._exchange import (
    ACCESS_TOKEN_TYPE,
    IMPERSONATION_TOKEN_TYPE,
    PERSONAL_ACCESS_TOKEN_TYPE,
    TOKEN_EXCHANGE,
)
from logto_guard.dev_issuer._management import MANAGEMENT_API
from logto_guard.dev_issuer._model import (
    DEFAULT_TTL,
    SUPPORTED_ALGS,
    App,
    KeyStatus,
    Resource,
    SigningKey,
)
from logto_guard.dev_issuer._serve import import_uvicorn
from logto_guard.dev_issuer._state import (
    DEFAULT_ALG,
    DEFAULT_ISSUER,
    DEFAULT_RSA_BITS,
    IssuerState,
)
from logto_guard.dev_issuer._users import DEFAULT_USER_ID, DEFAULT_USERNAME, Directory, User

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "DEFAULT_ALG",
    "DEFAULT_ISSUER",
    "DEFAULT_RSA_BITS",
    "DEFAULT_TTL",
    "DEFAULT_USERNAME",
    "DEFAULT_USER_ID",
    "DEV_PUBLIC_CLIENT",
    "IMPERSONATION_TOKEN_TYPE",
    "MANAGEMENT_API",
    "PERSONAL_ACCESS_TOKEN_TYPE",
    "SUPPORTED_ALGS",
    "TOKEN_EXCHANGE",
    "App",
    "DevIssuerError",
    "Directory",
    "IssuerState",
    "KeyStatus",
    "OAuthError",
    "Resource",
    "SigningKey",
    "StateError",
    "User",
    "apply_config",
    "build_app",
    "create_app",
    "import_uvicorn",
    "load_config",
    "open_issuer",
]

# The public home in reprs. Tooling uses public names only, so not the library's helper;
# hints are resolved first, as get_type_hints looks them up in sys.modules[__module__].
for _value in [globals()[name] for name in __all__]:
    if isinstance(_value, type) and inspect.get_annotations(_value):
        _hints = typing.get_type_hints(_value)
        _value.__annotations__ = {key: _hints[key] for key in inspect.get_annotations(_value)}
        for _field in getattr(_value, "__dataclass_fields__", {}).values():
            _field.type = _hints.get(_field.name, _field.type)
    if isinstance(_value, type | types.FunctionType):
        _value.__module__ = __name__
del _value, _hints, _field
