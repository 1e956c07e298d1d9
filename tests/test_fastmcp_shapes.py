"""LogtoProvider in every deployment shape: direct, Mount, root_path, a custom MCP path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import pytest

pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")

from fastmcp import FastMCP
from starlette.applications import Starlette
from starlette.routing import Mount

from logto_guard import ConfigurationError, Refusal
from logto_guard.fastmcp import LogtoProvider
from logto_guard.testing import FakeClock, FakeLogto

from . import helpers

pytestmark = pytest.mark.anyio
ORIGIN = "http://testserver"
ACCEPT = helpers.MCP_ACCEPT
SHAPES = ["direct", "mount", "root_path", "custom"]


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    params = {"name": tool, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}


bearer = partial(helpers.bearer, mcp=True)


@asynccontextmanager
async def shape_client(
    shape: str, ran: list[str]
) -> AsyncIterator[tuple[httpx.AsyncClient, str, FakeLogto, LogtoProvider]]:
    prefix = {"direct": "", "mount": "/api", "root_path": "/api", "custom": ""}[shape]
    mcp_path = "/api/mcp" if shape == "custom" else "/mcp"
    resource = f"{ORIGIN}{prefix}{mcp_path}"
    clock = FakeClock()
    fake = FakeLogto(audience=resource, clock=clock)
    provider = LogtoProvider(
        endpoint=fake.endpoint,
        base_url=f"{ORIGIN}{prefix}",
        tool_scopes={"create_product": ["write:products"]},
        http_client=fake.http_client(),
        allow_insecure_http=True,
        clock=clock,
    )
    mcp = FastMCP("shop", auth=provider)

    @mcp.tool()
    def create_product(name: str) -> str:
        ran.append(name)
        return f"created {name}"

    inner = mcp.http_app(path=mcp_path, json_response=True, stateless_http=True)
    app: Any = inner
    if shape == "mount":
        app = Starlette(routes=[Mount("/api", app=inner)], lifespan=inner.lifespan)
    transport = httpx.ASGITransport(app=app, root_path="/api" if shape == "root_path" else "")
    async with (
        inner.router.lifespan_context(inner),
        httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client,
    ):
        yield client, f"{prefix}{mcp_path}", fake, provider


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_reader_never_runs_a_writer_tool(shape: str) -> None:
    ran: list[str] = []
    async with shape_client(shape, ran) as (client, path, fake, _):
        reader = fake.token(scopes=["read:products"])
        response = await client.post(
            path, json=call("create_product", name="x"), headers=bearer(reader)
        )
        assert response.status_code == 403
        assert 'scope="write:products"' in response.headers["www-authenticate"]
        assert ran == []
        writer = fake.token(scopes=["write:products"])
        ok = await client.post(path, json=call("create_product", name="y"), headers=bearer(writer))
        assert ok.status_code == 200
        assert ran == ["y"]


@pytest.mark.parametrize("shape", SHAPES)
async def test_the_401_names_metadata_for_the_served_resource(shape: str) -> None:
    async with shape_client(shape, []) as (client, path, _, provider):
        assert provider.resource_url == f"{ORIGIN}{path}"
        response = await client.post(path, json=call("create_product", name="x"), headers=ACCEPT)
        assert response.status_code == 401
        assert 'realm="' in response.headers["www-authenticate"]
        assert "resource_metadata=" in response.headers["www-authenticate"]


async def test_a_custom_path_is_the_audience_and_the_metadata_resource() -> None:
    async with shape_client("custom", []) as (client, path, fake, provider):
        assert path == "/api/mcp"
        document = await client.get("/.well-known/oauth-protected-resource/api/mcp")
        assert document.status_code == 200
        assert document.json()["resource"] == f"{ORIGIN}/api/mcp"
        assert document.json()["scopes_supported"] == ["write:products"]
        token = fake.token(scopes=["write:products"])
        ok = await client.post(path, json=call("create_product", name="t"), headers=bearer(token))
        assert ok.status_code == 200
        assert provider.authenticator.stats.accepted == 1  # authenticated once, counted once


def test_an_explicit_audience_that_is_not_the_mcp_path_is_refused() -> None:
    fake = FakeLogto(audience=f"{ORIGIN}/mcp")
    provider = LogtoProvider(
        endpoint=fake.endpoint,
        base_url=ORIGIN,
        audience=f"{ORIGIN}/mcp",
        http_client=fake.http_client(),
        allow_insecure_http=True,
    )
    mcp = FastMCP("shop", auth=provider)
    with pytest.raises(ConfigurationError, match="/api/mcp"):
        mcp.http_app(path="/api/mcp")


async def test_the_shared_authenticator_keeps_no_mcp_metadata() -> None:
    async with shape_client("direct", []) as (_c, _p, _f, provider):
        refusal = await provider.authenticator.check([])
        assert isinstance(refusal, Refusal)
        assert "resource_metadata" not in refusal.headers["WWW-Authenticate"]


def test_a_plain_http_resource_off_loopback_is_refused() -> None:
    fake = FakeLogto(audience="http://shop.example.com/mcp")
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        LogtoProvider(endpoint=fake.endpoint, base_url="http://shop.example.com")


async def test_a_foreign_origin_is_a_403_before_any_tool_runs() -> None:
    ran: list[str] = []
    async with shape_client("direct", ran) as (client, path, fake, _):
        token = fake.token(scopes=["write:products"])
        evil = {**bearer(token), "Origin": "http://evil.example"}
        response = await client.post(path, json=call("create_product", name="x"), headers=evil)
        assert response.status_code == 403
        assert ran == []
        own = {**bearer(token), "Origin": ORIGIN}
        ok = await client.post(path, json=call("create_product", name="y"), headers=own)
        assert ok.status_code == 200
        assert ran == ["y"]
