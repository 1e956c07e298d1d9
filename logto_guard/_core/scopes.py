"""Scopes: reading the ``scope`` claim, requiring a route's scopes, and implications.

Implications are a server's own rule that a broader scope satisfies narrower ones.

MCP 2026-07-28 ("Step-Up Authorization Flow"): servers MUST account for scope hierarchies,
where a broader scope implies narrower ones. Logto has none: a token's ``scope`` lists
exactly the permissions of the roles granted, and ``write:products`` says nothing about
``read:products``. So logto-guard infers nothing unless the server declares it, e.g.
``{"write:products": ["read:products"]}``; implications are transitive.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING

from .errors import ConfigurationError, InsufficientScopeError, OrganizationTokenError

if TYPE_CHECKING:
    from .config import GuardConfig

__all__ = [
    "ScopeImplications",
    "check_resource_scopes",
    "implication_closure",
    "implied_scopes",
    "require_organization_allowed",
    "require_scopes",
    "scopes_in",
]

#: What a server declares: scope -> the scopes a token holding it also satisfies.
ScopeImplications = Mapping[str, Collection[str]]


def implication_closure(implications: ScopeImplications | None) -> dict[str, frozenset[str]]:
    """Every scope each declared scope implies, directly or through others.

    Raises:
        ConfigurationError: not a mapping of scope names to collections of scope names
            (a bare string as a value is refused: it would be read letter by letter).
    """
    if implications is None:
        return {}
    if not isinstance(implications, Mapping):
        raise ConfigurationError("scope_implications must map a scope to the scopes it implies")
    direct: dict[str, frozenset[str]] = {}
    for scope, implied in implications.items():
        if isinstance(implied, str) or not isinstance(implied, Collection):
            raise ConfigurationError(
                f"scope_implications[{scope!r}] must be a list of scopes, got {implied!r}"
            )
        for name in (scope, *implied):
            if not isinstance(name, str) or not name or " " in name:
                raise ConfigurationError(f"not a scope name in scope_implications: {name!r}")
        direct[scope] = frozenset(implied)
    closure: dict[str, frozenset[str]] = {}
    for scope in direct:
        seen: set[str] = set()
        todo = list(direct[scope])
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(direct.get(name, ()))
        seen.discard(scope)
        closure[scope] = frozenset(seen)
    return closure


def implied_scopes(
    granted: frozenset[str], closure: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """``granted`` plus every scope its scopes imply under ``closure``."""
    extra = [closure[scope] for scope in granted if scope in closure]
    return granted.union(*extra) if extra else granted


def check_resource_scopes(scopes: Iterable[str]) -> None:
    """Refuse ``offline_access`` among the scopes a resource requires or advertises.

    MCP 2026-07-28 ("Refresh Tokens"): servers SHOULD NOT include ``offline_access`` in
    a ``WWW-Authenticate`` scope or in ``scopes_supported``: refresh tokens are no
    resource requirement. Logto's access tokens for an API resource never carry it, so
    requiring it would refuse every token.

    Raises:
        ConfigurationError: ``offline_access`` is among ``scopes``.
    """
    if "offline_access" in scopes:
        raise ConfigurationError(
            "offline_access is an OpenID Connect scope for refresh tokens, not a resource "
            "permission: leave it out of required_scopes, tool_scopes and scopes_supported"
        )


def scopes_in(scope: str | None) -> list[str]:
    """The scopes of a ``scope`` claim, in order: RFC 6749 §3.3 separates them by U+0020
    only (``str.split()`` would also split U+00A0)."""
    return [s for s in scope.split(" ") if s] if scope else []


def require_organization_allowed(organization_id: str | None, config: GuardConfig) -> None:
    """Raise :class:`OrganizationTokenError` for an organization token on a guard that
    takes global tokens only (issue 16)."""
    if organization_id is not None and not config.accept_organization_tokens:
        raise OrganizationTokenError(organization_id)


def require_scopes(required: Iterable[str], granted: frozenset[str]) -> None:
    """Raise :class:`InsufficientScopeError` unless every ``required`` scope is granted."""
    if not granted.issuperset(required):
        raise InsufficientScopeError(required, granted)
