"""Reading compact JWS tokens (RFC 7515 §7.1) and the claims of an access token.

One reading for everyone: the validator decides with these helpers and ``logto-guard
inspect`` reports with them, so the report can never read a token differently from the
verdict.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from .errors import InvalidClaimError, InvalidSignatureError, MalformedTokenError

COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
MAX_KID_LENGTH = 1024
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z: beyond it datetime cannot follow

_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        # Parsers disagree on which duplicate wins; refuse rather than pick one (RFC 7515 §4).
        raise ValueError("duplicate member name")
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads() with hooks would build a new decoder for every call.
_JSON = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url already checked against the base64url alphabet."""
    data = segment.encode("ascii").translate(_FROM_URLSAFE)
    return binascii.a2b_base64(data + b"=" * (-len(segment) % 4))


def decode_json_object(segment: str, what: str) -> dict[str, Any]:
    """A base64url segment holding a JSON object without duplicate members.

    Raises:
        MalformedTokenError: not base64url, not strict JSON, or not an object.
    """
    try:
        value = _JSON.decode(b64url_decode(segment).decode("utf-8"))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise MalformedTokenError(f"{what} is not valid base64url JSON") from exc
    if not isinstance(value, dict):
        raise MalformedTokenError(f"{what} is not a JSON object")
    return value


def decode_signature(segment: str) -> bytes:
    """The signature bytes, refusing any spelling but the canonical one.

    Unused trailing bits would let several token strings pass for the same signature (and
    slip past denylists keyed on them): one signature, one spelling.

    Raises:
        InvalidSignatureError: not canonical unpadded base64url.
    """
    try:
        signature = b64url_decode(segment)
    except binascii.Error as exc:
        raise InvalidSignatureError() from exc
    if base64.urlsafe_b64encode(signature).rstrip(b"=").decode() != segment:
        raise InvalidSignatureError()
    return signature


def normalise_typ(value: str) -> str:
    """RFC 7515 §4.1.9: media types compare case-insensitively, "application/" may be left out."""
    value = value.lower()
    return value[len("application/") :] if value.startswith("application/") else value


def timestamp(claims: dict[str, Any], name: str, *, required: bool) -> float | None:
    """A NumericDate claim in range, ``None`` when absent and not required.

    Raises:
        InvalidClaimError: missing (when required), ``null``, not a number, or out of range.
    """
    value = claims.get(name)
    if value is None:
        if required or name in claims:
            raise InvalidClaimError(name, f"missing {name} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidClaimError(name, f"{name} claim is not a number")
    # Plain comparisons: float() of a 400-digit int would overflow, and NaN fails them.
    if not 0 <= value <= MAX_TIMESTAMP:
        raise InvalidClaimError(name, f"{name} claim is out of range")
    return float(value)


def valid_kid(kid: object) -> bool:
    """True for a ``kid`` header the key set may be asked about."""
    return isinstance(kid, str) and 0 < len(kid) <= MAX_KID_LENGTH


def has_critical_extension(header: dict[str, Any]) -> bool:
    """True when the header asks for a JWS extension; none is understood (RFC 7515 §4.1.11)."""
    return "crit" in header or "b64" in header


def shown(value: object, limit: int = 80) -> str:
    """``value`` for a log line: ``repr`` (escapes control characters), at most ``limit``
    characters; sets and lists of strings sorted so lines compare."""
    if isinstance(value, frozenset | set):
        value = sorted(value, key=str)
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
