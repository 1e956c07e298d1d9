"""Attempt-rate limits for the token relay: token buckets, one overall and one per key.

A bucket holds up to ``burst`` tokens and regains ``rate`` per second; an attempt takes one
token from every bucket it is counted in, or from none when any is empty. Per-key buckets
(client IP, App ID) live in a bounded table: when it is full, the oldest entry is dropped,
which at worst gives that key a fresh burst (a flood of distinct keys is still held back by
the overall bucket).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """``burst`` attempts at once, then ``rate`` attempts per second.

    Raises:
        ValueError: ``rate`` not positive or ``burst`` below 1.
    """

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)) or self.burst < 1:
            raise ValueError("a rate limit needs a positive finite rate and a burst of at least 1")


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, updated: float) -> None:
        self.tokens = tokens
        self.updated = updated


class KeyedBuckets:
    """Token buckets by key (``""`` for the overall one), at most ``max_keys`` remembered."""

    def __init__(
        self, limit: RateLimit, clock: Callable[[], float], *, max_keys: int = 10_000
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def wait_for(self, key: str) -> float:
        """Seconds until ``key`` has a token (0 when it has one now); refills the bucket."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        bucket.tokens = min(
            float(self.limit.burst), bucket.tokens + (now - bucket.updated) * self.limit.rate
        )
        bucket.updated = now
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.limit.rate

    def take(self, key: str) -> None:
        """Take one token from ``key`` (call after :meth:`wait_for` returned 0)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.limit.burst), self._clock())
            self._buckets[key] = bucket
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(key)
        bucket.tokens -= 1


def try_acquire(checks: Sequence[tuple[KeyedBuckets, str]]) -> float:
    """Take a token from every ``(buckets, key)`` and return 0, or take none and return the
    seconds to wait before retrying."""
    wait = max((buckets.wait_for(key) for buckets, key in checks), default=0.0)
    if wait > 0:
        return wait
    for buckets, key in checks:
        buckets.take(key)
    return 0.0
