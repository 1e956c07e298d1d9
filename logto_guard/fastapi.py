"""FastAPI integration: :class:`LogtoGuard`, a security scheme for Logto access tokens.

Example::

    from fastapi import FastAPI, Security
    from logto_guard import AuthInfo, LogtoGuard

    guard = LogtoGuard(endpoint="https://tenant.logto.app", audience="https://shopping.api")
    app = FastAPI()
    guard.install(app)

    @app.get("/products")
    async def products(auth: AuthInfo = Security(guard, scopes=["read:products"])):
        return {"caller": auth.client_id}
"""

from ._core.public import publish as _publish
from ._fastapi.scheme import (
    GuardHTTPException,
    LogtoGuard,
    guard_exception_handler,
)

__all__ = [
    "GuardHTTPException",
    "LogtoGuard",
    "guard_exception_handler",
]

_publish(__name__, __all__, globals())
