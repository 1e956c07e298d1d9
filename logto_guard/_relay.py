"""A token relay so Swagger UI's "Authorize" works against Logto.

Swagger UI's client-credentials flow sends App ID and secret (Basic) and ``scope`` to the
``tokenUrl`` but cannot add ``resource``, which Logto requires to issue an access token for
an API (otherwise ``invalid_target``); and a browser page on the API's origin cannot post
cross-origin to Logto without CORS. The relay sits on the API's origin, adds
``resource=<audience>`` and forwards the request to Logto's token endpoint unchanged
otherwise. It stores and logs nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ._authenticator import Authenticator

MAX_FORM_BYTES = 16 * 1024
_FORWARDED_HEADERS = ("content-type", "cache-control", "pragma", "www-authenticate")


def add_token_relay(
    app: FastAPI,
    authenticator: Authenticator,
    *,
    path: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Serve ``POST path`` on ``app``, forwarding token requests to Logto with ``resource``."""
    config = authenticator.config

    async def relay(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return _oauth_error(400, "invalid_request", "request body too large")
        try:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return _oauth_error(400, "invalid_request", "body is not form-encoded text")
        if not any(name == "resource" for name, _ in form):
            form.append(("resource", config.audience))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if "authorization" in request.headers:
            headers["Authorization"] = request.headers["authorization"]
        try:
            async with httpx.AsyncClient(transport=transport, timeout=10) as client:
                upstream = await client.post(
                    config.token_endpoint,
                    content=urlencode(form),
                    headers=headers,
                    follow_redirects=False,
                )
        except httpx.HTTPError:
            return _oauth_error(502, "temporarily_unavailable", "token endpoint unreachable")
        forwarded = {k: v for k, v in upstream.headers.items() if k.lower() in _FORWARDED_HEADERS}
        return Response(upstream.content, status_code=upstream.status_code, headers=forwarded)

    app.add_api_route(path, relay, methods=["POST"], include_in_schema=False)


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )
