"""RFC 6750 on the wire (logto_guard._core.rfc6750): reading Authorization, writing refusals."""

from __future__ import annotations

import json

import pytest

from logto_guard import (
    AuthError,
    CredentialsMissingError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidRequestError,
    KeysUnavailableError,
)
from logto_guard._core.rfc6750 import (
    WEBSOCKET_REFUSAL_CODE,
    authorization_values,
    parse_authorization,
    refusal,
)


def test_authorization_values_are_every_authorization_header_in_order() -> None:
    headers = [(b"host", b"a"), (b"Authorization", b"Bearer x"), (b"authorization", b"Basic y")]
    assert authorization_values(headers) == ["Bearer x", "Basic y"]
    assert authorization_values([(b"host", b"a")]) == []


def test_authorization_values_decode_latin1_so_no_header_byte_fails() -> None:
    assert authorization_values([(b"authorization", b"Bearer \xff")]) == ["Bearer \xff"]


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),  # RFC 9110 §11.1: the scheme is case-insensitive
        ("BEARER abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("\tBearer abc", "abc"),
        ("Bearer eyJ.a-b_c.d~e+f/g==", "eyJ.a-b_c.d~e+f/g=="),  # the b64token alphabet
    ],
)
def test_bearer_token_is_read(value: str, token: str) -> None:
    assert parse_authorization([value]) == token


@pytest.mark.parametrize("values", [[], ["Basic YTpi"], ["Bearerabc"], ["Token abc"], [""]])
def test_missing_or_other_scheme_is_credentials_missing(values: list[str]) -> None:
    with pytest.raises(CredentialsMissingError):
        parse_authorization(values)


@pytest.mark.parametrize(
    ("values", "description"),
    [
        (["Bearer a", "Bearer b"], "multiple Authorization headers"),
        (["Bearer"], "bearer token is empty"),
        (["Bearer    "], "bearer token is empty"),
        (["Bearer a b"], "bearer credentials are not a single token"),
        (["Bearer a,b"], "bearer credentials are not a single token"),
        (["Bearer =abc"], "bearer credentials are not a single token"),  # padding only at the end
        (["Bearer ab=c"], "bearer credentials are not a single token"),
        (["Bearer a\tb"], "bearer credentials are not a single token"),
    ],
)
def test_malformed_bearer_credentials_are_invalid_request(
    values: list[str], description: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_authorization(values)
    assert caught.value.description == description


def test_missing_credentials_are_refused_with_a_bare_challenge() -> None:
    answer = refusal(CredentialsMissingError(), "https://api.test")
    assert answer.status_code == 401
    assert answer.headers == {"WWW-Authenticate": 'Bearer realm="https://api.test"'}
    assert answer.body == {"detail": "bearer token required"}  # RFC 6750 §3.1: no error code


def test_invalid_token_names_its_code_and_description() -> None:
    answer = refusal(ExpiredTokenError(), "https://api.test")
    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="https://api.test", error="invalid_token", ')
    assert f'error_description="{answer.error.description}"' in challenge
    assert answer.body == {"detail": answer.error.description, "error": "invalid_token"}


def test_insufficient_scope_lists_every_required_scope() -> None:
    answer = refusal(InsufficientScopeError(["read", "write"], ["read"]), "r")
    assert answer.status_code == 403
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer realm="r", error="insufficient_scope", '
        'error_description="token lacks required scopes: write", scope="read write"'
    )


def test_unavailable_keys_answer_503_with_retry_after_and_no_challenge() -> None:
    answer = refusal(KeysUnavailableError(retry_after=7), "r", resource_metadata="https://m")
    assert (answer.status_code, dict(answer.headers)) == (503, {"Retry-After": "7"})
    assert answer.body == {"detail": "signing keys are temporarily unavailable"}


def test_resource_metadata_is_the_last_challenge_parameter() -> None:
    answer = refusal(CredentialsMissingError(), "r", resource_metadata="https://a.test/.wk")
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer realm="r", resource_metadata="https://a.test/.wk"'
    )


def test_quoted_strings_escape_quotes_and_backslashes() -> None:
    """RFC 9110 §5.6.4: a realm or description with '"' or '\\' cannot end the string."""
    answer = refusal(InvalidRequestError('bad "x" \\ y'), 'realm "q"')
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer realm="realm \\"q\\"", error="invalid_request", '
        'error_description="bad \\"x\\" \\\\ y"'
    )


def test_body_bytes_are_compact_utf8_json_of_the_body() -> None:
    answer = refusal(InvalidRequestError("é"), "r")
    assert answer.body_bytes() == '{"detail":"é","error":"invalid_request"}'.encode()
    assert json.loads(answer.body_bytes()) == answer.body


def test_a_refusal_keeps_its_error_as_evidence() -> None:
    error: AuthError = InsufficientScopeError(["a"], [])
    assert refusal(error, "r").error is error


def test_websocket_refusals_close_with_policy_violation() -> None:
    assert WEBSOCKET_REFUSAL_CODE == 1008  # RFC 6455 §7.4.1
