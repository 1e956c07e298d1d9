"""What the front ends share: how each gets its Authenticator (built from the keywords or
``config=``, or shared), and the key-lifecycle methods each offers on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx

from .authenticator import Authenticator
from .config import GuardConfig
from .jwks_cache import JWKSCache
from .options import AuthenticatorOptions, Unpack, refuse_beside_shared, resolve_config
from .status import Readiness


def authenticator_for(
    config: GuardConfig | None,
    endpoint: str | None,
    audience: str | None,
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
    **options: Unpack[AuthenticatorOptions],
) -> Authenticator:
    """A front end's Authenticator, from ``config`` or from the keywords (never both)."""
    metrics = options.pop("metrics", True)
    meter_provider = options.pop("meter_provider", None)
    key_source = options.pop("key_source", None)
    return Authenticator(
        config=resolve_config(config, endpoint, audience, options),
        http_client=http_client,
        clock=clock,
        metrics=metrics,
        meter_provider=meter_provider,
        key_source=key_source,
    )


def shared_or_built(
    authenticator: Authenticator | None,
    config: GuardConfig | None,
    endpoint: str | None,
    audience: str | None,
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
    **options: Unpack[AuthenticatorOptions],
) -> Authenticator:
    """A front end's shared ``authenticator`` (nothing may be set beside it), or one built
    as :func:`authenticator_for` builds it."""
    if authenticator is None:
        return authenticator_for(
            config, endpoint, audience, http_client=http_client, clock=clock, **options
        )
    refuse_beside_shared(
        config=config,
        endpoint=endpoint,
        audience=audience,
        http_client=http_client,
        clock=None if clock is time.time else clock,
        **options,
    )
    return authenticator


class KeyLifecycle:
    """``aclose``, ``readiness``, ``startup_check`` and ``lifespan`` of ``self.authenticator``."""

    authenticator: Authenticator

    async def aclose(self) -> None:
        """Close the JWKS HTTP client (call on application shutdown)."""
        await self.authenticator.aclose()

    @property
    def key_source(self) -> JWKSCache:
        """The key source, to share with another front end of the same tenant:
        ``LogtoTokenVerifier(..., key_source=guard.key_source)``."""
        return self.authenticator.key_source

    def readiness(self) -> Readiness:
        """Whether tokens can be verified now, for a readiness probe (no I/O)."""
        return self.authenticator.readiness()

    async def startup_check(self) -> Readiness:
        """Fetch the keys once and keep them fresh in the background (see Authenticator)."""
        return await self.authenticator.startup_check()

    def lifespan(self, app: object = None) -> AbstractAsyncContextManager[None]:
        """Startup check, background key refresh, ``aclose`` on exit: ``lifespan=x.lifespan``."""
        return self.authenticator.lifespan(app)
