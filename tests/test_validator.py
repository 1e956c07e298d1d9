"""Token validation: signatures, algorithms, claims and their boundaries."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from logto_guard import (
    AlgorithmError,
    ExpiredTokenError,
    GuardConfig,
    ImmatureTokenError,
    InvalidClaimError,
    InvalidSignatureError,
    InvalidTokenError,
    InvalidTypeError,
    MalformedTokenError,
)
from logto_guard.lowlevel import JWKSCache, TokenValidator
from logto_guard.testing import FakeClock, FakeLogto

from .helpers import settled

pytestmark = pytest.mark.anyio


MakeValidator = Callable[..., TokenValidator]


@pytest.fixture
def make_validator(logto: FakeLogto, clock: FakeClock) -> Iterator[MakeValidator]:
    def make(**options: Any) -> TokenValidator:
        config = GuardConfig.from_options(
            endpoint=logto.endpoint, audience=logto.audience, **options
        )
        assert config.jwks_uri is not None
        jwks = JWKSCache(
            config.jwks_uri,
            algorithms=config.algorithms,
            http_client=logto.http_client(),
            clock=clock,
        )
        return TokenValidator(config, jwks, clock=clock)

    yield make


@pytest.fixture
def validator(make_validator: MakeValidator) -> TokenValidator:
    return make_validator(token_cache_size=0)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _reassemble(token: str, *, header: Any = None, payload: Any = None) -> str:
    """Replace a segment while keeping the original signature."""
    h, p, s = token.split(".")
    if header is not None:
        h = _b64(header if isinstance(header, bytes) else json.dumps(header).encode())
    if payload is not None:
        p = _b64(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    return f"{h}.{p}.{s}"


@pytest.mark.parametrize("alg", ["ES384", "ES256", "ES512", "RS256", "PS256", "EdDSA"])
async def test_valid_token_of_each_key_type_is_accepted(
    logto: FakeLogto, validator: TokenValidator, alg: str
) -> None:
    logto.rotate(alg)
    info = await validator.validate(logto.token(scopes=["read:products"]))
    assert info.scopes == frozenset({"read:products"})
    assert info.subject == logto.app_id == info.client_id
    assert info.is_m2m
    assert info.issuer == logto.issuer
    assert info.audience == logto.audience
    assert info.claims["jti"]


async def test_jwks_with_ec_and_rsa_keys_verifies_both(
    logto: FakeLogto, validator: TokenValidator
) -> None:
    ec_kid = logto.signing_kid
    rsa_kid = logto.add_key("RS256")
    assert (await validator.validate(logto.token(kid=ec_kid))).subject == logto.app_id
    assert (await validator.validate(logto.token(kid=rsa_kid))).subject == logto.app_id
    assert logto.jwks_requests == 1


async def test_tampered_payload_fails_signature(
    logto: FakeLogto, validator: TokenValidator
) -> None:
    token = logto.token()
    forged = _reassemble(token, payload=logto.claims(scope="write:products"))
    with pytest.raises(InvalidSignatureError):
        await validator.validate(forged)


async def test_token_signed_by_foreign_key_with_trusted_kid_is_rejected(
    logto: FakeLogto, validator: TokenValidator
) -> None:
    attacker = FakeLogto(clock=logto.clock)
    token = attacker.token(headers={"kid": logto.signing_kid}, iss=logto.issuer)
    with pytest.raises(InvalidSignatureError):
        await validator.validate(token)


@pytest.mark.parametrize(
    ("header_alg", "key_alg"),
    [("ES256", "ES384"), ("RS256", "ES384"), ("ES384", "RS256"), ("PS256", "ES384")],
)
async def test_header_alg_not_matching_key_is_rejected(
    logto: FakeLogto, validator: TokenValidator, header_alg: str, key_alg: str
) -> None:
    logto.rotate(key_alg)
    token = logto.token()
    forged = _reassemble(
        token, header={"alg": header_alg, "typ": "at+jwt", "kid": logto.signing_kid}
    )
    with pytest.raises(AlgorithmError):
        await validator.validate(forged)


async def test_algorithm_outside_allow_list_is_rejected(
    logto: FakeLogto, make_validator: MakeValidator
) -> None:
    validator = make_validator(algorithms=["RS256"])
    ec_kid = logto.signing_kid
    logto.add_key("RS256")
    with pytest.raises(InvalidTokenError):
        await validator.validate(logto.token(kid=ec_kid))  # ES384 key: not trusted here


@pytest.mark.parametrize("offset", [0, -1, -100])
async def test_token_at_or_after_exp_is_rejected(
    logto: FakeLogto, make_validator: MakeValidator, clock: FakeClock, offset: int
) -> None:
    validator = make_validator(leeway=0, token_cache_size=0)
    token = logto.token(exp=int(clock.now) + offset)
    with pytest.raises(ExpiredTokenError) as caught:
        await validator.validate(token)
    assert caught.value.claim == "exp"


async def test_token_one_second_before_exp_is_accepted(
    logto: FakeLogto, make_validator: MakeValidator, clock: FakeClock
) -> None:
    validator = make_validator(leeway=0)
    await validator.validate(logto.token(exp=int(clock.now) + 1))


async def test_leeway_edges_on_exp(
    logto: FakeLogto, make_validator: MakeValidator, clock: FakeClock
) -> None:
    validator = make_validator(leeway=30, token_cache_size=0)
    await validator.validate(logto.token(exp=int(clock.now) - 29))
    with pytest.raises(ExpiredTokenError):
        await validator.validate(logto.token(exp=int(clock.now) - 30))


@pytest.mark.parametrize(
    ("claim", "offset", "ok"),
    [("nbf", 30, True), ("nbf", 31, False), ("iat", 30, True), ("iat", 31, False)],
)
async def test_leeway_edges_on_nbf_and_iat(
    logto: FakeLogto,
    make_validator: MakeValidator,
    clock: FakeClock,
    claim: str,
    offset: int,
    ok: bool,
) -> None:
    validator = make_validator(leeway=30, token_cache_size=0)
    overrides: dict[str, Any] = {claim: int(clock.now) + offset}
    token = logto.token(**overrides)
    if ok:
        await validator.validate(token)
    else:
        with pytest.raises(ImmatureTokenError) as caught:
            await validator.validate(token)
        assert caught.value.claim == claim


async def test_cached_token_expires_with_its_exp(
    logto: FakeLogto, make_validator: MakeValidator, clock: FakeClock
) -> None:
    validator = make_validator(leeway=0)
    token = logto.token(ttl=60)
    await validator.validate(token)
    assert validator.cache_size == 1
    clock.advance(59)
    await validator.validate(token)
    clock.advance(1)
    with pytest.raises(ExpiredTokenError):
        await validator.validate(token)


@pytest.mark.parametrize(
    "aud",
    [
        "https://shopping.api",
        ["https://shopping.api"],
        ["https://other.api", "https://shopping.api"],
    ],
)
async def test_audience_as_string_or_list_containing_ours_is_accepted(
    logto: FakeLogto, validator: TokenValidator, aud: object
) -> None:
    await validator.validate(logto.token(aud=aud))


@pytest.mark.parametrize(
    "aud",
    [
        "https://other.api",
        ["https://other.api"],
        [],
        "urn:logto:resource:organizations",
        "https://shopping.api/",
        "HTTPS://SHOPPING.API",
        42,
        {"aud": "https://shopping.api"},
    ],
)
async def test_wrong_audience_is_rejected(
    logto: FakeLogto, validator: TokenValidator, aud: object
) -> None:
    with pytest.raises(InvalidClaimError) as caught:
        await validator.validate(logto.token(aud=aud))
    assert caught.value.claim == "aud"
    assert caught.value.description == "audience mismatch"


async def test_missing_audience_is_rejected(logto: FakeLogto, validator: TokenValidator) -> None:
    with pytest.raises(InvalidClaimError, match="audience"):
        await validator.validate(logto.token(aud=None))


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.logto.app/oidc",
        "https://tenant.logto.app/oidc/",
        "HTTPS://TENANT.LOGTO.APP/oidc",
        "https://tenant.logto.app",
        123,
        None,
    ],
)
async def test_wrong_issuer_is_rejected(
    logto: FakeLogto, validator: TokenValidator, iss: object
) -> None:
    with pytest.raises(InvalidClaimError) as caught:
        await validator.validate(logto.token(iss=iss))
    assert caught.value.claim == "iss"


async def test_several_issuers_are_accepted(
    logto: FakeLogto, make_validator: MakeValidator
) -> None:
    validator = make_validator(issuer=(logto.issuer, "https://auth.example.com/oidc"))
    await validator.validate(logto.token())
    await validator.validate(logto.token(iss="https://auth.example.com/oidc"))


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (None, frozenset()),
        ("", frozenset()),
        ("read:products", frozenset({"read:products"})),
        ("  read:products   write:products ", frozenset({"read:products", "write:products"})),
        # Only U+0020 separates (RFC 6749 §3.3): other spaces stay inside a scope-token.
        ("read:products\u00a0write:products", frozenset({"read:products\u00a0write:products"})),
        ("a\u2003b\tc d", frozenset({"a\u2003b\tc", "d"})),
    ],
)
async def test_scope_claim_forms(
    logto: FakeLogto, validator: TokenValidator, scope: str | None, expected: frozenset[str]
) -> None:
    claims: dict[str, Any] = {"scope": scope} if scope is not None else {}
    token = logto.token(**claims)
    if scope == "":  # overrides treat None as "remove"; "" must really be sent
        token = logto.token(scope="")
    assert (await validator.validate(token)).scopes == expected


@pytest.mark.parametrize("scope", [["read:products"], 1, True])
async def test_scope_that_is_not_a_string_is_rejected(
    logto: FakeLogto, validator: TokenValidator, scope: object
) -> None:
    with pytest.raises(InvalidClaimError) as caught:
        await validator.validate(logto.token(scope=scope))
    assert caught.value.claim == "scope"


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "at+JWT2", ""])
async def test_missing_or_wrong_typ_is_rejected(
    logto: FakeLogto, validator: TokenValidator, typ: str | None
) -> None:
    with pytest.raises(InvalidTypeError):
        await validator.validate(logto.token(typ=typ))


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
async def test_access_token_typ_spellings_are_accepted(
    logto: FakeLogto, validator: TokenValidator, typ: str
) -> None:
    await validator.validate(logto.token(typ=typ))


async def test_typ_check_can_be_turned_off(logto: FakeLogto, make_validator: MakeValidator) -> None:
    await make_validator(require_typ=None).validate(logto.token(typ="JWT"))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", None),
        ("exp", "1700003600"),
        ("exp", True),
        ("exp", 10**20),
        ("exp", -1),
        ("nbf", "soon"),
        ("iat", [1]),
        ("sub", None),
        ("sub", 7),
        ("client_id", 7),
        ("organization_id", {"id": 1}),
    ],
)
async def test_mistyped_or_missing_claims_are_rejected(
    logto: FakeLogto, validator: TokenValidator, claim: str, value: object
) -> None:
    overrides: dict[str, Any] = {claim: value}
    with pytest.raises(InvalidClaimError) as caught:
        await validator.validate(logto.token(**overrides))
    assert caught.value.claim == claim


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + ".x",
        lambda t: t.replace(".", "", 1),
        lambda t: "a" + t,
        lambda t: t[:-1] + "!",
        lambda t: t.split(".")[0] + "..",
        lambda t: "not-a-jwt",
    ],
)
async def test_structurally_broken_tokens_are_invalid_tokens(
    logto: FakeLogto, validator: TokenValidator, mangle: Callable[[str], str]
) -> None:
    with pytest.raises(InvalidTokenError):
        await validator.validate(mangle(logto.token()))


@pytest.mark.parametrize(
    "header",
    [
        b"not json",
        b"[1, 2]",
        b'{"alg": "ES384", "alg": "none", "typ": "at+jwt"}',
        b'{"alg": NaN}',
    ],
)
async def test_header_that_is_not_a_plain_json_object_is_malformed(
    logto: FakeLogto, validator: TokenValidator, header: bytes
) -> None:
    with pytest.raises(MalformedTokenError):
        await validator.validate(_reassemble(logto.token(), header=header))


async def test_duplicate_payload_members_are_rejected(
    logto: FakeLogto, validator: TokenValidator
) -> None:
    body = json.dumps(logto.claims())[:-1] + ', "aud": "https://shopping.api"}'
    header = {"alg": "ES384", "typ": "at+jwt", "kid": logto.signing_kid}
    # Validly signed: only the duplicate-member check can refuse it.
    with pytest.raises(MalformedTokenError):
        await validator.validate(logto.sign_raw(header, body.encode()))


async def test_oversized_token_is_rejected_before_parsing(
    logto: FakeLogto, make_validator: MakeValidator
) -> None:
    validator = make_validator(max_token_size=1024)
    token = logto.token(padding="x" * 2000)
    with pytest.raises(MalformedTokenError, match="too large"):
        await validator.validate(token)
    assert logto.jwks_requests == 0


async def test_crit_and_b64_headers_are_rejected(
    logto: FakeLogto, validator: TokenValidator
) -> None:
    with pytest.raises(MalformedTokenError):
        await validator.validate(logto.token(headers={"crit": ["exp"], "exp": 1}))
    with pytest.raises(MalformedTokenError):
        await validator.validate(logto.token(headers={"b64": False, "crit": ["b64"]}))


async def test_cache_hit_still_checks_the_signing_key_is_published(
    logto: FakeLogto, clock: FakeClock
) -> None:
    config = GuardConfig.from_options(endpoint=logto.endpoint, audience=logto.audience)
    jwks = JWKSCache.for_config(config, http_client=logto.http_client(), clock=clock)
    validator = TokenValidator(config, jwks, clock=clock)
    old_kid = logto.signing_kid
    token = logto.token()
    await validator.validate(token)
    logto.rotate()
    logto.remove_key(old_kid)
    clock.advance(601)  # past the JWKS max age: the next use refreshes the key set
    await validator.validate(token)  # still served from the old set while refreshing
    await settled(jwks)
    with pytest.raises(InvalidTokenError):
        await validator.validate(token)
    assert validator.cache_size == 0


async def test_non_canonical_signature_encoding_is_rejected(
    logto: FakeLogto, validator: TokenValidator
) -> None:
    """RS256 signatures leave 4 unused bits in the last base64url character."""
    logto.rotate("RS256")
    token = logto.token()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    variant = token[:-1] + alphabet[last ^ 1]
    assert base64.urlsafe_b64decode(variant.split(".")[2] + "==") == base64.urlsafe_b64decode(
        token.split(".")[2] + "=="
    )
    await validator.validate(token)
    with pytest.raises(InvalidSignatureError):
        await validator.validate(variant)


async def test_only_fully_verified_tokens_are_cached(
    logto: FakeLogto, make_validator: MakeValidator
) -> None:
    validator = make_validator()
    good = logto.token()
    for bad in (good[:-4] + "AAAA", logto.token(exp=1), logto.token(iss="https://x/oidc")):
        with pytest.raises(InvalidTokenError):
            await validator.validate(bad)
    assert validator.cache_size == 0
    await validator.validate(good)
    assert validator.cache_size == 1


async def test_cache_is_bounded_and_can_be_turned_off(
    logto: FakeLogto, make_validator: MakeValidator
) -> None:
    small, off = make_validator(token_cache_size=2), make_validator(token_cache_size=0)
    for _ in range(5):
        token = logto.token()
        await small.validate(token)
        await off.validate(token)
    assert (small.cache_size, off.cache_size) == (2, 0)


async def test_cache_hit_still_checks_the_audience_of_the_call(
    logto: FakeLogto, validator: TokenValidator, make_validator: MakeValidator
) -> None:
    cached = make_validator()
    token = logto.token()
    await cached.validate(token)
    with pytest.raises(InvalidClaimError, match="audience"):
        await cached.validate(token, audience="https://other.api")


async def test_peek_never_accepts_a_cached_token_for_another_api(
    logto: FakeLogto, make_validator: MakeValidator
) -> None:
    cached = make_validator()
    token = logto.token(aud="https://other.api")
    for _ in range(2):  # verified, then remembered: the warm path must refuse it too
        with pytest.raises(InvalidClaimError, match="audience"):
            await cached.validate(token)
        assert cached.cache_size == 1
        assert cached.peek(token) is None


@pytest.mark.parametrize("aud", ["https://shopping.api", "https://shopping.api/"])
async def test_peek_takes_either_trailing_slash_spelling_like_validate(
    logto: FakeLogto, make_validator: MakeValidator, aud: str
) -> None:
    cached = make_validator(match_trailing_slash=True)
    token = logto.token(aud=aud)
    info = await cached.validate(token)
    assert cached.peek(token) == info
    assert info.audience == "https://shopping.api"
