"""Key rotation under a forged-kid flood, over real HTTP on 127.0.0.1.

Run: ``python -m bench.rotation_flood [flood_seconds]``. A fake JWKS server (uvicorn, with
``ETag``/304 like Logto) publishes one key; the guard gets ~200 forged-``kid`` tokens a
second for ``flood_seconds`` (default 16, as measured against Logto in issue 16), then the
key is rotated abruptly and a token of the new key is sent every 50 ms beside the flood.
Prints seconds until it is accepted and the JWKS requests the server received.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import sys
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logto_guard import Authenticator, AuthInfo
from logto_guard.testing import FakeLogto


async def main(flood_seconds: float) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    logto = FakeLogto(endpoint=endpoint, audience="https://shopping.api")
    counts = {"requests": 0, "not_modified": 0}

    async def jwks(request: Request) -> Response:
        counts["requests"] += 1
        body = json.dumps(logto.jwks()).encode()
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:16]}"'
        if request.headers.get("if-none-match") == etag:
            counts["not_modified"] += 1
            return Response(status_code=304, headers={"ETag": etag})
        headers = {"ETag": etag, "Cache-Control": "max-age=0"}
        return Response(body, media_type="application/jwk-set+json", headers=headers)

    app = Starlette(routes=[Route("/oidc/jwks", jwks)])
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no started event
        await asyncio.sleep(0.01)
    auth = Authenticator(endpoint=endpoint, audience="https://shopping.api")
    assert isinstance(await auth.check([f"Bearer {logto.token()}"]), AuthInfo)
    counts["requests"] = counts["not_modified"] = 0

    async def forged(i: int) -> None:
        await auth.check([f"Bearer {logto.token(headers={'kid': f'forged-{i}'})}"])

    i = 0
    end = time.perf_counter() + flood_seconds
    while time.perf_counter() < end:
        await forged(i)
        i += 1
        await asyncio.sleep(0.005)
    during_flood = counts["requests"]
    logto.rotate()
    published = time.perf_counter()
    new_token = f"Bearer {logto.token()}"
    accepted = None
    while time.perf_counter() - published < 60:
        if isinstance(await auth.check([new_token]), AuthInfo):
            accepted = time.perf_counter() - published
            break
        for _ in range(10):
            await forged(i)
            i += 1
            await asyncio.sleep(0.005)
    print(
        f"flood={flood_seconds:.0f} s ({i} forged)  JWKS requests during flood={during_flood} "
        f"total={counts['requests']} (304: {counts['not_modified']})  "
        f"rotated key accepted after "
        + (f"{accepted:.2f} s" if accepted is not None else "NEVER (60 s)")
    )
    await auth.aclose()
    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 16))
