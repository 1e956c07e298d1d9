"""Typed keywords for the guard's configuration (``**options`` of every front end)."""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping
from typing import TypedDict

from .config import GuardConfig
from .errors import ConfigurationError
from .jwks_cache import JWKSCache

if sys.version_info >= (3, 11):
    from typing import Unpack as Unpack
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Unpack as Unpack


class GuardOptions(TypedDict, total=False):
    """:class:`GuardConfig`'s optional fields as typed keywords (``**options`` of the
    front ends): mypy and IDEs check their names and types.

    The fields, their defaults and their meaning are :class:`GuardConfig`'s; a test keeps
    the two in step.
    """

    issuer: str | tuple[str, ...] | None
    jwks_uri: str
    algorithms: Collection[str]
    leeway: float
    require_typ: str | None
    realm: str
    match_trailing_slash: bool
    allow_insecure_http: bool
    max_token_size: int
    jwks_timeout: float
    jwks_max_age: float
    jwks_min_cooldown: float
    jwks_cooldown: float
    jwks_stale_if_error: float
    token_cache_size: int
    accept_organization_tokens: bool
    m2m_clients: Collection[str]


def resolve_config(
    config: GuardConfig | None,
    endpoint: str | None,
    audience: str | None,
    options: Mapping[str, object],
) -> GuardConfig:
    """``config`` itself, or the config built from the keywords; never both.

    Raises:
        ConfigurationError: both, neither, an unknown name, or ``config`` is no GuardConfig.
    """
    named = {n: v for n, v in (("endpoint", endpoint), ("audience", audience)) if v is not None}
    if config is None:
        return GuardConfig.from_options(**named, **options)
    if not isinstance(config, GuardConfig):
        raise ConfigurationError(f"config must be a GuardConfig, got {type(config).__name__}")
    beside = sorted({*named, *options})
    if beside:
        raise ConfigurationError(
            f"config= is given: set {', '.join(beside)} in the GuardConfig, not beside it"
        )
    return config


def refuse_beside_shared(**given: object) -> None:
    """A front end given ``authenticator=`` uses it as it is: settings passed beside it
    (any not ``None`` in ``given``) would be ignored, so they are refused.

    Raises:
        ConfigurationError: naming the settings to move into the shared Authenticator.
    """
    beside = sorted(name for name, value in given.items() if value is not None)
    if beside:
        raise ConfigurationError(
            f"authenticator= is given: {', '.join(beside)} would be ignored; "
            "configure the shared Authenticator instead"
        )


class AuthenticatorOptions(GuardOptions, total=False):
    """The ``**options`` a front end passes on to its :class:`Authenticator`: every
    :class:`GuardOptions` keyword plus the Authenticator's ``metrics``, ``meter_provider``
    and ``key_source`` (see :class:`Authenticator`)."""

    metrics: bool
    meter_provider: object | None
    key_source: JWKSCache | None
