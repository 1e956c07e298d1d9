"""What a verified access token says about its caller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AuthInfo:
    """The verified identity behind a request.

    Attributes:
        subject: ``sub``; for an M2M token, the App ID.
        client_id: ``client_id``: the app that requested the token.
        audience: the API resource indicator the token was issued for (ours).
        issuer: ``iss``.
        scopes: the granted scopes (``scope`` split on spaces; absent means none).
        organization_id: ``organization_id`` for organization-level API resources.
        expires_at: ``exp`` as an aware UTC datetime.
        claims: every claim of the token, read-only.
    """

    subject: str
    client_id: str | None
    audience: str
    issuer: str
    scopes: frozenset[str]
    organization_id: str | None
    expires_at: datetime
    claims: Mapping[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def is_m2m(self) -> bool:
        """True for a machine-to-machine token: Logto's rule is ``sub == client_id``."""
        return self.client_id is not None and self.subject == self.client_id
