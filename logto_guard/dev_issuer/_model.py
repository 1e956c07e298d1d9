"""The records the dev issuer keeps: signing keys, API resources, M2M apps, and their JSON form."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from logto_guard.signing import PrivateKey, public_jwk

KeyStatus = Literal["next", "current", "previous"]

DEFAULT_TTL = 3600
"""Logto's default access-token lifetime for an API resource, in seconds."""

SUPPORTED_ALGS = ("ES256", "ES384", "ES512", "RS256")
"""Algorithms a Logto tenant signs with: EC P-256/P-384/P-521 keys, or RSA keys (RS256)."""

_KEY_ORDER: dict[str, int] = {"next": 0, "current": 1, "previous": 2}
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_ID_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits


def random_string(length: int, alphabet: str = _ID_ALPHABET) -> str:
    """A random string from ``alphabet`` drawn with :mod:`secrets`."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_app_id() -> str:
    """A new App ID shaped like Logto's: 21 lowercase alphanumerics."""
    return random_string(21)


def new_app_secret() -> str:
    """A new App Secret: 32 alphanumerics."""
    return random_string(32, _SECRET_ALPHABET)


def is_scope_token(value: str) -> bool:
    """Whether ``value`` is one RFC 6749 scope token (no spaces, quotes or backslashes)."""
    return _SCOPE_TOKEN.fullmatch(value) is not None


def _scopes(values: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"{what}: expected a list of scopes, got a string")
    result = tuple(dict.fromkeys(values))
    for scope in result:
        if not isinstance(scope, str) or not is_scope_token(scope):
            raise ValueError(f"{what}: invalid scope {scope!r}")
    return result


@dataclass(frozen=True)
class SigningKey:
    """A private signing key with its Logto rotation status.

    Attributes:
        private_key: the private key (EC or RSA).
        alg: the JWS algorithm it signs with (``ES384``, ``RS256``, ...).
        status: ``"current"`` signs; ``"previous"`` and ``"next"`` are only published.
        created_at: Unix time the key was generated.
    """

    private_key: PrivateKey
    alg: str
    status: KeyStatus
    created_at: int

    @cached_property
    def jwk(self) -> dict[str, str]:
        """The public JWK published in the JWKS (``kid`` is its RFC 7638 thumbprint)."""
        return public_jwk(self.private_key)

    @property
    def kid(self) -> str:
        """The key id: the RFC 7638 SHA-256 thumbprint of the public key."""
        return self.jwk["kid"]


@dataclass(frozen=True)
class Resource:
    """An API resource: its indicator (the token ``aud``), permissions and token lifetime."""

    indicator: str
    scopes: tuple[str, ...] = ()
    access_token_ttl: int = DEFAULT_TTL


@dataclass(frozen=True)
class App:
    """A machine-to-machine app and what its roles grant.

    Attributes:
        app_id: the App ID (``client_id`` and ``sub`` of its tokens).
        app_secret: the App Secret.
        name: a unique, human-readable name.
        grants: resource indicator -> scopes granted by the app's roles.
        organizations: organization id -> (resource indicator, or ``""`` for organization
            permissions) -> scopes granted by the app's organization roles.
    """

    app_id: str
    app_secret: str = field(repr=False)
    name: str
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    organizations: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)


def make_grants(grants: Mapping[str, Iterable[str]] | None) -> dict[str, tuple[str, ...]]:
    """Normalise a ``{resource: [scopes]}`` mapping (dedupe, validate scope tokens)."""
    return {str(res): _scopes(scopes, f"grants[{res!r}]") for res, scopes in (grants or {}).items()}


def make_organizations(
    organizations: Mapping[str, Mapping[str, Iterable[str]]] | None,
) -> dict[str, dict[str, tuple[str, ...]]]:
    """Normalise ``{org_id: {resource or "": [scopes]}}`` like :func:`make_grants`."""
    result: dict[str, dict[str, tuple[str, ...]]] = {}
    for org_id, grants in (organizations or {}).items():
        if not isinstance(org_id, str) or not org_id:
            raise ValueError(f"invalid organization id {org_id!r}")
        result[org_id] = make_grants(grants)
    return result


def sort_keys(keys: Iterable[SigningKey]) -> list[SigningKey]:
    """Keys ordered newest first: next, current, previous."""
    return sorted(keys, key=lambda k: _KEY_ORDER[k.status])


def make_resource(indicator: str, scopes: Iterable[str], ttl: int) -> Resource:
    """A validated :class:`Resource` (absolute URI, scope tokens, positive integer ttl)."""
    if "://" not in indicator or "#" in indicator or any(c.isspace() for c in indicator):
        raise ValueError(f"resource indicator must be an absolute URI: {indicator!r}")
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
        raise ValueError(f"access_token_ttl of {indicator!r} must be a positive integer")
    return Resource(indicator, _scopes(scopes, indicator), ttl)


def check_grants(app: App, resources: Mapping[str, Resource]) -> None:
    """Check that ``app`` is granted only scopes its resources define.

    Raises:
        ValueError: an unknown resource or a scope the resource does not define.
    """
    grants = [(False, app.grants), *((True, g) for g in app.organizations.values())]
    for in_organization, grant in grants:
        for indicator, scopes in grant.items():
            if in_organization and indicator == "":
                continue  # organization permissions are not tied to a resource
            resource = resources.get(indicator)
            if resource is None:
                raise ValueError(f"unknown resource {indicator!r}; add it first")
            undefined = set(scopes) - set(resource.scopes)
            if undefined:
                raise ValueError(f"{indicator!r} defines no scope {sorted(undefined)}")


def make_app(
    name: str,
    grants: Mapping[str, Iterable[str]] | None,
    organizations: Mapping[str, Mapping[str, Iterable[str]]] | None,
    app_id: str,
    app_secret: str | None,
    resources: Mapping[str, Resource],
) -> App:
    """A validated :class:`App` (a new secret unless given) granted only defined scopes.

    Raises:
        ValueError: a malformed scope, an unknown resource or an undefined scope.
    """
    app = App(
        app_id=app_id,
        app_secret=app_secret or new_app_secret(),
        name=name,
        grants=make_grants(grants),
        organizations=make_organizations(organizations),
    )
    check_grants(app, resources)
    return app
