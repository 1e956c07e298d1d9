"""Demo settings: the only place the demo reads environment variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_AUDIENCE = "https://shopping.api"
DEFAULT_API_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where tokens come from and where products are stored.

    ``endpoint`` is ``None`` when ``LOGTO_ENDPOINT`` is unset: the demo then runs its own
    dev issuer and trusts that. ``mcp_resource`` is the MCP endpoint's resource indicator
    (its public URL); ``None`` means ``http://127.0.0.1:<port>/mcp``
    (see :meth:`with_mcp_default`).
    """

    endpoint: str | None
    audience: str = DEFAULT_AUDIENCE
    issuer: str | None = None
    jwks_uri: str | None = None
    db_path: str = "demo.sqlite3"
    mcp_resource: str | None = None
    #: The MCP server's own Logto app (token exchange for its delegated tool).
    mcp_app_id: str | None = None
    mcp_app_secret: str | None = dataclasses.field(default=None, repr=False)
    #: Serve /mcp without protocol sessions (``stateless_http=True``); False keeps the
    #: pre-2026-07-28 sessions (``Mcp-Session-Id``, the GET stream) for older clients.
    mcp_stateless: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: str) -> Settings:
        """Read ``LOGTO_ENDPOINT``, ``LOGTO_AUDIENCE``, ``LOGTO_ISSUER``, ``LOGTO_JWKS_URI``,
        ``MCP_RESOURCE``, ``MCP_APP_ID``, ``MCP_APP_SECRET`` and ``MCP_STATELESS``
        (``0`` serves /mcp with protocol sessions)."""
        env = os.environ if environ is None else environ
        values = {
            "endpoint": env.get("LOGTO_ENDPOINT") or None,
            "audience": env.get("LOGTO_AUDIENCE") or DEFAULT_AUDIENCE,
            "issuer": env.get("LOGTO_ISSUER") or None,
            "jwks_uri": env.get("LOGTO_JWKS_URI") or None,
            "mcp_resource": env.get("MCP_RESOURCE") or None,
            "mcp_app_id": env.get("MCP_APP_ID") or None,
            "mcp_app_secret": env.get("MCP_APP_SECRET") or None,
            "mcp_stateless": env.get("MCP_STATELESS", "1").strip().lower()
            not in {"0", "false", "no"},
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def with_mcp_default(self, port: int) -> Settings:
        """These settings with ``mcp_resource`` defaulting to ``http://127.0.0.1:<port>/mcp``."""
        if self.mcp_resource is not None:
            return self
        return dataclasses.replace(self, mcp_resource=mcp_default(port))


def mcp_default(port: int) -> str:
    """The MCP resource indicator when ``MCP_RESOURCE`` is unset."""
    return f"http://127.0.0.1:{port}/mcp"


@dataclass(frozen=True, kw_only=True)
class ClientSettings:
    """What the demo client needs: where the API is and which M2M app it acts as.

    Unset credentials are taken from the dev issuer's state directory (what ``make demo``
    created), so the client works right after starting the demo.
    """

    api_url: str = DEFAULT_API_URL  # the default of the client's --api-url
    endpoint: str | None = None
    app_id: str | None = None
    app_secret: str | None = None
    audience: str = DEFAULT_AUDIENCE
    mcp_resource: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        """Read ``SHOPPING_API_URL``, ``LOGTO_ENDPOINT``, ``LOGTO_APP_ID``,
        ``LOGTO_APP_SECRET``, ``LOGTO_AUDIENCE`` and ``MCP_RESOURCE``."""
        env = os.environ if environ is None else environ
        return cls(
            mcp_resource=env.get("MCP_RESOURCE") or None,
            api_url=env.get("SHOPPING_API_URL") or DEFAULT_API_URL,
            endpoint=env.get("LOGTO_ENDPOINT") or None,
            app_id=env.get("LOGTO_APP_ID") or None,
            app_secret=env.get("LOGTO_APP_SECRET") or None,
            audience=env.get("LOGTO_AUDIENCE") or DEFAULT_AUDIENCE,
        )
