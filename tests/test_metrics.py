"""OpenTelemetry metrics, read with the SDK's in-memory reader; never a token byte."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from logto_guard import Authenticator
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


def points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], Any]]]:
    """Metric name -> [(attributes, value or histogram point)] of one collection."""
    found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", point)
                    found.setdefault(metric.name, []).append((dict(point.attributes or {}), value))
    return found


def value(found: dict[str, list[tuple[dict[str, Any], Any]]], name: str, **attrs: str) -> Any:
    matches = [v for a, v in found.get(name, []) if all(a.get(k) == x for k, x in attrs.items())]
    assert len(matches) == 1, (name, attrs, found.get(name))
    return matches[0]


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


def make(logto: FakeLogto, clock: FakeClock, reader: InMemoryMetricReader) -> Authenticator:
    return Authenticator(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )


async def test_requests_cache_and_jwks_are_counted(
    logto: FakeLogto, clock: FakeClock, reader: InMemoryMetricReader
) -> None:
    guard = make(logto, clock, reader)
    token = logto.token(scopes=["read"])
    header = f"Bearer {token}"
    assert await guard.authenticate([header], ["read"])  # miss: verified
    assert guard.peek(header, ["read"])  # warm hit
    assert await guard.check([header], ["write"])  # slow-path hit, refused for scope
    await guard.check([f"Bearer {logto.token(exp=1)}"])  # miss, expired
    await guard.check([])  # no credentials
    clock.advance(42)
    found = points(reader)
    common = {"audience": logto.audience, "jwks_uri": logto.jwks_uri}
    assert value(found, "logto_guard.requests", outcome="accepted", **common) == 2
    assert value(found, "logto_guard.requests", reason="insufficient_scope") == 1
    assert value(found, "logto_guard.requests", reason="token_expired") == 1
    assert value(found, "logto_guard.requests", reason="credentials_missing") == 1
    assert value(found, "logto_guard.token_cache.lookups", result="hit") == 2
    assert value(found, "logto_guard.token_cache.lookups", result="miss") == 2
    assert value(found, "logto_guard.jwks.fetches", outcome="success") == 1
    assert value(found, "logto_guard.jwks.fetches", outcome="failure") == 0
    assert value(found, "logto_guard.jwks.key_set.age") == 42
    assert value(found, "logto_guard.jwks.keys") == 1
    duration = value(found, "logto_guard.jwks.fetch.duration", outcome="success")
    assert duration.count == 1 and duration.sum >= 0
    every_attribute = " ".join(str(attrs) for series in found.values() for attrs, _ in series)
    assert token.split(".")[1][:16] not in every_attribute and "eyJ" not in every_attribute


async def test_jwks_failures_are_counted_by_outcome(
    logto: FakeLogto, clock: FakeClock, reader: InMemoryMetricReader
) -> None:
    guard = make(logto, clock, reader)
    logto.jwks_fault = lambda request: httpx.Response(404)
    await guard.refresh_keys()
    logto.jwks_fault = lambda request: httpx.Response(503)
    await guard.refresh_keys()
    found = points(reader)
    assert value(found, "logto_guard.jwks.fetches", outcome="misconfigured") == 1
    assert value(found, "logto_guard.jwks.fetches", outcome="failure") == 1
    assert "logto_guard.jwks.key_set.age" not in found  # no key set yet: no age to report
    assert value(found, "logto_guard.jwks.keys") == 0


async def test_metrics_can_be_turned_off(
    logto: FakeLogto, clock: FakeClock, reader: InMemoryMetricReader
) -> None:
    guard = Authenticator(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        metrics=False,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    assert await guard.authenticate([f"Bearer {logto.token()}"])
    assert guard.stats.accepted == 1  # the counters still count
    assert points(reader) == {}
