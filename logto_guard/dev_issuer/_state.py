"""The dev issuer's persisted state: signing keys, API resources and M2M apps."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from logto_guard.dev_issuer._keyring import new_key, rotated, staged
from logto_guard.dev_issuer._model import (
    DEFAULT_TTL,
    App,
    Resource,
    SigningKey,
    make_app,
    make_resource,
    new_app_id,
)
from logto_guard.dev_issuer._store import Snapshot, Stamp, file_stamp, read_state, write_state
from logto_guard.signing import logto_claims, sign

DEFAULT_ISSUER = "http://127.0.0.1:3001/oidc"
DEFAULT_ALG = "ES384"
DEFAULT_RSA_BITS = 2048
STATE_FILE = "state.json"


class IssuerState:
    """Keys, resources and apps of a dev issuer, persisted as JSON in a state directory.

    Every change is written atomically, so a restarted issuer (or a second process opened
    on the same directory later) keeps the keys and apps and earlier tokens still verify.

    Example::

        state = IssuerState.open(".logto-dev")
        state.add_resource("https://shopping.api", ["read:products", "write:products"])
        app = state.ensure_app("demo", grants={"https://shopping.api": ["read:products"]})
        token = state.mint(app, audience="https://shopping.api", scopes=["read:products"])
    """

    def __init__(
        self,
        path: Path,
        *,
        issuer: str = DEFAULT_ISSUER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use :meth:`open`; this builds an empty, unsaved state."""
        self.path = path
        self.issuer = issuer.rstrip("/")
        self.clock = clock
        self._keys: list[SigningKey] = []
        self._resources: dict[str, Resource] = {}
        self._apps: dict[str, App] = {}
        self._stamp: Stamp | None = None

    @classmethod
    def open(
        cls,
        state_dir: str | os.PathLike[str],
        *,
        issuer: str = DEFAULT_ISSUER,
        alg: str = DEFAULT_ALG,
        rsa_bits: int = DEFAULT_RSA_BITS,
        clock: Callable[[], float] = time.time,
    ) -> IssuerState:
        """Load the state in ``state_dir``, or create it with one ``alg`` signing key.

        Args:
            state_dir: directory holding ``state.json`` (created if missing).
            issuer: the ``iss`` of minted tokens, ``<endpoint>/oidc``.
            alg: algorithm of the first key of a fresh state (ignored when loading).
            rsa_bits: RSA key size when ``alg`` is RS256.
            clock: returns the current Unix time (injected by tests).

        Raises:
            StateError: the state file exists but is corrupt; it is not overwritten.
        """
        directory = Path(state_dir)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        state = cls(directory / STATE_FILE, issuer=issuer, clock=clock)
        if state.path.exists():
            state._load()
        else:
            state._keys = [new_key(alg, "current", rsa_bits=rsa_bits, now=state.clock())]
            state._save()
        return state

    @property
    def keys(self) -> list[SigningKey]:
        """The published keys, newest first (next, current, previous)."""
        return list(self._keys)

    @property
    def current_key(self) -> SigningKey:
        """The key that signs new tokens."""
        return next(k for k in self._keys if k.status == "current")

    @property
    def resources(self) -> dict[str, Resource]:
        """API resources by indicator (a copy)."""
        return dict(self._resources)

    @property
    def apps(self) -> list[App]:
        """The registered M2M apps."""
        return list(self._apps.values())

    def get_app(self, app_id: str) -> App | None:
        """The app with this App ID, or ``None``."""
        return self._apps.get(app_id)

    def find_app(self, name: str) -> App | None:
        """The app with this name, or ``None``."""
        return next((a for a in self._apps.values() if a.name == name), None)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWK Set, as served at ``/oidc/jwks``: next, current, previous keys."""
        return {"keys": [dict(k.jwk) for k in self._keys]}

    def add_resource(
        self, indicator: str, scopes: Iterable[str] = (), *, ttl: int = DEFAULT_TTL
    ) -> Resource:
        """Register (or replace) an API resource with its permissions and token lifetime.

        Raises:
            ValueError: the indicator is not an absolute URI, a scope is malformed, or
                ``ttl`` is not positive.
        """
        self.reload_if_changed()
        resource = make_resource(indicator, scopes, ttl)
        self._resources[indicator] = resource
        self._save()
        return resource

    def add_app(
        self,
        name: str,
        *,
        grants: Mapping[str, Iterable[str]] | None = None,
        organizations: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
        app_id: str | None = None,
        app_secret: str | None = None,
    ) -> App:
        """Register a new M2M app; a random App ID and Secret are made unless given.

        Args:
            name: a unique name.
            grants: resource indicator -> scopes its roles grant.
            organizations: organization id -> (resource indicator, or ``""`` for
                organization permissions) -> scopes its organization roles grant.

        Raises:
            ValueError: duplicate name or App ID, unknown resource, or a scope the resource
                does not define.
        """
        self.reload_if_changed()
        if not name or self.find_app(name) is not None:
            raise ValueError(f"an app named {name!r} already exists (or the name is empty)")
        app = make_app(
            name, grants, organizations, app_id or new_app_id(), app_secret, self._resources
        )
        if app.app_id in self._apps:
            raise ValueError(f"App ID {app.app_id!r} is already taken")
        self._apps[app.app_id] = app
        self._save()
        return app

    def ensure_app(
        self,
        name: str,
        *,
        grants: Mapping[str, Iterable[str]] | None = None,
        organizations: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
    ) -> App:
        """Like :meth:`add_app`, but an app with this name keeps its ID and Secret.

        Its grants and organization memberships are replaced by the given ones.
        """
        self.reload_if_changed()
        existing = self.find_app(name)
        if existing is None:
            return self.add_app(name, grants=grants, organizations=organizations)
        app = make_app(
            name, grants, organizations, existing.app_id, existing.app_secret, self._resources
        )
        self._apps[app.app_id] = app
        self._save()
        return app

    def rotate(self, alg: str | None = None, *, rsa_bits: int = DEFAULT_RSA_BITS) -> SigningKey:
        """Make a new current key; the old one stays published as previous.

        A staged next key is promoted if present. Older previous keys are dropped, as
        Logto keeps at most next, current and previous.

        Args:
            alg: algorithm of the new key; defaults to the current key's.

        Raises:
            ValueError: unsupported ``alg``, or one that differs from a staged next key.
        """
        self.reload_if_changed()
        self._keys = rotated(self._keys, alg, rsa_bits=rsa_bits, now=self.clock())
        self._save()
        return self.current_key

    def stage_next(self, alg: str | None = None, *, rsa_bits: int = DEFAULT_RSA_BITS) -> SigningKey:
        """Publish a new "next" key that does not sign until :meth:`rotate` promotes it.

        A previously staged next key is replaced.
        """
        self.reload_if_changed()
        self._keys = staged(self._keys, alg, rsa_bits=rsa_bits, now=self.clock())
        self._save()
        return next(k for k in self._keys if k.status == "next")

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        headers: Mapping[str, Any] | None = None,
        key: SigningKey | None = None,
        typ: str | None = "at+jwt",
    ) -> str:
        """Sign arbitrary ``claims`` with the current key (or ``key``); ``typ=None`` omits typ."""
        key = key or self.current_key
        return sign(claims, key.private_key, alg=key.alg, kid=key.kid, typ=typ, headers=headers)

    def mint(
        self,
        app: App | str,
        *,
        audience: str,
        scopes: Iterable[str] | None = None,
        organization_id: str | None = None,
        ttl: int | None = None,
        now: int | None = None,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> str:
        """Mint a Logto-shaped access token for ``app`` without any grant checks.

        Args:
            app: the app, or a bare App ID (``sub`` and ``client_id``).
            audience: the ``aud`` claim.
            scopes: the ``scope`` claim; ``None`` leaves the claim out.
            organization_id: adds an ``organization_id`` claim.
            ttl: lifetime; defaults to the resource's ``access_token_ttl`` (else 3600).
            now: ``iat``; defaults to the clock.
            extra_claims: merged last; a ``None`` value removes that claim.
        """
        resource = self._resources.get(audience)
        if ttl is None:
            ttl = resource.access_token_ttl if resource else DEFAULT_TTL
        claims = logto_claims(
            app_id=app if isinstance(app, str) else app.app_id,
            issuer=self.issuer,
            audience=audience,
            now=int(self.clock()) if now is None else now,
            ttl=ttl,
            scopes=scopes,
            organization_id=organization_id,
            overrides=extra_claims,
        )
        return self.sign(claims)

    def reload_if_changed(self) -> bool:
        """Re-read the state file if another process replaced it; ``True`` if it did.

        Raises:
            StateError: the new file is corrupt.
        """
        if file_stamp(self.path) == self._stamp:
            return False
        self._load()
        return True

    def _load(self) -> None:
        stamp = file_stamp(self.path)
        snapshot = read_state(self.path)
        self._keys, self._resources, self._apps = snapshot.keys, snapshot.resources, snapshot.apps
        self._stamp = stamp

    def _save(self) -> None:
        write_state(self.path, Snapshot(self._keys, self._resources, self._apps))
        self._stamp = file_stamp(self.path)
