"""Organization guards fail closed: no organization named, no answer (issue 16)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Security
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from logto_guard import (
    ORGANIZATION_AUDIENCE,
    AuthInfo,
    ConfigurationError,
    InvalidRequestError,
    LogtoGuard,
)
from logto_guard.asgi import LogtoAuthMiddleware
from logto_guard.testing import FakeClock, FakeLogto
from tests.integration.servers import serve

from .helpers import bearer

pytestmark = pytest.mark.anyio
ORG_AUD = "urn:logto:organization:"
NOT_SPECIFIED = {"detail": "organization not specified", "error": "invalid_request"}


def build_app(logto: FakeLogto, clock: FakeClock) -> FastAPI:
    common: dict[str, Any] = {
        "endpoint": logto.endpoint,
        "http_client": logto.http_client(),
        "clock": clock,
    }
    misspelt = LogtoGuard(audience=logto.audience, organization="orgid", **common)
    by_function = LogtoGuard(audience=logto.audience, organization=lambda r: None, **common)
    members = LogtoGuard(audience=ORGANIZATION_AUDIENCE, organization="orgid", **common)
    app = FastAPI()
    misspelt.install(app)

    @app.get("/orgs/{org_id}/products")
    async def products(
        org_id: str, auth: AuthInfo = Security(misspelt, scopes=["read:products"])
    ) -> dict[str, object]:
        return {"org": auth.organization_id}

    @app.get("/products")
    async def without_parameter(
        auth: AuthInfo = Security(misspelt, scopes=["read:products"]),
    ) -> dict[str, object]:
        return {"org": auth.organization_id}

    @app.get("/by-function/{org_id}")
    async def resolver_gives_none(
        org_id: str, auth: AuthInfo = Security(by_function, scopes=["read:products"])
    ) -> dict[str, object]:
        return {"org": auth.organization_id}

    @app.get("/orgs/{org_id}/members")
    async def members_route(
        org_id: str, auth: AuthInfo = Security(members, scopes=["read:members"])
    ) -> dict[str, object]:
        return {"org": auth.organization_id}

    return app


@pytest.fixture
async def client(logto: FakeLogto, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(logto, clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


@pytest.mark.parametrize("path", ["/orgs/org2/products", "/products", "/by-function/org2"])
async def test_an_organization_guard_naming_no_organization_refuses(
    client: httpx.AsyncClient, logto: FakeLogto, path: str
) -> None:
    token = logto.token(scopes=["read:products"], organization_id="org1")
    for _ in range(2):  # the second request would take the warm path
        response = await client.get(path, headers=bearer(token))
        assert response.status_code == 400
        assert response.json() == NOT_SPECIFIED
        assert 'error="invalid_request"' in response.headers["www-authenticate"]


async def test_both_kinds_of_organization_guard_agree(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    org_token = logto.token(aud=ORG_AUD + "org1", scope="read:members")
    resource_token = logto.token(scopes=["read:products"], organization_id="org1")
    members = await client.get("/orgs/org1/members", headers=bearer(org_token))
    products = await client.get("/orgs/org1/products", headers=bearer(resource_token))
    assert (members.status_code, members.json()) == (products.status_code, products.json())
    assert members.json() == NOT_SPECIFIED


def test_a_misspelt_parameter_stops_the_start(logto: FakeLogto, clock: FakeClock) -> None:
    with (
        pytest.raises(ConfigurationError, match=r"organization='orgid' is not a path parameter"),
        TestClient(build_app(logto, clock)),  # runs the lifespan, as uvicorn does
    ):
        pass  # pragma: no cover


def test_over_real_http_an_org1_token_cannot_read_an_org2_route(
    logto: FakeLogto, clock: FakeClock
) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield  # an app lifespan of its own: FastAPI skips the guard's startup check

    app = build_app(logto, clock)
    app.router.lifespan_context = lifespan
    token = logto.token(scopes=["read:products"], organization_id="org1")
    with serve(app) as base:
        response = httpx.get(f"{base}/orgs/org2/products", headers=bearer(token))
    assert response.status_code == 400
    assert response.json() == NOT_SPECIFIED


def test_check_routes_names_every_route_lacking_the_parameter(
    logto: FakeLogto, clock: FakeClock
) -> None:
    app = build_app(logto, clock)
    guard = LogtoGuard(
        endpoint=logto.endpoint, audience=logto.audience, organization="orgid", clock=clock
    )
    guard.check_routes(app)  # guards no route of app
    misspelt = next(
        d.call
        for route in app.routes
        if getattr(route, "path", "") == "/products"
        for d in route.dependant.dependencies  # type: ignore[attr-defined]
    )
    assert isinstance(misspelt, LogtoGuard)
    with pytest.raises(ConfigurationError) as caught:
        misspelt.policy(clients=["a"]).check_routes(app)
    assert str(caught.value).startswith(
        "organization='orgid' is not a path parameter of /orgs/{org_id}/products, /products: "
    )

    fixed = FastAPI()
    good = LogtoGuard(endpoint=logto.endpoint, audience=logto.audience, organization="org_id")

    @fixed.get("/orgs/{org_id}/items", dependencies=[Security(good.policy(clients=["a"]))])
    async def items(org_id: str) -> None: ...

    good.check_routes(fixed)


async def test_the_asgi_middleware_refuses_when_its_resolver_names_no_organization(
    logto: FakeLogto, clock: FakeClock
) -> None:
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"org": request.auth.organization_id})

    app = LogtoAuthMiddleware(
        Starlette(routes=[Route("/orgs/{org_id}", endpoint)]),
        endpoint=logto.endpoint,
        audience=logto.audience,
        organization=lambda scope: scope.get("path_params", {}).get("org_id"),
        http_client=logto.http_client(),
        clock=clock,
    )
    token = logto.token(organization_id="org1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        response = await c.get("/orgs/org2", headers=bearer(token))
    assert response.status_code == 400
    assert response.json() == NOT_SPECIFIED


async def test_the_authenticator_refuses_a_required_organization_that_is_missing(
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
    with pytest.raises(InvalidRequestError, match="organization not specified"):
        await guard.authenticator.authenticate(header, organization_required=True)


async def test_the_one_line_lifespan_also_checks_the_organization_parameter() -> None:
    """FastAPI skips startup handlers under a lifespan: guard.lifespan runs the check."""
    from fastapi import FastAPI, Security

    from logto_guard import ConfigurationError, LogtoGuard

    guard = LogtoGuard(
        endpoint="https://tenant.logto.app",
        audience="https://shopping.api",
        organization="org_id",
    )
    app = FastAPI(lifespan=guard.lifespan)
    guard.install(app)

    @app.get("/orgs/{organization}/products")  # misspelt: the guard reads org_id
    async def products(auth: AuthInfo = Security(guard)) -> dict[str, str]:
        return {}

    with pytest.raises(ConfigurationError, match="org_id"):
        async with guard.lifespan(app):
            pass
