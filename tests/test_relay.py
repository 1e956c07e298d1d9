"""The Swagger UI token relay adds ``resource`` and forwards to Logto's token endpoint."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import FastAPI, Security

from logto_guard import AuthInfo, LogtoGuard

pytestmark = pytest.mark.anyio


def relay_app(upstream: httpx.MockTransport) -> tuple[FastAPI, LogtoGuard]:
    guard = LogtoGuard(endpoint="https://tenant.logto.app", audience="https://shopping.api")
    app = FastAPI()
    guard.install(app)
    guard.add_token_relay(app, transport=upstream)
    return app, guard


async def test_relay_adds_resource_and_forwards_credentials() -> None:
    seen: list[httpx.Request] = []

    def logto(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"access_token": "eyJ.x.y", "token_type": "Bearer", "expires_in": 3600},
            headers={"Cache-Control": "no-store"},
        )

    app, _ = relay_app(httpx.MockTransport(logto))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post(
            "/docs/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "read:products"},
            headers={"Authorization": "Basic YXBwOnNlY3JldA=="},
        )
    assert (response.status_code, response.json()["access_token"]) == (200, "eyJ.x.y")
    assert response.headers["cache-control"] == "no-store"
    (request,) = seen
    assert str(request.url) == "https://tenant.logto.app/oidc/token"
    assert request.headers["authorization"] == "Basic YXBwOnNlY3JldA=="
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["read:products"],
        "resource": ["https://shopping.api"],
    }


BASIC = {"Authorization": "Basic YXBwOnNlY3JldA=="}


async def test_relay_rebuilds_logto_errors_without_its_basic_challenge() -> None:
    """Logto's 401 + ``WWW-Authenticate: Basic`` would make browsers prompt: 400, no header."""

    def logto(request: httpx.Request) -> httpx.Response:
        body = {"error": "invalid_client", "error_description": "client authentication failed"}
        return httpx.Response(401, json=body, headers={"WWW-Authenticate": "Basic"})

    app, _ = relay_app(httpx.MockTransport(logto))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post(
            "/docs/oauth2/token", data={"grant_type": "client_credentials"}, headers=BASIC
        )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "client authentication failed",
    }
    assert "www-authenticate" not in response.headers


async def test_relay_refuses_huge_bodies_and_reports_unreachable_logto() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app, _ = relay_app(httpx.MockTransport(down))
    transport = httpx.ASGITransport(app=app)
    form = {"Content-Type": "application/x-www-form-urlencoded", **BASIC}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        huge = await client.post("/docs/oauth2/token", content=b"a=" + b"x" * 20000, headers=form)
        unreachable = await client.post(
            "/docs/oauth2/token", data={"grant_type": "client_credentials"}, headers=BASIC
        )
        not_text = await client.post("/docs/oauth2/token", content=b"\xff\xfe", headers=form)
    assert (huge.status_code, huge.json()["error"]) == (413, "invalid_request")
    assert (unreachable.status_code, unreachable.json()["error"]) == (
        502,
        "temporarily_unavailable",
    )
    assert (not_text.status_code, not_text.json()["error"]) == (400, "invalid_request")


async def test_openapi_token_url_points_at_the_relay() -> None:
    app, guard = relay_app(httpx.MockTransport(lambda r: httpx.Response(500)))

    @app.get("/products")
    async def products(auth: AuthInfo = Security(guard, scopes=["read:products"])) -> None:
        return None

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        schema = (await client.get("/openapi.json")).json()
    flows = schema["components"]["securitySchemes"]["LogtoGuard"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/docs/oauth2/token"
    assert "/docs/oauth2/token" not in schema["paths"]
