"""An opt-in pytest plugin: real signed Logto-shaped tokens for your app's tests.

Enable it in ``conftest.py`` with ``pytest_plugins = ["logto_guard.pytest_plugin"]``; then::

    def test_list_products(fake_logto):
        logto = fake_logto(guard)           # your app's LogtoGuard now trusts these keys
        response = client.get("/products", headers=logto.headers(scopes=["read:products"]))
        assert response.status_code == 200

Each guard handed to ``fake_logto`` goes back to its real JWKS after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, cast

import pytest

from ._core.options import Unpack
from .testing import FakeClock, FakeLogto, FakeLogtoOptions, Guarded

__all__ = ["FakeLogtoFactory", "fake_clock", "fake_logto"]


class _FactoryOptions(FakeLogtoOptions, total=False):
    endpoint: str
    audience: str


class FakeLogtoFactory(Protocol):
    """The ``fake_logto`` fixture: ``fake_logto(guard=None, **options)`` (see there)."""

    def __call__(
        self, guard: Guarded | None = None, **options: Unpack[_FactoryOptions]
    ) -> FakeLogto: ...


@pytest.fixture
def fake_logto() -> Iterator[FakeLogtoFactory]:
    """A factory: ``fake_logto(guard=None, **options)`` returns a :class:`FakeLogto`.

    With a guard (``LogtoGuard``, ``Authenticator`` or ``LogtoAuthMiddleware``), the fake
    takes the guard's endpoint, issuer and audience and the guard trusts its keys.
    """
    undo: list[Callable[[], None]] = []

    def make(guard: Guarded | None = None, **options: Unpack[_FactoryOptions]) -> FakeLogto:
        if guard is None:
            return FakeLogto(**options)
        if "endpoint" in options or "audience" in options:
            raise TypeError("fake_logto(guard) takes the guard's endpoint and audience")
        fake = FakeLogto.for_guard(guard, **cast(FakeLogtoOptions, options))
        undo.append(fake.trust(guard))
        return fake

    yield make
    for step in reversed(undo):
        step()


@pytest.fixture
def fake_clock() -> FakeClock:
    """A :class:`FakeClock` at the current second; pass it as ``clock=`` and advance it."""
    return FakeClock()
