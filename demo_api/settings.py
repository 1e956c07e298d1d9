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
