"""Protect an MCP server built with the official MCP Python SDK (``mcp`` 2.x) with Logto.

Needs the ``mcp`` extra: ``pip install 'logto-guard[mcp]'``.

Example::

    from mcp.server.mcpserver import MCPServer
    from logto_guard.mcp import LogtoTokenVerifier, auth_settings, require_scopes

    verifier = LogtoTokenVerifier(endpoint="https://tenant.logto.app",
                                  audience="https://shop.example.com/mcp")
    mcp = MCPServer("shop", token_verifier=verifier, auth=auth_settings(verifier))

    @mcp.tool()
    def create_product(name: str) -> str:
        token = require_scopes("write:products")   # a ToolError naming the scope if absent
        return f"created by {token.client_id}"

    # RFC 6750 answers, resource_metadata in every challenge, and a 403 with scope="..."
    # for tools/call before the tool runs:
    app = verifier.protect(mcp.streamable_http_app(), tool_scopes={
        "create_product": ["write:products"]})

The verifier returns ``None`` for every refused token (including one issued for another
resource: the SDK leaves the audience to the verifier), and an ``AccessToken`` whose
``resource`` is the matched audience and whose ``claims`` hold ``iss``, so the SDK's
principal (client_id, issuer, subject) is complete.
"""

from ._core.public import publish as _publish
from ._mcp.sdk import (
    LogtoTokenVerifier,
    MCPAuthMiddleware,
    MissingScopeError,
    auth_settings,
    require_scopes,
    to_access_token,
)

__all__ = [
    "LogtoTokenVerifier",
    "MCPAuthMiddleware",
    "MissingScopeError",
    "auth_settings",
    "require_scopes",
    "to_access_token",
]

_publish(__name__, __all__, globals())
