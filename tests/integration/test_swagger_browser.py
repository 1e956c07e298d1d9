"""Swagger UI in a real headless Chromium: Authorize with App ID and secret, then call.

Needs Debian's chromium (``.ci/run`` installs it); skipped with the reason where absent.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo_api.__main__ import WRITER, register_apps
from demo_api.app import create_app
from demo_api.settings import Settings
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


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")
def test_swagger_authorize_gets_a_token_and_calls_a_guarded_route(
    demo: tuple[str, str, str],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    api_url, app_id, app_secret = demo
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{api_url}/docs")
        page.locator("button.authorize").first.click()
        dialog = page.locator(".auth-container").filter(has_text="clientCredentials")
        dialog.locator("input[data-name=clientId]").fill(app_id)
        dialog.locator("input[data-name=clientSecret]").fill(app_secret)
        for scope in ("read:products", "write:products"):
            expect(dialog.locator(f"input[data-value='{scope}']")).to_be_checked()
        dialog.locator("button.modal-btn.authorize").click()
        expect(dialog.get_by_text("Authorized", exact=True)).to_be_visible()  # token issued
        expect(page.locator(".modal-ux button", has_text="Logout")).to_be_visible()
        page.locator(".modal-ux button", has_text="Close").click()
        operation = page.locator("#operations-products-list_products_products_get")
        operation.locator(".opblock-summary").click()
        operation.locator("button.try-out__btn").click()
        operation.locator("button.execute").click()
        status = operation.locator(".live-responses-table .response .response-col_status").first
        expect(status).to_have_text("200")
        browser.close()
