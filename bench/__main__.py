"""Run the benchmarks in sequence: ``python -m bench [--quick] [--only NAME ...]``.

micro (validations/s), overhead (the guard's warm path over a no-op scheme, in
process), e2e (requests/s under uvicorn), memory (RSS by cache size), mcp (tools/call/s
of MCP SDK and FastMCP servers, without auth and with verifiers); see
each module's docstring for what it measures. ``--quick`` is a short smoke run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

from . import e2e, mcp, memory, micro, overhead

BENCHMARKS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "micro": micro.main,
    "overhead": overhead.main,
    "e2e": e2e.main,
    "memory": memory.main,
    "mcp": mcp.main,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks (all by default) and return the worst exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run of each")
    parser.add_argument(
        "--only",
        action="append",
        choices=tuple(BENCHMARKS),
        help="run only this benchmark (repeatable)",
    )
    for name in BENCHMARKS:
        parser.add_argument(f"--{name}", action="store_true", help=f"same as --only {name}")
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="e2e load generator (auto: wrk when on PATH)",
    )
    args = parser.parse_args(argv)
    chosen = list(args.only or []) + [name for name in BENCHMARKS if getattr(args, name)]
    names = [name for name in BENCHMARKS if name in chosen] or list(BENCHMARKS)
    status = 0
    for index, name in enumerate(names):
        if index:
            print()
        extra = ["--quick"] if args.quick else []
        if name in {"e2e", "mcp"}:
            extra += ["--loadgen", args.loadgen]
        started = time.perf_counter()
        status = max(status, BENCHMARKS[name](extra))
        print(f"({name} took {time.perf_counter() - started:.0f} s)", flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
