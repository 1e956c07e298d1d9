"""Per-route delegation policy: allowed App IDs, actor and delegated tokens (issue 20)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Security
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logto_guard import (
    ActorNotAllowedError,
    Authenticator,
    AuthInfo,
    ClientNotAllowedError,
    ConfigurationError,
    InvalidClaimError,
    LogtoGuard,
    Policy,
)
from logto_guard.asgi import LogtoAuthMiddleware
from logto_guard.testing import FakeClock, FakeLogto
from tests.integration.servers import serve

pytestmark = pytest.mark.anyio
MCP_APP, OTHER_APP, USER = "mcp-server-app", "other-app", "user-1"
REALM = 'realm="https://shopping.api"'


def challenge(description: str) -> str:
    return f'Bearer {REALM}, error="insufficient_scope", error_description="{description}"'


def build(logto: FakeLogto, clock: FakeClock) -> tuple[FastAPI, LogtoGuard]:
    guard = LogtoGuard(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        m2m_clients=[MCP_APP],
    )
    app = FastAPI()
    guard.install(app)
    only_mcp = guard.policy(clients=[MCP_APP])
    no_actor = guard.policy(allow_actor=False)
    own_tokens = guard.policy(allow_delegated=False)

    def who(auth: AuthInfo) -> dict[str, Any]:
        return {"sub": auth.subject, "actor": auth.actor, "delegated": auth.delegated}

    @app.get("/open")
    async def open_route(auth: AuthInfo = Security(guard, scopes=["read:products"])) -> Any:
        return who(auth)

    @app.post("/reorder")
    async def reorder(auth: AuthInfo = Security(only_mcp, scopes=["write:products"])) -> Any:
        return who(auth)

    @app.delete("/products")
    async def delete(auth: AuthInfo = Security(no_actor, scopes=["write:products"])) -> Any:
        return who(auth)

    @app.post("/refund")
    async def refund(auth: AuthInfo = Security(own_tokens, scopes=["write:products"])) -> Any:
        return who(auth)

    return app, guard


def token(logto: FakeLogto, **claims: Any) -> dict[str, str]:
    minted = logto.token(scopes=["read:products", "write:products"], **claims)
    return {"Authorization": f"Bearer {minted}"}


async def call(app: Any, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        return await c.request(method, path, headers=headers)


async def test_only_listed_clients_may_call_and_the_refusal_names_the_rule(
    logto: FakeLogto, clock: FakeClock
) -> None:
    app, guard = build(logto, clock)
    delegated = token(logto, sub=USER, client_id=MCP_APP)
    assert (await call(app, "POST", "/reorder", delegated)).json() == {
        "sub": USER,
        "actor": None,
        "delegated": True,
    }
    other = token(logto, sub=USER, client_id=OTHER_APP)
    for _ in range(2):  # cold, then from the verified-token cache
        response = await call(app, "POST", "/reorder", other)
        assert response.status_code == 403
        assert response.json() == {
            "detail": "client not allowed on this route",
            "error": "insufficient_scope",
        }
        assert response.headers["www-authenticate"] == challenge("client not allowed on this route")
    # OTHER_APP is not among m2m_clients: nothing marks its token for a user as delegated
    assert (await call(app, "GET", "/open", other)).json()["delegated"] is False
    assert guard.authenticator.stats.verified_tokens == 2  # one key set, one cache
    assert guard.authenticator.stats.refused == {"client_not_allowed": 2}


async def test_actor_tokens_are_refused_where_actors_are_not_allowed(
    logto: FakeLogto, clock: FakeClock
) -> None:
    app, _ = build(logto, clock)
    acted = token(logto, sub=USER, client_id=MCP_APP, act={"sub": "admin-7"})
    for _ in range(2):
        response = await call(app, "DELETE", "/products", acted)
        assert response.status_code == 403
        assert response.headers["www-authenticate"] == challenge(
            "actor tokens not allowed on this route"
        )
    assert (await call(app, "GET", "/open", acted)).json() == {
        "sub": USER,
        "actor": "admin-7",
        "delegated": True,
    }
    assert (await call(app, "DELETE", "/products", token(logto, sub=USER))).status_code == 200


async def test_delegated_tokens_are_refused_where_callers_must_bring_their_own(
    logto: FakeLogto, clock: FakeClock
) -> None:
    app, _ = build(logto, clock)
    delegated = token(logto, sub=USER, client_id=MCP_APP)
    response = await call(app, "POST", "/refund", delegated)
    assert (response.status_code, response.json()["detail"]) == (
        403,
        "delegated tokens not allowed on this route",
    )
    own = token(logto, sub=MCP_APP, client_id=MCP_APP)  # the M2M app's own token
    assert (await call(app, "POST", "/refund", own)).json()["delegated"] is False


def test_over_real_http_the_policy_refuses_another_client(
    logto: FakeLogto, clock: FakeClock
) -> None:
    app, _ = build(logto, clock)
    with serve(app) as base:
        refused = httpx.post(f"{base}/reorder", headers=token(logto, client_id=OTHER_APP))
        allowed = httpx.post(f"{base}/reorder", headers=token(logto, client_id=MCP_APP))
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == challenge("client not allowed on this route")
    assert allowed.status_code == 200


async def test_the_asgi_middleware_applies_clients_and_allow_actor(
    logto: FakeLogto, clock: FakeClock
) -> None:
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.auth.subject})

    app = LogtoAuthMiddleware(
        Starlette(routes=[Route("/reorder", endpoint)]),
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
        clients=[MCP_APP],
        allow_actor=False,
    )
    assert (await call(app, "GET", "/reorder", token(logto, client_id=MCP_APP))).status_code == 200
    other = await call(app, "GET", "/reorder", token(logto, client_id=OTHER_APP))
    assert other.headers["www-authenticate"] == challenge("client not allowed on this route")
    acted = await call(app, "GET", "/reorder", token(logto, client_id=MCP_APP, act={"sub": "u"}))
    assert acted.status_code == 403
    assert acted.json()["detail"] == "actor tokens not allowed on this route"


async def test_the_asgi_middleware_restricts_nothing_by_default(
    logto: FakeLogto, clock: FakeClock
) -> None:
    """Without clients=/allow_actor=/allow_delegated=, actor and delegated tokens pass."""

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.auth.subject})

    app = LogtoAuthMiddleware(
        Starlette(routes=[Route("/reorder", endpoint)]),
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
    )
    acted = token(logto, client_id=MCP_APP, act={"sub": "u"})
    delegated = token(logto, sub=USER, client_id=MCP_APP)
    for headers in (acted, delegated, token(logto, client_id=OTHER_APP)):
        assert (await call(app, "GET", "/reorder", headers)).status_code == 200


async def test_the_authenticator_takes_the_policy_for_other_front_ends(
    logto: FakeLogto, clock: FakeClock
) -> None:
    authenticator = Authenticator(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
    )
    header = f"Bearer {logto.token(client_id=OTHER_APP, act={'sub': 'u'})}"
    with pytest.raises(ClientNotAllowedError) as caught:
        await authenticator.authenticate([header], policy=Policy(clients=[MCP_APP]))
    assert caught.value.client_id == OTHER_APP
    with pytest.raises(ActorNotAllowedError):
        await authenticator.authenticate([header], policy=Policy(allow_actor=False))
    assert authenticator.peek(header, policy=Policy(allow_actor=False)) is None
    assert authenticator.peek(header) is not None
    info = await authenticator.authenticate([header])
    assert (info.actor, info.delegated) == ("u", True)
    Policy(clients=[OTHER_APP]).check(info)


@pytest.mark.parametrize("act", [{}, {"sub": ""}, {"sub": 5}, "user", ["u"]])
async def test_an_act_claim_without_a_subject_is_refused(
    logto: FakeLogto, clock: FakeClock, act: Any
) -> None:
    authenticator = Authenticator(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
    )
    with pytest.raises(InvalidClaimError, match="act"):
        await authenticator.authenticate([f"Bearer {logto.token(act=act)}"])


def test_policy_and_m2m_clients_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="clients"):
        Policy(clients="mcp-server-app")
    with pytest.raises(ConfigurationError, match="m2m_clients"):
        LogtoGuard(endpoint="https://t.logto.app", audience="https://a", m2m_clients="x")
    assert not Policy().restricts and Policy(allow_delegated=False).restricts
