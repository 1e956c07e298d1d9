"""The MCP front ends (public names in :mod:`logto_guard.mcp` and :mod:`logto_guard.fastmcp`)."""
