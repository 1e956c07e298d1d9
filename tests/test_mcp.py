"""logto_guard.mcp: the MCP SDK verifier, AuthSettings, per-tool scopes and HTTP refusals."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.server.mcpserver import MCPServer

from logto_guard import ORGANIZATION_AUDIENCE, ConfigurationError
from logto_guard.mcp import (
    LogtoTokenVerifier,
    MCPAuthMiddleware,
    MissingScopeError,
    auth_settings,
    require_scopes,
)
from logto_guard.testing import FakeClock, FakeLogto

from . import helpers

# The clock starts at the wall clock's now: the SDK also checks ``expires_at`` with time.time().
pytestmark = [pytest.mark.anyio, pytest.mark.wall_clock]
RESOURCE = "http://testserver/mcp"
METADATA = "http://testserver/.well-known/oauth-protected-resource/mcp"
ACCEPT = helpers.MCP_ACCEPT


@pytest.fixture
def fake(clock: FakeClock) -> FakeLogto:
    return FakeLogto(audience=RESOURCE, clock=clock)


@pytest.fixture
def verifier(fake: FakeLogto, clock: FakeClock) -> LogtoTokenVerifier:
    return LogtoTokenVerifier(
        endpoint=fake.endpoint,
        audience=RESOURCE,
        http_client=fake.http_client(),
        allow_insecure_http=True,
        clock=clock,
    )


def shop(verifier: LogtoTokenVerifier) -> MCPServer[Any]:
    mcp: MCPServer[Any] = MCPServer("shop", token_verifier=verifier, auth=auth_settings(verifier))

    @mcp.tool()
    def list_products() -> list[str]:
        require_scopes("read:products")
        return ["tea"]

    @mcp.tool()
    def create_product(name: str) -> str:
        token = require_scopes("write:products")
        return f"{name} by {token.client_id}"

    return mcp


@pytest.fixture
async def client(verifier: LogtoTokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    mcp = shop(verifier)
    inner = mcp.streamable_http_app(json_response=True, stateless_http=True, host="testserver")
    app = verifier.protect(
        inner, tool_scopes={"create_product": ["write:products"]}, scopes_supported=["a", "b"]
    )
    async with (
        mcp.session_manager.run(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as c,
    ):
        yield c


def rpc(method: str, params: dict[str, Any] | None = None, id_: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}}


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return rpc("tools/call", {"name": tool, "arguments": arguments}, id_=7)


bearer = partial(helpers.bearer, mcp=True)


# --- the verifier --------------------------------------------------------------------


async def test_valid_token_becomes_an_sdk_access_token(
    verifier: LogtoTokenVerifier, fake: FakeLogto
) -> None:
    token = fake.token(scopes=["write:products", "read:products"])
    access = await verifier.verify_token(token)
    assert access is not None
    assert access.token == token
    assert access.client_id == fake.app_id
    assert access.subject == fake.app_id
    assert access.scopes == ["read:products", "write:products"]
    assert access.resource == RESOURCE
    # exp + leeway: the core's deadline, so the SDK never refuses before the core does
    assert access.expires_at == int(fake.clock()) + 3600 + 30
    assert access.claims is not None and access.claims["iss"] == fake.issuer


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://shopping.api"},
        {"aud": RESOURCE + "/"},
        {"iss": "https://evil.example/oidc"},
        {"exp": 1_600_000_000},
    ],
    ids=["another-resource", "trailing-slash", "wrong-issuer", "expired"],
)
async def test_any_refused_token_is_none(
    verifier: LogtoTokenVerifier, fake: FakeLogto, overrides: dict[str, Any]
) -> None:
    assert await verifier.verify_token(fake.token(**overrides)) is None


async def test_trailing_slash_matching_is_an_explicit_option(
    fake: FakeLogto, clock: FakeClock
) -> None:
    """Off by default (above); with match_trailing_slash both spellings are one resource."""
    verifier = LogtoTokenVerifier(
        endpoint=fake.endpoint,
        audience=RESOURCE,
        http_client=fake.http_client(),
        allow_insecure_http=True,
        clock=clock,
        match_trailing_slash=True,
    )
    for aud in (RESOURCE, RESOURCE + "/"):
        access = await verifier.verify_token(fake.token(aud=aud))
        assert access is not None and access.resource == RESOURCE, aud


async def test_garbage_and_id_tokens_are_none(
    verifier: LogtoTokenVerifier, fake: FakeLogto
) -> None:
    assert await verifier.verify_token("not-a-jwt") is None
    assert await verifier.verify_token(fake.token(typ="JWT")) is None


async def test_a_reused_token_shares_one_access_token_and_others_get_their_own(
    verifier: LogtoTokenVerifier, fake: FakeLogto
) -> None:
    reader = fake.token(scopes=["read:products"])
    writer = fake.token(scopes=["write:products"])
    first = await verifier.verify_token(reader)
    other = await verifier.verify_token(writer)
    again = await verifier.verify_token(reader)
    assert first is not None and other is not None
    assert again is first
    assert other.token == writer and other.scopes == ["write:products"]
    assert first.scopes == ["read:products"]


async def test_expiry_follows_the_injected_clock(
    verifier: LogtoTokenVerifier, fake: FakeLogto, clock: FakeClock
) -> None:
    token = fake.token(ttl=60)
    assert await verifier.verify_token(token) is not None
    clock.advance(60 + 31)  # past exp and the default 30 s leeway
    assert await verifier.verify_token(token) is None


def test_organization_audience_is_refused_at_construction(fake: FakeLogto) -> None:
    with pytest.raises(ConfigurationError):
        LogtoTokenVerifier(endpoint=fake.endpoint, audience=ORGANIZATION_AUDIENCE)


def test_auth_settings_name_the_logto_issuer_and_the_resource(
    verifier: LogtoTokenVerifier,
) -> None:
    settings = auth_settings(verifier, required_scopes=["read:products"])
    assert str(settings.issuer_url) == "https://tenant.logto.app/oidc"
    assert str(settings.resource_server_url) == RESOURCE
    assert settings.required_scopes == ["read:products"]
    assert settings.validate_token_resource is True
    assert verifier.metadata_url == METADATA


# --- over HTTP -------------------------------------------------------------------------


async def test_no_token_gets_401_with_resource_metadata(client: httpx.AsyncClient) -> None:
    response = await client.post("/mcp", json=rpc("tools/list"), headers=ACCEPT)
    assert response.status_code == 401
    assert response.json() == {"detail": "bearer token required"}
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{RESOURCE}", resource_metadata="{METADATA}"'
    )


async def test_invalid_token_gets_invalid_token_with_resource_metadata(
    client: httpx.AsyncClient, fake: FakeLogto
) -> None:
    response = await client.post(
        "/mcp", json=rpc("tools/list"), headers=bearer(fake.token(aud="https://shopping.api"))
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "audience mismatch", "error": "invalid_token"}
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert challenge.endswith(f'resource_metadata="{METADATA}"')


async def test_metadata_document_names_resource_issuer_and_scopes(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": ["https://tenant.logto.app/oidc"],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["a", "b"],
    }


async def test_valid_token_reaches_the_tool(client: httpx.AsyncClient, fake: FakeLogto) -> None:
    token = fake.token(scopes=["read:products", "write:products"])
    response = await client.post(
        "/mcp", json=call("create_product", name="tea"), headers=bearer(token)
    )
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["isError"] is False
    assert result["structuredContent"] == {"result": f"tea by {fake.app_id}"}


async def test_missing_tool_scope_is_a_403_naming_it(
    client: httpx.AsyncClient, fake: FakeLogto
) -> None:
    token = fake.token(scopes=["read:products"])
    response = await client.post(
        "/mcp", json=call("create_product", name="tea"), headers=bearer(token)
    )
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="write:products"' in challenge
    assert f'resource_metadata="{METADATA}"' in challenge
    body = response.json()
    assert body["id"] == 7
    assert body["error"]["data"] == {"error": "insufficient_scope", "scope": "write:products"}
    assert "write:products" in body["error"]["message"]


async def test_tools_without_listed_scopes_pass_the_http_check(
    client: httpx.AsyncClient, fake: FakeLogto
) -> None:
    """list_products is not in tool_scopes: the in-tool require_scopes answers instead."""
    response = await client.post(
        "/mcp", json=call("list_products"), headers=bearer(fake.token(scopes=["write:products"]))
    )
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["isError"] is True
    assert "insufficient_scope" in result["content"][0]["text"]
    assert "read:products" in result["content"][0]["text"]


async def test_jwks_outage_gets_503_with_retry_after(
    client: httpx.AsyncClient, fake: FakeLogto
) -> None:
    fake.jwks_fault = lambda request: httpx.Response(500)
    response = await client.post("/mcp", json=rpc("tools/list"), headers=bearer(fake.token()))
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert "www-authenticate" not in response.headers


async def test_other_paths_pass_through_untouched(client: httpx.AsyncClient) -> None:
    response = await client.get("/elsewhere")
    assert response.status_code == 404


async def test_oversized_tools_call_body_is_refused(
    verifier: LogtoTokenVerifier, fake: FakeLogto
) -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("must not be reached")

    app = verifier.protect(inner, tool_scopes={"x": ["y"]})
    app.max_body_size = 10
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        response = await c.post("/mcp", content=b"x" * 11, headers=bearer(fake.token()))
    assert response.status_code == 413


async def test_batched_messages_are_each_checked(
    verifier: LogtoTokenVerifier, fake: FakeLogto
) -> None:
    seen: list[bytes] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = verifier.protect(inner, tool_scopes={"create_product": ["write:products"]})
    token = fake.token(scopes=["read:products"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        ok = await c.post("/mcp", json=[rpc("ping"), call("list_products")], headers=bearer(token))
        denied = await c.post(
            "/mcp", json=[rpc("ping"), call("create_product")], headers=bearer(token)
        )
    assert ok.status_code == 204
    assert json.loads(seen[0]) == [rpc("ping"), call("list_products")]  # the body is replayed
    assert denied.status_code == 403


# --- require_scopes outside a request, and the optional dependency -------------------


def test_require_scopes_without_a_request_token_raises() -> None:
    with pytest.raises(MissingScopeError) as caught:
        require_scopes("read:products")
    assert caught.value.missing_scopes == ("read:products",)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_importing_logto_guard_does_not_import_mcp() -> None:
    result = _run(
        "import sys, logto_guard, logto_guard.fastapi, logto_guard.asgi\n"
        "assert not any(m == 'mcp' or m.startswith(('mcp.', 'fastmcp')) for m in sys.modules)"
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("module", "extra"), [("mcp", "mcp"), ("fastmcp", "fastmcp")])
def test_missing_sdk_raises_import_error_naming_the_extra(module: str, extra: str) -> None:
    result = _run(
        f"import sys; sys.modules[{module!r}] = None\n"
        "try:\n"
        f"    import logto_guard.{module}\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert f"pip install 'logto-guard[{extra}]'" in result.stdout


def test_readme_example_builds_a_protected_app() -> None:
    """The docs' MCP SDK example runs as written (no request is made)."""
    readme = (Path(__file__).resolve().parents[1] / "docs" / "mcp.md").read_text(encoding="utf-8")
    start = readme.index("## The official MCP SDK")
    match = re.search(r"```python\n(.*?)```", readme[start:], re.S)
    assert match is not None
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our README
    assert isinstance(namespace["app"], MCPAuthMiddleware)
    assert namespace["verifier"].resource_url == "https://shop.example.com/mcp"
    # The RFC 9728 document shown in the docs is what this example serves.
    shown = re.search(r"<!-- readme: json -->\n```json\n(.*?)```", readme, re.S)
    assert shown is not None
    assert namespace["app"].metadata == json.loads(shown.group(1))


@pytest.mark.parametrize(
    ("chunks", "expected", "read"),
    [
        ([b"12345", b"67890"], b"1234567890", 2),  # exactly the limit, over two messages
        ([b"12345", b"678901", b"never read"], None, 2),  # past it: stops at that chunk
        ([b"12345678901"], None, 1),
        ([], b"", 1),  # a disconnect before any body
    ],
)
async def test_a_body_over_several_messages_is_capped_as_a_whole(
    chunks: list[bytes], expected: bytes | None, read: int
) -> None:
    from logto_guard._mcp.request import read_body

    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ] or [{"type": "http.disconnect"}]
    taken = 0

    async def receive() -> dict[str, Any]:
        nonlocal taken
        taken += 1
        return messages[taken - 1]

    assert await read_body(receive, 10) == expected
    assert taken == read
