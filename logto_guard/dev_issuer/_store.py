"""Reading and atomically writing the dev issuer's ``state.json``."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logto_guard.dev_issuer._errors import StateError
from logto_guard.dev_issuer._model import (
    DEFAULT_TTL,
    SUPPORTED_ALGS,
    App,
    Resource,
    SigningKey,
    make_grants,
    make_organizations,
    make_resource,
    sort_keys,
)
from logto_guard.signing import load_private_pem, private_pem

VERSION = 1
Stamp = tuple[int, int, int]


@dataclass(frozen=True)
class Snapshot:
    """Everything the state file holds."""

    keys: list[SigningKey]
    resources: dict[str, Resource]
    apps: dict[str, App]


def file_stamp(path: Path) -> Stamp | None:
    """Identity of the file's current version (inode, mtime, size), ``None`` if missing."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def read_state(path: Path) -> Snapshot:
    """Parse the state file.

    Raises:
        StateError: unreadable, not JSON, wrong version or inconsistent content.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"expected a JSON object with version {VERSION}")
        keys = sort_keys(_key_from_json(k) for k in data["keys"])
        statuses = [k.status for k in keys]
        if statuses.count("current") != 1 or len(set(statuses)) != len(statuses):
            raise ValueError("need exactly one current key and at most one next/previous")
        resources = {
            i: make_resource(i, r.get("scopes", []), r.get("access_token_ttl", DEFAULT_TTL))
            for i, r in data["resources"].items()
        }
        apps = [_app_from_json(a) for a in data["apps"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StateError(path, f"{type(exc).__name__}: {exc}") from exc
    return Snapshot(keys, resources, {a.app_id: a for a in apps})


def write_state(path: Path, snapshot: Snapshot) -> None:
    """Write the state file atomically (temporary file, fsync, ``os.replace``)."""
    data = {
        "version": VERSION,
        "keys": [_key_to_json(k) for k in snapshot.keys],
        "resources": {
            i: {"scopes": list(r.scopes), "access_token_ttl": r.access_token_ttl}
            for i, r in snapshot.resources.items()
        },
        "apps": [_app_to_json(a) for a in snapshot.apps.values()],
    }
    # mkstemp creates the file 0600: the state holds private keys and app secrets.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _key_to_json(key: SigningKey) -> dict[str, Any]:
    return {
        "status": key.status,
        "alg": key.alg,
        "created_at": key.created_at,
        "private_key": private_pem(key.private_key),
    }


def _key_from_json(data: Any) -> SigningKey:
    status = data["status"]
    if status not in ("next", "current", "previous"):
        raise ValueError(f"unknown key status {status!r}")
    alg = data["alg"]
    if alg not in SUPPORTED_ALGS:
        raise ValueError(f"unsupported algorithm {alg!r}")
    return SigningKey(
        private_key=load_private_pem(str(data["private_key"])),
        alg=alg,
        status=status,
        created_at=int(data["created_at"]),
    )


def _app_to_json(app: App) -> dict[str, Any]:
    return {
        "app_id": app.app_id,
        "app_secret": app.app_secret,
        "name": app.name,
        "grants": {res: list(scopes) for res, scopes in app.grants.items()},
        "organizations": {
            org: {res: list(scopes) for res, scopes in grants.items()}
            for org, grants in app.organizations.items()
        },
    }


def _app_from_json(data: Any) -> App:
    for name in ("app_id", "app_secret", "name"):
        if not isinstance(data[name], str) or not data[name]:
            raise ValueError(f"app {name} must be a non-empty string")
    return App(
        app_id=data["app_id"],
        app_secret=data["app_secret"],
        name=data["name"],
        grants=make_grants(data.get("grants")),
        organizations=make_organizations(data.get("organizations")),
    )
