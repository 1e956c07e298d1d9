"""``protect(policy=...)``: the MCP SDK front end applies the same route policy as FastAPI
and ASGI (allowed App IDs, no actor tokens), before any tool runs, cold and warm."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp.server.mcpserver import MCPServer

from logto_guard import Policy
from logto_guard.mcp import LogtoTokenVerifier, auth_settings
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio
ORIGIN = "http://testserver"
RESOURCE = f"{ORIGIN}/mcp"
ACCEPT = {"Accept": "application/json, text/event-stream"}
CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "create_product", "arguments": {"name": "Tea"}},
}


CLOCK = FakeClock()


async def answers(
    fake: FakeLogto, policy: Policy, tokens: list[str]
) -> tuple[list[httpx.Response], list[str]]:
    clock = CLOCK
    verifier = LogtoTokenVerifier(
        endpoint=fake.endpoint,
        audience=RESOURCE,
        http_client=fake.http_client(),
        allow_insecure_http=True,
        clock=clock,
    )
    ran: list[str] = []
    mcp: MCPServer[Any] = MCPServer("shop", token_verifier=verifier, auth=auth_settings(verifier))

    @mcp.tool()
    def create_product(name: str) -> str:
        ran.append(name)
        return name

    inner = mcp.streamable_http_app(json_response=True, stateless_http=True, host="testserver")
    app = verifier.protect(inner, policy=policy)
    transport = httpx.ASGITransport(app=app)
    responses = []
    async with (
        mcp.session_manager.run(),
        httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client,
    ):
        for token in tokens:
            responses.append(
                await client.post(
                    "/mcp", json=CALL, headers={**ACCEPT, "Authorization": f"Bearer {token}"}
                )
            )
    return responses, ran


def _fake() -> FakeLogto:
    return FakeLogto(audience=RESOURCE, clock=CLOCK)


async def test_an_app_not_listed_is_refused_twice_cold_and_warm() -> None:
    fake = _fake()
    other = fake.token(client_id="other-app", sub="other-app")
    responses, ran = await answers(fake, Policy(clients=["agent-app"]), [other, other])
    for response in responses:
        assert response.status_code == 403
        challenge = response.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert "client not allowed" in challenge
    assert ran == []


async def test_a_listed_app_runs_the_tool() -> None:
    fake = _fake()
    agent = fake.token(client_id="agent-app", sub="user-1")
    responses, ran = await answers(fake, Policy(clients=["agent-app"]), [agent])
    assert responses[0].status_code == 200
    assert ran == ["Tea"]


async def test_actor_tokens_are_refused_when_the_policy_says_so() -> None:
    fake = _fake()
    acting = fake.token(client_id="agent-app", sub="user-1", act={"sub": "user-2"})
    responses, ran = await answers(fake, Policy(allow_actor=False), [acting])
    assert responses[0].status_code == 403
    assert "actor tokens not allowed" in responses[0].headers["www-authenticate"]
    assert ran == []


async def test_fastmcp_provider_applies_the_policy_before_the_tool_runs() -> None:
    pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")
    from fastmcp import FastMCP

    from logto_guard.fastmcp import LogtoProvider

    fake = _fake()
    provider = LogtoProvider(
        endpoint=fake.endpoint,
        base_url=ORIGIN,
        policy=Policy(clients=["agent-app"]),
        http_client=fake.http_client(),
        allow_insecure_http=True,
        clock=CLOCK,
    )
    mcp = FastMCP("shop", auth=provider)
    ran: list[str] = []

    @mcp.tool()
    def create_product(name: str) -> str:
        ran.append(name)
        return name

    inner = mcp.http_app(path="/mcp", json_response=True, stateless_http=True)
    transport = httpx.ASGITransport(app=inner)
    other = fake.token(client_id="other-app", sub="other-app")
    agent = fake.token(client_id="agent-app", sub="user-1")
    async with (
        inner.router.lifespan_context(inner),
        httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client,
    ):
        refused = await client.post(
            "/mcp", json=CALL, headers={**ACCEPT, "Authorization": f"Bearer {other}"}
        )
        allowed = await client.post(
            "/mcp", json=CALL, headers={**ACCEPT, "Authorization": f"Bearer {agent}"}
        )
    assert refused.status_code == 403
    assert "client not allowed" in refused.headers["www-authenticate"]
    assert allowed.status_code == 200
    assert ran == ["Tea"]
