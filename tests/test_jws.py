"""Reading compact JWS tokens and claims (logto_guard._core.jws): one strict reading."""

from __future__ import annotations

import base64
import json
import math

import pytest

from logto_guard import InvalidClaimError, InvalidSignatureError, MalformedTokenError
from logto_guard._core.jws import (
    COMPACT_JWS,
    MAX_KID_LENGTH,
    MAX_TIMESTAMP,
    b64url_decode,
    decode_json_object,
    decode_signature,
    has_critical_extension,
    normalise_typ,
    shown,
    timestamp,
    valid_kid,
)


def segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc", b"\xfb\xff\xfe", bytes(range(256))])
def test_b64url_decode_reads_unpadded_base64url(data: bytes) -> None:
    assert b64url_decode(segment(data)) == data


@pytest.mark.parametrize(
    ("token", "compact"),
    [
        ("a.b.c", True),
        ("a.b.", True),  # an empty signature is compact (and refused later)
        ("a-_.b.c", True),
        (".b.c", False),
        ("a..c", False),
        ("a.b", False),
        ("a.b.c.d", False),
        ("a+b.c.d", False),  # base64, not base64url
        ("a=.b.c", False),
    ],
)
def test_compact_jws_shape(token: str, compact: bool) -> None:
    assert (COMPACT_JWS.fullmatch(token) is not None) is compact


def test_json_object_segment_is_decoded() -> None:
    assert decode_json_object(segment(b'{"alg":"ES384","n":1}'), "header") == {
        "alg": "ES384",
        "n": 1,
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a":1,"a":2}', "header is not valid base64url JSON"),  # duplicates: no winner
        (b'{"exp":NaN}', "header is not valid base64url JSON"),
        (b'{"exp":Infinity}', "header is not valid base64url JSON"),
        (b'{"a":1', "header is not valid base64url JSON"),
        (b"\xff\xfe", "header is not valid base64url JSON"),  # not UTF-8
        (b"[" * 100_000 + b"]" * 100_000, "header is not valid base64url JSON"),  # too deep
        (b"[1,2]", "header is not a JSON object"),
        (b'"x"', "header is not a JSON object"),
        (b"null", "header is not a JSON object"),
    ],
)
def test_anything_but_a_strict_json_object_is_malformed(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedTokenError) as caught:
        decode_json_object(segment(raw), "header")
    assert caught.value.description == message


def test_nested_duplicates_are_refused_too() -> None:
    with pytest.raises(MalformedTokenError):
        decode_json_object(segment(b'{"a":{"b":1,"b":1}}'), "claims")


def test_signature_is_decoded_in_its_one_canonical_spelling() -> None:
    signature = bytes(range(1, 97))
    assert decode_signature(segment(signature)) == signature


def test_signature_with_set_unused_bits_is_refused() -> None:
    """'AB' and 'AA' decode to the same byte: only the canonical spelling passes."""
    assert decode_signature("AA") == b"\x00"
    with pytest.raises(InvalidSignatureError):
        decode_signature("AB")


@pytest.mark.parametrize("spelling", ["A", "AA==", "A-B"])
def test_impossible_or_padded_signature_spellings_are_refused(spelling: str) -> None:
    with pytest.raises(InvalidSignatureError):
        decode_signature(spelling)


@pytest.mark.parametrize(
    ("typ", "normal"),
    [("at+jwt", "at+jwt"), ("AT+JWT", "at+jwt"), ("application/at+jwt", "at+jwt"),
     ("Application/AT+JWT", "at+jwt"), ("JWT", "jwt"), ("text/at+jwt", "text/at+jwt")],
)  # fmt: skip
def test_typ_compares_case_insensitively_without_the_application_prefix(
    typ: str, normal: str
) -> None:
    assert normalise_typ(typ) == normal


@pytest.mark.parametrize("value", [0, 1, 1_700_000_000, 1_700_000_000.5, MAX_TIMESTAMP])
def test_numeric_dates_in_range_are_read_as_floats(value: float) -> None:
    read = timestamp({"exp": value}, "exp", required=True)
    assert read == float(value) and isinstance(read, float)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "exp claim is out of range"),
        (MAX_TIMESTAMP + 1, "exp claim is out of range"),
        (10**400, "exp claim is out of range"),  # float() would overflow
        (math.nan, "exp claim is out of range"),
        (math.inf, "exp claim is out of range"),
        (True, "exp claim is not a number"),
        ("1700000000", "exp claim is not a number"),
        ([1], "exp claim is not a number"),
    ],
)
def test_numeric_dates_out_of_range_or_of_another_type_are_refused(
    value: object, message: str
) -> None:
    with pytest.raises(InvalidClaimError) as caught:
        timestamp({"exp": value}, "exp", required=False)
    assert (caught.value.description, caught.value.claim) == (message, "exp")


def test_absent_numeric_date_is_none_unless_required() -> None:
    assert timestamp({}, "nbf", required=False) is None
    with pytest.raises(InvalidClaimError, match="missing exp claim"):
        timestamp({}, "exp", required=True)


def test_null_numeric_date_is_refused_even_when_optional() -> None:
    with pytest.raises(InvalidClaimError, match="missing nbf claim"):
        timestamp({"nbf": None}, "nbf", required=False)


@pytest.mark.parametrize(
    ("kid", "valid"),
    [("k", True), ("k" * MAX_KID_LENGTH, True), ("", False), ("k" * (MAX_KID_LENGTH + 1), False),
     (5, False), (None, False), (["k"], False)],
)  # fmt: skip
def test_kid_is_a_bounded_non_empty_string(kid: object, valid: bool) -> None:
    assert valid_kid(kid) is valid


@pytest.mark.parametrize(
    ("header", "critical"),
    [({"alg": "ES384"}, False), ({"crit": []}, True), ({"b64": True}, True),
     ({"crit": ["exp"], "exp": 1}, True)],
)  # fmt: skip
def test_any_jws_extension_is_critical(header: dict[str, object], critical: bool) -> None:
    assert has_critical_extension(header) is critical


def test_shown_values_are_escaped_bounded_and_sorted() -> None:
    assert shown("a\nb") == "'a\\nb'"
    assert shown(frozenset({"b", "a"})) == "['a', 'b']"
    long = shown("x" * 500, limit=20)
    assert len(long) == 20 and long.endswith("...")
    assert json.loads(json.dumps(shown({"k": 1}))) == "{'k': 1}"
