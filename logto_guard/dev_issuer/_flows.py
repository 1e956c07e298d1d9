"""The HTTP side of the user flows: discovery metadata, ``/auth``, ``/reg`` and extra grants."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from logto_guard.dev_issuer._authorize import OIDC_SCOPES, authorization_code, authorize, register
from logto_guard.dev_issuer._errors import OAuthError
from logto_guard.dev_issuer._exchange import TOKEN_EXCHANGE, token_exchange
from logto_guard.dev_issuer._hosts import local_host
from logto_guard.dev_issuer._runtime import Runtime
from logto_guard.dev_issuer._state import IssuerState
from logto_guard.dev_issuer._token import MAX_BODY_BYTES, GrantHandler, load_json
from logto_guard.dev_issuer._users import Directory

Endpoint = Callable[[Request], Awaitable[Response]]
GRANT_TYPES = ["authorization_code", "client_credentials", TOKEN_EXCHANGE]


def metadata(state: IssuerState) -> dict[str, Any]:
    """OIDC discovery / RFC 8414 metadata listing what this issuer implements."""
    issuer = state.issuer
    scopes = {s for r in state.resources.values() for s in r.scopes}
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "registration_endpoint": f"{issuer}/reg",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GRANT_TYPES,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "scopes_supported": [*OIDC_SCOPES, *sorted(scopes)],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [state.current_key.alg],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }


CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
    "Access-Control-Max-Age": "600",
}


def cors(endpoint: Endpoint) -> Endpoint:
    """Open ``endpoint`` to browser clients (MCP Inspector, SPAs), answering preflights.

    Only the OAuth endpoints under ``/oidc`` get this: never ``/__dev__`` or ``/api``.
    Credentials are never allowed (``*``), so cookies are not sent cross-origin.
    """

    async def wrapped(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS_HEADERS)
        response = await endpoint(request)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    return wrapped


async def read_body(request: Request) -> bytes:
    """The request body, at most ``MAX_BODY_BYTES`` (checked before and while reading).

    Raises:
        OAuthError: 413 invalid_request for a larger body.
    """
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise OAuthError("invalid_request", "request body too large", status_code=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise OAuthError("invalid_request", "request body too large", status_code=413)
        chunks.append(chunk)
    return b"".join(chunks)


class Flows:
    """The user-facing endpoints of one dev issuer and its extra token grants."""

    def __init__(self, state: IssuerState, directory: Directory, runtime: Runtime) -> None:
        self.state, self.directory, self.runtime = state, directory, runtime
        args = (state, directory, runtime)
        self.grants: dict[str, GrantHandler] = {
            "authorization_code": functools.partial(authorization_code, *args),
            TOKEN_EXCHANGE: functools.partial(token_exchange, *args),
        }

    async def authorize(self, request: Request) -> Response:
        """``GET /auth``: auto-approve for a dev user, loopback or the issuer's host only."""
        if not local_host(request.headers.get("host", ""), self.state.issuer):
            return PlainTextResponse("Host must be loopback or the issuer's host", 403)
        self.state.reload_if_changed()
        query = {k: v for k, v in request.query_params.items()}
        status, value = authorize(self.state, self.directory, self.runtime, query)
        if status == 302:
            return RedirectResponse(value, status_code=302, headers={"Cache-Control": "no-store"})
        return PlainTextResponse(value, status_code=status)

    async def register(self, request: Request) -> Response:
        """``POST /reg``: RFC 7591 dynamic registration of a public client (loopback only)."""
        if not local_host(request.headers.get("host", ""), self.state.issuer):
            return JSONResponse({"error": "access_denied"}, 403)
        try:
            data = load_json(await read_body(request))
        except OAuthError as exc:
            return JSONResponse(exc.body(), exc.status_code)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            error = {"error": "invalid_client_metadata", "error_description": "JSON object"}
            return JSONResponse(error, 400)
        status, body = register(self.runtime, data)
        return JSONResponse(body, status, headers={"Cache-Control": "no-store"})
