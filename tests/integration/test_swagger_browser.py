"""Swagger UI in a real headless Chromium: Authorize with App ID and secret, then call.

Two apps: the demo, and a minimal user-style app that makes only the documented calls
(``install`` then ``add_swagger_login``). Needs Debian's chromium (``.ci/run`` installs
it); skipped with the reason where absent.
"""

from __future__ import annotations

import importlib.resources
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Security
from fastapi.staticfiles import StaticFiles

from demo_api.__main__ import WRITER, register_apps
from demo_api.app import create_app
from demo_api.settings import Settings
from logto_guard import AuthInfo, LogtoGuard
from logto_guard.dev_issuer import create_app as create_issuer_app
from logto_guard.dev_issuer import open_issuer

from .servers import bind_free_port, serve

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    sock = bind_free_port()
    endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state = open_issuer(tmp_path / "issuer", issuer=f"{endpoint}/oidc")
    register_apps(state, "https://shopping.api")
    writer = state.find_app(WRITER)
    assert writer is not None
    settings = Settings(endpoint=endpoint, db_path=str(tmp_path / "shop.sqlite3"))
    with serve(create_issuer_app(state), sock), serve(create_app(settings)) as api_url:
        yield api_url, writer.app_id, writer.app_secret


ORDERS_API = "https://orders.example"


def user_app(endpoint: str) -> FastAPI:
    """What a user writes: a guard, ``install``, one guarded route, ``add_swagger_login``
    with Swagger UI's files served by the app (fastapi-offline's copies)."""
    app = FastAPI(title="Orders")
    guard = LogtoGuard(endpoint=endpoint, audience=ORDERS_API)
    guard.install(app)

    @app.get("/orders", tags=["orders"])
    def list_orders(auth: AuthInfo = Security(guard, scopes=["read:orders"])) -> list[str]:
        return [f"order of {auth.client_id}"]

    static = importlib.resources.files("fastapi_offline") / "static"
    app.mount("/assets", StaticFiles(directory=str(static)), name="assets")
    guard.add_swagger_login(
        app, swagger_js_url="/assets/swagger-ui-bundle.js", swagger_css_url="/assets/swagger-ui.css"
    )
    return app


@pytest.fixture
def user_api(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    sock = bind_free_port()
    endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state = open_issuer(tmp_path / "issuer", issuer=f"{endpoint}/oidc")
    state.add_resource(ORDERS_API, ["read:orders", "write:orders"])
    client = state.ensure_app("orders-client", grants={ORDERS_API: ["read:orders"]})
    with serve(create_issuer_app(state), sock), serve(user_app(endpoint)) as api_url:
        yield api_url, client.app_id, client.app_secret


def authorize_and_execute(
    page: Any, *, app_id: str, app_secret: str, scopes: list[str], operation: str
) -> None:
    """Authorize with client credentials (checking the pre-selected scopes), then run
    ``operation`` with "Try it out" and expect a 200."""
    from playwright.sync_api import expect

    page.locator("button.authorize").first.click()
    dialog = page.locator(".auth-container").filter(has_text="clientCredentials")
    dialog.locator("input[data-name=clientId]").fill(app_id)
    dialog.locator("input[data-name=clientSecret]").fill(app_secret)
    for scope in scopes:
        expect(dialog.locator(f"input[data-value='{scope}']")).to_be_checked()
    dialog.locator("button.modal-btn.authorize").click()
    expect(dialog.get_by_text("Authorized", exact=True)).to_be_visible()  # token issued
    expect(page.locator(".modal-ux button", has_text="Logout")).to_be_visible()
    page.locator(".modal-ux button", has_text="Close").click()
    block = page.locator(f"#{operation}")
    block.locator(".opblock-summary").click()
    block.locator("button.try-out__btn").click()
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table .response .response-col_status").first
    expect(status).to_have_text("200")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")
def test_swagger_authorize_gets_a_token_and_calls_a_guarded_route(
    demo: tuple[str, str, str],
) -> None:
    from playwright.sync_api import sync_playwright

    api_url, app_id, app_secret = demo
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{api_url}/docs")
        authorize_and_execute(
            page,
            app_id=app_id,
            app_secret=app_secret,
            scopes=["read:products", "write:products"],
            operation="operations-products-list_products_products_get",
        )
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")
def test_user_app_with_add_swagger_login_preselects_its_scope_and_calls_the_route(
    user_api: tuple[str, str, str],
) -> None:
    """A user's own app: one ``add_swagger_login`` call gives it what the demo has."""
    from playwright.sync_api import expect, sync_playwright

    api_url, app_id, app_secret = user_api
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{api_url}/docs")
        authorize_and_execute(
            page,
            app_id=app_id,
            app_secret=app_secret,
            scopes=["read:orders"],
            operation="operations-orders-list_orders_orders_get",
        )
        block = page.locator("#operations-orders-list_orders_orders_get")
        body = block.locator(".live-responses-table .response .response-col_description").first
        expect(body).to_contain_text(f"order of {app_id}")
        browser.close()
