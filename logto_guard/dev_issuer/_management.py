"""A tiny Management-API-like endpoint, guarded by logto_guard itself.

``GET /api/applications`` lists the registered apps (never their secrets) to callers whose
token has ``aud`` = :data:`MANAGEMENT_API` (self-hosted Logto's Management API indicator)
and the scope ``all``: exactly how an M2M app reaches Logto's Management API, so the token
client can be exercised end to end against it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from logto_guard._bearer import error_body, error_headers
from logto_guard._core import Authenticator
from logto_guard._errors import AuthError
from logto_guard.dev_issuer._state import IssuerState

MANAGEMENT_API = "https://default.logto.app/api"
MANAGEMENT_SCOPE = "all"


def applications_endpoint(
    state: IssuerState, app: ASGIApp
) -> Callable[[Request], Awaitable[Response]]:
    """The ``GET /api/applications`` handler; ``app`` is the issuer itself, which serves
    the JWKS the guard verifies against (in process, no socket)."""
    endpoint = state.issuer.rsplit("/oidc", 1)[0]
    guard = Authenticator(
        endpoint=endpoint,
        audience=MANAGEMENT_API,
        issuer=state.issuer,
        jwks_uri=f"{state.issuer}/jwks",
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)),
    )

    async def applications(request: Request) -> Response:
        try:
            await guard.authenticate(request.headers.getlist("authorization"), [MANAGEMENT_SCOPE])
        except AuthError as exc:
            headers = error_headers(exc, guard.realm)
            return JSONResponse(error_body(exc), status_code=exc.status_code, headers=headers)
        state.reload_if_changed()
        apps = [{"id": a.app_id, "name": a.name, "type": "MachineToMachine"} for a in state.apps]
        return JSONResponse(apps)

    return applications
