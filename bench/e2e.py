"""End-to-end benchmark: requests per second of the demo API under uvicorn, guarded or not.

The demo app (:mod:`bench._e2e_app`: ``demo_api.create_app`` with a guard whose JWKS is
served from memory) runs in a ``python -m uvicorn`` subprocess, one worker, on a free
loopback port; readiness is known by polling ``/health`` against a deadline. Three
variants of ``GET /products`` (10 products in SQLite) are loaded in turn, order rotated
every round:

* ``unguarded``: ``GET /open/products``, the same handler without the security dependency;
* ``reused``: ``GET /products`` with one ES384 token on every request (an M2M client
  reusing its token: the verified-token cache answers);
* ``distinct``: ``GET /products`` with a different pre-minted token on every request
  (more tokens than the cache holds, cycled in order, so every request is a cache miss
  that costs a full ES384 verification);
* ``trivial-noop`` and ``trivial-guarded``: a trivial route behind a no-op security
  scheme and behind the guard, both sent the reused token: the guard against the
  framework's floor for any security dependency.

The load generator is ``wrk`` when it is on ``PATH`` (a Lua script feeds distinct tokens),
otherwise a pure-Python asyncio HTTP/1.1 client with keep-alive connections. Server and
load generator share the machine's CPU cores, so absolute numbers understate a server that
has the machine to itself; the ratios between variants measured in the same run are the
result. ``/bench/stats`` is read around each run to report how many full verifications
each request cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from demo_api.store import ProductStore
from tests.integration.servers import reserve_port, reserved_port

from ._common import (
    AUDIENCE,
    ENDPOINT,
    Issuer,
    Ratio,
    median,
    print_ratios,
    print_table,
    rotated,
)
from ._e2e_app import CONFIG_ENV

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("unguarded", "reused", "distinct", "trivial-noop", "trivial-guarded")
LABELS = {
    "unguarded": "unguarded  GET /open/products",
    "reused": "guarded, one reused token",
    "distinct": "guarded, distinct token/request",
    "trivial-noop": "trivial route, no-op scheme",
    "trivial-guarded": "trivial route, guard (reused)",
}
PATHS = {
    "unguarded": "/open/products",
    "reused": "/products",
    "distinct": "/products",
    "trivial-noop": "/trivial/noop",
    "trivial-guarded": "/trivial/guarded",
}
WITH_REUSED_TOKEN = {"reused", "trivial-noop", "trivial-guarded"}
PRODUCTS = 10

WRK_SCRIPT = """\
-- Distinct bearer tokens: args = tokens file, start offset, thread count.
local threads = {}
local created = 0

function setup(thread)
  thread:set("id", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  stride = tonumber(args[3])
  position = tonumber(args[2]) + id
end

function request()
  local token = tokens[position % #tokens + 1]
  position = position + stride
  return wrk.format(nil, nil, {["Authorization"] = "Bearer " .. token})
end

function done(summary, latency, requests)
  local highest = 0
  for _, thread in ipairs(threads) do
    local reached = thread:get("position")
    if reached > highest then
      highest = reached
    end
  end
  io.write(string.format("BENCH_NEXT_OFFSET %d\\n", highest))
end
"""


@dataclass
class LoadResult:
    """What one load run achieved."""

    requests: int
    seconds: float
    failures: int

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds


def wrk_result(done: subprocess.CompletedProcess[str]) -> LoadResult:
    """Requests, seconds and failures from wrk's summary (failures: non-2xx/3xx answers and
    socket errors)."""
    out = done.stdout
    summary = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", out)
    if done.returncode != 0 or summary is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{out}\n{done.stderr}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[summary.group(3)]
    failures = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out)) + sum(
        int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)
    )
    return LoadResult(int(summary.group(1)), float(summary.group(2)) * scale, failures)


class TokenCursor:
    """Hands out the pre-minted tokens in order, wrapping around, across all runs."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0

    def take(self) -> str:
        """The next token."""
        token = self.tokens[self.position % len(self.tokens)]
        self.position += 1
        return token


# --- the server -------------------------------------------------------------------------


class Server:
    """The benchmark app in a uvicorn subprocess on 127.0.0.1."""

    def __init__(
        self,
        config_path: Path,
        log_path: Path,
        *,
        factory: str = "bench._e2e_app:create",
        config_env: str = CONFIG_ENV,
    ) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.factory = factory
        self.config_env = config_env
        self.reservation = reserve_port()  # held while this object lives: no port race
        self.port = reserved_port(self.reservation)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, deadline_seconds: float = 30.0) -> None:
        """Start uvicorn and wait until ``/health`` answers."""
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            self.factory,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        env = {**os.environ, self.config_env: str(self.config_path)}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        if self._wait_healthy(deadline_seconds):
            return
        self.stop()
        raise RuntimeError(f"uvicorn did not start; log:\n{self.log_path.read_text()}")

    def _wait_healthy(self, deadline_seconds: float) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + deadline_seconds
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                try:
                    if client.get(self.url("/health")).status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)  # poll interval, not a wait for readiness
        return False

    def url(self, path: str) -> str:
        """The server URL of ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def stats(self) -> dict[str, int]:
        """The guard's verification count and cache size."""
        response = httpx.get(self.url("/bench/stats"), timeout=5.0)
        response.raise_for_status()
        result: dict[str, int] = response.json()
        return result

    def settled_stats(self, deadline_seconds: float = 10.0) -> dict[str, int]:
        """:meth:`stats` once requests a load generator left in flight are done."""
        deadline = time.monotonic() + deadline_seconds
        previous = self.stats()
        while time.monotonic() < deadline:
            time.sleep(0.05)  # poll interval
            current = self.stats()
            if current == previous:
                return current
            previous = current
        return previous

    def stop(self) -> None:
        """Terminate the subprocess this object started."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- load generators --------------------------------------------------------------------


async def _python_worker(
    port: int, next_request: Callable[[], bytes], deadline: float, tally: list[int]
) -> None:
    loop = asyncio.get_running_loop()
    writer: asyncio.StreamWriter | None = None
    try:
        while loop.time() < deadline:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(next_request())
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                match = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
                if match is None:
                    raise ConnectionError("response without Content-Length")
                await reader.readexactly(int(match.group(1)))
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                tally[1] += 1
                writer.close()
                writer = None
                continue
            tally[0] += 1
            if not 200 <= status < 300:
                tally[1] += 1
    finally:
        if writer is not None:
            writer.close()


async def python_load(
    port: int, next_request: Callable[[], bytes], connections: int, seconds: float
) -> LoadResult:
    """``connections`` keep-alive loops sending ``next_request()`` for ``seconds``."""
    loop = asyncio.get_running_loop()
    tally = [0, 0]  # responses, failures (non-2xx or broken connections)
    start = loop.time()
    deadline = start + seconds
    await asyncio.gather(
        *(_python_worker(port, next_request, deadline, tally) for _ in range(connections))
    )
    return LoadResult(requests=tally[0], seconds=loop.time() - start, failures=tally[1])


def _request_bytes(port: int, path: str, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n".encode("ascii")


class PythonLoad:
    """asyncio HTTP/1.1 keep-alive client: ``connections`` sequential request loops."""

    name = "python asyncio HTTP/1.1 client (pure Python, 1 process)"

    def __init__(self, connections: int) -> None:
        self.connections = connections

    def describe(self, seconds: float) -> str:
        """The settings, for the report."""
        return f"{self.name}, {self.connections} connections, {seconds:g} s per run"

    def run(
        self, port: int, path: str, token: str | None, cursor: TokenCursor | None, seconds: float
    ) -> LoadResult:
        """Load ``path`` for ``seconds``: no token, one token, or the cursor's tokens."""
        if cursor is not None:
            prefix = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer "

            def next_request() -> bytes:
                return (prefix + cursor.take() + "\r\n\r\n").encode("ascii")

        else:
            fixed = _request_bytes(port, path, token)

            def next_request() -> bytes:
                return fixed

        return asyncio.run(python_load(port, next_request, self.connections, seconds))


class WrkLoad:
    """``wrk`` with a Lua script for distinct tokens."""

    def __init__(self, executable: str, threads: int, connections: int, workdir: Path) -> None:
        self.executable = executable
        self.threads = threads
        self.connections = connections
        self.script = workdir / "distinct.lua"
        self.script.write_text(WRK_SCRIPT)
        self.token_file = workdir / "tokens.txt"
        self.token_file_for: list[str] | None = None
        version = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, check=False
        )
        words = (version.stdout + version.stderr).split()
        self.version = " ".join(words[:2]) if words else "wrk"

    def describe(self, seconds: float) -> str:
        """The settings, for the report."""
        return f"{self.version} (-t{self.threads} -c{self.connections} -d{seconds:g}s)"

    def run(
        self, port: int, path: str, token: str | None, cursor: TokenCursor | None, seconds: float
    ) -> LoadResult:
        """Load ``path`` for ``seconds``: no token, one token, or the cursor's tokens."""
        command = [
            self.executable,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{seconds:g}s",
        ]
        if token is not None:
            command += ["-H", f"Authorization: Bearer {token}"]
        command.append(f"http://127.0.0.1:{port}{path}")
        if cursor is not None:
            if self.token_file_for is not cursor.tokens:
                self.token_file.write_text("\n".join(cursor.tokens) + "\n")
                self.token_file_for = cursor.tokens
            command[1:1] = ["-s", str(self.script)]
            command += ["--", str(self.token_file), str(cursor.position), str(self.threads)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        out = done.stdout
        result = wrk_result(done)
        if cursor is not None:
            moved = re.search(r"BENCH_NEXT_OFFSET (\d+)", out)
            if moved is None:
                raise RuntimeError(f"wrk script did not report its position:\n{out}")
            cursor.position = int(moved.group(1))
        return result


LoadGenerator = PythonLoad | WrkLoad


# --- the benchmark ----------------------------------------------------------------------


@dataclass
class Sample:
    """One measured run of one variant."""

    rate: float
    verified_per_request: float
    failures: int


def run_variant(
    name: str,
    server: Server,
    load: LoadGenerator,
    token: str,
    cursor: TokenCursor,
    seconds: float,
) -> Sample:
    """One load run of variant ``name``, with the server's verification count around it."""
    before = server.stats()
    result = load.run(
        server.port,
        PATHS[name],
        token if name in WITH_REUSED_TOKEN else None,
        cursor if name == "distinct" else None,
        seconds,
    )
    after = server.settled_stats()
    verified = after["verified"] - before["verified"]
    return Sample(result.rate, verified / max(result.requests, 1), result.failures)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the end-to-end benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--rounds", type=int, help="rounds (default 10, quick 1)")
    parser.add_argument("--seconds", type=float, help="seconds per run (default 2, quick 1)")
    parser.add_argument("--tokens", type=int, help="distinct tokens (default 24000, quick 5000)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 10)
    seconds = args.seconds or (1.0 if args.quick else 2.0)
    token_count = args.tokens or (5000 if args.quick else 24000)
    warmup = min(seconds, 1.0)

    print("== e2e: demo API under uvicorn (1 worker, h11), GET /products (10 products) ==")
    with tempfile.TemporaryDirectory(prefix="logto-guard-bench-") as tmp:
        workdir = Path(tmp)
        wrk = shutil.which("wrk")
        if args.loadgen == "wrk" and wrk is None:
            parser.error("--loadgen wrk: wrk is not on PATH")
        load: LoadGenerator
        if wrk is not None and args.loadgen != "python":
            load = WrkLoad(wrk, args.threads, args.connections, workdir)
        else:
            load = PythonLoad(args.connections)
        print(f"   load generator: {load.describe(seconds)}")
        print(
            f"   {rounds} rounds, variants interleaved; server and load generator share"
            f" {os.cpu_count()} CPU cores"
        )

        issuer = Issuer.generate("ES384")
        started = time.perf_counter()
        tokens = issuer.mint(token_count)
        print(f"   minted {len(tokens)} ES384 tokens in {time.perf_counter() - started:.1f} s")
        reused_token = issuer.token()
        cursor = TokenCursor(tokens)

        db_path = workdir / "bench.sqlite3"
        store = ProductStore(db_path)
        for i in range(PRODUCTS):
            store.create(
                name=f"product {i}", price=10.0 + i, description="bench", app_id=issuer.app_id
            )
        config_path = workdir / "config.json"
        config_path.write_text(
            json.dumps(
                {
                    "endpoint": ENDPOINT,
                    "audience": AUDIENCE,
                    "jwks": issuer.jwks(),
                    "db_path": str(db_path),
                }
            )
        )
        server = Server(config_path, workdir / "uvicorn.log")
        server.start()
        try:
            for name in VARIANTS:  # warm-up: JWKS fetch, thread pool, connections
                run_variant(name, server, load, reused_token, cursor, warmup)
            samples: dict[str, list[Sample]] = {name: [] for name in VARIANTS}
            for round_index in range(rounds):
                for name in rotated(VARIANTS, round_index):
                    samples[name].append(
                        run_variant(name, server, load, reused_token, cursor, seconds)
                    )
            final = server.stats()
        finally:
            server.stop()

    medians = {name: median([s.rate for s in samples[name]]) for name in VARIANTS}
    rows = [
        [
            LABELS[name],
            f"{medians[name]:,.0f}",
            f"{max(s.rate for s in samples[name]):,.0f}",
            f"{min(s.rate for s in samples[name]):,.0f}",
            f"{median([s.verified_per_request for s in samples[name]]):.3f}",
            str(sum(s.failures for s in samples[name])),
        ]
        for name in VARIANTS
    ]
    print()
    print_table(
        ["variant", "req/s (median)", "best", "worst", "verifications/req", "failures"], rows
    )
    rates = {name: [s.rate for s in samples[name]] for name in VARIANTS}
    print()
    print_ratios(
        [
            Ratio(
                "guarded reused / unguarded",
                rates["reused"],
                rates["unguarded"],
                ">= 0.90",
                lambda value: value >= 0.9,
            ),
            Ratio("guarded distinct / unguarded", rates["distinct"], rates["unguarded"]),
            Ratio("guarded reused / distinct", rates["reused"], rates["distinct"]),
            Ratio(
                "trivial route: guard / no-op scheme",
                rates["trivial-guarded"],
                rates["trivial-noop"],
            ),
        ]
    )
    print(
        f"  server totals: {final['verified']} full verifications,"
        f" cache holds {final['cache_size']} tokens"
    )
    failures = sum(s.failures for values in samples.values() for s in values)
    if failures:
        print(f"  WARNING: {failures} failed requests (non-2xx or socket errors)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
