"""MCP over real HTTP: the official MCP client SDK against the demo's /mcp (MCP SDK server)
and against a small FastMCP server using LogtoProvider, with the dev issuer on loopback.

Tokens come from the dev issuer exactly as an M2M app gets them (``resource`` is the MCP
endpoint's URL); refusals are checked on the wire (status, ``WWW-Authenticate``).
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
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
from logto_guard.dev_issuer import IssuerState, open_issuer
from logto_guard.dev_issuer import create_app as create_issuer_app
from logto_guard.mcp import LogtoTokenVerifier

from .servers import bind_free_port, serve, wait_until

pytestmark = pytest.mark.integration
AUDIENCE = "https://shopping.api"
TOOLS = {"list_products", "get_product", "create_product", "update_product", "delete_product"}
#: The demo's MCP server adds its delegated tool.
DEMO_TOOLS = TOOLS | {"reorder_product"}


@dataclass
class Server:
    """One MCP server under test, the dev issuer it trusts, and its resource indicator."""

    kind: str
    issuer_url: str
    state: IssuerState
    resource: str
    stateless: bool = True

    @property
    def metadata_url(self) -> str:
        base, _, path = self.resource.rpartition("/")
        return f"{base}/.well-known/oauth-protected-resource/{path}"

    def token(self, name: str, *, resource: str | None = None, scope: str = "") -> str:
        """A client_credentials token, requested the way Logto's M2M guide does."""
        app = self.state.find_app(name)
        assert app is not None
        basic = base64.b64encode(f"{app.app_id}:{app.app_secret}".encode()).decode()
        response = httpx.post(
            f"{self.issuer_url}/oidc/token",
            headers={"Authorization": f"Basic {basic}"},
            data={
                "grant_type": "client_credentials",
                "resource": resource or self.resource,
                "scope": scope,
            },
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


def fastmcp_app(issuer_url: str, base_url: str, *, stateless: bool = True, **options: Any) -> Any:
    """A small FastMCP shop on LogtoProvider (what a user writes, plus tool_scopes)."""
    from fastmcp import FastMCP

    from logto_guard.fastmcp import LogtoProvider

    auth = LogtoProvider(
        endpoint=issuer_url,
        base_url=base_url,
        scopes_supported=["read:products", "write:products"],
        tool_scopes={
            name: [
                "write:products"
                if name.split("_")[0] in {"create", "update", "delete"}
                else "read:products"
            ]
            for name in TOOLS
        },
        **options,
    )

    @asynccontextmanager
    async def close_auth(_: Any) -> AsyncIterator[dict[str, Any]]:
        try:
            yield {}
        finally:
            await auth.aclose()  # the JWKS client lives on this server's event loop

    mcp = FastMCP("shop", auth=auth, lifespan=close_auth)
    products: list[dict[str, Any]] = []

    @mcp.tool()
    def list_products() -> list[dict[str, Any]]:
        return products

    @mcp.tool()
    def get_product(product_id: int) -> dict[str, Any]:
        return products[product_id - 1]

    @mcp.tool()
    def create_product(name: str, price: float) -> dict[str, Any]:
        products.append({"id": len(products) + 1, "name": name, "price": price})
        return products[-1]

    @mcp.tool()
    def update_product(product_id: int, price: float) -> dict[str, Any]:
        products[product_id - 1]["price"] = price
        return products[product_id - 1]

    @mcp.tool()
    def delete_product(product_id: int) -> str:
        return "deleted"

    return mcp.http_app(json_response=True, stateless_http=stateless)


#: Both front ends, each without protocol sessions (2026-07-28) and with them (the
#: ``Mcp-Session-Id`` of 2025-03-26 to 2025-11-25, which the client SDK still speaks).
FRONT_ENDS = [
    pytest.param(("sdk-demo", True), id="sdk-demo-stateless"),
    pytest.param(("sdk-demo", False), id="sdk-demo-stateful"),
    pytest.param(("fastmcp", True), id="fastmcp-stateless"),
    pytest.param(("fastmcp", False), id="fastmcp-stateful"),
]


#: The front ends with protocol sessions, for what only a session can show.
STATEFUL = [FRONT_ENDS[1], FRONT_ENDS[3]]


def _serve(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    kind, stateless = request.param
    if kind == "fastmcp":
        pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")
    with start_server(kind, tmp_path, stateless=stateless) as started:
        yield started


@pytest.fixture(params=FRONT_ENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    yield from _serve(request, tmp_path)


@pytest.fixture(params=STATEFUL)
def stateful_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    yield from _serve(request, tmp_path)


@contextmanager
def start_server(
    kind: str, tmp_path: Path, *, stateless: bool = True, leeway: float | None = None
) -> Iterator[Server]:
    """The demo (``sdk-demo``) or a FastMCP app with LogtoProvider, and the dev issuer;
    ``leeway`` overrides the guard's (the demo then gets its own MCP verifier)."""
    issuer_sock, api_sock = bind_free_port(), bind_free_port()
    issuer_url = f"http://127.0.0.1:{issuer_sock.getsockname()[1]}"
    api_url = f"http://127.0.0.1:{api_sock.getsockname()[1]}"
    resource = f"{api_url}/mcp"
    state = open_issuer(tmp_path / "issuer", issuer=f"{issuer_url}/oidc")
    register_apps(state, AUDIENCE, resource)
    if kind == "sdk-demo":
        settings = Settings(
            endpoint=issuer_url,
            db_path=str(tmp_path / "shop.sqlite3"),
            mcp_resource=resource,
            mcp_stateless=stateless,
        )
        verifier = None
        if leeway is not None:
            verifier = LogtoTokenVerifier(endpoint=issuer_url, audience=resource, leeway=leeway)
        app = create_app(settings, mcp_verifier=verifier)
    else:
        options = {} if leeway is None else {"leeway": leeway}
        app = fastmcp_app(issuer_url, api_url, stateless=stateless, **options)
    with ExitStack() as stack:
        stack.enter_context(serve(create_issuer_app(state), issuer_sock))
        stack.enter_context(serve(app, api_sock))
        yield Server(kind, issuer_url, state, resource, stateless)


def session(server: Server, token: str, tool: str | None, **arguments: Any) -> Any:
    """Initialize a session with the real client SDK, then list the tools or call one."""
    return anyio.run(functools.partial(_session, server, token, tool, **arguments))


async def _session(server: Server, token: str, tool: str | None, **arguments: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(server.resource, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        try:
            await session.initialize()
            if tool is None:
                return await session.list_tools()
            return await session.call_tool(tool, arguments)
        except MCPError as exc:  # raised inside the transport's task group: return it
            return exc


#: A request both modes answer without a session (stateful servers create one).
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}


def post(server: Server, token: str | None) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(server.resource, json=INITIALIZE, headers=headers)


def test_no_token_gets_401_pointing_at_the_metadata(server: Server) -> None:
    response = post(server, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{server.resource}", resource_metadata="{server.metadata_url}"'
    )


def test_metadata_names_the_resource_and_the_issuer(server: Server) -> None:
    response = httpx.get(server.metadata_url)
    assert response.status_code == 200
    document = response.json()
    assert document["resource"] == server.resource
    assert document["authorization_servers"] == [f"{server.issuer_url}/oidc"]
    assert document["bearer_methods_supported"] == ["header"]
    assert set(document["scopes_supported"]) == {"read:products", "write:products"}


def test_token_for_the_mcp_resource_lists_and_calls_tools(server: Server) -> None:
    token = server.token(WRITER, scope="read:products write:products")
    listed = session(server, token, None)
    assert {tool.name for tool in listed.tools} >= TOOLS
    created = session(server, token, "create_product", name="Tea", price=4.5)
    assert created.is_error is False, created
    products = session(server, token, "list_products")
    assert products.is_error is False, products
    assert "Tea" in str(products.content)


def test_reader_calling_create_product_is_refused_naming_write_scope(
    server: Server,
) -> None:
    token = server.token(READER, scope="read:products write:products")  # write is dropped
    refused = session(server, token, "create_product", name="Tea", price=4.5)
    assert isinstance(refused, MCPError)
    assert "write:products" in str(refused)
    assert (session(server, token, "list_products")).is_error is False


def test_token_for_the_rest_api_is_refused_at_mcp(server: Server) -> None:
    token = server.token(WRITER, resource=AUDIENCE, scope="read:products")
    response = post(server, token)
    assert response.status_code == 401
    assert response.json() == {"detail": "audience mismatch", "error": "invalid_token"}
    assert f'resource_metadata="{server.metadata_url}"' in response.headers["www-authenticate"]


def test_expired_token_is_refused(server: Server) -> None:
    now = int(time.time())
    claims = {
        "sub": "app",
        "client_id": "app",
        "iss": f"{server.issuer_url}/oidc",
        "aud": server.resource,
        "scope": "read:products",
        "iat": now - 7200,
        "exp": now - 3600,
    }
    signed = httpx.post(f"{server.issuer_url}/__dev__/sign", json={"claims": claims})
    response = post(server, signed.json()["token"])
    assert response.status_code == 401
    assert response.json() == {"detail": "token expired", "error": "invalid_token"}


def test_new_tokens_work_after_a_key_rotation_without_restart(server: Server) -> None:
    before = server.token(WRITER, scope="read:products")
    assert (session(server, before, "list_products")).is_error is False
    rotated = httpx.post(f"{server.issuer_url}/__dev__/rotate", json={})
    assert rotated.status_code == 200
    after = server.token(WRITER, scope="read:products")
    assert after.split(".")[0] != before.split(".")[0]  # another kid in the header

    def accepted() -> bool:
        # The unknown kid triggers a JWKS refetch, at most one per cooldown (1 s at first).
        return post(server, after).status_code == 200

    wait_until(accepted, timeout=5, interval=0.1)
    assert session(server, after, "list_products").is_error is False
    assert session(server, before, "list_products").is_error is False


def test_demo_client_calls_the_tools(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m demo_api.client mcp-tools|mcp-call`` against the demo (SDK server)."""
    from demo_api import client

    with start_server("sdk-demo", tmp_path) as server:
        port = server.issuer_url.rsplit(":", 1)[1]
        api_url = server.resource.removesuffix("/mcp")
        common = ["--state-dir", str(tmp_path / "issuer"), "--issuer-port", port]
        common += ["--api-url", api_url]
        env: dict[str, str] = {}  # nothing from the environment: the flags say it all
        assert client.main([*common, "mcp-tools"], environ=env) == 0
        assert {tool["name"] for tool in json.loads(capsys.readouterr().out)} == DEMO_TOOLS
        arguments = json.dumps({"name": "Oolong", "price": 7.25})
        assert client.main([*common, "mcp-call", "create_product", arguments], environ=env) == 0
        created = json.loads(capsys.readouterr().out)
        assert created["structuredContent"]["name"] == "Oolong"
        reader = [*common, "--as", "reader", "mcp-call", "delete_product", '{"product_id": 1}']
        assert client.main(reader, environ=env) == 1
        assert "write:products" in json.loads(capsys.readouterr().out)["error"]


def test_a_session_id_is_not_a_credential(stateful_server: Server) -> None:
    """Every request is authenticated, and a session belongs to the token's principal:
    another app's valid token cannot ride it (2026-07-28 security best practices: a state
    handle is never authentication)."""
    server = stateful_server
    assert not server.stateless
    headers = {"Accept": "application/json, text/event-stream"}
    writer = server.token(WRITER, scope="read:products")
    opened = httpx.post(
        server.resource, json=INITIALIZE, headers={**headers, "Authorization": f"Bearer {writer}"}
    )
    assert opened.status_code == 200
    session_id = opened.headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    headers |= {"Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"}
    alone = httpx.post(server.resource, json=listing, headers=headers)
    assert alone.status_code == 401  # the session id alone is no credential
    reader = server.token(READER, scope="read:products")
    other = httpx.post(
        server.resource, json=listing, headers={**headers, "Authorization": f"Bearer {reader}"}
    )
    assert other.status_code in {400, 404}, other.text  # not this principal's session
    assert "result" not in other.text
    own = httpx.post(
        server.resource, json=listing, headers={**headers, "Authorization": f"Bearer {writer}"}
    )
    assert own.status_code == 200 and "list_products" in own.text  # the control
