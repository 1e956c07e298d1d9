"""``logto-guard inspect`` agrees with the guard: its first FAIL names the guard's refusal.

Every case of the attack corpus (``CASES`` of tests/test_attacks.py) that sends one bearer
token is shown to the guard (the :class:`Authenticator` every front end calls, configured
as the demo's guard, requiring the scope of the case's route) and to ``logto-guard
inspect`` (the CLI: the same JWKS, the same configuration, ``--scope`` of the route). A
refused token: inspect's first ``FAIL`` line names the guard's refusal as
``[reason: description]`` and the verdict says the same. An accepted token: no ``FAIL``
line and ``verdict: VALID``. The cases about the ``Authorization`` header itself (scheme,
spacing, raw bytes) carry no token to inspect.

The drift that started this (issue 17): ``aud=[ours, 5]``, a fractional ``exp`` in its last
second and a numeric ``jti`` printed PASS on every line, then ``verdict: INVALID``; an
organization token printed INFO. They are cases below, with tokens breaking two rules (the
first FAIL is still the refusal: inspect reports in the guard's order).
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logto_guard import Authenticator, AuthInfo
from logto_guard._cli import main as cli_main
from logto_guard._cli._report import inspect_token
from logto_guard.testing import FakeClock, FakeLogto

from .test_attacks import ACCEPT, CASES, Case, RecordingTransport, World, make_world, single_bearer

pytestmark = pytest.mark.anyio

T0 = 1_700_000_000
_FAIL = re.compile(r"FAIL  (\S+) +.*? \[([a-z_]+): ([^\[\]]+)\](?: \[unverified\])?")


def first_fail(out: str) -> tuple[str, str] | None:
    """``(reason, description)`` named by the first FAIL line of a report."""
    for line in out.splitlines():
        if line.startswith("FAIL"):
            match = _FAIL.fullmatch(line)
            assert match is not None, f"a FAIL line names no refusal: {line}"
            return match[2], match[3]
    return None


async def agree(
    endpoint: str,
    audience: str,
    token: str,
    scope: str,
    client: Callable[[], httpx.AsyncClient],
    clock: Callable[[], float] | None = None,
) -> tuple[int, str | None, str]:
    """Ask the guard and inspect about ``token``; assert they agree. Returns the guard's
    status code (200 when accepted), its reason and inspect's report."""
    async with client() as http_client:
        guard = Authenticator(
            endpoint=endpoint,
            audience=audience,
            http_client=http_client,
            metrics=False,
            clock=clock or time.time,
        )
        answer = await guard.check([f"Bearer {token}"], [scope])
        await guard.aclose()
    out, err = io.StringIO(), io.StringIO()
    argv = ["inspect", "-", "--endpoint", endpoint, "--audience", audience, "--scope", scope]
    async with client() as cli_client:
        status = await asyncio.to_thread(
            cli_main,
            argv,
            http_client=cli_client,
            clock=clock,
            stdin=io.StringIO(token),
            stdout=out,
            stderr=err,
            environ={},
        )
    report = out.getvalue()
    verdict = report.splitlines()[-1] if report else err.getvalue()
    if isinstance(answer, AuthInfo):
        assert first_fail(report) is None, report
        assert (verdict, status) == ("verdict: VALID", 0), report
        return 200, None, report
    assert answer is not None
    error = answer.error
    assert first_fail(report) == (error.reason, error.description), report
    assert verdict == f"verdict: INVALID: {error.reason}: {error.description}", report
    assert status == 1, report
    return answer.status_code, error.reason, report


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


TOKEN_CASES = [pytest.param(case, id=case.id) for case in CASES]


@pytest.mark.parametrize("case", TOKEN_CASES)
async def test_inspect_first_fail_is_the_guards_refusal(case: Case, world: World) -> None:
    """For each attack, inspect's first FAIL names the refusal; accepted: no FAIL at all."""
    token = single_bearer(case, world)
    if token is None:
        assert case.category in {"authz", "encoding", "struct"}, case.id  # header-level cases
        return
    scope = "read:products" if case.route == "read" else "write:products"
    logto = world.logto
    recorder = RecordingTransport(world)
    status, _, _ = await agree(logto.endpoint, logto.audience, token, scope, recorder.client)
    # The guard answers as the attack suite expects over HTTP (a 201 is the write route's 200).
    assert status == (200 if case.expect == ACCEPT else case.expect[0]), case.id


def test_most_of_the_corpus_carries_a_token_to_inspect(world: World) -> None:
    carried = [case for case in CASES if single_bearer(case, world) is not None]
    assert len(CASES) >= 289
    assert len(carried) >= 259, len(carried)  # 30 cases are about the header itself
    assert sum(case.expect == ACCEPT for case in carried) >= 18


# --------------------------------------------------------------------------- the drift


def _raw(logto: FakeLogto, payload: bytes, **header: object) -> str:
    base: dict[str, object] = {"alg": "ES384", "typ": "at+jwt", "kid": logto.signing_kid}
    return logto.sign_raw({**base, **header}, payload)


READ = ["read:products"]
OTHER = "https://other.api"


def _claims(logto: FakeLogto) -> bytes:
    return json.dumps(logto.claims(scopes=READ)).encode()


#: name -> (token builder, the guard's refusal reason or None when accepted)
DRIFT: dict[str, tuple[Callable[[FakeLogto], str], str | None]] = {
    "aud-ours-and-a-number": (lambda g: g.token(scopes=READ, aud=[g.audience, 5]), "invalid_claim"),
    "exp-fraction-in-its-last-second": (
        lambda g: g.token(scopes=READ, exp=T0 - 30 + 0.5),
        "token_expired",
    ),
    "exp-fraction-with-time-left": (lambda g: g.token(scopes=READ, exp=T0 + 60.5), None),
    "jti-number": (lambda g: g.token(scopes=READ, jti=5), "invalid_claim"),
    "jti-string": (lambda g: g.token(scopes=READ, jti="j-1"), None),
    "organization-token": (
        lambda g: g.token(scopes=READ, organization_id="org-1"),
        "organization_token",
    ),
    "act-without-sub": (lambda g: g.token(scopes=READ, act={"client_id": "x"}), "invalid_claim"),
    "scope-with-nbsp": (lambda g: g.token(scope="read:products\u00a0other"), "insufficient_scope"),
    # Two rules broken: the first FAIL is still the refusal.
    "other-aud-and-expired": (
        lambda g: g.token(scopes=READ, aud=OTHER, exp=T0 - 3600),
        "invalid_claim",
    ),
    "other-aud-and-jti-number": (lambda g: g.token(scopes=READ, aud=OTHER, jti=5), "invalid_claim"),
    "expired-and-organization-token": (
        lambda g: g.token(scopes=READ, exp=T0 - 3600, organization_id="o"),
        "token_expired",
    ),
    "organization-token-without-the-scope": (
        lambda g: g.token(organization_id="o"),
        "organization_token",
    ),
    "organization-token-with-a-number-as-scope": (
        lambda g: g.token(scope=5, organization_id="o"),
        "invalid_claim",
    ),
    "nbf-and-iat-in-the-future": (
        lambda g: g.token(scopes=READ, nbf=T0 + 600, iat=T0 + 600),
        "token_not_yet_valid",
    ),
    "typ-wrong-and-payload-not-json": (lambda g: _raw(g, b"[]", typ="JWT"), "invalid_typ"),
    "payload-not-json-and-signature-bad": (
        lambda g: _raw(g, b"[]")[:-4] + "AAAA",
        "invalid_signature",
    ),
    "alg-missing-and-kid-unknown": (lambda g: _raw(g, b"{}", alg=None, kid="nope"), "unknown_kid"),
    "typ-wrong-and-kid-unknown": (
        lambda g: _raw(g, _claims(g), typ="JWT", kid="nope"),
        "invalid_typ",
    ),
}


@pytest.mark.parametrize(("build", "reason"), list(DRIFT.values()), ids=list(DRIFT))
async def test_inspect_agrees_where_it_drifted(
    build: Callable[[FakeLogto], str], reason: str | None
) -> None:
    clock = FakeClock(T0)
    logto = FakeLogto(clock=clock)
    token = build(logto)
    _, refused, report = await agree(
        logto.endpoint, logto.audience, token, "read:products", logto.http_client, clock
    )
    assert refused == reason, report


# --------------------------------------------------------------------------- any mix of faults

#: For each claim: values that break its rule (``MISSING`` removes the claim).
MISSING = object()
_BAD: dict[str, list[object]] = {
    "iss": ["https://evil.example/oidc", 1, MISSING],
    "aud": [OTHER, ["https://shopping.api", 5], [], MISSING],
    "exp": [T0 - 3600, T0 - 30 + 0.5, "soon", MISSING],
    "nbf": [T0 + 600, True],
    "iat": [T0 + 600, None],
    "sub": ["", 1, MISSING],
    "jti": [5, None],
    "client_id": [5],
    "act": [{"client_id": "x"}, "actor"],
    "organization_id": ["org-1", ["o"]],
    "scope": ["write:products", "", ["read:products"], MISSING],
}


@st.composite
def _faulty_claims(draw: st.DrawFn, logto: FakeLogto) -> dict[str, object]:
    claims: dict[str, object] = dict(logto.claims(scopes=READ))
    for name in draw(st.lists(st.sampled_from(sorted(_BAD)), max_size=4, unique=True)):
        value = draw(st.sampled_from(_BAD[name]))
        if value is MISSING:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.data())
def test_first_fail_is_the_refusal_for_any_mix_of_claim_faults(data: st.DataObject) -> None:
    """Up to four claims broken at once: inspect's first FAIL is still the guard's refusal."""
    clock = FakeClock(T0)
    logto = FakeLogto(clock=clock)
    claims = data.draw(_faulty_claims(logto))
    token = logto.sign_raw(
        {"alg": "ES384", "typ": "at+jwt", "kid": logto.signing_kid},
        json.dumps(claims).encode(),
    )

    asyncio.run(_agree_directly(logto, clock, token))


_HEADERS: dict[str, list[object]] = {
    "typ": ["JWT", MISSING],
    "kid": ["nope", 5, MISSING],
    "alg": ["ES256", "none", 384, MISSING],
    "crit": [["exp"]],
}


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.data())
def test_first_fail_is_the_refusal_for_header_and_claim_faults_together(
    data: st.DataObject,
) -> None:
    """Header members, the signature, the payload and claims broken together."""
    clock = FakeClock(T0)
    logto = FakeLogto(clock=clock)
    header: dict[str, object] = {"alg": "ES384", "typ": "at+jwt", "kid": logto.signing_kid}
    for name in data.draw(st.lists(st.sampled_from(sorted(_HEADERS)), max_size=2, unique=True)):
        value = data.draw(st.sampled_from(_HEADERS[name]))
        if value is MISSING:
            header.pop(name)
        else:
            header[name] = value
    claims = data.draw(_faulty_claims(logto))
    payload = data.draw(st.sampled_from([json.dumps(claims).encode(), b"[]", b"{,}"]))
    token = logto.sign_raw(header, payload)
    if data.draw(st.booleans()):
        token = token[: -len("AAAA")] + "AAAA"  # the signature no longer verifies
    asyncio.run(_agree_directly(logto, clock, token))


async def _agree_directly(logto: FakeLogto, clock: FakeClock, token: str) -> None:
    async with logto.http_client() as http_client:
        authenticator = Authenticator(
            endpoint=logto.endpoint,
            audience=logto.audience,
            http_client=http_client,
            clock=clock,
            metrics=False,
            token_cache_size=0,
        )
        answer = await authenticator.check([f"Bearer {token}"], READ)
        keys = authenticator.keys
    report = inspect_token(
        token, config=authenticator.config, keys=keys, now=T0, required_scopes=READ
    )
    fails = [check.refusal for check in report if check.status == "FAIL"]
    if isinstance(answer, AuthInfo):
        assert fails == [], report
        return
    assert answer is not None and fails, report
    assert fails[0] == f"{answer.error.reason}: {answer.error.description}", report
