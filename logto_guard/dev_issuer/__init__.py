"""A local Logto-compatible OAuth issuer for development, the demo and integration tests.

It serves ``/oidc/.well-known/openid-configuration``, ``/oidc/jwks`` and ``/oidc/token``
(``client_credentials`` with client_secret_basic / client_secret_post, ``resource``,
``scope``, ``organization_id``) with Logto's token shape and error bodies, signs ES384 by
default (RSA and other curves on request), rotates keys, and keeps its keys and apps in a
state directory so a restart keeps issued tokens valid. Dev-only ``/__dev__/rotate``,
``/__dev__/stage`` and ``/__dev__/sign`` endpoints exist only here, never in Logto;
``GET /api/applications`` stands in for the Management API (``MANAGEMENT_API``, scope
``all``) and is guarded by logto_guard itself.

Run it with ``python -m logto_guard.dev_issuer``, or in-process::

    from logto_guard.dev_issuer import IssuerState, create_app

    state = IssuerState.open(".logto-dev", issuer="http://127.0.0.1:3001/oidc")
    state.add_resource("https://shopping.api", ["read:products", "write:products"])
    app = state.ensure_app("client", grants={"https://shopping.api": ["read:products"]})
    asgi_app = create_app(state)  # serve with uvicorn on 127.0.0.1:3001
"""

from logto_guard.dev_issuer._app import create_app
from logto_guard.dev_issuer._config import apply_config, build_app, load_config, open_issuer
from logto_guard.dev_issuer._errors import DevIssuerError, OAuthError, StateError
from logto_guard.dev_issuer._management import MANAGEMENT_API
from logto_guard.dev_issuer._model import (
    DEFAULT_TTL,
    SUPPORTED_ALGS,
    App,
    KeyStatus,
    Resource,
    SigningKey,
)
from logto_guard.dev_issuer._state import (
    DEFAULT_ALG,
    DEFAULT_ISSUER,
    DEFAULT_RSA_BITS,
    IssuerState,
)

__all__ = [
    "DEFAULT_ALG",
    "DEFAULT_ISSUER",
    "DEFAULT_RSA_BITS",
    "DEFAULT_TTL",
    "MANAGEMENT_API",
    "SUPPORTED_ALGS",
    "App",
    "DevIssuerError",
    "IssuerState",
    "KeyStatus",
    "OAuthError",
    "Resource",
    "SigningKey",
    "StateError",
    "apply_config",
    "build_app",
    "create_app",
    "load_config",
    "open_issuer",
]
