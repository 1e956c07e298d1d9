"""What a user installs: the wheel's contents, the extras, one line when uvicorn is missing."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK_UVICORN = "import sys; sys.modules['uvicorn'] = None; import runpy; "


def run_without_uvicorn(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = BLOCK_UVICORN + f"sys.argv = [{module!r}, *{list(args)!r}]; "
    code += f"runpy.run_module({module!r}, run_name='__main__')"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_dev_issuer_without_uvicorn_names_the_extra_and_writes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = run_without_uvicorn("logto_guard.dev_issuer", "--state-dir", str(state), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "python -m logto_guard.dev_issuer needs uvicorn to serve: pip install 'logto-guard[server]'"
    ]
    assert "Traceback" not in done.stderr and not state.exists()


def test_the_wheel_holds_the_library_only(tmp_path: Path) -> None:
    """No top-level demo_api (or tests, bench) lands in anyone's site-packages."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],  # offline: the venv's own setuptools builds it
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("logto_guard-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"logto_guard"}
    assert "logto_guard/py.typed" in names and "logto_guard/testing/__init__.py" in names


def test_the_library_imports_with_only_its_runtime_dependencies(tmp_path: Path) -> None:
    """Dev tools and optional extras are blocked; the public modules still import."""
    # (opentelemetry-api is not blocked: FastAPI itself requires it.)
    blocked = ["uvicorn", "pytest", "hypothesis", "mcp", "fastmcp", "_pytest", "playwright"]
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}:\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import logto_guard, logto_guard.asgi, logto_guard.client, logto_guard.testing\n"
        "import logto_guard.fastapi, logto_guard._cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{blocked!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
