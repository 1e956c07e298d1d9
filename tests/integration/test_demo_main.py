"""``python -m demo_api`` as a user runs it: banner, pasted curl lines, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .servers import wait_until

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Demo:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

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
def run_demo(cwd: Path, port: int, issuer_port: int, **env: str) -> Iterator[Demo]:
    """``python -m demo_api`` in a subprocess; killed and reaped on exit."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("LOGTO_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "demo_api", "--port", str(port), "--issuer-port", str(issuer_port)],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    demo = Demo(process)
    reader = threading.Thread(target=demo.read, daemon=True)
    reader.start()
    try:
        yield demo
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        reader.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Demo, int, int]]:
    port, issuer_port = free_port(), free_port()
    with run_demo(tmp_path, port, issuer_port) as process:
        yield process, port, issuer_port


def test_demo_prints_curl_lines_that_work_and_stops_on_ctrl_c(
    demo: tuple[Demo, int, int], tmp_path: Path
) -> None:
    process, port = demo[0], demo[1]
    wait_until(lambda: "Press Ctrl-C to stop." in process.lines, timeout=60)
    banner = "\n".join(process.lines)
    assert "shopping-reader: App ID" in banner and "shopping-writer: App ID" in banner
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
    port, issuer_port = free_port(), free_port()
    with run_demo(tmp_path, port, issuer_port, LOGTO_ENDPOINT="https://tenant.logto.app") as demo:
        wait_until(lambda: any("trusting https://tenant.logto.app" in s for s in demo.lines))
        response = httpx.get(f"http://127.0.0.1:{port}/products")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="https://shopping.api"'
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{issuer_port}/oidc/jwks")
        demo.process.send_signal(signal.SIGINT)
        assert demo.process.wait(timeout=20) == 0
