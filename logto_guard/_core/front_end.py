"""What every front end offers for its key lifecycle, on the one Authenticator it holds."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from .authenticator import Authenticator
from .status import Readiness


class KeyLifecycle:
    """``aclose``, ``readiness``, ``startup_check`` and ``lifespan`` of ``self.authenticator``."""

    authenticator: Authenticator

    async def aclose(self) -> None:
        """Close the JWKS HTTP client (call on application shutdown)."""
        await self.authenticator.aclose()

    def readiness(self) -> Readiness:
        """Whether tokens can be verified now, for a readiness probe (no I/O)."""
        return self.authenticator.readiness()

    async def startup_check(self) -> Readiness:
        """Fetch the keys once and keep them fresh in the background (see Authenticator)."""
        return await self.authenticator.startup_check()

    def lifespan(self, app: object = None) -> AbstractAsyncContextManager[None]:
        """Startup check, background key refresh, ``aclose`` on exit: ``lifespan=x.lifespan``."""
        return self.authenticator.lifespan(app)
