"""A guard without organization= refuses organization-level API tokens by default (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Security
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logto_guard import Authenticator, AuthInfo, LogtoGuard, OrganizationTokenError, Refusal
from logto_guard.asgi import LogtoAuthMiddleware
from logto_guard.dev_issuer import IssuerState, create_app
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio
REFUSED = {
    "detail": "organization token not accepted here: this API needs a token without "
    "organization_id",
    "error": "insufficient_scope",
}


def rest_app(logto: FakeLogto, clock: FakeClock, **options: Any) -> FastAPI:
    guard = LogtoGuard(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        **options,
    )
    app = FastAPI()
    guard.install(app)

    @app.post("/products", status_code=201)
    async def create(auth: AuthInfo = Security(guard, scopes=["write:products"])) -> dict[str, str]:
        return {"created_by": auth.subject}

    return app


async def post(app: Any, token: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        return await c.post("/products", headers={"Authorization": f"Bearer {token}"})


async def test_an_organization_token_is_no_global_grant(logto: FakeLogto, clock: FakeClock) -> None:
    app = rest_app(logto, clock)
    token = logto.token(scopes=["write:products"], organization_id="org1")
    for _ in range(3):  # cold, then the warm path
        response = await post(app, token)
        assert response.status_code == 403
        assert response.json() == REFUSED
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    global_token = logto.token(scopes=["write:products"])
    assert (await post(app, global_token)).status_code == 201


async def test_accept_organization_tokens_opts_in(logto: FakeLogto, clock: FakeClock) -> None:
    app = rest_app(logto, clock, accept_organization_tokens=True)
    token = logto.token(scopes=["write:products"], organization_id="org1")
    for _ in range(2):
        assert (await post(app, token)).status_code == 201


async def test_the_asgi_middleware_refuses_organization_tokens(
    logto: FakeLogto, clock: FakeClock
) -> None:
    async def create(request: Request) -> JSONResponse:
        return JSONResponse({}, 201)

    app = LogtoAuthMiddleware(
        Starlette(routes=[Route("/products", create, methods=["POST"])]),
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
    )
    response = await post(app, logto.token(organization_id="org1"))
    assert (response.status_code, response.json()) == (403, REFUSED)


async def test_the_authenticator_refuses_them_on_every_path(
    logto: FakeLogto, clock: FakeClock
) -> None:
    authenticator = Authenticator(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
    )
    header = f"Bearer {logto.token(organization_id='org1')}"
    with pytest.raises(OrganizationTokenError) as caught:
        await authenticator.authenticate([header])
    assert caught.value.organization_id == "org1"
    refusal = await authenticator.check([header])
    assert isinstance(refusal, Refusal) and refusal.status_code == 403
    assert authenticator.peek(header) is None  # verified and cached, still not for peek
    assert authenticator.stats.refused == {"organization_token": 2}


async def test_dev_issuer_organization_role_grants_no_global_write(tmp_path: Path) -> None:
    """The issue's reproduction: a global role with read only, an organization role with
    write; the organization-level token must not create a product on a global guard."""
    state = IssuerState.open(tmp_path, issuer="http://127.0.0.1:3001/oidc")
    state.add_resource("https://shopping.api", ["read:products", "write:products"])
    app = state.ensure_app(
        "org-client",
        grants={"https://shopping.api": ["read:products"]},
        organizations={"org1": {"https://shopping.api": ["write:products"]}},
    )
    issuer = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(state)), base_url="http://127.0.0.1:3001"
    )
    guard = LogtoGuard(
        endpoint="http://127.0.0.1:3001", audience="https://shopping.api", http_client=issuer
    )
    api = FastAPI()
    guard.install(api)

    @api.post("/products", status_code=201)
    async def create(auth: AuthInfo = Security(guard, scopes=["write:products"])) -> str:
        return auth.subject

    response = await issuer.post(
        "/oidc/token",
        auth=(app.app_id, app.app_secret),
        data={
            "grant_type": "client_credentials",
            "organization_id": "org1",
            "resource": "https://shopping.api",
            "scope": "write:products",
        },
    )
    assert response.status_code == 200, response.text
    created = await post(api, response.json()["access_token"])
    assert (created.status_code, created.json()) == (403, REFUSED)
    await issuer.aclose()


async def test_the_mcp_verifier_refuses_organization_tokens_too(clock: FakeClock) -> None:
    from logto_guard.mcp import LogtoTokenVerifier

    resource = "https://mcp.example.com/mcp"
    fake = FakeLogto(audience=resource, clock=clock)
    verifier = LogtoTokenVerifier(
        endpoint=fake.endpoint, audience=resource, http_client=fake.http_client(), clock=clock
    )
    organization_token = fake.token(scopes=["write:products"], organization_id="org1")
    for _ in range(2):
        assert await verifier.verify_token(organization_token) is None
    assert await verifier.verify_token(fake.token(scopes=["write:products"])) is not None
