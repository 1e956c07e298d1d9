"""Bearer token -> AuthInfo: structure, trusted key, signature, claims; verified-token cache.

The algorithm is taken from the token only to be checked against what the trusted key
allows; the key itself is chosen by ``kid`` among keys already in the JWKS. ``jku``,
``jwk``, ``x5u`` and ``x5c`` are never read (RFC 8725 §3.1, §3.10).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from cachetools import LRUCache

from .config import ORGANIZATION_AUDIENCE_PREFIX, GuardConfig
from .errors import (
    AlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
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
    optional_str,
    shown,
    timestamp,
    valid_kid,
)


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


def _audience_mismatch(expected: frozenset[str], received: object) -> InvalidClaimError:
    error = InvalidClaimError("aud", "audience mismatch")
    error.log_detail = f"expected aud {shown(expected)}, received {shown(received)}"
    return error


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
        self._issuers = frozenset(config.issuers)
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
            verified = await self._verify(token)
            if cache is not None:
                cache[token] = verified
        # Checked on every call, cached or not: the audience may depend on the request.
        accepted = self._config.audiences if audience is None else frozenset((audience,))
        if accepted.isdisjoint(verified.audiences):
            raise _audience_mismatch(accepted, verified.audiences)
        info = verified.info
        expected = audience or self._config.audience
        if info.audience != expected:
            info = replace(
                info, audience=expected, organization_id=_organization_of(info, expected)
            )
        return info

    async def _verify(self, token: str) -> _Verified:
        if not COMPACT_JWS.fullmatch(token):
            raise MalformedTokenError()
        self.verifications += 1
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = decode_json_object(header_b64, "token header")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str):
            raise AlgorithmError("alg header is missing")
        if not valid_kid(kid):
            raise MalformedTokenError("kid header is missing or not a string")
        assert isinstance(kid, str)
        if has_critical_extension(header):
            raise MalformedTokenError("unsupported critical header")
        if self._typ is not None:
            typ = header.get("typ")
            if not isinstance(typ, str) or normalise_typ(typ) != self._typ:
                raise InvalidTypeError()
        try:
            key = await self._jwks.get_key(kid)
        except UnknownKeyError as exc:
            exc.log_detail = self._foreign_issuer(payload_b64)
            raise
        if alg not in key.algorithms:
            raise AlgorithmError("alg does not match the signing key")
        signature = decode_signature(signature_b64)
        if not key.verify(alg, f"{header_b64}.{payload_b64}".encode("ascii"), signature):
            raise InvalidSignatureError()
        claims = decode_json_object(payload_b64, "token payload")
        info, deadline, audiences = self._check_claims(claims)
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

    def _check_claims(self, claims: dict[str, Any]) -> tuple[AuthInfo, float, frozenset[str]]:
        config, now = self._config, self._clock()
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or issuer not in self._issuers:
            error = InvalidClaimError("iss", "issuer mismatch")
            error.log_detail = f"expected iss {shown(self._issuers)}, received {shown(issuer)}"
            raise error
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        # RFC 7519 §4.1.3: a string or an array of strings, nothing else in it.
        if (
            not isinstance(audiences, list)
            or not audiences
            or not all(isinstance(value, str) for value in audiences)
        ):
            raise _audience_mismatch(config.audiences, audience)
        exp = timestamp(claims, "exp", required=True)
        assert exp is not None
        # Whole seconds, as PyJWT reads exp: a fraction never buys extra life.
        deadline = math.floor(exp) + config.leeway
        if now >= deadline:
            raise ExpiredTokenError()
        nbf = timestamp(claims, "nbf", required=False)
        if nbf is not None and nbf > now + config.leeway:
            raise ImmatureTokenError("nbf", "token not yet valid")
        iat = timestamp(claims, "iat", required=False)
        if iat is not None and iat > now + config.leeway:
            raise ImmatureTokenError("iat", "token issued in the future")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidClaimError("sub", "missing sub claim")
        if "jti" in claims and not isinstance(claims["jti"], str):  # RFC 7519 §4.1.7
            raise InvalidClaimError("jti", "jti claim is not a string")
        scope = optional_str(claims, "scope")
        client_id = optional_str(claims, "client_id")
        act = claims.get("act")
        actor = act.get("sub") if isinstance(act, dict) else None
        if act is not None and (not isinstance(actor, str) or not actor):  # RFC 8693 §4.1
            raise InvalidClaimError("act", "act claim has no sub")
        info = AuthInfo(
            subject=subject,
            client_id=client_id,
            audience=config.audience,
            issuer=issuer,
            # RFC 6749 §3.3: separated by U+0020 only; str.split() would also split U+00A0.
            scopes=frozenset(s for s in scope.split(" ") if s) if scope else frozenset(),
            organization_id=optional_str(claims, "organization_id"),
            expires_at=datetime.fromtimestamp(exp, tz=timezone.utc),
            claims=MappingProxyType(claims),
            actor=actor,
            delegated=actor is not None
            or (client_id in config.m2m_clients and subject != client_id),
        )
        return info, deadline, frozenset(audiences)
