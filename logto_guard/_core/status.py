"""What an authenticator reports about itself: readiness for probes, counters for metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Readiness:
    """Whether the guard can verify tokens right now (for readiness probes).

    Attributes:
        ready: a usable key set is held.
        keys: how many usable signing keys it has.
        key_set_age: seconds since it was fetched, ``None`` before the first fetch.
        last_error: why the last JWKS fetch failed, ``None`` after a success.
    """

    ready: bool
    keys: int
    key_set_age: float | None
    last_error: str | None


@dataclass(frozen=True)
class Stats:
    """Counters since the authenticator was built (what the metrics report).

    Attributes:
        verified_tokens: tokens that went through signature verification.
        cached_tokens: verified tokens remembered right now.
        accepted: requests authenticated.
        refused: refused requests by reason code (``token_expired``, ...).
        cache_hits: verified-token cache lookups that answered.
        cache_misses: lookups that found nothing (the token was then verified or refused).
        jwks_fetches: JWKS fetches by outcome (``success``, ``failure``, ``misconfigured``).
    """

    verified_tokens: int
    cached_tokens: int
    accepted: int = 0
    refused: Mapping[str, int] = field(default_factory=dict)
    cache_hits: int = 0
    cache_misses: int = 0
    jwks_fetches: Mapping[str, int] = field(default_factory=dict)
