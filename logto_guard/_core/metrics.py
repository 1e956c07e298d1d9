"""OpenTelemetry metrics, through the OpenTelemetry API only (a no-op without an SDK).

The request path only bumps plain integers (:attr:`Authenticator.stats`); observable
instruments read them when a metric reader collects, so the warm path pays no OpenTelemetry
call at all. JWKS fetches are rare and feed a histogram directly. No attribute ever holds
token bytes: only reason codes, outcomes, the audience and the JWKS URL.

=================================  =============  =============================================
name                               type           attributes
=================================  =============  =============================================
``logto_guard.requests``           counter        ``outcome`` (accepted, refused), ``reason``
``logto_guard.token_cache.lookups``  counter      ``result`` (hit, miss)
``logto_guard.jwks.fetches``       counter        ``outcome`` (success, failure, misconfigured)
``logto_guard.jwks.fetch.duration``  histogram s  ``outcome``
``logto_guard.jwks.key_set.age``   gauge (s)      (none beyond the common ones)
``logto_guard.jwks.keys``          gauge          usable signing keys held
=================================  =============  =============================================

Every instrument also carries ``audience`` and ``jwks_uri`` (several guards may share a
process). ``reason`` is ``ok`` for accepted requests, else the refusal's stable reason code.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .._version import __version__

if TYPE_CHECKING:
    from .authenticator import Authenticator

try:
    from opentelemetry import metrics as otel
    from opentelemetry.metrics import CallbackOptions, Observation

    _OTEL = True
except ImportError:  # the optional extra is absent: metrics are off
    _OTEL = False


class _Instruments:
    """The instruments of one meter provider, reading every registered authenticator."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider  # kept alive: instruments are looked up by its id
        meter = (provider or otel.get_meter_provider()).get_meter("logto_guard", __version__)
        self.guards: weakref.WeakSet[Authenticator] = weakref.WeakSet()
        meter.create_observable_counter(
            "logto_guard.requests",
            callbacks=[self._requests],
            unit="{request}",
            description="Authentication outcomes: accepted, or refused with a reason code",
        )
        meter.create_observable_counter(
            "logto_guard.token_cache.lookups",
            callbacks=[self._lookups],
            unit="{lookup}",
            description="Verified-token cache lookups by result (hit, miss)",
        )
        meter.create_observable_counter(
            "logto_guard.jwks.fetches",
            callbacks=[self._fetches],
            unit="{fetch}",
            description="JWKS fetches by outcome (success, failure, misconfigured)",
        )
        meter.create_observable_gauge(
            "logto_guard.jwks.key_set.age",
            callbacks=[self._age],
            unit="s",
            description="Age of the key set in use (absent before the first fetch)",
        )
        meter.create_observable_gauge(
            "logto_guard.jwks.keys",
            callbacks=[self._keys],
            unit="{key}",
            description="Usable signing keys held",
        )
        self.fetch_duration = meter.create_histogram(
            "logto_guard.jwks.fetch.duration",
            unit="s",
            description="Duration of JWKS fetches by outcome",
        )

    def _each(self) -> Iterator[tuple[Authenticator, dict[str, str]]]:
        for guard in list(self.guards):
            yield guard, _common(guard)

    def _requests(self, options: CallbackOptions) -> Iterable[Observation]:
        for guard, common in self._each():
            stats = guard.stats
            yield Observation(stats.accepted, {**common, "outcome": "accepted", "reason": "ok"})
            for reason, count in stats.refused.items():
                yield Observation(count, {**common, "outcome": "refused", "reason": reason})

    def _lookups(self, options: CallbackOptions) -> Iterable[Observation]:
        for guard, common in self._each():
            stats = guard.stats
            yield Observation(stats.cache_hits, {**common, "result": "hit"})
            yield Observation(stats.cache_misses, {**common, "result": "miss"})

    def _fetches(self, options: CallbackOptions) -> Iterable[Observation]:
        for guard, common in self._each():
            for outcome, count in guard.stats.jwks_fetches.items():
                yield Observation(count, {**common, "outcome": outcome})

    def _age(self, options: CallbackOptions) -> Iterable[Observation]:
        for guard, common in self._each():
            age = guard.readiness().key_set_age
            if age is not None:
                yield Observation(age, common)

    def _keys(self, options: CallbackOptions) -> Iterable[Observation]:
        for guard, common in self._each():
            yield Observation(guard.readiness().keys, common)


def _common(guard: Authenticator) -> dict[str, str]:
    return {"audience": guard.config.audience, "jwks_uri": guard.config.jwks_uri}


_BY_PROVIDER: dict[int, _Instruments] = {}


def instrument(guard: Authenticator, provider: Any = None) -> None:
    """Report ``guard``'s counters through OpenTelemetry (no-op without the API)."""
    if not _OTEL:
        return
    key = id(provider)  # None (the global provider) or an explicit one, kept alive below
    instruments = _BY_PROVIDER.get(key)
    if instruments is None:
        instruments = _BY_PROVIDER[key] = _Instruments(provider)
    instruments.guards.add(guard)
    histogram, common = instruments.fetch_duration, _common(guard)
    guard.observe_jwks_fetches(
        lambda outcome, seconds: histogram.record(seconds, {**common, "outcome": outcome})
    )
