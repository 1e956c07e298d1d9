"""Token exchange latency: warm cache vs cold (``python -m bench.exchange``).

The issuer is an ``httpx.MockTransport`` that answers Logto's token-exchange grant with
a freshly signed ES384 token (Logto's shape: ``sub`` the user, ``client_id`` the app,
no ``issued_token_type``), so the numbers are the client's own cost plus one in-process
signing: a real Logto adds a network round trip to every cold exchange and none to a warm
one. Cold: every call has a new subject token (a cache miss, one request). Warm: the same
subject token again (a cache hit, no request).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from urllib.parse import parse_qs

import httpx

from logto_guard.client import LogtoM2MClient
from logto_guard.signing import generate_private_key, logto_claims, sign

from ._common import AUDIENCE, ENDPOINT, ISSUER, median

APP_ID = "bench-exchanger"
ROUNDS, CALLS = 5, 400


def issuer() -> httpx.MockTransport:
    key = generate_private_key("ES384")

    def answer(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        claims = logto_claims(
            app_id=APP_ID,
            issuer=ISSUER,
            audience=form["resource"][0],
            now=int(time.time()),
            scopes=form.get("scope", [""])[0].split(),
            overrides={"sub": "user-" + form["subject_token"][0][-8:]},
        )
        body = {
            "access_token": sign(claims, key),
            "expires_in": 3600,
            "token_type": "Bearer",
            "scope": form.get("scope", [""])[0],
        }
        return httpx.Response(200, json=body)

    return httpx.MockTransport(answer)


async def one_round(m2m: LogtoM2MClient) -> tuple[float, float]:
    """Per-call seconds (median of this round's calls), cold then warm."""
    cold: list[float] = []
    for _ in range(CALLS):
        subject = secrets.token_urlsafe(32)
        started = time.perf_counter()
        await m2m.exchange(subject, resource=AUDIENCE, scopes=["read:products"])
        cold.append(time.perf_counter() - started)
    subject = secrets.token_urlsafe(32)
    await m2m.exchange(subject, resource=AUDIENCE, scopes=["read:products"])
    warm: list[float] = []
    for _ in range(CALLS):
        started = time.perf_counter()
        await m2m.exchange(subject, resource=AUDIENCE, scopes=["read:products"])
        warm.append(time.perf_counter() - started)
    return median(cold), median(warm)


async def run() -> None:
    async with LogtoM2MClient(
        endpoint=ENDPOINT,
        app_id=APP_ID,
        app_secret="bench-secret",
        http_client=httpx.AsyncClient(transport=issuer()),
        max_cached_tokens=CALLS * ROUNDS + 10,
    ) as m2m:
        results = [await one_round(m2m) for _ in range(ROUNDS)]
    cold = median([c for c, _ in results])
    warm = median([w for _, w in results])
    print(f"exchange, cold (new subject, one request): {cold * 1e6:9.1f} us/call")
    print(f"exchange, warm (cached):                   {warm * 1e6:9.1f} us/call")
    print(f"cold / warm: {cold / warm:.0f}x  ({ROUNDS} rounds x {CALLS} calls, medians)")


def main() -> None:
    """Run the benchmark and print the medians and their ratio."""
    asyncio.run(run())


if __name__ == "__main__":
    main()
