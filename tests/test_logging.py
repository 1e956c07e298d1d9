"""Logging: each refusal with a reason code and never the token; JWKS failures as warnings."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from logto_guard import AuthError, LogtoGuard
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


def make_guard(logto: FakeLogto, clock: FakeClock) -> LogtoGuard:
    return LogtoGuard(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
    )


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "https://other.api"}, "invalid_claim"),
        ({"exp": 1}, "token_expired"),
        ({"scope": ""}, "insufficient_scope"),
    ],
)
async def test_refusals_are_logged_with_a_reason_and_without_the_token(
    caplog: pytest.LogCaptureFixture, claims: dict[str, Any], reason: str
) -> None:
    clock = FakeClock(1_700_000_000)
    logto = FakeLogto(clock=clock)
    token = logto.token(**claims)
    caplog.set_level(logging.INFO, logger="logto_guard")
    with pytest.raises(AuthError):
        await make_guard(logto, clock).authenticator.authenticate(
            [f"Bearer {token}"], ["read:products"]
        )
    (record,) = [r for r in caplog.records if r.name == "logto_guard"]
    assert record.levelno == logging.INFO
    assert f"reason={reason}" in record.getMessage()
    for segment in token.split("."):
        assert segment not in caplog.text


async def test_jwks_failures_are_warnings(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(1_700_000_000)
    logto = FakeLogto(clock=clock)
    logto.jwks_fault = lambda request: httpx.Response(502)
    caplog.set_level(logging.INFO, logger="logto_guard")
    with pytest.raises(AuthError):
        await make_guard(logto, clock).authenticator.authenticate([f"Bearer {logto.token()}"])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        f"JWKS fetch from {logto.jwks_uri} failed: JWKS answered HTTP 502"
    ]
