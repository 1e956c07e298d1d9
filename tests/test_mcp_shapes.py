"""MCP front ends in every deployment shape: direct, Mount, root_path, a custom path.

A ``read:products`` token must never run a tool listed as needing ``write:products``,
whatever the shape; a shape the guard cannot match is refused at construction.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import pytest
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.routing import Mount

from logto_guard import ConfigurationError
from logto_guard.mcp import LogtoTokenVerifier, auth_settings
from logto_guard.testing import FakeClock, FakeLogto

from . import helpers

pytestmark = pytest.mark.anyio
ACCEPT = helpers.MCP_ACCEPT
ORIGIN = "http://testserver"


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    params = {"name": tool, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}


bearer = partial(helpers.bearer, mcp=True)


def shop(verifier: LogtoTokenVerifier, ran: list[str]) -> MCPServer[Any]:
    mcp: MCPServer[Any] = MCPServer("shop", token_verifier=verifier, auth=auth_settings(verifier))

    @mcp.tool()
    def create_product(name: str) -> str:
        ran.append(name)
        return f"created {name}"

    @mcp.tool()
    def audit(note: str) -> str:
        ran.append(note)
        return note

    return mcp


TOOL_SCOPES = {"create_product": ["write:products"], "audit": ["read:audit", "write:audit"]}


@asynccontextmanager
async def sdk_shape(
    shape: str, clock: FakeClock, ran: list[str]
) -> AsyncIterator[tuple[httpx.AsyncClient, str, FakeLogto, LogtoTokenVerifier]]:
    """A client, the MCP URL path, the fake tenant and the verifier for one shape."""
    prefix = {"direct": "", "mount": "/shop", "root_path": "/api", "custom": ""}[shape]
    inner_path = "/tools" if shape == "custom" else "/mcp"
    resource = f"{ORIGIN}{prefix}{inner_path}"
    fake = FakeLogto(audience=resource, clock=clock)
    verifier = LogtoTokenVerifier(
        endpoint=fake.endpoint,
        audience=resource,
        http_client=fake.http_client(),
        allow_insecure_http=True,
        clock=clock,
    )
    mcp = shop(verifier, ran)
    inner = mcp.streamable_http_app(
        json_response=True, stateless_http=True, host="testserver", streamable_http_path=inner_path
    )
    protected: Any = verifier.protect(inner, tool_scopes=TOOL_SCOPES)
    app: Any = protected
    if shape == "mount":
        app = Starlette(routes=[Mount("/shop", app=protected)])
    transport = httpx.ASGITransport(app=app, root_path="/api" if shape == "root_path" else "")
    async with (
        mcp.session_manager.run(),
        httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client,
    ):
        yield client, f"{prefix}{inner_path}", fake, verifier


SHAPES = ["direct", "mount", "root_path", "custom"]


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_reader_never_runs_a_writer_tool(shape: str) -> None:
    ran: list[str] = []
    async with sdk_shape(shape, FakeClock(), ran) as (client, path, fake, _):
        token = fake.token(scopes=["read:products"])
        response = await client.post(
            path, json=call("create_product", name="x"), headers=bearer(token)
        )
        assert response.status_code == 403
        assert 'scope="write:products"' in response.headers["www-authenticate"]
        assert ran == []
        writer = fake.token(scopes=["write:products"])
        ok = await client.post(path, json=call("create_product", name="y"), headers=bearer(writer))
        assert ok.status_code == 200
        assert ran == ["y"]


@pytest.mark.parametrize("shape", SHAPES)
async def test_no_token_is_our_401_in_every_shape(shape: str) -> None:
    async with sdk_shape(shape, FakeClock(), []) as (client, path, _, verifier):
        response = await client.post(path, json=call("create_product", name="x"), headers=ACCEPT)
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert 'realm="' in challenge
        assert f'resource_metadata="{verifier.metadata_url}"' in challenge


async def test_the_metadata_answers_at_the_advertised_url_when_the_outer_app_is_protected() -> None:
    clock = FakeClock()
    resource = f"{ORIGIN}/shop/mcp"
    fake = FakeLogto(audience=resource, clock=clock)
    verifier = LogtoTokenVerifier(
        endpoint=fake.endpoint,
        audience=resource,
        http_client=fake.http_client(),
        allow_insecure_http=True,
        clock=clock,
    )
    mcp = shop(verifier, [])
    inner = mcp.streamable_http_app(json_response=True, stateless_http=True, host="testserver")
    outer = verifier.protect(
        Starlette(routes=[Mount("/shop", app=inner)]), path="/shop/mcp", tool_scopes=TOOL_SCOPES
    )
    transport = httpx.ASGITransport(app=outer)
    async with (
        mcp.session_manager.run(),
        httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client,
    ):
        document = await client.get(verifier.metadata_url)
        assert document.status_code == 200
        assert document.json()["resource"] == resource
        denied = await client.post(
            "/shop/mcp",
            json=call("create_product", name="x"),
            headers=bearer(fake.token(scopes=["read:products"])),
        )
        assert denied.status_code == 403


async def test_a_path_the_app_does_not_route_is_refused_at_construction() -> None:
    fake = FakeLogto(audience=f"{ORIGIN}/mcp")
    verifier = LogtoTokenVerifier(
        endpoint=fake.endpoint,
        audience=f"{ORIGIN}/mcp",
        http_client=fake.http_client(),
        allow_insecure_http=True,
    )
    inner = shop(verifier, []).streamable_http_app(streamable_http_path="/tools")
    with pytest.raises(ConfigurationError, match="no route at '/mcp'"):
        verifier.protect(inner, path="/mcp")
    # Without path=, the audience's path is looked up, and /mcp is not /tools either.
    with pytest.raises(ConfigurationError, match="no route"):
        verifier.protect(inner)


async def test_paths_below_the_mcp_path_are_guarded_too() -> None:
    async with sdk_shape("direct", FakeClock(), []) as (client, path, _, _v):
        response = await client.post(path + "/", json=call("create_product", name="x"))
        assert response.status_code == 401


async def test_a_tool_needing_several_scopes_needs_all_of_them() -> None:
    ran: list[str] = []
    async with sdk_shape("direct", FakeClock(), ran) as (client, path, fake, _):
        one = fake.token(scopes=["read:audit"])
        response = await client.post(path, json=call("audit", note="n"), headers=bearer(one))
        assert response.status_code == 403
        assert 'scope="read:audit write:audit"' in response.headers["www-authenticate"]
        both = fake.token(scopes=["read:audit", "write:audit"])
        ok = await client.post(path, json=call("audit", note="m"), headers=bearer(both))
        assert ok.status_code == 200
        assert ran == ["m"]


async def test_deeply_nested_arguments_are_a_400_not_a_500() -> None:
    async with sdk_shape("direct", FakeClock(), []) as (client, path, fake, _):
        nested = "[" * 100_000 + "]" * 100_000
        body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"audit",'
        body += f'"arguments":{{"note":{nested}}}}}}}'
        headers = {**bearer(fake.token(scopes=["read:audit"])), "content-type": "application/json"}
        response = await client.post(path, content=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32700


async def test_one_challenge_names_every_scope_a_batch_needs() -> None:
    async with sdk_shape("direct", FakeClock(), []) as (client, path, fake, _):
        batch = [call("create_product", name="x"), {**call("audit", note="y"), "id": 8}]
        response = await client.post(path, json=batch, headers=bearer(fake.token(scopes=[])))
        assert response.status_code == 403
        challenge = response.headers["www-authenticate"]
        assert 'scope="write:products read:audit write:audit"' in challenge
        assert {error["id"] for error in response.json()} == {7, 8}


async def test_one_tools_call_counts_one_accepted_request() -> None:
    async with sdk_shape("direct", FakeClock(), []) as (client, path, fake, verifier):
        token = fake.token(scopes=["write:products"])
        before = verifier.authenticator.stats.accepted
        ok = await client.post(path, json=call("create_product", name="x"), headers=bearer(token))
        assert ok.status_code == 200
        assert verifier.authenticator.stats.accepted == before + 1


async def test_a_reused_token_is_authenticated_once_per_request_on_the_warm_path() -> None:
    """The token the middleware's cache probe found is the one the SDK's verify_token gets."""
    async with sdk_shape("direct", FakeClock(), []) as (client, path, fake, verifier):
        token = fake.token(scopes=["write:products"])
        first = await client.post(
            path, json=call("create_product", name="x"), headers=bearer(token)
        )
        assert first.status_code == 200
        before = verifier.authenticator.stats.accepted
        again = await client.post(
            path, json=call("create_product", name="y"), headers=bearer(token)
        )
        assert again.status_code == 200
        assert verifier.authenticator.stats.accepted == before + 1


async def test_the_shared_authenticator_keeps_no_mcp_metadata() -> None:
    async with sdk_shape("direct", FakeClock(), []) as (_c, _p, _f, verifier):
        refusal = await verifier.authenticator.check([])
        assert refusal is not None and not isinstance(refusal, dict)
        assert "resource_metadata" not in getattr(refusal, "headers", {})["WWW-Authenticate"]


async def test_metadata_preflight_allows_the_mcp_headers() -> None:
    async with sdk_shape("direct", FakeClock(), []) as (client, _p, _f, verifier):
        headers = {
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "mcp-protocol-version",
        }
        response = await client.options(verifier.metadata_url, headers=headers)
        assert response.status_code == 204
        assert "GET" in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        assert "mcp-protocol-version" in allowed and "authorization" in allowed


async def test_401_names_the_required_scopes() -> None:
    fake = FakeLogto(audience=f"{ORIGIN}/mcp")
    verifier = LogtoTokenVerifier(
        endpoint=fake.endpoint,
        audience=f"{ORIGIN}/mcp",
        http_client=fake.http_client(),
        allow_insecure_http=True,
    )
    mcp = shop(verifier, [])
    inner = mcp.streamable_http_app(json_response=True, stateless_http=True, host="testserver")
    app = verifier.protect(inner, required_scopes=["read:products"], tool_scopes=TOOL_SCOPES)
    assert app.metadata is not None
    assert app.metadata["scopes_supported"] == [
        "read:products",
        "write:products",
        "read:audit",
        "write:audit",
    ]
    async with (
        mcp.session_manager.run(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as client,
    ):
        response = await client.post("/mcp", json=call("create_product", name="x"), headers=ACCEPT)
        assert response.status_code == 401
        assert 'scope="read:products"' in response.headers["www-authenticate"]
        none = await client.post(
            "/mcp", json=call("create_product", name="x"), headers=bearer(fake.token(scopes=[]))
        )
        assert none.status_code == 403
        assert 'scope="read:products write:products"' in none.headers["www-authenticate"]


async def test_no_scope_is_inferred_from_another() -> None:
    """Logto has no implied scopes: write:products does not grant read:products."""
    async with sdk_shape("direct", FakeClock(), []) as (client, path, fake, _):
        token = fake.token(scopes=["write:products", "write:audit"])
        response = await client.post(path, json=call("audit", note="n"), headers=bearer(token))
        assert response.status_code == 403
        assert json.loads(response.text)["error"]["data"]["scope"] == "read:audit write:audit"


def test_a_plain_http_resource_off_loopback_is_refused() -> None:
    fake = FakeLogto(audience="http://shop.example.com/mcp")
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        LogtoTokenVerifier(endpoint=fake.endpoint, audience="http://shop.example.com/mcp")
    LogtoTokenVerifier(endpoint=fake.endpoint, audience="http://127.0.0.1:8000/mcp")
    LogtoTokenVerifier(
        endpoint=fake.endpoint, audience="http://shop.internal/mcp", allow_insecure_http=True
    )


async def test_a_rest_guard_sharing_the_authenticator_does_not_advertise_mcp_metadata() -> None:
    from fastapi import Depends, FastAPI

    from logto_guard.fastapi import LogtoGuard

    fake = FakeLogto(audience=f"{ORIGIN}/mcp")
    guard = LogtoGuard(
        endpoint=fake.endpoint,
        audience=f"{ORIGIN}/mcp",
        http_client=fake.http_client(),
        allow_insecure_http=True,
    )
    verifier = LogtoTokenVerifier(authenticator=guard.authenticator)
    mcp = shop(verifier, [])
    protected = verifier.protect(mcp.streamable_http_app(host="testserver"))
    rest = FastAPI()
    guard.install(rest)

    @rest.get("/products", dependencies=[Depends(guard)])
    def products() -> list[str]:
        return []

    transport = httpx.ASGITransport(app=rest)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        response = await client.get("/products")
    assert response.status_code == 401
    assert "resource_metadata" not in response.headers["www-authenticate"]
    assert protected.resource_metadata == verifier.metadata_url
