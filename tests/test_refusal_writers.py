"""One refusal, one answer: every front end sends the same status, headers and body bytes.

The answers are read as raw ASGI messages (header order and JSON spacing included), so a
front end that builds its own response, with another encoder or header set, fails here.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Security, WebSocket
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from logto_guard import AuthInfo, LogtoGuard
from logto_guard._core.errors import CredentialsMissingError, InvalidRequestError
from logto_guard._core.rfc6750 import refusal, send_refusal, websocket_close_reason
from logto_guard._starlette import RefusalResponse
from logto_guard.asgi import LogtoAuthMiddleware
from logto_guard.dev_issuer import IssuerState, create_app
from logto_guard.mcp import LogtoTokenVerifier, auth_settings
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio
Message = MutableMapping[str, Any]
#: The dev issuer's Management API stand-in guards this audience (Logto's own indicator).
MANAGEMENT_API = "https://default.logto.app/api"
ISSUER = "http://127.0.0.1:3001/oidc"
ENDPOINT = "http://127.0.0.1:3001"
MCP_BASE = "http://testserver"
MCP_RESOURCE = f"{MCP_BASE}/mcp"
NO_KEYS: dict[str, Any] = {"jwks_uri": "http://127.0.0.1:9/jwks", "allow_insecure_http": True}

REQUESTS = {
    "no credentials": [],
    "malformed token": [(b"authorization", b"Bearer x.y.z")],
    "two headers": [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
}


async def answer(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], kind: str = "http"
) -> list[Message]:
    """The ASGI messages ``app`` sends for one request (or WebSocket handshake)."""
    scope: Message = {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http" if kind == "http" else "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []
    connected = False

    async def receive() -> Message:
        nonlocal connected
        if kind == "websocket" and not connected:
            connected = True
            return {"type": "websocket.connect"}
        return {"type": "http.disconnect" if kind == "http" else "websocket.disconnect"}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    return sent


def fastapi_app(audience: str, *, install: bool, **options: Any) -> FastAPI:
    guard = LogtoGuard(endpoint=ENDPOINT, audience=audience, **NO_KEYS, **options)
    app = FastAPI()
    if install:
        guard.install(app)

    @app.get("/products")
    async def products(auth: AuthInfo = Security(guard)) -> str:
        return auth.subject

    @app.websocket("/products")
    async def feed(websocket: WebSocket, auth: AuthInfo = Security(guard)) -> None:
        await websocket.accept()

    return app


async def ok(scope: Message, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def rest_front_ends(tmp_path: Path) -> dict[str, tuple[Any, str]]:
    state = IssuerState.open(tmp_path / "state", issuer=ISSUER, clock=FakeClock())
    return {
        "fastapi, installed": (fastapi_app(MANAGEMENT_API, install=True), "/products"),
        "fastapi, not installed": (fastapi_app(MANAGEMENT_API, install=False), "/products"),
        "asgi middleware": (
            LogtoAuthMiddleware(ok, endpoint=ENDPOINT, audience=MANAGEMENT_API, **NO_KEYS),
            "/products",
        ),
        "dev issuer management": (create_app(state), "/api/applications"),
    }


@pytest.mark.parametrize("request_headers", REQUESTS.values(), ids=REQUESTS.keys())
async def test_rest_front_ends_answer_byte_for_byte_alike(
    tmp_path: Path, request_headers: list[tuple[bytes, bytes]]
) -> None:
    answers = {
        name: await answer(app, path, request_headers)
        for name, (app, path) in rest_front_ends(tmp_path).items()
    }
    reference = answers["asgi middleware"]
    assert reference[0]["status"] in {400, 401}
    assert [name for name, _ in reference[0]["headers"]] == [
        b"content-type",
        b"content-length",
        b"www-authenticate",
    ]
    for name, sent in answers.items():
        assert sent == reference, name


async def test_the_reference_answer_is_the_core_writers(tmp_path: Path) -> None:
    app, path = rest_front_ends(tmp_path)["fastapi, not installed"]
    expected: list[Message] = []

    async def send(message: Message) -> None:
        expected.append(dict(message))

    for exc, headers in [
        (CredentialsMissingError(), REQUESTS["no credentials"]),
        (InvalidRequestError("multiple Authorization headers"), REQUESTS["two headers"]),
    ]:
        expected.clear()
        await send_refusal({"type": "http"}, send, refusal(exc, MANAGEMENT_API))
        assert await answer(app, path, headers) == expected
    assert (
        expected[1]["body"]
        == b'{"detail":"multiple Authorization headers","error":"invalid_request"}'
    )


async def test_a_starlette_refusal_response_equals_the_asgi_writer() -> None:
    answer_ = refusal(InvalidRequestError("bearer token is empty"), "https://a.api")

    async def endpoint(request: Request) -> RefusalResponse:
        return RefusalResponse(answer_)

    via_response = await answer(Starlette(routes=[Route("/", endpoint)]), "/", [])
    via_app = await answer(answer_, "/", [])
    assert via_response == via_app
    assert via_app[0]["status"] == 400


@pytest.mark.parametrize("request_headers", REQUESTS.values(), ids=REQUESTS.keys())
async def test_a_refused_websocket_closes_alike_in_fastapi_and_asgi(
    request_headers: list[tuple[bytes, bytes]],
) -> None:
    middleware = LogtoAuthMiddleware(ok, endpoint=ENDPOINT, audience=MANAGEMENT_API, **NO_KEYS)
    app = fastapi_app(MANAGEMENT_API, install=True)
    via_asgi = await answer(middleware, "/products", request_headers, "websocket")
    via_fastapi = await answer(app, "/products", request_headers, "websocket")
    assert via_asgi == via_fastapi
    assert len(via_asgi) == 1
    assert via_asgi[0]["code"] == 1008
    assert via_asgi[0]["reason"]


def mcp_front_ends() -> dict[str, Any]:
    front_ends: dict[str, Any] = {
        "fastapi with resource_url": fastapi_app(
            MCP_RESOURCE, install=True, resource_url=MCP_RESOURCE
        ),
    }
    verifier = LogtoTokenVerifier(endpoint=ENDPOINT, audience=MCP_RESOURCE, **NO_KEYS)
    server: MCPServer[Any] = MCPServer(
        "shop", token_verifier=verifier, auth=auth_settings(verifier)
    )
    inner = server.streamable_http_app(json_response=True, host="testserver")
    front_ends["mcp sdk"] = verifier.protect(inner)
    try:
        from fastmcp import FastMCP

        from logto_guard.fastmcp import LogtoProvider
    except ImportError:  # FastMCP needs Python >= 3.11
        pass
    else:
        provider = LogtoProvider(endpoint=ENDPOINT, base_url=MCP_BASE, **NO_KEYS)
        front_ends["fastmcp"] = FastMCP("shop", auth=provider).http_app(json_response=True)
    return front_ends


@pytest.mark.parametrize("request_headers", REQUESTS.values(), ids=REQUESTS.keys())
async def test_mcp_front_ends_answer_byte_for_byte_like_fastapi(
    request_headers: list[tuple[bytes, bytes]],
) -> None:
    front_ends = mcp_front_ends()
    answers = {
        name: await answer(
            app, "/mcp" if name != "fastapi with resource_url" else "/products", request_headers
        )
        for name, app in front_ends.items()
    }
    reference = answers["fastapi with resource_url"]
    challenge = dict(reference[0]["headers"])[b"www-authenticate"]
    assert (
        b'resource_metadata="http://testserver/.well-known/oauth-protected-resource/mcp"'
        in challenge
    )
    assert len(answers) >= 2
    for name, sent in answers.items():
        assert sent == reference, name


def token_front_ends(
    fake: FakeLogto, clock: FakeClock, audience: str
) -> dict[str, tuple[Any, str]]:
    """Front ends requiring the scope ``write`` of tokens for ``audience``, keys from ``fake``."""

    def options() -> dict[str, Any]:
        return {"http_client": fake.http_client(), "clock": clock, "allow_insecure_http": True}

    def guarded(*, install: bool = True, **extra: Any) -> FastAPI:
        guard = LogtoGuard(endpoint=fake.endpoint, audience=audience, **options(), **extra)
        app = FastAPI()
        if install:
            guard.install(app)

        @app.get("/mcp")
        async def tool(auth: AuthInfo = Security(guard, scopes=["write"])) -> str:
            return auth.subject

        return app

    if audience != MCP_RESOURCE:
        middleware = LogtoAuthMiddleware(
            ok, endpoint=fake.endpoint, audience=audience, required_scopes=["write"], **options()
        )
        return {
            "fastapi, installed": (guarded(), "/mcp"),
            "fastapi, not installed": (guarded(install=False), "/mcp"),
            "asgi middleware": (middleware, "/mcp"),
        }
    front_ends: dict[str, tuple[Any, str]] = {
        "fastapi with resource_url": (guarded(resource_url=MCP_RESOURCE), "/mcp")
    }
    verifier = LogtoTokenVerifier(endpoint=fake.endpoint, audience=audience, **options())
    server: MCPServer[Any] = MCPServer(
        "shop", token_verifier=verifier, auth=auth_settings(verifier)
    )
    inner = server.streamable_http_app(json_response=True, host="testserver")
    front_ends["mcp sdk"] = (verifier.protect(inner, required_scopes=["write"]), "/mcp")
    try:
        from fastmcp import FastMCP

        from logto_guard.fastmcp import LogtoProvider
    except ImportError:  # FastMCP needs Python >= 3.11
        return front_ends
    provider = LogtoProvider(
        endpoint=fake.endpoint, base_url=MCP_BASE, required_scopes=["write"], **options()
    )
    front_ends["fastmcp"] = (FastMCP("shop", auth=provider).http_app(json_response=True), "/mcp")
    return front_ends


@pytest.mark.parametrize("audience", [MANAGEMENT_API, MCP_RESOURCE])
@pytest.mark.parametrize("case", ["lacks the scope", "keys unavailable"])
async def test_token_refusals_are_byte_for_byte_alike(audience: str, case: str) -> None:
    clock = FakeClock()
    fake = FakeLogto(audience=audience, clock=clock)
    token = fake.token(scopes=["read"])
    if case == "keys unavailable":
        fake.jwks_fault = lambda request: httpx.Response(500)
    headers = [(b"authorization", f"Bearer {token}".encode())]
    answers = {
        name: await answer(app, path, headers)
        for name, (app, path) in token_front_ends(fake, clock, audience).items()
    }
    reference = next(iter(answers.values()))
    assert reference[0]["status"] == (403 if case == "lacks the scope" else 503)
    last = reference[0]["headers"][-1][0]
    assert last == (b"www-authenticate" if case == "lacks the scope" else b"retry-after")
    assert len(answers) >= 2
    for name, sent in answers.items():
        assert sent == reference, name


def test_a_close_reason_fits_a_close_frame() -> None:
    """RFC 6455 §5.5: 125 bytes of payload, 2 of them the code; cut on a character."""
    assert websocket_close_reason("token expired") == "token expired"
    long = websocket_close_reason("é" * 100)
    assert len(long.encode("utf-8")) <= 123
    assert long == "é" * 61
