"""Demo settings: the only place the demo reads environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_AUDIENCE = "https://shopping.api"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Where tokens come from and where products are stored.

    ``endpoint`` is ``None`` when ``LOGTO_ENDPOINT`` is unset: the demo then runs its own
    dev issuer and trusts that.
    """

    endpoint: str | None
    audience: str = DEFAULT_AUDIENCE
    issuer: str | None = None
    jwks_uri: str | None = None
    db_path: str = "demo.sqlite3"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: str) -> Settings:
        """Read ``LOGTO_ENDPOINT``, ``LOGTO_AUDIENCE``, ``LOGTO_ISSUER``, ``LOGTO_JWKS_URI``."""
        env = os.environ if environ is None else environ
        values = {
            "endpoint": env.get("LOGTO_ENDPOINT") or None,
            "audience": env.get("LOGTO_AUDIENCE") or DEFAULT_AUDIENCE,
            "issuer": env.get("LOGTO_ISSUER") or None,
            "jwks_uri": env.get("LOGTO_JWKS_URI") or None,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class ClientSettings:
    """What the demo client needs: where the API is and which M2M app it acts as.

    Unset credentials are taken from the dev issuer's state directory (what ``make demo``
    created), so the client works right after starting the demo.
    """

    api_url: str = "http://127.0.0.1:8000"
    endpoint: str | None = None
    app_id: str | None = None
    app_secret: str | None = None
    audience: str = DEFAULT_AUDIENCE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        """Read ``SHOPPING_API_URL``, ``LOGTO_ENDPOINT``, ``LOGTO_APP_ID``,
        ``LOGTO_APP_SECRET`` and ``LOGTO_AUDIENCE``."""
        env = os.environ if environ is None else environ
        return cls(
            api_url=env.get("SHOPPING_API_URL") or "http://127.0.0.1:8000",
            endpoint=env.get("LOGTO_ENDPOINT") or None,
            app_id=env.get("LOGTO_APP_ID") or None,
            app_secret=env.get("LOGTO_APP_SECRET") or None,
            audience=env.get("LOGTO_AUDIENCE") or DEFAULT_AUDIENCE,
        )
