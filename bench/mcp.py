"""MCP benchmark: ``tools/call`` per second on MCP servers, without auth and with verifiers.

Seven variants (:data:`bench._mcp_app.VARIANTS`) run in ONE uvicorn process (one worker,
h11) so they share everything but the auth under test; each serves the same
``list_products`` tool in stateless JSON mode. The load is ``POST /<variant>/mcp`` with a
``tools/call`` body and one reused ES384 token (an M2M client or agent reusing its token),
``wrk`` when on ``PATH``, else the pure-Python client of :mod:`bench.e2e`. Variants are
interleaved, their order rotated every round; the report gives medians and the ratios to
the same server without auth (the issue's goal: >= 0.95 for logto-guard).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from logto_guard.testing import FakeLogto

from ._common import ENDPOINT, Ratio, median, print_ratios, print_table, rotated
from ._mcp_app import CONFIG_ENV, RESOURCE, VARIANTS
from .e2e import LoadResult, Server, python_load, wrk_result

BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "list_products", "arguments": {}},
    }
)
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
LABELS = {
    "sdk-none": "MCP SDK, no auth",
    "sdk-static": "MCP SDK + static verifier (auth plumbing only)",
    "sdk-logto": "MCP SDK + logto_guard LogtoTokenVerifier",
    "sdk-logto-protect": "MCP SDK + LogtoTokenVerifier + protect()",
    "sdk-pyjwt": "MCP SDK + PyJWKClient/jwt.decode (Logto pkg)",
    "fastmcp-none": "FastMCP, no auth",
    "fastmcp-static": "FastMCP + static verifier (plumbing only)",
    "fastmcp-logto": "FastMCP + logto_guard LogtoProvider",
    "fastmcp-jwtverifier": "FastMCP + its JWTVerifier",
}
WRK_POST = """\
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
"""


class Load:
    """POSTs of the tools/call body with one bearer token: wrk, or the Python client."""

    def __init__(self, wrk: str | None, threads: int, connections: int, workdir: Path) -> None:
        self.wrk = wrk
        self.threads = threads
        self.connections = connections
        self.script = workdir / "post.lua"
        self.script.write_text(WRK_POST.format(body=json.dumps(BODY)))

    def describe(self, seconds: float) -> str:
        """The settings, for the report."""
        if self.wrk:
            return f"wrk -t{self.threads} -c{self.connections} -d{seconds:g}s (POST, Lua body)"
        return f"python asyncio HTTP/1.1 client, {self.connections} connections, {seconds:g} s"

    def run(self, port: int, path: str, token: str, seconds: float) -> LoadResult:
        """Load ``path`` with the tools/call POST for ``seconds``."""
        if self.wrk is None:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
                + f"Authorization: Bearer {token}\r\nContent-Length: {len(BODY)}\r\n\r\n"
            )
            raw = (head + BODY).encode("ascii")
            return asyncio.run(python_load(port, lambda: raw, self.connections, seconds))
        command = [
            self.wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{seconds:g}s",
            "-s",
            str(self.script),
            "-H",
            f"Authorization: Bearer {token}",
            f"http://127.0.0.1:{port}{path}",
        ]
        return wrk_result(subprocess.run(command, capture_output=True, text=True, check=False))


def check_variants(server: Server, token: str) -> None:
    """Each variant answers the tool call with a token, and the guarded ones refuse without."""
    with httpx.Client(timeout=10) as client:
        for variant in VARIANTS:
            url = server.url(f"/{variant}/mcp")
            ok = client.post(
                url, content=BODY, headers={**HEADERS, "Authorization": f"Bearer {token}"}
            )
            if ok.status_code != 200 or "product 1" not in ok.text:
                raise RuntimeError(f"{variant}: {ok.status_code} {ok.text[:300]}")
            bare = client.post(url, content=BODY, headers=HEADERS)
            expected = 200 if variant.endswith("-none") else 401
            if variant.endswith("-static"):
                continue  # accepts anything that looks like a bearer token, refuses none
            if bare.status_code != expected:
                raise RuntimeError(f"{variant} without token: {bare.status_code}, not {expected}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the MCP benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.mcp", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--rounds", type=int, help="rounds (default 10, quick 1)")
    parser.add_argument("--seconds", type=float, help="seconds per run (default 2, quick 1)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 10)
    seconds = args.seconds or (1.0 if args.quick else 2.0)
    wrk = shutil.which("wrk") if args.loadgen != "python" else None
    if args.loadgen == "wrk" and wrk is None:
        parser.error("--loadgen wrk: wrk is not on PATH")

    print("== mcp: tools/call under uvicorn (1 worker, h11), stateless JSON, one ES384 token ==")
    tenant = FakeLogto(endpoint=ENDPOINT, audience=RESOURCE, alg="ES384")
    token = tenant.token(scopes=["read:products"])
    samples: dict[str, list[LoadResult]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="logto-guard-bench-mcp-") as tmp:
        workdir = Path(tmp)
        load = Load(wrk, args.threads, args.connections, workdir)
        print(f"   load generator: {load.describe(seconds)}")
        print(
            f"   {rounds} rounds, {len(VARIANTS)} variants interleaved in one server process;"
            f" server and load generator share {os.cpu_count()} CPU cores"
        )
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps({"jwks": tenant.jwks()}))
        server = Server(
            config_path,
            workdir / "uvicorn.log",
            factory="bench._mcp_app:create",
            config_env=CONFIG_ENV,
        )
        server.start()
        try:
            check_variants(server, token)
            for name in VARIANTS:  # warm-up: key caches, connections, imports
                load.run(server.port, f"/{name}/mcp", token, min(seconds, 1.0))
            for round_index in range(rounds):
                for name in rotated(VARIANTS, round_index):
                    samples[name].append(load.run(server.port, f"/{name}/mcp", token, seconds))
        finally:
            server.stop()

    rates = {name: [s.rate for s in samples[name]] for name in VARIANTS}
    rows = [
        [
            LABELS[name],
            f"{median(rates[name]):,.0f}",
            f"{max(rates[name]):,.0f}",
            f"{min(rates[name]):,.0f}",
            str(sum(s.failures for s in samples[name])),
        ]
        for name in VARIANTS
    ]
    print()
    print_table(["variant", "req/s (median)", "best", "worst", "failures"], rows)
    print()

    def goal(value: float) -> bool:
        return value >= 0.95

    print_ratios(
        [
            Ratio(
                "SDK + LogtoTokenVerifier / SDK",
                rates["sdk-logto"],
                rates["sdk-none"],
                ">= 0.95",
                goal,
            ),
            Ratio(
                "SDK + LogtoTokenVerifier + protect() / SDK",
                rates["sdk-logto-protect"],
                rates["sdk-none"],
                ">= 0.95",
                goal,
            ),
            Ratio("SDK + PyJWKClient/jwt.decode / SDK", rates["sdk-pyjwt"], rates["sdk-none"]),
            Ratio("SDK + static verifier / SDK", rates["sdk-static"], rates["sdk-none"]),
            Ratio(
                "SDK + LogtoTokenVerifier / static verifier",
                rates["sdk-logto"],
                rates["sdk-static"],
            ),
            Ratio(
                "FastMCP + LogtoProvider / FastMCP",
                rates["fastmcp-logto"],
                rates["fastmcp-none"],
                ">= 0.95",
                goal,
            ),
            Ratio(
                "FastMCP + JWTVerifier / FastMCP",
                rates["fastmcp-jwtverifier"],
                rates["fastmcp-none"],
            ),
            Ratio(
                "FastMCP + static verifier / FastMCP",
                rates["fastmcp-static"],
                rates["fastmcp-none"],
            ),
            Ratio(
                "FastMCP + LogtoProvider / static verifier",
                rates["fastmcp-logto"],
                rates["fastmcp-static"],
            ),
        ]
    )
    failures = sum(s.failures for values in samples.values() for s in values)
    if failures:
        print(f"  WARNING: {failures} failed requests (non-2xx or socket errors)")
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    status = main()
    print(f"(mcp took {time.perf_counter() - started:.0f} s)")
    raise SystemExit(status)
