"""The framework-free guard: header values in, :class:`AuthInfo` or a :class:`Refusal` out.

Every front end (FastAPI, ASGI, MCP, the dev issuer's Management API stand-in) calls
:meth:`Authenticator.check` and sends the :class:`Refusal` it may return, so a decision
(which status, which challenge, when missing credentials are fine) is made in one place.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import overload

import httpx

from .claims import expiry_deadline
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
from .key_keeping import KeyKeeping
from .metrics import instrument
from .options import (
    GuardOptions,
    Unpack,
    resolve_config,
)
from .policy import Policy
from .refusal_log import RefusalLog
from .rfc6750 import Refusal, parse_authorization, refusal
from .scopes import require_organization_allowed, require_scopes
from .status import Stats
from .trusted_keys import TrustedKey
from .validator import TokenValidator


class Authenticator(KeyKeeping):
    """Turns ``Authorization`` header values into :class:`AuthInfo`, or a refusal.

    Args:
        http_client: ``httpx.AsyncClient`` for fetching the JWKS (tests inject one); by
            default one is created lazily and closed by :meth:`aclose`.
        clock: seconds since the epoch (tests inject a fake clock).
        metrics: report OpenTelemetry metrics (see "Metrics" in the operations docs); a
            no-op without ``opentelemetry-api`` or without a configured SDK.
        meter_provider: the OpenTelemetry ``MeterProvider`` (default: the global one).
        key_source: share another Authenticator's :attr:`key_source` (one JWKS cache).
        config: a ready :class:`GuardConfig`, instead of ``endpoint``, ``audience`` and
            ``**options``.
        **options: the other :class:`GuardConfig` fields (typed: :class:`GuardOptions`).

    Raises:
        ConfigurationError: an option is invalid.
    """

    @overload
    def __init__(
        self,
        *,
        endpoint: str,
        audience: str,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        metrics: bool = True,
        meter_provider: object | None = None,
        key_source: JWKSCache | None = None,
        **options: Unpack[GuardOptions],
    ) -> None: ...

    @overload
    def __init__(
        self,
        *,
        config: GuardConfig,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        metrics: bool = True,
        meter_provider: object | None = None,
        key_source: JWKSCache | None = None,
    ) -> None: ...

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        audience: str | None = None,
        config: GuardConfig | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        metrics: bool = True,
        meter_provider: object | None = None,
        key_source: JWKSCache | None = None,
        **options: Unpack[GuardOptions],
    ) -> None:
        self.config = resolve_config(config, endpoint, audience, options)
        self.realm = self.config.realm
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
        if key_source is None:
            key_source = JWKSCache.for_config(
                self.config, http_client=http_client, clock=self.clock
            )
        # Possibly shared with another front end of the same tenant: one cache, one keeper.
        self._jwks = key_source
        self._validator = TokenValidator(self.config, key_source, clock=self.clock)
        key_source.observe_fetches(self._on_jwks_fetch)

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

    def deadline(self, info: AuthInfo) -> float:
        """When this authenticator stops accepting ``info``'s token (``exp`` + leeway): the
        moment a front end ends a stream or WebSocket that token opened."""
        return expiry_deadline(info.expires_at.timestamp(), self.config.leeway)

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
        resource_metadata: str | None = None,
    ) -> AuthInfo | Refusal | None:
        """Authenticate and answer: the caller, ``None`` (``optional`` and no credentials),
        or the :class:`Refusal` to send. The one refusal path of every front end.

        ``resource_metadata`` is the calling front end's RFC 9728 metadata URL, named in
        its challenges (each front end its own: the authenticator may be shared).
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
            return None if optional else self.refuse(exc, resource_metadata)
        except AuthError as exc:
            return self.refuse(exc, resource_metadata)

    def refuse(self, exc: AuthError, resource_metadata: str | None = None) -> Refusal:
        """The status, headers and body that answer ``exc`` (``resource_metadata``: the
        front end's RFC 9728 metadata URL, if it serves one)."""
        return refusal(exc, self.realm, resource_metadata=resource_metadata)

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

    @property
    def key_source(self) -> JWKSCache:
        """The key source, to share with another front end: ``Authenticator(key_source=...)``.

        Assigning one makes this authenticator trust it from now on and forget the tokens
        it verified (a front end built before the shared source was; a fake tenant in
        tests: :meth:`logto_guard.testing.FakeLogto.trust`).
        """
        return self._jwks

    @key_source.setter
    def key_source(self, source: JWKSCache) -> None:
        self._use_keys_from(None, source)
