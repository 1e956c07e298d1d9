"""Differential verdicts: the guard never accepts a token that strict PyJWT refuses.

Tokens are signed with the trusted key (``FakeLogto.sign_raw``, raw JSON bytes) while
hypothesis varies the header and the claims: types (strings, numbers, booleans, null,
lists, objects), missing members, times at the ``exp``/``nbf``/``iat`` boundaries with
leeway, audiences as lists, duplicate members, unusual ``typ``, whitespace and encodings
of the JSON. The reference is PyJWT configured as strictly as the guard: the trusted key,
``algorithms=[its alg]``, ``require=["exp", "iss", "aud", "sub"]``, the same audience,
issuer and leeway, and ``typ`` checked by hand on the header as RFC 9068 §4 and RFC 7515
§4.1.9 say (``at+jwt``, any case, ``application/`` prefix optional).

* Guard accepts, PyJWT refuses: always a failure. The suite's first run found three such
  cases (:data:`FIXED_FINDINGS`); the guard now refuses them, and each keeps a reproducer
  below.
* Guard refuses, PyJWT accepts: allowed only for the deliberate differences listed in
  :data:`DELIBERATE` (keyed by the guard's fixed refusal description); SECURITY.md
  ("Differences from PyJWT") documents the same list. A new kind of difference fails.

PyJWT reads the wall clock (it takes no clock argument), so the guard's injected clock is
set to the wall clock just before PyJWT runs; an example whose time boundary falls between
the two readings is discarded (the verdict would depend on which microsecond each read).

``HYPOTHESIS_PROFILE=long`` (see conftest.py) runs many more examples.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from logto_guard import Authenticator, AuthError, KeysUnavailableError
from logto_guard.testing import FakeClock, FakeLogto

LEEWAY = 30
ALG = "ES256"  # Logto's P-256 keys; fast to sign, so the examples stay cheap
ENDPOINT = "https://tenant.logto.app"
AUDIENCE = "https://shopping.api"
ISSUER = f"{ENDPOINT}/oidc"
EXAMPLES = settings(max_examples=max(400, settings().max_examples), deadline=None, database=None)

#: Where the guard is stricter than PyJWT on purpose: the guard's refusal description ->
#: why. Kept in step with SECURITY.md, "Differences from PyJWT".
DELIBERATE: dict[str, str] = {
    "token header is not valid base64url JSON": "duplicate member names, a byte-order mark, "
    "UTF-16/32 or NaN/Infinity in the header JSON",
    "token payload is not valid base64url JSON": "duplicate member names, a byte-order mark, "
    "UTF-16/32 or NaN/Infinity in the payload JSON",
    "exp claim is not a number": "exp as a numeric string or a boolean",
    "nbf claim is not a number": "nbf as a numeric string or a boolean",
    "iat claim is not a number": "iat as a numeric string or a boolean",
    "exp claim is out of range": "exp beyond year 9999 or negative",
    "nbf claim is out of range": "nbf beyond year 9999 or negative",
    "iat claim is out of range": "iat beyond year 9999 or negative",
    "token not yet valid": "fractional nbf (PyJWT truncates it to whole seconds)",
    "token issued in the future": "iat in the future (PyJWT truncates fractional iat)",
    "missing sub claim": "an empty sub",
    "scope claim is not a string": "a non-string scope",
    "client_id claim is not a string": "a non-string client_id",
    "organization_id claim is not a string": "a non-string organization_id",
    "unsupported critical header": "any crit or b64 header (no extension is understood)",
    "kid header is missing or not a string": "kid missing, empty or over 1024 characters",
    "signing key not found": "a kid naming no published key (PyJWT, handed the key, ignores kid)",
}

#: Guard accepted, PyJWT refused: found by this suite, fixed in the validator.
FIXED_FINDINGS = {
    "aud-list-with-non-strings": "aud is a list holding the audience and a non-string",
    "jti-not-a-string": "jti is present but not a string",
    "fractional-exp": "exp has a fraction and lies within a second of expiry",
}

JSONValue = Any
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(max_size=12),
)
ANY_JSON: st.SearchStrategy[JSONValue] = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
MISSING = object()


def time_values(now_base: int) -> st.SearchStrategy[JSONValue]:
    """Times around every boundary: now, now +- leeway, fractions, strings, extremes."""
    offsets = [-LEEWAY - 1, -LEEWAY, -LEEWAY + 1, -1, 0, 1, LEEWAY - 1, LEEWAY, LEEWAY + 1]
    near = st.builds(
        lambda offset, fraction: now_base + offset + fraction,
        st.sampled_from(offsets),
        st.sampled_from([0, 0, 0, 0.25, 0.5, 0.75, -0.5]),
    )
    far = st.sampled_from([0, -1, 3600, 253402300799, 253402300800, 10**20, 2**63])
    return st.one_of(
        near,
        near.map(lambda value: value if isinstance(value, int) else round(value)).map(str),
        st.builds(lambda offset: now_base + offset, far),
        far,
        st.booleans(),
        ANY_JSON,
    )


def claim_variants(name: str, now_base: int) -> st.SearchStrategy[JSONValue]:
    if name in {"exp", "nbf", "iat"}:
        return time_values(now_base)
    if name == "aud":
        audiences = [AUDIENCE, "https://other.api", AUDIENCE + "/", AUDIENCE.upper(), ""]
        return st.one_of(
            st.sampled_from(audiences),
            st.lists(st.sampled_from([*audiences, 1, None, True]), max_size=3),
            ANY_JSON,
        )
    if name == "iss":
        return st.one_of(
            st.sampled_from([ISSUER, ISSUER + "/", ISSUER.upper(), ENDPOINT, [ISSUER], ""]),
            ANY_JSON,
        )
    return st.one_of(st.sampled_from(["app", "", " ", "a b"]), ANY_JSON)


TYPS = st.sampled_from(
    [
        "at+jwt",
        "AT+JWT",
        "At+Jwt",
        "application/at+jwt",
        "APPLICATION/AT+JWT",
        "application/application/at+jwt",
        "jwt",
        "JWT",
        "application/jwt",
        " at+jwt",
        "at+jwt ",
        "at+jwt; charset=utf-8",
        "",
        None,
        1,
        ["at+jwt"],
        MISSING,
    ]
)


@dataclass(frozen=True)
class Layout:
    """How a JSON object is spelled: separators, indentation, padding, encoding."""

    item: str
    colon: str
    pad: str
    encoding: str

    def dump(self, pairs: list[tuple[str, JSONValue]]) -> bytes:
        body = self.item.join(
            f"{json.dumps(name)}{self.colon}{json.dumps(value)}" for name, value in pairs
        )
        text = f"{self.pad}{{{self.pad}{body}{self.pad}}}{self.pad}"
        return text.encode(self.encoding)


LAYOUTS = st.builds(
    Layout,
    item=st.sampled_from([",", ", ", " ,\n ", ",\t"]),
    colon=st.sampled_from([":", ": ", " : ", ":\n"]),
    pad=st.sampled_from(["", "", " ", "\n", "\r\n\t "]),
    encoding=st.sampled_from(["utf-8"] * 8 + ["utf-8-sig", "utf-16", "utf-32"]),
)


@st.composite
def members(
    draw: st.DrawFn, base: dict[str, JSONValue], variants: Callable[[str], st.SearchStrategy[Any]]
) -> list[tuple[str, JSONValue]]:
    """``base`` with some members changed, removed or added, maybe one duplicated."""
    pairs: dict[str, JSONValue] = dict(base)
    for name in draw(st.lists(st.sampled_from(sorted(base)), max_size=3, unique=True)):
        value = draw(st.one_of(variants(name), st.just(MISSING)))
        if value is MISSING:
            del pairs[name]
        else:
            pairs[name] = value
    items = list(pairs.items())
    if draw(st.integers(0, 9)) == 0 and items:
        name = draw(st.sampled_from([name for name, _ in items]))
        duplicate = (name, draw(st.one_of(st.just(pairs[name]), variants(name))))
        items.insert(draw(st.integers(0, len(items))), duplicate)
    return items


@dataclass
class Differential:
    """The guard (injected clock) and the trusted key PyJWT verifies with."""

    logto: FakeLogto
    authenticator: Authenticator
    clock: FakeClock
    stricter: Counter[str]

    def guard_verdict(self, token: str) -> AuthError | None:
        try:
            asyncio.run(self.authenticator.authenticate([f"Bearer {token}"]))
        except AuthError as exc:  # a 503 for a forged kid (refetch held back) refuses too
            return exc
        return None


@pytest.fixture(scope="module")
def differential() -> Differential:
    authenticator = Authenticator(
        endpoint=ENDPOINT,
        audience=AUDIENCE,
        leeway=LEEWAY,
        token_cache_size=0,  # every example is verified in full
        clock=(clock := FakeClock()),
    )
    logto = FakeLogto.for_guard(authenticator, alg=ALG)
    logto.trust(authenticator)
    return Differential(logto, authenticator, clock, Counter())


def typ_ok(header: dict[str, Any]) -> bool:
    """RFC 9068 §4 with RFC 7515 §4.1.9: ``at+jwt``, any case, optional ``application/``."""
    typ = header.get("typ")
    if not isinstance(typ, str):
        return False
    typ = typ.lower()
    return typ in {"at+jwt", "application/at+jwt"}


def pyjwt_verdict(logto: FakeLogto, token: str) -> Exception | None:
    """PyJWT as strict as the guard; any exception is a refusal."""
    try:
        header = jwt.get_unverified_header(token)
        if not typ_ok(header):
            return jwt.InvalidTokenError("typ is not at+jwt")
        jwt.decode(
            token,
            key=logto.key().public_key(),
            algorithms=[ALG],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except Exception as exc:  # a refusal, whatever PyJWT raised (even OverflowError)
        return exc
    return None


def time_boundaries(claims: dict[str, Any]) -> list[float]:
    """The instants at which a time claim flips either verdict."""
    edges = []
    for name, shift in (("exp", LEEWAY), ("nbf", -LEEWAY), ("iat", -LEEWAY)):
        value = claims.get(name)
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            continue
        edges += [number + shift, int(number) + shift]
    return edges


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def respell_signature(token: str, unused_bits: int) -> str:
    """The same signature bytes, spelled with non-zero unused bits in the last character
    (base64 decoders that ignore them, like Python's, read the same bytes)."""
    head, signature = token.rsplit(".", 1)
    spare = {2: 0b1111, 3: 0b11}.get(len(signature) % 4, 0)  # bits the data leaves unused
    if not spare:
        return token
    last = B64URL.index(signature[-1])
    return f"{head}.{signature[:-1]}{B64URL[last | (unused_bits & spare)]}"


def loads_last_wins(raw: bytes) -> Any:
    """How PyJWT reads the payload: ``json.loads`` on bytes, the last duplicate wins."""
    try:
        return json.loads(raw)
    except ValueError:
        return None


@EXAMPLES
@given(data=st.data())
def test_guard_never_accepts_what_strict_pyjwt_refuses(
    differential: Differential, data: st.DataObject
) -> None:
    now_base = int(time.time())
    logto = differential.logto
    base_claims = logto.claims(scopes=["read:products"], iat=now_base, exp=now_base + 3600)
    base_claims["nbf"] = now_base
    claims = data.draw(members(base_claims, lambda name: claim_variants(name, now_base)))
    header_base = {"alg": ALG, "typ": "at+jwt", "kid": logto.signing_kid}
    header = data.draw(
        members(
            header_base,
            lambda name: TYPS if name == "typ" else st.one_of(st.just(ALG), ANY_JSON),
        )
    )
    header = [(name, value) for name, value in header if value is not MISSING]
    extra = data.draw(
        st.lists(
            st.tuples(st.sampled_from(["crit", "b64", "jku", "x5u", "cty", "zip"]), ANY_JSON),
            max_size=1,
        )
    )
    header_raw = data.draw(LAYOUTS).dump([*header, *extra])
    payload_raw = data.draw(LAYOUTS).dump(claims)
    token = logto.sign_raw(header_raw, payload_raw)
    respelled = data.draw(st.integers(0, 9)) == 0
    if respelled:
        token = respell_signature(token, data.draw(st.integers(1, 3)))

    started = differential.clock.now = time.time()
    guard = differential.guard_verdict(token)
    reference = pyjwt_verdict(logto, token)
    finished = time.time()
    parsed = loads_last_wins(payload_raw)
    if isinstance(parsed, dict):
        edges = time_boundaries(parsed)
        assume(not any(started - 0.01 <= edge <= finished + 0.01 for edge in edges))

    if guard is None and reference is not None:
        raise AssertionError(f"guard ACCEPTS a token PyJWT refuses ({reference!r}): {token}")
    if guard is not None and reference is None:
        description = guard.description
        if isinstance(guard, KeysUnavailableError):
            # An unknown kid while a JWKS refetch is held back (1 s spacing) is a 503, the
            # same deliberate difference as its 401; a 503 for the published kid is a bug.
            assert dict(header).get("kid") != logto.signing_kid, token
            description = "signing key not found"
        if description == "signature verification failed":
            assert respelled, f"guard refuses a valid signature PyJWT accepts: {token}"
        assert description in DELIBERATE, (
            f"undocumented difference: guard refuses ({guard.reason}: {guard.description}), "
            f"PyJWT accepts: {token}"
        )
        differential.stricter[description] += 1


def test_differential_examples_reach_both_kinds_of_verdict(differential: Differential) -> None:
    """The generator is not degenerate: it produced deliberate differences."""
    assert differential.stricter, "no example exercised a deliberate difference"


# --- the fixed findings, one reproducer each ------------------------------------------


def _verdicts(
    differential: Differential, guard_now: float, claims: dict[str, Any]
) -> tuple[bool, bool]:
    now = int(time.time())
    base = differential.logto.claims(scopes=["read:products"], iat=now, exp=now + 3600)
    base.update(claims)
    token = differential.logto.sign_raw(
        {"alg": ALG, "typ": "at+jwt", "kid": differential.logto.signing_kid}, base
    )
    differential.clock.now = guard_now
    guard_accepts = differential.guard_verdict(token) is None
    return guard_accepts, pyjwt_verdict(differential.logto, token) is None


# Each takes the wall-clock second (<= what PyJWT will read) and returns the guard's "now"
# and the claims that show the finding.
REPRODUCERS: dict[str, Callable[[int], tuple[float, dict[str, Any]]]] = {
    "aud-list-with-non-strings": lambda second: (second, {"aud": [AUDIENCE, 1]}),
    "jti-not-a-string": lambda second: (second, {"jti": 12345}),
    # Half a second before expiry (leeway included) for the guard; PyJWT truncates exp to
    # whole seconds, so for it the token expired at the start of that second.
    "fractional-exp": lambda second: (second, {"exp": second - LEEWAY + 0.5}),
}


@pytest.mark.parametrize("finding", sorted(FIXED_FINDINGS))
def test_finding_reproducer_is_refused_by_pyjwt(differential: Differential, finding: str) -> None:
    guard_now, claims = REPRODUCERS[finding](int(time.time()))
    assert not _verdicts(differential, guard_now, claims)[1]


@pytest.mark.parametrize("finding", sorted(FIXED_FINDINGS))
def test_finding_is_refused_by_the_guard(differential: Differential, finding: str) -> None:
    guard_now, claims = REPRODUCERS[finding](int(time.time()))
    assert not _verdicts(differential, guard_now, claims)[0]
