"""logto_guard.fastmcp: LogtoProvider on a FastMCP server, offline (ASGITransport)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import pytest

pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")

from fastmcp import FastMCP
from fastmcp.server.dependencies import get_access_token

from logto_guard.fastmcp import LogtoProvider
from logto_guard.testing import FakeClock, FakeLogto

from . import helpers

# The clock starts at the wall clock's now: the SDK also checks ``expires_at`` with time.time().
pytestmark = [pytest.mark.anyio, pytest.mark.wall_clock]
BASE = "http://testserver"
RESOURCE = f"{BASE}/mcp"
METADATA = f"{BASE}/.well-known/oauth-protected-resource/mcp"
ACCEPT = helpers.MCP_ACCEPT


@pytest.fixture
def fake(clock: FakeClock) -> FakeLogto:
    return FakeLogto(audience=RESOURCE, clock=clock)


@pytest.fixture
def provider(fake: FakeLogto, clock: FakeClock) -> LogtoProvider:
    return LogtoProvider(
        endpoint=fake.endpoint,
        base_url=BASE,
        scopes_supported=["read:products", "write:products"],
        tool_scopes={"create_product": ["write:products"]},
        http_client=fake.http_client(),
        allow_insecure_http=True,
        clock=clock,
    )


@pytest.fixture
async def client(provider: LogtoProvider) -> AsyncIterator[httpx.AsyncClient]:
    mcp = FastMCP("shop", auth=provider)

    @mcp.tool()
    def whoami() -> dict[str, Any]:
        token = get_access_token()
        assert token is not None
        return {"client_id": token.client_id, "iss": token.claims["iss"], "aud": token.resource}

    @mcp.tool()
    def create_product(name: str) -> str:
        return f"created {name}"

    app = mcp.http_app(json_response=True, stateless_http=True)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE) as c,
    ):
        yield c


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    params = {"name": tool, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}


bearer = partial(helpers.bearer, mcp=True)


async def test_provider_verifies_with_the_logto_audience(
    provider: LogtoProvider, fake: FakeLogto
) -> None:
    assert provider.resource_url == RESOURCE
    access = await provider.verify_token(fake.token(scopes=["read:products"]))
    assert access is not None
    assert (access.client_id, access.resource, access.scopes) == (
        fake.app_id,
        RESOURCE,
        ["read:products"],
    )
    assert access.claims["iss"] == fake.issuer
    assert await provider.verify_token(fake.token(aud="https://shopping.api")) is None


async def test_a_reused_token_shares_one_access_token_and_others_get_their_own(
    provider: LogtoProvider, fake: FakeLogto, clock: FakeClock
) -> None:
    reader = fake.token(scopes=["read:products"], ttl=60)
    writer = fake.token(scopes=["write:products"])
    first = await provider.verify_token(reader)
    other = await provider.verify_token(writer)
    again = await provider.verify_token(reader)
    assert first is not None and other is not None
    assert again is first
    assert other.token == writer and other.scopes == ["write:products"]
    assert first.scopes == ["read:products"]
    clock.advance(60 + 31)  # past exp and the leeway: the kept AccessToken is not handed out
    assert await provider.verify_token(reader) is None


async def test_no_token_gets_401_with_resource_metadata(client: httpx.AsyncClient) -> None:
    response = await client.post("/mcp", json=call("whoami"), headers=ACCEPT)
    assert response.status_code == 401
    assert response.json() == {"detail": "bearer token required"}
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{RESOURCE}", resource_metadata="{METADATA}"'
    )


async def test_metadata_names_the_logto_issuer(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": ["https://tenant.logto.app/oidc"],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["read:products", "write:products"],
    }


async def test_tool_sees_the_verified_token(client: httpx.AsyncClient, fake: FakeLogto) -> None:
    response = await client.post("/mcp", json=call("whoami"), headers=bearer(fake.token()))
    assert response.status_code == 200
    assert response.json()["result"]["structuredContent"] == {
        "client_id": fake.app_id,
        "iss": fake.issuer,
        "aud": RESOURCE,
    }


async def test_token_for_another_resource_is_refused(
    client: httpx.AsyncClient, fake: FakeLogto
) -> None:
    token = fake.token(aud="https://shopping.api")
    response = await client.post("/mcp", json=call("whoami"), headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {"detail": "audience mismatch", "error": "invalid_token"}
    assert f'resource_metadata="{METADATA}"' in response.headers["www-authenticate"]


async def test_missing_tool_scope_is_a_403_naming_it(
    client: httpx.AsyncClient, fake: FakeLogto
) -> None:
    token = fake.token(scopes=["read:products"])
    response = await client.post(
        "/mcp", json=call("create_product", name="tea"), headers=bearer(token)
    )
    assert response.status_code == 403
    assert 'scope="write:products"' in response.headers["www-authenticate"]
    assert "write:products" in response.json()["error"]["message"]
    writer = fake.token(scopes=["write:products"])
    allowed = await client.post(
        "/mcp", json=call("create_product", name="tea"), headers=bearer(writer)
    )
    assert allowed.json()["result"]["structuredContent"] == {"result": "created tea"}
