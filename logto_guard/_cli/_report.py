"""Check-by-check diagnosis of an access token, for ``logto-guard inspect``.

:func:`inspect_token` replays the validator's checks one by one (structure, ``kid``,
``alg``, signature, ``typ``, ``iss``, ``aud``, ``exp``, ``nbf``, ``iat``, ``sub``, scopes)
and keeps going after a failure, so one run shows everything that is wrong. It is a
report, not a verdict: the command asks the guard's own :class:`~logto_guard.Authenticator`
for that. Parsing uses the validator's reading (:mod:`logto_guard._jws`), so both read a
token the same way.

Every value taken from the token is shown through :func:`show`, which escapes control
characters and shortens long values: a hostile token cannot drive the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from .._core.config import GuardConfig
from .._core.errors import InvalidClaimError, InvalidSignatureError, MalformedTokenError
from .._core.jws import (
    COMPACT_JWS,
    decode_json_object,
    decode_signature,
    has_critical_extension,
    normalise_typ,
    optional_str,
    timestamp,
    valid_kid,
)
from .._core.trusted_keys import TrustedKey

Status = Literal["PASS", "FAIL", "SKIP", "INFO"]
_SHOW_LIMIT = 120
#: Deeper nesting is shown as a placeholder, the same on every Python version.
_SHOW_DEPTH = 100


@dataclass(frozen=True)
class Check:
    """One line of the report.

    Attributes:
        name: what was checked (``"aud"``, ``"signature"``, ...).
        status: ``PASS``/``FAIL``; ``SKIP`` when it could not be checked, ``INFO`` for facts.
        detail: the evidence (expected and actual values), safe to print.
        unverified: the detail comes from claims whose signature did not verify.
    """

    name: str
    status: Status
    detail: str
    unverified: bool = False


def _deeper_than(value: object, limit: int) -> bool:
    """True when lists and dicts nest more than ``limit`` levels (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | dict):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def show(value: object, limit: int = _SHOW_LIMIT) -> str:
    """``value`` for a terminal: plain printable strings as is, anything else as JSON.

    Control and format characters are escaped and the result is cut at ``limit``.
    """
    if isinstance(value, str) and value and value.isprintable() and '"' not in value:
        text = value
    elif _deeper_than(value, _SHOW_DEPTH):
        # Decided here, not by catching RecursionError: Python 3.13's C encoder recurses
        # far deeper than 3.12's, so the interpreter's limit gave different answers.
        text = f"<{type(value).__name__} too deep to show>"
    else:
        try:
            text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=repr)
        except (ValueError, RecursionError):
            text = f"<{type(value).__name__} too deep to show>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def duration(seconds: float) -> str:
    """``seconds`` in the two largest units: ``59m 12s``, ``3m``, ``2h 5m``, ``4d 1h``."""
    remaining = int(abs(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count or (parts and len(parts) < 2):
            parts.append(f"{count}{unit}")
        if len(parts) == 2:
            break
    while len(parts) > 1 and parts[-1].startswith("0"):
        parts.pop()
    return " ".join(parts) or "0s"


def plural(count: int, noun: str) -> str:
    """``1 key``, ``2 keys``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _split(
    token: str, config: GuardConfig
) -> tuple[Check, dict[str, Any] | None, dict[str, Any] | None]:
    """The structure check, the header (if readable) and the payload (``None`` if not)."""
    if len(token) > config.max_token_size:
        size = f"{len(token)} characters, over the {config.max_token_size} limit"
        return Check("structure", "FAIL", f"token is too large ({size})"), None, None
    segments = token.split(".")
    if len(segments) != 3:
        detail = f"expected 3 dot-separated segments, got {len(segments)}"
        return Check("structure", "FAIL", detail), None, None
    if not COMPACT_JWS.fullmatch(token):
        detail = "3 segments, but with characters outside base64url (padding, spaces?)"
        return Check("structure", "FAIL", detail), None, None
    try:
        header = decode_json_object(segments[0], "header")
    except MalformedTokenError as exc:
        return Check("structure", "FAIL", exc.description), None, None
    shown = f"header {show(header, 200)}"
    if has_critical_extension(header):
        return Check("structure", "FAIL", f"unsupported critical header; {shown}"), header, None
    try:
        payload = decode_json_object(segments[1], "payload")
    except MalformedTokenError as exc:
        return Check("structure", "FAIL", f"{exc.description}; {shown}"), header, None
    passed = Check("structure", "PASS", f"3 segments, JSON header and payload; {shown}")
    return passed, header, payload


def _key_checks(
    token: str, header: Mapping[str, Any], config: GuardConfig, keys: Mapping[str, TrustedKey]
) -> tuple[list[Check], bool]:
    """The ``kid``, ``alg`` and signature checks, and whether the signature verified."""
    checks: list[Check] = []
    kid, alg = header.get("kid"), header.get("alg")
    key: TrustedKey | None = None
    if not valid_kid(kid):
        checks.append(Check("kid", "FAIL", f"kid header is missing or not a string: {show(kid)}"))
    elif isinstance(kid, str) and kid in keys:
        key = keys[kid]
        checks.append(
            Check("kid", "PASS", f"{show(kid)} found in the JWKS ({plural(len(keys), 'key')})")
        )
    else:
        published = ", ".join(show(k) for k in sorted(keys)) or "none"
        checks.append(Check("kid", "FAIL", f"{show(kid)} not in the JWKS (published: {published})"))
    allowed = ", ".join(sorted(config.algorithms))
    if not isinstance(alg, str):
        checks.append(Check("alg", "FAIL", f"alg header is missing or not a string: {show(alg)}"))
    elif alg not in config.algorithms:
        checks.append(Check("alg", "FAIL", f"{show(alg)} is not on the allow-list ({allowed})"))
    elif key is None:
        checks.append(Check("alg", "SKIP", f"{alg} is on the allow-list; no key to match it"))
    elif alg not in key.algorithms:
        fits = ", ".join(sorted(key.algorithms))
        detail = f"{alg} does not fit key {show(key.kid)} (it allows {fits})"
        checks.append(Check("alg", "FAIL", detail))
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
    except InvalidSignatureError:
        checks.append(Check("signature", "FAIL", "not canonical base64url; not checked"))
        return checks, False
    valid = key.verify(alg, signing_input.encode("ascii"), signature)
    if valid:
        checks.append(Check("signature", "PASS", f"verified with {shown}"))
    else:
        checks.append(Check("signature", "FAIL", f"does not verify with {shown}"))
    return checks, valid


def _typ_check(header: Mapping[str, Any], config: GuardConfig) -> Check:
    typ = header.get("typ")
    got = "(none)" if typ is None else show(typ)
    if config.require_typ is None:
        return Check("typ", "SKIP", f"not required; got {got}")
    ok = isinstance(typ, str) and normalise_typ(typ) == normalise_typ(config.require_typ)
    return Check("typ", "PASS" if ok else "FAIL", f"expected {config.require_typ}, got {got}")


def _time_checks(claims: dict[str, Any], config: GuardConfig, now: float) -> list[Check]:
    checks: list[Check] = []
    leeway = config.leeway
    for name in ("exp", "nbf", "iat"):
        try:
            value = timestamp(claims, name, required=name == "exp")
        except InvalidClaimError as exc:
            checks.append(Check(name, "FAIL", f"{exc.description}: {show(claims.get(name))}"))
            continue
        if value is None:
            continue
        when, delta = _utc(value), value - now
        if name == "exp":
            if delta > 0:
                checks.append(Check(name, "PASS", f"expires in {duration(delta)} ({when})"))
            elif now < value + leeway:
                detail = f"expired {duration(delta)} ago, within the {leeway:g}s leeway ({when})"
                checks.append(Check(name, "PASS", detail))
            else:
                checks.append(Check(name, "FAIL", f"expired {duration(delta)} ago ({when})"))
            continue
        verb = "valid since" if name == "nbf" else "issued"
        if delta <= 0:
            checks.append(Check(name, "PASS", f"{verb} {duration(delta)} ago ({when})"))
        else:
            ok = value <= now + leeway
            slack = f", within the {leeway:g}s leeway" if ok else ""
            status: Status = "PASS" if ok else "FAIL"
            detail = f"{verb} {duration(delta)} in the future{slack} ({when})"
            checks.append(Check(name, status, detail))
    return checks


def _claim_checks(
    claims: dict[str, Any], config: GuardConfig, now: float, required_scopes: Iterable[str]
) -> list[Check]:
    checks: list[Check] = []
    iss = claims.get("iss")
    expected = ", ".join(config.issuers)
    ok = isinstance(iss, str) and iss in config.issuers
    checks.append(Check("iss", "PASS" if ok else "FAIL", f"expected {expected}, got {show(iss)}"))
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    ok = isinstance(audiences, list) and any(
        isinstance(a, str) and a in config.audiences for a in audiences
    )
    detail = f"expected {config.audience}, got {show(aud)}"
    checks.append(Check("aud", "PASS" if ok else "FAIL", detail))
    checks.extend(_time_checks(claims, config, now))
    sub = claims.get("sub")
    ok = isinstance(sub, str) and bool(sub)
    checks.append(Check("sub", "PASS" if ok else "FAIL", show(sub) if ok else "missing sub claim"))
    checks.append(_scope_check(claims, required_scopes))
    for name in ("client_id", "organization_id"):
        if name in claims:
            detail = show(claims[name])
            if name == "client_id" and claims[name] == sub:
                detail += " (== sub: a machine-to-machine token)"
            checks.append(Check(name, "INFO", detail))
    return checks


def _scope_check(claims: dict[str, Any], required_scopes: Iterable[str]) -> Check:
    try:
        scope = optional_str(claims, "scope")
    except InvalidClaimError as exc:
        return Check("scope", "FAIL", f"{exc.description}: {show(claims.get('scope'))}")
    granted = scope.split() if scope else []
    shown = show(" ".join(granted)) if granted else "none (no scope claim)"
    if scope is not None and not granted:
        shown = "none (empty scope claim)"
    required = list(dict.fromkeys(required_scopes))
    if not required:
        return Check("scope", "INFO", f"granted: {shown}")
    missing = [s for s in required if s not in granted]
    if missing:
        return Check("scope", "FAIL", f"missing: {show(' '.join(missing))}; granted: {shown}")
    return Check("scope", "PASS", f"required {show(' '.join(required))}; granted: {shown}")


def inspect_token(
    token: str,
    *,
    config: GuardConfig,
    keys: Mapping[str, TrustedKey],
    now: float,
    required_scopes: Iterable[str] = (),
) -> list[Check]:
    """Every check the guard makes on ``token``, each with its evidence, in order.

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
    structure, header, payload = _split(token, config)
    checks = [structure]
    if header is None:
        return checks
    key_checks, verified = _key_checks(token, header, config, keys)
    checks.extend(key_checks)
    checks.append(_typ_check(header, config))
    if payload is not None:
        claim_checks = _claim_checks(payload, config, now, required_scopes)
        checks.extend(
            Check(c.name, c.status, c.detail, unverified=not verified) for c in claim_checks
        )
    return checks
