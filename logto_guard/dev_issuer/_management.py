"""A tiny Management-API-like endpoint, guarded by logto_guard itself.

``POST /api/subject-tokens`` issues impersonation subject tokens (single use, 10 min).
``GET /api/applications`` lists the registered apps (never their secrets) to callers whose
token has ``aud`` = :data:`MANAGEMENT_API` (self-hosted Logto's Management API indicator)
and the scope ``all``: exactly how an M2M app reaches Logto's Management API, so the token
client can be exercised end to end against it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from logto_guard import Authenticator, Refusal
from logto_guard.dev_issuer._errors import OAuthError
from logto_guard.dev_issuer._flows import read_body
from logto_guard.dev_issuer._runtime import SUBJECT_TOKEN_TTL, Runtime
from logto_guard.dev_issuer._state import IssuerState
from logto_guard.dev_issuer._token import load_json
from logto_guard.dev_issuer._users import Directory

MANAGEMENT_API = "https://default.logto.app/api"
MANAGEMENT_SCOPE = "all"


class ManagementStandIn:
    """``GET /api/applications`` and the guard in front of it.

    A refusal is answered by the :class:`~logto_guard.Refusal` itself (an ASGI app, which
    a Starlette endpoint may return), so it reads exactly as the library's front ends.

    The guard reads the issuer's keys straight from ``state`` (an in-process transport,
    no socket); :meth:`lifespan` closes its client when the issuer app stops.
    """

    def __init__(
        self, state: IssuerState, runtime: Runtime | None = None, directory: Directory | None = None
    ) -> None:
        self._state = state
        self._runtime = runtime
        self._directory = directory
        self._guard = Authenticator(
            endpoint=state.issuer.rsplit("/oidc", 1)[0],
            audience=MANAGEMENT_API,
            issuer=state.issuer,
            jwks_uri=f"{state.issuer}/jwks",
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(self._jwks)),
            allow_insecure_http=True,  # the issuer URL may name any dev host
        )

    def _jwks(self, request: httpx.Request) -> httpx.Response:
        self._state.reload_if_changed()
        return httpx.Response(200, content=json.dumps(self._state.jwks()).encode())

    async def applications(self, request: Request) -> Response | Refusal:
        """List the registered apps (never their secrets) to a caller with scope ``all``."""
        result = await self._guard.check(
            request.headers.getlist("authorization"), [MANAGEMENT_SCOPE]
        )
        if isinstance(result, Refusal):
            return result  # an ASGI app: the library's own answer, byte for byte
        state = self._state
        state.reload_if_changed()
        apps = [{"id": a.app_id, "name": a.name, "type": "MachineToMachine"} for a in state.apps]
        return JSONResponse(apps)

    async def subject_tokens(self, request: Request) -> Response | Refusal:
        """``POST /api/subject-tokens {userId, context?}`` -> 201 ``{subjectToken, expiresIn}``."""
        result = await self._guard.check(
            request.headers.getlist("authorization"), [MANAGEMENT_SCOPE]
        )
        if isinstance(result, Refusal):
            return result
        if self._runtime is None or self._directory is None:
            return JSONResponse({"code": "entity.not_found"}, 404)
        try:
            data = load_json(await read_body(request))
        except OAuthError as exc:
            return JSONResponse(exc.body(), exc.status_code)
        except ValueError:
            data = None
        user_id = data.get("userId") if isinstance(data, dict) else None
        if not isinstance(user_id, str) or not user_id:
            return JSONResponse(
                {"code": "guard.invalid_input", "message": "userId is required"}, 400
            )
        if self._directory.get_user(user_id) is None:
            return JSONResponse(
                {"code": "entity.not_exists_with_id", "message": f"user {user_id} not found"},
                404,
            )
        token = self._runtime.new_subject_token(user_id)
        return JSONResponse({"subjectToken": token, "expiresIn": SUBJECT_TOKEN_TTL}, 201)

    @asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        """Starlette lifespan: close the guard's HTTP client on shutdown."""
        try:
            yield
        finally:
            await self._guard.aclose()
