"""The claim rules of an access token: one table of named checks, one place per rule.

The validator runs :data:`CLAIM_CHECKS` in order and raises the first failure (fail-fast,
no evidence built); ``logto-guard inspect`` runs every check with :meth:`ClaimCheck.run`
and prints each one's evidence. Both call the same ``test``, so the report can never pass
a claim the guard refuses. The audience is checked in two halves: its shape here (a token
with a malformed ``aud`` is never remembered) and its value per call
(:func:`require_audience`: organization tokens name the audience of each request).
:func:`require_organization_allowed` and :func:`require_scopes` are the authorization
rules applied after the claims (an organization token on a global guard, the scopes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from .config import GuardConfig
from .errors import (
    AuthError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidClaimError,
)
from .evidence import duration, show, utc
from .jws import shown, timestamp

Claims = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rules:
    """What the claims must satisfy, derived once from a :class:`GuardConfig`."""

    config: GuardConfig
    issuers: frozenset[str]
    audiences: frozenset[str]
    leeway: float

    @classmethod
    def of(cls, config: GuardConfig) -> Rules:
        """The rules of ``config``."""
        return cls(config, frozenset(config.issuers), config.audiences, config.leeway)


class Finding(NamedTuple):
    """One check's outcome: its name, the error the guard raises (``None``: passed) and the
    evidence (expected and actual values, safe to print)."""

    name: str
    error: AuthError | None
    evidence: str


Test = Callable[[Claims, Rules, float], None]
Evidence = Callable[[Claims, Rules, float, AuthError | None], str | None]


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """A named claim rule: ``test`` raises the guard's error; ``evidence`` describes it
    (``None``: nothing to report, an optional claim that is absent).

    ``informative``: a passing check states a fact (``INFO``) rather than a requirement.
    """

    name: str
    test: Test
    evidence: Evidence
    informative: bool = False

    def run(self, claims: Claims, rules: Rules, now: float) -> Finding | None:
        """The outcome with its evidence; never raises for any claims."""
        try:
            self.test(claims, rules, now)
            error: AuthError | None = None
        except AuthError as exc:
            error = exc
        evidence = self.evidence(claims, rules, now, error)
        return None if evidence is None else Finding(self.name, error, evidence)


def _why(error: AuthError, claims: Claims, name: str) -> str:
    return f"{error.description}: {show(claims.get(name))}"


# --------------------------------------------------------------------------- iss, aud


def _iss(claims: Claims, rules: Rules, now: float) -> None:
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or issuer not in rules.issuers:
        error = InvalidClaimError("iss", "issuer mismatch")
        error.log_detail = f"expected iss {shown(rules.issuers)}, received {shown(issuer)}"
        raise error


def _iss_evidence(claims: Claims, rules: Rules, now: float, error: AuthError | None) -> str:
    return f"expected {', '.join(rules.config.issuers)}, got {show(claims.get('iss'))}"


def audience_mismatch(expected: frozenset[str], received: object) -> InvalidClaimError:
    """The error for an ``aud`` that names none of ``expected``."""
    error = InvalidClaimError("aud", "audience mismatch")
    error.log_detail = f"expected aud {shown(expected)}, received {shown(received)}"
    return error


def audiences_of(claims: Claims, rules: Rules) -> frozenset[str]:
    """The token's audiences: RFC 7519 §4.1.3, a string or an array of strings only.

    Raises:
        InvalidClaimError: any other shape (``[ours, 5]`` included).
    """
    audience = claims.get("aud")
    if isinstance(audience, str):
        return frozenset((audience,))
    if (
        not isinstance(audience, list)
        or not audience
        or not all(isinstance(value, str) for value in audience)
    ):
        raise audience_mismatch(rules.audiences, audience)
    return frozenset(audience)


def require_audience(accepted: frozenset[str], audiences: frozenset[str]) -> None:
    """The per-call half of the ``aud`` rule: raise unless ``audiences`` names one of
    ``accepted``."""
    if accepted.isdisjoint(audiences):
        raise audience_mismatch(accepted, audiences)


def _aud(claims: Claims, rules: Rules, now: float) -> None:
    if not isinstance(claims.get("aud"), str):  # a plain string needs no more reading
        audiences_of(claims, rules)


def _whole_audience(claims: Claims, rules: Rules, now: float) -> None:
    # Both halves against the configured audiences, for reports.
    require_audience(rules.audiences, audiences_of(claims, rules))


def _aud_evidence(claims: Claims, rules: Rules, now: float, error: AuthError | None) -> str:
    return f"expected {rules.config.audience}, got {show(claims.get('aud'))}"


# --------------------------------------------------------------------------- time claims


def expiry_deadline(exp: float, leeway: float) -> float:
    """When a token with this ``exp`` stops being accepted: whole seconds, as PyJWT reads
    ``exp`` (a fraction never buys extra life), plus the leeway. Every front end's notion
    of "expired" (streams, WebSockets, the SDKs' ``expires_at``) comes from here."""
    return math.floor(exp) + leeway


def deadline_of(exp: float, rules: Rules) -> float:
    """:func:`expiry_deadline` with the rules' leeway."""
    return expiry_deadline(exp, rules.leeway)


def _exp(claims: Claims, rules: Rules, now: float) -> None:
    exp = timestamp(claims, "exp", required=True)
    assert exp is not None
    if now >= deadline_of(exp, rules):
        raise ExpiredTokenError()


def _exp_evidence(claims: Claims, rules: Rules, now: float, error: AuthError | None) -> str:
    if error is not None and not isinstance(error, ExpiredTokenError):
        return _why(error, claims, "exp")
    value = float(claims["exp"])
    when, delta, leeway = utc(value), value - now, rules.leeway
    if error is not None:
        if delta > 0:  # a fraction of a second left, but exp counts in whole seconds
            return f"expired: exp counts in whole seconds ({when})"
        return f"expired {duration(delta)} ago ({when})"
    if delta > 0:
        return f"expires in {duration(delta)} ({when})"
    return f"expired {duration(delta)} ago, within the {leeway:g}s leeway ({when})"


def _not_before(name: str, description: str) -> tuple[Test, Evidence]:
    verb = "valid since" if name == "nbf" else "issued"

    def test(claims: Claims, rules: Rules, now: float) -> None:
        value = timestamp(claims, name, required=False)
        if value is not None and value > now + rules.leeway:
            raise ImmatureTokenError(name, description)

    def evidence(claims: Claims, rules: Rules, now: float, error: AuthError | None) -> str | None:
        if error is not None and not isinstance(error, ImmatureTokenError):
            return _why(error, claims, name)
        if claims.get(name) is None:
            return None
        value = float(claims[name])
        when, delta = utc(value), value - now
        if delta <= 0:
            return f"{verb} {duration(delta)} ago ({when})"
        slack = "" if error else f", within the {rules.leeway:g}s leeway"
        return f"{verb} {duration(delta)} in the future{slack} ({when})"

    return test, evidence


# --------------------------------------------------------------------------- the others


def _sub(claims: Claims, rules: Rules, now: float) -> None:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidClaimError("sub", "missing sub claim")


def _sub_evidence(claims: Claims, rules: Rules, now: float, error: AuthError | None) -> str:
    return "missing sub claim" if error else show(claims["sub"])


def _jti(claims: Claims, rules: Rules, now: float) -> None:
    if "jti" in claims and not isinstance(claims["jti"], str):  # RFC 7519 §4.1.7
        raise InvalidClaimError("jti", "jti claim is not a string")


def _string(name: str) -> Test:
    """The rule of a claim that is a string when present."""
    description = f"{name} claim is not a string"

    def test(claims: Claims, rules: Rules, now: float) -> None:
        value = claims.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidClaimError(name, description)

    return test


def _act(claims: Claims, rules: Rules, now: float) -> None:
    act = claims.get("act")
    actor = act.get("sub") if isinstance(act, dict) else None
    if act is not None and (not isinstance(actor, str) or not actor):  # RFC 8693 §4.1
        raise InvalidClaimError("act", "act claim has no sub")


def _fact(name: str) -> Evidence:
    """Evidence of an optional claim: only a failure or a present value is reported."""

    def evidence(claims: Claims, rules: Rules, now: float, error: AuthError | None) -> str | None:
        if error is not None:
            return _why(error, claims, name)
        return None if claims.get(name) is None else show(claims[name])

    return evidence


def _failure_only(name: str) -> Evidence:
    def evidence(claims: Claims, rules: Rules, now: float, error: AuthError | None) -> str | None:
        return None if error is None else _why(error, claims, name)

    return evidence


_NBF = _not_before("nbf", "token not yet valid")
_IAT = _not_before("iat", "token issued in the future")

#: Every claim rule, in the order the validator applies them (and inspect reports them).
CLAIM_CHECKS: tuple[ClaimCheck, ...] = (
    ClaimCheck("iss", _iss, _iss_evidence),
    ClaimCheck("aud", _aud, _aud_evidence),
    ClaimCheck("exp", _exp, _exp_evidence),
    ClaimCheck("nbf", *_NBF),
    ClaimCheck("iat", *_IAT),
    ClaimCheck("sub", _sub, _sub_evidence),
    ClaimCheck("jti", _jti, _failure_only("jti")),
    ClaimCheck("client_id", _string("client_id"), _failure_only("client_id")),
    ClaimCheck("act", _act, _fact("act"), informative=True),
    # Last two in the guard's order of authorization: organization first, then scopes.
    ClaimCheck("organization_id", _string("organization_id"), _failure_only("organization_id")),
    ClaimCheck("scope", _string("scope"), _failure_only("scope")),
)
#: The rules after ``aud``: a token breaking one of them for another API is refused for
#: its audience.
_NAMES = [check.name for check in CLAIM_CHECKS]
AFTER_AUDIENCE = frozenset(_NAMES[_NAMES.index("aud") + 1 :])

_TESTS = tuple(check.test for check in CLAIM_CHECKS)
#: The same table for a report against the configured audiences: ``aud`` checked whole.
REPORT_CHECKS = tuple(
    replace(check, test=_whole_audience) if check.name == "aud" else check for check in CLAIM_CHECKS
)


def check_claims(claims: Claims, rules: Rules, now: float) -> None:
    """Apply every claim rule in order, raising the first failure (the validator's path)."""
    for test in _TESTS:
        test(claims, rules, now)
