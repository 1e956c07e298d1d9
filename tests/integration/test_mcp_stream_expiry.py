"""A long-lived MCP event stream ends when its token expires, over real HTTP, both front
ends: the 2026-07-28 ``subscriptions/listen`` stream (stateless, the official client's
``listen()``) and the GET stream of a session (stateful, pre-2026-07-28 clients).

The servers run with ``leeway=0`` and the token lives a few seconds, so the test waits for
the token's own expiry (polling with a deadline), never for a server.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import SubscriptionLost, listen

from .test_mcp_flow import INITIALIZE, Server, start_server

pytestmark = pytest.mark.integration
LIFETIME = 3  # seconds: long enough to open the stream, short enough to wait for
#: The SSE responses ping every 15 s: a close that waited for the next message to send
#: would come about 12 s after exp, not at it.
PROMPTLY = 10
KINDS = ["sdk-demo", "fastmcp"]


def short_lived_token(server: Server) -> tuple[str, int]:
    now = int(time.time())
    claims = {
        "sub": "app",
        "client_id": "app",
        "iss": f"{server.issuer_url}/oidc",
        "aud": server.resource,
        "scope": "read:products",
        "iat": now,
        "exp": now + LIFETIME,
    }
    signed = httpx.post(f"{server.issuer_url}/__dev__/sign", json={"claims": claims})
    assert signed.status_code == 200, signed.text
    return signed.json()["token"], now + LIFETIME


def test_a_listen_stream_ends_when_its_token_expires(tmp_path: Path) -> None:
    # FastMCP 4.x answers subscriptions/listen with "Method not found": SDK front end only.
    with start_server("sdk-demo", tmp_path, stateless=True, leeway=0) as server:
        token, exp = short_lived_token(server)

        async def scenario() -> tuple[bool, float]:
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30) as http,
                streamable_http_client(server.resource, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.discover()  # 2026-07-28: no handshake, no session
                async with listen(session, tools_list_changed=True) as subscription:
                    ended = False
                    with anyio.move_on_after(LIFETIME + 20):  # the deadline of the poll
                        try:
                            async for _ in subscription:
                                pass
                        except SubscriptionLost:
                            pass
                        ended = True
                    return ended, time.time()

        ended, at = anyio.run(scenario)
    assert ended, "the listen stream outlived its token"
    assert exp <= at < exp + PROMPTLY  # at the token's deadline


@pytest.mark.parametrize("kind", KINDS)
def test_a_sessions_get_stream_ends_when_its_token_expires(kind: str, tmp_path: Path) -> None:
    if kind == "fastmcp":
        pytest.importorskip("fastmcp", reason="FastMCP needs Python >= 3.11")
    with start_server(kind, tmp_path, stateless=False, leeway=0) as server:
        token, exp = short_lived_token(server)
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
        }
        opened = httpx.post(server.resource, json=INITIALIZE, headers=headers)
        assert opened.status_code == 200, opened.text
        headers["Mcp-Session-Id"] = opened.headers["mcp-session-id"]
        headers["MCP-Protocol-Version"] = "2025-11-25"
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert httpx.post(server.resource, json=initialized, headers=headers).status_code == 202
        headers["Accept"] = "text/event-stream"
        # The read timeout is the poll's deadline: a stream left open fails the test.
        timeout = httpx.Timeout(5, read=LIFETIME + 20)
        with httpx.stream("GET", server.resource, headers=headers, timeout=timeout) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            for _ in stream.iter_raw():
                pass
        assert exp <= time.time() < exp + PROMPTLY
        # The next request with the expired token is refused by the library, not the SDK.
        refused = httpx.post(server.resource, json=INITIALIZE, headers=headers)
        assert refused.status_code == 401
        assert refused.json() == {"detail": "token expired", "error": "invalid_token"}
