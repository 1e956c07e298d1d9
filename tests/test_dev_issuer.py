"""The dev issuer: Logto's token shape, token-endpoint errors, keys, rotation and persistence."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import jwt
import pytest

from logto_guard.dev_issuer import (
    App,
    IssuerState,
    OAuthError,
    StateError,
    apply_config,
    build_app,
    create_app,
    load_config,
    open_issuer,
)
from logto_guard.dev_issuer.__main__ import describe, main, parse_args
from logto_guard.signing import thumbprint
from logto_guard.testing import FakeClock

BASE = "http://127.0.0.1:3001"
JSON_TYPE = {"Content-Type": "application/json"}
ISSUER = f"{BASE}/oidc"
SHOP = "https://shopping.api"
OTHER = "https://other.api"
CLIENT_ID = "shoppingclient0000001"
CLIENT_SECRET = "S3cretS3cretS3cretS3cretS3cret00"
TOKEN_KEYS = {"jti", "sub", "iat", "exp", "scope", "client_id", "iss", "aud"}


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def state(state_dir: Path, clock: FakeClock) -> IssuerState:
    state = IssuerState.open(state_dir, issuer=ISSUER, clock=clock)
    state.add_resource(SHOP, ["read:products", "write:products"])
    state.add_resource(OTHER, ["read:other"], ttl=600)
    state.add_app(
        "client",
        grants={SHOP: ["read:products", "write:products"], OTHER: ["read:other"]},
        organizations={"org1": {"": ["read:members"], SHOP: ["read:products"]}},
        app_id=CLIENT_ID,
        app_secret=CLIENT_SECRET,
    )
    state.add_app("bare")
    return state


def http(state: IssuerState) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)), base_url=BASE)


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def request_token(
    state: IssuerState, data: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> httpx.Response:
    async with http(state) as client:
        return await client.post("/oidc/token", data=data, headers=headers)


async def fetch_jwks(state: IssuerState) -> list[dict[str, Any]]:
    async with http(state) as client:
        keys: list[dict[str, Any]] = (await client.get("/oidc/jwks")).json()["keys"]
    return keys


async def verify(state: IssuerState, token: str, audience: str) -> dict[str, Any]:
    """Verify ``token`` the way a resource server does: key by ``kid`` from the served JWKS."""
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in await fetch_jwks(state) if k["kid"] == kid)
    key = jwt.PyJWK(jwk)
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=[key.algorithm_name], audience=audience, issuer=ISSUER
    )
    return claims


def header_of(token: str) -> dict[str, Any]:
    return dict(jwt.get_unverified_header(token))


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


# The clock starts at the current second, so PyJWT's own exp check passes.
pytestmark = [pytest.mark.anyio, pytest.mark.wall_clock]


# --- discovery and JWKS ------------------------------------------------------------------


async def test_discovery_document_advertises_client_credentials(state: IssuerState) -> None:
    async with http(state) as client:
        response = await client.get("/oidc/.well-known/openid-configuration")
    assert response.status_code == 200
    doc = response.json()
    assert doc["issuer"] == ISSUER
    assert doc["jwks_uri"] == f"{ISSUER}/jwks"
    assert doc["token_endpoint"] == f"{ISSUER}/token"
    assert "client_credentials" in doc["grant_types_supported"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    assert doc["id_token_signing_alg_values_supported"] == ["ES384"]


async def test_jwks_is_one_p384_key_served_with_logto_headers(state: IssuerState) -> None:
    async with http(state) as client:
        response = await client.get("/oidc/jwks")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert response.headers["cache-control"] == "no-cache, max-age=0, must-revalidate"
    assert response.headers["etag"]
    (jwk,) = response.json()["keys"]
    assert set(jwk) == {"kty", "use", "kid", "alg", "crv", "x", "y"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-384", "ES384", "sig")
    assert jwk["kid"] == thumbprint(jwk)
    assert len(jwk["kid"]) == 43


async def test_jwks_etag_revalidates_and_changes_on_rotation(state: IssuerState) -> None:
    async with http(state) as client:
        etag = (await client.get("/oidc/jwks")).headers["etag"]
        unchanged = await client.get("/oidc/jwks", headers={"If-None-Match": etag})
        state.rotate()
        rotated = await client.get("/oidc/jwks", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert rotated.status_code == 200
    assert rotated.headers["etag"] != etag


# --- successful token requests -----------------------------------------------------------


async def test_basic_auth_token_has_logto_shape_and_verifies(
    state: IssuerState, clock: FakeClock
) -> None:
    response = await request_token(
        state,
        {"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"},
        basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert (body["expires_in"], body["token_type"], body["scope"]) == (
        3600,
        "Bearer",
        "read:products",
    )
    token = body["access_token"]
    assert header_of(token) == {"alg": "ES384", "typ": "at+jwt", "kid": state.current_key.kid}
    claims = await verify(state, token, SHOP)
    assert set(claims) == TOKEN_KEYS
    assert claims["sub"] == claims["client_id"] == CLIENT_ID
    assert claims["aud"] == SHOP
    assert claims["iss"] == ISSUER
    assert claims["scope"] == "read:products"
    assert claims["iat"] == int(clock.now)
    assert claims["exp"] == claims["iat"] + 3600
    assert "nbf" not in claims


async def test_client_secret_post_token_uses_the_resource_ttl(state: IssuerState) -> None:
    response = await request_token(
        state,
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "resource": OTHER,
            "scope": "read:other",
        },
    )
    assert response.status_code == 200
    assert response.json()["expires_in"] == 600
    claims = await verify(state, response.json()["access_token"], OTHER)
    assert claims["exp"] - claims["iat"] == 600


async def test_basic_credentials_are_form_urlencoded_per_rfc6749(state: IssuerState) -> None:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before base64 (":" and "+" too)."""
    app = state.add_app("special", app_secret="p@ss:w+rd /é", grants={SHOP: ["read:products"]})
    response = await request_token(
        state,
        {"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"},
        basic(app.app_id, "p@ss:w+rd /é"),
    )
    assert response.status_code == 200
    assert claims_of(response.json()["access_token"])["sub"] == app.app_id


async def test_json_body_is_accepted(state: IssuerState) -> None:
    async with http(state) as client:
        response = await client.post(
            "/oidc/token",
            json={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "resource": SHOP,
                "scope": "write:products",
            },
        )
    assert response.status_code == 200
    assert response.json()["scope"] == "write:products"


async def test_ungranted_and_repeated_scopes_are_dropped_silently(state: IssuerState) -> None:
    response = await request_token(
        state,
        {
            "grant_type": "client_credentials",
            "resource": SHOP,
            "scope": "read:products  delete:everything write:products read:products read:other",
        },
        basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "read:products write:products"
    assert claims_of(response.json()["access_token"])["scope"] == "read:products write:products"


@pytest.mark.parametrize("scope", [None, "read:products", "unknown:scope"])
async def test_scope_is_absent_when_nothing_is_granted(
    state: IssuerState, scope: str | None
) -> None:
    """An app with no roles still gets a token, but with no ``scope`` at all."""
    bare = state.find_app("bare")
    assert bare is not None
    data = {"grant_type": "client_credentials", "resource": SHOP}
    if scope is not None:
        data["scope"] = scope
    response = await request_token(state, data, basic(bare.app_id, bare.app_secret))
    assert response.status_code == 200
    assert "scope" not in response.json()
    claims = await verify(state, response.json()["access_token"], SHOP)
    assert "scope" not in claims
    assert claims["sub"] == bare.app_id


async def test_no_scope_requested_grants_no_scope(state: IssuerState) -> None:
    """Like node-oidc-provider: scopes are only granted when requested."""
    response = await request_token(
        state,
        {"grant_type": "client_credentials", "resource": SHOP},
        basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200
    assert "scope" not in claims_of(response.json()["access_token"])


async def test_generated_app_credentials_look_like_logto(state: IssuerState) -> None:
    bare = state.find_app("bare")
    assert bare is not None
    assert re.fullmatch(r"[a-z0-9]{21}", bare.app_id)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", bare.app_secret)
    assert bare.app_secret not in repr(bare)


# --- organization tokens -----------------------------------------------------------------


async def test_organization_token_without_resource(state: IssuerState) -> None:
    response = await request_token(
        state,
        {
            "grant_type": "client_credentials",
            "organization_id": "org1",
            "scope": "read:members read:products",
        },
        basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "read:members"
    claims = await verify(state, response.json()["access_token"], "urn:logto:organization:org1")
    assert claims["scope"] == "read:members"
    assert "organization_id" not in claims


async def test_organization_token_scope_is_present_even_when_empty(state: IssuerState) -> None:
    response = await request_token(
        state,
        {"grant_type": "client_credentials", "organization_id": "org1"},
        basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200
    assert response.json()["scope"] == ""
    assert claims_of(response.json()["access_token"])["scope"] == ""


async def test_organization_token_for_a_resource_uses_organization_roles(
    state: IssuerState,
) -> None:
    """The app holds write:products globally, but only read:products in org1."""
    response = await request_token(
        state,
        {
            "grant_type": "client_credentials",
            "organization_id": "org1",
            "resource": SHOP,
            "scope": "read:products write:products",
        },
        basic(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200
    claims = await verify(state, response.json()["access_token"], SHOP)
    assert claims["aud"] == SHOP
    assert claims["organization_id"] == "org1"
    assert claims["scope"] == "read:products"


# --- the error table ---------------------------------------------------------------------

GOOD = {"grant_type": "client_credentials", "resource": SHOP}
POST_AUTH = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
ERROR_TABLE: list[tuple[str, dict[str, Any], bool, int, str, str]] = [
    # id, form, use Basic, status, error, description
    (
        "unknown client",
        {**GOOD, "client_id": "nosuchclient", "client_secret": "x"},
        False,
        400,
        "invalid_client",
        "invalid client nosuchclient",
    ),
    (
        "wrong secret",
        {**GOOD, "client_id": CLIENT_ID, "client_secret": "wrong"},
        False,
        401,
        "invalid_client",
        "client authentication failed",
    ),
    (
        "no credentials",
        GOOD,
        False,
        400,
        "invalid_request",
        "no client authentication mechanism provided",
    ),
    (
        "both mechanisms",
        {**GOOD, "client_secret": CLIENT_SECRET},
        True,
        400,
        "invalid_request",
        "client authentication must only be provided using one mechanism",
    ),
    (
        "missing grant_type",
        {"resource": SHOP},
        True,
        400,
        "invalid_request",
        "missing required parameter 'grant_type'",
    ),
    (
        "unknown grant_type",
        {**GOOD, "grant_type": "password"},
        True,
        400,
        "unsupported_grant_type",
        "unsupported grant_type requested",
    ),
    (
        "neither resource nor organization",
        {"grant_type": "client_credentials", "scope": "read:products"},
        True,
        400,
        "invalid_target",
        "both `resource` and `organization_id` are not provided",
    ),
    (
        "unknown resource",
        {**GOOD, "resource": "https://unknown.api"},
        True,
        400,
        "invalid_target",
        "resource indicator is missing, or unknown",
    ),
    (
        "several resources",
        {**GOOD, "resource": [SHOP, OTHER]},
        True,
        400,
        "invalid_target",
        "only a single resource indicator value is supported for this grant type",
    ),
    (
        "scope with invalid characters",
        {**GOOD, "scope": 'read:products "quoted"'},
        True,
        400,
        "invalid_scope",
        "scope contains invalid characters",
    ),
    (
        "app not in the organization",
        {"grant_type": "client_credentials", "organization_id": "org2"},
        True,
        403,
        "access_denied",
        "app has not associated with the organization",
    ),
    (
        "duplicated parameter",
        {**GOOD, "grant_type": ["client_credentials", "client_credentials"]},
        True,
        400,
        "invalid_request",
        "'grant_type' parameter must not be provided twice",
    ),
]


@pytest.mark.parametrize(
    ("form", "use_basic", "status", "error", "description"),
    [case[1:] for case in ERROR_TABLE],
    ids=[case[0] for case in ERROR_TABLE],
)
async def test_token_endpoint_errors_match_logto(
    state: IssuerState,
    form: dict[str, Any],
    use_basic: bool,
    status: int,
    error: str,
    description: str,
) -> None:
    headers = basic(CLIENT_ID, CLIENT_SECRET) if use_basic else None
    response = await request_token(state, form, headers)
    assert response.status_code == status
    assert response.json() == {
        "code": f"oidc.{error}",
        "message": description,
        "error": error,
        "error_description": description,
    }
    assert response.headers["cache-control"] == "no-store"
    assert "www-authenticate" not in response.headers


async def test_wrong_secret_with_basic_is_401_with_www_authenticate_basic(
    state: IssuerState,
) -> None:
    response = await request_token(state, GOOD, basic(CLIENT_ID, "wrong"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_description"] == "client authentication failed"
    assert response.headers["www-authenticate"] == f'Basic realm="{ISSUER}"'


@pytest.mark.parametrize("credentials", ["not base64!", base64.b64encode(b"no-colon").decode()])
async def test_malformed_basic_header_is_invalid_request(
    state: IssuerState, credentials: str
) -> None:
    response = await request_token(state, GOOD, {"Authorization": f"Basic {credentials}"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"] == "invalid authorization header value format"


async def test_json_body_with_several_resources_is_invalid_target(state: IssuerState) -> None:
    async with http(state) as client:
        response = await client.post(
            "/oidc/token", json={**GOOD, **POST_AUTH, "resource": [SHOP, OTHER]}
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b'{"scope": 3}'])
async def test_unparsable_json_body_is_invalid_request(state: IssuerState, body: bytes) -> None:
    async with http(state) as client:
        response = await client.post(
            "/oidc/token", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["code"] == "oidc.invalid_request"


async def test_oauth_error_body_shape() -> None:
    error = OAuthError("invalid_target", "nope")
    assert error.status_code == 400
    assert error.body() == {
        "code": "oidc.invalid_target",
        "message": "nope",
        "error": "invalid_target",
        "error_description": "nope",
    }


# --- keys: rotation and staging ----------------------------------------------------------


async def test_rotation_keeps_the_previous_key_published_and_signs_with_the_new(
    state: IssuerState,
) -> None:
    old_kid = state.current_key.kid
    old_token = state.mint(CLIENT_ID, audience=SHOP, scopes=["read:products"])
    async with http(state) as client:
        response = await client.post("/__dev__/rotate", json={"alg": "RS256"})
    assert response.status_code == 200
    rsa_jwk, ec_jwk = response.json()["keys"]
    assert (rsa_jwk["kty"], ec_jwk["kid"]) == ("RSA", old_kid)
    assert "alg" not in rsa_jwk
    assert rsa_jwk["kid"] == thumbprint(rsa_jwk)
    assert [k.status for k in state.keys] == ["current", "previous"]

    new_token = state.mint(CLIENT_ID, audience=SHOP)
    assert header_of(new_token) == {"alg": "RS256", "typ": "at+jwt", "kid": rsa_jwk["kid"]}
    assert (await verify(state, new_token, SHOP))["sub"] == CLIENT_ID
    assert (await verify(state, old_token, SHOP))["scope"] == "read:products"


async def test_rotation_keeps_at_most_one_previous_key(state: IssuerState) -> None:
    first = state.current_key.kid
    second = state.rotate().kid
    third = state.rotate("ES256")
    assert [k["kid"] for k in state.jwks()["keys"]] == [third.kid, second]
    assert first not in {k["kid"] for k in await fetch_jwks(state)}
    assert header_of(state.mint(CLIENT_ID, audience=SHOP))["alg"] == "ES256"


async def test_staged_next_key_is_published_but_does_not_sign(state: IssuerState) -> None:
    current = state.current_key.kid
    async with http(state) as client:
        staged = await client.post("/__dev__/stage", json={"alg": "ES512"})
        token = await client.post("/oidc/token", data={**GOOD, **POST_AUTH})
    assert staged.status_code == 200
    next_jwk, current_jwk = staged.json()["keys"]
    assert (next_jwk["alg"], next_jwk["crv"], current_jwk["kid"]) == ("ES512", "P-521", current)
    assert header_of(token.json()["access_token"])["kid"] == current

    promoted = state.rotate()
    assert promoted.kid == next_jwk["kid"]
    assert [k.kid for k in state.keys] == [next_jwk["kid"], current]


async def test_rotating_to_another_alg_than_the_staged_key_is_refused(
    state: IssuerState,
) -> None:
    state.stage_next("RS256")
    with pytest.raises(ValueError, match="staged"):
        state.rotate("ES384")
    assert [k.status for k in state.keys] == ["next", "current"]


async def test_unsupported_algorithm_is_refused(state: IssuerState) -> None:
    with pytest.raises(ValueError, match="unsupported algorithm"):
        state.rotate("HS256")
    async with http(state) as client:
        response = await client.post("/__dev__/rotate", json={"alg": "none"})
    assert response.status_code == 400
    assert len(state.keys) == 1


# --- persistence -------------------------------------------------------------------------


async def test_reopened_state_keeps_keys_and_apps_so_old_tokens_verify(
    state: IssuerState, state_dir: Path, clock: FakeClock
) -> None:
    token = state.mint(CLIENT_ID, audience=SHOP, scopes=["read:products"])
    reopened = IssuerState.open(state_dir, issuer=ISSUER, clock=clock)
    assert (await verify(reopened, token, SHOP))["scope"] == "read:products"
    assert reopened.get_app(CLIENT_ID) == state.get_app(CLIENT_ID)
    assert reopened.resources == state.resources
    response = await request_token(reopened, {**GOOD, **POST_AUTH, "scope": "read:products"})
    assert response.status_code == 200


async def test_running_issuer_picks_up_a_rotation_by_another_process(
    state: IssuerState, state_dir: Path
) -> None:
    other = IssuerState.open(state_dir, issuer=ISSUER)
    new_kid = other.rotate().kid
    assert next(k["kid"] for k in await fetch_jwks(state)) == new_kid
    assert state.current_key.kid == new_kid


async def test_state_file_is_private_and_written_without_leftovers(
    state: IssuerState, state_dir: Path
) -> None:
    state.rotate()
    assert sorted(os.listdir(state_dir)) == ["state.json"]
    assert stat.S_IMODE((state_dir / "state.json").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"version": 99}',
        '{"version": 1, "keys": [], "resources": {}, "apps": []}',
    ],
)
async def test_corrupt_state_file_raises_and_is_not_overwritten(
    tmp_path: Path, content: str
) -> None:
    (tmp_path / "state.json").write_text(content, encoding="utf-8")
    with pytest.raises(StateError, match=r"state\.json") as info:
        IssuerState.open(tmp_path)
    assert info.value.path == tmp_path / "state.json"
    assert (tmp_path / "state.json").read_text(encoding="utf-8") == content


async def test_fresh_state_can_start_with_an_rsa_key(tmp_path: Path) -> None:
    state = IssuerState.open(tmp_path, alg="RS256")
    assert state.current_key.alg == "RS256"
    assert state.jwks()["keys"][0]["kty"] == "RSA"
    assert IssuerState.open(tmp_path).current_key.kid == state.current_key.kid


# --- apps, resources and minting ---------------------------------------------------------


async def test_ensure_app_is_idempotent_by_name(state: IssuerState) -> None:
    before = state.find_app("client")
    after = state.ensure_app("client", grants={SHOP: ["read:products"]})
    assert before is not None
    assert (after.app_id, after.app_secret) == (before.app_id, before.app_secret)
    assert after.grants == {SHOP: ("read:products",)}
    assert after.organizations == {}
    assert len(state.apps) == 2
    created = state.ensure_app("new")
    assert isinstance(created, App)
    assert len(state.apps) == 3


@pytest.mark.parametrize(
    ("grants", "message"),
    [
        ({"https://unknown.api": ["read"]}, "unknown resource"),
        ({SHOP: ["delete:products"]}, "defines no scope"),
        ({SHOP: ["bad scope"]}, "invalid scope"),
    ],
)
async def test_add_app_validates_grants(
    state: IssuerState, grants: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        state.add_app("invalid", grants=grants)
    assert state.find_app("invalid") is None


async def test_add_app_refuses_duplicate_names(state: IssuerState) -> None:
    with pytest.raises(ValueError, match="already exists"):
        state.add_app("client")


@pytest.mark.parametrize("indicator", ["shopping.api", "https://a.api#frag", "https://a .api"])
async def test_resource_indicator_must_be_an_absolute_uri(
    state: IssuerState, indicator: str
) -> None:
    with pytest.raises(ValueError, match="absolute URI"):
        state.add_resource(indicator, [])


async def test_mint_supports_overrides_for_tests(state: IssuerState, clock: FakeClock) -> None:
    token = state.mint(
        "someone",
        audience=SHOP,
        ttl=5,
        now=1000,
        extra_claims={"jti": None, "azp": "x"},
    )
    claims = claims_of(token)
    assert claims == {
        "sub": "someone",
        "client_id": "someone",
        "iat": 1000,
        "exp": 1005,
        "iss": ISSUER,
        "aud": SHOP,
        "azp": "x",
    }


# --- dev endpoints -----------------------------------------------------------------------


async def test_dev_sign_signs_arbitrary_claims_with_the_current_key(
    state: IssuerState,
) -> None:
    claims = {"sub": CLIENT_ID, "aud": "https://foreign.api", "iss": ISSUER, "exp": 1}
    async with http(state) as client:
        response = await client.post(
            "/__dev__/sign", json={"claims": claims, "header": {"typ": "JWT"}}
        )
    assert response.status_code == 200
    token = response.json()["token"]
    assert header_of(token) == {"alg": "ES384", "typ": "JWT", "kid": state.current_key.kid}
    with pytest.raises(jwt.ExpiredSignatureError):
        await verify(state, token, "https://foreign.api")
    assert claims_of(token) == claims


async def test_dev_sign_can_use_the_previous_key(state: IssuerState) -> None:
    previous = state.current_key.kid
    state.rotate()
    async with http(state) as client:
        response = await client.post("/__dev__/sign", json={"claims": {}, "key": "previous"})
    assert header_of(response.json()["token"])["kid"] == previous


@pytest.mark.parametrize(
    "body",
    [b'{"claims": [1]}', b'{"key": "next"}', b'{"header": {"alg": "HS256"}}', b"{", b"[]"],
)
async def test_dev_sign_rejects_bad_requests(state: IssuerState, body: bytes) -> None:
    async with http(state) as client:
        response = await client.post("/__dev__/sign", content=body, headers=JSON_TYPE)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_dev_sign_can_drop_typ(state: IssuerState) -> None:
    async with http(state) as client:
        response = await client.post("/__dev__/sign", json={"header": {"typ": None}})
    assert "typ" not in header_of(response.json()["token"])


async def test_dev_rotate_without_body_keeps_the_algorithm(state: IssuerState) -> None:
    old = state.current_key.kid
    async with http(state) as client:
        response = await client.post("/__dev__/rotate", headers=JSON_TYPE)
    keys = response.json()["keys"]
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert [k["alg"] for k in keys] == ["ES384", "ES384"]
    assert keys[1]["kid"] == old != keys[0]["kid"]


# --- config, build_app and CLI -----------------------------------------------------------

CONFIG: dict[str, Any] = {
    "resources": {SHOP: {"scopes": ["read:products", "write:products"], "access_token_ttl": 60}},
    "apps": [
        {"name": "pinned", "app_id": CLIENT_ID, "app_secret": CLIENT_SECRET},
        {"name": "reader", "grants": {SHOP: ["read:products"]}},
    ],
}


async def test_config_declares_resources_and_apps_idempotently(tmp_path: Path) -> None:
    state = open_issuer(tmp_path, issuer=ISSUER, config=CONFIG)
    reader = state.find_app("reader")
    assert reader is not None
    assert state.resources[SHOP].access_token_ttl == 60
    assert state.get_app(CLIENT_ID) is not None
    apply_config(state, CONFIG)
    assert state.find_app("reader") == reader
    assert len(state.apps) == 2


async def test_build_app_serves_an_issuer_from_a_config_file(tmp_path: Path) -> None:
    config_file = tmp_path / "issuer.json"
    config_file.write_text(json.dumps(CONFIG), encoding="utf-8")
    app = build_app(tmp_path / "state", issuer=ISSUER, config=config_file)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        response = await client.post(
            "/oidc/token", data=GOOD, headers=basic(CLIENT_ID, CLIENT_SECRET)
        )
    assert response.status_code == 200
    assert response.json()["expires_in"] == 60


@pytest.mark.parametrize(
    "config", [{"apps": [{"grants": {}}]}, {"resources": {SHOP: "read"}}, {"apps": [3]}]
)
async def test_invalid_config_is_a_value_error(tmp_path: Path, config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid dev issuer config"):
        open_issuer(tmp_path, config=config)


async def test_config_file_must_be_a_json_object(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object"):
        load_config(tmp_path / "bad.json")


async def test_cli_defaults() -> None:
    args = parse_args([])
    assert (args.host, args.port, args.state_dir, args.alg) == (
        "127.0.0.1",
        3001,
        ".logto-dev",
        "ES384",
    )
    assert args.issuer is None
    assert args.rotate is None


async def test_cli_rotate_rotates_the_state_and_exits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = IssuerState.open(tmp_path).current_key.kid
    assert main(["--state-dir", str(tmp_path), "--rotate", "ES256"]) == 0
    after = IssuerState.open(tmp_path)
    assert [k.kid for k in after.keys][1] == before
    assert after.current_key.alg == "ES256"
    assert after.current_key.kid in capsys.readouterr().out


async def test_cli_reports_a_corrupt_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "state.json").write_text("{", encoding="utf-8")
    assert main(["--state-dir", str(tmp_path), "--rotate", "ES384"]) == 2
    assert "state.json" in capsys.readouterr().err


async def test_banner_shows_issuer_and_app_credentials(state: IssuerState) -> None:
    banner = describe(state)
    assert ISSUER in banner
    assert CLIENT_ID in banner
    assert CLIENT_SECRET in banner
    assert "'bare'" in banner
