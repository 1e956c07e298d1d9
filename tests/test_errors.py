"""The error tree: PyJWT mapping, RFC 6750 codes, and the public surface."""

from __future__ import annotations

import inspect

import jwt
import pytest

import logto_guard
from logto_guard import (
    AuthError,
    ExpiredTokenError,
    ImmatureTokenError,
    InsufficientScopeError,
    InvalidClaimError,
    InvalidTokenError,
    KeysUnavailableError,
)
from logto_guard._errors import from_pyjwt


def _all_pyjwt_errors() -> list[type[jwt.PyJWTError]]:
    found: list[type[jwt.PyJWTError]] = []
    pending: list[type[jwt.PyJWTError]] = [jwt.PyJWTError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _instance(cls: type[jwt.PyJWTError]) -> jwt.PyJWTError:
    if issubclass(cls, jwt.exceptions.MissingRequiredClaimError):
        return cls("exp")
    return cls("boom")


@pytest.mark.parametrize("cls", _all_pyjwt_errors(), ids=lambda c: c.__name__)
def test_every_pyjwt_error_maps_to_an_invalid_token_error(cls: type[jwt.PyJWTError]) -> None:
    mapped = from_pyjwt(_instance(cls))
    assert isinstance(mapped, InvalidTokenError)
    assert mapped.status_code == 401
    assert mapped.error == "invalid_token"
    assert "boom" not in mapped.description  # PyJWT's text never reaches the client


@pytest.mark.parametrize(
    ("cls", "expected", "claim"),
    [
        (jwt.exceptions.ExpiredSignatureError, ExpiredTokenError, "exp"),
        (jwt.exceptions.ImmatureSignatureError, ImmatureTokenError, "nbf"),
        (jwt.exceptions.InvalidAudienceError, InvalidClaimError, "aud"),
        (jwt.exceptions.InvalidIssuerError, InvalidClaimError, "iss"),
        (jwt.exceptions.MissingRequiredClaimError, InvalidClaimError, "exp"),
    ],
)
def test_claim_errors_keep_the_claim(
    cls: type[jwt.PyJWTError], expected: type[InvalidClaimError], claim: str
) -> None:
    mapped = from_pyjwt(_instance(cls))
    assert isinstance(mapped, expected)
    assert mapped.claim == claim


def test_the_pyjwt_tree_is_the_one_we_mapped() -> None:
    """A new PyJWT error class should be looked at, not silently fall into the default."""
    names = {cls.__name__ for cls in _all_pyjwt_errors()}
    assert names == {
        "PyJWTError", "InvalidTokenError", "DecodeError", "InvalidSignatureError",
        "ExpiredSignatureError", "InvalidAudienceError", "InvalidIssuerError",
        "InvalidIssuedAtError", "ImmatureSignatureError", "InvalidKeyError",
        "InvalidAlgorithmError", "MissingRequiredClaimError", "PyJWKError",
        "MissingCryptographyError",
        "PyJWKSetError", "PyJWKClientError", "PyJWKClientConnectionError", "InvalidSubjectError",
        "InvalidJTIError",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (logto_guard.CredentialsMissingError(), 401, None),
        (logto_guard.InvalidRequestError(), 400, "invalid_request"),
        (logto_guard.MalformedTokenError(), 401, "invalid_token"),
        (InsufficientScopeError(["a"], ["b"]), 403, "insufficient_scope"),
        (KeysUnavailableError(retry_after=3), 503, None),
    ],
)
def test_auth_errors_carry_status_and_rfc6750_code(
    error: AuthError, status: int, code: str | None
) -> None:
    assert (error.status_code, error.error) == (status, code)
    assert error.reason and error.description


def test_insufficient_scope_error_carries_its_evidence() -> None:
    error = InsufficientScopeError(["read:products", "write:products"], {"read:products"})
    assert error.required_scopes == ("read:products", "write:products")
    assert error.granted_scopes == frozenset({"read:products"})


def test_all_is_sorted_and_complete() -> None:
    public = {
        name
        for name, value in vars(logto_guard).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value) or name.isupper())
        and getattr(value, "__module__", "logto_guard").startswith("logto_guard")
    }
    assert public <= set(logto_guard.__all__)
    exported = [name for name in logto_guard.__all__ if name != "__version__"]
    # Constants first, then classes and functions: the order ruff's RUF022 keeps.
    assert exported == sorted(exported, key=lambda name: (not name.isupper(), name))
    for name in logto_guard.__all__:
        assert hasattr(logto_guard, name)


def test_every_public_name_has_a_docstring() -> None:
    for name in logto_guard.__all__:
        value = getattr(logto_guard, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name
