"""Shared fixtures: async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester", "logto_guard.pytest_plugin"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
