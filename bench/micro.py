"""Micro benchmark: token validations per second, ES384 and RS256, four variants side by side.

For each algorithm the same pool of tokens is verified by:

* ``raw``: the floor. ``cryptography`` alone: split the token, base64url-decode the
  signature (for ES384 turn raw ``r||s`` into DER with ``encode_dss_signature``) and call
  ``public_key.verify``. No header or claim is looked at.
* ``cold``: :meth:`TokenValidator.validate` with the verified-token cache off
  (``token_cache_size=0``): every call parses, verifies and checks claims. The JWKS is
  fetched (from memory, via ``httpx.MockTransport``) before timing starts.
* ``warm``: :meth:`TokenValidator.validate` with the default cache, one token repeated,
  so every call is a cache hit.
* ``pyjwt``: what Logto's Python guide does per request: ``PyJWKClient``
  ``get_signing_key_from_jwt(token)`` then ``jwt.decode(token, key, algorithms=[...],
  audience=..., issuer=...)``. The client's ``fetch_data`` is overridden to return the JWKS
  dict, and its own JWK-set cache keeps it, so no HTTP happens.

The variants run interleaved (order rotated every round) for several rounds on one event
loop; each run lasts about ``--seconds``. Reported: median ops/s per variant and ratios of
the medians. Run ``python -m bench.micro --profile`` to print a cProfile of the cold path.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import io
import pstats
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from logto_guard import GuardConfig
from logto_guard.lowlevel import JWKSCache, TokenValidator

from ._common import (
    AUDIENCE,
    ENDPOINT,
    ISSUER,
    JWKS_URI,
    Issuer,
    Ratio,
    median,
    print_ratios,
    print_table,
    rotated,
)

VARIANTS = ("raw", "cold", "warm", "pyjwt")
LABELS = {
    "raw": "raw cryptography verify (floor)",
    "cold": "logto_guard cold (cache off)",
    "warm": "logto_guard warm (cache hit)",
    "pyjwt": "PyJWT + PyJWKClient (Logto guide)",
}
POOL_SIZE = 64

#: Runs a variant ``n`` times and returns the elapsed seconds.
Runner = Callable[[int], float]


class StaticJWKClient(jwt.PyJWKClient):
    """A ``PyJWKClient`` whose "download" returns a JWKS dict held in memory."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        super().__init__(JWKS_URI)
        self._jwks = jwks

    def fetch_data(self) -> Any:
        """The JWKS document (``get_jwk_set`` caches it like a real fetch)."""
        return self._jwks


def raw_verifier(issuer: Issuer) -> Callable[[str], None]:
    """Signature verification with ``cryptography`` only; raises on a bad signature."""
    public = issuer.key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        ecdsa = ec.ECDSA(hashes.SHA384() if issuer.alg == "ES384" else hashes.SHA256())
        ec_key = public

        def verify_ec(token: str) -> None:
            signing_input, _, signature_b64 = token.rpartition(".")
            signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
            half = len(signature) // 2
            der = encode_dss_signature(
                int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
            )
            ec_key.verify(der, signing_input.encode("ascii"), ecdsa)

        return verify_ec
    assert isinstance(public, rsa.RSAPublicKey)
    rsa_key = public
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    def verify_rsa(token: str) -> None:
        signing_input, _, signature_b64 = token.rpartition(".")
        signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
        rsa_key.verify(signature, signing_input.encode("ascii"), pkcs1, sha256)

    return verify_rsa


def make_validator(issuer: Issuer, *, cache_size: int | None) -> TokenValidator:
    """A validator wired like :class:`LogtoGuard` wires it, JWKS served from memory."""
    options: dict[str, Any] = {}
    if cache_size is not None:
        options["token_cache_size"] = cache_size
    config = GuardConfig.from_options(endpoint=ENDPOINT, audience=AUDIENCE, **options)
    assert config.jwks_uri is not None
    jwks = JWKSCache(
        config.jwks_uri, algorithms=config.algorithms, http_client=issuer.http_client()
    )
    return TokenValidator(config, jwks)


@dataclass
class Subject:
    """One algorithm's key, token pool and the runner of every variant."""

    alg: str
    description: str
    runners: dict[str, Runner]
    cold_validator: TokenValidator
    tokens: list[str]
    loop: asyncio.AbstractEventLoop


def build_subject(
    issuer: Issuer, description: str, loop: asyncio.AbstractEventLoop, pool_size: int
) -> Subject:
    """Mint the token pool, build every variant and check each accepts the tokens."""
    tokens = issuer.mint(pool_size)
    size = len(tokens)
    cold = make_validator(issuer, cache_size=0)
    warm = make_validator(issuer, cache_size=None)
    warm_token = tokens[0]
    raw = raw_verifier(issuer)
    client = StaticJWKClient(issuer.jwks())
    algorithms = [issuer.alg]

    def run_raw(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            raw(tokens[i % size])
        return time.perf_counter() - start

    async def cold_loop(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            await cold.validate(tokens[i % size])
        return time.perf_counter() - start

    async def warm_loop(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await warm.validate(warm_token)
        return time.perf_counter() - start

    def run_pyjwt(n: int) -> float:
        start = time.perf_counter()
        for i in range(n):
            token = tokens[i % size]
            signing_key = client.get_signing_key_from_jwt(token)
            jwt.decode(
                token, signing_key.key, algorithms=algorithms, audience=AUDIENCE, issuer=ISSUER
            )
        return time.perf_counter() - start

    runners: dict[str, Runner] = {
        "raw": run_raw,
        "cold": lambda n: loop.run_until_complete(cold_loop(n)),
        "warm": lambda n: loop.run_until_complete(warm_loop(n)),
        "pyjwt": run_pyjwt,
    }
    # Pre-warm (JWKS fetched and parsed, warm token cached) and check every path accepts.
    for token in tokens:
        raw(token)
        info = loop.run_until_complete(cold.validate(token))
        assert info.subject == issuer.app_id
        key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=algorithms, audience=AUDIENCE, issuer=ISSUER)
        assert claims["sub"] == issuer.app_id
    loop.run_until_complete(warm.validate(warm_token))
    assert warm.cache_size == 1
    return Subject(issuer.alg, description, runners, cold, tokens, loop)


def calibrate(runner: Runner, seconds: float) -> int:
    """How many operations take about ``seconds``."""
    n, elapsed = 1, runner(1)
    while elapsed < 0.05 and n < 10_000_000:
        n *= 4
        elapsed = runner(n)
    return max(1, round(n * seconds / elapsed))


def measure(subject: Subject, rounds: int, seconds: float) -> dict[str, list[float]]:
    """Ops/s of every variant, one entry per round, variants interleaved."""
    counts = {name: calibrate(subject.runners[name], seconds) for name in VARIANTS}
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for round_index in range(rounds):
        for name in rotated(VARIANTS, round_index):
            n = counts[name]
            results[name].append(n / subject.runners[name](n))
    return results


def report(subject: Subject, results: dict[str, list[float]], rounds: int) -> dict[str, float]:
    """Print the table and ratios for one algorithm; return the medians."""
    medians = {name: median(values) for name, values in results.items()}
    print(
        f"\n{subject.alg} ({subject.description}); {len(subject.tokens)}-token pool,"
        f" {rounds} rounds"
    )
    rows = [
        [
            LABELS[name],
            f"{medians[name]:,.0f}",
            f"{1e6 / medians[name]:,.2f}",
            f"{max(results[name]):,.0f}",
            f"{min(results[name]):,.0f}",
        ]
        for name in VARIANTS
    ]
    print_table(["variant", "ops/s (median)", "us/op", "best ops/s", "worst ops/s"], rows)
    es384 = subject.alg == "ES384"
    print()
    print_ratios(
        [
            Ratio(
                "cold / raw cost per op",
                results["raw"],
                results["cold"],
                "<= 1.10" if es384 else "",
                (lambda value: value <= 1.10) if es384 else None,
            ),
            Ratio(
                "warm speedup over cold",
                results["warm"],
                results["cold"],
                ">= 100x",
                lambda value: value >= 100,
                suffix="x",
                precision=0,
            ),
            Ratio(
                "cold speedup over PyJWT+PyJWKClient",
                results["cold"],
                results["pyjwt"],
                suffix="x",
                precision=2,
            ),
        ]
    )
    print(
        f"  overhead over raw per op: cold {1e6 / medians['cold'] - 1e6 / medians['raw']:+.1f} us,"
        f" PyJWT {1e6 / medians['pyjwt'] - 1e6 / medians['raw']:+.1f} us"
    )
    return medians


def profile_cold(subject: Subject, seconds: float) -> None:
    """Print the top of a cProfile of the cold path (cache off)."""
    n = calibrate(subject.runners["cold"], seconds)
    profiler = cProfile.Profile()
    profiler.enable()
    subject.runners["cold"](n)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(18)
    print(f"\ncProfile of the {subject.alg} cold path, {n} validations, sorted by own time:")
    print(out.getvalue().split("\n", 4)[-1].rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the micro benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--rounds", type=int, help="rounds (default 15, quick 2)")
    parser.add_argument("--seconds", type=float, help="seconds per variant per round")
    parser.add_argument("--rsa-bits", type=int, default=4096, choices=(2048, 4096))
    parser.add_argument("--alg", action="append", choices=("ES384", "RS256"), help="repeatable")
    parser.add_argument("--profile", action="store_true", help="cProfile the cold path too")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 15)
    seconds = args.seconds or (0.1 if args.quick else 0.25)
    algs = args.alg or ["ES384", "RS256"]
    print("== micro: validations per second (single thread, one event loop) ==")
    print(f"   {rounds} rounds x ~{seconds:g} s per variant, variants interleaved")
    loop = asyncio.new_event_loop()
    try:
        for alg in algs:
            if alg == "ES384":
                issuer, description = Issuer.generate("ES384"), "P-384, Logto's default"
            else:
                issuer = Issuer.generate("RS256", rsa_bits=args.rsa_bits)
                description = f"RSA {args.rsa_bits}"
            subject = build_subject(issuer, description, loop, POOL_SIZE)
            report(subject, measure(subject, rounds, seconds), rounds)
            if args.profile:
                profile_cold(subject, max(seconds, 1.0))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
