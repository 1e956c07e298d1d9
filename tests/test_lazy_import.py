"""``import logto_guard`` loads no web framework: FastAPI only for LogtoGuard (issue 17 §3)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKER = """
import sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"fastapi", "starlette"}:
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Blocked())
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_root_import_loads_neither_fastapi_nor_starlette() -> None:
    result = run(
        """
        import sys
        import logto_guard
        from logto_guard import Authenticator, AuthInfo, GuardConfig, Policy
        import logto_guard.asgi
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"fastapi", "starlette"})
        print(loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_core_works_with_fastapi_and_starlette_blocked() -> None:
    result = run(
        BLOCKER
        + """
import logto_guard
from logto_guard.asgi import LogtoAuthMiddleware
LogtoAuthMiddleware(None, endpoint="https://t.logto.app", audience="https://a.api")
try:
    logto_guard.LogtoGuard
except ImportError as exc:
    print("LogtoGuard:", exc)
"""
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "LogtoGuard: blocked: fastapi"


def test_logto_guard_is_still_importable_from_the_root() -> None:
    import logto_guard
    from logto_guard import LogtoGuard
    from logto_guard.fastapi import LogtoGuard as Direct

    assert LogtoGuard is Direct is logto_guard.LogtoGuard
    assert "LogtoGuard" in dir(logto_guard)


def test_every_core_module_imports_no_front_end_and_no_extra() -> None:
    """The folder is the room: ``_core`` loads no web framework, no MCP SDK, no server.

    (OpenTelemetry's API is used by ``_core.metrics`` when it happens to be installed.)
    """
    result = run(
        """
        import pkgutil, importlib, sys
        import logto_guard._core as core
        names = [m.name for m in pkgutil.iter_modules(core.__path__)]
        for name in names:
            importlib.import_module(f"logto_guard._core.{name}")
        foreign = {"fastapi", "starlette", "mcp", "fastmcp", "uvicorn", "httpx2"}
        ours = {"logto_guard._fastapi", "logto_guard._mcp", "logto_guard.fastapi",
                "logto_guard.mcp", "logto_guard.fastmcp", "logto_guard.asgi"}
        loaded = sorted(
            m for m in sys.modules
            if m.split(".")[0] in foreign or any(m == o or m.startswith(o + ".") for o in ours)
        )
        print(len(names), loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    count, loaded = result.stdout.strip().split(" ", 1)
    assert int(count) >= 15
    assert loaded == "[]"
