"""Every example in the README runs as written: Python blocks as files, shell blocks and
console sessions against the demo (``python -m demo_api``) started here, as a user would.

Each fenced block is announced by an HTML comment, ``<!-- readme: MODE -->``:

* ``python app`` (or ``python fastmcp``, needing FastMCP): a complete module; run as a
  file, it must exit 0 and print nothing (it only builds an app);
* ``python NAME.py`` / ``json NAME.json``: a file the page tells the reader to save; the
  Python ones are checked like ``python app``;
* ``sh fresh``: run with ``bash -e`` in an empty directory holding the page's saved files,
  outside the demo (its ports 3001 and 8000 become free ones);
* ``python demo``: a complete script run against the demo;
* ``python conftest`` / ``python test_shop``: a user's test suite, run by
  ``tests/test_readme.py`` with pytester;
* ``sh demo``: run with ``bash -e`` against the demo;
* ``console demo``: the ``$`` commands run in one shell; the check lines of the expected
  output (``PASS``/``FAIL``/``INFO``/``SKIP`` with their names, and ``verdict:``) must be
  printed in that order (times, kids and fingerprints vary);
* ``json ...``: must parse; ``text``: prose in a box;
* ``skip: <why>``: cannot run here (a real tenant, a server in the foreground).

The demo runs on free ports: ``127.0.0.1:8000`` and ``127.0.0.1:3001`` in a block become
the demo's, and ``SHOPPING_API_URL`` / ``LOGTO_ENDPOINT`` point the demo client at them.
The App IDs and secrets the banner prints are in ``APP_ID``/``APP_SECRET``
(``shopping-writer``), ``READER_ID`` (with ``LOGTO_APP_SECRET``) and
``ADMIN_ID``/``ADMIN_SECRET``, as the README says.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from logto_guard.dev_issuer import IssuerState

from .servers import reserve_port, reserved_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: Every page whose code blocks are executed: the front door and the docs site.
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
_BLOCK = re.compile(
    r"<!-- readme: (?P<mode>[^>]*?) -->\n[ \t]*```(?P<lang>\w*)\n(?P<body>.*?)```", re.S
)
_FENCE = re.compile(r"^[ \t]*```(\w+)", re.M)
_CHECK = re.compile(r"^(PASS|FAIL|INFO|SKIP) +(\S+)")


@dataclass(frozen=True)
class Block:
    mode: str
    lang: str
    body: str
    line: int
    page: str = "README.md"

    @property
    def id(self) -> str:
        page = self.page.removesuffix(".md").replace("/", "-")
        return f"{page}-line{self.line}-{self.mode.split(':')[0].replace(' ', '-')}"

    @property
    def saved_as(self) -> str | None:
        """The file name a ``python NAME.py`` or ``json NAME.json`` block is saved as."""
        name = self.mode.split(" ", 1)[1] if " " in self.mode else ""
        return name if re.fullmatch(r"[\w-]+\.(py|json)", name) else None


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        body = match["body"]
        indent = len(body) - len(body.lstrip(" "))
        if indent:  # a block inside a list item
            body = "\n".join(line[indent:] for line in body.splitlines()) + "\n"
        line = text.count("\n", 0, match.start("lang")) + 1
        name = str(page.relative_to(ROOT))
        found.append(Block(match["mode"].strip(), match["lang"], body, line, name))
    return found


BLOCKS = [block for page in PAGES for block in blocks(page)]


def test_every_block_says_how_it_is_checked() -> None:
    fences = sum(len(_FENCE.findall(page.read_text(encoding="utf-8"))) for page in PAGES)
    assert fences == len(BLOCKS)
    modes = {block.mode.split(":")[0] for block in BLOCKS if block.saved_as is None}
    assert modes <= {
        "python app",
        "python fastmcp",
        "python demo",
        "python conftest",
        "python test_shop",
        "sh demo",
        "sh fresh",
        "console demo",
        "json",
        "json issuer-config",
        "text",
        "skip",
    }, modes
    skipped = [block.mode for block in BLOCKS if block.mode.startswith("skip")]
    assert len(skipped) <= 14, skipped  # each names why it cannot run here


def test_json_blocks_parse() -> None:
    for block in BLOCKS:
        if block.lang == "json":
            assert isinstance(json.loads(block.body), dict), block.line


def run_file(
    block: Block, directory: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    path = directory / (block.saved_as or f"readme_{block.line}.py")
    path.write_text(block.body, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def base_env() -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "HOME": os.environ.get("HOME", "/tmp"),
    }


@pytest.mark.parametrize(
    "block",
    [
        b
        for b in BLOCKS
        if b.mode in {"python app", "python fastmcp"} or (b.lang == "python" and b.saved_as)
    ],
    ids=lambda b: b.id,
)
def test_python_app_blocks_run_as_files(block: Block, tmp_path: Path) -> None:
    if block.mode == "python fastmcp":
        pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")
    done = run_file(block, tmp_path, base_env())
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.mode == "sh fresh"], ids=lambda b: b.id)
def test_fresh_blocks_run_in_an_empty_directory(block: Block, tmp_path: Path) -> None:
    """Getting started: the page's saved files, its servers on free ports, its commands."""
    assert shutil.which("curl") is not None, "curl is needed"
    issuer, api = reservations = [reserve_port(), reserve_port()]  # held until the end
    ports = {"3001": str(reserved_port(issuer)), "8000": str(reserved_port(api))}

    def adapt(text: str) -> str:
        for old, new in ports.items():
            text = text.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
            text = text.replace(f"--port {old}", f"--port {new}")
        return text

    for saved in blocks(ROOT / block.page):
        if saved.saved_as:
            (tmp_path / saved.saved_as).write_text(adapt(saved.body), encoding="utf-8")
    try:
        done = subprocess.run(
            ["bash", "-e", "-c", adapt(block.body)],
            cwd=tmp_path,
            env=base_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        for reservation in reservations:
            reservation.close()
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    expected = [line[2:] for line in block.body.splitlines() if line.startswith("# {")]
    assert expected and all(line in done.stdout for line in expected), done.stdout


# --------------------------------------------------------------------------- the demo


@dataclass(frozen=True)
class Demo:
    workdir: Path
    api_port: int
    issuer_port: int
    env: dict[str, str]

    def adapt(self, text: str) -> str:
        return text.replace("127.0.0.1:8000", f"127.0.0.1:{self.api_port}").replace(
            "127.0.0.1:3001", f"127.0.0.1:{self.issuer_port}"
        )


def _listening(log: str) -> tuple[int, int] | None:
    """The demo's (API, issuer) ports from its log lines, once both are there."""
    found = {
        m[1]: int(m[2])
        for m in re.finditer(r"(shopping API|dev issuer) listening on http://[^:]+:(\d+)", log)
    }
    if len(found) < 2:
        return None
    return found["shopping API"], found["dev issuer"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``python -m demo_api`` in a fresh directory, as a user starts it."""
    workdir = tmp_path_factory.mktemp("readme-demo")
    log = tmp_path_factory.mktemp("readme-demo-log") / "demo.log"
    command = [sys.executable, "-m", "demo_api", "--port", "0", "--issuer-port", "0"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=workdir, env=base_env(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not (ports := _listening(log.read_text())):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.05)
        api_port, issuer_port = ports
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{api_port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the demo did not get ready"
            time.sleep(0.05)
        issuer = f"http://127.0.0.1:{issuer_port}/oidc"
        state = IssuerState.open(workdir / ".logto-dev", issuer=issuer)
        apps = {app.name: app for app in state.apps}
        env = {
            **base_env(),
            # The client's defaults point at 8000 and 3001; these name the free ports.
            "SHOPPING_API_URL": f"http://127.0.0.1:{api_port}",
            "LOGTO_ENDPOINT": f"http://127.0.0.1:{issuer_port}",
            "APP_ID": apps["shopping-writer"].app_id,
            "APP_SECRET": apps["shopping-writer"].app_secret,
            "READER_ID": apps["shopping-reader"].app_id,
            "LOGTO_APP_SECRET": apps["shopping-reader"].app_secret,
            "ADMIN_ID": apps["shopping-admin"].app_id,
            "ADMIN_SECRET": apps["shopping-admin"].app_secret,
        }
        yield Demo(workdir, api_port, issuer_port, env)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.mode == "sh demo"], ids=lambda b: b.id)
def test_shell_blocks_run_against_the_demo(block: Block, demo: Demo) -> None:
    assert shutil.which("curl") is not None or "curl" not in block.body, "curl is needed"
    done = subprocess.run(
        ["bash", "-e", "-c", demo.adapt(block.body)],
        cwd=demo.workdir,
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.mode == "python demo"], ids=lambda b: b.id
)
def test_python_blocks_run_against_the_demo(block: Block, demo: Demo, tmp_path: Path) -> None:
    adapted = Block(block.mode, block.lang, demo.adapt(block.body), block.line, block.page)
    done = run_file(adapted, tmp_path, demo.env)
    assert done.returncode == 0, done.stderr[-2000:]


def session(body: str) -> tuple[str, list[str]]:
    """The commands of a console block as one script, and its expected check lines."""
    commands: list[str] = []
    expected: list[str] = []
    continuing = False
    for line in body.splitlines():
        if line.startswith("$ "):
            commands.append(line[2:])
            continuing = line.endswith("\\")
        elif continuing:
            commands[-1] += "\n" + line
            continuing = line.endswith("\\")
        else:
            expected.append(line)
    return "\n".join(commands), checks(expected)


def checks(lines: list[str]) -> list[str]:
    kept = []
    for line in lines:
        match = _CHECK.match(line)
        if match:
            kept.append(f"{match[1]} {match[2]}")
        elif line.startswith(("verdict:", "jwks ")):
            kept.append(line)
    return kept


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.mode == "console demo"], ids=lambda b: b.id
)
def test_console_sessions_print_what_the_readme_shows(block: Block, demo: Demo) -> None:
    script, expected = session(demo.adapt(block.body))
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=demo.workdir,
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checks(done.stdout.splitlines()) == expected, (done.stdout, done.stderr)
    assert expected and expected[-1].startswith("verdict:")
