"""Soak: the demo API in several workers under steady traffic, key rotations and an outage.

``python -m bench.soak`` (what ``make soak`` runs) starts, as real processes on free
127.0.0.1 ports, the dev issuer (``python -m logto_guard.dev_issuer``, three M2M apps) and
the demo API (``uvicorn demo_api.asgi:app --workers N``). For ``--seconds`` (75 by
default, at least 60) ``--clients`` asyncio tasks call ``GET /products`` with tokens from
the issuer's real token endpoint: mostly each app's reused token, and a share of fresh
tokens (one token request per call). Meanwhile the issuer

1. at 13 % of the run stages a next key (``/__dev__/stage``), and at 25 % promotes it
   (``/__dev__/rotate``): Logto's staged rotation;
2. at 42 % rotates abruptly (a new key signs at once; the first key leaves the JWKS);
3. at 55 % goes down (the process is stopped) for ``--outage`` seconds (20) and comes back
   on the same port and state directory.

A request is *valid* when its token was issued by the token endpoint for the demo's
audience with ``read:products`` and its signing key is published when it is sent. Clients
drop their reused tokens after each rotation (as an M2M client does when its token is
refused or expires); while the issuer is down, fresh tokens cannot be had and the reused
ones are sent instead (counted). A token of a key published less than the guard's refetch
cooldown (1 s) after a worker's last JWKS fetch may be refused until the next refetch
(documented); such refusals would be counted apart, as ``refetch-window``, not hidden.

Reported: requests, valid requests refused (goal 0), 5xx and transport errors (goal 0),
p50/p99 latency, each worker's RSS after warm-up and at the end (goal: growth within the
token-cache bound, ~3 KB per entry x 4096 entries, plus allocator slack), requests per
worker. The exit status is 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from demo_api.asgi import WORKER_HEADER, WORKER_PATH
from tests.integration.servers import reserve_port, reserved_port

from ._common import median, print_table, process_rss_mb

ROOT = Path(__file__).resolve().parent.parent
AUDIENCE = "https://shopping.api"
APPS = 3
FRESH_SHARE = 0.2  # of calls that first request a fresh token
RECONNECT_EVERY = 50  # calls per connection before a client reconnects (spreads workers)
COOLDOWN = 1.0  # the guard's jwks_min_cooldown
TOKEN_CACHE_BOUND_MB = 4096 * 3.1 / 1024  # bench/memory.py: ~3.1 KB per cached token
RSS_SLACK_MB = 4.0  # allocator and code-path warm-up, measured on a run with no fresh tokens


@dataclass
class Tally:
    """What the clients saw."""

    requests: int = 0
    ok: int = 0
    refused_valid: int = 0
    refetch_window: int = 0
    server_errors: int = 0
    transport_errors: int = 0
    retired_key: int = 0
    fresh_tokens: int = 0
    fresh_unavailable: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    by_worker: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)


@dataclass
class Keys:
    """What the issuer publishes, as the orchestrator last changed it."""

    published: dict[str, float] = field(default_factory=dict)  # kid -> when published
    generation: int = 0


def kid_of(token: str) -> str:
    header = token.split(".", 1)[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


class Issuer:
    """The dev issuer as a process: started, stopped and restarted on one port and state."""

    def __init__(self, workdir: Path) -> None:
        self.reservation = reserve_port()  # held while this object lives: no port race
        self.port = reserved_port(self.reservation)
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_dir = workdir / "issuer-state"
        self.config = workdir / "issuer.json"
        self.log = workdir / "issuer.log"
        self.apps = [(f"soak-app-{i}", f"soak-app-{i}-id", f"soak-secret-{i}") for i in range(APPS)]
        config = {
            "resources": {AUDIENCE: {"scopes": ["read:products", "write:products"]}},
            "apps": [
                {"name": name, "app_id": app_id, "app_secret": secret,
                 "grants": {AUDIENCE: ["read:products"]}}
                for name, app_id, secret in self.apps
            ],
        }  # fmt: skip
        self.config.write_text(json.dumps(config))
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        command = [
            *(sys.executable, "-m", "logto_guard.dev_issuer", "--port", str(self.port)),
            *("--state-dir", str(self.state_dir), "--config", str(self.config)),
        ]
        self.process = await asyncio.to_thread(spawn, command, ROOT, None, self.log)
        await wait_ready(self.process, f"{self.url}/oidc/jwks", self.log)

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            await asyncio.to_thread(stop_process, process)

    async def jwks_kids(self, client: httpx.AsyncClient) -> list[str]:
        response = await client.get(f"{self.url}/oidc/jwks")
        response.raise_for_status()
        return [key["kid"] for key in response.json()["keys"]]


class Api:
    """``uvicorn demo_api.asgi:app --workers N`` trusting the issuer."""

    def __init__(self, workdir: Path, issuer_url: str, workers: int) -> None:
        self.reservation = reserve_port()  # held while this object lives: no port race
        self.port = reserved_port(self.reservation)
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.log = workdir / "api.log"
        self.workers = workers
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LOGTO_")}
        self.env.update(LOGTO_ENDPOINT=issuer_url, PYTHONPATH=str(ROOT))
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        command = [
            *(sys.executable, "-m", "uvicorn", "demo_api.asgi:app"),
            *("--workers", str(self.workers), "--host", "127.0.0.1", "--port", str(self.port)),
            *("--log-level", "warning", "--no-access-log"),
        ]
        self.process = await asyncio.to_thread(spawn, command, self.workdir, self.env, self.log)
        await wait_ready(self.process, f"{self.url}/health", self.log)

    async def worker_pids(self, deadline_seconds: float = 30.0) -> list[int]:
        """Ask ``/__worker__`` over new connections until every worker has answered."""
        pids: set[int] = set()
        deadline = time.monotonic() + deadline_seconds
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=5) as client:
            while len(pids) < self.workers:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {len(pids)} of {self.workers} workers answered")
                answers = await asyncio.gather(
                    *(client.get(f"{self.url}{WORKER_PATH}") for _ in range(4 * self.workers))
                )
                pids.update(answer.json()["pid"] for answer in answers)
        return sorted(pids)

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            await asyncio.to_thread(stop_process, process)


def spawn(
    command: list[str], cwd: Path, env: dict[str, str] | None, log: Path
) -> subprocess.Popen[bytes]:
    """Start ``command`` with its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)


def log_text(log: Path) -> str:
    """The end of a server's log, for an error message."""
    return log.read_text(errors="replace")[-4000:]


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process this module started, and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


async def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail after 30 s or when the process exits."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} process exited; log:\n{log_text(log)}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)  # poll interval
    raise RuntimeError(f"{url} not ready within 30 s; log:\n{log_text(log)}")


class Soak:
    """Clients and the issuer's schedule, sharing one event loop."""

    def __init__(self, issuer: Issuer, api: Api, keys: Keys) -> None:
        self.issuer = issuer
        self.api = api
        self.keys = keys
        self.tally = Tally()
        self.reused: dict[str, tuple[str, int]] = {}  # app id -> (token, key generation)
        self.events: list[str] = []
        self.t0 = time.monotonic()  # reset when the traffic starts

    async def token(self, client: httpx.AsyncClient, app: tuple[str, str, str]) -> str:
        _, app_id, secret = app
        response = await client.post(
            f"{self.issuer.url}/oidc/token",
            data={
                "grant_type": "client_credentials",
                "resource": AUDIENCE,
                "scope": "read:products",
                "client_id": app_id,
                "client_secret": secret,
            },
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    async def pick_token(self, tokens: httpx.AsyncClient, n: int) -> str | None:
        app = self.issuer.apps[n % len(self.issuer.apps)]
        fresh = (n * 7919) % 100 < FRESH_SHARE * 100
        held = self.reused.get(app[1])
        if held is not None and held[1] == self.keys.generation and not fresh:
            return held[0]
        generation = self.keys.generation
        try:
            token = await self.token(tokens, app)
        except httpx.HTTPError:
            if held is None or not fresh:
                return None  # no token to be had: the issuer is down and none is held
            self.tally.fresh_unavailable += 1
            return held[0]
        if fresh:
            self.tally.fresh_tokens += 1
        self.reused[app[1]] = (token, generation)
        return token

    async def client(self, index: int, deadline: float) -> None:
        n = index * 1000
        tokens = httpx.AsyncClient(timeout=10)
        api: httpx.AsyncClient | None = None
        try:
            while time.monotonic() < deadline:
                if api is None or n % RECONNECT_EVERY == 0:
                    if api is not None:
                        await api.aclose()
                    api = httpx.AsyncClient(base_url=self.api.url, timeout=10)
                n += 1
                token = await self.pick_token(tokens, n)
                if token is None:
                    await asyncio.sleep(0.05)  # issuer down and nothing held yet
                    continue
                await self.call(api, token)
        finally:
            await tokens.aclose()
            if api is not None:
                await api.aclose()

    async def call(self, api: httpx.AsyncClient, token: str) -> None:
        kid = kid_of(token)
        published_at = self.keys.published.get(kid)
        tally = self.tally
        tally.requests += 1
        if published_at is None:
            tally.retired_key += 1  # not a valid request: its key has left the JWKS
        started = time.perf_counter()
        try:
            response = await api.get("/products", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            tally.transport_errors += 1
            tally.refusals[f"transport: {type(exc).__name__}"] += 1
            return
        tally.latencies.append(time.perf_counter() - started)
        tally.statuses[response.status_code] += 1
        tally.by_worker[response.headers.get(WORKER_HEADER, "?")] += 1
        if response.status_code == 200:
            tally.ok += 1
        elif response.status_code >= 500:
            tally.server_errors += 1
        elif published_at is not None:
            detail = f"{response.status_code} {response.json().get('detail')}"
            if "signing key not found" in detail and time.time() - published_at < 2 * COOLDOWN:
                tally.refetch_window += 1
            else:
                tally.refused_valid += 1
            tally.refusals[detail] += 1

    async def change_keys(self, client: httpx.AsyncClient, path: str, what: str) -> None:
        response = await client.post(f"{self.issuer.url}{path}", json={})
        response.raise_for_status()
        kids = [key["kid"] for key in response.json()["keys"]]
        now = time.time()
        self.keys.published = {kid: self.keys.published.get(kid, now) for kid in kids}
        if path.endswith("rotate"):
            self.keys.generation += 1
        self.event(what)

    def event(self, what: str) -> None:
        self.events.append(f"{time.monotonic() - self.t0:6.1f} s  {what}")
        print(self.events[-1], flush=True)

    async def schedule(self, seconds: float, outage: float) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            await self.at(0.13 * seconds)
            await self.change_keys(client, "/__dev__/stage", "staged a next key")
            await self.at(0.25 * seconds)
            await self.change_keys(client, "/__dev__/rotate", "promoted the staged key")
            await self.at(0.42 * seconds)
            await self.change_keys(client, "/__dev__/rotate", "rotated abruptly")
            await self.at(0.55 * seconds)
            await self.issuer.stop()
            self.event("issuer stopped")
            await self.at(0.55 * seconds + outage)
            await self.issuer.start()
            self.event("issuer back")

    async def at(self, offset: float) -> None:
        await asyncio.sleep(max(0.0, self.t0 + offset - time.monotonic()))

    async def run(self, seconds: float, clients: int, outage: float) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            now = time.time()
            self.keys.published = {kid: now for kid in await self.issuer.jwks_kids(client)}
        self.t0 = time.monotonic()
        deadline = self.t0 + seconds
        await asyncio.gather(
            self.schedule(seconds, outage), *(self.client(i, deadline) for i in range(clients))
        )


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def soak(args: argparse.Namespace, workdir: Path) -> int:
    issuer = Issuer(workdir)
    await issuer.start()
    api = Api(workdir, issuer.url, args.workers)
    try:
        await api.start()
        pids = await api.worker_pids()
        run = Soak(issuer, api, Keys())
        warmup = asyncio.create_task(run.run(args.seconds, args.clients, args.outage))
        await asyncio.sleep(min(5.0, args.seconds / 10))  # RSS after warm-up traffic
        rss_start = {pid: process_rss_mb(pid) for pid in pids}
        await warmup
        rss_end = {pid: process_rss_mb(pid) for pid in pids}
        pids_after = await api.worker_pids()
    finally:
        await api.stop()
        await issuer.stop()
    return report(args, run, pids, pids_after, rss_start, rss_end)


def report(
    args: argparse.Namespace,
    run: Soak,
    pids: list[int],
    pids_after: list[int],
    rss_start: dict[int, float],
    rss_end: dict[int, float],
) -> int:
    tally = run.tally
    bound = TOKEN_CACHE_BOUND_MB + RSS_SLACK_MB
    print()
    print(
        f"soak: {args.seconds:g} s, {args.workers} uvicorn workers, {args.clients} clients, "
        f"{APPS} apps, {FRESH_SHARE:.0%} fresh tokens, outage {args.outage:g} s"
    )
    p50 = 1000 * median(tally.latencies) if tally.latencies else float("nan")
    p99 = 1000 * percentile(tally.latencies, 0.99) if tally.latencies else float("nan")
    rows = [
        ["requests", f"{tally.requests:,}", ""],
        ["  answered 200", f"{tally.ok:,}", ""],
        ["valid requests refused", f"{tally.refused_valid}", "goal 0"],
        ["refetch-window refusals (documented)", f"{tally.refetch_window}", "reported"],
        ["5xx", f"{tally.server_errors}", "goal 0"],
        ["transport errors", f"{tally.transport_errors}", "goal 0"],
        ["sent with a retired key (not valid)", f"{tally.retired_key}", "expected 0"],
        ["fresh tokens used", f"{tally.fresh_tokens:,}", ""],
        ["fresh token unavailable (issuer down)", f"{tally.fresh_unavailable:,}", ""],
        ["latency p50", f"{p50:.1f} ms", ""],
        ["latency p99", f"{p99:.1f} ms", ""],
    ]
    print_table(["", "value", ""], rows)
    print()
    rss_rows = []
    rss_ok = True
    for pid in pids:
        growth = rss_end[pid] - rss_start[pid]
        rss_ok = rss_ok and growth <= bound
        served = tally.by_worker.get(str(pid), 0)
        rss_rows.append(
            [
                str(pid),
                f"{served:,}",
                f"{rss_start[pid]:.1f}",
                f"{rss_end[pid]:.1f}",
                f"{growth:+.1f}",
            ]
        )
    print_table(["worker pid", "requests", "RSS start MB", "RSS end MB", "growth MB"], rss_rows)
    print(f"(RSS goal: growth <= {bound:.1f} MB per worker: token cache bound + slack)")
    if tally.refusals:
        print("refusals and errors:", dict(tally.refusals))
    print("statuses:", dict(sorted(tally.statuses.items())))
    missed = []
    if tally.requests == 0 or tally.ok == 0:
        missed.append("no request succeeded")
    if tally.refused_valid:
        missed.append("valid requests refused")
    if tally.server_errors or tally.transport_errors:
        missed.append("5xx or transport errors")
    if not rss_ok:
        missed.append("worker RSS grew beyond the token-cache bound")
    if pids_after != pids:
        missed.append(f"worker processes changed: {pids} -> {pids_after}")
    if any(tally.by_worker.get(str(pid), 0) == 0 for pid in pids):
        missed.append("a worker served no request")
    print("goals met" if not missed else "GOALS MISSED: " + "; ".join(missed))
    return 1 if missed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak; returns 0 when every goal is met, else 1."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=75.0, help="traffic time (>= 60)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (>= 2)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (1-64)")
    parser.add_argument("--outage", type=float, default=20.0, help="issuer down time (s)")
    args = parser.parse_args(argv)
    if args.seconds < 60 or args.workers < 2 or not 1 <= args.clients <= 64:
        parser.error("--seconds >= 60, --workers >= 2 and 1 <= --clients <= 64")
    if 0.55 * args.seconds + args.outage >= args.seconds - 5:
        parser.error("the outage must end at least 5 s before the run does")
    with tempfile.TemporaryDirectory(prefix="logto-soak-") as workdir:
        return asyncio.run(soak(args, Path(workdir)))


if __name__ == "__main__":
    raise SystemExit(main())
