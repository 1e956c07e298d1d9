"""The ``logto-guard`` command line, offline.

``inspect`` runs against FakeLogto's JWKS (an ``httpx.MockTransport``) with a FakeClock;
``token`` against the dev issuer's ASGI app, which answers like Logto's token endpoint.
Every run checks that no traceback and no full token reach the output.
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import io
import json
import logging
import subprocess
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logto_guard import Authenticator, GuardConfig
from logto_guard._cli import main
from logto_guard._cli._inspect_command import verdict_of
from logto_guard._cli._report import duration, inspect_token, show
from logto_guard._core.trusted_keys import parse_jwks
from logto_guard.dev_issuer import IssuerState, create_app
from logto_guard.testing import FakeClock, FakeLogto

T0 = 1_700_000_000.0
ISSUER_BASE = "http://127.0.0.1:3001"
SHOP = "https://shopping.api"
APP_ID = "shoppingclient0000001"
APP_SECRET = "S3cretS3cretS3cretS3cretS3cret00"


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    def line(self, name: str) -> str:
        """The report line of the check ``name`` (``"PASS  aud  expected ..."``)."""
        found = [ln for ln in self.out.splitlines() if ln[6:].split(" ", 1)[0] == name]
        assert len(found) == 1, f"no single {name!r} line in:\n{self.out}"
        return found[0]

    @property
    def verdict(self) -> str:
        return self.out.splitlines()[-1]


def _run(
    argv: list[str],
    secrets: tuple[str, ...] = (),
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] | None = None,
    stdin: str = "",
    environ: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> Run:
    """Run ``main`` on string streams; fail on a traceback or on any of ``secrets`` shown."""
    out, err = io.StringIO(), io.StringIO()
    status = main(
        argv,
        environ=environ if environ is not None else {},
        http_client=http_client,
        clock=clock,
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        prompt=prompt or _no_prompt,
    )
    run = Run(status, out.getvalue(), err.getvalue())
    assert "Traceback" not in run.out + run.err
    for secret in secrets:
        assert secret not in run.out + run.err
    return run


def _no_prompt(text: str) -> str:
    raise AssertionError(f"unexpected prompt {text!r}")


def inspect(logto: FakeLogto, clock: FakeClock, token: str, *extra: str, stdin: str = "") -> Run:
    """``logto-guard inspect TOKEN --endpoint ... --audience ...`` against ``logto``."""
    argv = ["inspect", token, "--endpoint", logto.endpoint, "--audience", logto.audience]
    # The whole token must never be echoed (short garbage is all prefix, so skip those).
    secrets = (token, *token.split(".")[1:2]) if len(token) > 48 else ()
    return _run(
        [*argv, *extra],
        secrets=tuple(s for s in secrets if len(s) > 16),
        http_client=logto.http_client(),
        clock=clock,
        stdin=stdin,
    )


def b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


# --- inspect: the report and the verdict ------------------------------------------------


def test_valid_token_passes_every_check_and_exits_0(logto: FakeLogto, clock: FakeClock) -> None:
    run = inspect(logto, clock, logto.token(scopes=["read:products", "write:products"]))
    assert run.status == 0
    assert run.verdict == "verdict: VALID"
    assert not [ln for ln in run.out.splitlines() if ln.startswith(("FAIL", "SKIP"))]
    assert logto.signing_kid in run.line("kid")
    assert run.line("alg").startswith("PASS  alg              ES384")
    assert run.line("signature").startswith("PASS")
    assert run.line("typ") == "PASS  typ              expected at+jwt, got at+jwt"
    assert f"expected {logto.issuer}, got {logto.issuer}" in run.line("iss")
    assert f"expected {logto.audience}, got {logto.audience}" in run.line("aud")
    assert "expires in 1h (2023-11-14T23:13:20Z)" in run.line("exp")
    assert "issued 0s ago" in run.line("iat")
    assert "granted: read:products write:products" in run.line("scope")
    assert "(== sub: a machine-to-machine token)" in run.line("client_id")
    assert "unverified" not in run.out.lower()


def test_wrong_audience_fails_aud_with_expected_and_got(logto: FakeLogto, clock: FakeClock) -> None:
    run = inspect(logto, clock, logto.token(aud="https://other.api"))
    assert run.status == 1
    assert run.line("aud") == (
        "FAIL  aud              expected https://shopping.api, got https://other.api"
        " [invalid_claim: audience mismatch]"
    )
    assert run.line("signature").startswith("PASS")
    assert run.verdict == "verdict: INVALID: invalid_claim: audience mismatch"


def test_expired_token_says_how_long_ago(logto: FakeLogto, clock: FakeClock) -> None:
    token = logto.token()
    clock.advance(3600 + 180)
    run = inspect(logto, clock, token)
    assert run.status == 1
    assert run.line("exp").startswith("FAIL  exp              expired 3m ago (")
    assert run.verdict == "verdict: INVALID: token_expired: token expired"


@pytest.mark.parametrize(("past_exp", "status"), [(29, 0), (30, 1)])
def test_exp_leeway_edge_agrees_with_the_validator(
    logto: FakeLogto, clock: FakeClock, past_exp: int, status: int
) -> None:
    """Inside the 30 s leeway the line passes and says so; at the edge both reject."""
    token = logto.token()
    clock.advance(3600 + past_exp)
    run = inspect(logto, clock, token)
    assert run.status == status
    assert run.line("exp").startswith("PASS" if status == 0 else "FAIL")
    if status == 0:
        assert "within the 30s leeway" in run.line("exp")


def test_future_nbf_and_iat_fail_with_how_far_ahead(logto: FakeLogto, clock: FakeClock) -> None:
    run = inspect(logto, clock, logto.token(nbf=int(T0) + 600, iat=int(T0) + 90))
    assert run.status == 1
    assert run.line("nbf").startswith("FAIL  nbf              valid since 10m in the future")
    assert run.line("iat").startswith("FAIL  iat              issued 1m 30s in the future")
    assert run.verdict == "verdict: INVALID: token_not_yet_valid: token not yet valid"


def test_bad_signature_still_shows_claims_marked_unverified(
    logto: FakeLogto, clock: FakeClock
) -> None:
    header, _, signature = logto.token().split(".")
    forged = f"{header}.{logto.token(aud='https://other.api').split('.')[1]}.{signature}"
    run = inspect(logto, clock, forged)
    assert run.status == 1
    assert run.line("signature").startswith("FAIL  signature        does not verify with key")
    assert "claims below are UNVERIFIED" in run.out
    assert run.line("aud").endswith(
        "got https://other.api [invalid_claim: audience mismatch] [unverified]"
    )
    assert run.verdict == "verdict: INVALID: invalid_signature: signature verification failed"


def test_unknown_kid_lists_the_published_kids(logto: FakeLogto, clock: FakeClock) -> None:
    stranger = FakeLogto(clock=clock)
    run = inspect(logto, clock, stranger.token())
    assert run.status == 1
    kid_line = run.line("kid")
    assert kid_line.startswith(f"FAIL  kid              {stranger.signing_kid} not in the JWKS")
    assert f"(published: {logto.signing_kid})" in kid_line
    assert run.line("signature").startswith("SKIP")
    assert "[unverified]" in run.line("aud")
    assert run.verdict == "verdict: INVALID: unknown_kid: signing key not found"


def test_alg_that_does_not_fit_the_key_fails(logto: FakeLogto, clock: FakeClock) -> None:
    header = {"alg": "ES512", "typ": "at+jwt", "kid": logto.signing_kid}
    run = inspect(logto, clock, logto.sign_raw(header, logto.claims()))
    assert run.status == 1
    assert "ES512 does not fit key" in run.line("alg")
    assert "(it allows ES384)" in run.line("alg")
    assert run.verdict.startswith("verdict: INVALID: algorithm_not_allowed:")


def test_alg_outside_the_allow_list_fails(logto: FakeLogto, clock: FakeClock) -> None:
    logto.add_key("ES256")
    run = inspect(logto, clock, logto.token(), "--algorithm", "ES256")
    assert run.status == 1
    assert run.line("alg") == (
        "FAIL  alg              ES384 is not on the allow-list (ES256)"
        " [algorithm_not_allowed: alg does not match the signing key]"
    )


def test_rs256_tenant_is_reported_as_rs256(clock: FakeClock) -> None:
    rsa_logto = FakeLogto(clock=clock, alg="RS256")
    run = inspect(rsa_logto, clock, rsa_logto.token())
    assert run.status == 0
    assert run.line("alg").startswith("PASS  alg              RS256")


def test_missing_typ_fails_unless_the_check_is_off(logto: FakeLogto, clock: FakeClock) -> None:
    token = logto.token(typ=None)
    run = inspect(logto, clock, token)
    assert run.status == 1
    assert run.line("typ") == (
        "FAIL  typ              expected at+jwt, got (none) [invalid_typ: token type is not at+jwt]"
    )
    assert run.verdict == "verdict: INVALID: invalid_typ: token type is not at+jwt"
    skipped = inspect(logto, clock, token, "--no-require-typ")
    assert skipped.status == 0
    assert skipped.line("typ").startswith("SKIP")


def test_typ_compares_as_a_media_type(logto: FakeLogto, clock: FakeClock) -> None:
    run = inspect(logto, clock, logto.token(typ="application/AT+JWT"))
    assert run.status == 0
    assert run.line("typ").startswith("PASS")


def test_several_issuers_are_all_accepted(logto: FakeLogto, clock: FakeClock) -> None:
    custom = "https://auth.example.com/oidc"
    token = logto.token(iss=custom)
    run = inspect(logto, clock, token, "--issuer", logto.issuer, "--issuer", custom)
    assert run.status == 0
    assert f"expected {logto.issuer}, {custom}, got {custom}" in run.line("iss")
    default_only = inspect(logto, clock, token)
    assert default_only.status == 1
    assert default_only.verdict == "verdict: INVALID: invalid_claim: issuer mismatch"


def test_organization_token_fails_on_organization_id_as_the_guard_refuses_it(
    logto: FakeLogto, clock: FakeClock
) -> None:
    run = inspect(logto, clock, logto.token(organization_id="org-42"))
    refusal = "organization_token: organization token not accepted here"
    assert run.line("organization_id").startswith(f"FAIL  organization_id  org-42 [{refusal}")
    assert run.verdict.startswith(f"verdict: INVALID: {refusal}")
    assert run.status == 1


def test_required_scope_missing_exits_1(logto: FakeLogto, clock: FakeClock) -> None:
    token = logto.token(scopes=["read:products"])
    run = inspect(logto, clock, token, "--scope", "read:products", "--scope", "write:products")
    assert run.status == 1
    assert run.line("scope") == (
        "FAIL  scope            missing: write:products; granted: read:products"
        " [insufficient_scope: token lacks required scopes: write:products]"
    )
    assert run.verdict == (
        "verdict: INVALID: insufficient_scope: token lacks required scopes: write:products"
    )
    granted = inspect(logto, clock, token, "--scope", "read:products")
    assert granted.status == 0
    assert granted.line("scope").startswith("PASS")


def test_no_scope_claim_grants_nothing(logto: FakeLogto, clock: FakeClock) -> None:
    run = inspect(logto, clock, logto.token(), "--scope", "read:products")
    assert run.status == 1
    assert "granted: none (no scope claim)" in run.line("scope")


def test_token_is_read_from_stdin_even_as_a_pasted_header(
    logto: FakeLogto, clock: FakeClock
) -> None:
    token = logto.token()
    run = inspect(logto, clock, "-", stdin=f"Bearer {token}\n")
    assert run.status == 0
    assert token not in run.out
    assert run.out.startswith(f"token {token[:12]}… ({len(token)} chars, sha256 ")


def test_unreachable_jwks_exits_2(logto: FakeLogto, clock: FakeClock) -> None:
    logto.jwks_fault = lambda request: httpx.Response(500)
    run = inspect(logto, clock, logto.token())
    assert run.status == 2
    assert run.out == ""
    assert "cannot use the JWKS at https://tenant.logto.app/oidc/jwks" in run.err
    assert "HTTP 500" in run.err


@pytest.mark.parametrize(
    ("token", "evidence", "reason"),
    [
        ("garbage", "expected 3 dot-separated segments, got 1", "malformed_token"),
        ("a.b.c.d", "expected 3 dot-separated segments, got 4", "malformed_token"),
        ("a.b.c", "header is not valid base64url JSON", "malformed_token"),
        # Not a b64token at all: sent as a header, the guard answers 400 invalid_request.
        ("eyJ=.e30.", "characters outside base64url", "invalid_request"),
        ("wörld.x.y", "characters outside base64url", "invalid_request"),
        (f"{b64([1])}.e30.", "header is not a JSON object", "malformed_token"),
        (
            f"{b64({'alg': 'ES384', 'kid': 'k', 'crit': ['x']})}.e30.",
            "unsupported critical",
            "malformed_token",
        ),
        ("e30." * 2500 + "x", "token is too large", "malformed_token"),
    ],
)
def test_garbage_gives_clean_fail_lines_and_exit_1(
    logto: FakeLogto, clock: FakeClock, token: str, evidence: str, reason: str
) -> None:
    run = inspect(logto, clock, token)
    assert run.status == 1
    assert run.line("structure").startswith("FAIL")
    assert evidence in run.line("structure")
    assert run.verdict.startswith(f"verdict: INVALID: {reason}:")


def test_hostile_header_values_cannot_reach_the_terminal(
    logto: FakeLogto, clock: FakeClock
) -> None:
    header = {"alg": "ES384\x1b[2J", "typ": "at+jwt\u202e", "kid": "\x1b]0;pwned\x07" + "k" * 500}
    run = inspect(logto, clock, logto.sign_raw(header, logto.claims()))
    assert run.status == 1
    assert "\x1b" not in run.out and "\u202e" not in run.out
    assert run.line("kid").startswith('FAIL  kid              "\\u001b]0;pwned\\u0007kkk')
    assert "k… not in the JWKS" in run.line("kid")


def test_unreadable_payload_still_gets_header_checks(logto: FakeLogto, clock: FakeClock) -> None:
    header = {"alg": "ES384", "typ": "at+jwt", "kid": logto.signing_kid}
    run = inspect(logto, clock, logto.sign_raw(header, b"not json"))
    assert run.status == 1
    assert run.line("structure").startswith("PASS")
    assert run.line("signature").startswith("PASS")
    assert run.line("payload").startswith("FAIL  payload          token payload is not valid")
    assert "aud" not in run.out
    assert run.verdict == (
        "verdict: INVALID: malformed_token: token payload is not valid base64url JSON"
    )


def test_astronomical_exp_is_a_clean_fail(logto: FakeLogto, clock: FakeClock) -> None:
    """An integer beyond any float must not crash the report (nor the verdict line)."""
    run = inspect(logto, clock, logto.token(exp=10**400))
    assert run.status == 1
    assert run.line("exp").startswith("FAIL  exp              exp claim is out of range: 1000")
    assert run.verdict.startswith("verdict: INVALID: ")


def test_a_non_canonical_signature_fails_the_report_and_the_verdict(
    logto: FakeLogto, clock: FakeClock
) -> None:
    """The same signature bytes spelled with unused trailing bits set: not one spelling."""
    logto.rotate("ES256")  # 64-byte signatures end in 4 unused bits
    token = logto.token()
    head, _, signature = token.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = f"{head}.{signature[:-1]}{alphabet[last | 1]}"
    assert twin != token and base64.urlsafe_b64decode(
        twin.rpartition(".")[2] + "=="
    ) == base64.urlsafe_b64decode(signature + "==")
    run = inspect(logto, clock, twin)
    assert run.line("signature").startswith("FAIL  signature        not canonical base64url")
    assert run.verdict == "verdict: INVALID: invalid_signature: signature verification failed"
    assert run.status == 1


def test_a_guard_crash_is_a_verdict_without_its_message() -> None:
    class Broken(Authenticator):
        async def check(self, authorization: Sequence[str], *args: Any, **kw: Any) -> Any:
            raise RuntimeError(f"boom {authorization}")

    broken = Broken(endpoint="https://tenant.logto.app", audience="https://shopping.api")
    verdict, status = asyncio.run(verdict_of(broken, "tok", []))
    assert (verdict, status) == ("INVALID: internal_error: the guard raised RuntimeError", 1)


def test_deeply_nested_claims_are_shown_safely() -> None:
    nested: object = 1
    for _ in range(5000):
        nested = [nested]
    assert show(nested) == "<list too deep to show>"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("eyJ0In19.-_=AZaz09 \n{}\x00é"), max_size=80))
def test_inspect_never_raises_on_arbitrary_text(text: str) -> None:
    logto = FakeLogto(clock=FakeClock(T0))
    keys = parse_jwks(json.dumps(logto.jwks()).encode(), {"ES384"})
    config = GuardConfig(endpoint=logto.endpoint, audience=logto.audience)
    checks = inspect_token(text, config=config, keys=keys, now=T0, required_scopes=["a"])
    assert checks[0].name == "structure"
    assert all("\x00" not in check.detail for check in checks)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(alphabet="eyJ0In19-_AZaz09", max_size=30), min_size=1, max_size=4))
def test_main_answers_1_or_2_for_random_segments(segments: list[str]) -> None:
    logto = FakeLogto(clock=FakeClock(T0))
    token = ".".join(segments)
    run = inspect(logto, FakeClock(T0), "-", stdin=token)
    assert run.status in (1, 2)  # 2 only when the token is empty


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (180, "3m"), (3552, "59m 12s"), (3600, "1h"), (3660, "1h 1m")],
)
def test_duration_keeps_the_two_largest_units(seconds: int, text: str) -> None:
    assert duration(seconds) == text
    assert duration(-seconds) == text


def test_duration_of_days() -> None:
    assert duration(86400 + 3600 + 5) == "1d 1h"


def test_show_escapes_and_shortens() -> None:
    assert show("plain") == "plain"
    assert show("a\nb") == '"a\\nb"'
    assert show(None) == "null"
    assert len(show("x" * 500)) == 120


# --- usage ------------------------------------------------------------------------------

API = ["--endpoint", "https://a.b", "--audience", SHOP]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["inspect", "t", "--endpoint", "https://a.b"], "required: --audience"),
        (["inspect", "t", "--endpoint", "nope", "--audience", SHOP], "absolute http(s) URL"),
        (["inspect", "t", *API, "--leeway", "900"], "leeway must be at most 300 seconds"),
        (["inspect", "t", *API, "--algorithm", "HS256"], "invalid choice: 'HS256'"),
        (["inspect", " ", *API], "the token is empty"),
        (["token", "--endpoint", "https://a.b", "--app-id", "x"], "--resource, --organization-id"),
        (["frobnicate"], "invalid choice"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(argv: list[str], message: str) -> None:
    run = _run(argv, http_client=httpx.AsyncClient(transport=httpx.MockTransport(_unreachable)))
    assert run.status == 2
    assert message in run.err


def test_help_exits_0() -> None:
    run = _run(["inspect", "--help"])
    assert run.status == 0
    assert "--audience" in run.out


def test_console_script_module_starts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "logto_guard._cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "inspect" in done.stdout and "token" in done.stdout


# --- token ------------------------------------------------------------------------------


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.fixture
def issuer(tmp_path: Path, clock: FakeClock) -> IssuerState:
    state = IssuerState.open(tmp_path / "state", issuer=f"{ISSUER_BASE}/oidc", clock=clock)
    state.add_resource(SHOP, ["read:products", "write:products"])
    state.add_app("client", grants={SHOP: ["read:products"]}, app_id=APP_ID, app_secret=APP_SECRET)
    return state


def issuer_client(state: IssuerState) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(state)))


def get_token(
    state: IssuerState,
    *extra: str,
    secret: str | None = APP_SECRET,
    environ: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
    clock: Callable[[], float] | None = None,
) -> Run:
    """``logto-guard token`` against the dev issuer, secret from ``$LOGTO_APP_SECRET``."""
    argv = ["token", "--endpoint", ISSUER_BASE, "--app-id", APP_ID, *extra]
    if environ is None:
        environ = {} if secret is None else {"LOGTO_APP_SECRET": secret}
    return _run(
        argv,
        secrets=(APP_SECRET,),
        http_client=issuer_client(state),
        clock=clock,
        environ=environ,
        prompt=prompt,
    )


def test_token_prints_only_the_token_and_it_inspects_valid(
    issuer: IssuerState, clock: FakeClock
) -> None:
    run = get_token(issuer, "--resource", SHOP, "--scope", "read:products", clock=clock)
    assert run.status == 0
    assert run.err == ""
    token = run.out.removesuffix("\n")
    assert "\n" not in token and token.count(".") == 2
    argv = ["inspect", "-", "--endpoint", ISSUER_BASE, "--audience", SHOP]
    checked = _run(
        [*argv, "--scope", "read:products"],
        secrets=(token,),
        http_client=issuer_client(issuer),
        clock=clock,
        stdin=token,
    )
    assert checked.status == 0, checked.out


def test_token_secret_from_the_prompt_is_never_printed(issuer: IssuerState) -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return APP_SECRET

    run = get_token(issuer, "--resource", SHOP, secret=None, prompt=prompt)
    assert run.status == 0
    assert asked == [f"App Secret for {APP_ID} (from $LOGTO_APP_SECRET if set): "]


def test_token_secret_env_name_is_configurable(issuer: IssuerState) -> None:
    run = get_token(
        issuer,
        "--resource",
        SHOP,
        "--secret-env",
        "SHOP_SECRET",
        environ={"SHOP_SECRET": APP_SECRET, "LOGTO_APP_SECRET": "wrong"},
    )
    assert run.status == 0


@pytest.mark.parametrize("answer", ["", EOFError()])
def test_token_without_any_secret_is_a_usage_error(
    issuer: IssuerState, answer: str | EOFError
) -> None:
    def prompt(text: str) -> str:
        if isinstance(answer, EOFError):
            raise answer
        return answer

    run = get_token(issuer, "--resource", SHOP, secret=None, prompt=prompt)
    assert run.status == 2
    assert "no App Secret: set $LOGTO_APP_SECRET" in run.err


def test_token_refuses_a_prompt_that_would_echo(issuer: IssuerState) -> None:
    """Without a terminal getpass would echo the secret; the command stops instead."""

    def echoing_prompt(text: str) -> str:
        warnings.warn("Can not control echo on the terminal.", getpass.GetPassWarning, 2)
        return APP_SECRET

    run = get_token(issuer, "--resource", SHOP, secret=None, prompt=echoing_prompt)
    assert run.status == 2
    assert "no App Secret" in run.err


def test_main_leaves_logging_as_it_found_it(logto: FakeLogto, clock: FakeClock) -> None:
    handlers = list(logging.getLogger("logto_guard").handlers)
    logto.jwks_fault = lambda request: httpx.Response(500)
    assert inspect(logto, clock, logto.token()).status == 2
    assert logging.getLogger("logto_guard").handlers == handlers


def test_token_json_has_the_whole_answer(issuer: IssuerState, clock: FakeClock) -> None:
    scopes = ["--scope", "read:products write:products"]
    run = get_token(issuer, "--resource", SHOP, *scopes, "--json", clock=clock)
    assert run.status == 0
    answer = json.loads(run.out)
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 3600
    assert answer["expires_at"] == "2023-11-14T23:13:20+00:00"
    assert answer["scope"] == "read:products"  # ungranted scopes are dropped, as Logto does
    assert answer["resource"] == SHOP
    assert answer["access_token"].count(".") == 2


def test_token_endpoint_refusal_exits_1_with_logto_error(issuer: IssuerState) -> None:
    run = get_token(issuer, "--resource", SHOP, secret="not-the-secret")
    assert run.status == 1
    assert run.out == ""
    assert run.err == "invalid_client: client authentication failed (HTTP 401)\n"
    assert "not-the-secret" not in run.err


def test_unknown_resource_is_invalid_target(issuer: IssuerState) -> None:
    run = get_token(issuer, "--resource", "https://unknown.api")
    assert run.status == 1
    assert run.err.startswith("invalid_target: ")


def test_unreachable_token_endpoint_exits_2() -> None:
    run = _run(
        ["token", "--endpoint", ISSUER_BASE, "--app-id", APP_ID, "--resource", SHOP],
        secrets=(APP_SECRET,),
        environ={"LOGTO_APP_SECRET": APP_SECRET},
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(_unreachable)),
    )
    assert run.status == 2
    assert run.err.startswith("network_error: POST http://127.0.0.1:3001/oidc/token failed")


def token_answering(body: dict[str, object], status: int = 200) -> Run:
    """``logto-guard token --json`` against a token endpoint answering ``body``."""
    return _run(
        ["token", "--endpoint", ISSUER_BASE, "--app-id", APP_ID, "--resource", SHOP, "--json"],
        secrets=(APP_SECRET,),
        environ={"LOGTO_APP_SECRET": APP_SECRET},
        http_client=httpx.AsyncClient(
            transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body))
        ),
    )


def test_token_endpoint_words_are_escaped_not_replayed_to_the_terminal() -> None:
    """A hostile token endpoint cannot drive the terminal (ESC, BEL, newline)."""
    run = token_answering(
        {"error": "invalid_client\x1b[2J", "error_description": "bad\x07\nFAKE: ok"}, 401
    )
    assert run.status == 1
    assert "\x1b" not in run.err and "\x07" not in run.err
    assert run.err.count("\n") == 1 and "\\u001b[2J" in run.err


def test_an_astronomical_expires_in_is_refused_not_a_crash() -> None:
    token = "a.b.c"
    run = token_answering({"access_token": token, "token_type": "Bearer", "expires_in": 1e300})
    assert (run.status, run.out) == (1, "")
    assert run.err.startswith("invalid_response: the token response's expires_in is not between")


def test_jwks_kids_are_escaped_in_the_report(logto: FakeLogto, clock: FakeClock) -> None:
    hostile = {"keys": [{**logto.jwks()["keys"][0], "kid": "k\x1b]0;owned\x07"}]}
    token = logto.token(kid=logto.signing_kid, headers={"kid": "other"})
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=hostile))
    )
    argv = ["inspect", token, "--endpoint", logto.endpoint, "--audience", logto.audience]
    run = _run(argv, http_client=client, clock=clock)
    assert "\x1b" not in run.out and "\x07" not in run.out
    assert "published: " in run.line("kid") and "\\u001b" in run.line("kid")
