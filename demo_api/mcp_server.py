"""The shopping API's MCP server: the same products as tools, guarded by logto_guard.mcp.

Served at ``/mcp`` (streamable HTTP, stateless, JSON responses). Its resource indicator is
the endpoint's public URL (``Settings.mcp_resource``): tokens must be requested with
``resource=<that URL>``; a token for the REST API's audience is refused here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings

from logto_guard.mcp import LogtoTokenVerifier, MCPAuthMiddleware, auth_settings, require_scopes

from .delegation import DelegationError, Reorderer
from .store import ProductStore

#: The scopes each tool needs: checked at the HTTP level (a 403 naming the scope) and
#: again inside the tool.
TOOL_SCOPES: dict[str, list[str]] = {
    "list_products": ["read:products"],
    "get_product": ["read:products"],
    "create_product": ["write:products"],
    "update_product": ["write:products"],
    "delete_product": ["write:products"],
    "reorder_product": ["write:products"],
}
MCP_PATH = "/mcp"


def _require(tool: str) -> str:
    """The calling app's id, once the token has the tool's scopes."""
    token = require_scopes(*TOOL_SCOPES[tool])
    return token.client_id


def create_mcp_server(
    store: ProductStore, verifier: LogtoTokenVerifier, reorderer: Reorderer | None = None
) -> MCPServer[Any]:
    """An ``MCPServer`` with the product tools over ``store``, and ``reorder_product``,
    which calls the REST API for its caller through ``reorderer`` (token exchange)."""
    mcp: MCPServer[Any] = MCPServer(
        "shopping",
        instructions="Products of the logto-guard demo shop.",
        token_verifier=verifier,
        auth=auth_settings(verifier),
    )

    @mcp.tool()
    def list_products(limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """List products (needs read:products)."""
        _require("list_products")
        limit = max(1, min(limit, 1000))
        return [asdict(p) for p in store.list(limit=limit, offset=max(0, offset))]

    @mcp.tool()
    def get_product(product_id: int) -> dict[str, Any]:
        """Show one product (needs read:products)."""
        _require("get_product")
        product = store.get(product_id)
        if product is None:
            raise ValueError(f"product {product_id} not found")
        return asdict(product)

    @mcp.tool()
    def create_product(name: str, price: float, description: str = "") -> dict[str, Any]:
        """Create a product (needs write:products)."""
        app_id = _require("create_product")
        _validate(name=name, price=price, description=description)
        return asdict(
            store.create(name=name.strip(), price=price, description=description, app_id=app_id)
        )

    @mcp.tool()
    def update_product(
        product_id: int,
        name: str | None = None,
        price: float | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Change some fields of a product (needs write:products)."""
        app_id = _require("update_product")
        changes = {
            k: v
            for k, v in {"name": name, "price": price, "description": description}.items()
            if v is not None
        }
        _validate(**changes)
        product = store.update(product_id, changes, app_id=app_id)
        if product is None:
            raise ValueError(f"product {product_id} not found")
        return asdict(product)

    @mcp.tool()
    def delete_product(product_id: int) -> str:
        """Delete a product (needs write:products)."""
        _require("delete_product")
        if not store.delete(product_id):
            raise ValueError(f"product {product_id} not found")
        return f"deleted product {product_id}"

    @mcp.tool()
    async def reorder_product(product_id: int) -> dict[str, Any]:
        """List product ``product_id`` again, through the REST API as the calling user
        (needs write:products). The caller's token is exchanged, never passed through."""
        token = require_scopes(*TOOL_SCOPES["reorder_product"])
        if reorderer is None:
            raise ToolError("reorder_product is not configured on this server")
        try:
            return await reorderer.reorder(
                product_id,
                token=token.token,
                subject=token.subject or token.client_id,
                client_id=token.client_id,
            )
        except DelegationError as exc:
            raise ToolError(str(exc)) from exc

    return mcp


def _validate(**fields: Any) -> None:
    # The REST API's pydantic limits, for the same store.
    name, price, description = fields.get("name"), fields.get("price"), fields.get("description")
    if name is not None and not 1 <= len(name.strip()) <= 200:
        raise ValueError("name must have 1 to 200 characters")
    if price is not None and not 0 <= price <= 1e12:
        raise ValueError("price must be between 0 and 1e12")
    if description is not None and len(description) > 2000:
        raise ValueError("description must have at most 2000 characters")


def mcp_app(
    mcp: MCPServer[Any], verifier: LogtoTokenVerifier, *, stateless: bool = True
) -> MCPAuthMiddleware:
    """The streamable-HTTP app at ``/mcp``, behind logto-guard's refusals and metadata
    (``stateless=False``: with protocol sessions, for pre-2026-07-28 clients)."""
    host = urlsplit(verifier.resource_url).netloc
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[host, "127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )
    inner = mcp.streamable_http_app(
        streamable_http_path=MCP_PATH,
        json_response=True,
        stateless_http=stateless,
        transport_security=security,
    )
    return verifier.protect(
        inner,
        path=MCP_PATH,
        tool_scopes=TOOL_SCOPES,
        scopes_supported=["read:products", "write:products"],
    )
