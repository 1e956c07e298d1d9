"""``python -m demo_api`` as a user runs it: banner, pasted curl lines, the console log,
the start-up check, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.responses import HTMLResponse

from logto_guard.dev_issuer import IssuerState, open_issuer
from logto_guard.dev_issuer import create_app as create_issuer_app

from .servers import bind_free_port, serve, wait_until

pytestmark = pytest.mark.integration


ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # logto-guard is installed next to this Python


@dataclass
class Demo:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)  # stdout: the banner
    errors: list[str] = field(default_factory=list)  # stderr: the console log

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def read_errors(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line.rstrip("\n"))

    def listening(self, server: str, timeout: float = 60) -> int:
        """The port of ``server`` (``dev issuer``, ``shopping API``), from its log line."""
        pattern = re.compile(rf"{server} listening on http://127\.0\.0\.1:(\d+)")
        found: list[int] = []

        def seen() -> bool:
            found.extend(int(m[1]) for line in self.errors if (m := pattern.search(line)))
            return bool(found)

        wait_until(seen, timeout=timeout)
        return found[0]

    def block(self, heading: str) -> str:
        """The shell lines printed under ``heading`` (up to the next blank line)."""
        start = next(i for i, line in enumerate(self.lines) if line.startswith(heading))
        block: list[str] = []
        for line in self.lines[start + 1 :]:
            if not line.strip():
                break
            block.append(line)
        return "\n".join(block)


@contextmanager
def run_demo(cwd: Path, **env: str) -> Iterator[Demo]:
    """``python -m demo_api --port 0 --issuer-port 0`` in a subprocess (the ports it binds
    are read from its log: :meth:`Demo.listening`); killed and reaped on exit."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("LOGTO_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "demo_api", "--port", "0", "--issuer-port", "0"],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    demo = Demo(process)
    readers = [threading.Thread(target=f, daemon=True) for f in (demo.read, demo.read_errors)]
    for reader in readers:
        reader.start()
    try:
        yield demo
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for reader in readers:
            reader.join(timeout=10)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Demo, int, int]]:
    with run_demo(tmp_path) as process:
        yield process, process.listening("shopping API"), process.listening("dev issuer")


def test_demo_prints_curl_lines_that_work_and_stops_on_ctrl_c(
    demo: tuple[Demo, int, int], tmp_path: Path
) -> None:
    process, port = demo[0], demo[1]
    wait_until(lambda: "Press Ctrl-C to stop." in process.lines, timeout=60)
    banner = "\n".join(process.lines)
    for app in ("shopping-reader", "shopping-writer", "shopping-admin"):
        assert f"  {app}: App ID " in banner
    token_request = process.block("# 1.")
    assert (
        "Authorization: Basic " in token_request
        and "grant_type=client_credentials" in token_request
    )
    issued = subprocess.run(
        ["bash", "-c", token_request], capture_output=True, text=True, check=True
    )
    body = json.loads(issued.stdout)
    assert body["token_type"] == "Bearer" and body["scope"] == "read:products write:products"
    calls = subprocess.run(
        ["bash", "-c", process.block("# 2.")], capture_output=True, text=True, check=True
    )
    created, listed = calls.stdout.replace("}[", "}\n[").splitlines()
    assert json.loads(created)["name"] == "Green tea"
    assert [p["name"] for p in json.loads(listed)] == ["Green tea"]
    mcp_lines = process.block("# 3.")
    assert f"resource=http://127.0.0.1:{port}/mcp" in mcp_lines
    mcp_token = subprocess.run(
        ["bash", "-c", mcp_lines + '\necho "$MCP_TOKEN"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tool_call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    tool_call["params"] = {"name": "list_products", "arguments": {}}
    answered = httpx.post(
        f"http://127.0.0.1:{port}/mcp",
        json=tool_call,
        headers={
            "Authorization": f"Bearer {mcp_token}",
            "Accept": "application/json, text/event-stream",
        },
    )
    assert answered.status_code == 200, answered.text
    assert "Green tea" in answered.text
    assert httpx.get(f"http://127.0.0.1:{port}/health").json() == {"status": "ok"}
    assert (tmp_path / "demo.sqlite3").exists() and (tmp_path / ".logto-dev").is_dir()
    process.process.send_signal(signal.SIGINT)
    assert process.process.wait(timeout=20) == 0


def test_demo_with_logto_endpoint_set_runs_only_the_api(tmp_path: Path) -> None:
    with run_demo(tmp_path, LOGTO_ENDPOINT="https://tenant.logto.app") as demo:
        wait_until(lambda: any("trusting https://tenant.logto.app" in s for s in demo.lines))
        response = httpx.get(f"http://127.0.0.1:{demo.listening('shopping API')}/products")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="https://shopping.api"'
        # The banner shows once the API listens, after the issuer's line when there is one.
        assert not any(line.startswith("[issuer] ") for line in demo.errors), demo.errors
        assert not (tmp_path / ".logto-dev").exists()
        demo.process.send_signal(signal.SIGINT)
        assert demo.process.wait(timeout=20) == 0


def test_banner_management_api_lines_list_the_apps(demo: tuple[Demo, int, int]) -> None:
    """Logto's Management API example (logto-guard token ... --scope all) runs against
    the demo's issuer, as the shopping-admin app."""
    process, issuer_port = demo[0], demo[2]
    wait_until(lambda: "Press Ctrl-C to stop." in process.lines, timeout=60)
    lines = process.block("# 5.")
    assert f"--endpoint http://127.0.0.1:{issuer_port} " in lines
    assert "--resource https://default.logto.app/api --scope all" in lines
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    listed = subprocess.run(
        ["bash", "-c", lines], capture_output=True, text=True, check=True, env=env
    )
    names = {app["name"] for app in json.loads(listed.stdout)}
    assert names == {"shopping-reader", "shopping-writer", "shopping-admin", "shopping-mcp"}


def test_refusals_are_logged_on_stderr_with_reason_and_never_the_token(
    demo: tuple[Demo, int, int], tmp_path: Path
) -> None:
    process, port, issuer_port = demo
    wait_until(lambda: "Press Ctrl-C to stop." in process.lines, timeout=60)
    state = IssuerState.open(tmp_path / ".logto-dev", issuer=f"http://127.0.0.1:{issuer_port}/oidc")
    writer = state.find_app("shopping-writer")
    assert writer is not None
    expired = state.mint(
        writer, audience="https://shopping.api", scopes=["read:products"], now=1_000_000, ttl=60
    )
    response = httpx.get(
        f"http://127.0.0.1:{port}/products", headers={"Authorization": f"Bearer {expired}"}
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_token")
    line = "[api] logto_guard INFO request refused: reason=token_expired (token expired)"
    wait_until(lambda: line in process.errors)
    log = "\n".join(process.errors)
    for part in expired.split("."):
        assert part not in log
    started = [
        f"[issuer] demo_api INFO dev issuer listening on http://127.0.0.1:{issuer_port}",
        f"[api] demo_api INFO shopping API listening on http://127.0.0.1:{port}",
    ]
    assert all(line in process.errors for line in started)
    assert all(s.startswith(("[issuer] ", "[api] ")) for s in process.errors), process.errors


async def not_logto(scope: Any, receive: Any, send: Any) -> None:
    """A web site that is not Logto: every path is an HTML 404 page."""
    if scope["type"] == "http":
        await HTMLResponse("<h1>Not Found</h1>", status_code=404)(scope, receive, send)


def test_a_jwks_url_answering_html_404_stops_the_start_with_one_clear_line(
    tmp_path: Path,
) -> None:
    """LOGTO_ENDPOINT naming some other web site: its /oidc/jwks is an HTML 404, which can
    only be a configuration mistake. Exit status 1, the reason on stderr, no traceback."""
    with (
        serve(not_logto) as endpoint,
        run_demo(tmp_path, LOGTO_ENDPOINT=endpoint) as demo,
    ):
        assert demo.process.wait(timeout=60) == 1
    assert demo.errors[-1].startswith(f"error: the JWKS at {endpoint}/oidc/jwks is not a Logto")
    assert "check endpoint=" in demo.errors[-1]
    assert "Traceback" not in "\n".join(demo.errors)
    assert not any("Press Ctrl-C" in line for line in demo.lines)
    assert not any("listening on" in line for line in demo.errors)


def test_an_endpoint_ending_in_oidc_is_refused_in_one_line(tmp_path: Path) -> None:
    """Logto's Console shows the issuer (with /oidc); pasted as LOGTO_ENDPOINT, it is
    refused before anything is served."""
    endpoint = "http://127.0.0.1:3001/oidc"  # never contacted
    with run_demo(tmp_path, LOGTO_ENDPOINT=endpoint) as demo:
        assert demo.process.wait(timeout=60) == 1
    assert len(demo.errors) == 1 and demo.errors[0].startswith("error: ")
    assert "/oidc" in demo.errors[0]


def test_an_unreachable_issuer_only_warns_and_ready_turns_200_when_it_comes_up(
    tmp_path: Path,
) -> None:
    issuer_sock = bind_free_port()
    endpoint = f"http://127.0.0.1:{issuer_sock.getsockname()[1]}"  # nothing listens yet
    with run_demo(tmp_path, LOGTO_ENDPOINT=endpoint) as demo:
        wait_until(lambda: any("trusting" in line for line in demo.lines), timeout=60)
        port = demo.listening("shopping API")
        assert any(
            "logto_guard WARNING starting without signing keys" in line for line in demo.errors
        )
        not_ready = httpx.get(f"http://127.0.0.1:{port}/ready")
        assert not_ready.status_code == 503 and not_ready.headers["retry-after"] == "5"
        assert not_ready.json()["status"] == "not ready"
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
        state = open_issuer(tmp_path / "issuer", issuer=f"{endpoint}/oidc")
        with serve(create_issuer_app(state), issuer_sock):

            def ready() -> bool:
                return httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200

            wait_until(ready, timeout=30, interval=0.2)  # the background retry found keys
        body = httpx.get(f"http://127.0.0.1:{port}/ready").json()
        assert (body["status"], body["keys"]) == ("ready", 1)
        demo.process.send_signal(signal.SIGINT)
        assert demo.process.wait(timeout=20) == 0


def test_without_uvicorn_the_demo_names_the_extra_and_writes_nothing(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None; import runpy; "
        "sys.argv = ['demo_api']; runpy.run_module('demo_api', run_name='__main__')"
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
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "python -m demo_api needs uvicorn to serve: pip install 'logto-guard[server]'"
    ]
    assert list(tmp_path.iterdir()) == []  # no .logto-dev, no demo.sqlite3


def test_make_demo_passes_args_to_the_demo() -> None:
    """``make demo ARGS="--port 8001 --issuer-port 3002"`` (a dry run: nothing starts)."""
    done = subprocess.run(
        ["make", "-n", "demo", "ARGS=--port 8001 --issuer-port 3002"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert ".venv/bin/python -m demo_api --port 8001 --issuer-port 3002" in done.stdout.splitlines()
