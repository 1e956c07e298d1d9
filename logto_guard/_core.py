"""The framework-free guard: configuration, key cache and validator behind one call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from ._bearer import parse_authorization
from ._config import ORGANIZATION_AUDIENCE, ORGANIZATION_AUDIENCE_PREFIX, GuardConfig
from ._errors import (
    AuthError,
    ConfigurationError,
    InsufficientScopeError,
    InvalidRequestError,
    OrganizationMismatchError,
)
from ._jwks import JWKSCache
from ._models import AuthInfo
from ._validator import TokenValidator

logger = logging.getLogger("logto_guard")


class Authenticator:
    """Turns ``Authorization`` header values into :class:`AuthInfo`, or raises AuthError.

    Shared by :class:`logto_guard.LogtoGuard` (FastAPI) and
    :class:`logto_guard.asgi.LogtoAuthMiddleware` so both refuse exactly alike.

    Args:
        http_client: ``httpx.AsyncClient`` for fetching the JWKS (tests inject one).
        clock: seconds since the epoch (tests inject a fake clock).
        **options: :class:`GuardConfig` options (``endpoint`` and ``audience`` required).
    """

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        self.config = config = GuardConfig.from_options(**options)
        assert config.jwks_uri is not None
        self.jwks = JWKSCache(
            config.jwks_uri,
            algorithms=config.algorithms,
            http_client=http_client,
            clock=clock,
            timeout=config.jwks_timeout,
            max_age=config.jwks_max_age,
            min_cooldown=config.jwks_min_cooldown,
            max_cooldown=config.jwks_cooldown,
            stale_if_error=config.jwks_stale_if_error,
        )
        self.validator = TokenValidator(config, self.jwks, clock=clock)

    @property
    def realm(self) -> str:
        """The ``realm`` of ``WWW-Authenticate`` challenges."""
        assert self.config.realm is not None
        return self.config.realm

    @property
    def organization_tokens(self) -> bool:
        """True when the audience is ``urn:logto:organization:<id>`` of each request."""
        return self.config.audience == ORGANIZATION_AUDIENCE

    def check_organization_source(self, source: object | None) -> None:
        """Refuse, at construction, organization tokens without a way to name the org.

        Raises:
            ConfigurationError: the audience is ORGANIZATION_AUDIENCE and ``source`` is None.
        """
        if self.organization_tokens and source is None:
            raise ConfigurationError("organization tokens need organization= to name the org")

    async def authenticate(
        self,
        authorization: Sequence[str],
        required_scopes: Sequence[str] = (),
        *,
        organization_id: str | None = None,
    ) -> AuthInfo:
        """Validate raw ``Authorization`` header values and require ``required_scopes``.

        Args:
            organization_id: the organization the request is about. With
                :data:`ORGANIZATION_AUDIENCE` the token's ``aud`` must name it; with an
                API audience the token's ``organization_id`` claim must equal it.

        Raises:
            AuthError: (a subclass of) the request is refused; see the error table.
        """
        try:
            token = parse_authorization(authorization)
            audience = None
            if self.organization_tokens:
                if not organization_id:
                    raise InvalidRequestError("organization not specified")
                audience = ORGANIZATION_AUDIENCE_PREFIX + organization_id
            info = await self.validator.validate(token, audience=audience)
            if organization_id is not None and info.organization_id != organization_id:
                raise OrganizationMismatchError(organization_id, info.organization_id)
            if any(scope not in info.scopes for scope in required_scopes):
                raise InsufficientScopeError(required_scopes, info.scopes)
        except AuthError as exc:
            if logger.isEnabledFor(logging.INFO):
                # The reason code and fixed description only: never the token itself.
                logger.info("request refused: reason=%s (%s)", exc.reason, exc.description)
            raise
        return info

    async def aclose(self) -> None:
        """Close the JWKS HTTP client this authenticator created."""
        await self.jwks.aclose()
