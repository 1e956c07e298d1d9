"""The M2M client against a Management-API-like endpoint, over real HTTP on loopback.

The dev issuer's ``GET /api/applications`` is guarded by logto_guard itself
(``aud = https://default.logto.app/api``, scope ``all``), as Logto's Management API is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from logto_guard.client import LogtoM2MClient
from logto_guard.dev_issuer import MANAGEMENT_API, create_app, open_issuer

from .servers import bind_free_port, serve

pytestmark = pytest.mark.integration


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    sock = bind_free_port()
    endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state = open_issuer(tmp_path, issuer=f"{endpoint}/oidc")
    state.add_resource(MANAGEMENT_API, ["all"])
    state.add_resource("https://shopping.api", ["read:products"])
    admin = state.ensure_app("admin", grants={MANAGEMENT_API: ["all"]})
    shop = state.ensure_app("shop", grants={"https://shopping.api": ["read:products"]})
    apps = {"admin": (admin.app_id, admin.app_secret), "shop": (shop.app_id, shop.app_secret)}
    with serve(create_app(state), sock) as url:
        yield url, apps


def test_m2m_client_lists_applications_with_scope_all(
    issuer: tuple[str, dict[str, tuple[str, str]]],
) -> None:
    url, apps = issuer
    app_id, secret = apps["admin"]
    with LogtoM2MClient(endpoint=url, app_id=app_id, app_secret=secret) as m2m:
        auth = m2m.auth(resource=MANAGEMENT_API, scopes=["all"])
        with httpx.Client(base_url=url, auth=auth) as api:
            listed = api.get("/api/applications")
            again = api.get("/api/applications")
    assert listed.status_code == 200
    assert {a["name"] for a in listed.json()} == {"admin", "shop"}
    assert all("secret" not in key for app in listed.json() for key in app)
    assert again.json() == listed.json()


def test_management_api_refuses_other_tokens(
    issuer: tuple[str, dict[str, tuple[str, str]]],
) -> None:
    url, apps = issuer
    anonymous = httpx.get(f"{url}/api/applications")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == f'Bearer realm="{MANAGEMENT_API}"'
    app_id, secret = apps["shop"]
    with LogtoM2MClient(endpoint=url, app_id=app_id, app_secret=secret) as m2m:
        shop_token = m2m.get_token_sync(resource="https://shopping.api", scopes=["read:products"])
    wrong = httpx.get(
        f"{url}/api/applications",
        headers={"Authorization": f"Bearer {shop_token.access_token}"},
    )
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "audience mismatch", "error": "invalid_token"}


def test_management_api_requires_scope_all(
    issuer: tuple[str, dict[str, tuple[str, str]]],
) -> None:
    url, apps = issuer
    app_id, secret = apps["admin"]
    with LogtoM2MClient(endpoint=url, app_id=app_id, app_secret=secret) as m2m:
        unscoped = m2m.get_token_sync(resource=MANAGEMENT_API)  # asked for no scope
    response = httpx.get(
        f"{url}/api/applications", headers={"Authorization": f"Bearer {unscoped.access_token}"}
    )
    assert response.status_code == 403
    assert 'scope="all"' in response.headers["www-authenticate"]
