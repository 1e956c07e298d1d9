"""Check-by-check diagnosis of an access token, for ``logto-guard inspect``.

:func:`inspect_token` runs the guard's checks in the guard's order (structure, ``typ``,
``kid``, ``alg``, signature, then the claim rules of :mod:`logto_guard._core.claims`, the
very table the validator applies) and keeps going after a failure, so one run shows
everything that is wrong. Each ``FAIL`` names the refusal the guard answers with
(``reason: description``): the first one is the guard's refusal. The verdict still comes
from the guard's own :class:`~logto_guard.Authenticator`.

Every value taken from the token is shown through :func:`show`, which escapes control
characters and shortens long values: a hostile token cannot drive the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .._core.claims import (
    REPORT_CHECKS,
    Rules,
)
from .._core.config import GuardConfig
from .._core.errors import (
    AlgorithmError,
    AuthError,
    InsufficientScopeError,
    InvalidSignatureError,
    InvalidTypeError,
    MalformedTokenError,
    UnknownKeyError,
)
from .._core.evidence import duration, show
from .._core.jws import (
    COMPACT_JWS,
    decode_json_object,
    decode_signature,
    has_critical_extension,
    normalise_typ,
    valid_kid,
)
from .._core.rfc6750 import parse_authorization
from .._core.scopes import require_organization_allowed, require_scopes, scopes_in
from .._core.trusted_keys import TrustedKey

__all__ = ["Check", "duration", "inspect_token", "plural", "show"]

Status = Literal["PASS", "FAIL", "SKIP", "INFO"]


@dataclass(frozen=True)
class Check:
    """One line of the report.

    Attributes:
        name: what was checked (``"aud"``, ``"signature"``, ...).
        status: ``PASS``/``FAIL``; ``SKIP`` when it could not be checked, ``INFO`` for facts.
        detail: the evidence (expected and actual values), safe to print.
        unverified: the detail comes from claims whose signature did not verify.
        refusal: for a ``FAIL``, what the guard answers (``reason: description``).
    """

    name: str
    status: Status
    detail: str
    unverified: bool = False
    refusal: str | None = None


def _fail(name: str, detail: str, error: AuthError) -> Check:
    return Check(name, "FAIL", detail, refusal=f"{error.reason}: {error.description}")


def plural(count: int, noun: str) -> str:
    """``1 key``, ``2 keys``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _split(token: str, config: GuardConfig) -> tuple[Check, dict[str, Any] | None]:
    """The structure check and the header (``None`` if unreadable)."""
    try:
        parse_authorization([f"Bearer {token}"])  # as the guard reads the header
    except AuthError as exc:
        detail = "characters outside base64url: not one bearer token (RFC 6750 §2.1)"
        return _fail("structure", detail, exc), None
    if len(token) > config.max_token_size:
        size = f"{len(token)} characters, over the {config.max_token_size} limit"
        error = MalformedTokenError("token is too large")
        return _fail("structure", f"token is too large ({size})", error), None
    segments = token.split(".")
    if len(segments) != 3:
        detail = f"expected 3 dot-separated segments, got {len(segments)}"
        return _fail("structure", detail, MalformedTokenError()), None
    if not COMPACT_JWS.fullmatch(token):
        detail = "3 segments, but with characters outside base64url (padding, spaces?)"
        return _fail("structure", detail, MalformedTokenError()), None
    try:
        header = decode_json_object(segments[0], "token header")
    except MalformedTokenError as exc:
        return _fail("structure", exc.description, exc), None
    shown = f"header {show(header, 200)}"
    if has_critical_extension(header):
        error = MalformedTokenError("unsupported critical header")
        return _fail("structure", f"{error.description}; {shown}", error), header
    return Check("structure", "PASS", f"3 segments, JSON header; {shown}"), header


def _payload(token: str) -> tuple[Check | None, dict[str, Any] | None]:
    """The claims, or the ``payload`` line saying why there are none (the guard reads
    the payload once the signature verified: so does the report, in its order)."""
    try:
        return None, decode_json_object(token.split(".")[1], "token payload")
    except MalformedTokenError as exc:
        return _fail("payload", exc.description, exc), None


def _key_checks(
    token: str, header: Mapping[str, Any], config: GuardConfig, keys: Mapping[str, TrustedKey]
) -> tuple[list[Check], bool]:
    """The ``kid``, ``alg`` and signature checks, and whether the signature verified."""
    checks: list[Check] = []
    kid, alg = header.get("kid"), header.get("alg")
    key: TrustedKey | None = None
    if not valid_kid(kid):
        error = MalformedTokenError("kid header is missing or not a string")
        checks.append(_fail("kid", f"{error.description}: {show(kid)}", error))
    elif isinstance(kid, str) and kid in keys:
        key = keys[kid]
        checks.append(
            Check("kid", "PASS", f"{show(kid)} found in the JWKS ({plural(len(keys), 'key')})")
        )
    else:
        published = ", ".join(show(k) for k in sorted(keys)) or "none"
        detail = f"{show(kid)} not in the JWKS (published: {published})"
        checks.append(_fail("kid", detail, UnknownKeyError()))
    allowed = ", ".join(sorted(config.algorithms))
    mismatch = AlgorithmError("alg does not match the signing key")
    if not isinstance(alg, str):
        detail = f"alg header is missing or not a string: {show(alg)}"
        checks.append(_fail("alg", detail, AlgorithmError("alg header is missing")))
    elif alg not in config.algorithms:
        detail = f"{show(alg)} is not on the allow-list ({allowed})"
        checks.append(_fail("alg", detail, mismatch))
    elif key is None:
        checks.append(Check("alg", "SKIP", f"{alg} is on the allow-list; no key to match it"))
    elif not key.fits(alg):
        fits = ", ".join(sorted(key.algorithms))
        detail = f"{alg} does not fit key {show(key.kid)} (it allows {fits})"
        checks.append(_fail("alg", detail, mismatch))
    else:
        checks.append(Check("alg", "PASS", f"{alg} (allowed by key and allow-list)"))
    if key is None or checks[-1].status != "PASS":
        checks.append(Check("signature", "SKIP", "not checked: no trusted key for this alg"))
        return checks, False
    assert isinstance(alg, str)
    signing_input, _, signature_b64 = token.rpartition(".")
    shown = f"key {show(key.kid)} ({alg})"
    try:
        signature = decode_signature(signature_b64)
    except InvalidSignatureError as exc:
        checks.append(_fail("signature", "not canonical base64url; not checked", exc))
        return checks, False
    valid = key.verify(alg, signing_input.encode("ascii"), signature)
    if valid:
        checks.append(Check("signature", "PASS", f"verified with {shown}"))
    else:
        detail = f"does not verify with {shown}"
        checks.append(_fail("signature", detail, InvalidSignatureError()))
    return checks, valid


def _typ_check(header: Mapping[str, Any], config: GuardConfig) -> Check:
    typ = header.get("typ")
    got = "(none)" if typ is None else show(typ)
    if config.require_typ is None:
        return Check("typ", "SKIP", f"not required; got {got}")
    detail = f"expected {config.require_typ}, got {got}"
    if isinstance(typ, str) and normalise_typ(typ) == normalise_typ(config.require_typ):
        return Check("typ", "PASS", detail)
    return _fail("typ", detail, InvalidTypeError())


def _claim_checks(
    claims: dict[str, Any], config: GuardConfig, now: float, required_scopes: Iterable[str]
) -> list[Check]:
    """Every rule of the validator's table, the audience checked whole, then the guard's
    authorization rules on the claims they read (``organization_id``, ``scope``).

    Authorization lines come after the whole table, as the guard authorizes only a token
    whose claims all passed: an organization token with a malformed ``scope`` is refused
    for its ``scope``."""
    rules = Rules.of(config)
    checks: list[Check] = []
    deferred: list[Check] = []
    for check in REPORT_CHECKS:
        finding = check.run(claims, rules, now)
        if finding is not None and finding.error is not None:
            checks.append(_fail(finding.name, finding.evidence, finding.error))
            continue
        line = _authorization(check.name, claims, config, required_scopes)
        if line is not None:
            (deferred if check.name in {"organization_id", "scope"} else checks).append(line)
        elif finding is not None:
            status: Status = "INFO" if check.informative else "PASS"
            checks.append(Check(finding.name, status, finding.evidence))
    return checks + deferred


def _authorization(
    name: str, claims: dict[str, Any], config: GuardConfig, required_scopes: Iterable[str]
) -> Check | None:
    """The line of a well-typed claim the guard authorizes with, ``None`` for the others."""
    value = claims.get(name)
    if name == "client_id" and value is not None:
        same = " (== sub: a machine-to-machine token)" if value == claims.get("sub") else ""
        return Check(name, "INFO", show(value) + same)
    if name == "organization_id" and value is not None:
        try:
            require_organization_allowed(value, config)
        except AuthError as exc:
            return _fail(name, show(value), exc)
        return Check(name, "INFO", show(value))
    if name != "scope":
        return None
    granted = scopes_in(value)
    shown = show(" ".join(granted)) if granted else "none (no scope claim)"
    if value is not None and not granted:
        shown = "none (empty scope claim)"
    required = list(dict.fromkeys(required_scopes))
    if not required:
        return Check("scope", "INFO", f"granted: {shown}")
    try:
        require_scopes(required, frozenset(granted))
    except InsufficientScopeError as exc:
        missing = show(" ".join(exc.missing_scopes))
        return _fail("scope", f"missing: {missing}; granted: {shown}", exc)
    return Check("scope", "PASS", f"required {show(' '.join(required))}; granted: {shown}")


def inspect_token(
    token: str,
    *,
    config: GuardConfig,
    keys: Mapping[str, TrustedKey],
    now: float,
    required_scopes: Iterable[str] = (),
) -> list[Check]:
    """Every check the guard makes on ``token``, each with its evidence, in the guard's order.

    Never raises for a malformed token: problems become ``FAIL`` lines. Checks that need
    an unreadable part are left out; claims are reported even when the signature fails,
    with ``unverified=True``.

    Args:
        token: the compact JWS, as sent in ``Authorization: Bearer``.
        config: what the token must satisfy (issuers, audience, leeway, typ, algorithms).
        keys: the trusted JWKS by ``kid`` (:attr:`Authenticator.keys`).
        now: the current time, in seconds since the epoch.
        required_scopes: scopes the caller needs (all of them).
    """
    structure, header = _split(token, config)
    checks = [structure]
    if header is None:
        return checks
    checks.append(_typ_check(header, config))
    key_checks, verified = _key_checks(token, header, config, keys)
    checks.extend(key_checks)
    broken, payload = _payload(token)
    if payload is None:
        assert broken is not None
        return [*checks, Check(broken.name, "FAIL", broken.detail, not verified, broken.refusal)]
    claim_checks = _claim_checks(payload, config, now, required_scopes)
    checks.extend(Check(c.name, c.status, c.detail, not verified, c.refusal) for c in claim_checks)
    return checks
