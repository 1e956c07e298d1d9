"""Dev users, their roles, and which apps may use token exchange, persisted in the state dir.

``directory.json`` (next to ``state.json``) holds::

    {"users": [{"id": "user-dev", "username": "dev",
                "roles": {"https://shopping.api": ["read:products"]},
                "personal_access_tokens": ["pat_..."]}],
     "token_exchange_apps": ["<app id>", ...]}

A fresh directory holds one user, :data:`DEFAULT_USER_ID` (username ``dev``) with no roles.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logto_guard.dev_issuer._errors import StateError
from logto_guard.dev_issuer._model import make_grants

DEFAULT_USER_ID = "user-dev"
DEFAULT_USERNAME = "dev"
DIRECTORY_FILE = "directory.json"


@dataclass(frozen=True)
class User:
    """A dev user.

    Attributes:
        user_id: the ``sub`` of the user's tokens.
        username: the login name shown on the consent page.
        roles: resource indicator -> scopes the user's roles grant.
        personal_access_tokens: ``pat_...`` tokens usable as token-exchange subjects.
    """

    user_id: str
    username: str
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    personal_access_tokens: tuple[str, ...] = field(default=(), repr=False)


class Directory:
    """Users and the token-exchange flag of apps, persisted as ``directory.json``."""

    def __init__(self, path: Path) -> None:
        """Use :meth:`open`."""
        self.path = path
        self._users: dict[str, User] = {}
        self._exchange_apps: set[str] = set()

    @classmethod
    def open(cls, state_dir: str | os.PathLike[str]) -> Directory:
        """Load ``directory.json`` in ``state_dir``, or create it with the default dev user.

        Raises:
            StateError: the file exists but is corrupt.
        """
        directory = cls(Path(state_dir) / DIRECTORY_FILE)
        if directory.path.exists():
            directory._load()
        else:
            directory._users = {DEFAULT_USER_ID: User(DEFAULT_USER_ID, DEFAULT_USERNAME)}
            directory.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory._save()
        return directory

    @property
    def users(self) -> list[User]:
        """Every user."""
        self._reload()
        return list(self._users.values())

    def get_user(self, user_id: str) -> User | None:
        """The user with this id, or ``None``."""
        self._reload()
        return self._users.get(user_id)

    def find_username(self, username: str) -> User | None:
        """The user with this username, or ``None``."""
        return next((u for u in self.users if u.username == username), None)

    def user_for_pat(self, token: str) -> User | None:
        """The user owning this personal access token, or ``None``."""
        return next((u for u in self.users if token in u.personal_access_tokens), None)

    def set_user(
        self,
        user_id: str,
        *,
        username: str | None = None,
        roles: Mapping[str, Iterable[str]] | None = None,
        personal_access_tokens: Iterable[str] = (),
    ) -> User:
        """Create or replace a user (roles are ``{resource: [scopes]}``).

        Raises:
            ValueError: empty id, a malformed scope, or a PAT not starting with ``pat_``.
        """
        if not user_id or not isinstance(user_id, str):
            raise ValueError("a user needs a non-empty id")
        pats = tuple(personal_access_tokens)
        if any(not isinstance(p, str) or not p.startswith("pat_") for p in pats):
            raise ValueError(f"personal access tokens of {user_id!r} must start with 'pat_'")
        user = User(user_id, username or user_id, make_grants(roles), pats)
        self._reload()
        self._users[user_id] = user
        self._save()
        return user

    def remove_user(self, user_id: str) -> bool:
        """Delete a user; ``True`` if it existed. Its subject tokens stop working."""
        self._reload()
        removed = self._users.pop(user_id, None) is not None
        self._save()
        return removed

    def allows_token_exchange(self, app_id: str) -> bool:
        """Logto's ``customClientMetadata.allowTokenExchange`` (default off)."""
        self._reload()
        return app_id in self._exchange_apps

    def set_token_exchange(self, app_id: str, allowed: bool) -> None:
        """Turn token exchange on or off for an app."""
        self._reload()
        (self._exchange_apps.add if allowed else self._exchange_apps.discard)(app_id)
        self._save()

    def _reload(self) -> None:
        if self.path.exists() and self.path.stat().st_mtime_ns != getattr(self, "_mtime", None):
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            users = [_user_from_json(u) for u in data["users"]]
            apps = data.get("token_exchange_apps", [])
            if not all(isinstance(a, str) for a in apps):
                raise ValueError("token_exchange_apps must be strings")
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise StateError(self.path, f"{type(exc).__name__}: {exc}") from exc
        self._users = {u.user_id: u for u in users}
        self._exchange_apps = set(apps)
        self._mtime = self.path.stat().st_mtime_ns

    def _save(self) -> None:
        data: dict[str, Any] = {
            "users": [
                {
                    "id": u.user_id,
                    "username": u.username,
                    "roles": {r: list(s) for r, s in u.roles.items()},
                    "personal_access_tokens": list(u.personal_access_tokens),
                }
                for u in self._users.values()
            ],
            "token_exchange_apps": sorted(self._exchange_apps),
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".directory-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._mtime = self.path.stat().st_mtime_ns


def _user_from_json(data: Any) -> User:
    if not isinstance(data["id"], str) or not data["id"]:
        raise ValueError("user id must be a non-empty string")
    pats = tuple(data.get("personal_access_tokens", ()))
    if not all(isinstance(p, str) for p in pats):
        raise ValueError("personal_access_tokens must be strings")
    username = str(data.get("username") or data["id"])
    return User(data["id"], username, make_grants(data.get("roles")), pats)
