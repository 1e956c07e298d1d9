"""An M2M app calling a protected MCP server with the official MCP client SDK (issue 18/19).

The SDK's HTTP client is ``httpx2`` and refuses an ``httpx.Auth`` (``TypeError: Invalid
"auth" argument``); ``m2m.mcp_auth()`` is an ``httpx2.Auth``. The demo's ``/mcp`` (MCP SDK
server with LogtoTokenVerifier) and the dev issuer run on 127.0.0.1 over real HTTP. The
SDK reports a 403 only as "Server returned an error response": the auth keeps the
challenge (``last_challenge``) so a client can say which scope is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from demo_api.__main__ import READER, WRITER, register_apps
from demo_api.app import create_app
from demo_api.settings import Settings
from logto_guard.client import Challenge, LogtoM2MClient
from logto_guard.dev_issuer import IssuerState, open_issuer
from logto_guard.dev_issuer import create_app as create_issuer_app

from .servers import bind_free_port, serve

pytestmark = pytest.mark.integration


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[str, str, IssuerState]]:
    issuer_sock, api_sock = bind_free_port(), bind_free_port()
    issuer_url = f"http://127.0.0.1:{issuer_sock.getsockname()[1]}"
    resource = f"http://127.0.0.1:{api_sock.getsockname()[1]}/mcp"
    state = open_issuer(tmp_path / "issuer", issuer=f"{issuer_url}/oidc")
    register_apps(state, "https://shopping.api", resource)
    settings = Settings(
        endpoint=issuer_url, db_path=str(tmp_path / "shop.sqlite3"), mcp_resource=resource
    )
    with ExitStack() as stack:
        stack.enter_context(serve(create_issuer_app(state), issuer_sock))
        stack.enter_context(serve(create_app(settings), api_sock))
        yield issuer_url, resource, state


def m2m_for(state: IssuerState, name: str, issuer_url: str) -> LogtoM2MClient:
    app = state.find_app(name)
    assert app is not None
    return LogtoM2MClient(endpoint=issuer_url, app_id=app.app_id, app_secret=app.app_secret)


async def call(auth: Any, url: str, tool: str | None, **arguments: Any) -> Any:
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        try:
            await session.initialize()
            if tool is None:
                return await session.list_tools()
            return await session.call_tool(tool, arguments)
        except MCPError as exc:  # raised inside the transport's task group
            return exc


def test_httpx_auth_is_refused_by_the_sdk_client_and_mcp_auth_is_accepted() -> None:
    m2m = LogtoM2MClient(endpoint="http://127.0.0.1:1", app_id="a", app_secret="b")
    with pytest.raises(TypeError, match='Invalid "auth" argument'):
        httpx2.AsyncClient(auth=m2m.auth(resource="http://127.0.0.1:1/mcp"))  # type: ignore[arg-type]
    assert isinstance(m2m.mcp_auth(resource="http://127.0.0.1:1/mcp"), httpx2.Auth)


def test_an_m2m_app_lists_and_calls_tools_with_mcp_auth(
    shop: tuple[str, str, IssuerState],
) -> None:
    issuer_url, resource, state = shop

    async def scenario() -> tuple[Any, Any, int]:
        async with m2m_for(state, WRITER, issuer_url) as m2m:
            auth = m2m.mcp_auth(resource=resource, scopes=["read:products", "write:products"])
            listed = await call(auth, resource, None)
            created = await call(auth, resource, "create_product", name="Tea", price=3.5)
            token = await m2m.get_token(
                resource=resource, scopes=["read:products", "write:products"]
            )
            return listed, created, len(token.access_token)

    listed, created, token_length = anyio.run(scenario)
    assert not isinstance(listed, MCPError), listed
    assert "create_product" in {tool.name for tool in listed.tools}
    assert not isinstance(created, MCPError), created
    assert created.is_error is False
    assert token_length > 0


def test_a_missing_scope_is_read_from_the_auths_last_challenge(
    shop: tuple[str, str, IssuerState],
) -> None:
    issuer_url, resource, state = shop

    async def scenario() -> tuple[Any, Challenge | None]:
        async with m2m_for(state, READER, issuer_url) as m2m:
            auth = m2m.mcp_auth(resource=resource, scopes=["read:products"])
            result = await call(auth, resource, "create_product", name="Tea", price=3.5)
            return result, auth.last_challenge

    result, challenge = anyio.run(scenario)
    assert isinstance(result, MCPError)
    # This server puts the refusal in a JSON-RPC error body, which the SDK surfaces; a
    # server answering a bare 403 gives only "Server returned an error response".
    assert result.data == {"error": "insufficient_scope", "scope": "write:products"}
    assert challenge is not None
    assert (challenge.status_code, challenge.error) == (403, "insufficient_scope")
    assert "write:products" in challenge.scopes
    assert challenge.resource_metadata is not None
    assert challenge.resource_metadata.startswith(resource.rsplit("/", 1)[0])


def test_mcp_headers_work_with_a_plain_sdk_client(shop: tuple[str, str, IssuerState]) -> None:
    issuer_url, resource, state = shop

    async def scenario() -> Any:
        async with m2m_for(state, READER, issuer_url) as m2m:
            headers = await m2m.mcp_headers(resource=resource, scopes=["read:products"])
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30) as http,
                streamable_http_client(resource, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await session.list_tools()

    listed = anyio.run(scenario)
    assert "list_products" in {tool.name for tool in listed.tools}
    assert httpx.__name__ == "httpx"  # the library's own client stays plain httpx
