"""The public testing helpers: FakeLogto, FakeClock and the pytest plugin's fixtures."""

from __future__ import annotations

import pytest

from logto_guard import Authenticator, InvalidSignatureError, LogtoGuard
from logto_guard.pytest_plugin import FakeLogtoFactory
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


def guard() -> LogtoGuard:
    return LogtoGuard(endpoint="https://acme.logto.app", audience="https://api.acme.test")


async def test_fake_for_a_guard_mints_tokens_that_guard_accepts(
    fake_logto: FakeLogtoFactory,
) -> None:
    protected = guard()
    logto = fake_logto(protected)
    assert (logto.issuer, logto.audience) == (
        "https://acme.logto.app/oidc",
        "https://api.acme.test",
    )
    info = await protected.authenticate([logto.headers(scopes=["a"])["Authorization"]], ["a"])
    assert info.scopes == frozenset({"a"}) and info.is_m2m


async def test_tokens_of_an_untrusted_fake_are_refused(fake_logto: FakeLogtoFactory) -> None:
    protected = guard()
    fake_logto(protected)
    stranger = FakeLogto.for_guard(protected)
    forged = stranger.token(headers={"kid": fake_logto(protected).signing_kid})
    with pytest.raises(InvalidSignatureError):
        await protected.authenticate([f"Bearer {forged}"])


def test_trust_is_undone() -> None:
    authenticator = Authenticator(endpoint="https://acme.logto.app", audience="https://a.test")
    undo = FakeLogto.for_guard(authenticator).trust(authenticator)
    assert authenticator.jwks._given_client is not None
    undo()
    assert authenticator.jwks._given_client is None


def test_fake_clock_moves_only_when_told(fake_clock: FakeClock) -> None:
    start = fake_clock()
    fake_clock.advance(90)
    assert fake_clock() == start + 90


def test_claims_can_be_overridden_and_removed() -> None:
    claims = FakeLogto().claims(scopes=["x", "y"], aud=["a", "b"], client_id=None, extra=1)
    assert claims["scope"] == "x y" and claims["aud"] == ["a", "b"] and claims["extra"] == 1
    assert "client_id" not in claims
