"""The README's FastAPI example runs exactly as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

README = Path(__file__).resolve().parents[1] / "README.md"
TESTING_PAGE = README.parent / "docs" / "testing.md"


def _example() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    return next(block for block in blocks if "LogtoGuard(" in block)


def test_example_is_at_most_fifteen_lines_of_code() -> None:
    lines = [line for line in _example().splitlines() if line.strip()]
    assert len(lines) <= 15


@pytest.mark.anyio
async def test_example_runs_and_guards_its_route() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(_example(), str(README), "exec"), namespace)  # noqa: S102 - our own README
    app = namespace["app"]
    assert isinstance(app, FastAPI)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get("/products")
        schema = (await client.get("/openapi.json")).json()
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="https://shopping.api"'
    flows = schema["components"]["securitySchemes"]["LogtoGuard"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "https://your-tenant.logto.app/oidc/token"
    assert schema["paths"]["/products"]["get"]["security"] == [{"LogtoGuard": ["read:products"]}]


def _block_after(marker: str) -> str:
    text = TESTING_PAGE.read_text(encoding="utf-8")
    start = text.index(marker)
    match = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert match is not None
    return match.group(1)


def test_testing_example_passes_as_a_users_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(_block_after("`conftest.py` holds one line"))
    pytester.makepyfile(test_shop=_block_after("and `test_shop.py` is:"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
