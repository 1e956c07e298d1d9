"""The error tree: RFC 6750 codes, evidence, and the public surface."""

from __future__ import annotations

import inspect

import pytest

import logto_guard
from logto_guard import (
    AuthError,
    InsufficientScopeError,
    KeysUnavailableError,
)


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
