"""What a user installs: the wheel's contents, the extras, one line when uvicorn is missing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

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


def _source_copy(tmp_path: Path) -> Path:
    """The tracked sources in a scratch folder: building there leaves no build/ behind."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    copy = tmp_path / "src"
    for name in files:
        source = ROOT / name
        if source.is_file():
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return copy


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and wheel, built offline (no build isolation: the venv's setuptools)."""
    tmp = tmp_path_factory.mktemp("dist")
    source, out = _source_copy(tmp), tmp / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_the_wheel_holds_the_library_only(dist: Path) -> None:
    """No top-level demo_api (or tests, bench) lands in anyone's site-packages."""
    (wheel,) = dist.glob("logto_guard-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"logto_guard"}
    assert "logto_guard/py.typed" in names and "logto_guard/testing/__init__.py" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def test_the_sdist_carries_license_security_and_changelog(dist: Path) -> None:
    (sdist,) = dist.glob("logto_guard-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "SECURITY.md", "CHANGELOG.md", "README.md"} <= names


def test_twine_check_passes_and_the_metadata_is_complete(dist: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = dist.glob("logto_guard-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(meta).decode()
    for line in (
        "License-Expression: MIT",
        "Author-email: logto-guard maintainers <security@logto-guard.dev>",
        "Classifier: Framework :: FastAPI",
        "Classifier: Typing :: Typed",
        "Classifier: Programming Language :: Python :: 3.13",
        "Project-URL: Changelog, ",
    ):
        assert line in metadata, line
    # Dev tools are a dependency group, never an extra users can see.
    assert "Provides-Extra: dev" not in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if re.search(r"ruff|mypy|pytest|mkdocs", r)]


def test_the_long_description_has_no_relative_links() -> None:
    """PyPI renders README.md out of the repository: relative links would be dead there."""
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)]+)\)", readme)
    relative = [t for t in targets if not t.startswith(("http://", "https://", "#", "mailto:"))]
    assert relative == []


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


def test_version_is_one_value_everywhere() -> None:
    """``logto-guard --version``, ``python -m logto_guard --version``, the package and the
    installed distribution's metadata all say the one version in ``_version.py``."""
    from importlib.metadata import version

    import logto_guard

    for command in (["-m", "logto_guard"], ["-m", "logto_guard._cli"]):
        done = subprocess.run(
            [sys.executable, *command, "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"logto-guard {logto_guard.__version__}"
    assert version("logto-guard") == logto_guard.__version__


def test_python_dash_m_logto_guard_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "logto_guard", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0
    assert done.stdout.startswith("usage: logto-guard")
    assert "inspect" in done.stdout and "token" in done.stdout
