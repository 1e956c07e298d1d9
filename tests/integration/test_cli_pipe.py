"""`logto-guard token --json | head -c 300`: the reader leaves, the command stays quiet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logto_guard.dev_issuer import create_app, open_issuer

from .servers import bind_free_port, serve

pytestmark = pytest.mark.integration
SHOP = "https://shopping.api"


def test_a_reader_that_goes_away_gets_no_traceback(tmp_path: Path) -> None:
    sock = bind_free_port()
    endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state = open_issuer(tmp_path / "issuer", issuer=f"{endpoint}/oidc")
    state.add_resource(SHOP, ["read:products"])
    app = state.ensure_app("client", grants={SHOP: ["read:products"]})
    command = [sys.executable, "-m", "logto_guard._cli", "token", "--endpoint", endpoint]
    command += ["--app-id", app.app_id, "--resource", SHOP, "--json"]
    with serve(create_app(state), sock):
        read_end, write_end = os.pipe()
        os.close(read_end)  # like `| head -c 0`: the reader is gone before the answer
        try:
            done = subprocess.run(
                command,
                stdout=write_end,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
                timeout=60,
                env={**os.environ, "LOGTO_APP_SECRET": app.app_secret},
            )
        finally:
            os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141
