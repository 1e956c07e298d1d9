"""Mounted MCP apps over real HTTP with the official MCP client SDK, both front ends.

A ``read:products`` token must not run ``create_product`` (listed as needing
``write:products``) when the MCP app is mounted below a prefix or served with a root path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.routing import Mount

from demo_api.__main__ import READER, WRITER, register_apps
from logto_guard.dev_issuer import create_app as create_issuer_app
from logto_guard.dev_issuer import open_issuer

from .servers import bind_free_port, serve
from .test_mcp_flow import AUDIENCE, Server, session

pytestmark = pytest.mark.integration


def sdk_shop(issuer_url: str, resource: str, ran: list[str]) -> Any:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.transport_security import TransportSecuritySettings

    from logto_guard.mcp import LogtoTokenVerifier, auth_settings

    verifier = LogtoTokenVerifier(endpoint=issuer_url, audience=resource)
    mcp: MCPServer[Any] = MCPServer("shop", token_verifier=verifier, auth=auth_settings(verifier))

    @mcp.tool()
    def list_products() -> list[str]:
        return ran

    @mcp.tool()
    def create_product(name: str) -> str:
        ran.append(name)
        return name

    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    inner = mcp.streamable_http_app(
        json_response=True, stateless_http=True, transport_security=security
    )
    protected = verifier.protect(inner, tool_scopes={"create_product": ["write:products"]})

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with inner.router.lifespan_context(app):
            try:
                yield
            finally:
                await verifier.aclose()  # the JWKS client lives on this server's loop

    return Starlette(routes=[Mount("/shop", app=protected)], lifespan=lifespan)


def fastmcp_shop(issuer_url: str, base_url: str, ran: list[str]) -> Any:
    from fastmcp import FastMCP

    from logto_guard.fastmcp import LogtoProvider

    auth = LogtoProvider(
        endpoint=issuer_url,
        base_url=base_url,
        tool_scopes={"create_product": ["write:products"], "list_products": ["read:products"]},
    )

    @asynccontextmanager
    async def close_auth(_: Any) -> AsyncIterator[dict[str, Any]]:
        try:
            yield {}
        finally:
            await auth.aclose()  # the JWKS client lives on this server's event loop

    mcp = FastMCP("shop", auth=auth, lifespan=close_auth)

    @mcp.tool()
    def list_products() -> list[str]:
        return ran

    @mcp.tool()
    def create_product(name: str) -> str:
        ran.append(name)
        return name

    inner = mcp.http_app(json_response=True, stateless_http=True)
    return Starlette(routes=[Mount("/shop", app=inner)], lifespan=inner.lifespan)


@contextmanager
def mounted(kind: str, tmp_path: Path, ran: list[str]) -> Iterator[Server]:
    issuer_sock, api_sock = bind_free_port(), bind_free_port()
    issuer_url = f"http://127.0.0.1:{issuer_sock.getsockname()[1]}"
    api_url = f"http://127.0.0.1:{api_sock.getsockname()[1]}"
    resource = f"{api_url}/shop/mcp"
    state = open_issuer(tmp_path / "issuer", issuer=f"{issuer_url}/oidc")
    register_apps(state, AUDIENCE, resource)
    if kind == "sdk":
        app = sdk_shop(issuer_url, resource, ran)
    else:
        app = fastmcp_shop(issuer_url, f"{api_url}/shop", ran)
    with ExitStack() as stack:
        stack.enter_context(serve(create_issuer_app(state), issuer_sock))
        stack.enter_context(serve(app, api_sock))
        yield Server(kind, issuer_url, state, resource)


@pytest.mark.parametrize("kind", ["sdk", "fastmcp"])
def test_a_reader_cannot_run_a_writer_tool_when_mounted(kind: str, tmp_path: Path) -> None:
    if kind == "fastmcp":
        pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")
    ran: list[str] = []
    with mounted(kind, tmp_path, ran) as server:
        reader = server.token(READER, scope="read:products write:products")  # write dropped
        refused = session(server, reader, "create_product", name="Tea")
        assert isinstance(refused, MCPError)
        assert "write:products" in str(refused)
        assert ran == []
        direct = httpx.post(
            server.resource,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "create_product", "arguments": {"name": "x"}},
            },
            headers={
                "Accept": "application/json, text/event-stream",
                "Authorization": f"Bearer {reader}",
            },
        )
        assert direct.status_code == 403
        assert 'scope="write:products"' in direct.headers["www-authenticate"]
        writer = server.token(WRITER, scope="read:products write:products")
        created = session(server, writer, "create_product", name="Oolong")
        assert created.is_error is False, created
        assert ran == ["Oolong"]


@pytest.mark.parametrize("kind", ["sdk", "fastmcp"])
def test_no_token_is_a_401_naming_the_metadata_when_mounted(kind: str, tmp_path: Path) -> None:
    if kind == "fastmcp":
        pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")
    with mounted(kind, tmp_path, []) as server:
        response = httpx.post(server.resource, json={}, headers={"Accept": "application/json"})
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert 'realm="' in challenge
        assert "/.well-known/oauth-protected-resource/shop/mcp" in challenge
