"""Per-route delegation policy: which apps may call, and whether delegated tokens may.

Logto marks nothing on an exchanged token (RFC 8693) but ``act`` (with an actor token) and
``client_id`` (the acting app). Its service-to-service guidance is to allow-list
``client_id`` on the downstream API; :class:`Policy` is that allow-list plus the refusal of
actor and delegated tokens on sensitive routes, checked in one place for every front end.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from .errors import (
    ActorNotAllowedError,
    ClientNotAllowedError,
    ConfigurationError,
    DelegationNotAllowedError,
)
from .identity import AuthInfo

__all__ = ["Policy"]


@dataclass(frozen=True, init=False)
class Policy:
    """A route's rule on who may call it, beyond scopes.

    Args:
        clients: the App IDs (``client_id``) allowed to call; ``None`` allows any app.
        allow_actor: when False, tokens carrying ``act`` (issued with an actor token:
            "user X acting through Y") are refused.
        allow_delegated: when False, every delegated token is refused (:attr:`AuthInfo.
            delegated`: ``act`` present, or an M2M app of ``m2m_clients`` acting for a
            user): only callers presenting their own token pass.

    Raises:
        ConfigurationError: ``clients`` is a string or holds a non-string.
    """

    clients: frozenset[str] | None = field(default=None)
    allow_actor: bool = True
    allow_delegated: bool = True

    def __init__(
        self,
        *,
        clients: Collection[str] | None = None,
        allow_actor: bool = True,
        allow_delegated: bool = True,
    ) -> None:
        if clients is not None and (
            isinstance(clients, str) or not all(isinstance(c, str) and c for c in clients)
        ):
            raise ConfigurationError("clients must be a collection of App IDs (strings)")
        for name, value in (("allow_actor", allow_actor), ("allow_delegated", allow_delegated)):
            if not isinstance(value, bool):
                raise ConfigurationError(f"{name} must be True or False")
        set_ = object.__setattr__
        set_(self, "clients", None if clients is None else frozenset(clients))
        set_(self, "allow_actor", allow_actor)
        set_(self, "allow_delegated", allow_delegated)

    @property
    def restricts(self) -> bool:
        """False for the policy that allows everything (no check needed)."""
        return self.clients is not None or not (self.allow_actor and self.allow_delegated)

    def check(self, info: AuthInfo) -> None:
        """Raise the refusal for ``info``, or return when the route may serve it.

        Raises:
            ClientNotAllowedError: ``client_id`` is not among ``clients``.
            ActorNotAllowedError: an actor token and ``allow_actor`` is False.
            DelegationNotAllowedError: a delegated token and ``allow_delegated`` is False.
        """
        if self.clients is not None and info.client_id not in self.clients:
            raise ClientNotAllowedError(info.client_id)
        if not self.allow_actor and info.actor is not None:
            raise ActorNotAllowedError()
        if not self.allow_delegated and info.delegated:
            raise DelegationNotAllowedError()

    def allows(self, info: AuthInfo) -> bool:
        """True when :meth:`check` would not raise (the warm path's test)."""
        return (
            (self.clients is None or info.client_id in self.clients)
            and (self.allow_actor or info.actor is None)
            and (self.allow_delegated or not info.delegated)
        )
