"""Memory benchmark: RSS growth while validating many distinct valid tokens, by cache size.

100,000 distinct valid tokens (10,000 with ``--quick``) go through
:meth:`TokenValidator.validate` once each, for several verified-token cache sizes: small
(1,000), the default and large (100,000); ``--sizes 0,...`` adds a cache-off baseline.
Each size runs in a fresh child process so that memory freed by one run cannot hide the
growth of the next; the child reports ``VmRSS`` from /proc/self/status before and after
(after ``gc.collect()``), the peak ``VmHWM`` and ``validator.cache_size``. Growth should
track the cache size, not the number of tokens seen.

Only the cost of a cache *entry* is measured here, so the tokens are signed with ES256
(P-256) rather than Logto's ES384: an ES384 signature costs about three times as much to
make and six times as much to verify on this kind of machine, which would stretch the run
to many minutes. The cache entry differs only in the token string's length (an ES384
token's signature is 42 base64url characters longer). Tokens are held in one ``bytes``
blob before the first measurement and turned into ``str`` one at a time, so the growth
counts the token strings the cache keeps alive, as it would in a server.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from logto_guard import GuardConfig
from logto_guard.lowlevel import JWKSCache, TokenValidator

from ._common import AUDIENCE, ENDPOINT, Issuer, jwks_http_client, peak_rss_mb, print_table, rss_mb

ROOT = Path(__file__).resolve().parent.parent
ALG = "ES256"
WARMUP_TOKENS = 200


def _validator(jwks: dict[str, Any], cache_size: int) -> tuple[TokenValidator, JWKSCache]:
    config = GuardConfig.from_options(
        endpoint=ENDPOINT, audience=AUDIENCE, token_cache_size=cache_size
    )
    assert config.jwks_uri is not None
    cache = JWKSCache(
        config.jwks_uri, algorithms=config.algorithms, http_client=jwks_http_client(jwks)
    )
    return TokenValidator(config, cache), cache


def _offsets(blob: bytes) -> array.array[int]:
    """Start of every line of ``blob``, plus one past the end."""
    starts = array.array("q", [0])
    position = blob.find(b"\n")
    while position != -1:
        starts.append(position + 1)
        position = blob.find(b"\n", position + 1)
    return starts


async def _validate_all(validator: TokenValidator, blob: bytes, starts: array.array[int]) -> None:
    for i in range(len(starts) - 1):
        token = blob[starts[i] : starts[i + 1] - 1].decode("ascii")
        await validator.validate(token)


def child(workdir: Path, cache_size: int) -> dict[str, float]:
    """Validate every token of ``workdir`` with a fresh validator; measure RSS around it."""
    jwks: dict[str, Any] = json.loads((workdir / "jwks.json").read_text())
    blob = (workdir / "tokens.txt").read_bytes()
    starts = _offsets(blob)
    count = len(starts) - 1
    loop = asyncio.new_event_loop()
    # Warm the code paths (imports, compiled regexes, JWKS parsing) on another validator
    # whose cache is off, so the measured validator starts empty.
    warm, _ = _validator(jwks, 0)
    warm_starts = starts[: WARMUP_TOKENS + 1]
    loop.run_until_complete(_validate_all(warm, blob, warm_starts))
    validator, keys = _validator(jwks, cache_size)
    loop.run_until_complete(keys.refresh())
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    loop.run_until_complete(_validate_all(validator, blob, starts))
    seconds = time.perf_counter() - started
    gc.collect()
    after = rss_mb()
    loop.close()
    return {
        "cache_limit": cache_size,
        "tokens": count,
        "before_mb": before,
        "after_mb": after,
        "growth_mb": after - before,
        "peak_mb": peak_rss_mb(),
        "cache_size": validator.cache_size,
        "seconds": seconds,
    }


def _run_children(workdir: Path, sizes: Sequence[int], jobs: int) -> list[dict[str, float]]:
    results: dict[int, dict[str, float]] = {}
    pending = list(sizes)
    running: list[tuple[int, subprocess.Popen[str]]] = []
    while pending or running:
        while pending and len(running) < jobs:
            size = pending.pop(0)
            command = [sys.executable, "-m", "bench.memory", "--child", str(workdir), str(size)]
            running.append(
                (size, subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True))
            )
        size, process = running.pop(0)
        out, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"memory child for cache size {size} failed:\n{out}")
        results[size] = json.loads(out.strip().splitlines()[-1])
        print(
            f"   cache limit {size:>7,}: +{results[size]['growth_mb']:.1f} MB,"
            f" cache_size {int(results[size]['cache_size']):,},"
            f" {results[size]['tokens'] / results[size]['seconds']:,.0f} validations/s",
            flush=True,
        )
    return [results[size] for size in sizes]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the memory benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 tokens instead of 100,000")
    parser.add_argument("--tokens", type=int, help="distinct tokens to validate")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        help=f"comma-separated cache sizes (default 1000,{GuardConfig.token_cache_size},100000;"
        " add 0 for a cache-off baseline)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="child processes at a time")
    parser.add_argument("--child", nargs=2, metavar=("WORKDIR", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(Path(args.child[0]), int(args.child[1]))))
        return 0
    count = args.tokens or (10_000 if args.quick else 100_000)
    sizes = args.sizes or [1000, GuardConfig.token_cache_size, 100_000]
    print("== memory: RSS growth validating distinct tokens, by verified-token cache size ==")
    print(f"   {count:,} distinct {ALG} tokens per run; one child process per cache size")
    with tempfile.TemporaryDirectory(prefix="logto-guard-bench-") as tmp:
        workdir = Path(tmp)
        issuer = Issuer.generate(ALG)
        started = time.perf_counter()
        tokens = issuer.mint(count)
        (workdir / "tokens.txt").write_text("\n".join(tokens) + "\n")
        (workdir / "jwks.json").write_text(json.dumps(issuer.jwks()))
        print(
            f"   minted {count:,} tokens ({len(tokens[0])} chars each)"
            f" in {time.perf_counter() - started:.1f} s"
        )
        del tokens
        results = _run_children(workdir, sizes, args.jobs)
    rows = [
        [
            f"{int(r['cache_limit']):,}"
            + (" (default)" if r["cache_limit"] == GuardConfig.token_cache_size else ""),
            f"{int(r['tokens']):,}",
            f"{r['before_mb']:.1f}",
            f"{r['after_mb']:.1f}",
            f"{r['growth_mb']:+.1f}",
            f"{r['peak_mb']:.1f}",
            f"{int(r['cache_size']):,}",
            f"{r['growth_mb'] * 1024 * 1024 / r['cache_size']:,.0f}" if r["cache_size"] else "-",
        ]
        for r in results
    ]
    print()
    print_table(
        [
            "cache limit",
            "tokens",
            "RSS before MB",
            "after MB",
            "growth MB",
            "peak MB",
            "cache_size",
            "bytes/entry",
        ],
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
