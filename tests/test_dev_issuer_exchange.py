"""Logto's token exchange in the dev issuer, table-driven against LOGTO.md § Token exchange."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from logto_guard.dev_issuer import (
    ACCESS_TOKEN_TYPE,
    DEV_PUBLIC_CLIENT,
    IMPERSONATION_TOKEN_TYPE,
    MANAGEMENT_API,
    PERSONAL_ACCESS_TOKEN_TYPE,
    TOKEN_EXCHANGE,
    App,
    Directory,
    IssuerState,
    apply_config,
)
from logto_guard.testing import FakeClock

from .dev_issuer_helpers import MCP, SHOP, claims_of, client, login, make_state

pytestmark = pytest.mark.anyio
INVALID_GRANT = {
    "code": "oidc.invalid_grant",
    "message": "Grant request is invalid.",
    "error": "invalid_grant",
    "error_description": "grant request is invalid",
}


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = FakeClock()
        self.state, self.directory = make_state(tmp_path, self.clock)
        self.state.add_resource(MANAGEMENT_API, ["all"])
        self.agent = self.state.add_app("agent", grants={SHOP: ["read:products"]})
        self.plain = self.state.add_app("plain")
        self.admin = self.state.add_app("admin", grants={MANAGEMENT_API: ["all"]})
        self.directory.set_token_exchange(self.agent.app_id, True)
        self.http = client(self.state, self.directory)

    async def subject_token(self, user_id: str = "user-dev") -> httpx.Response:
        admin = self.state.mint(self.admin, audience=MANAGEMENT_API, scopes=["all"])
        return await self.http.post(
            "/api/subject-tokens",
            json={"userId": user_id, "context": {}},
            headers={"Authorization": f"Bearer {admin}"},
        )

    async def exchange(self, app: App | None = None, /, **form: str) -> httpx.Response:
        app = app or self.agent
        basic = base64.b64encode(f"{app.app_id}:{app.app_secret}".encode()).decode()
        data = {"grant_type": TOKEN_EXCHANGE, **form}
        return await self.http.post(
            "/oidc/token", data=data, headers={"Authorization": f"Basic {basic}"}
        )

    async def mcp_user_token(self) -> str:
        body = await login(self.http, DEV_PUBLIC_CLIENT, resource=MCP)
        token: str = body["access_token"]
        return token

    async def opaque_user_token(self, scope: str = "openid") -> str:
        body = await login(self.http, DEV_PUBLIC_CLIENT, scope=scope, resource=None)
        token: str = body["access_token"]
        return token


@pytest.fixture
async def world(tmp_path: Path) -> Any:
    w = World(tmp_path)
    async with w.http:
        yield w


async def test_access_token_subject_becomes_a_user_token_for_the_app(world: World) -> None:
    subject = await world.mcp_user_token()
    response = await world.exchange(
        subject_token=subject,
        subject_token_type=ACCESS_TOKEN_TYPE,
        resource=SHOP,
        scope="read:products write:products",
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "scope",
        "token_type",
    }  # no issued_token_type
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    # the user's roles on SHOP grant both scopes; the subject (MCP, read only) does not cap
    assert body["scope"] == "read:products write:products"
    claims = claims_of(world.state, body["access_token"])
    assert set(claims) == {"jti", "sub", "iat", "exp", "scope", "client_id", "iss", "aud"}
    assert (claims["sub"], claims["client_id"], claims["aud"]) == (
        "user-dev",
        world.agent.app_id,
        SHOP,
    )


async def test_scopes_are_filtered_by_the_users_roles_not_the_apps(world: World) -> None:
    token = (await world.subject_token("user-ro")).json()["subjectToken"]
    response = await world.exchange(
        subject_token=token,
        subject_token_type=IMPERSONATION_TOKEN_TYPE,
        resource=SHOP,
        scope="read:products write:products unknown:scope",
    )
    assert response.json()["scope"] == "read:products"
    assert claims_of(world.state, response.json()["access_token"])["sub"] == "user-ro"


async def test_no_scope_requested_gives_an_empty_scope(world: World) -> None:
    response = await world.exchange(
        subject_token="pat_devtoken", subject_token_type=PERSONAL_ACCESS_TOKEN_TYPE, resource=SHOP
    )
    assert response.json()["scope"] == ""
    assert claims_of(world.state, response.json()["access_token"])["scope"] == ""


async def test_lifetime_is_the_resource_ttl_not_bounded_by_the_subject(world: World) -> None:
    subject = await world.mcp_user_token()  # 900 s
    world.clock.now += 895  # 5 s left
    response = await world.exchange(
        subject_token=subject, subject_token_type=ACCESS_TOKEN_TYPE, resource=SHOP
    )
    claims = claims_of(world.state, response.json()["access_token"])
    assert response.json()["expires_in"] == 3600
    assert claims["exp"] - claims["iat"] == 3600


async def test_impersonation_subject_tokens_are_single_use_and_last_ten_minutes(
    world: World,
) -> None:
    issued = await world.subject_token()
    assert issued.status_code == 201
    assert issued.json()["expiresIn"] == 600 and issued.json()["subjectToken"].startswith("sub_")
    token = issued.json()["subjectToken"]
    form = {"subject_token": token, "subject_token_type": IMPERSONATION_TOKEN_TYPE}
    first = await world.exchange(resource=SHOP, **form)
    second = await world.exchange(resource=SHOP, **form)
    late = (await world.subject_token()).json()["subjectToken"]
    world.clock.now += 600
    expired = await world.exchange(
        resource=SHOP, subject_token=late, subject_token_type=IMPERSONATION_TOKEN_TYPE
    )
    assert first.status_code == 200
    assert (second.status_code, second.json()) == (400, INVALID_GRANT)
    assert (expired.status_code, expired.json()) == (400, INVALID_GRANT)


async def test_an_expired_access_token_subject_is_refused(world: World) -> None:
    subject = await world.mcp_user_token()  # 900 s
    world.clock.now += 900
    response = await world.exchange(
        subject_token=subject, subject_token_type=ACCESS_TOKEN_TYPE, resource=SHOP
    )
    assert (response.status_code, response.json()) == (400, INVALID_GRANT)


async def test_personal_access_tokens_are_reusable(world: World) -> None:
    form = {"subject_token": "pat_devtoken", "subject_token_type": PERSONAL_ACCESS_TOKEN_TYPE}
    statuses = [(await world.exchange(resource=SHOP, **form)).status_code for _ in range(2)]
    assert statuses == [200, 200]


async def test_an_actor_token_adds_act(world: World) -> None:
    actor = await world.opaque_user_token("openid")
    subject = (await world.subject_token("user-ro")).json()["subjectToken"]
    response = await world.exchange(
        subject_token=subject,
        subject_token_type=IMPERSONATION_TOKEN_TYPE,
        actor_token=actor,
        actor_token_type=ACCESS_TOKEN_TYPE,
        resource=SHOP,
    )
    claims = claims_of(world.state, response.json()["access_token"])
    assert (claims["sub"], claims["act"]) == ("user-ro", {"sub": "user-dev"})


async def test_without_actor_there_is_no_act_even_from_a_token_with_act(world: World) -> None:
    actor = await world.opaque_user_token("openid")
    first = await world.exchange(
        subject_token="pat_devtoken",
        subject_token_type=PERSONAL_ACCESS_TOKEN_TYPE,
        actor_token=actor,
        actor_token_type=ACCESS_TOKEN_TYPE,
        resource=SHOP,
    )
    again = await world.exchange(
        subject_token=first.json()["access_token"],
        subject_token_type=ACCESS_TOKEN_TYPE,
        resource=SHOP,
    )
    assert "act" in claims_of(world.state, first.json()["access_token"])
    assert "act" not in claims_of(world.state, again.json()["access_token"])


async def test_unknown_parameters_are_dropped(world: World) -> None:
    response = await world.exchange(
        subject_token="pat_devtoken",
        subject_token_type=PERSONAL_ACCESS_TOKEN_TYPE,
        resource=SHOP,
        audience="https://elsewhere.example",
        requested_token_type="urn:ietf:params:oauth:token-type:id_token",
    )
    assert response.status_code == 200
    assert claims_of(world.state, response.json()["access_token"])["aud"] == SHOP


async def test_without_resource_the_token_is_opaque(world: World) -> None:
    response = await world.exchange(
        subject_token="pat_devtoken", subject_token_type=PERSONAL_ACCESS_TOKEN_TYPE
    )
    assert response.status_code == 200
    assert "." not in response.json()["access_token"]


PAT = PERSONAL_ACCESS_TOKEN_TYPE


@pytest.mark.parametrize(
    ("case", "form"),
    [
        ("unknown pat", {"subject_token": "pat_nope", "subject_token_type": PAT}),
        ("pat as impersonation", {"subject_token": "pat_devtoken",
                                  "subject_token_type": IMPERSONATION_TOKEN_TYPE}),
        ("pat as access token", {"subject_token": "pat_devtoken",
                                 "subject_token_type": ACCESS_TOKEN_TYPE}),
        ("unknown type", {"subject_token": "pat_devtoken",
                          "subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}),
        ("garbage access token", {"subject_token": "eyJ.x.y",
                                  "subject_token_type": ACCESS_TOKEN_TYPE}),
        ("unknown impersonation", {"subject_token": "sub_nope",
                                   "subject_token_type": IMPERSONATION_TOKEN_TYPE}),
    ],
)  # fmt: skip
async def test_every_subject_token_failure_is_the_same_invalid_grant(
    world: World, case: str, form: dict[str, str]
) -> None:
    response = await world.exchange(resource=SHOP, **form)
    assert (response.status_code, response.json()) == (400, INVALID_GRANT), case


async def test_app_tokens_and_foreign_tokens_are_not_subjects(world: World, tmp_path: Path) -> None:
    app_token = world.state.mint(world.agent, audience=SHOP)
    # an app token whose App ID happens to equal a user id: still an app token (sub == client_id)
    lookalike = world.state.mint("user-dev", audience=SHOP)
    foreign_state = IssuerState.open(tmp_path / "foreign", issuer=world.state.issuer)
    foreign = foreign_state.mint("x", audience=SHOP, extra_claims={"sub": "user-dev"})
    id_token = world.state.sign(
        {"sub": "user-dev", "client_id": "c", "iss": world.state.issuer, "exp": 2**40}, typ="JWT"
    )
    for subject in (app_token, lookalike, foreign, id_token):
        response = await world.exchange(
            resource=SHOP, subject_token=subject, subject_token_type=ACCESS_TOKEN_TYPE
        )
        assert (response.status_code, response.json()) == (400, INVALID_GRANT)


async def test_a_deleted_user_cannot_be_exchanged(world: World) -> None:
    token = (await world.subject_token("user-ro")).json()["subjectToken"]
    assert world.directory.remove_user("user-ro")
    response = await world.exchange(
        resource=SHOP, subject_token=token, subject_token_type=IMPERSONATION_TOKEN_TYPE
    )
    assert (response.status_code, response.json()) == (400, INVALID_GRANT)


@pytest.mark.parametrize(
    "actor",
    [
        {"actor_token": "made-up", "actor_token_type": ACCESS_TOKEN_TYPE},
        {"actor_token": "OPAQUE_NO_OPENID", "actor_token_type": ACCESS_TOKEN_TYPE},
        {"actor_token": "OPAQUE", "actor_token_type": IMPERSONATION_TOKEN_TYPE},
        {"actor_token": "OPAQUE"},
        {"actor_token": "JWT", "actor_token_type": ACCESS_TOKEN_TYPE},
    ],
)
async def test_actor_must_be_an_opaque_user_token_with_openid(
    world: World, actor: dict[str, str]
) -> None:
    values = {
        "OPAQUE": await world.opaque_user_token("openid"),
        "OPAQUE_NO_OPENID": await world.opaque_user_token("profile"),
        "JWT": await world.mcp_user_token(),
    }
    actor = {k: values.get(v, v) for k, v in actor.items()}
    response = await world.exchange(
        resource=SHOP, subject_token="pat_devtoken", subject_token_type=PAT, **actor
    )
    assert (response.status_code, response.json()) == (400, INVALID_GRANT)


@pytest.mark.parametrize(
    ("case", "status", "error", "description"),
    [
        ("no allowTokenExchange", 400, "invalid_request",
         "requested grant type is not allowed for this client"),
        ("unknown resource", 400, "invalid_target", "resource indicator is missing, or unknown"),
        ("organization", 403, "access_denied", "user is not a member of the organization"),
        ("bad secret", 401, "invalid_client", "client authentication failed"),
    ],
)  # fmt: skip
async def test_other_refusals(
    world: World, case: str, status: int, error: str, description: str
) -> None:
    form = {"subject_token": "pat_devtoken", "subject_token_type": PAT, "resource": SHOP}
    app = world.agent
    if case == "no allowTokenExchange":
        app = world.plain
    elif case == "unknown resource":
        form["resource"] = "https://unknown.api"
    elif case == "organization":
        form["organization_id"] = "org1"
    elif case == "bad secret":
        app = App(app.app_id, "wrong", app.name)
    response = await world.exchange(app, **form)
    body = response.json()
    assert (response.status_code, body["error"], body["error_description"]) == (
        status,
        error,
        description,
    )
    assert body["code"] == f"oidc.{error}"


async def test_subject_tokens_endpoint_is_guarded_and_checks_the_user(world: World) -> None:
    anonymous = await world.http.post("/api/subject-tokens", json={"userId": "user-dev"})
    user_token = await world.mcp_user_token()
    wrong = await world.http.post(
        "/api/subject-tokens",
        json={"userId": "user-dev"},
        headers={"Authorization": f"Bearer {user_token}"},
    )
    unknown = await world.subject_token("nobody")
    admin = world.state.mint(world.admin, audience=MANAGEMENT_API, scopes=["all"])
    missing = await world.http.post(
        "/api/subject-tokens", content=b"{}", headers={"Authorization": f"Bearer {admin}"}
    )
    assert anonymous.status_code == 401
    assert wrong.status_code == 401  # audience mismatch
    assert unknown.status_code == 404
    assert missing.status_code == 400


async def test_allow_token_exchange_comes_from_the_config(world: World) -> None:
    apply_config(
        world.state,
        {"apps": [{"name": "plain", "allow_token_exchange": True}]},
        world.directory,
    )
    allowed = await world.exchange(
        world.plain, subject_token="pat_devtoken", subject_token_type=PAT, resource=SHOP
    )
    apply_config(world.state, {"apps": [{"name": "plain"}]}, world.directory)
    refused = await world.exchange(
        world.plain, subject_token="pat_devtoken", subject_token_type=PAT, resource=SHOP
    )
    assert allowed.status_code == 200
    assert refused.json()["error"] == "invalid_request"


def test_directory_persists_users_and_flags(tmp_path: Path) -> None:
    directory = Directory.open(tmp_path)
    assert [u.user_id for u in directory.users] == ["user-dev"]  # the default dev user
    directory.set_user("u2", roles={SHOP: ["read:products"]}, personal_access_tokens=["pat_x"])
    directory.set_token_exchange("app1", True)
    again = Directory.open(tmp_path)
    user = again.get_user("u2")
    assert user is not None and user.roles == {SHOP: ("read:products",)}
    assert again.user_for_pat("pat_x") == user
    assert again.allows_token_exchange("app1") and not again.allows_token_exchange("app2")
    assert "pat_x" not in repr(user)


def test_users_come_from_the_config(tmp_path: Path) -> None:
    state = IssuerState.open(tmp_path)
    state.add_resource(SHOP, ["read:products", "write:products"])
    config = {
        "users": [
            {"id": "u1", "username": "alice", "roles": {SHOP: ["read:products"]},
             "personal_access_tokens": ["pat_alice"]}
        ]
    }  # fmt: skip
    apply_config(state, config)
    user = Directory.open(tmp_path).get_user("u1")
    assert user is not None and user.username == "alice" and user.roles[SHOP] == ("read:products",)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"users": [{"id": "u1", "password": "x"}]}, "unknown field 'password' in users[0]"),
        ({"users": [{"username": "x"}]}, "users[0].id must be a string"),
        ({"users": [{"id": "u1", "roles": {SHOP: "read"}}]}, "users[0].roles"),
        ({"apps": [{"name": "a", "allow_token_exchange": "yes"}]}, "allow_token_exchange"),
        ({"users": [{"id": "u1", "roles": {"https://nope.api": []}}]}, "unknown resource"),
        ({"users": [{"id": "u1", "roles": {SHOP: ["admin"]}}]}, "defines no scope"),
        ({"users": [{"id": "u1", "personal_access_tokens": ["abc"]}]}, "pat_"),
    ],
)
def test_bad_user_config_is_refused(tmp_path: Path, config: dict[str, Any], message: str) -> None:
    state = IssuerState.open(tmp_path)
    state.add_resource(SHOP, ["read:products"])
    with pytest.raises(ValueError) as caught:
        apply_config(state, config)
    assert message in str(caught.value)
    assert Directory.open(tmp_path).get_user("u1") is None


async def test_banner_lists_users_and_token_exchange(world: World) -> None:
    from logto_guard.dev_issuer.__main__ import describe

    banner = describe(world.state, world.directory)
    assert "user 'dev' (id user-dev)" in banner
    assert f"App ID {world.agent.app_id}" in banner and "(token exchange allowed)" in banner
    assert "pat_devtoken" not in banner
