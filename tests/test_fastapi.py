"""The FastAPI security scheme over HTTP: RFC 6750 answers, scopes and OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import SecurityScopes
from starlette.exceptions import HTTPException as StarletteHTTPException
from typing_extensions import assert_type

from logto_guard import AuthInfo, LogtoGuard
from logto_guard.fastapi import GuardHTTPException
from logto_guard.testing import FakeClock, FakeLogto

from .helpers import bearer

pytestmark = pytest.mark.anyio
REALM = 'realm="https://shopping.api"'


def build_app(logto: FakeLogto, clock: FakeClock, *, install: bool = True) -> FastAPI:
    guard = LogtoGuard(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        scopes={"read:products": "Read the catalogue"},
    )
    app = FastAPI()
    if install:
        guard.install(app)

    @app.get("/products")
    async def list_products(
        auth: AuthInfo = Security(guard, scopes=["read:products"]),
    ) -> dict[str, object]:
        return {"client_id": auth.client_id, "scopes": sorted(auth.scopes)}

    @app.post("/products")
    async def create_product(
        auth: AuthInfo = Security(guard, scopes=["read:products", "write:products"]),
    ) -> dict[str, object]:
        return {"created_by": auth.client_id}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
async def client(logto: FakeLogto, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(logto, clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


async def test_valid_token_with_scope_reaches_the_handler(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    response = await client.get("/products", headers=bearer(logto.token(scopes=["read:products"])))
    assert response.status_code == 200
    assert response.json() == {"client_id": logto.app_id, "scopes": ["read:products"]}
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, {"Authorization": "Token abc"}],
)
async def test_missing_credentials_get_401_without_error_code(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/products", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f"Bearer {REALM}"
    assert response.json() == {"detail": "bearer token required"}


@pytest.mark.parametrize(
    ("value", "description"),
    [
        ("Bearer", "bearer token is empty"),
        ("Bearer    ", "bearer token is empty"),
        ("Bearer a b", "bearer credentials are not a single token"),
        ("Bearer tok\u00e9n", "bearer credentials are not a single token"),
        ("Bearer a,b", "bearer credentials are not a single token"),
    ],
)
async def test_malformed_bearer_credentials_get_400_invalid_request(
    client: httpx.AsyncClient, value: str, description: str
) -> None:
    response = await client.get("/products", headers={b"Authorization": value.encode("utf-8")})
    assert response.status_code == 400
    assert response.json() == {"detail": description, "error": "invalid_request"}
    assert response.headers["www-authenticate"] == (
        f'Bearer {REALM}, error="invalid_request", error_description="{description}"'
    )


async def test_two_authorization_headers_get_400(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    token = logto.token(scopes=["read:products"])
    response = await client.get(
        "/products", headers=[("Authorization", f"Bearer {token}"), ("Authorization", "Bearer x")]
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("make_token", "description"),
    [
        (lambda f: "not-a-jwt", "token is not a well-formed JWT"),
        (lambda f: f.token(aud="https://other.api"), "audience mismatch"),
        (lambda f: f.token(iss="https://evil.example/oidc"), "issuer mismatch"),
        (lambda f: f.token(exp=1_699_999_000), "token expired"),
        (lambda f: f.token(nbf=1_700_001_000), "token not yet valid"),
        (lambda f: f.token(typ="JWT"), "token type is not at+jwt"),
        (lambda f: f.token()[:-4] + "AAAA", "signature verification failed"),
        (lambda f: f.token(headers={"kid": "unknown"}), "signing key not found"),
        (lambda f: f.token(headers={"alg": "ES256"}), "alg does not match the signing key"),
    ],
    ids=["not-jwt", "aud", "iss", "exp", "nbf", "typ", "signature", "kid", "alg"],
)
async def test_invalid_tokens_get_401_invalid_token(
    client: httpx.AsyncClient, logto: FakeLogto, make_token: object, description: str
) -> None:
    assert callable(make_token)
    response = await client.get("/products", headers=bearer(make_token(logto)))
    assert response.status_code == 401
    assert response.json() == {"detail": description, "error": "invalid_token"}
    assert response.headers["www-authenticate"] == (
        f'Bearer {REALM}, error="invalid_token", error_description="{description}"'
    )


async def test_missing_scope_gets_403_insufficient_scope_listing_all_needed(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    response = await client.post("/products", headers=bearer(logto.token(scopes=["read:products"])))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "token lacks required scopes: write:products",
        "error": "insufficient_scope",
    }
    assert response.headers["www-authenticate"] == (
        f'Bearer {REALM}, error="insufficient_scope", '
        'error_description="token lacks required scopes: write:products", '
        'scope="read:products write:products"'
    )


async def test_token_without_any_scope_authorizes_nothing(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    response = await client.get("/products", headers=bearer(logto.token()))
    assert response.status_code == 403


async def test_all_route_scopes_are_required(client: httpx.AsyncClient, logto: FakeLogto) -> None:
    token = logto.token(scopes=["read:products", "write:products"])
    assert (await client.post("/products", headers=bearer(token))).status_code == 200
    token = logto.token(scopes=["write:products"])
    assert (await client.post("/products", headers=bearer(token))).status_code == 403


async def test_unreachable_jwks_gets_503_with_retry_after(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    logto.jwks_fault = lambda request: httpx.Response(500)
    response = await client.get("/products", headers=bearer(logto.token(scopes=["read:products"])))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert response.json() == {"detail": "signing keys are temporarily unavailable"}


async def test_lowercase_scheme_and_extra_spaces_are_accepted(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    token = logto.token(scopes=["read:products"])
    response = await client.get("/products", headers={"Authorization": f"bearer   {token}  "})
    assert response.status_code == 200


@pytest.mark.parametrize("install", [True, False])
async def test_errors_carry_the_documented_body_with_or_without_install(
    logto: FakeLogto, clock: FakeClock, install: bool
) -> None:
    app = build_app(logto, clock, install=install)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        bad = await client.get("/products", headers=bearer("x.y.z"))
        short = await client.get("/products", headers=bearer(logto.token(scopes=["other"])))
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert bad.json() == {
        "detail": "token header is not valid base64url JSON",
        "error": "invalid_token",
    }
    assert short.status_code == 403
    assert 'error="insufficient_scope"' in short.headers["www-authenticate"]
    assert short.json()["error"] == "insufficient_scope"


async def test_without_install_an_apps_own_http_exception_handler_is_kept(
    logto: FakeLogto, clock: FakeClock
) -> None:
    app = build_app(logto, clock, install=False)

    @app.exception_handler(StarletteHTTPException)
    async def own(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"oops": exc.detail}, exc.status_code, headers=exc.headers)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        response = await client.get("/products", headers=bearer("x.y.z"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json() == {"oops": "token header is not valid base64url JSON"}


async def test_auto_error_false_yields_none_only_without_credentials(
    logto: FakeLogto, clock: FakeClock
) -> None:
    guard = LogtoGuard(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        auto_error=False,
    )
    app = FastAPI()
    guard.install(app)

    @app.get("/maybe")
    async def maybe(auth: AuthInfo | None = Security(guard)) -> dict[str, object]:
        return {"client_id": auth.client_id if auth else None}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        assert (await client.get("/maybe")).json() == {"client_id": None}
        assert (await client.get("/maybe", headers=bearer("x.y.z"))).status_code == 401
        ok = await client.get("/maybe", headers=bearer(logto.token()))
        assert ok.json() == {"client_id": logto.app_id}


async def test_the_type_of_a_guard_says_whether_it_may_yield_none(
    logto: FakeLogto, clock: FakeClock
) -> None:
    """Checked by mypy (``assert_type``) and at run time: no ``type: ignore`` hides ``None``."""
    client = logto.http_client()
    strict = LogtoGuard(
        endpoint=logto.endpoint, audience=logto.audience, http_client=client, clock=clock
    )
    lenient = LogtoGuard(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=client,
        clock=clock,
        auto_error=False,
    )
    assert_type(strict, LogtoGuard[AuthInfo])
    assert_type(lenient, LogtoGuard[AuthInfo | None])
    assert_type(lenient.policy(clients=["x"]), LogtoGuard[AuthInfo | None])
    request = Request({"type": "http", "headers": [], "path_params": {}})
    nobody = await lenient(request, SecurityScopes())
    assert_type(nobody, AuthInfo | None)
    assert nobody is None
    request = Request({"type": "http", "headers": [(b"authorization", b"Bearer x.y.z")]})
    with pytest.raises(GuardHTTPException) as refused:
        assert_type(await strict(request, SecurityScopes()), AuthInfo)
    assert refused.value.status_code == 401


async def test_openapi_shows_client_credentials_scheme_and_scopes(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"] == {
        "LogtoGuard": {
            "type": "oauth2",
            "description": "Logto access token for https://shopping.api. In Authorize,"
            " client_id is the M2M app's App ID and client_secret its App Secret"
            " (Logto Console: Applications).",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "https://tenant.logto.app/oidc/token",
                    "scopes": {
                        "read:products": "Read the catalogue",
                        "write:products": "write:products",
                    },
                }
            },
        }
    }
    paths = schema["paths"]
    assert paths["/products"]["get"]["security"] == [{"LogtoGuard": ["read:products"]}]
    assert paths["/products"]["post"]["security"] == [
        {"LogtoGuard": ["read:products", "write:products"]}
    ]
    assert "security" not in paths["/health"]["get"]


async def test_scopes_are_checked_per_route_on_a_cached_token(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    token = logto.token(scopes=["read:products"])
    assert (await client.get("/products", headers=bearer(token))).status_code == 200
    assert (await client.post("/products", headers=bearer(token))).status_code == 403
    assert (await client.get("/products", headers=bearer(token))).status_code == 200


async def test_guarded_operations_declare_their_refusals(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    reference = {"$ref": "#/components/schemas/LogtoGuardError"}
    read = schema["paths"]["/products"]["get"]["responses"]
    assert set(read) == {"200", "400", "401", "403", "503"}
    for status in ("400", "401", "403", "503"):
        assert read[status]["content"]["application/json"]["schema"] == reference
    assert "WWW-Authenticate" in read["401"]["headers"]
    assert "Retry-After" in read["503"]["headers"]
    assert set(schema["paths"]["/health"]["get"]["responses"]) == {"200"}
    error = schema["components"]["schemas"]["LogtoGuardError"]
    assert error["required"] == ["detail"] and set(error["properties"]) == {"detail", "error"}


async def test_swagger_login_preselects_every_scope_and_relays(
    logto: FakeLogto, clock: FakeClock
) -> None:
    """One call gives a user's app what the demo has: a relay and pre-selected scopes."""
    app = build_app(logto, clock)
    guard = next(
        dependency.call
        for route in app.routes
        if getattr(route, "path", "") == "/products"
        for dependency in route.dependant.dependencies  # type: ignore[attr-defined]
        if isinstance(dependency.call, LogtoGuard)
    )
    guard.add_swagger_login(app, swagger_js_url="/static/ui.js")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        page = (await c.get("/docs")).text
        schema = (await c.get("/openapi.json")).json()
        relay = await c.post("/docs/oauth2/token", data={"grant_type": "password"})
    assert '"scopes": "read:products write:products"' in page
    assert "/static/ui.js" in page
    flow = schema["components"]["securitySchemes"]["LogtoGuard"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/docs/oauth2/token"
    assert relay.status_code in {400, 403, 415} and relay.json()["error"]
