"""The official MCP client SDK's OAuth flow against the dev issuer, over real HTTP on loopback.

A tiny protected resource (guarded by logto_guard's ``Authenticator``) answers 401 with an
RFC 9728 ``resource_metadata`` challenge; the SDK's ``OAuthClientProvider`` then discovers
the dev issuer, registers a public client (RFC 7591), runs authorization code + PKCE
(the dev issuer approves at once) and retries with the user's token.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import jwt
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from logto_guard import Authenticator, Refusal
from logto_guard.dev_issuer import DEFAULT_USER_ID, Directory, create_app, open_issuer

from .servers import bind_free_port, serve

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def resource_app(resource: str, issuer: str) -> Starlette:
    guard = Authenticator(
        endpoint=issuer.removesuffix("/oidc"), audience=resource, allow_insecure_http=True
    )
    metadata_url = resource.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")

    async def metadata(request: Request) -> Response:
        return JSONResponse(
            {"resource": resource, "authorization_servers": [issuer],
             "scopes_supported": ["read:products"]}
        )  # fmt: skip

    async def protected(request: Request) -> Response:
        result = await guard.check(request.headers.getlist("authorization"), ["read:products"])
        if isinstance(result, Refusal):
            challenge = f'Bearer resource_metadata="{metadata_url}"'
            return JSONResponse(result.body, result.status_code, {"WWW-Authenticate": challenge})
        assert result is not None
        return JSONResponse({"sub": result.subject, "client_id": result.client_id})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await guard.aclose()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/.well-known/oauth-protected-resource/mcp", metadata),
            Route("/mcp", protected, methods=["GET", "POST"]),
        ],
    )


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    issuer_sock, resource_sock = bind_free_port(), bind_free_port()
    issuer = f"http://127.0.0.1:{issuer_sock.getsockname()[1]}/oidc"
    resource = f"http://127.0.0.1:{resource_sock.getsockname()[1]}/mcp"
    state = open_issuer(tmp_path, issuer=issuer)
    state.add_resource(resource, ["read:products", "write:products"])
    directory = Directory.open(tmp_path)
    directory.set_user(DEFAULT_USER_ID, username="dev", roles={resource: ["read:products"]})
    with (
        serve(create_app(state, directory=directory), issuer_sock),
        serve(resource_app(resource, issuer), resource_sock),
    ):
        yield issuer, resource


async def test_official_sdk_client_logs_in_with_auth_code_and_pkce(
    servers: tuple[str, str],
) -> None:
    issuer, resource = servers
    redirect_uri = "http://127.0.0.1:5555/callback"
    captured: dict[str, str] = {}

    async def redirect_handler(url: str) -> None:
        assert url.startswith(f"{issuer}/auth?")
        async with httpx.AsyncClient() as browser:  # the "person" approving in a browser
            answer = await browser.get(url)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(redirect_uri)
        captured.update({k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})

    async def callback_handler() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(
            code=captured["code"], state=captured["state"], iss=captured.get("iss")
        )

    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=resource,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[redirect_uri],  # type: ignore[list-item]
            client_name="sdk test",
            token_endpoint_auth_method="none",
            grant_types=["authorization_code"],
            response_types=["code"],
            scope="read:products",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=10) as http:
        response = await http.get(resource)
    assert response.status_code == 200, response.text
    assert storage.client is not None and storage.client.client_id.startswith("dyn_")
    assert response.json() == {"sub": DEFAULT_USER_ID, "client_id": storage.client.client_id}
    assert storage.tokens is not None
    claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert (claims["aud"], claims["scope"], claims["iss"]) == (resource, "read:products", issuer)
