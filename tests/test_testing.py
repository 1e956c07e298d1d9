"""The public testing helpers: FakeLogto, FakeClock and the pytest plugin's fixtures."""

from __future__ import annotations

import httpx
import pytest

from logto_guard import Authenticator, InvalidSignatureError, KeysUnavailableError, LogtoGuard
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
    info = await protected.authenticator.authenticate(
        [logto.headers(scopes=["a"])["Authorization"]], ["a"]
    )
    assert info.scopes == frozenset({"a"}) and info.is_m2m


async def test_tokens_of_an_untrusted_fake_are_refused(fake_logto: FakeLogtoFactory) -> None:
    protected = guard()
    fake_logto(protected)
    stranger = FakeLogto.for_guard(protected)
    forged = stranger.token(headers={"kid": fake_logto(protected).signing_kid})
    with pytest.raises(InvalidSignatureError):
        await protected.authenticator.authenticate([f"Bearer {forged}"])


async def test_trust_is_undone() -> None:
    """After undo, the guard asks its own JWKS again, not the fake's."""
    asked: list[str] = []

    def tenant(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(503)

    authenticator = Authenticator(
        endpoint="https://acme.logto.app",
        audience="https://a.test",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(tenant)),
    )
    fake = FakeLogto.for_guard(authenticator)
    undo = fake.trust(authenticator)
    assert await authenticator.authenticate([f"Bearer {fake.token()}"])
    assert asked == [] and fake.jwks_requests == 1
    undo()
    with pytest.raises(KeysUnavailableError):
        await authenticator.authenticate([f"Bearer {fake.token()}"])
    assert asked == ["https://acme.logto.app/oidc/jwks"]


async def test_trust_and_undo_leave_one_fetch_observation_per_fetch() -> None:
    """Swapping the key source back and forth never counts a JWKS fetch twice."""
    authenticator = Authenticator(
        endpoint="https://acme.logto.app",
        audience="https://a.test",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503))),
    )
    seen: list[str] = []
    authenticator.observe_jwks_fetches(lambda outcome, seconds: seen.append(outcome))
    fake = FakeLogto.for_guard(authenticator)
    for _ in range(2):
        fake.trust(authenticator)()
    await authenticator.refresh_keys()
    assert seen == ["failure"]
    fake.trust(authenticator)
    await authenticator.refresh_keys()
    assert seen == ["failure", "success"]


def test_fake_clock_moves_only_when_told(fake_clock: FakeClock) -> None:
    start = fake_clock()
    fake_clock.advance(90)
    assert fake_clock() == start + 90


def test_claims_can_be_overridden_and_removed() -> None:
    claims = FakeLogto().claims(scopes=["x", "y"], aud=["a", "b"], client_id=None, extra=1)
    assert claims["scope"] == "x y" and claims["aud"] == ["a", "b"] and claims["extra"] == 1
    assert "client_id" not in claims
