"""Declarative setup of a dev issuer from a small JSON config, and :func:`build_app`.

Config file format (every section optional)::

    {
      "resources": {
        "https://shopping.api": {"scopes": ["read:products", "write:products"],
                                 "access_token_ttl": 3600}
      },
      "apps": [
        {"name": "shopping-client",
         "grants": {"https://shopping.api": ["read:products"]},
         "organizations": {"org1": {"": ["read:members"],
                                    "https://shopping.api": ["write:products"]}},
         "allow_token_exchange": false}
      ],
      "users": [
        {"id": "user-dev", "username": "dev",
         "roles": {"https://shopping.api": ["read:products", "write:products"]},
         "personal_access_tokens": ["pat_dev"]}
      ]
    }

Users are matched by ``id`` and replaced; ``allow_token_exchange`` (default ``false``, as
in Logto) lets an app use the token-exchange grant. Users and the flag live in
``directory.json`` in the state directory.

Apps are matched by ``name``: an existing app keeps its App ID and Secret and gets the
declared grants. An app may pin ``"app_id"`` and ``"app_secret"`` (used when created).

The whole config is type-checked before anything is applied or written: a wrong type or
an unknown field is a ``ValueError`` naming the field (``apps[0].app_secret``), and the
state is left as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from logto_guard.dev_issuer._app import create_app
from logto_guard.dev_issuer._model import DEFAULT_TTL, App
from logto_guard.dev_issuer._state import DEFAULT_ALG, DEFAULT_ISSUER, IssuerState
from logto_guard.dev_issuer._users import Directory


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a config file (see the module docstring).

    Raises:
        ValueError: not JSON, or not a JSON object.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"config file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a JSON object")
    return data


_SECTIONS = frozenset({"resources", "apps", "users"})
_USER_FIELDS = frozenset({"id", "username", "roles", "personal_access_tokens"})
_RESOURCE_FIELDS = frozenset({"scopes", "access_token_ttl"})
_APP_FIELDS = frozenset(
    {"name", "app_id", "app_secret", "grants", "organizations", "allow_token_exchange"}
)


def validate_config(config: Mapping[str, Any]) -> None:
    """Check every field's type (module docstring) without touching any state.

    Raises:
        ValueError: ``invalid dev issuer config: <field> ...`` for the first bad field.
    """
    _known(config, _SECTIONS, "config")
    resources = config.get("resources", {})
    _expect(isinstance(resources, dict), "resources", "an object")
    for indicator, spec in resources.items():
        where = f"resources[{indicator!r}]"
        _expect(isinstance(spec, dict), where, "an object")
        _known(spec, _RESOURCE_FIELDS, where)
        _string_list(spec.get("scopes", []), f"{where}.scopes")
        ttl = spec.get("access_token_ttl", DEFAULT_TTL)
        _expect(type(ttl) is int and ttl > 0, f"{where}.access_token_ttl", "a positive integer")
    apps = config.get("apps", [])
    _expect(isinstance(apps, list), "apps", "a list")
    for index, spec in enumerate(apps):
        where = f"apps[{index}]"
        _expect(isinstance(spec, dict), where, "an object")
        _known(spec, _APP_FIELDS, where)
        _expect(isinstance(spec.get("name"), str) and spec["name"], f"{where}.name", "a string")
        for name in ("app_id", "app_secret"):
            value = spec.get(name)
            _expect(
                value is None or (isinstance(value, str) and value), f"{where}.{name}", "a string"
            )
        grants = spec.get("grants") or {}
        _expect(isinstance(grants, dict), f"{where}.grants", "an object")
        for indicator, scopes in grants.items():
            _string_list(scopes, f"{where}.grants[{indicator!r}]")
        organizations = spec.get("organizations") or {}
        _expect(isinstance(organizations, dict), f"{where}.organizations", "an object")
        for org, org_grants in organizations.items():
            _expect(isinstance(org_grants, dict), f"{where}.organizations[{org!r}]", "an object")
            for indicator, scopes in org_grants.items():
                _string_list(scopes, f"{where}.organizations[{org!r}][{indicator!r}]")
        exchange = spec.get("allow_token_exchange", False)
        _expect(isinstance(exchange, bool), f"{where}.allow_token_exchange", "true or false")
    _validate_users(config.get("users", []))


def _validate_users(users: object) -> None:
    _expect(isinstance(users, list), "users", "a list")
    assert isinstance(users, list)
    for index, spec in enumerate(users):
        where = f"users[{index}]"
        _expect(isinstance(spec, dict), where, "an object")
        _known(spec, _USER_FIELDS, where)
        _expect(isinstance(spec.get("id"), str) and spec["id"], f"{where}.id", "a string")
        username = spec.get("username")
        _expect(username is None or isinstance(username, str), f"{where}.username", "a string")
        roles = spec.get("roles") or {}
        _expect(isinstance(roles, dict), f"{where}.roles", "an object")
        for indicator, scopes in roles.items():
            _string_list(scopes, f"{where}.roles[{indicator!r}]")
        _string_list(spec.get("personal_access_tokens", []), f"{where}.personal_access_tokens")


def _expect(ok: object, field: str, what: str) -> None:
    if not ok:
        raise ValueError(f"invalid dev issuer config: {field} must be {what}")


def _known(spec: Mapping[str, Any], fields: frozenset[str], where: str) -> None:
    unknown = sorted(str(name) for name in spec if name not in fields)
    if unknown:
        raise ValueError(f"invalid dev issuer config: unknown field {unknown[0]!r} in {where}")


def _string_list(value: object, field: str) -> None:
    ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    _expect(ok, field, "a list of strings")


def apply_config(
    state: IssuerState, config: Mapping[str, Any], directory: Directory | None = None
) -> None:
    """Declare the config's resources, apps and users in ``state`` (idempotent).

    ``directory`` defaults to the one in ``state``'s directory.

    Raises:
        ValueError: a malformed entry (nothing applied), unknown resource or undefined scope.
    """
    validate_config(config)
    try:
        for indicator, spec in dict(config.get("resources", {})).items():
            ttl = spec.get("access_token_ttl", DEFAULT_TTL)
            state.add_resource(indicator, spec.get("scopes", []), ttl=ttl)
        directory = directory or Directory.open(state.path.parent)
        for spec in config.get("apps", []):
            app = _apply_app(state, spec)
            directory.set_token_exchange(app.app_id, spec.get("allow_token_exchange", False))
        for spec in config.get("users", []):
            _check_roles(state, spec.get("roles") or {}, spec["id"])
            directory.set_user(
                spec["id"],
                username=spec.get("username"),
                roles=spec.get("roles"),
                personal_access_tokens=spec.get("personal_access_tokens", ()),
            )
    except (AttributeError, KeyError, TypeError) as exc:
        raise ValueError(f"invalid dev issuer config: {type(exc).__name__}: {exc}") from exc


def _check_roles(state: IssuerState, roles: Mapping[str, Any], user_id: str) -> None:
    for indicator, scopes in roles.items():
        resource = state.resources.get(indicator)
        if resource is None:
            raise ValueError(f"user {user_id!r}: unknown resource {indicator!r}; add it first")
        undefined = set(scopes) - set(resource.scopes)
        if undefined:
            missing = sorted(undefined)
            raise ValueError(f"user {user_id!r}: {indicator!r} defines no scope {missing}")


def _apply_app(state: IssuerState, spec: Mapping[str, Any]) -> App:
    name = spec["name"]
    grants, organizations = spec.get("grants"), spec.get("organizations")
    if state.find_app(name) is None and ("app_id" in spec or "app_secret" in spec):
        return state.add_app(
            name,
            grants=grants,
            organizations=organizations,
            app_id=spec.get("app_id"),
            app_secret=spec.get("app_secret"),
        )
    else:
        return state.ensure_app(name, grants=grants, organizations=organizations)


def open_issuer(
    state_dir: str | os.PathLike[str],
    *,
    issuer: str = DEFAULT_ISSUER,
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    alg: str = DEFAULT_ALG,
) -> IssuerState:
    """Open (or create) the state in ``state_dir`` and apply ``config`` to it.

    Args:
        issuer: ``<endpoint>/oidc``, the ``iss`` of issued tokens.
        config: a config mapping, or the path of a config file (module docstring).
        alg: algorithm of the first signing key of a fresh state.

    Raises:
        StateError: the state file is corrupt.
        ValueError: the config is invalid.
    """
    if config is not None:  # read and check it before the state is opened or created
        config = config if isinstance(config, Mapping) else load_config(config)
        validate_config(config)
    state = IssuerState.open(state_dir, issuer=issuer, alg=alg)
    if config is not None:
        apply_config(state, config)
    return state


def build_app(
    state_dir: str | os.PathLike[str],
    *,
    issuer: str = DEFAULT_ISSUER,
    config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    alg: str = DEFAULT_ALG,
) -> Starlette:
    """:func:`open_issuer` then :func:`create_app`: the dev issuer as an ASGI app, in-process.

    Use :func:`open_issuer` and :func:`create_app` directly when you also need the state
    (App IDs and Secrets)::

        state = open_issuer(".logto-dev", config="issuer.json")
        server = uvicorn.Server(uvicorn.Config(create_app(state), port=3001))
        await server.serve()
    """
    return create_app(open_issuer(state_dir, issuer=issuer, config=config, alg=alg))
