"""Reading MCP requests for the MCP HTTP layer: the route path (as Starlette routes),
whether an app routes a path, the capped body and its replay, and the ``tools/call``
messages in it. Free of any web framework and MCP package.
"""

from __future__ import annotations

import json
from typing import Any

from .._core.asgi_types import Message, Receive, Scope
from .._core.bounded_body import CappedBytes


def route_path(scope: Scope) -> str:
    """The path the app routes on: ``path`` without the ``root_path`` prefix a ``Mount``
    or ``--root-path`` sets (Starlette's ``get_route_path`` rule)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


def routes_to(app: Any, path: str) -> bool | None:
    """Whether ``app``'s routes (Starlette's ``Route``/``Mount``) serve ``path``; ``None``
    when ``app`` shows no routes to inspect."""
    routes = getattr(app, "routes", None)
    if routes is None:
        router = getattr(app, "router", None)
        routes = getattr(router, "routes", None)
    if routes is None:
        return None
    for route in routes:
        prefix = getattr(route, "path", None)
        if not isinstance(prefix, str):
            continue
        inner = getattr(route, "app", None)
        if prefix == path and not hasattr(inner, "routes"):
            return True
        below = hasattr(route, "routes") and path.startswith(prefix + "/")
        if below and routes_to(route, path[len(prefix) :]):
            return True
    return False


def tool_calls(body: bytes) -> list[tuple[Any, str]] | None:
    """``(id, tool name)`` of each ``tools/call`` in a JSON-RPC message or batch; ``None``
    when the body is no JSON (a nesting too deep to parse included: a 400, never a 500)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    calls: list[tuple[Any, str]] = []
    for message in parsed if isinstance(parsed, list) else [parsed]:
        if not isinstance(message, dict) or message.get("method") != "tools/call":
            continue
        params = message.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        if isinstance(name, str):
            calls.append((message.get("id"), name))
    return calls


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or ``None`` past ``limit`` bytes (the :class:`CappedBytes` rule;
    a plain loop, not an async generator: this runs on every guarded ``tools/call``)."""
    collected = CappedBytes(limit)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        if not collected.add(message.get("body", b"")):
            return None
        if not message.get("more_body", False):
            break
    return collected.value()


def replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
