"""JWKS cache policy: shared fetches, refetch cooldown and back-off, failures keep keys."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from logto_guard import KeysUnavailableError, UnknownKeyError
from logto_guard._core.config import SUPPORTED_ALGORITHMS
from logto_guard._core.trusted_keys import parse_jwks
from logto_guard.lowlevel import JWKSCache
from logto_guard.testing import FakeClock, FakeLogto

from .helpers import settled

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


async def test_unknown_kid_refetches_once_then_is_503_until_the_spacing_elapses(
    logto: FakeLogto, clock: FakeClock
) -> None:
    cache = make_cache(logto, clock)
    await cache.get_key(logto.signing_kid)
    clock.advance(1)
    with pytest.raises(UnknownKeyError):  # right after a refetch that did not find it
        await cache.get_key("unknown-1")
    assert logto.jwks_requests == 2
    clock.advance(0.4)
    with pytest.raises(KeysUnavailableError) as held_back:  # refetch due but held back
        await cache.get_key("unknown-2")
    assert held_back.value.retry_after == 1
    assert logto.jwks_requests == 2
    assert logto.jwks_not_modified == 1  # the refetch was conditional and answered 304


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


async def test_forged_kid_flood_then_rotation_new_key_accepted_within_2_s(
    logto: FakeLogto, clock: FakeClock
) -> None:
    """Issue 16: 100 forged kids a second for a minute, then an abrupt rotation."""
    cache = make_cache(logto, clock)
    await cache.get_key(logto.signing_kid)
    for i in range(6000):
        with pytest.raises((UnknownKeyError, KeysUnavailableError)):
            await cache.get_key(f"forged-{i}")
        clock.advance(0.01)
    flood_requests = logto.jwks_requests - 1
    assert flood_requests <= 61  # at most ~one conditional request per second
    assert logto.jwks_not_modified == flood_requests
    new_kid, published = logto.rotate(), clock.now
    accepted_at = None
    for i in range(400):
        try:
            await cache.get_key(new_kid if i % 10 == 0 else f"forged-x{i}")
        except (UnknownKeyError, KeysUnavailableError):
            clock.advance(0.01)
        else:
            accepted_at = clock.now
            break
    assert accepted_at is not None
    assert accepted_at - published <= 2


def test_private_jwk_members_are_never_loaded() -> None:
    """A JWKS leaking an RSA private key yields a public key only (mutation survivor)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(private))
    jwk.update(kid="leaky", alg="RS256", use="sig", key_ops=["verify"])
    assert "d" in jwk
    keys = parse_jwks(json.dumps({"keys": [jwk]}).encode(), SUPPORTED_ALGORITHMS)
    assert isinstance(keys["leaky"].key, rsa.RSAPublicKey)


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
    await settled(cache)
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
    await settled(cache)
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
    assert cache.last_error == "JWKS request failed: ConnectError (refused)"


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

    from logto_guard.signing import public_jwk

    weak = public_jwk(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505 - the point
    logto.jwks_fault = lambda r: httpx.Response(200, json={"keys": [weak]})
    with pytest.raises(KeysUnavailableError):
        await make_cache(logto, clock).get_key(weak["kid"])


async def test_own_http_client_is_closed_by_aclose_and_made_again_on_use() -> None:
    cache = JWKSCache("http://127.0.0.1:9/oidc/jwks", algorithms=SUPPORTED_ALGORITHMS)
    with pytest.raises(KeysUnavailableError):
        await cache.get_key("x")  # port 9 on loopback: refused, no traffic leaves the host
    await cache.aclose()
    assert cache.fetches["failure"] == 1
    await cache.refresh()  # a closed client would raise RuntimeError, not a failed fetch
    assert cache.fetches["failure"] == 2
    await cache.aclose()


async def test_staged_next_key_is_known_before_it_signs(logto: FakeLogto, clock: FakeClock) -> None:
    """The max-age refresh runs behind normal requests, so a published-but-unused key
    is picked up without any unknown-kid refetch."""
    cache = make_cache(logto, clock)
    current = logto.signing_kid
    await cache.get_key(current)
    staged = logto.add_key("ES384")  # published, not yet signing
    clock.advance(601)
    await cache.get_key(current)  # answered from cache; refresh starts behind it
    await settled(cache)
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


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, compresslevel=9)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip, gzip", lambda: _gzip(_gzip(b"{" + b" " * (64 * 1024 * 1024)))),
        ("gzip", lambda: _gzip(b"{" + b" " * (64 * 1024 * 1024))),
        ("br", lambda: b"\x00" * 100),
    ],
    ids=["stacked-gzip-bomb", "gzip-bomb", "unknown-coding"],
)
async def test_compressed_jwks_bombs_are_fetch_failures(
    logto: FakeLogto, clock: FakeClock, encoding: str, body: Any
) -> None:
    payload = body()
    sent: list[httpx.Request] = []

    def bomb(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        headers = {"Content-Encoding": encoding}
        return httpx.Response(200, stream=httpx.ByteStream(payload), headers=headers)

    cache = JWKSCache(
        logto.jwks_uri,
        algorithms=SUPPORTED_ALGORITHMS,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(bomb)),
        clock=clock,
    )
    with pytest.raises(KeysUnavailableError):
        await cache.get_key(logto.signing_kid)
    assert cache.fetches["failure"] == 1
    assert sent[0].headers["accept-encoding"] == "identity"


async def test_one_gzip_layer_of_a_real_jwks_is_decoded(logto: FakeLogto, clock: FakeClock) -> None:
    payload = _gzip(json.dumps(logto.jwks()).encode())

    def gzipped(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Encoding": "gzip"}
        return httpx.Response(200, stream=httpx.ByteStream(payload), headers=headers)

    cache = JWKSCache(
        logto.jwks_uri,
        algorithms=SUPPORTED_ALGORITHMS,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(gzipped)),
        clock=clock,
    )
    assert (await cache.get_key(logto.signing_kid)).kid == logto.signing_kid


async def test_memory_error_while_fetching_is_a_failed_fetch_not_an_escape(
    logto: FakeLogto, clock: FakeClock
) -> None:
    def exhausted(request: httpx.Request) -> httpx.Response:
        raise MemoryError

    cache = JWKSCache(
        logto.jwks_uri,
        algorithms=SUPPORTED_ALGORITHMS,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(exhausted)),
        clock=clock,
    )
    with pytest.raises(KeysUnavailableError):
        await cache.get_key(logto.signing_kid)
    assert cache.fetches["failure"] == 1


def keepers() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "keep"]  # type: ignore[union-attr]


async def test_one_keeper_per_key_source(logto: FakeLogto, clock: FakeClock) -> None:
    cache = make_cache(logto, clock)
    cache.start_keeper()
    cache.start_keeper()  # a second front end sharing the source
    assert len(keepers()) == 1
    await cache.aclose()
    await asyncio.sleep(0)  # let the cancellation land
    assert keepers() == []


async def test_a_stale_set_retries_behind_requests_exactly_one_cooldown_apart(
    logto: FakeLogto, clock: FakeClock
) -> None:
    """After a failed background refresh, the next one starts when the 1 s spacing has
    passed (not before, not one request later): a boundary of the fetch-storm rule."""
    cache = make_cache(logto, clock, max_age=600)
    kid = logto.signing_kid
    await cache.get_key(kid)
    logto.jwks_fault = lambda r: httpx.Response(503)
    clock.advance(601)
    await cache.get_key(kid)  # stale: a refresh behind this request, which fails
    await settled(cache)
    assert logto.jwks_requests == 2
    clock.advance(0.999)
    await cache.get_key(kid)
    await settled(cache)
    assert logto.jwks_requests == 2  # inside the spacing: none
    clock.advance(0.001)
    await cache.get_key(kid)  # exactly one spacing after the last start
    await settled(cache)
    assert logto.jwks_requests == 3
