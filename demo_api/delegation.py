"""The demo's agent tool: reorder a product through the REST API **as the calling user**.

The MCP server never passes the caller's token through (the MCP authorization spec forbids
it): it exchanges the caller's MCP token (audience: the MCP resource) at Logto for a token
to the shopping API with only the scopes the call needs (RFC 8693, Logto's token exchange),
so the REST API sees ``sub`` = the user and ``client_id`` = the MCP server's own app. An
M2M caller has no user to act for: the MCP server then calls with its own
client-credentials token.
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from logto_guard.client import LogtoM2MClient, TokenRequestError

#: What the REST calls of a reorder need: read the product, create its copy.
REORDER_SCOPES = ("read:products", "write:products")


class DelegationError(Exception):
    """The downstream call could not be made; the message says what to fix."""


class Reorderer:
    """Calls the shopping API for the caller of an MCP tool.

    Args:
        m2m: the MCP server's own M2M client (its App ID and App Secret), or ``None``
            when none is configured (``MCP_APP_ID`` / ``MCP_APP_SECRET``).
        api_url: the shopping API's base URL.
        audience: the shopping API's resource indicator.
        transport: an httpx transport for the REST calls (tests).
    """

    def __init__(
        self,
        *,
        m2m: LogtoM2MClient | None,
        api_url: str,
        audience: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.m2m = m2m
        self.api_url = api_url.rstrip("/")
        self.audience = audience
        self._transport = transport

    async def aclose(self) -> None:
        """Close the M2M client's connections (on shutdown)."""
        if self.m2m is not None:
            await self.m2m.aclose()

    def _auth(self, token: str, subject: str, client_id: str) -> httpx.Auth:
        assert self.m2m is not None
        if subject == client_id:  # an M2M caller: no user to act for
            return self.m2m.auth(resource=self.audience, scopes=REORDER_SCOPES)
        return self.m2m.delegated_auth(token, resource=self.audience, scopes=REORDER_SCOPES)

    async def reorder(
        self, product_id: int, *, token: str, subject: str, client_id: str
    ) -> dict[str, Any]:
        """Create a new listing copying product ``product_id``, as the caller.

        Raises:
            DelegationError: no credentials, the exchange was refused, or the API said no.
        """
        if self.m2m is None:
            raise DelegationError(
                "reorder_product needs the MCP server's own Logto app: set MCP_APP_ID and "
                "MCP_APP_SECRET (make demo registers shopping-mcp and sets them)"
            )
        auth = self._auth(token, subject, client_id)
        try:
            async with httpx.AsyncClient(
                base_url=self.api_url, auth=auth, transport=self._transport, timeout=10
            ) as api:
                found = await api.get(f"/products/{product_id}")
                _check(found)
                product = found.json()
                created = await api.post(
                    "/products",
                    json={
                        "name": product["name"],
                        "price": product["price"],
                        "description": f"reorder of #{product_id}",
                    },
                )
                _check(created)
                result: dict[str, Any] = created.json()
                return result
        except TokenRequestError as exc:
            # e.g. invalid_request: the MCP server's app may not exchange tokens; the
            # client's message names allowTokenExchange and where to turn it on.
            raise DelegationError(
                f"token exchange for {self.audience} failed: {exc}. The MCP server's app "
                f"({self.m2m.app_id}) needs token exchange enabled in Logto Console "
                "(allowTokenExchange)"
            ) from exc
        except httpx.HTTPError as exc:
            raise DelegationError(f"the shopping API is unreachable: {type(exc).__name__}") from exc


def _check(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    detail = ""
    with contextlib.suppress(ValueError, AttributeError):
        detail = str(response.json().get("detail", ""))
    raise DelegationError(f"the shopping API answered {response.status_code}: {detail}")
