"""Protect a FastMCP (4.x) server with Logto: ``FastMCP("shop", auth=LogtoProvider(...))``.

Needs the ``fastmcp`` extra: ``pip install 'logto-guard[fastmcp]'`` (Python >= 3.11).

Example::

    from fastmcp import FastMCP
    from fastmcp.server.auth import require_scopes
    from logto_guard.fastmcp import LogtoProvider

    auth = LogtoProvider(endpoint="https://tenant.logto.app",
                         base_url="https://shop.example.com")   # resource: <base_url>/mcp
    mcp = FastMCP("shop", auth=auth)

    @mcp.tool(auth=require_scopes("write:products"))   # FastMCP's per-tool scopes
    def create_product(name: str) -> str: ...

Tokens are verified by logto-guard's core (JWKS policy, rotation, ``typ: at+jwt``, the
verified-token cache); the provider serves RFC 9728 metadata naming ``<endpoint>/oidc`` and
answers refusals on the MCP endpoint as RFC 6750 says, with ``resource_metadata``.
"""

import typing as _typing
import warnings as _warnings

from ._core.public import publish as _publish
from ._mcp.fastmcp import (
    LogtoFastMCPVerifier,
    LogtoProvider,
)

__all__ = [
    "LogtoFastMCPVerifier",
    "LogtoProvider",
]

_publish(__name__, __all__, globals())

if _typing.TYPE_CHECKING:
    LogtoTokenVerifier = LogtoFastMCPVerifier
else:

    def __getattr__(name: str) -> object:
        # Renamed in 0.x: logto_guard.mcp.LogtoTokenVerifier is the MCP SDK's, another class.
        if name == "LogtoTokenVerifier":
            _warnings.warn(
                "logto_guard.fastmcp.LogtoTokenVerifier is now LogtoFastMCPVerifier",
                DeprecationWarning,
                stacklevel=2,
            )
            return LogtoFastMCPVerifier
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
