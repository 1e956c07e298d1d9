"""The dev issuer's ASGI app: Logto's discovery, JWKS and token endpoints, plus dev hooks.

The ``/__dev__/*`` endpoints exist only in this dev issuer (never in Logto). They let
integration tests rotate keys and sign arbitrary tokens (expired, foreign audience, ...):

- ``POST /__dev__/rotate`` ``{"alg": "RS256"}`` (optional; default: the current key's
  algorithm, promoting a staged next key) -> the new JWKS.
- ``POST /__dev__/stage`` ``{"alg": ...}`` (optional) -> the JWKS with a staged next key.
- ``POST /__dev__/sign`` ``{"claims": {...}, "header": {...}, "key": "current"}`` ->
  ``{"token": "..."}``; ``header`` adds or overrides header fields other than ``alg``
  (``{"typ": null}`` removes ``typ``), ``key`` picks the current (default), previous or
  next key.

``GET /api/applications`` is a tiny Management-API stand-in guarded by logto_guard (see
:mod:`logto_guard.dev_issuer._management`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

import jwt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from logto_guard.dev_issuer._errors import OAuthError
from logto_guard.dev_issuer._management import ManagementStandIn
from logto_guard.dev_issuer._model import SUPPORTED_ALGS
from logto_guard.dev_issuer._state import IssuerState
from logto_guard.dev_issuer._token import parse_body, token_response
from logto_guard.testing import LOGTO_JWKS_CACHE_CONTROL

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def create_app(state: IssuerState) -> Starlette:
    """Build the ASGI app serving ``state``; routes live under the issuer's path (``/oidc``).

    The state file is re-read when another process changed it, so a ``--rotate`` run
    against the same state directory is picked up by a running issuer.

    Example::

        app = create_app(IssuerState.open(".logto-dev"))
        uvicorn.run(app, host="127.0.0.1", port=3001)
    """
    base = urlsplit(state.issuer).path.rstrip("/")

    async def discovery(request: Request) -> Response:
        state.reload_if_changed()
        issuer = state.issuer
        return JSONResponse(
            {
                "issuer": issuer,
                "jwks_uri": f"{issuer}/jwks",
                "token_endpoint": f"{issuer}/token",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "response_types_supported": ["none"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [state.current_key.alg],
                "claims_parameter_supported": False,
                "request_parameter_supported": False,
            }
        )

    async def jwks(request: Request) -> Response:
        state.reload_if_changed()
        return _jwks_response(state, request)

    async def token(request: Request) -> Response:
        try:
            state.reload_if_changed()
            params = parse_body(await request.body(), request.headers.get("content-type", ""))
            body = token_response(state, params, request.headers.get("authorization"))
        except OAuthError as exc:
            return JSONResponse(
                exc.body(), status_code=exc.status_code, headers={**_NO_STORE, **exc.headers}
            )
        return JSONResponse(body, headers=_NO_STORE)

    async def dev_rotate(request: Request) -> Response:
        return await _change_keys(state, request, stage=False)

    async def dev_stage(request: Request) -> Response:
        return await _change_keys(state, request, stage=True)

    async def dev_sign(request: Request) -> Response:
        state.reload_if_changed()
        data = await _json_object(request)
        if data is None:
            return _dev_error("the body must be a JSON object")
        claims, header = data.get("claims", {}), data.get("header", {})
        choice = data.get("key", "current")
        if not isinstance(claims, dict) or not isinstance(header, dict):
            return _dev_error("claims and header must be JSON objects")
        if "alg" in header:
            return _dev_error("alg is set by the signing key and cannot be overridden")
        key = next((k for k in state.keys if k.status == choice), None)
        if key is None:
            return _dev_error(f"no {choice!r} key; choose current, previous or next")
        try:
            typ = header.pop("typ", "at+jwt")
            signed = state.sign(claims, headers=header, key=key, typ=typ)
        except (jwt.PyJWTError, ValueError, TypeError, NotImplementedError) as exc:
            return _dev_error(f"cannot sign: {exc}")
        return JSONResponse({"token": signed})

    management = ManagementStandIn(state)
    app = Starlette(
        lifespan=management.lifespan,
        routes=[
            Route(f"{base}/.well-known/openid-configuration", discovery, methods=["GET"]),
            Route(f"{base}/jwks", jwks, methods=["GET"]),
            Route(f"{base}/token", token, methods=["POST"]),
            Route("/__dev__/rotate", dev_rotate, methods=["POST"]),
            Route("/__dev__/stage", dev_stage, methods=["POST"]),
            Route("/__dev__/sign", dev_sign, methods=["POST"]),
            Route("/api/applications", management.applications, methods=["GET"]),
        ],
    )
    return app


def _jwks_response(state: IssuerState, request: Request) -> Response:
    content = json.dumps(state.jwks(), separators=(",", ":")).encode("utf-8")
    etag = 'W/"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    headers = {"Cache-Control": LOGTO_JWKS_CACHE_CONTROL, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/jwk-set+json", headers=headers)


async def _change_keys(state: IssuerState, request: Request, *, stage: bool) -> Response:
    state.reload_if_changed()
    data = await _json_object(request)
    if data is None:
        return _dev_error("the body must be a JSON object")
    alg = data.get("alg")
    if alg is not None and alg not in SUPPORTED_ALGS:
        return _dev_error(f"alg must be one of {', '.join(SUPPORTED_ALGS)}")
    change = state.stage_next if stage else state.rotate
    try:
        # Key generation (RSA especially) is slow enough to keep off the event loop.
        await run_in_threadpool(change, alg)
    except ValueError as exc:
        return _dev_error(str(exc))
    return _jwks_response(state, request)


async def _json_object(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _dev_error(description: str) -> Response:
    return JSONResponse(
        {"error": "invalid_request", "error_description": description}, status_code=400
    )
