"""The framework-free guard: header values in, :class:`AuthInfo` or a :class:`Refusal` out.

Every front end (FastAPI, ASGI, MCP, the dev issuer's Management API stand-in) calls
:meth:`Authenticator.check` and sends the :class:`Refusal` it may return, so a decision
(which status, which challenge, when missing credentials are fine) is made in one place.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx

from .claims import require_organization_allowed, require_scopes
from .config import ORGANIZATION_AUDIENCE_PREFIX, GuardConfig
from .errors import (
    AuthError,
    ConfigurationError,
    CredentialsMissingError,
    InvalidRequestError,
    OrganizationMismatchError,
)
from .identity import AuthInfo
from .jwks_cache import JWKSCache
from .metrics import instrument
from .policy import Policy
from .refusal_log import RefusalLog
from .rfc6750 import Refusal, parse_authorization, refusal
from .status import Readiness, Stats
from .trusted_keys import TrustedKey
from .validator import TokenValidator

logger = logging.getLogger("logto_guard")


class Authenticator:
    """Turns ``Authorization`` header values into :class:`AuthInfo`, or a refusal.

    Args:
        http_client: ``httpx.AsyncClient`` for fetching the JWKS (tests inject one); by
            default one is created lazily and closed by :meth:`aclose`.
        clock: seconds since the epoch (tests inject a fake clock).
        metrics: report OpenTelemetry metrics (see :mod:`logto_guard._metrics`); a no-op
            without ``opentelemetry-api`` or without a configured SDK.
        meter_provider: the OpenTelemetry ``MeterProvider`` (default: the global one).
        **options: :class:`GuardConfig` options (``endpoint`` and ``audience`` required).

    Raises:
        ConfigurationError: an option is invalid.
    """

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        metrics: bool = True,
        meter_provider: Any = None,
        key_source: JWKSCache | None = None,
        **options: Any,
    ) -> None:
        self.config = GuardConfig.from_options(**options)
        self.realm = self.config.realm
        #: The RFC 9728 metadata URL named in challenges, set by a front end serving it.
        self.resource_metadata: str | None = None
        self.clock = clock
        self._accepted = 0
        self._refused: dict[str, int] = {}
        self._fetch_observers: list[Callable[[str, float], None]] = []
        self._use_keys_from(http_client, key_source)
        if metrics:
            instrument(self, meter_provider)

    def _use_keys_from(
        self, http_client: httpx.AsyncClient | None, key_source: JWKSCache | None = None
    ) -> None:
        config = self.config
        if key_source is not None:
            # Shared with another front end of the same tenant: one cache, one keeper.
            self._jwks = key_source
            self._validator = TokenValidator(config, self._jwks, clock=self.clock)
            previous = key_source.on_fetch

            def both(outcome: str, seconds: float) -> None:
                if previous is not None:
                    previous(outcome, seconds)
                self._on_jwks_fetch(outcome, seconds)

            key_source.on_fetch = both
            return
        self._jwks = JWKSCache(
            config.jwks_uri,
            algorithms=config.algorithms,
            http_client=http_client,
            clock=self.clock,
            timeout=config.jwks_timeout,
            max_age=config.jwks_max_age,
            min_cooldown=config.jwks_min_cooldown,
            max_cooldown=config.jwks_cooldown,
            stale_if_error=config.jwks_stale_if_error,
        )
        self._validator = TokenValidator(config, self._jwks, clock=self.clock)
        self._jwks.on_fetch = self._on_jwks_fetch

    def _on_jwks_fetch(self, outcome: str, seconds: float) -> None:
        for observer in self._fetch_observers:
            observer(outcome, seconds)

    def observe_jwks_fetches(self, observer: Callable[[str, float], None]) -> None:
        """Call ``observer(outcome, seconds)`` after each JWKS fetch (metrics, logs)."""
        self._fetch_observers.append(observer)

    def check_organization_source(self, source: object | None) -> None:
        """Refuse, at construction, organization tokens without a way to name the org.

        Raises:
            ConfigurationError: the audience is ORGANIZATION_AUDIENCE and ``source`` is None.
        """
        if self.config.organization_tokens and source is None:
            raise ConfigurationError("organization tokens need organization= to name the org")

    def peek(
        self,
        authorization: str,
        required_scopes: Sequence[str] = (),
        policy: Policy | None = None,
    ) -> AuthInfo | None:
        """The warm path: the caller of an already verified token holding every scope,
        without awaiting anything; ``None`` when :meth:`check` must decide.

        Only for the configured audience (not organization tokens); ``authorization`` is the
        single ``Authorization`` header value.
        """
        if not authorization.startswith(("Bearer ", "bearer ")):
            return None
        info = self._validator.peek(authorization[7:])
        if (
            info is None
            or (info.organization_id is not None and not self.config.accept_organization_tokens)
            or (policy is not None and not policy.allows(info))
        ):
            return None
        granted = info.scopes
        for scope in required_scopes:  # a route needs one or two: cheaper than a set
            if scope not in granted:
                return None
        self._accepted += 1
        return info

    async def check(
        self,
        authorization: Sequence[str],
        required_scopes: Sequence[str] = (),
        *,
        organization_id: str | None = None,
        organization_required: bool = False,
        optional: bool = False,
        policy: Policy | None = None,
    ) -> AuthInfo | Refusal | None:
        """Authenticate and answer: the caller, ``None`` (``optional`` and no credentials),
        or the :class:`Refusal` to send. The one refusal path of every front end.
        """
        try:
            return await self.authenticate(
                authorization,
                required_scopes,
                organization_id=organization_id,
                organization_required=organization_required,
                policy=policy,
            )
        except CredentialsMissingError as exc:
            return None if optional else self.refuse(exc)
        except AuthError as exc:
            return self.refuse(exc)

    def refuse(self, exc: AuthError) -> Refusal:
        """The status, headers and body that answer ``exc``."""
        return refusal(exc, self.realm, resource_metadata=self.resource_metadata)

    async def authenticate(
        self,
        authorization: Sequence[str],
        required_scopes: Sequence[str] = (),
        *,
        organization_id: str | None = None,
        organization_required: bool = False,
        policy: Policy | None = None,
    ) -> AuthInfo:
        """Validate raw ``Authorization`` header values and require ``required_scopes``.

        Args:
            organization_id: the organization the request is about. With
                :data:`ORGANIZATION_AUDIENCE` the token's ``aud`` must name it; with an
                API audience the token's ``organization_id`` claim must equal it.
            organization_required: the front end has an organization source (an
                organization guard): a request naming no organization is refused (400)
                rather than let through without the organization check.
            policy: the route's :class:`Policy` (allowed apps, actor and delegated tokens).

        Raises:
            AuthError: (a subclass of) the request is refused; see the error table.
        """
        try:
            token = parse_authorization(authorization)
            audience = None
            # Both kinds of organization guard agree: no organization, no answer (a
            # misspelt path parameter must not turn into "no organization check").
            organization_guard = self.config.organization_tokens or organization_required
            if organization_guard and not organization_id:
                raise InvalidRequestError("organization not specified")
            if self.config.organization_tokens:
                assert organization_id
                audience = ORGANIZATION_AUDIENCE_PREFIX + organization_id
            info = await self._validator.validate(token, audience=audience)
            if organization_id is not None and info.organization_id != organization_id:
                raise OrganizationMismatchError(organization_id, info.organization_id)
            if organization_id is None:
                require_organization_allowed(info.organization_id, self.config)
            require_scopes(required_scopes, info.scopes)
            if policy is not None:
                policy.check(info)
        except AuthError as exc:
            self._refused[exc.reason] = self._refused.get(exc.reason, 0) + 1
            self._log_refusal(exc)
            raise
        self._accepted += 1
        return info

    @functools.cached_property
    def _log_refusal(self) -> RefusalLog:
        return RefusalLog(self.clock)

    @property
    def keys(self) -> dict[str, TrustedKey]:
        """The trusted signing keys by ``kid`` (empty before the first fetch)."""
        return dict(self._jwks.keys)

    @property
    def stats(self) -> Stats:
        """Request, cache and JWKS counters (plain integers, read without locking)."""
        validator = self._validator
        return Stats(
            verified_tokens=validator.verifications,
            cached_tokens=validator.cache_size,
            accepted=self._accepted,
            refused=dict(self._refused),
            cache_hits=validator.cache_hits,
            cache_misses=validator.cache_misses,
            jwks_fetches=dict(self._jwks.fetches),
        )

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

    def trust_keys_from(self, http_client: httpx.AsyncClient | None) -> Callable[[], None]:
        """Fetch keys with ``http_client`` from now on, forgetting keys and verified tokens
        (a testing hook: :mod:`logto_guard.testing` points a guard at a fake tenant).

        Returns:
            A function that restores the previous key source.
        """
        previous = self._jwks, self._validator
        self._use_keys_from(http_client)

        def restore() -> None:
            self._jwks, self._validator = previous
            self._validator.clear_cache()

        return restore

    @property
    def key_source(self) -> JWKSCache:
        """The key source, to share with another front end: ``Authenticator(key_source=...)``."""
        return self._jwks

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
