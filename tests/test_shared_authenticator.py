"""A front end given ``authenticator=`` uses it as it is; settings beside it are refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from logto_guard import Authenticator, ConfigurationError, GuardConfig
from logto_guard.asgi import LogtoAuthMiddleware
from logto_guard.mcp import LogtoTokenVerifier

MCP = "https://shop.example.com/mcp"


async def _app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


def _shared() -> Authenticator:
    return Authenticator(endpoint="https://tenant.logto.app", audience=MCP)


def _fastmcp(**kwargs: Any) -> object:
    fastmcp = pytest.importorskip("logto_guard.fastmcp", reason="FastMCP needs Python >= 3.11")
    return fastmcp.LogtoProvider(base_url="https://shop.example.com", **kwargs)


FRONT_ENDS: dict[str, Callable[..., object]] = {
    "asgi": lambda **kwargs: LogtoAuthMiddleware(_app, **kwargs),
    "mcp": lambda **kwargs: LogtoTokenVerifier(**kwargs),
    "fastmcp": _fastmcp,
}

BESIDE: dict[str, dict[str, Any]] = {
    "leeway": {"leeway": 5},
    "audience": {"audience": MCP},
    "endpoint": {"endpoint": "https://other.logto.app"},
    "config": {"config": GuardConfig(endpoint="https://tenant.logto.app", audience=MCP)},
    "http_client": {"http_client": httpx.AsyncClient()},
    "clock": {"clock": lambda: 0.0},
    "metrics": {"metrics": False},
}


@pytest.mark.parametrize("name", sorted(FRONT_ENDS))
@pytest.mark.parametrize("setting", sorted(BESIDE))
def test_a_setting_beside_a_shared_authenticator_is_refused(name: str, setting: str) -> None:
    with pytest.raises(ConfigurationError, match=f"authenticator= is given: {setting} would"):
        FRONT_ENDS[name](authenticator=_shared(), **BESIDE[setting])


@pytest.mark.parametrize("name", sorted(FRONT_ENDS))
def test_a_shared_authenticator_alone_is_used_as_it_is(name: str) -> None:
    shared = _shared()
    front_end: Any = FRONT_ENDS[name](authenticator=shared)
    assert front_end.authenticator is shared
