"""JWKS cache policy: shared fetches, refetch cooldown and back-off, failures keep keys."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx
import pytest

from logto_guard import JWKSCache, KeysUnavailableError, UnknownKeyError
from logto_guard._config import SUPPORTED_ALGORITHMS
from logto_guard._trusted_keys import parse_jwks
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


def make_cache(logto: FakeLogto, clock: FakeClock, **options: Any) -> JWKSCache:
    return JWKSCache(
        logto.jwks_uri,
        algorithms=SUPPORTED_ALGORITHMS,
        http_client=logto.http_client(),
        clock=clock,
        **options,
    )


async def test_keys_are_fetched_once_and_reused(logto: FakeLogto, clock: FakeClock) -> None:
    cache = make_cache(logto, clock)
    for _ in range(10):
        assert (await cache.get_key(logto.signing_kid)).kid == logto.signing_kid
    assert logto.jwks_requests == 1


async def test_fifty_concurrent_requests_on_cold_cache_cause_one_fetch(
    logto: FakeLogto, clock: FakeClock
) -> None:
    cache = make_cache(logto, clock)
    keys = await asyncio.gather(*(cache.get_key(logto.signing_kid) for _ in range(50)))
    assert {key.kid for key in keys} == {logto.signing_kid}
    assert logto.jwks_requests == 1


async def test_unknown_kid_triggers_exactly_one_refetch_then_cooldown_holds(
    logto: FakeLogto, clock: FakeClock
) -> None:
    cache = make_cache(logto, clock, min_cooldown=30, max_cooldown=30)
    await cache.get_key(logto.signing_kid)
    clock.advance(31)
    with pytest.raises(UnknownKeyError):
        await cache.get_key("unknown-1")
    assert logto.jwks_requests == 2
    clock.advance(10)
    with pytest.raises(UnknownKeyError):
        await cache.get_key("unknown-2")
    assert logto.jwks_requests == 2


async def test_rotated_key_is_found_by_one_refetch(logto: FakeLogto, clock: FakeClock) -> None:
    cache = make_cache(logto, clock)
    await cache.get_key(logto.signing_kid)
    clock.advance(2)
    new_kid = logto.rotate("RS256")
    assert (await cache.get_key(new_kid)).algorithms >= {"RS256"}
    assert logto.jwks_requests == 2


async def test_hundred_concurrent_requests_after_rotation_cause_one_fetch(
    logto: FakeLogto, clock: FakeClock
) -> None:
    cache = make_cache(logto, clock)
    await cache.get_key(logto.signing_kid)
    clock.advance(2)
    new_kid = logto.rotate()
    keys = await asyncio.gather(*(cache.get_key(new_kid) for _ in range(100)))
    assert {key.kid for key in keys} == {new_kid}
    assert logto.jwks_requests == 2


async def test_random_kid_flood_backs_off_to_one_fetch_per_cooldown(
    logto: FakeLogto, clock: FakeClock
) -> None:
    """Refetches start at 1, 3, 7, 15, 31 s, then come every 30 s."""
    cache = make_cache(logto, clock)
    await cache.get_key(logto.signing_kid)
    start, fetch_times = clock.now, []
    for i in range(1800):  # ten requests a second for three minutes
        before = logto.jwks_requests
        with pytest.raises(UnknownKeyError):
            await cache.get_key(f"random-{i}")
        if logto.jwks_requests > before:
            fetch_times.append(clock.now - start)
        clock.advance(0.1)
    after_first_minute = [t for t in fetch_times if t >= 60]
    gaps = [b - a for a, b in itertools.pairwise(after_first_minute)]
    assert gaps and min(gaps) >= 30 - 1e-6
    assert len(fetch_times) <= 11
    assert fetch_times[:5] == pytest.approx([1, 3, 7, 15, 31], abs=0.6)


async def test_backoff_resets_when_a_refetch_finds_its_key(
    logto: FakeLogto, clock: FakeClock
) -> None:
    cache = make_cache(logto, clock)
    await cache.get_key(logto.signing_kid)
    for _ in range(5):  # a short flood pushes the cooldown up
        clock.advance(31)
        with pytest.raises(UnknownKeyError):
            await cache.get_key("nope")
    clock.advance(31)
    new_kid = logto.rotate()
    await cache.get_key(new_kid)
    clock.advance(1.5)
    newer_kid = logto.rotate()
    assert (await cache.get_key(newer_kid)).kid == newer_kid  # within 2 s of its first use


@pytest.mark.parametrize(
    "fault",
    [
        lambda r: httpx.Response(500, text="boom"),
        lambda r: httpx.Response(200, text="<html>maintenance</html>"),
        lambda r: httpx.Response(200, text='{"keys": [}'),
        lambda r: httpx.Response(200, json={"keys": []}),
        lambda r: httpx.Response(200, json={"no_keys": 1}),
        lambda r: httpx.Response(200, json=[1, 2]),
        lambda r: httpx.Response(200, json={"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}),
        lambda r: httpx.Response(302, headers={"Location": "https://evil.example/jwks"}),
        lambda r: httpx.Response(200, content=b" " * (600 * 1024) + b"{}"),
    ],
    ids=["500", "html", "bad-json", "empty", "no-keys", "array", "oct", "redirect", "huge"],
)
async def test_failed_refresh_keeps_the_last_good_keys(
    logto: FakeLogto, clock: FakeClock, fault: Any
) -> None:
    cache = make_cache(logto, clock)
    kid = logto.signing_kid
    await cache.get_key(kid)
    logto.jwks_fault = fault
    clock.advance(601)  # stale: the next use refreshes in the background
    assert (await cache.get_key(kid)).kid == kid
    await cache.wait_idle()
    assert logto.jwks_requests == 2
    assert cache.last_error is not None
    assert (await cache.get_key(kid)).kid == kid


async def test_keys_unavailable_on_cold_cache_then_recovery(
    logto: FakeLogto, clock: FakeClock
) -> None:
    cache = make_cache(logto, clock)
    logto.jwks_fault = lambda r: httpx.Response(503)
    with pytest.raises(KeysUnavailableError) as caught:
        await cache.get_key(logto.signing_kid)
    assert caught.value.retry_after >= 1
    with pytest.raises(KeysUnavailableError):  # inside the back-off: no new fetch
        await cache.get_key(logto.signing_kid)
    assert logto.jwks_requests == 1
    logto.jwks_fault = None
    clock.advance(caught.value.retry_after)
    assert (await cache.get_key(logto.signing_kid)).kid == logto.signing_kid
    assert logto.jwks_requests == 2


async def test_stale_keys_are_dropped_after_the_stale_if_error_bound(
    logto: FakeLogto, clock: FakeClock
) -> None:
    cache = make_cache(logto, clock, max_age=600, stale_if_error=3600)
    await cache.get_key(logto.signing_kid)
    logto.jwks_fault = lambda r: httpx.Response(500)
    clock.advance(600 + 3599)
    assert (await cache.get_key(logto.signing_kid)).kid == logto.signing_kid
    await cache.wait_idle()
    clock.advance(31)
    with pytest.raises(KeysUnavailableError):
        await cache.get_key(logto.signing_kid)


async def test_timeout_bounds_a_slow_jwks(logto: FakeLogto, clock: FakeClock) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return httpx.Response(200, json=logto.jwks())

    cache = JWKSCache(
        logto.jwks_uri,
        algorithms=SUPPORTED_ALGORITHMS,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(slow)),
        clock=clock,
        timeout=0.05,
    )
    with pytest.raises(KeysUnavailableError):
        await cache.get_key(logto.signing_kid)
    assert cache.last_error == "JWKS fetch timed out"


async def test_network_error_is_a_failed_fetch(logto: FakeLogto, clock: FakeClock) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    cache = JWKSCache(
        logto.jwks_uri,
        algorithms=SUPPORTED_ALGORITHMS,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(refuse)),
        clock=clock,
    )
    with pytest.raises(KeysUnavailableError):
        await cache.get_key("any")
    assert cache.last_error == "JWKS request failed: ConnectError"


@pytest.mark.parametrize(
    ("mutate", "usable"),
    [
        (lambda jwk: jwk.update(use="enc"), False),
        (lambda jwk: jwk.update(key_ops=["encrypt"]), False),
        (lambda jwk: jwk.update(alg="ES256"), False),  # P-384 key claiming ES256
        (lambda jwk: jwk.pop("kid"), False),
        (lambda jwk: jwk.update(x="AAAA"), False),
        (lambda jwk: jwk.update(key_ops=["verify"]), True),
    ],
)
async def test_unusable_jwks_entries_are_skipped(
    logto: FakeLogto, clock: FakeClock, mutate: Any, usable: bool
) -> None:
    kid = logto.signing_kid
    document = logto.jwks()
    mutate(document["keys"][0])
    logto.jwks_fault = lambda r: httpx.Response(200, json=document)
    cache = make_cache(logto, clock)
    if usable:
        assert (await cache.get_key(kid)).kid == kid
    else:
        with pytest.raises(KeysUnavailableError):
            await cache.get_key(kid)


async def test_two_keys_under_one_kid_are_both_distrusted(
    logto: FakeLogto, clock: FakeClock
) -> None:
    first = logto.jwks()["keys"][0]
    logto.rotate()
    second = dict(logto.jwks()["keys"][1], kid=first["kid"])
    logto.jwks_fault = lambda r: httpx.Response(200, json={"keys": [first, second]})
    cache = make_cache(logto, clock)
    with pytest.raises(KeysUnavailableError):
        await cache.get_key(first["kid"])


async def test_small_rsa_keys_are_refused(logto: FakeLogto, clock: FakeClock) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from logto_guard.testing import public_jwk

    weak = public_jwk(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505 - the point
    logto.jwks_fault = lambda r: httpx.Response(200, json={"keys": [weak]})
    with pytest.raises(KeysUnavailableError):
        await make_cache(logto, clock).get_key(weak["kid"])


async def test_own_http_client_is_created_lazily_and_closed(logto: FakeLogto) -> None:
    cache = JWKSCache("http://127.0.0.1:9/oidc/jwks", algorithms=SUPPORTED_ALGORITHMS)
    assert cache._own_client is None
    with pytest.raises(KeysUnavailableError):
        await cache.get_key("x")  # port 9 on loopback: refused, no traffic leaves the host
    assert cache._own_client is not None
    await cache.aclose()
    assert cache._own_client is None


async def test_staged_next_key_is_known_before_it_signs(logto: FakeLogto, clock: FakeClock) -> None:
    """The max-age refresh runs behind normal requests, so a published-but-unused key
    is picked up without any unknown-kid refetch."""
    cache = make_cache(logto, clock)
    current = logto.signing_kid
    await cache.get_key(current)
    staged = logto.add_key("ES384")  # published, not yet signing
    clock.advance(601)
    await cache.get_key(current)  # answered from cache; refresh starts behind it
    await cache.wait_idle()
    assert staged in cache.keys
    requests = logto.jwks_requests
    assert (await cache.get_key(staged)).kid == staged
    assert logto.jwks_requests == requests


_P384 = {"kty": "EC", "crv": "P-384", "alg": "ES384", "kid": "broken"}
_RSA = {"kty": "RSA", "kid": "broken"}
_OKP = {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "broken"}


@pytest.mark.parametrize(
    "broken",
    [
        {**_P384, "x": "AAAA", "y": "AAAA"},
        {**_P384, "x": "A" * 64, "y": "B" * 64},  # right length, not a point on P-384
        {**_P384, "x": "!!!", "y": "!!!"},
        {**_P384, "x": 12345, "y": 6789},
        {**_P384, "y": "A" * 64},  # no x
        {**_RSA, "e": "AQAB"},  # no modulus
        {**_RSA, "n": "%%%", "e": "AQAB"},
        {**_RSA, "n": "AQAB", "e": ["AQAB"]},
        {**_OKP, "x": "AAAA"},
        {**_OKP, "x": None},
    ],
)
def test_malformed_keys_are_skipped_and_parsing_errors_contained(
    logto: FakeLogto, broken: dict[str, Any]
) -> None:
    """PyJWT parses JWKS entries; whatever it raises on a bad one stays inside: the entry
    is skipped and the good keys remain."""
    good = logto.jwks()["keys"][0]
    keys = parse_jwks(json.dumps({"keys": [broken, good]}).encode(), SUPPORTED_ALGORITHMS)
    assert list(keys) == [good["kid"]]
