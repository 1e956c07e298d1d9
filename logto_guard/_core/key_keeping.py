"""The key lifecycle of an :class:`~logto_guard.Authenticator`: readiness, the start-up
check that starts the background key keeper, the one-line lifespan, ``aclose``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from .config import GuardConfig
from .errors import ConfigurationError
from .jwks_cache import JWKSCache
from .status import Readiness

logger = logging.getLogger("logto_guard")


class KeyKeeping:
    """Part of :class:`~logto_guard.Authenticator`: its signing keys over time."""

    config: GuardConfig
    clock: Callable[[], float]
    _jwks: JWKSCache

    def readiness(self) -> Readiness:
        """Whether tokens can be verified now, for a readiness probe (no I/O)."""
        jwks = self._jwks
        fetched_at = jwks.fetched_at
        age = None if fetched_at is None else max(0.0, self.clock() - fetched_at)
        return Readiness(jwks.usable(), len(jwks.keys), age, jwks.last_error)

    async def refresh_keys(self) -> Readiness:
        """Fetch the JWKS now (failures keep the current keys) and report readiness."""
        await self._jwks.refresh()
        return self.readiness()

    async def startup_check(self) -> Readiness:
        """Fetch the keys once at startup and stop a misconfigured service from starting.

        A JWKS answer that can only be a configuration mistake (HTTP 404, an HTML page,
        JSON that is no key set) raises; an issuer that is merely unreachable (refused,
        timeout, 5xx) only logs a warning, so a brief Logto outage during a deploy does not
        become a crash loop: the service starts and is not ready until keys arrive.

        Raises:
            ConfigurationError: the JWKS URL answered something that is no JWKS.
        """
        readiness = await self.refresh_keys()
        # Keep fetching without traffic (a pod that is not ready gets none): bounded
        # backoff until keys arrive, then refreshes before max_age. Stopped by aclose().
        self._jwks.start_keeper()
        if not readiness.ready and self._jwks.last_error_is_misconfiguration:
            self._jwks.stop_keeper()
            raise ConfigurationError(
                f"the JWKS at {self.config.jwks_uri} is not a Logto JWKS "
                f"({readiness.last_error}): check endpoint= (the Logto endpoint without "
                "/oidc, e.g. https://<tenant>.logto.app) and jwks_uri="
            )
        if not readiness.ready:
            logger.warning(
                "starting without signing keys: %s unreachable (%s); requests get 503 until "
                "the keys arrive",
                self.config.jwks_uri,
                readiness.last_error,
            )
        return readiness

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """Startup check, background key keeper, ``aclose`` on exit, in one line.

        ``FastAPI(lifespan=authenticator.lifespan)`` or ``async with authenticator.lifespan():``
        inside an existing lifespan.
        """
        try:
            await self.startup_check()
            yield
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the JWKS HTTP client this authenticator created."""
        await self._jwks.aclose()
