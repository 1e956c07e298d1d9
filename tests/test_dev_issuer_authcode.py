"""The dev issuer's authorization-code grant with PKCE, discovery and RFC 7591 registration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from logto_guard.dev_issuer import DEV_PUBLIC_CLIENT, Directory, IssuerState
from logto_guard.testing import FakeClock

from .dev_issuer_helpers import (
    BASE,
    ISSUER,
    MCP,
    REDIRECT,
    SHOP,
    claims_of,
    client,
    login,
    make_state,
    pkce,
    query_of,
)

pytestmark = [pytest.mark.anyio, pytest.mark.wall_clock]  # PyJWT checks exp with time


@pytest.fixture
def setup(tmp_path: Path, clock: FakeClock) -> tuple[IssuerState, Directory]:
    return make_state(tmp_path, clock)


@pytest.mark.parametrize(
    "path",
    [
        "/oidc/.well-known/openid-configuration",
        "/oidc/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/oidc",  # RFC 8414 §3.1, the SDK's first try
        "/.well-known/openid-configuration/oidc",
    ],
)
async def test_metadata_is_served_where_the_mcp_sdk_looks(
    setup: tuple[IssuerState, Directory], path: str
) -> None:
    async with client(*setup) as http:
        doc = (await http.get(path)).json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{ISSUER}/auth"
    assert doc["registration_endpoint"] == f"{ISSUER}/reg"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["response_types_supported"] == ["code"]
    assert set(doc["grant_types_supported"]) == {
        "authorization_code",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
    assert "none" in doc["token_endpoint_auth_methods_supported"]
    assert {"openid", "read:products", "write:products"} <= set(doc["scopes_supported"])


async def register(http: httpx.AsyncClient, **extra: Any) -> httpx.Response:
    body = {"redirect_uris": [REDIRECT], "client_name": "test", **extra}
    return await http.post("/oidc/reg", json=body)


async def test_registration_then_code_flow_gives_a_logto_user_token(
    setup: tuple[IssuerState, Directory],
) -> None:
    state, directory = setup
    async with client(state, directory) as http:
        registered = await register(http, token_endpoint_auth_method="none")
        assert registered.status_code == 201
        client_id = registered.json()["client_id"]
        body = await login(http, client_id, scope="openid read:products write:products")
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "read:products write:products"  # openid is not an API scope
    claims = claims_of(state, body["access_token"])
    assert set(claims) == {"jti", "sub", "iat", "exp", "scope", "client_id", "iss", "aud"}
    assert (claims["sub"], claims["client_id"], claims["aud"]) == ("user-dev", client_id, SHOP)
    assert claims["iss"] == ISSUER


async def test_scopes_are_requested_intersected_with_the_users_roles(
    setup: tuple[IssuerState, Directory],
) -> None:
    state, directory = setup
    async with client(state, directory) as http:
        reader = await login(http, DEV_PUBLIC_CLIENT, login_hint="reader")
        mcp = await login(http, DEV_PUBLIC_CLIENT, resource=MCP)
    assert reader["scope"] == "read:products"
    assert claims_of(state, reader["access_token"])["sub"] == "user-ro"
    assert (mcp["scope"], mcp["expires_in"]) == ("read:products", 900)
    assert claims_of(state, mcp["access_token"])["aud"] == MCP


async def test_no_resource_gives_an_opaque_token_with_openid(
    setup: tuple[IssuerState, Directory],
) -> None:
    async with client(*setup) as http:
        body = await login(http, DEV_PUBLIC_CLIENT, scope="openid profile", resource=None)
    assert body["scope"] == "openid profile"
    assert body["access_token"].count(".") == 0  # opaque, not a JWT


def auth_params(challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": DEV_PUBLIC_CLIENT,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": SHOP,
        "scope": "read:products",
        "state": "s1",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"resource": "https://unknown.api"}, "invalid_target"),
        ({"login_hint": "nobody"}, "access_denied"),
    ],
)
async def test_authorize_errors_redirect_back_with_state(
    setup: tuple[IssuerState, Directory], overrides: dict[str, str], error: str
) -> None:
    _, challenge = pkce()
    async with client(*setup) as http:
        response = await http.get("/oidc/auth", params=auth_params(challenge, **overrides))
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert (query["error"], query["state"], query["iss"]) == (error, "s1", ISSUER)
    assert "code" not in query


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "unknown"},
        {"redirect_uri": "https://evil.example/cb"},  # never redirect to an unregistered URI
        {"redirect_uri": ""},
    ],
)
async def test_authorize_never_redirects_for_unknown_client_or_uri(
    setup: tuple[IssuerState, Directory], overrides: dict[str, str]
) -> None:
    _, challenge = pkce()
    async with client(*setup) as http:
        response = await http.get("/oidc/auth", params=auth_params(challenge, **overrides))
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_registered_client_redirect_uri_must_match_exactly(
    setup: tuple[IssuerState, Directory],
) -> None:
    _, challenge = pkce()
    async with client(*setup) as http:
        client_id = (await register(http)).json()["client_id"]
        other = await http.get(
            "/oidc/auth",
            params=auth_params(
                challenge, client_id=client_id, redirect_uri="http://127.0.0.1:9999/other"
            ),
        )
    assert other.status_code == 400


async def test_authorize_refuses_a_foreign_host(setup: tuple[IssuerState, Directory]) -> None:
    _, challenge = pkce()
    async with client(*setup, base="http://attacker.example:3001") as http:
        response = await http.get("/oidc/auth", params=auth_params(challenge))
        registration = await register(http)
    assert response.status_code == 403 and "location" not in response.headers
    assert registration.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"redirect_uris": []},
        {"redirect_uris": ["not a uri"]},
        {"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"},
    ],
)
async def test_registration_refuses_bad_metadata(
    setup: tuple[IssuerState, Directory], body: dict[str, Any]
) -> None:
    async with client(*setup) as http:
        response = await http.post("/oidc/reg", json=body)
        garbage = await http.post("/oidc/reg", content=b"[[[")
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_redirect_uri", "invalid_client_metadata")
    assert garbage.status_code == 400


async def code_for(http: httpx.AsyncClient, challenge: str, **overrides: str) -> str:
    response = await http.get("/oidc/auth", params=auth_params(challenge, **overrides))
    return query_of(response.headers["location"])["code"]


def exchange_form(the_code: str, verifier: str, **overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "client_id": DEV_PUBLIC_CLIENT,
        "code": the_code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v}


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"code_verifier": "wrong-verifier-wrong-verifier-wrong-verifier-0"}, 400, "invalid_grant"),
        ({"code_verifier": ""}, 400, "invalid_grant"),
        ({"redirect_uri": "http://127.0.0.1:9999/other"}, 400, "invalid_grant"),
        ({"code": "made-up"}, 400, "invalid_grant"),
        ({"code": ""}, 400, "invalid_request"),
        ({"client_id": "someone-else"}, 400, "invalid_client"),
        ({"resource": "https://other.api"}, 400, "invalid_target"),
    ],
)
async def test_code_exchange_errors(
    setup: tuple[IssuerState, Directory], overrides: dict[str, str], status: int, error: str
) -> None:
    verifier, challenge = pkce()
    async with client(*setup) as http:
        code = await code_for(http, challenge)
        response = await http.post("/oidc/token", data=exchange_form(code, verifier, **overrides))
    assert (response.status_code, response.json()["error"]) == (status, error)


async def test_code_is_single_use_and_bound_to_its_client(
    setup: tuple[IssuerState, Directory],
) -> None:
    verifier, challenge = pkce()
    async with client(*setup) as http:
        other = (await register(http)).json()["client_id"]
        code = await code_for(http, challenge)
        stolen = await http.post("/oidc/token", data=exchange_form(code, verifier, client_id=other))
        code = await code_for(http, challenge)
        first = await http.post("/oidc/token", data=exchange_form(code, verifier))
        second = await http.post("/oidc/token", data=exchange_form(code, verifier))
    assert stolen.json()["error"] == "invalid_grant"
    assert first.status_code == 200
    assert (second.status_code, second.json()["error"]) == (400, "invalid_grant")


async def test_code_expires_after_60_seconds(
    setup: tuple[IssuerState, Directory], clock: FakeClock
) -> None:
    verifier, challenge = pkce()
    async with client(*setup) as http:
        late_code = await code_for(http, challenge)
        on_time_code = await code_for(http, challenge)
        clock.now += 59
        on_time = await http.post("/oidc/token", data=exchange_form(on_time_code, verifier))
        clock.now += 1
        late = await http.post("/oidc/token", data=exchange_form(late_code, verifier))
    assert on_time.status_code == 200
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")


async def test_authorize_redirect_keeps_the_redirect_uris_query(
    setup: tuple[IssuerState, Directory],
) -> None:
    _, challenge = pkce()
    uri = "http://localhost:7777/cb?x=1"
    async with client(*setup) as http:
        response = await http.get("/oidc/auth", params=auth_params(challenge, redirect_uri=uri))
    location = response.headers["location"]
    assert location.startswith(uri + "&code=")
    assert BASE not in location


@pytest.mark.parametrize(
    "path", ["/oidc/.well-known/openid-configuration", "/oidc/reg", "/oidc/token"]
)
async def test_oauth_endpoints_answer_browser_preflights(
    setup: tuple[IssuerState, Directory], path: str
) -> None:
    headers = {
        "Origin": "http://localhost:6274",  # MCP Inspector
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, mcp-protocol-version",
    }
    async with client(*setup) as http:
        preflight = await http.options(path, headers=headers)
        dev = await http.options("/__dev__/sign", headers=headers)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "mcp-protocol-version" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in dev.headers
