"""The demo client's MCP commands: the official MCP client SDK with a Logto M2M token."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from logto_guard.client import LogtoM2MClient, TokenRequestError

SCOPES = ["read:products", "write:products"]


async def call_mcp(url: str, token: str, tool: str | None, arguments: dict[str, Any]) -> Any:
    """List the tools (``tool`` None) or call one; returns the JSON-ready result, or
    ``{"error": ...}`` for a protocol error (an HTTP refusal such as insufficient_scope)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        try:
            await session.initialize()
            if tool is None:
                listed = await session.list_tools()
                return [{"name": t.name, "description": t.description} for t in listed.tools]
            result = await session.call_tool(tool, arguments)
        except MCPError as exc:
            # Raised inside the transport's task group: caught here, not around anyio.run.
            return {"error": str(exc)}
        return result.model_dump(mode="json", exclude_none=True, by_alias=True)


def run_mcp_command(
    args: argparse.Namespace, endpoint: str, app_id: str, app_secret: str, url: str
) -> int:
    """``mcp-tools`` / ``mcp-call``: print the JSON answer; 1 on a tool or protocol error."""
    try:
        arguments = json.loads(getattr(args, "arguments", "{}"))
    except ValueError:
        print("error: arguments must be a JSON object", file=sys.stderr)
        return 2
    if not isinstance(arguments, dict):
        print("error: arguments must be a JSON object", file=sys.stderr)
        return 2
    with LogtoM2MClient(endpoint=endpoint, app_id=app_id, app_secret=app_secret) as m2m:
        try:
            # The MCP endpoint is its own API resource: resource=<its URL>.
            token = m2m.get_token_sync(resource=url, scopes=SCOPES).access_token
        except TokenRequestError as exc:
            print(f"token request failed: {exc}", file=sys.stderr)
            return 2
    tool = args.tool if args.command == "mcp-call" else None
    result = anyio.run(call_mcp, url, token, tool, arguments)
    print(json.dumps(result, indent=2))
    failed = isinstance(result, dict) and (result.get("isError") or "error" in result)
    return 1 if failed else 0
