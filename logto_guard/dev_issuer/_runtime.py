"""In-memory records of the interactive flows: public clients, codes, opaque tokens, subject tokens.

Nothing here survives a restart (as with a code or a session at Logto, a client simply
starts over); JWT access tokens stay valid across restarts through the persisted keys.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CODE_TTL = 60
SUBJECT_TOKEN_TTL = 600
OPAQUE_TTL = 3600
MAX_RECORDS = 10_000
"""Per store: the oldest record is dropped beyond this, so no client can grow memory."""


@dataclass(frozen=True)
class PublicClient:
    """A public client (``token_endpoint_auth_method`` ``none``), registered by RFC 7591."""

    client_id: str
    redirect_uris: tuple[str, ...]
    client_name: str = ""


@dataclass(frozen=True)
class Code:
    """An authorization code: single use, bound to client, redirect URI, PKCE and resource."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    resource: str | None
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(frozen=True)
class Grant:
    """What an opaque access token or a subject token stands for."""

    user_id: str
    scopes: tuple[str, ...]
    expires_at: float
    client_id: str = ""


class Runtime:
    """The in-memory stores of one running dev issuer; ``clock`` is injected by tests."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.clients: dict[str, PublicClient] = {}
        self._codes: dict[str, Code] = {}
        self._opaque: dict[str, Grant] = {}
        self._subject: dict[str, Grant] = {}

    def register(self, redirect_uris: tuple[str, ...], name: str = "") -> PublicClient:
        """Register a public client with a random ``client_id``."""
        client = PublicClient("dyn_" + secrets.token_urlsafe(12), redirect_uris, name)
        _bound(self.clients)
        self.clients[client.client_id] = client
        return client

    def new_code(self, code: Code) -> str:
        """Store ``code`` and return its value."""
        self._prune()
        value = secrets.token_urlsafe(32)
        self._codes[value] = code
        return value

    def take_code(self, value: str) -> Code | None:
        """The unexpired code, removed (single use), or ``None``."""
        code = self._codes.pop(value, None)
        return code if code is not None and code.expires_at > self.clock() else None

    def new_opaque(self, user_id: str, scopes: tuple[str, ...], client_id: str) -> str:
        """An opaque user access token (what Logto issues without a resource)."""
        self._prune()
        value = secrets.token_urlsafe(32)
        self._opaque[value] = Grant(user_id, scopes, self.clock() + OPAQUE_TTL, client_id)
        return value

    def opaque(self, value: str) -> Grant | None:
        """The unexpired grant of an opaque token, or ``None``."""
        grant = self._opaque.get(value)
        return grant if grant is not None and grant.expires_at > self.clock() else None

    def new_subject_token(self, user_id: str) -> str:
        """An impersonation subject token ``sub_...`` valid for 10 minutes, single use."""
        self._prune()
        value = "sub_" + secrets.token_urlsafe(24)
        self._subject[value] = Grant(user_id, (), self.clock() + SUBJECT_TOKEN_TTL)
        return value

    def take_subject_token(self, value: str) -> Grant | None:
        """The unexpired subject token's grant, removed (single use), or ``None``."""
        grant = self._subject.pop(value, None)
        return grant if grant is not None and grant.expires_at > self.clock() else None

    def _prune(self) -> None:
        now = self.clock()
        for store in (self._codes, self._opaque, self._subject):
            for key in [k for k, v in store.items() if v.expires_at <= now]:
                del store[key]
            _bound(store)


def _bound(store: dict[str, Any]) -> None:
    while len(store) >= MAX_RECORDS:
        del store[next(iter(store))]
