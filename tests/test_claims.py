"""The table of claim rules (``logto_guard._core.claims``): each line of it is load-bearing.

The validator and ``inspect`` apply the same :data:`CLAIM_CHECKS`. Each rule has a token
here that breaks only it, written down independently of the table: remove a line of the
table (or of a rule) and the validator accepts that token, so a test below fails (STYLE 15:
a check is only as good as the test that kills its mutant).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from logto_guard import (
    GuardConfig,
    InsufficientScopeError,
    InvalidClaimError,
    OrganizationTokenError,
)
from logto_guard._core.claims import (
    CLAIM_CHECKS,
    REPORT_CHECKS,
    Rules,
)
from logto_guard._core.scopes import require_organization_allowed, require_scopes
from logto_guard._core.trusted_keys import parse_jwks
from logto_guard.lowlevel import JWKSCache, TokenValidator
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio

T0 = 1_700_000_000

#: rule -> (claim overrides breaking only it, the refusal: reason, description)
BREAKS: dict[str, tuple[dict[str, Any], str, str]] = {
    "iss": ({"iss": "https://evil.example/oidc"}, "invalid_claim", "issuer mismatch"),
    "aud": ({"aud": ["https://shopping.api", 5]}, "invalid_claim", "audience mismatch"),
    "exp": ({"exp": T0 - 30 + 0.5}, "token_expired", "token expired"),
    "nbf": ({"nbf": T0 + 31}, "token_not_yet_valid", "token not yet valid"),
    "iat": ({"iat": T0 + 31}, "token_not_yet_valid", "token issued in the future"),
    "sub": ({"sub": ""}, "invalid_claim", "missing sub claim"),
    "jti": ({"jti": 5}, "invalid_claim", "jti claim is not a string"),
    "client_id": ({"client_id": 5}, "invalid_claim", "client_id claim is not a string"),
    "act": ({"act": {"client_id": "x"}}, "invalid_claim", "act claim has no sub"),
    "organization_id": (
        {"organization_id": ["o"]},
        "invalid_claim",
        "organization_id claim is not a string",
    ),
    "scope": ({"scope": ["read:products"]}, "invalid_claim", "scope claim is not a string"),
}


def test_the_table_holds_every_rule_in_the_guards_order() -> None:
    assert [check.name for check in CLAIM_CHECKS] == list(BREAKS)
    assert [check.name for check in REPORT_CHECKS] == list(BREAKS)


@pytest.fixture
def validator(logto: FakeLogto, clock: FakeClock) -> TokenValidator:
    config = GuardConfig(endpoint=logto.endpoint, audience=logto.audience, token_cache_size=0)
    assert config.jwks_uri is not None
    jwks = JWKSCache(config.jwks_uri, algorithms=config.algorithms, http_client=logto.http_client())
    return TokenValidator(config, jwks, clock=clock)


@pytest.mark.parametrize("rule", list(BREAKS))
async def test_a_token_breaking_one_rule_is_refused_for_it(
    rule: str, logto: FakeLogto, validator: TokenValidator
) -> None:
    overrides, reason, description = BREAKS[rule]
    assert logto.clock() == T0
    await validator.validate(logto.token(scopes=["read:products"]))  # the rest is fine
    with pytest.raises(InvalidClaimError) as caught:
        await validator.validate(logto.token(scopes=["read:products"], **overrides))
    assert (caught.value.reason, caught.value.description) == (reason, description)
    assert caught.value.claim == rule


@pytest.mark.parametrize("rule", [name for name in BREAKS if name not in {"iss", "aud"}])
async def test_another_apis_token_is_refused_for_its_audience_first(
    rule: str, logto: FakeLogto, validator: TokenValidator
) -> None:
    """As inspect reports: ``aud`` comes before every rule after it in the table."""
    overrides = {"aud": "https://other.api", **BREAKS[rule][0]}
    with pytest.raises(InvalidClaimError) as caught:
        await validator.validate(logto.token(scopes=["read:products"], **overrides))
    assert caught.value.description == "audience mismatch"


@pytest.mark.parametrize("rule", list(BREAKS))
def test_each_check_reports_the_error_the_validator_raises(rule: str, logto: FakeLogto) -> None:
    rules = Rules.of(GuardConfig(endpoint=logto.endpoint, audience=logto.audience))
    claims = logto.claims(scopes=["read:products"], **BREAKS[rule][0])
    check = next(check for check in REPORT_CHECKS if check.name == rule)
    finding = check.run(claims, rules, T0)
    assert finding is not None and finding.error is not None
    assert (finding.error.reason, finding.error.description) == BREAKS[rule][1:]
    assert finding.evidence  # something to print
    passing = check.run(logto.claims(scopes=["read:products"]), rules, T0)
    assert passing is None or passing.error is None


def _rs384_signed(logto: FakeLogto, kid: str) -> tuple[bytes, bytes]:
    message = b"header.payload"
    key: Any = logto.key(kid)
    return message, key.sign(message, padding.PKCS1v15(), hashes.SHA384())


def test_a_key_verifies_only_the_algorithms_it_fits(logto: FakeLogto) -> None:
    """TrustedKey.fits is the one rule; verify keeps it even for a genuine signature."""
    kid = logto.add_key("RS256")
    keys = parse_jwks(json.dumps(logto.jwks()).encode(), {"RS256", "RS384"})
    message, signature = _rs384_signed(logto, kid)
    assert keys[kid].fits("RS384")
    assert keys[kid].verify("RS384", message, signature)
    narrowed = parse_jwks(json.dumps(logto.jwks()).encode(), {"RS256"})[kid]
    assert not narrowed.fits("RS384")
    assert not narrowed.verify("RS384", message, signature)


@pytest.mark.parametrize("act", [{"sub": ""}, {"sub": 5}, "actor", []])
async def test_an_act_claim_must_name_its_actor(
    act: object, logto: FakeLogto, validator: TokenValidator
) -> None:
    with pytest.raises(InvalidClaimError, match="act claim has no sub"):
        await validator.validate(logto.token(act=act))


async def test_an_act_claim_naming_its_actor_is_a_delegated_token(
    logto: FakeLogto, validator: TokenValidator
) -> None:
    info = await validator.validate(logto.token(act={"sub": "agent-app"}))
    assert (info.actor, info.delegated) == ("agent-app", True)


def test_organization_tokens_only_where_accepted(logto: FakeLogto) -> None:
    strict = GuardConfig(endpoint=logto.endpoint, audience=logto.audience)
    lenient = GuardConfig(
        endpoint=logto.endpoint, audience=logto.audience, accept_organization_tokens=True
    )
    require_organization_allowed(None, strict)
    require_organization_allowed("org-1", lenient)
    with pytest.raises(OrganizationTokenError) as caught:
        require_organization_allowed("org-1", strict)
    assert caught.value.organization_id == "org-1"


def test_every_required_scope_must_be_granted() -> None:
    require_scopes([], frozenset())
    require_scopes(["a", "b"], frozenset({"a", "b", "c"}))
    with pytest.raises(InsufficientScopeError) as caught:
        require_scopes(["a", "b"], frozenset({"a"}))
    assert caught.value.missing_scopes == ("b",)
