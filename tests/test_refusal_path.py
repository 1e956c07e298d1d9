"""One refusal path: FastAPI, the ASGI middleware and the dev issuer's Management API
stand-in answer every request of one table exactly alike (status, body, challenge).

All three trust the same dev-issuer state (its JWKS served in process), protect the same
audience (:data:`MANAGEMENT_API`) and require the same scope (``all``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Security
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logto_guard import AuthInfo, LogtoGuard
from logto_guard.asgi import LogtoAuthMiddleware
from logto_guard.dev_issuer import MANAGEMENT_API, IssuerState, create_app, open_issuer

from .helpers import bearer

pytestmark = pytest.mark.anyio

ISSUER = "http://127.0.0.1:3001/oidc"
SCOPE = "all"


@dataclass(frozen=True)
class Row:
    name: str
    headers: Callable[[IssuerState], list[tuple[str, str]]]
    status: int
    error: str | None


def minted(**options: Any) -> Callable[[IssuerState], list[tuple[str, str]]]:
    def build(state: IssuerState) -> list[tuple[str, str]]:
        app = state.ensure_app("admin", grants={MANAGEMENT_API: [SCOPE]})
        options.setdefault("audience", MANAGEMENT_API)
        options.setdefault("scopes", [SCOPE])
        return [*bearer(state.mint(app, **options)).items()]

    return build


def tampered(state: IssuerState) -> list[tuple[str, str]]:
    ((_, value),) = minted()(state)
    head, payload, signature = value.removeprefix("Bearer ").split(".")
    return [*bearer(f"{head}.{payload}.{signature[::-1]}").items()]


ROWS = [
    Row("valid", minted(), 200, None),
    Row("no-authorization", lambda s: [], 401, None),
    Row("basic-scheme", lambda s: [("Authorization", "Basic YTpi")], 401, None),
    Row("empty-bearer", lambda s: [("Authorization", "Bearer ")], 400, "invalid_request"),
    Row("two-tokens", lambda s: [("Authorization", "Bearer a b")], 400, "invalid_request"),
    Row(
        "two-headers",
        lambda s: [*minted()(s), ("Authorization", "Bearer x")],
        400,
        "invalid_request",
    ),
    Row("not-a-jwt", lambda s: [*bearer("abc").items()], 401, "invalid_token"),
    Row("tampered", tampered, 401, "invalid_token"),
    Row("expired", minted(now=1_000_000, ttl=60), 401, "invalid_token"),
    Row("other-audience", minted(audience="https://shopping.api"), 401, "invalid_token"),
    Row("no-scope", minted(scopes=None), 403, "insufficient_scope"),
    Row("other-scope", minted(scopes=["read:products"]), 403, "insufficient_scope"),
]


def state_for(tmp_path: Path) -> IssuerState:
    state = open_issuer(tmp_path / "issuer", issuer=ISSUER)
    state.add_resource(MANAGEMENT_API, [SCOPE])
    state.add_resource("https://shopping.api", ["read:products"])
    return state


def jwks_client(state: IssuerState) -> httpx.AsyncClient:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(state.jwks()).encode())

    return httpx.AsyncClient(transport=httpx.MockTransport(serve))


def options(state: IssuerState, http_client: httpx.AsyncClient | None) -> dict[str, Any]:
    return {
        "endpoint": ISSUER.removesuffix("/oidc"),
        "audience": MANAGEMENT_API,
        "http_client": http_client or jwks_client(state),
    }


def fastapi_front(state: IssuerState, http_client: httpx.AsyncClient | None = None) -> Any:
    guard = LogtoGuard(**options(state, http_client))
    app = FastAPI()
    guard.install(app)

    @app.get("/api/applications")
    async def applications(auth: AuthInfo = Security(guard, scopes=[SCOPE])) -> list[str]:
        return [auth.subject]

    return app


def asgi_front(state: IssuerState, http_client: httpx.AsyncClient | None = None) -> Any:
    async def applications(request: Request) -> JSONResponse:
        return JSONResponse([request.auth.subject])

    app = Starlette(routes=[Route("/api/applications", applications)])
    return LogtoAuthMiddleware(app, required_scopes=[SCOPE], **options(state, http_client))


def issuer_front(state: IssuerState) -> Any:
    return create_app(state)


FRONTS: dict[str, Callable[[IssuerState], Any]] = {
    "fastapi": fastapi_front,
    "asgi": asgi_front,
    "management-stand-in": issuer_front,
}


async def answer(
    front: Callable[[IssuerState], Any], state: IssuerState, row: Row
) -> tuple[int, dict[str, Any], str | None]:
    transport = httpx.ASGITransport(app=front(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3001") as c:
        response = await c.get("/api/applications", headers=row.headers(state))
    body = response.json() if response.status_code != 200 else {}
    return response.status_code, body, response.headers.get("www-authenticate")


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
async def test_every_front_end_refuses_alike(row: Row, tmp_path: Path) -> None:
    """Status, JSON body and challenge are identical across the three front ends."""
    state = state_for(tmp_path)
    answers = {name: await answer(front, state, row) for name, front in FRONTS.items()}
    status, body, challenge = answers["fastapi"]
    assert status == row.status
    assert answers["asgi"] == answers["fastapi"]
    assert answers["management-stand-in"] == answers["fastapi"]
    if status == 200:
        return
    assert body.get("error") == row.error and body["detail"]
    assert challenge is not None and challenge.startswith(f'Bearer realm="{MANAGEMENT_API}"')
    if row.error:
        assert f'error="{row.error}"' in challenge
    if status == 403:
        assert f'scope="{SCOPE}"' in challenge


async def test_jwks_outage_is_503_with_retry_after_for_both_guards(tmp_path: Path) -> None:
    """The stand-in reads keys in process; the two guards answer an outage alike."""
    state = state_for(tmp_path)
    answers = []
    for front in (fastapi_front, asgi_front):
        down = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
        transport = httpx.ASGITransport(app=front(state, down))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            response = await c.get("/api/applications", headers=minted()(state))
        answers.append((response.status_code, response.json(), response.headers["retry-after"]))
    assert answers[0] == answers[1]
    assert answers[0][0] == 503 and "error" not in answers[0][1]
