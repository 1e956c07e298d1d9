"""Shared fixtures: async tests on asyncio (anyio's plugin), a frozen clock, a fake tenant."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from logto_guard.testing import FakeClock, FakeLogto

pytest_plugins = ["pytester", "logto_guard.pytest_plugin"]

# HYPOTHESIS_PROFILE=long: many more examples for suites that size themselves from the
# active profile (tests/test_differential.py); "default" is hypothesis's own.
settings.register_profile("long", max_examples=10_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    """A clock frozen at 2023-11-14T22:13:20Z until a test advances it."""
    return FakeClock(1_700_000_000)


@pytest.fixture
def logto(clock: FakeClock) -> FakeLogto:
    """A fake Logto tenant minting tokens at ``clock``'s time."""
    return FakeLogto(clock=clock)
