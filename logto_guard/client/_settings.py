"""What :class:`~logto_guard.client.LogtoM2MClient` checks when it is built, and the plans
(cache key and form) of its token requests."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .._core.errors import ConfigurationError
from .._core.urls import check_endpoint, check_url
from ._auth import Plan, scope_set
from ._exchange import build
from ._wire import TokenEndpoint

Key = tuple[str | None, frozenset[str], str | None]


class ClientConfigurationError(ConfigurationError):
    """:class:`LogtoM2MClient` was given an unusable endpoint, credential or setting."""


def checked_endpoints(
    endpoint: str, token_endpoint: str | None, *, allow_insecure_http: bool
) -> tuple[str, str]:
    """The endpoint (no trailing slash) and the token endpoint (default ``.../oidc/token``).

    Raises:
        ClientConfigurationError: a URL is unusable.
    """
    error = ClientConfigurationError
    endpoint = check_endpoint(endpoint, allow_insecure_http=allow_insecure_http, error=error)
    if token_endpoint is not None:
        check_url(
            "token_endpoint", token_endpoint, allow_insecure_http=allow_insecure_http, error=error
        )
    return endpoint, token_endpoint or f"{endpoint}/oidc/token"


def check_settings(
    *,
    app_id: object,
    app_secret: object,
    refresh_margin: float,
    timeout: float,
    max_cached_tokens: object,
) -> None:
    """Refuse empty credentials and unusable numbers.

    Raises:
        ClientConfigurationError: an argument is unusable.
    """
    for name, value in (("app_id", app_id), ("app_secret", app_secret)):
        if not isinstance(value, str) or not value:
            raise ClientConfigurationError(f"{name} must be a non-empty string")
    if not math.isfinite(refresh_margin) or refresh_margin < 0:
        raise ClientConfigurationError("refresh_margin must be a finite number >= 0")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ClientConfigurationError("timeout must be a finite number > 0")
    if (
        isinstance(max_cached_tokens, bool)
        or not isinstance(max_cached_tokens, int)
        or max_cached_tokens < 1
    ):
        raise ClientConfigurationError("max_cached_tokens must be an int >= 1")


def key(resource: str | None, scopes: Iterable[str], organization_id: str | None) -> Key:
    """The cache key of a client-credentials token."""
    return resource, scope_set(scopes), organization_id


def credentials_plan(wire: TokenEndpoint, token_key: Key) -> Plan:
    """The plan of a client-credentials token request."""
    return Plan(
        key=token_key,
        form=wire.client_credentials(*token_key)["data"],
        resource=token_key[0],
        organization_id=token_key[2],
    )


def exchange_plan(subject_token: str, **options: Any) -> Plan:
    """The plan of a token exchange (see :func:`~logto_guard.client._exchange.build`).

    Raises:
        ClientConfigurationError: an argument is unusable.
    """
    try:
        return build(subject_token, **options)
    except ValueError as exc:
        raise ClientConfigurationError(str(exc)) from None
