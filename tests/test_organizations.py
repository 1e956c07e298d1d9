"""Organization tokens: organization permissions and organization-level API resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Security

from logto_guard import (
    ORGANIZATION_AUDIENCE,
    AuthInfo,
    ConfigurationError,
    LogtoGuard,
    OrganizationMismatchError,
)
from logto_guard.asgi import LogtoAuthMiddleware
from logto_guard.dev_issuer import IssuerState, create_app
from logto_guard.testing import FakeClock, FakeLogto

from .helpers import bearer

pytestmark = pytest.mark.anyio
ORG_AUD = "urn:logto:organization:"


def build_app(logto: FakeLogto, clock: FakeClock) -> FastAPI:
    common: dict[str, Any] = {
        "endpoint": logto.endpoint,
        "http_client": logto.http_client(),
        "clock": clock,
    }
    members_guard = LogtoGuard(audience=ORGANIZATION_AUDIENCE, organization="org_id", **common)
    products_guard = LogtoGuard(audience=logto.audience, organization="org_id", **common)
    app = FastAPI()
    members_guard.install(app)
    products_guard.install(app)

    @app.get("/orgs/{org_id}/members")
    async def members(
        org_id: str, auth: AuthInfo = Security(members_guard, scopes=["read:members"])
    ) -> dict[str, object]:
        return {"org": auth.organization_id, "aud": auth.audience}

    @app.get("/orgs/{org_id}/products")
    async def products(
        org_id: str, auth: AuthInfo = Security(products_guard, scopes=["read:products"])
    ) -> dict[str, object]:
        return {"org": auth.organization_id, "aud": auth.audience}

    return app


@pytest.fixture
async def client(logto: FakeLogto, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(logto, clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


async def test_organization_token_for_the_requested_org_is_accepted(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    token = logto.token(aud=ORG_AUD + "org1", scope="read:members")
    response = await client.get("/orgs/org1/members", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"org": "org1", "aud": ORG_AUD + "org1"}


async def test_organization_token_for_another_org_is_rejected(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    token = logto.token(aud=ORG_AUD + "org1", scope="read:members")
    await client.get("/orgs/org1/members", headers=bearer(token))  # cached for org1 now
    response = await client.get("/orgs/org2/members", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {"detail": "audience mismatch", "error": "invalid_token"}


@pytest.mark.parametrize(
    "aud", ["https://shopping.api", "urn:logto:resource:organizations", ORG_AUD + "*"]
)
async def test_non_organization_audiences_are_rejected_on_org_routes(
    client: httpx.AsyncClient, logto: FakeLogto, aud: str
) -> None:
    token = logto.token(aud=aud, scope="read:members")
    assert (await client.get("/orgs/org1/members", headers=bearer(token))).status_code == 401


async def test_organization_permissions_are_scopes(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    token = logto.token(aud=ORG_AUD + "org1", scope="")
    response = await client.get("/orgs/org1/members", headers=bearer(token))
    assert response.status_code == 403
    assert 'scope="read:members"' in response.headers["www-authenticate"]


async def test_organization_level_api_resource_token_matching_org_is_accepted(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    token = logto.token(scopes=["read:products"], organization_id="org1")
    response = await client.get("/orgs/org1/products", headers=bearer(token))
    assert response.json() == {"org": "org1", "aud": "https://shopping.api"}


@pytest.mark.parametrize("organization_id", ["org2", None])
async def test_organization_level_api_resource_token_for_other_or_no_org_is_refused(
    client: httpx.AsyncClient, logto: FakeLogto, organization_id: str | None
) -> None:
    token = logto.token(scopes=["read:products"], organization_id=organization_id)
    response = await client.get("/orgs/org1/products", headers=bearer(token))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "token is not for this organization",
        "error": "insufficient_scope",
    }
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_organization_audience_requires_an_organization_source() -> None:
    with pytest.raises(ConfigurationError, match="organization"):
        LogtoGuard(endpoint="https://t.logto.app", audience=ORGANIZATION_AUDIENCE)
    with pytest.raises(ConfigurationError, match="organization"):
        LogtoAuthMiddleware(
            FastAPI(), endpoint="https://t.logto.app", audience=ORGANIZATION_AUDIENCE
        )


async def test_dev_issuer_tokens_of_both_kinds_pass_the_guard(tmp_path: Path) -> None:
    state = IssuerState.open(tmp_path, issuer="http://127.0.0.1:3001/oidc")
    state.add_resource("https://shopping.api", ["read:products"])
    app = state.ensure_app(
        "org-client",
        organizations={"org1": {"": ["read:members"], "https://shopping.api": ["read:products"]}},
    )
    issuer = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(state)), base_url="http://127.0.0.1:3001"
    )
    logto = FakeLogto(endpoint="http://127.0.0.1:3001")
    guard_app = FastAPI()
    common: dict[str, Any] = {"endpoint": logto.endpoint, "http_client": issuer}
    members_guard = LogtoGuard(audience=ORGANIZATION_AUDIENCE, organization="org_id", **common)
    products_guard = LogtoGuard(audience="https://shopping.api", organization="org_id", **common)
    members_guard.install(guard_app)

    @guard_app.get("/orgs/{org_id}/members")
    async def members(auth: AuthInfo = Security(members_guard, scopes=["read:members"])) -> str:
        return auth.organization_id or ""

    @guard_app.get("/orgs/{org_id}/products")
    async def products(auth: AuthInfo = Security(products_guard, scopes=["read:products"])) -> str:
        return auth.organization_id or ""

    async def token(**form: str) -> str:
        response = await issuer.post(
            "/oidc/token",
            auth=(app.app_id, app.app_secret),
            data={"grant_type": "client_credentials", **form},
        )
        assert response.status_code == 200, response.text
        value: str = response.json()["access_token"]
        return value

    org_token = await token(organization_id="org1", scope="read:members")
    resource_token = await token(
        organization_id="org1", resource="https://shopping.api", scope="read:products"
    )
    transport = httpx.ASGITransport(app=guard_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/orgs/org1/members", headers=bearer(org_token))).json() == "org1"
        ok = await client.get("/orgs/org1/products", headers=bearer(resource_token))
        assert ok.json() == "org1"
        assert (
            await client.get("/orgs/org2/members", headers=bearer(org_token))
        ).status_code == 401
        wrong = await client.get("/orgs/org2/products", headers=bearer(resource_token))
        assert wrong.status_code == 403
    await issuer.aclose()


async def test_authenticator_checks_the_organization_it_is_given(
    logto: FakeLogto, clock: FakeClock
) -> None:
    guard = LogtoGuard(
        endpoint=logto.endpoint,
        audience=logto.audience,
        organization="org_id",
        http_client=logto.http_client(),
        clock=clock,
    )
    header = [f"Bearer {logto.token(organization_id='org1')}"]
    assert (
        await guard.authenticator.authenticate(header, organization_id="org1")
    ).organization_id == "org1"
    with pytest.raises(OrganizationMismatchError):
        await guard.authenticator.authenticate(header, organization_id="org2")
