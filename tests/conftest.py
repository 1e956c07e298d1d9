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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "wall_clock: the clock fixture starts at the current second, not in 2023"
    )


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> FakeClock:
    """A clock frozen at 2023-11-14T22:13:20Z until a test advances it; at the current
    second under ``@pytest.mark.wall_clock`` (where PyJWT or an SDK also reads time.time())."""
    if request.node.get_closest_marker("wall_clock") is not None:
        return FakeClock()
    return FakeClock(1_700_000_000)


@pytest.fixture
def logto(clock: FakeClock) -> FakeLogto:
    """A fake Logto tenant minting tokens at ``clock``'s time."""
    return FakeLogto(clock=clock)
