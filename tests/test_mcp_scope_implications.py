"""Scope hierarchies (MCP 2026-07-28: servers MUST account for them): Logto implies
nothing, so a server declares its own with ``scope_implications``; both front ends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from mcp.server.mcpserver import MCPServer

from logto_guard import ConfigurationError
from logto_guard._core.scopes import implication_closure, implied_scopes
from logto_guard.mcp import LogtoTokenVerifier, auth_settings, require_scopes
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio
BASE = "http://testserver"
RESOURCE = f"{BASE}/mcp"
ACCEPT = {"Accept": "application/json, text/event-stream"}
TOOL_SCOPES = {"list_products": ["read:products"], "create_product": ["write:products"]}
WRITE_IMPLIES_READ = {"write:products": ["read:products"]}
Client = tuple[httpx.AsyncClient, FakeLogto]


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    params = {"name": tool, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": params}


@asynccontextmanager
async def sdk(implications: Mapping[str, Sequence[str]] | None) -> AsyncIterator[Client]:
    clock = FakeClock()
    fake = FakeLogto(audience=RESOURCE, clock=clock)
    verifier = LogtoTokenVerifier(
        endpoint=fake.endpoint,
        audience=RESOURCE,
        http_client=fake.http_client(),
        allow_insecure_http=True,
        clock=clock,
    )
    mcp: MCPServer[Any] = MCPServer("shop", token_verifier=verifier, auth=auth_settings(verifier))

    @mcp.tool()
    def list_products() -> list[str]:
        require_scopes("read:products")  # the tool's own check sees the implied scope
        return ["tea"]

    inner = mcp.streamable_http_app(json_response=True, stateless_http=True, host="testserver")
    app = verifier.protect(inner, tool_scopes=TOOL_SCOPES, scope_implications=implications)
    transport = httpx.ASGITransport(app=app)
    async with mcp.session_manager.run(), httpx.AsyncClient(transport=transport) as client:
        yield client, fake


@asynccontextmanager
async def fastmcp(implications: Mapping[str, Sequence[str]] | None) -> AsyncIterator[Client]:
    pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")
    from fastmcp import FastMCP

    from logto_guard.fastmcp import LogtoProvider

    clock = FakeClock()
    fake = FakeLogto(audience=RESOURCE, clock=clock)
    provider = LogtoProvider(
        endpoint=fake.endpoint,
        base_url=BASE,
        # FastMCP checks required_scopes itself, on the AccessToken's (implied) scopes.
        required_scopes=["read:products"],
        tool_scopes=TOOL_SCOPES,
        scope_implications=implications,
        http_client=fake.http_client(),
        allow_insecure_http=True,
        clock=clock,
    )
    mcp = FastMCP("shop", auth=provider)

    @mcp.tool()
    def list_products() -> list[str]:
        return ["tea"]

    app = mcp.http_app(json_response=True, stateless_http=True)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport) as c:
        yield c, fake


FRONT_ENDS = [pytest.param(sdk, id="sdk"), pytest.param(fastmcp, id="fastmcp")]


async def list_with(front_end: Any, implications: Any, scopes: list[str]) -> httpx.Response:
    async with front_end(implications) as (client, fake):
        headers = {**ACCEPT, "Authorization": f"Bearer {fake.token(scopes=scopes)}"}
        response: httpx.Response = await client.post(
            RESOURCE, json=call("list_products"), headers=headers
        )
        return response


@pytest.mark.parametrize("front_end", FRONT_ENDS)
async def test_a_declared_implication_lets_a_write_token_call_a_read_tool(front_end: Any) -> None:
    response = await list_with(front_end, WRITE_IMPLIES_READ, ["write:products"])
    assert response.status_code == 200, response.text
    result = json.loads(response.text)["result"]
    assert result["isError"] is False, result
    assert "tea" in json.dumps(result["content"])


@pytest.mark.parametrize("front_end", FRONT_ENDS)
async def test_without_implications_write_does_not_grant_read(front_end: Any) -> None:
    """Logto has no implied scopes, and logto-guard infers none."""
    response = await list_with(front_end, None, ["write:products"])
    assert response.status_code == 403
    assert 'scope="read:products"' in response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("front_end", FRONT_ENDS)
async def test_an_implication_goes_one_way(front_end: Any) -> None:
    async with front_end(WRITE_IMPLIES_READ) as (client, fake):
        headers = {**ACCEPT, "Authorization": f"Bearer {fake.token(scopes=['read:products'])}"}
        response = await client.post(
            RESOURCE, json=call("create_product", name="x"), headers=headers
        )
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert "token lacks required scopes: write:products" in challenge


def test_implications_are_transitive_and_never_include_the_scope_itself() -> None:
    closure = implication_closure({"admin": ["write"], "write": ["read"], "read": ["admin"]})
    assert closure == {
        "admin": frozenset({"write", "read"}),
        "write": frozenset({"read", "admin"}),
        "read": frozenset({"admin", "write"}),
    }
    simple = implication_closure({"write": ["read"]})
    assert implied_scopes(frozenset({"write", "x"}), simple) == {"write", "read", "x"}
    assert implied_scopes(frozenset({"read"}), simple) == {"read"}
    assert implication_closure(None) == {}


@pytest.mark.parametrize(
    "bad",
    [
        {"write:products": "read:products"},  # a string would be read letter by letter
        {"write:products": ["read products"]},
        {"": ["read:products"]},
        {"write:products": [1]},
        ["write:products"],
    ],
)
def test_a_malformed_hierarchy_is_refused_at_construction(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="scope"):
        implication_closure(bad)
    fake = FakeLogto(audience=RESOURCE)
    verifier = LogtoTokenVerifier(
        endpoint=fake.endpoint, audience=RESOURCE, allow_insecure_http=True
    )
    mcp: MCPServer[Any] = MCPServer("shop")
    with pytest.raises(ConfigurationError):
        verifier.protect(mcp.streamable_http_app(host="testserver"), scope_implications=bad)


@pytest.mark.parametrize(
    "where",
    [
        {"required_scopes": ["offline_access"]},
        {"tool_scopes": {"list_products": ["read:products", "offline_access"]}},
        {"scopes_supported": ["read:products", "offline_access"]},
    ],
)
def test_offline_access_is_refused_as_a_resource_scope(where: dict[str, Any]) -> None:
    """MCP "Refresh Tokens": servers SHOULD NOT put offline_access in a challenge's scope
    or in scopes_supported; Logto never puts it in an API resource's access token."""
    fake = FakeLogto(audience=RESOURCE)
    verifier = LogtoTokenVerifier(
        endpoint=fake.endpoint, audience=RESOURCE, allow_insecure_http=True
    )
    mcp: MCPServer[Any] = MCPServer("shop")
    app = mcp.streamable_http_app(host="testserver")
    with pytest.raises(ConfigurationError, match="offline_access"):
        verifier.protect(app, **where)
    verifier.protect(app, required_scopes=["read:products"])  # the control
    pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")
    from logto_guard.fastmcp import LogtoProvider

    with pytest.raises(ConfigurationError, match="offline_access"):
        LogtoProvider(endpoint=fake.endpoint, base_url=BASE, allow_insecure_http=True, **where)
