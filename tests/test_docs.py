"""The docs site builds strictly and its API reference renders every public name."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import PUBLIC_MODULES

ROOT = Path(__file__).resolve().parent.parent
#: Every public module has a reference page, but the pytest plugin (docs/testing.md).
MODULES = [name for name in PUBLIC_MODULES if name != "logto_guard.pytest_plugin"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_is_in_the_api_reference(site: Path, module: str) -> None:
    if module == "logto_guard.fastmcp":
        pytest.importorskip("fastmcp")  # FastMCP needs Python >= 3.11
    public = importlib.import_module(module).__all__
    page = (site / "reference" / module.replace(".", "-") / "index.html").read_text()
    missing = [
        name for name in public if not name.startswith("__") and f'id="{module}.{name}"' not in page
    ]
    assert missing == []


def test_every_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    assert [page for page in pages if page not in config] == []
