"""The app :mod:`bench.mcp` runs under uvicorn: seven MCP servers side by side, one process.

``uvicorn bench._mcp_app:create --factory`` with ``BENCH_MCP_CONFIG`` naming a JSON file
holding ``jwks`` (the public JWKS). Every variant serves the same ``list_products`` tool
(10 small products) in stateless JSON mode at ``/<variant>/mcp``; a dispatcher routes by
that prefix and runs every variant's lifespan (the session managers). Keys never come from
the network: logto-guard reads the JWKS through an ``httpx.MockTransport``, PyJWT's
``PyJWKClient.fetch_data`` returns the JWKS dict, FastMCP's ``JWTVerifier`` gets the
public key as PEM.

Variants (see :data:`VARIANTS`): the MCP SDK without auth, with a static verifier (the
floor of the SDK's own auth plumbing: no verification), with
:class:`logto_guard.mcp.LogtoTokenVerifier`, the same wrapped by ``verifier.protect`` (the
demo's setup), and with a verifier doing what Logto's Python MCP package does (PyJWT
``PyJWKClient.get_signing_key_from_jwt`` + ``jwt.decode`` on every request); FastMCP
without auth, with a static verifier, with :class:`logto_guard.fastmcp.LogtoProvider`,
and with its own ``JWTVerifier``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

from logto_guard.mcp import LogtoTokenVerifier, auth_settings

from ._common import ENDPOINT, ISSUER, JWKS_URI, jwks_http_client

CONFIG_ENV = "BENCH_MCP_CONFIG"
RESOURCE = "https://mcp.bench/mcp"
VARIANTS = (
    "sdk-none",
    "sdk-static",
    "sdk-logto",
    "sdk-logto-protect",
    "sdk-pyjwt",
    "fastmcp-none",
    "fastmcp-static",
    "fastmcp-logto",
    "fastmcp-jwtverifier",
)
PRODUCTS = [{"id": i, "name": f"product {i}", "price": 10.0 + i} for i in range(1, 11)]

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]


class StaticVerifier:
    """The floor of the SDK's auth plumbing: every token maps to one prebuilt AccessToken
    (no verification at all; what any verifier costs is on top of this)."""

    def __init__(self) -> None:
        self.access = AccessToken(
            token="static",
            client_id="app",
            scopes=["read:products"],
            expires_at=2**40,
            resource=RESOURCE,
            subject="app",
            claims={"iss": ISSUER},
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        """The same AccessToken for any token."""
        return self.access


class PyJWKVerifier:
    """What Logto's Python MCP package does: ``PyJWKClient`` + ``jwt.decode`` per request."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.client = jwt.PyJWKClient(JWKS_URI)
        self.client.fetch_data = lambda: jwks  # type: ignore[method-assign]

    async def verify_token(self, token: str) -> AccessToken | None:
        """Verify synchronously on the event loop, as the package does."""
        try:
            key = self.client.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["ES384", "RS256"],
                audience=RESOURCE,
                issuer=ISSUER,
            )
        except jwt.PyJWTError:
            return None
        return AccessToken(
            token=token,
            client_id=claims["client_id"],
            scopes=str(claims.get("scope", "")).split(),
            expires_at=claims["exp"],
            resource=RESOURCE,
            subject=claims["sub"],
            claims=claims,
        )


def _sdk(variant: str, jwks: dict[str, Any]) -> tuple[ASGI, Callable[[], Any]]:
    path = f"/{variant}/mcp"
    mcp: MCPServer[Any]
    logto: LogtoTokenVerifier | None = None
    if variant == "sdk-none":
        mcp = MCPServer("bench")
    elif variant in {"sdk-pyjwt", "sdk-static"}:
        settings = AuthSettings(
            issuer_url=ISSUER,  # type: ignore[arg-type]
            resource_server_url=RESOURCE,  # type: ignore[arg-type]
            validate_token_resource=True,
        )
        other = PyJWKVerifier(jwks) if variant == "sdk-pyjwt" else StaticVerifier()
        mcp = MCPServer("bench", token_verifier=other, auth=settings)
    else:
        logto = LogtoTokenVerifier(
            endpoint=ENDPOINT, audience=RESOURCE, http_client=jwks_http_client(jwks)
        )
        mcp = MCPServer("bench", token_verifier=logto, auth=auth_settings(logto))

    @mcp.tool()
    def list_products() -> list[dict[str, Any]]:
        return PRODUCTS

    app: ASGI = mcp.streamable_http_app(
        streamable_http_path=path, json_response=True, stateless_http=True
    )
    if variant == "sdk-logto-protect":
        assert logto is not None
        app = logto.protect(app, path=path)
    return app, mcp.session_manager.run


def _fastmcp(variant: str, jwks: dict[str, Any]) -> tuple[ASGI, Callable[[], Any]]:
    from fastmcp import FastMCP
    from fastmcp.server.auth.providers.jwt import JWTVerifier

    from logto_guard.fastmcp import LogtoProvider

    auth: Any = None
    if variant == "fastmcp-logto":
        auth = LogtoProvider(
            endpoint=ENDPOINT,
            base_url="https://mcp.bench",
            audience=RESOURCE,
            http_client=jwks_http_client(jwks),
        )
    elif variant == "fastmcp-static":
        from fastmcp.server.auth import AccessToken as FastMCPAccessToken
        from fastmcp.server.auth import TokenVerifier

        class Static(TokenVerifier):
            async def verify_token(self, token: str) -> FastMCPAccessToken | None:
                return fixed

        fixed = FastMCPAccessToken(
            token="static",
            client_id="app",
            scopes=["read:products"],
            expires_at=2**40,
            resource=RESOURCE,
            subject="app",
            claims={"iss": ISSUER},
        )
        auth = Static()
    elif variant == "fastmcp-jwtverifier":
        public = jwt.PyJWK(jwks["keys"][0]).key
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        auth = JWTVerifier(public_key=pem, issuer=ISSUER, audience=RESOURCE, algorithm="ES384")
    mcp = FastMCP("bench", auth=auth)

    @mcp.tool()
    def list_products() -> list[dict[str, Any]]:
        return PRODUCTS

    # LogtoProvider's audience is <base_url><its MCP path>: serve it at /mcp below a root
    # path (as a Mount does), so its resource is RESOURCE like the other variants'.
    path = "/mcp" if variant == "fastmcp-logto" else f"/{variant}/mcp"
    app = mcp.http_app(path=path, json_response=True, stateless_http=True)

    def lifespan() -> AbstractAsyncContextManager[Any]:
        return app.router.lifespan_context(app)

    return app, lifespan


#: Variants served below ``/<variant>`` as a root path rather than at ``/<variant>/mcp``.
MOUNTED = {"fastmcp-logto"}


def create() -> ASGI:
    """The dispatcher over every variant (the uvicorn factory)."""
    config: dict[str, Any] = json.loads(Path(os.environ[CONFIG_ENV]).read_text())
    jwks = config["jwks"]
    apps: dict[str, ASGI] = {}
    lifespans: list[Callable[[], Any]] = []
    for variant in VARIANTS:
        build = _sdk if variant.startswith("sdk-") else _fastmcp
        app, lifespan = build(variant, jwks)
        apps[variant] = app
        lifespans.append(lifespan)

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for lifespan in lifespans:
                await stack.enter_async_context(lifespan())
            yield

    async def dispatch(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            async with running():
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
            assert message["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] == "http" and scope["path"] == "/health":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        variant = scope.get("path", "/").split("/")[1]
        app = apps.get(variant)
        if app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if variant in MOUNTED:
            scope = {**scope, "root_path": scope.get("root_path", "") + f"/{variant}"}
        await app(scope, receive, send)

    return dispatch
