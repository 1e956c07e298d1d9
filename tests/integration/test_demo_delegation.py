"""The demo's agent tool ``reorder_product`` calls the REST API as the calling user, never
passing the user's token through: the MCP server exchanges it (Logto's token exchange) for
a shopping-API token, over real HTTP with the official MCP client SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from demo_api.__main__ import MCP_SERVER, WRITER, register_apps
from demo_api.app import create_app
from demo_api.settings import Settings
from demo_api.store import ProductStore
from logto_guard.client import LogtoM2MClient
from logto_guard.dev_issuer import DEFAULT_USER_ID, DEV_PUBLIC_CLIENT, Directory, open_issuer
from logto_guard.dev_issuer import create_app as create_issuer_app

from ..dev_issuer_helpers import login
from .servers import bind_free_port, serve

pytestmark = pytest.mark.integration
SHOP = "https://shopping.api"


@dataclass
class Demo:
    issuer_url: str
    resource: str
    db: str
    mcp_app_id: str
    writer: LogtoM2MClient
    directory: Directory


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    issuer_sock, api_sock = bind_free_port(), bind_free_port()
    issuer_url = f"http://127.0.0.1:{issuer_sock.getsockname()[1]}"
    resource = f"http://127.0.0.1:{api_sock.getsockname()[1]}/mcp"
    state = open_issuer(tmp_path / "issuer", issuer=f"{issuer_url}/oidc")
    directory = Directory.open(tmp_path / "issuer")
    register_apps(state, SHOP, resource, directory)
    mcp_app, writer = state.find_app(MCP_SERVER), state.find_app(WRITER)
    assert mcp_app is not None and writer is not None
    db = str(tmp_path / "shop.sqlite3")
    settings = Settings(
        endpoint=issuer_url,
        db_path=db,
        mcp_resource=resource,
        mcp_app_id=mcp_app.app_id,
        mcp_app_secret=mcp_app.app_secret,
    )
    ProductStore(db).create(name="Green tea", price=4.5, description="", app_id="seed")
    with ExitStack() as stack:
        stack.enter_context(serve(create_issuer_app(state, directory=directory), issuer_sock))
        stack.enter_context(serve(create_app(settings), api_sock))
        m2m = LogtoM2MClient(
            endpoint=issuer_url, app_id=writer.app_id, app_secret=writer.app_secret
        )
        yield Demo(issuer_url, resource, db, mcp_app.app_id, m2m, directory)


async def user_token(demo: Demo) -> str:
    async with httpx.AsyncClient(base_url=demo.issuer_url) as http:
        body = await login(http, DEV_PUBLIC_CLIENT, resource=demo.resource)
    token: str = body["access_token"]
    return token


async def reorder(demo: Demo, auth: Any = None, headers: dict[str, str] | None = None) -> Any:
    async with (
        httpx2.AsyncClient(auth=auth, headers=headers, timeout=30) as http,
        streamable_http_client(demo.resource, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await session.call_tool("reorder_product", {"product_id": 1})


def text_of(result: Any) -> str:
    return "".join(getattr(part, "text", "") for part in result.content)


def test_a_users_call_reaches_the_rest_api_as_the_user_through_the_mcp_app(demo: Demo) -> None:
    async def main() -> Any:
        return await reorder(demo, headers={"Authorization": f"Bearer {await user_token(demo)}"})

    result = anyio.run(main)
    assert not result.is_error, text_of(result)
    created = json.loads(text_of(result))
    assert created["name"] == "Green tea" and created["description"] == "reorder of #1"
    (entry,) = ProductStore(demo.db).audit(created["id"])
    # The REST API saw the user as sub and the MCP server's app as client_id: no pass-through
    # (the user's MCP token has aud = the MCP resource and would be refused there).
    assert (entry.action, entry.subject, entry.client_id, entry.actor) == (
        "create",
        DEFAULT_USER_ID,
        demo.mcp_app_id,
        None,
    )


def test_an_m2m_caller_gets_the_mcp_servers_own_token_no_exchange(demo: Demo) -> None:
    async def main() -> Any:
        async with demo.writer as writer:
            auth = writer.mcp_auth(resource=demo.resource, scopes=["write:products"])
            return await reorder(demo, auth=auth)

    result = anyio.run(main)
    assert not result.is_error, text_of(result)
    (entry,) = ProductStore(demo.db).audit(json.loads(text_of(result))["id"])
    assert (entry.subject, entry.client_id) == (demo.mcp_app_id, demo.mcp_app_id)


def test_without_allow_token_exchange_the_tool_names_the_fix(demo: Demo) -> None:
    demo.directory.set_token_exchange(demo.mcp_app_id, False)

    async def main() -> Any:
        return await reorder(demo, headers={"Authorization": f"Bearer {await user_token(demo)}"})

    result = anyio.run(main)
    assert result.is_error
    message = text_of(result)
    assert "allowTokenExchange" in message and demo.mcp_app_id in message
    assert ProductStore(demo.db).count() == 1  # nothing was created


def test_reorder_works_end_to_end_from_python_m_demo_api(tmp_path: Path) -> None:
    """What ``make demo`` runs: the embedded dev issuer registers shopping-mcp with token
    exchange on and the dev user; a user's call of the tool reaches the REST API as the
    user, through the MCP server's app."""
    from .servers import wait_until
    from .test_demo_main import run_demo

    store = ProductStore(tmp_path / "demo.sqlite3")
    store.create(name="Green tea", price=4.5, description="", app_id="seed")
    store.close()
    with run_demo(tmp_path) as process:
        port, issuer_port = process.listening("shopping API"), process.listening("dev issuer")

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=60, interval=0.2)
        state = open_issuer(tmp_path / ".logto-dev", issuer=f"http://127.0.0.1:{issuer_port}/oidc")
        mcp_app = state.find_app(MCP_SERVER)
        assert mcp_app is not None
        demo = Demo(
            f"http://127.0.0.1:{issuer_port}",
            f"http://127.0.0.1:{port}/mcp",
            str(tmp_path / "demo.sqlite3"),
            mcp_app.app_id,
            LogtoM2MClient(endpoint=f"http://127.0.0.1:{issuer_port}", app_id="x", app_secret="y"),
            Directory.open(tmp_path / ".logto-dev"),
        )

        async def main() -> Any:
            token = await user_token(demo)
            return await reorder(demo, headers={"Authorization": f"Bearer {token}"})

        result = anyio.run(main)
    assert not result.is_error, text_of(result)
    (entry,) = ProductStore(demo.db).audit(json.loads(text_of(result))["id"])
    assert (entry.subject, entry.client_id) == (DEFAULT_USER_ID, mcp_app.app_id)
