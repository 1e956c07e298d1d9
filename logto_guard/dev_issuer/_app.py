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

They sign anything, so a web page visited while the issuer runs must not reach them
(CSRF, DNS rebinding): each requires ``Content-Type: application/json`` (which a
cross-site form or "simple" fetch cannot send), a ``Host`` that is loopback
(``127.0.0.0/8``, ``localhost``, ``[::1]``) or the issuer's own host, and no ``Origin``
other than the request's own. ``create_app(state, dev_endpoints=False)`` leaves them out
(the CLI does so on a non-loopback bind unless ``--allow-remote-dev-endpoints``).

Request bodies (``/oidc/token`` and ``/__dev__/*``) are read up to ``MAX_BODY_BYTES``
(Content-Length first, then the stream) and JSON nested deeper than ``MAX_JSON_DEPTH`` is
refused before parsing: both answer ``invalid_request``, never 500.

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
from logto_guard.dev_issuer._flows import Flows, cors, metadata, read_body
from logto_guard.dev_issuer._hosts import local_host
from logto_guard.dev_issuer._management import ManagementStandIn
from logto_guard.dev_issuer._model import SUPPORTED_ALGS
from logto_guard.dev_issuer._runtime import Runtime
from logto_guard.dev_issuer._state import IssuerState
from logto_guard.dev_issuer._token import load_json, parse_body, token_response
from logto_guard.dev_issuer._users import Directory
from logto_guard.signing import LOGTO_JWKS_CACHE_CONTROL

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def create_app(
    state: IssuerState, *, dev_endpoints: bool = True, directory: Directory | None = None
) -> Starlette:
    """Build the ASGI app serving ``state``; routes live under the issuer's path (``/oidc``).

    ``dev_endpoints=False`` leaves out ``/__dev__/*`` (see the module docstring).
    ``directory`` holds the dev users (default: ``directory.json`` in the state directory).

    The state file is re-read when another process changed it, so a ``--rotate`` run
    against the same state directory is picked up by a running issuer.

    Example::

        app = create_app(IssuerState.open(".logto-dev"))
        uvicorn.run(app, host="127.0.0.1", port=3001)
    """
    base = urlsplit(state.issuer).path.rstrip("/")
    directory = directory or Directory.open(state.path.parent)
    flows = Flows(state, directory, Runtime(state.clock))

    async def discovery(request: Request) -> Response:
        state.reload_if_changed()
        return JSONResponse(metadata(state))

    async def jwks(request: Request) -> Response:
        state.reload_if_changed()
        return _jwks_response(state, request)

    async def token(request: Request) -> Response:
        try:
            state.reload_if_changed()
            params = parse_body(await read_body(request), request.headers.get("content-type", ""))
            body = token_response(
                state, params, request.headers.get("authorization"), grants=flows.grants
            )
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
        refusal = _refuse_foreign(state, request)
        if refusal is not None:
            return refusal
        data = await _json_object(request)
        if isinstance(data, Response):
            return data
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

    open_routes = [
        (f"{base}/.well-known/openid-configuration", discovery, "GET"),
        (f"{base}/.well-known/oauth-authorization-server", discovery, "GET"),
        (f"/.well-known/oauth-authorization-server{base}", discovery, "GET"),
        (f"/.well-known/openid-configuration{base}", discovery, "GET"),
        (f"{base}/jwks", jwks, "GET"),
        (f"{base}/token", token, "POST"),
        (f"{base}/reg", flows.register, "POST"),
    ]
    routes = [Route(p, cors(e), methods=[m, "OPTIONS"]) for p, e, m in open_routes]
    routes.append(Route(f"{base}/auth", flows.authorize, methods=["GET"]))
    if dev_endpoints:
        routes += [
            Route("/__dev__/rotate", dev_rotate, methods=["POST"]),
            Route("/__dev__/stage", dev_stage, methods=["POST"]),
            Route("/__dev__/sign", dev_sign, methods=["POST"]),
        ]
    management = ManagementStandIn(state, flows.runtime, directory)
    routes.append(Route("/api/applications", management.applications, methods=["GET"]))
    routes.append(Route("/api/subject-tokens", management.subject_tokens, methods=["POST"]))
    app = Starlette(routes=routes, lifespan=management.lifespan)
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
    refusal = _refuse_foreign(state, request)
    if refusal is not None:
        return refusal
    data = await _json_object(request)
    if isinstance(data, Response):
        return data
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


def _refuse_foreign(state: IssuerState, request: Request) -> Response | None:
    """Refuse a ``/__dev__`` request a web page could have sent (module docstring)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _dev_error("Content-Type must be application/json", status=415)
    if not local_host(request.headers.get("host", ""), state.issuer):
        return _dev_error("Host must be loopback or the issuer's host", status=403)
    origin = request.headers.get("origin")
    if origin is not None:
        scheme, _, netloc = origin.strip().lower().partition("://")
        if scheme not in ("http", "https") or netloc != request.headers.get("host", "").lower():
            return _dev_error("cross-origin requests are refused", status=403)
    return None


async def _json_object(request: Request) -> dict[str, Any] | Response:
    try:
        raw = await read_body(request)
        data = load_json(raw) if raw.strip() else {}
    except OAuthError as exc:
        return _dev_error(exc.description, status=exc.status_code)
    except ValueError:
        return _dev_error("the body must be a JSON object")
    return data if isinstance(data, dict) else _dev_error("the body must be a JSON object")


def _dev_error(description: str, *, status: int = 400) -> Response:
    return JSONResponse(
        {"error": "invalid_request", "error_description": description}, status_code=status
    )
