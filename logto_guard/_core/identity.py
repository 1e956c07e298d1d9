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
        actor: ``act.sub`` when the token was issued with an actor token (RFC 8693
            §4.1: "this user, acting through that actor"), else ``None``.
        delegated: True for a token exchanged for someone else: ``act`` is present, or
            ``client_id`` is one of the guard's ``m2m_clients`` while ``sub`` is not that
            app (an M2M app acting for a user). Logto marks nothing else on such tokens.
    """

    subject: str
    client_id: str | None
    audience: str
    issuer: str
    scopes: frozenset[str]
    organization_id: str | None
    expires_at: datetime
    claims: Mapping[str, Any] = field(repr=False, compare=False, hash=False)
    actor: str | None = None
    delegated: bool = False

    @property
    def is_m2m(self) -> bool:
        """True for a machine-to-machine token: Logto's rule is ``sub == client_id``."""
        return self.client_id is not None and self.subject == self.client_id
