"""The Authenticator (logto_guard._core.authenticator): header values in, a caller or a
refusal out, counted; its key source shared, swapped and observed."""

from __future__ import annotations

import httpx
import pytest

from logto_guard import (
    Authenticator,
    AuthInfo,
    CredentialsMissingError,
    InsufficientScopeError,
    InvalidRequestError,
    Refusal,
)
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


def authenticator_of(logto: FakeLogto, clock: FakeClock) -> Authenticator:
    return Authenticator(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        metrics=False,
    )


async def test_a_valid_token_with_the_scopes_is_the_caller_and_counted(
    logto: FakeLogto, clock: FakeClock
) -> None:
    auth = authenticator_of(logto, clock)
    info = await auth.authenticate([f"Bearer {logto.token(scopes=['read'])}"], ["read"])
    assert isinstance(info, AuthInfo) and info.scopes == frozenset({"read"})
    assert (auth.stats.accepted, auth.stats.refused) == (1, {})


async def test_refusals_are_counted_by_reason(logto: FakeLogto, clock: FakeClock) -> None:
    auth = authenticator_of(logto, clock)
    with pytest.raises(InsufficientScopeError):
        await auth.authenticate([f"Bearer {logto.token(scopes=['read'])}"], ["write"])
    with pytest.raises(CredentialsMissingError):
        await auth.authenticate([])
    with pytest.raises(InvalidRequestError):
        await auth.authenticate(["Bearer a", "Bearer b"])
    assert auth.stats.refused == {
        "insufficient_scope": 1,
        "credentials_missing": 1,
        "invalid_request": 1,
    }
    assert auth.stats.accepted == 0


async def test_check_answers_a_refusal_or_none_when_optional(
    logto: FakeLogto, clock: FakeClock
) -> None:
    auth = authenticator_of(logto, clock)
    refused = await auth.check([])
    assert isinstance(refused, Refusal) and refused.status_code == 401
    assert await auth.check([], optional=True) is None
    bad = await auth.check(["Bearer a b"], optional=True)  # optional is about no header only
    assert isinstance(bad, Refusal) and bad.status_code == 400


async def test_the_warm_path_answers_only_verified_tokens_with_every_scope(
    logto: FakeLogto, clock: FakeClock
) -> None:
    auth = authenticator_of(logto, clock)
    token = logto.token(scopes=["read"])
    assert auth.peek(f"Bearer {token}") is None  # never verified: check must decide
    await auth.authenticate([f"Bearer {token}"])
    info = auth.peek(f"Bearer {token}", ["read"])
    assert info is not None and info.scopes == frozenset({"read"})
    assert auth.peek(f"Bearer {token}", ["write"]) is None
    assert auth.peek(f"Basic {token}") is None


async def test_a_shared_key_source_fetches_once_for_both_and_both_observe_it(
    logto: FakeLogto, clock: FakeClock
) -> None:
    rest = authenticator_of(logto, clock)
    mcp = Authenticator(
        endpoint=logto.endpoint, audience=logto.audience, key_source=rest.key_source, clock=clock
    )
    seen: dict[str, list[str]] = {"rest": [], "mcp": []}
    rest.observe_jwks_fetches(lambda outcome, _: seen["rest"].append(outcome))
    mcp.observe_jwks_fetches(lambda outcome, _: seen["mcp"].append(outcome))
    token = f"Bearer {logto.token()}"
    await rest.authenticate([token])
    await mcp.authenticate([token])
    assert logto.jwks_requests == 1
    assert seen == {"rest": ["success"], "mcp": ["success"]}
    assert (
        rest.stats.jwks_fetches
        == mcp.stats.jwks_fetches
        == {
            "success": 1,
            "failure": 0,
            "misconfigured": 0,
        }
    )


async def test_assigning_a_key_source_forgets_tokens_verified_with_the_old_one(
    logto: FakeLogto, clock: FakeClock
) -> None:
    auth = authenticator_of(logto, clock)
    token = f"Bearer {logto.token()}"
    await auth.authenticate([token])
    other = FakeLogto(endpoint=logto.endpoint, audience=logto.audience, clock=clock)
    other_source = Authenticator(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(other.handle)),
        clock=clock,
    ).key_source
    auth.key_source = other_source
    assert auth.key_source is other_source
    assert auth.peek(token) is None  # the warm path no longer knows it
    refused = await auth.check([token])  # signed by a key the new source does not publish
    assert isinstance(refused, Refusal) and refused.status_code == 401
