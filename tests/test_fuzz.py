"""Fuzzing the guarded demo API: whatever ``Authorization`` holds, never a 500.

Each test builds the demo shopping API with a FakeLogto-backed guard and drives it
synchronously through one anyio blocking portal, so all examples of a test share one event
loop, one guard and its JWKS cache (as a running server would). Properties:

* arbitrary header values (printable latin-1, zero to three headers) get 400 or 401;
* random base64url segments, and JSON headers with random ``alg``/``kid``/``typ``, assembled
  into one to five part tokens get 401 ``invalid_token`` (400 when empty);
* mutations of a valid token (bit flips in its text or in decoded segment bytes, segment
  swaps, truncations, insertions, deletions) get 400 or 401, and 200 only when the mutations
  left the token unchanged;
* random claims validly signed by the trusted key get exactly what the guard's own table
  of claim rules says (``logto_guard._core.claims``, also behind ``inspect``): 200, 403
  (valid, no ``read:products``, or an organization token) or 401.

Every refusal carries one well-formed ``Bearer`` challenge that agrees with the JSON body.
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from demo_api.app import create_app
from demo_api.settings import Settings
from logto_guard import AuthError, GuardConfig, InvalidClaimError, LogtoGuard
from logto_guard._core.claims import (
    Rules,
    audiences_of,
    check_claims,
    require_audience,
)
from logto_guard._core.scopes import require_organization_allowed, require_scopes, scopes_in
from logto_guard.testing import FakeLogto

REALM = "https://shopping.api"
MAX_TIMESTAMP = 253402300799
FUZZ = settings(max_examples=300, deadline=None, database=None)

#: What a real HTTP server lets through in a header value: printable latin-1 and tab.
HEADER_CHARS = "\t" + "".join(map(chr, range(0x20, 0x7F))) + "".join(map(chr, range(0xA0, 0x100)))
HEADER_BYTES = frozenset(HEADER_CHARS.encode("latin-1"))
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
B64TOKEN_ISH = B64URL + ".=+/~ "


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(segment: bytes) -> bytes:
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


@dataclass(frozen=True)
class Demo:
    """The demo app behind a blocking portal: ``get`` sends one ``GET /products``."""

    logto: FakeLogto
    portal: BlockingPortal
    client: httpx.AsyncClient

    def get(self, authorization: Sequence[bytes]) -> httpx.Response:
        headers = [(b"Authorization", value) for value in authorization]
        return self.portal.call(_get, self.client, headers)

    def bearer(self, token: bytes) -> httpx.Response:
        return self.get([b"Bearer " + token])


async def _get(client: httpx.AsyncClient, headers: list[tuple[bytes, bytes]]) -> httpx.Response:
    return await client.get("/products", headers=headers)


@contextmanager
def demo() -> Iterator[Demo]:
    logto = FakeLogto()
    with tempfile.TemporaryDirectory() as tmp, start_blocking_portal() as portal:
        jwks_client = logto.http_client()
        guard = LogtoGuard(
            endpoint=logto.endpoint, audience=logto.audience, http_client=jwks_client
        )
        settings_ = Settings(endpoint=logto.endpoint, db_path=str(Path(tmp) / "shop.sqlite3"))
        app = create_app(settings_, guard=guard)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        try:
            yield Demo(logto=logto, portal=portal, client=client)
        finally:
            portal.call(client.aclose)
            portal.call(jwks_client.aclose)


def check(response: httpx.Response, allowed: frozenset[int] = frozenset({400, 401})) -> None:
    """Status in ``allowed``; refusals carry a Bearer challenge agreeing with the body."""
    shown = (response.status_code, response.text[:300], dict(response.headers))
    assert response.status_code in allowed, shown
    if response.status_code == 200:
        assert "www-authenticate" not in response.headers, shown
        return
    body = response.json()
    if response.status_code == 503:
        # An unknown kid while a JWKS refetch is held back (1 s spacing): retry, not "bad token".
        assert response.headers.get("retry-after", "").isdigit(), shown
        assert "www-authenticate" not in response.headers, shown
        return
    error = body.get("error")
    expected_error = {400: "invalid_request", 403: "insufficient_scope"}.get(response.status_code)
    if response.status_code == 401:
        assert error in (None, "invalid_token"), shown
    else:
        assert error == expected_error, shown
    challenges = response.headers.get_list("www-authenticate")
    assert len(challenges) == 1, shown
    challenge = challenges[0]
    assert challenge.isascii() and challenge.isprintable(), shown
    if error is None:
        assert challenge == f'Bearer realm="{REALM}"', shown
    else:
        assert challenge.startswith(f'Bearer realm="{REALM}", error="{error}", '), shown
        assert 'error_description="' in challenge, shown


# --------------------------------------------------------------------------- strategies

header_text = st.text(alphabet=HEADER_CHARS, max_size=200)
b64token_ish = st.text(alphabet=B64TOKEN_ISH, max_size=200)
prefixes = st.sampled_from(
    ["", "Bearer ", "bearer ", "BEARER ", "Bearer   ", "  Bearer ", "Bearer\t", "Basic ", "Bearer"]
)
header_values = st.one_of(
    st.builds(lambda prefix, text: (prefix + text).encode("latin-1"), prefixes, header_text),
    st.builds(lambda prefix, text: (prefix + text).encode("latin-1"), prefixes, b64token_ish),
    st.binary(max_size=200).filter(lambda raw: set(raw) <= HEADER_BYTES),
)

segments = st.text(alphabet=B64URL, max_size=100)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=4,
)


def _header_segment(kids: Sequence[str]) -> st.SearchStrategy[str]:
    member = {
        "alg": st.sampled_from(["ES384", "ES256", "RS256", "HS256", "none", "EdDSA"]) | json_values,
        "kid": st.sampled_from(list(kids)) | json_values,
        "typ": st.sampled_from(["at+jwt", "JWT", "application/at+jwt"]) | json_values,
        "crit": json_values,
        "jku": st.just("https://attacker.example/jwks.json"),
        "b64": st.booleans(),
    }
    headers = st.fixed_dictionaries({}, optional=member)
    extra = st.dictionaries(st.text(max_size=5), json_values, max_size=2)
    return st.builds(
        lambda header, more: b64(json.dumps({**more, **header}).encode()), headers, extra
    )


KINDS = ("flip", "flip-decoded", "swap", "truncate", "delete", "insert", "duplicate")
PERMUTATIONS = ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


@dataclass(frozen=True)
class Mutation:
    """One edit of a token: ``at`` picks a position or segment, ``bit`` a bit, ``char`` text."""

    kind: str
    at: int
    bit: int
    char: str

    def apply(self, token: bytes) -> bytes:
        if not token:
            return token
        position = self.at % len(token)
        parts = token.split(b".")
        segment = self.at % len(parts)
        if self.kind == "flip":
            flipped = token[position] ^ (1 << self.bit)
            return token[:position] + bytes([flipped]) + token[position + 1 :]
        if self.kind == "flip-decoded":
            try:
                raw = bytearray(unb64(parts[segment]))
            except (binascii.Error, ValueError):
                return token
            if not raw:
                return token
            raw[self.at % len(raw)] ^= 1 << self.bit
            parts[segment] = b64(bytes(raw)).encode("ascii")
            return b".".join(parts)
        if self.kind == "swap" and len(parts) == 3:
            order = PERMUTATIONS[self.at % len(PERMUTATIONS)]
            return b".".join(parts[i] for i in order)
        if self.kind == "truncate":
            return token[:position]
        if self.kind == "delete":
            return token[:position] + token[position + 1 :]
        if self.kind == "insert":
            return token[:position] + self.char.encode("latin-1") + token[position:]
        if self.kind == "duplicate":
            parts.insert(segment, parts[segment])
            return b".".join(parts)
        return token


mutations = st.builds(
    Mutation,
    kind=st.sampled_from(KINDS),
    at=st.integers(min_value=0, max_value=10_000),
    bit=st.integers(min_value=0, max_value=7),
    char=st.sampled_from(HEADER_CHARS),
)

# Time claims: offsets kept well away from the leeway edges, plus every shape of nonsense.
_OFFSETS = (-7200, -3600, -60, -5, 0, 5, 60, 3600, 86400)
time_values = st.one_of(
    st.sampled_from(_OFFSETS).map(lambda offset: int(time.time()) + offset),
    st.sampled_from(_OFFSETS).map(lambda offset: time.time() + offset + 0.5),
    st.sampled_from([10**400, -(10**400), 2**1024, 10**20, 2**63]),  # beyond any float
    st.sampled_from([0, -1, MAX_TIMESTAMP, MAX_TIMESTAMP + 1]),
    st.integers(),
    st.floats(),
    json_scalars,
)


def _claims(logto: FakeLogto) -> st.SearchStrategy[dict[str, Any]]:
    """A valid token's claims with one to three of them replaced and maybe one removed.

    Starting from valid claims lets every check be reached, not only the first (``iss``).
    """
    strings = st.sampled_from([logto.app_id, ""]) | json_values
    hostile: dict[str, st.SearchStrategy[Any]] = {
        "iss": st.sampled_from([logto.issuer, logto.issuer + "/", logto.endpoint]) | json_values,
        "aud": st.sampled_from([REALM, [REALM], ["x", REALM], "urn:logto:resource:organizations"])
        | json_values,
        "exp": time_values,
        "nbf": time_values,
        "iat": time_values,
        "sub": strings,
        "client_id": strings,
        "organization_id": strings,
        "scope": st.sampled_from(
            ["read:products", "write:products read:products", " read:products ", "", "x"]
        )
        | json_values,
        "jti": json_values,
    }
    names = sorted(hostile)
    overrides = st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({name: hostile[name] for name in chosen})
    )

    def build(replaced: dict[str, Any], removed: list[str]) -> dict[str, Any]:
        claims = logto.claims(scopes=["read:products"])
        claims.update(replaced)
        for name in removed:
            claims.pop(name, None)
        return claims

    return st.builds(build, overrides, st.lists(st.sampled_from(names), max_size=1))


def expected_status(claims: dict[str, Any], now: float, config: GuardConfig) -> int:
    """The answer the contract gives a validly signed token carrying ``claims``, by the
    guard's own table of claim rules (the one inspect reports with): what is fuzzed here is
    that the HTTP path applies exactly those rules (PyJWT is the independent reference, in
    tests/test_differential.py)."""
    rules = Rules.of(config)
    try:
        check_claims(claims, rules, now)
        require_audience(rules.audiences, audiences_of(claims, rules))
    except InvalidClaimError:
        return 401
    try:
        require_organization_allowed(claims.get("organization_id"), config)  # issue 16
        require_scopes(["read:products"], frozenset(scopes_in(claims.get("scope"))))
    except AuthError:
        return 403
    return 200


# --------------------------------------------------------------------------- the properties


def test_arbitrary_authorization_headers_get_400_or_401() -> None:
    """Any printable latin-1 header values, zero to three of them: a refusal, never a 500."""
    with demo() as app:

        @FUZZ
        @given(st.lists(header_values, max_size=3))
        def run(values: list[bytes]) -> None:
            check(app.get(values))

        run()


def test_random_base64url_tokens_get_invalid_token() -> None:
    """Random segments and random JSON headers, one to five parts: 401 invalid_token."""
    with demo() as app:
        kids = [app.logto.signing_kid, "unknown", "../../etc/passwd"]
        part = segments | _header_segment(kids)

        @FUZZ
        @given(st.lists(part, min_size=1, max_size=5))
        def run(parts: list[str]) -> None:
            token = ".".join(parts)
            response = app.bearer(token.encode("ascii"))
            if token:
                check(response, frozenset({401}))
                assert response.json()["error"] == "invalid_token"
            else:
                check(response, frozenset({400}))

        run()


def test_mutated_valid_tokens_are_refused() -> None:
    """Bit flips, swaps, truncations, insertions of a valid token: 400/401 unless a no-op."""
    with demo() as app:
        token = app.logto.token(scopes=["read:products"]).encode("ascii")
        check(app.bearer(token), frozenset({200}))

        @FUZZ
        @given(st.lists(mutations, min_size=1, max_size=3))
        def run(edits: list[Mutation]) -> None:
            mutated = token
            for edit in edits:
                mutated = edit.apply(mutated)
            assume(set(mutated) <= HEADER_BYTES)
            response = app.bearer(mutated)
            # Trailing spaces and tabs are optional whitespace trimmed off a field (RFC 9110
            # §5.5), and "Bearer" may be followed by several spaces (RFC 6750 §2.1: 1*SP):
            # such a "mutation" still carries the valid token.
            same = mutated.rstrip(b" \t").lstrip(b" ") == token
            # A mutated kid is unknown: 401 after a refetch, 503 while one is held back.
            check(response, frozenset({200}) if same else frozenset({400, 401, 503}))

        run()


def test_validly_signed_random_claims_get_the_contract_answer() -> None:
    """Random claims signed by the trusted key: 200, 403 or 401 exactly as the contract says."""
    with demo() as app:
        header = {"alg": "ES384", "typ": "at+jwt", "kid": app.logto.signing_kid}
        config = GuardConfig(endpoint=app.logto.endpoint, audience=app.logto.audience)

        @FUZZ
        @given(_claims(app.logto))
        def run(claims: dict[str, Any]) -> None:
            token = app.logto.sign_raw(header, json.dumps(claims).encode())
            response = app.bearer(token.encode("ascii"))
            status = expected_status(claims, time.time(), config)
            check(response, frozenset({status}))

        run()


@pytest.mark.parametrize(
    ("before", "after", "status"),
    [(b"  ", b"", 200), (b"", b" \t", 200), (b"\t", b"", 400)],
)
def test_whitespace_around_a_valid_token(before: bytes, after: bytes, status: int) -> None:
    """What the mutation fuzzer met by chance: extra spaces after "Bearer" or trailing
    whitespace keep a valid token valid; a tab before it is not a b64token."""
    with demo() as app:
        token = app.logto.token(scopes=["read:products"]).encode("ascii")
        check(app.bearer(before + token + after), frozenset({status}))
