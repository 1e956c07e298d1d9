"""Small helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import pkgutil
import time

import logto_guard
from logto_guard._core.jwks_cache import JWKSCache

#: Every public module of the package (no part of its name starts with ``_``), found by
#: walking it: the one list the public-API and docs tests derive theirs from.
_FOUND = (found.name for found in pkgutil.walk_packages(logto_guard.__path__, "logto_guard."))
PUBLIC_MODULES = [
    "logto_guard",
    *sorted(name for name in _FOUND if not any(p.startswith("_") for p in name.split("."))),
]

MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}


def bearer(token: str, *, mcp: bool = False) -> dict[str, str]:
    """``Authorization: Bearer <token>``; ``mcp=True`` adds the ``Accept`` header an MCP
    streamable-HTTP client sends."""
    return {**(MCP_ACCEPT if mcp else {}), "Authorization": f"Bearer {token}"}


async def settled(source: JWKSCache, timeout: float = 5.0) -> None:
    """Wait until ``source`` has no JWKS request in flight (a background refresh ended);
    fail after ``timeout`` seconds of real time."""
    deadline = time.monotonic() + timeout
    while source.fetching:
        assert time.monotonic() < deadline, "a JWKS fetch is still in flight"
        await asyncio.sleep(0.001)
