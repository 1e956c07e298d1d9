"""The demo shopping API in process: routes, scopes, validation and the SQLite store."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo_api.app import create_app
from demo_api.settings import Settings
from demo_api.store import ProductStore
from logto_guard import LogtoGuard
from logto_guard.testing import FakeLogto

# The demo's guard reads time.time(): tokens are minted at the current second.
pytestmark = [pytest.mark.anyio, pytest.mark.wall_clock]
READ, WRITE = ["read:products"], ["read:products", "write:products"]


@pytest.fixture
async def client(logto: FakeLogto, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(endpoint=logto.endpoint, db_path=str(tmp_path / "shop.sqlite3"))
    guard = LogtoGuard(
        endpoint=logto.endpoint, audience=logto.audience, http_client=logto.http_client()
    )
    app = create_app(settings, guard=guard)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


def auth(logto: FakeLogto, scopes: list[str], **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {logto.token(scopes=scopes, **claims)}"}


async def test_health_is_open(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_create_then_read_records_the_app(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    created = await client.post(
        "/products", json={"name": " Tea ", "price": 3.5}, headers=auth(logto, WRITE)
    )
    assert created.status_code == 201
    product = created.json()
    assert (product["name"], product["price"], product["created_by"]) == ("Tea", 3.5, logto.app_id)
    listed = await client.get("/products", headers=auth(logto, READ))
    assert [p["id"] for p in listed.json()] == [product["id"]]
    one = await client.get(f"/products/{product['id']}", headers=auth(logto, READ))
    assert one.json() == product


async def test_read_only_token_cannot_write(client: httpx.AsyncClient, logto: FakeLogto) -> None:
    response = await client.post(
        "/products", json={"name": "Tea", "price": 1}, headers=auth(logto, READ)
    )
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'scope="write:products"' in response.headers["www-authenticate"]


async def test_put_patch_delete_record_who_changed(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    pid = (
        await client.post("/products", json={"name": "A", "price": 1}, headers=auth(logto, WRITE))
    ).json()["id"]
    other = auth(logto, WRITE, sub="other-app", client_id="other-app")
    put = await client.put(f"/products/{pid}", json={"name": "B", "price": 2}, headers=other)
    assert (put.json()["name"], put.json()["updated_by"], put.json()["created_by"]) == (
        "B",
        "other-app",
        logto.app_id,
    )
    patch = await client.patch(f"/products/{pid}", json={"price": 0}, headers=auth(logto, WRITE))
    assert (patch.json()["name"], patch.json()["price"]) == ("B", 0)
    assert (await client.delete(f"/products/{pid}", headers=auth(logto, WRITE))).status_code == 204
    gone = await client.get(f"/products/{pid}", headers=auth(logto, READ))
    assert (gone.status_code, gone.json()) == (404, {"detail": "product not found"})


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "price": 1},
        {"name": "   ", "price": 1},
        {"name": "Tea", "price": -0.01},
        {"name": "Tea"},
        {"price": 1},
        {"name": "Tea", "price": "free"},
        {"name": "Tea", "price": 1, "colour": "red"},
        {"name": 5, "price": 1},
        [],
        "not json",
    ],
)
async def test_invalid_product_bodies_get_422(
    client: httpx.AsyncClient, logto: FakeLogto, body: object
) -> None:
    response = await client.post("/products", json=body, headers=auth(logto, WRITE))
    assert response.status_code == 422
    assert response.json()["detail"]


async def test_non_json_and_nan_bodies_get_422(client: httpx.AsyncClient, logto: FakeLogto) -> None:
    headers = {**auth(logto, WRITE), "Content-Type": "application/json"}
    for raw in [b"{", b'{"name": "Tea", "price": NaN}', b'{"name": "Tea", "price": 1e999}']:
        response = await client.post("/products", content=raw, headers=headers)
        assert response.status_code == 422, raw


@pytest.mark.parametrize("path", ["/products/0", "/products/abc", f"/products/{2**64}"])
async def test_bad_ids_get_422(client: httpx.AsyncClient, logto: FakeLogto, path: str) -> None:
    assert (await client.get(path, headers=auth(logto, READ))).status_code == 422


async def test_patch_with_null_field_gets_422(client: httpx.AsyncClient, logto: FakeLogto) -> None:
    pid = (
        await client.post("/products", json={"name": "A", "price": 1}, headers=auth(logto, WRITE))
    ).json()["id"]
    response = await client.patch(
        f"/products/{pid}", json={"name": None}, headers=auth(logto, WRITE)
    )
    assert response.status_code == 422


def test_concurrent_writes_lose_nothing(tmp_path: Path) -> None:
    store = ProductStore(tmp_path / "shop.sqlite3")
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(50):
                store.create(name=f"p{worker}-{i}", price=i, description="", app_id=f"app{worker}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count() == 400
    assert len({p.name for p in store.list(limit=1000)}) == 400


def test_products_survive_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "shop.sqlite3"
    created = ProductStore(path).create(name="Tea", price=1, description="", app_id="a")
    assert ProductStore(path).get(created.id) == created


def test_settings_read_only_the_documented_variables() -> None:
    settings = Settings.from_env(
        {
            "LOGTO_ENDPOINT": "https://t.logto.app",
            "LOGTO_ISSUER": "https://auth.example.com/oidc",
            "UNRELATED": "x",
        }
    )
    assert settings.endpoint == "https://t.logto.app"
    assert settings.audience == "https://shopping.api"
    assert settings.issuer == "https://auth.example.com/oidc"
    assert Settings.from_env({}).endpoint is None


def test_mcp_resource_comes_from_env_or_defaults_to_the_port() -> None:
    assert Settings.from_env({"MCP_RESOURCE": "https://shop.example/mcp"}).mcp_resource == (
        "https://shop.example/mcp"
    )
    unset = Settings.from_env({})
    assert unset.mcp_resource is None
    assert unset.with_mcp_default(8123).mcp_resource == "http://127.0.0.1:8123/mcp"
    given = Settings.from_env({"MCP_RESOURCE": "https://shop.example/mcp"})
    assert given.with_mcp_default(8123).mcp_resource == "https://shop.example/mcp"


@pytest.mark.parametrize(
    ("value", "stateless"), [(None, True), ("1", True), ("0", False), ("False", False)]
)
def test_mcp_stateless_comes_from_env(value: str | None, stateless: bool) -> None:
    env = {} if value is None else {"MCP_STATELESS": value}
    assert Settings.from_env(env).mcp_stateless is stateless


async def test_docs_come_from_add_swagger_login_with_local_assets(
    client: httpx.AsyncClient,
) -> None:
    """The demo makes the one call a user's app makes: /docs pre-selects the routes' scopes."""
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "<title>Shopping API (logto-guard demo) - Swagger UI</title>" in page.text
    assert '"scopes": "read:products write:products"' in page.text
    assert "/docs/static/swagger-ui-bundle.js" in page.text and "cdn.jsdelivr" not in page.text
    bundle = await client.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    scheme = (await client.get("/openapi.json")).json()["components"]["securitySchemes"]
    (flows,) = [s["flows"] for s in scheme.values()]
    assert flows["clientCredentials"]["tokenUrl"] == "/docs/oauth2/token"


async def test_ready_reports_the_key_set_once_keys_are_fetched(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    before = await client.get("/ready")
    assert (before.status_code, before.json()) == (
        503,
        {"status": "not ready", "reason": "signing keys not fetched yet"},
    )
    assert (await client.get("/products", headers=auth(logto, READ))).status_code == 200
    ready = await client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert (body["status"], body["keys"]) == ("ready", 1)
    assert 0 <= body["key_set_age"] < 60
    assert "retry-after" not in ready.headers


async def test_ready_is_503_with_retry_after_while_the_jwks_is_down(
    client: httpx.AsyncClient, logto: FakeLogto
) -> None:
    logto.jwks_fault = lambda request: httpx.Response(500)
    refused = await client.get("/products", headers=auth(logto, READ))
    assert refused.status_code == 503
    response = await client.get("/ready")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["status"] == "not ready"
    assert "500" in response.json()["reason"]
    health = await client.get("/health")  # liveness is not readiness
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


async def test_probes_are_open_and_tagged_health_in_openapi(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/health", "/ready"):
        assert paths[path]["get"]["tags"] == ["health"]
        assert "security" not in paths[path]["get"]
    assert "503" in paths["/ready"]["get"]["responses"]
