"""The official MCP client SDK's OAuth providers against the demo's ``/mcp``, with the demo
started as ``python -m demo_api`` (its own dev issuer, on free loopback ports).

Authorization code + PKCE: the client finds the authorization server from the 401's
``resource_metadata``, registers (RFC 7591), logs the person in, calls tools; a write tool
answers 403 ``insufficient_scope`` naming ``write:products`` and the client steps up
(MCP 2026-07-28 "Step-Up Authorization Flow"), asking for the union of its scopes.
Client credentials: ``ClientCredentialsOAuthProvider`` with the demo's M2M apps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import httpx2
import jwt
import pytest
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError

from demo_api.__main__ import READER, WRITER
from logto_guard.dev_issuer import DEFAULT_USER_ID, open_issuer

from .servers import wait_until
from .test_demo_main import run_demo
from .test_dev_issuer_mcp_oauth import MemoryStorage

pytestmark = pytest.mark.integration
REDIRECT_URI = "http://127.0.0.1:5555/callback"


class RecordingStorage(MemoryStorage):
    """Keeps every token the client was issued, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: list[OAuthToken] = []

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.issued.append(tokens)
        await super().set_tokens(tokens)


def scopes_of(token: OAuthToken) -> set[str]:
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    return set(claims["scope"].split())


class Demo:
    def __init__(self, state_dir: Path, port: int, issuer_port: int, stateless: bool) -> None:
        self.stateless = stateless
        #: The Mcp-Session-Id values the server handed out (none when stateless).
        self.session_ids: set[str] = set()
        self.state_dir = state_dir
        self.resource = f"http://127.0.0.1:{port}/mcp"
        self.issuer = f"http://127.0.0.1:{issuer_port}/oidc"

    def app(self, name: str) -> tuple[str, str]:
        found = open_issuer(self.state_dir, issuer=self.issuer).find_app(name)
        assert found is not None
        return found.app_id, found.app_secret


@pytest.fixture(params=["stateless", "stateful"])
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Demo]:
    """The demo without protocol sessions (its default, 2026-07-28) and with them."""
    state_dir = tmp_path / ".logto-dev"  # the demo's default --state-dir, in its cwd
    stateless = "1" if request.param == "stateless" else "0"
    with run_demo(tmp_path, MCP_STATELESS=stateless) as process:
        wait_until(lambda: "Press Ctrl-C to stop." in process.lines, timeout=60)
        port, issuer_port = process.listening("shopping API"), process.listening("dev issuer")
        yield Demo(state_dir, port, issuer_port, request.param == "stateless")


async def use_tools(auth: httpx2.Auth, demo: Demo, *calls: tuple[str, dict[str, Any]]) -> Any:
    """List the tools, then make ``calls``; an MCPError is returned, not raised."""
    results: list[Any] = []

    async def record(response: httpx2.Response) -> None:
        if "mcp-session-id" in response.headers:
            demo.session_ids.add(response.headers["mcp-session-id"])

    hooks = {"response": [record]}
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30, event_hooks=hooks) as http,
        streamable_http_client(demo.resource, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        results.append({tool.name for tool in (await session.list_tools()).tools})
        for name, arguments in calls:
            try:
                results.append(await session.call_tool(name, arguments))
            except MCPError as exc:
                results.append(exc)
    return results


def test_auth_code_and_pkce_then_step_up_for_the_write_tool(demo: Demo) -> None:
    asked: list[dict[str, str]] = []
    captured: dict[str, str] = {}

    async def redirect_handler(url: str) -> None:
        assert url.startswith(f"{demo.issuer}/auth?")
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        asked.append(query)
        if len(asked) == 1:
            # At first the person consents to reading only (an authorization server MAY
            # grant a subset of what was asked); the dev issuer grants what is approved.
            url = url.split("?")[0] + "?" + urlencode({**query, "scope": "read:products"})
        async with httpx.AsyncClient() as browser:  # the person approving in a browser
            answer = await browser.get(url)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(REDIRECT_URI)
        captured.update({k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})

    async def callback_handler() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(
            code=captured["code"], state=captured["state"], iss=captured.get("iss")
        )

    storage = RecordingStorage()
    provider = OAuthClientProvider(
        server_url=demo.resource,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
            client_name="demo step-up test",
            token_endpoint_auth_method="none",
            grant_types=["authorization_code"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    arguments = {"name": "Sencha", "price": 6.5}
    tools, listed, created = anyio.run(
        use_tools, provider, demo, ("list_products", {}), ("create_product", arguments)
    )
    assert {"list_products", "create_product"} <= tools
    assert not isinstance(listed, MCPError) and listed.is_error is False, listed
    assert not isinstance(created, MCPError), created
    assert created.is_error is False, created
    assert created.structured_content["name"] == "Sencha"
    # Two authorizations: the first asked what the metadata advertises (the 401 names
    # no scope) and got read only; the 403 named write:products, and the step-up asked
    # for the union, with the resource indicator each time (RFC 8707). One principal
    # throughout, so a stateful session survives the step-up.
    assert len(asked) == 2
    for query in asked:
        assert query["resource"] == demo.resource
        assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert set(asked[1]["scope"].split()) == {"read:products", "write:products"}
    first, second = storage.issued
    assert scopes_of(first) == {"read:products"}
    assert scopes_of(second) == {"read:products", "write:products"}
    assert storage.tokens is not None and storage.client is not None
    claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert claims["sub"] == DEFAULT_USER_ID and claims["aud"] == demo.resource
    assert claims["client_id"] == storage.client.client_id
    assert set(claims["scope"].split()) == {"read:products", "write:products"}
    assert bool(demo.session_ids) is not demo.stateless  # MCP_STATELESS took effect


def test_client_credentials_provider_with_the_demos_m2m_apps(demo: Demo) -> None:
    def provider(name: str) -> ClientCredentialsOAuthProvider:
        app_id, secret = demo.app(name)
        return ClientCredentialsOAuthProvider(
            server_url=demo.resource,
            storage=MemoryStorage(),
            client_id=app_id,
            client_secret=secret,
            issuer=demo.issuer,
        )

    arguments: dict[str, Any] = {"name": "Genmaicha", "price": 3.0}
    calls: tuple[tuple[str, dict[str, Any]], ...] = (
        ("list_products", {}),
        ("create_product", arguments),
    )
    tools, listed, created = anyio.run(use_tools, provider(WRITER), demo, *calls)
    assert "create_product" in tools
    assert listed.is_error is False and created.is_error is False, (listed, created)
    _, listed, refused = anyio.run(use_tools, provider(READER), demo, *calls)
    assert listed.is_error is False
    # The reader's step-up gets read only again (its roles): the 403 stands.
    assert isinstance(refused, MCPError), refused
    assert refused.data == {"error": "insufficient_scope", "scope": "write:products"}
    assert bool(demo.session_ids) is not demo.stateless
