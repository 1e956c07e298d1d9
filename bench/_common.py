"""Shared helpers for the benchmarks: a key-holding issuer, token minting, statistics.

Keys and tokens are made with :mod:`logto_guard.testing` (the same code the test fake and the
dev issuer use), so the tokens have Logto's shape: ``alg``/``typ``/``kid`` header and the
M2M claims (``jti``, ``sub``, ``iat``, ``exp``, ``client_id``, ``iss``, ``aud``, ``scope``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from logto_guard.signing import (
    PrivateKey,
    generate_private_key,
    load_private_pem,
    logto_claims,
    private_pem,
    public_jwk,
    sign,
)

ENDPOINT = "https://tenant.logto.app"
ISSUER = f"{ENDPOINT}/oidc"
JWKS_URI = f"{ISSUER}/jwks"
AUDIENCE = "https://shopping.api"
SCOPES = ("read:products", "write:products")


@dataclass
class Issuer:
    """One signing key and what a Logto tenant would publish and mint with it."""

    alg: str
    key: PrivateKey
    app_id: str = field(default_factory=lambda: secrets.token_hex(10))

    @classmethod
    def generate(cls, alg: str, *, rsa_bits: int = 4096) -> Issuer:
        """A fresh key for ``alg`` (RSA keys get ``rsa_bits`` bits)."""
        return cls(alg=alg, key=generate_private_key(alg, rsa_bits=rsa_bits))

    @property
    def kid(self) -> str:
        """The key's RFC 7638 thumbprint, as Logto uses it."""
        return public_jwk(self.key)["kid"]

    def jwks(self) -> dict[str, Any]:
        """The JWKS document publishing this key."""
        return {"keys": [public_jwk(self.key)]}

    def claims(self, *, ttl: int = 3600) -> dict[str, Any]:
        """Claims of a Logto M2M access token for :data:`AUDIENCE`."""
        return logto_claims(
            app_id=self.app_id,
            issuer=ISSUER,
            audience=AUDIENCE,
            now=int(time.time()),
            ttl=ttl,
            scopes=SCOPES,
        )

    def token(self, *, ttl: int = 3600) -> str:
        """Mint one signed access token (each has a distinct ``jti``)."""
        return sign(self.claims(ttl=ttl), self.key, alg=self.alg, kid=self.kid)

    def mint(self, count: int, *, processes: int | None = None) -> list[str]:
        """Mint ``count`` distinct tokens, in parallel worker processes when it pays."""
        workers = processes or min(os.cpu_count() or 1, 4)
        if count < 200 or workers < 2:
            return [self.token() for _ in range(count)]
        pem = private_pem(self.key)
        sizes = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
        jobs = [(pem, self.alg, self.app_id, size) for size in sizes]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            batches = pool.map(_mint_batch, jobs)
        return [token for batch in batches for token in batch]

    def http_client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` answering the JWKS URI from memory (no network)."""
        return jwks_http_client(self.jwks())


def _mint_batch(job: tuple[str, str, str, int]) -> list[str]:
    pem, alg, app_id, count = job
    issuer = Issuer(alg=alg, key=load_private_pem(pem), app_id=app_id)
    return [issuer.token() for _ in range(count)]


def jwks_http_client(jwks: dict[str, Any]) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose MockTransport serves ``jwks`` at :data:`JWKS_URI`."""
    body = json.dumps(jwks).encode()
    path = httpx.URL(JWKS_URI).path

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path != path:
            return httpx.Response(404)
        return httpx.Response(
            200,
            content=body,
            headers={
                "Content-Type": "application/jwk-set+json",
                "Cache-Control": "no-cache, max-age=0, must-revalidate",
            },
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def rss_mb() -> float:
    """Resident set size of this process in MiB (``VmRSS`` from /proc/self/status)."""
    return _proc_status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (``VmHWM``)."""
    return _proc_status_kb("VmHWM") / 1024


def process_rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` (same machine) in MiB."""
    return _proc_status_kb("VmRSS", str(pid)) / 1024


def _proc_status_kb(name: str, pid: str = "self") -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{name} not found in /proc/self/status")


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)


def rotated(items: Sequence[str], round_index: int) -> list[str]:
    """``items`` rotated by ``round_index``, so no variant always runs first or last."""
    shift = round_index % len(items)
    return [*items[shift:], *items[:shift]]


@dataclass
class Ratio:
    """``numerator / denominator`` of two variants' per-round rates, three ways."""

    label: str
    numerator: Sequence[float]
    denominator: Sequence[float]
    target: str = ""
    check: Callable[[float], bool] | None = None
    suffix: str = ""
    precision: int = 3

    @property
    def of_medians(self) -> float:
        """The ratio of the medians (the headline figure)."""
        return median(self.numerator) / median(self.denominator)

    @property
    def per_round_median(self) -> float:
        """The median of the ratios taken round by round (pairs measured close in time)."""
        return median([a / b for a, b in zip(self.numerator, self.denominator, strict=True)])

    @property
    def of_bests(self) -> float:
        """The ratio of the best rounds (noise from other processes only slows a run down)."""
        return max(self.numerator) / max(self.denominator)


def print_ratios(ratios: Sequence[Ratio]) -> None:
    """Print ratios: of medians, round-by-round median, of bests, and the target verdict."""
    rows = []
    for ratio in ratios:
        figures = [ratio.of_medians, ratio.per_round_median, ratio.of_bests]
        verdict_text = ""
        if ratio.check is not None:
            verdict_text = "meets" if ratio.check(ratio.of_medians) else "MISSES"
        rows.append(
            [
                ratio.label,
                *(f"{value:.{ratio.precision}f}{ratio.suffix}" for value in figures),
                f"{ratio.target} {verdict_text}".strip(),
            ]
        )
    print_table(["ratio", "of medians", "per-round median", "of bests", "target"], rows)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a plain-text table with right-aligned columns after the first."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [
            str(cell).ljust(widths[i]) if i == 0 else str(cell).rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(cells).rstrip()

    print(line(header))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))
