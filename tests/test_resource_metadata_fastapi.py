"""RFC 9728 for plain FastAPI: ``resource_url=`` serves the metadata and names it in every
challenge."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Security

from logto_guard import AuthInfo, ConfigurationError, LogtoGuard
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio
RESOURCE = "https://api.example.com/shop"
METADATA = "https://api.example.com/.well-known/oauth-protected-resource/shop"


def build(logto: FakeLogto, clock: FakeClock) -> FastAPI:
    guard = LogtoGuard(
        endpoint=logto.endpoint,
        audience=RESOURCE,
        resource_url=RESOURCE,
        scopes={"read:products": "Read the catalogue"},
        http_client=logto.http_client(),
        clock=clock,
    )
    app = FastAPI()
    guard.install(app)

    @app.get("/shop/products")
    async def products(auth: AuthInfo = Security(guard, scopes=["write:products"])) -> str:
        return auth.subject

    return app


async def test_metadata_names_the_resource_the_issuer_and_the_scopes(
    logto: FakeLogto, clock: FakeClock
) -> None:
    transport = httpx.ASGITransport(app=build(logto, clock))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example.com") as c:
        document = (await c.get("/.well-known/oauth-protected-resource/shop")).json()
    assert document == {
        "resource": RESOURCE,
        "authorization_servers": [f"{logto.endpoint}/oidc"],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["read:products", "write:products"],
    }


async def test_every_challenge_names_the_metadata(logto: FakeLogto, clock: FakeClock) -> None:
    logto.audience = RESOURCE
    transport = httpx.ASGITransport(app=build(logto, clock))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example.com") as c:
        anonymous = await c.get("/shop/products")
        expired = await c.get("/shop/products", headers=logto.headers(exp=1))
        unscoped = await c.get("/shop/products", headers=logto.headers(scopes=["x"]))
    for response, status in ((anonymous, 401), (expired, 401), (unscoped, 403)):
        assert response.status_code == status
        challenge = response.headers["www-authenticate"]
        assert challenge.endswith(f'resource_metadata="{METADATA}"'), challenge
    assert 'scope="write:products"' in unscoped.headers["www-authenticate"]


def test_resource_url_must_be_the_audience() -> None:
    with pytest.raises(ConfigurationError, match="must be the audience"):
        LogtoGuard(
            endpoint="https://t.logto.app", audience="https://shopping.api", resource_url=RESOURCE
        )
    trailing = LogtoGuard(
        endpoint="https://t.logto.app",
        audience=RESOURCE,
        resource_url=RESOURCE + "/",
        match_trailing_slash=True,
    )
    assert trailing.resource_url == RESOURCE + "/"
