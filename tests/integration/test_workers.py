"""The demo API under ``uvicorn --workers 2`` over real HTTP: rotation and outage.

Each worker has its own JWKS cache and token cache; nothing is shared. The dev issuer runs
in this process (uvicorn in a thread) so it can be stopped and restarted on the same port,
and counts the JWKS fetches it answers. Every request goes over a new connection, so the
kernel spreads them over both workers; each phase sends bursts until both workers have
answered (the ``X-Demo-Worker`` header of :mod:`demo_api.asgi` names the process).

A "valid request" carries a token signed by a key the issuer publishes, for the demo's
audience, with ``read:products``. The guard spaces JWKS refetches by at least
``jwks_min_cooldown`` (1 s), so a token signed by a key published after a worker's last
fetch *within that second* is refused until the next refetch is allowed (documented in
SECURITY.md); before using a new key, this test waits until the issuer's last JWKS answer
is a cooldown old, which is the regime of real rotations (hours apart).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo_api.asgi import WORKER_HEADER, WORKER_PATH
from logto_guard.dev_issuer import IssuerState, create_app, open_issuer

from .servers import (
    bind_reserved,
    listening_socket,
    reserve_port,
    reserved_port,
    serve,
    wait_until,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AUDIENCE = "https://shopping.api"
WORKERS = 2
MIN_COOLDOWN = 1.0  # the guard's default jwks_min_cooldown
BURST = 16
MAX_BURSTS = 25


class JWKSCounter:
    """ASGI wrapper around the issuer: counts ``GET .../jwks`` and remembers the last one."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.fetches = 0
        self.last_fetch = -1e9

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/jwks"):
            self.fetches += 1
            self.last_fetch = time.monotonic()
        await self.app(scope, receive, send)


@dataclass
class Cluster:
    state: IssuerState
    issuer: JWKSCounter
    reservation: socket.socket  # the issuer's port, held while it is down
    api: str
    stack: ExitStack
    pids: set[str] = field(default_factory=set)

    def start_issuer(self) -> None:
        self.stack.enter_context(serve(self.issuer, bind_reserved(self.reservation)))

    def stop_issuer(self) -> None:
        self.stack.close()
        self.stack = ExitStack()

    @property
    def issuer_port(self) -> int:
        return reserved_port(self.reservation)

    def token(self, app: str) -> str:
        return self.state.mint(app, audience=AUDIENCE, scopes=["read:products"])

    async def until_new_key_may_be_fetched(self) -> None:
        """Wait until every worker's last JWKS fetch is a cooldown old (see the docstring)."""
        deadline = time.monotonic() + 10
        while time.monotonic() - self.issuer.last_fetch < MIN_COOLDOWN:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)

    async def phase(self, tokens: list[str], new: list[str]) -> set[str]:
        """Bursts of ``GET /products`` with ``tokens`` and ``new`` over fresh connections,
        each of which must answer 200, until every worker has served a ``new`` token;
        returns the workers that did."""
        served_new: set[str] = set()
        limits = httpx.Limits(max_keepalive_connections=0)
        sent = [*tokens, *new]
        async with httpx.AsyncClient(base_url=self.api, limits=limits, timeout=10) as client:
            for _ in range(MAX_BURSTS):
                batch = [sent[i % len(sent)] for i in range(BURST)]
                responses = await asyncio.gather(
                    *(
                        client.get("/products", headers={"Authorization": f"Bearer {token}"})
                        for token in batch
                    )
                )
                for token, response in zip(batch, responses, strict=True):
                    assert response.status_code == 200, (response.status_code, response.text)
                    self.pids.add(response.headers[WORKER_HEADER])
                    if token in new:
                        served_new.add(response.headers[WORKER_HEADER])
                if len(served_new) == WORKERS:
                    break
        return served_new


@contextmanager
def api_workers(cwd: Path, issuer_port: int) -> Iterator[str]:
    """``uvicorn demo_api.asgi:app --workers 2`` on a loopback socket it inherits (``--fd``),
    polled ready."""
    sock = listening_socket()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGTO_")}
    env.update(LOGTO_ENDPOINT=f"http://127.0.0.1:{issuer_port}", PYTHONPATH=str(ROOT))
    command = [
        *(sys.executable, "-m", "uvicorn", "demo_api.asgi:app", "--workers", str(WORKERS)),
        *("--fd", str(sock.fileno()), "--log-level", "warning"),
        "--no-access-log",
    ]
    log = cwd / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=out, pass_fds=[sock.fileno()]
        )
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:

        def ready() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(f"{url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout=30, interval=0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        sock.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    reservation = reserve_port()
    issuer_port = reserved_port(reservation)
    config = {
        "resources": {AUDIENCE: {"scopes": ["read:products", "write:products"]}},
        "apps": [
            {"name": "reader", "grants": {AUDIENCE: ["read:products"]}},
            {"name": "writer", "grants": {AUDIENCE: ["read:products", "write:products"]}},
        ],
    }
    state = open_issuer(
        tmp_path / "issuer", issuer=f"http://127.0.0.1:{issuer_port}/oidc", config=config
    )
    issuer = JWKSCounter(create_app(state))
    cluster = Cluster(state, issuer, reservation, "", ExitStack())
    # The issuer first, as in a deploy: each worker's start-up check fetches the keys
    # (an unreachable issuer at start is covered by test_demo_main).
    cluster.start_issuer()
    try:
        with api_workers(tmp_path, issuer_port) as cluster.api:
            yield cluster
    finally:
        cluster.stop_issuer()
        reservation.close()


@pytest.mark.anyio
async def test_two_workers_refuse_no_valid_request_through_rotations_and_an_outage(
    cluster: Cluster,
) -> None:
    apps = [app.app_id for app in cluster.state.apps]

    def tokens() -> list[str]:
        return [cluster.token(app) for app in apps]

    reused = tokens()
    wait_until(lambda: cluster.issuer.fetches == WORKERS)  # one start-up fetch per worker
    assert len(await cluster.phase([], reused)) == WORKERS
    assert cluster.issuer.fetches == WORKERS  # and none for the first tokens

    # Staged rotation: the next key is published first, then promoted and signs.
    cluster.state.stage_next()
    assert len(await cluster.phase(reused, tokens())) == WORKERS
    await cluster.until_new_key_may_be_fetched()
    cluster.state.rotate()
    fresh = tokens()
    assert len(await cluster.phase(reused, fresh)) == WORKERS
    assert cluster.issuer.fetches == 2 * WORKERS  # one per worker for the rotation

    # Abrupt rotation: a new key signs at once; the first key leaves the JWKS, so its
    # tokens are no longer valid and are not sent.
    await cluster.until_new_key_may_be_fetched()
    cluster.state.rotate()
    reused, fresh = fresh, tokens()
    assert len(await cluster.phase(reused, fresh)) == WORKERS
    assert cluster.issuer.fetches == 3 * WORKERS
    reused = fresh

    # Outage: the issuer is down; reused tokens and fresh ones of known keys still pass.
    cluster.stop_issuer()
    async with httpx.AsyncClient() as probe:
        with pytest.raises(httpx.ConnectError):
            await probe.get(f"http://127.0.0.1:{cluster.issuer_port}/oidc/jwks")
    assert len(await cluster.phase(reused, tokens())) == WORKERS
    assert cluster.issuer.fetches == 3 * WORKERS

    # Back on the same port and state directory: a rotation is picked up again.
    cluster.start_issuer()
    await cluster.until_new_key_may_be_fetched()
    cluster.state.rotate()
    assert len(await cluster.phase(reused, tokens())) == WORKERS
    assert cluster.issuer.fetches == 4 * WORKERS
    assert len(cluster.pids) == WORKERS


def test_worker_route_names_the_process_and_its_memory(cluster: Cluster) -> None:
    """The diagnostic route of demo_api.asgi is open and agrees with the header."""
    response = httpx.get(f"{cluster.api}{WORKER_PATH}")
    assert response.status_code == 200
    body = response.json()
    assert str(body["pid"]) == response.headers[WORKER_HEADER]
    assert body["pid"] != os.getpid() and body["rss_kb"] > 0


def test_asgi_module_imports_without_environment_and_app_names_what_is_missing() -> None:
    """Importing needs no environment; building ``app`` without LOGTO_ENDPOINT says why."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGTO_")}
    env["PYTHONPATH"] = str(ROOT)
    script = "import demo_api.asgi as m; print('imported', flush=True); m.app"
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout == "imported\n"
    assert result.returncode == 1 and "demo_api.asgi needs LOGTO_ENDPOINT" in result.stderr
