"""The rooms (STYLE.md 13): tooling uses only the library's public names, and no module
imports another module's ``_private`` name across a room's border."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLING = {
    "dev issuer": ROOT / "logto_guard" / "dev_issuer",
    "demo": ROOT / "demo_api",
    "bench": ROOT / "bench",
}


def _library_imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every logto_guard module or name a file imports."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "logto_guard":
                found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("logto_guard")]
    return found


def _own_package(path: Path) -> str | None:
    # The dev issuer may import its own private modules, nothing else's.
    parts = path.relative_to(ROOT).with_suffix("").parts
    return "logto_guard.dev_issuer" if parts[:2] == ("logto_guard", "dev_issuer") else None


@pytest.mark.parametrize("room", sorted(TOOLING))
def test_tooling_imports_only_public_library_names(room: str) -> None:
    files = sorted(TOOLING[room].rglob("*.py"))
    assert files, room
    offenders = []
    for path in files:
        own = _own_package(path)
        for line, name in _library_imports(path):
            if own is not None and (name == own or name.startswith(own + ".")):
                continue
            if any(part.startswith("_") and part != "__version__" for part in name.split(".")):
                offenders.append(f"{path.relative_to(ROOT)}:{line} {name}")
    assert offenders == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    """The rule above bites: a private import is found."""
    sample = tmp_path / "sample.py"
    sample.write_text("from logto_guard._core.urls import is_loopback\nimport logto_guard\n")
    assert _library_imports(sample) == [
        (1, "logto_guard._core.urls.is_loopback"),
        (2, "logto_guard"),
    ]
