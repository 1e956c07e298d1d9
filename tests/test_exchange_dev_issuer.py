"""The M2M client's token exchange against the dev issuer's Logto-shaped grant, and the
guard reading what it issues: the same code a service runs against a real Logto."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from logto_guard import Authenticator
from logto_guard.client import IMPERSONATION_TOKEN_TYPE, LogtoM2MClient, TokenRequestError
from logto_guard.dev_issuer import DEV_PUBLIC_CLIENT, App, create_app
from logto_guard.testing import FakeClock

from .dev_issuer_helpers import BASE, MCP, SHOP, login, make_state

pytestmark = pytest.mark.anyio


class Tenant:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = FakeClock()
        self.state, self.directory = make_state(tmp_path, self.clock)
        self.agent = self.state.add_app("agent", grants={SHOP: ["read:products"]})
        self.plain = self.state.add_app("plain", grants={SHOP: ["read:products"]})
        self.directory.set_token_exchange(self.agent.app_id, True)
        app = create_app(self.state, directory=self.directory)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)

    def m2m(self, app: App) -> LogtoM2MClient:
        return LogtoM2MClient(
            endpoint=BASE,
            app_id=app.app_id,
            app_secret=app.app_secret,
            http_client=self.http,
            clock=self.clock,
        )

    async def user_token(self) -> str:
        body = await login(self.http, DEV_PUBLIC_CLIENT, resource=MCP)
        token: str = body["access_token"]
        return token


@pytest.fixture
async def tenant(tmp_path: Path) -> AsyncIterator[Tenant]:
    world = Tenant(tmp_path)
    async with world.http:
        yield world


async def test_exchanged_token_is_the_user_for_the_app_and_the_guard_accepts_it(
    tenant: Tenant,
) -> None:
    subject = await tenant.user_token()
    issued = await tenant.m2m(tenant.agent).exchange(
        subject, resource=SHOP, scopes=["read:products", "write:products", "delete:all"]
    )
    guard = Authenticator(endpoint=BASE, audience=SHOP, http_client=tenant.http, clock=tenant.clock)
    info = await guard.authenticate([f"Bearer {issued.access_token}"], ["read:products"])
    assert info.subject == "user-dev"  # the user, not the app
    assert info.client_id == tenant.agent.app_id  # the acting app
    assert not info.is_m2m
    # requested ∩ the user's role scopes; "delete:all" dropped silently, as Logto does
    assert info.scopes == {"read:products", "write:products"}


async def test_an_app_without_token_exchange_gets_an_error_naming_the_setting(
    tenant: Tenant,
) -> None:
    subject = await tenant.user_token()
    with pytest.raises(TokenRequestError) as caught:
        await tenant.m2m(tenant.plain).exchange(subject, resource=SHOP, scopes=["read:products"])
    assert caught.value.error == "invalid_request"
    assert "allowTokenExchange" in str(caught.value)


async def test_a_used_impersonation_token_is_invalid_grant_with_the_usual_causes(
    tenant: Tenant,
) -> None:
    m2m = tenant.m2m(tenant.agent)
    with pytest.raises(TokenRequestError) as caught:
        await m2m.exchange(
            "sub_nosuchtoken", resource=SHOP, subject_token_type=IMPERSONATION_TOKEN_TYPE
        )
    assert caught.value.error == "invalid_grant"
    message = str(caught.value)
    assert "expired" in message and "allowTokenExchange" in message
    assert "sub_nosuchtoken" not in message  # subject tokens never appear in errors


async def test_the_exchange_is_cached_per_subject_and_resource(tenant: Tenant) -> None:
    subject = await tenant.user_token()
    m2m = tenant.m2m(tenant.agent)
    first = await m2m.exchange(subject, resource=SHOP, scopes=["read:products"])
    again = await m2m.exchange(subject, resource=SHOP, scopes=["read:products"])
    other = await m2m.exchange(subject, resource=SHOP, scopes=["write:products"])
    assert again.access_token == first.access_token
    assert other.access_token != first.access_token
