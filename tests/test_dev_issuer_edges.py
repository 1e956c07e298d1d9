"""The dev issuer's edges: what a web page, a remote host or a bad config cannot do to it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from logto_guard.dev_issuer import IssuerState, create_app, open_issuer

pytestmark = pytest.mark.anyio
BASE = "http://127.0.0.1:3001"
ISSUER = f"{BASE}/oidc"
SHOP = "https://shopping.api"
JSON_TYPE = {"Content-Type": "application/json"}
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - only parsed here, never bound
DEV_PATHS = ["/__dev__/rotate", "/__dev__/stage", "/__dev__/sign"]


@pytest.fixture
def state(tmp_path: Path) -> IssuerState:
    state = IssuerState.open(tmp_path / "state", issuer=ISSUER)
    state.add_resource(SHOP, ["read:products"])
    state.add_app("client", grants={SHOP: ["read:products"]}, app_id="app1", app_secret="s1")
    return state


def client_for(app: Any, base_url: str = BASE) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def post_dev(
    state: IssuerState, path: str, *, base_url: str = BASE, **kwargs: Any
) -> httpx.Response:
    async with client_for(create_app(state), base_url) as client:
        return await client.post(path, **kwargs)


@pytest.mark.parametrize("path", DEV_PATHS)
async def test_dev_endpoints_refuse_a_text_plain_post(state: IssuerState, path: str) -> None:
    """A cross-site form or "simple" fetch can send text/plain, never application/json."""
    kid = state.current_key.kid
    response = await post_dev(
        state, path, content=b'{"claims": {"aud": "x"}}', headers={"Content-Type": "text/plain"}
    )
    assert (response.status_code, response.json()["error"]) == (415, "invalid_request")
    assert state.current_key.kid == kid and len(state.keys) == 1


@pytest.mark.parametrize("path", DEV_PATHS)
async def test_dev_endpoints_refuse_a_foreign_host(state: IssuerState, path: str) -> None:
    """DNS rebinding: a page on attacker.example resolved to 127.0.0.1 sends its own Host."""
    response = await post_dev(state, path, base_url="http://attacker.example:3001", json={})
    assert (response.status_code, response.json()["error"]) == (403, "invalid_request")
    assert len(state.keys) == 1


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://127.0.0.1:8000", "http://localhost:3001"]
)
async def test_dev_endpoints_refuse_a_foreign_origin(state: IssuerState, origin: str) -> None:
    response = await post_dev(state, "/__dev__/sign", json={}, headers={"Origin": origin})
    assert (response.status_code, response.json()["error"]) == (403, "invalid_request")


@pytest.mark.parametrize(
    ("base_url", "origin"),
    [
        (BASE, None),
        (BASE, BASE),
        ("http://localhost:3001", None),
        ("http://127.8.9.10:3001", None),
        ("http://[::1]:3001", "http://[::1]:3001"),
    ],
)
async def test_dev_endpoints_serve_loopback_same_origin_json(
    state: IssuerState, base_url: str, origin: str | None
) -> None:
    headers = {"Origin": origin} if origin else {}
    response = await post_dev(state, "/__dev__/sign", base_url=base_url, json={}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["token"].count(".") == 2


async def test_dev_endpoints_serve_the_configured_issuer_host(tmp_path: Path) -> None:
    state = IssuerState.open(tmp_path, issuer="http://issuer.test:3001/oidc")
    response = await post_dev(state, "/__dev__/sign", base_url="http://issuer.test:3001", json={})
    assert response.status_code == 200


async def test_non_loopback_bind_does_not_serve_dev_endpoints_without_the_flag(
    state: IssuerState,
) -> None:
    from logto_guard.dev_issuer.__main__ import parse_args, serving_app

    app, warning = serving_app(parse_args(["--host", ALL_INTERFACES]), state)
    async with client_for(app) as client:
        refused = [(await client.post(p, json={})).status_code for p in DEV_PATHS]
        jwks = await client.get("/oidc/jwks")
    assert refused == [404, 404, 404]
    assert jwks.status_code == 200
    assert warning is not None and "--allow-remote-dev-endpoints" in warning

    app, warning = serving_app(
        parse_args(["--host", ALL_INTERFACES, "--allow-remote-dev-endpoints"]), state
    )
    async with client_for(app) as client:
        assert (await client.post("/__dev__/sign", json={})).status_code == 200
    assert warning is not None and "sign arbitrary tokens" in warning

    _, warning = serving_app(parse_args(["--host", "127.0.0.1"]), state)
    assert warning is None


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("path", ["/oidc/token", "/__dev__/sign"])
async def test_deeply_nested_json_is_invalid_request_not_500(state: IssuerState, path: str) -> None:
    """100,000 nested arrays used to raise RecursionError in json.loads."""
    body = b'{"claims": ' + deep(30_000) + b"}" if path == "/__dev__/sign" else deep(30_000)
    response = await post_dev(state, path, content=body, headers=JSON_TYPE)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    response = await post_dev(state, path, content=deep(100_000)[:60_000], headers=JSON_TYPE)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    # The issue's 100,000-deep body (200 kB) is over the 64 KiB cap: refused unparsed.
    response = await post_dev(state, path, content=deep(100_000), headers=JSON_TYPE)
    assert (response.status_code, response.json()["error"]) == (413, "invalid_request")


@pytest.mark.parametrize("path", ["/oidc/token", "/__dev__/sign"])
async def test_oversized_bodies_are_refused(state: IssuerState, path: str) -> None:
    body = json.dumps({"claims": {"pad": "x" * 70_000}}).encode()
    response = await post_dev(state, path, content=body, headers=JSON_TYPE)
    assert (response.status_code, response.json()["error"]) == (413, "invalid_request")


async def test_json_strings_with_brackets_and_escapes_are_not_counted_as_nesting(
    state: IssuerState,
) -> None:
    claims = {"note": '[[[[ {{{{ \\" ' * 40, "aud": SHOP}
    response = await post_dev(state, "/__dev__/sign", json={"claims": claims})
    assert response.status_code == 200


async def test_token_endpoint_still_takes_json_bodies(state: IssuerState) -> None:
    body = {"grant_type": "client_credentials", "resource": SHOP, "scope": "read:products"}
    auth = {"Authorization": "Basic " + base64.b64encode(b"app1:s1").decode()}
    response = await post_dev(state, "/oidc/token", json=body, headers=auth)
    assert response.status_code == 200
    assert response.json()["scope"] == "read:products"


@pytest.mark.parametrize(
    ("app", "field"),
    [
        ({"name": "a", "app_secret": 123}, "apps[0].app_secret"),
        ({"name": "a", "app_id": ["x"]}, "apps[0].app_id"),
        ({"name": 7}, "apps[0].name"),
        ({"name": "a", "grants": {SHOP: "read:products"}}, "apps[0].grants"),
        ({"name": "a", "organizations": {"o": ["x"]}}, "apps[0].organizations"),
        ({"name": "a", "app_secert": "typo"}, "app_secert"),
    ],
)
async def test_config_with_a_wrong_type_is_refused_naming_the_field(
    tmp_path: Path, app: dict[str, Any], field: str
) -> None:
    """Nothing is written: no state is created, an existing one keeps its bytes."""
    config = {"resources": {SHOP: {"scopes": ["read:products"]}}, "apps": [app]}
    with pytest.raises(
        ValueError, match=r"invalid dev issuer config: .*" + field.replace("[", r"\[")
    ):
        open_issuer(tmp_path / "fresh", issuer=ISSUER, config=config)
    assert not (tmp_path / "fresh").exists()

    existing = IssuerState.open(tmp_path / "existing", issuer=ISSUER)
    before = {p.name: p.read_bytes() for p in (tmp_path / "existing").iterdir()}
    with pytest.raises(ValueError, match=field.replace("[", r"\[")):
        open_issuer(tmp_path / "existing", issuer=ISSUER, config=config)
    assert {p.name: p.read_bytes() for p in (tmp_path / "existing").iterdir()} == before
    assert existing.apps == IssuerState.open(tmp_path / "existing", issuer=ISSUER).apps


async def test_config_resource_ttl_must_be_an_integer(tmp_path: Path) -> None:
    config = {"resources": {SHOP: {"scopes": [], "access_token_ttl": "3600"}}}
    with pytest.raises(ValueError, match="access_token_ttl must be a positive integer"):
        open_issuer(tmp_path, issuer=ISSUER, config=config)


async def test_cli_reports_a_bad_config_field_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from logto_guard.dev_issuer.__main__ import main

    config = tmp_path / "issuer.json"
    config.write_text(json.dumps({"apps": [{"name": "a", "app_secret": 1}]}), encoding="utf-8")
    state_dir = tmp_path / "state"
    assert main(["--state-dir", str(state_dir), "--config", str(config), "--rotate", "ES384"]) == 2
    assert "apps[0].app_secret must be a string" in capsys.readouterr().err
    assert not state_dir.exists()
