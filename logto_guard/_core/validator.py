"""Bearer token -> AuthInfo: structure, trusted key, signature, claims; verified-token cache.

The algorithm is taken from the token only to be checked against what the trusted key
allows; the key itself is chosen by ``kid`` among keys already in the JWKS. ``jku``,
``jwk``, ``x5u`` and ``x5c`` are never read (RFC 8725 §3.1, §3.10).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from cachetools import LRUCache

from .claims import (
    AFTER_AUDIENCE,
    Rules,
    audience_mismatch,
    audiences_of,
    check_claims,
    deadline_of,
    require_audience,
)
from .config import ORGANIZATION_AUDIENCE_PREFIX, GuardConfig
from .errors import (
    AlgorithmError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidSignatureError,
    InvalidTypeError,
    MalformedTokenError,
    UnknownKeyError,
)
from .identity import AuthInfo
from .jwks_cache import JWKSCache
from .jws import (
    COMPACT_JWS,
    decode_json_object,
    decode_signature,
    has_critical_extension,
    normalise_typ,
    shown,
    valid_kid,
)
from .scopes import scopes_in


@dataclass(frozen=True, slots=True)
class _Verified:
    info: AuthInfo
    kid: str
    deadline: float
    audiences: frozenset[str]


def _organization_of(info: AuthInfo, audience: str) -> str | None:
    if info.organization_id is None and audience.startswith(ORGANIZATION_AUDIENCE_PREFIX):
        return audience[len(ORGANIZATION_AUDIENCE_PREFIX) :]
    return info.organization_id


class TokenValidator:
    """Verifies bearer tokens against a :class:`GuardConfig` and a :class:`JWKSCache`.

    Fully verified tokens are remembered (bounded LRU, each entry until the token's
    ``exp`` plus leeway) so that a client reusing its token costs a dictionary lookup;
    a remembered token is still refused once its signing key leaves the JWKS.
    """

    def __init__(
        self,
        config: GuardConfig,
        jwks: JWKSCache,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._jwks = jwks
        self._clock = clock
        self._typ = None if config.require_typ is None else normalise_typ(config.require_typ)
        self._rules = Rules.of(config)
        self._issuers = self._rules.issuers
        # A plain LRU with the deadline checked on each hit: cachetools' TLRUCache does the
        # same check through a timer context manager and costs 3.6 us per hit against 0.6.
        self._cache: LRUCache[str, _Verified] | None = None
        if config.token_cache_size:
            self._cache = LRUCache(maxsize=config.token_cache_size)
        #: Tokens that went through signature verification (cache misses that parsed).
        self.verifications = 0
        #: Verified-token cache lookups that found a usable entry, and that did not.
        self.cache_hits = self.cache_misses = 0

    @property
    def cache_size(self) -> int:
        """How many verified tokens are remembered right now."""
        return 0 if self._cache is None else len(self._cache)

    def clear_cache(self) -> None:
        """Forget every verified token."""
        if self._cache is not None:
            self._cache.clear()

    def peek(self, token: str) -> AuthInfo | None:
        """The identity behind an already verified ``token`` for the configured audience,
        without awaiting anything; ``None`` when :meth:`validate` must decide.

        ``None`` covers every doubt (not cached, expired, key set due for a refresh, another
        audience): :meth:`validate` then gives the answer, so both always agree.
        """
        if self._cache is None:
            return None
        try:  # one lookup: LRUCache.get() would ask twice (contains, then getitem)
            verified = self._cache[token]
        except KeyError:
            return None
        if not self._jwks.has_fresh_key(
            verified.kid, before=verified.deadline
        ) or self._config.audiences.isdisjoint(verified.audiences):
            return None
        self.cache_hits += 1
        return verified.info

    async def validate(self, token: str, *, audience: str | None = None) -> AuthInfo:
        """Verify ``token`` and return what it says about the caller.

        ``audience`` replaces the configured one for this call (organization tokens,
        whose ``aud`` names the organization the request is about).

        Raises:
            InvalidTokenError: (a subclass of) the token is not valid for this API.
            KeysUnavailableError: the signing keys cannot be obtained.
        """
        if len(token) > self._config.max_token_size:
            raise MalformedTokenError("token is too large")
        cache = self._cache
        verified = None if cache is None else cache.get(token)
        if verified is not None:
            assert cache is not None
            self.cache_hits += 1
            if self._clock() >= verified.deadline:
                del cache[token]
                raise ExpiredTokenError()
            if not self._jwks.has_fresh_key(verified.kid):
                try:  # the key set is due for a refresh, or the key is gone: the careful path
                    await self._jwks.get_key(verified.kid)
                except Exception:
                    cache.pop(token, None)
                    raise
        else:
            self.cache_misses += 1
            verified = await self._verify(token, audience)
            if cache is not None:
                cache[token] = verified
        # Checked on every call, cached or not: the audience may depend on the request.
        accepted = self._config.audiences if audience is None else frozenset((audience,))
        if accepted.isdisjoint(verified.audiences):  # claims.require_audience, inlined
            raise audience_mismatch(accepted, verified.audiences)
        info = verified.info
        expected = audience or self._config.audience
        if info.audience != expected:
            info = replace(
                info, audience=expected, organization_id=_organization_of(info, expected)
            )
        return info

    async def _verify(self, token: str, audience: str | None) -> _Verified:
        if not COMPACT_JWS.fullmatch(token):
            raise MalformedTokenError()
        self.verifications += 1
        header_b64, payload_b64, signature_b64 = token.split(".")
        # In the order `logto-guard inspect` reports (structure, typ, kid, alg, signature,
        # payload, claims), so its first FAIL is this refusal; all before the key is cheap.
        header = decode_json_object(header_b64, "token header")
        if has_critical_extension(header):
            raise MalformedTokenError("unsupported critical header")
        if self._typ is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or normalise_typ(typ) != self._typ:
                raise InvalidTypeError()
        alg, kid = header.get("alg"), header.get("kid")
        if not valid_kid(kid):
            raise MalformedTokenError("kid header is missing or not a string")
        assert isinstance(kid, str)
        try:
            key = await self._jwks.get_key(kid)
        except UnknownKeyError as exc:
            exc.log_detail = self._foreign_issuer(payload_b64)
            raise
        if not isinstance(alg, str):
            raise AlgorithmError("alg header is missing")
        if not key.fits(alg):
            raise AlgorithmError("alg does not match the signing key")
        signature = decode_signature(signature_b64)
        if not key.verify(alg, f"{header_b64}.{payload_b64}".encode("ascii"), signature):
            raise InvalidSignatureError()
        claims = decode_json_object(payload_b64, "token payload")  # only once verified
        info, deadline, audiences = self._check_claims(claims, audience)
        return _Verified(info=info, kid=kid, deadline=deadline, audiences=audiences)

    def _foreign_issuer(self, payload_b64: str) -> str | None:
        """For the log only: the *unverified* ``iss`` when it names another issuer."""
        try:
            issuer = decode_json_object(payload_b64, "token payload").get("iss")
        except (MalformedTokenError, ValueError, RecursionError):
            return None
        if not isinstance(issuer, str) or issuer in self._issuers:
            return None
        return (
            f"unverified iss {shown(issuer)} is not this guard's issuer "
            f"{shown(self._issuers)}: a token from another tenant or environment?"
        )

    def _check_claims(
        self, claims: dict[str, Any], audience: str | None
    ) -> tuple[AuthInfo, float, frozenset[str]]:
        config, rules = self._config, self._rules
        try:
            check_claims(claims, rules, self._clock())  # every rule of the table, fail-fast
        except InvalidClaimError as exc:
            # The audience of the call (checked after caching: it may change per request)
            # outranks the rules after it in the table, as inspect reports them.
            if exc.claim in AFTER_AUDIENCE:
                accepted = config.audiences if audience is None else frozenset((audience,))
                require_audience(accepted, audiences_of(claims, rules))
            raise
        aud = claims["aud"]  # a string or a list of strings: the table checked it
        audiences = frozenset((aud,)) if isinstance(aud, str) else frozenset(aud)
        exp = float(claims["exp"])
        subject, client_id = claims["sub"], claims.get("client_id")
        act = claims.get("act")
        actor = act["sub"] if isinstance(act, dict) else None
        info = AuthInfo(
            subject=subject,
            client_id=client_id,
            audience=config.audience,
            issuer=claims["iss"],
            scopes=frozenset(scopes_in(claims.get("scope"))),
            organization_id=claims.get("organization_id"),
            expires_at=datetime.fromtimestamp(exp, tz=timezone.utc),
            claims=MappingProxyType(claims),
            actor=actor,
            delegated=actor is not None
            or (client_id in config.m2m_clients and subject != client_id),
        )
        return info, deadline_of(exp, rules), audiences
