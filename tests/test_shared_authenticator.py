"""A front end given ``authenticator=`` uses it as it is; settings beside it are refused."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

import httpx
import pytest

from logto_guard import Authenticator, ConfigurationError, GuardConfig, Refusal
from logto_guard.asgi import LogtoAuthMiddleware
from logto_guard.mcp import LogtoTokenVerifier

MCP = "https://shop.example.com/mcp"


async def _app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


def _shared() -> Authenticator:
    return Authenticator(endpoint="https://tenant.logto.app", audience=MCP)


def _fastmcp(**kwargs: Any) -> object:
    pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")
    from logto_guard.fastmcp import LogtoProvider

    return LogtoProvider(base_url="https://shop.example.com", **kwargs)


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


@pytest.mark.anyio
async def test_a_front_end_names_its_own_metadata_not_anothers() -> None:
    """The FastAPI guard's RFC 9728 URL stays out of an ASGI middleware sharing its
    Authenticator (issue 17 §2: front ends no longer write into the shared one)."""
    from logto_guard.fastapi import LogtoGuard

    guard = LogtoGuard(endpoint="https://tenant.logto.app", audience=MCP, resource_url=MCP)
    assert guard.resource_metadata is not None
    middleware = LogtoAuthMiddleware(_app, authenticator=guard.authenticator)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await middleware({"type": "http", "path": "/x", "headers": []}, receive, send)
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 401
    assert b"resource_metadata" not in headers[b"www-authenticate"]
    refused = await guard.authenticator.check([], resource_metadata=guard.resource_metadata)
    assert isinstance(refused, Refusal)
    assert guard.resource_metadata in refused.headers["WWW-Authenticate"]
