"""A FastAPI WebSocket route with ``Security(guard, ...)`` is authenticated at its handshake
(it used to raise ``TypeError: missing 'request'``)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Security, WebSocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from logto_guard import AuthInfo, LogtoGuard
from logto_guard.testing import FakeLogto


def build(logto: FakeLogto) -> FastAPI:
    guard = LogtoGuard(endpoint=logto.endpoint, audience=logto.audience)
    logto.trust(guard.authenticator)
    app = FastAPI()
    guard.install(app)

    @app.websocket("/ws")
    async def ws(
        websocket: WebSocket, auth: AuthInfo = Security(guard, scopes=["read:products"])
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"client_id": auth.client_id})
        await websocket.close()

    return app


def test_a_websocket_with_a_valid_token_is_accepted_with_its_caller() -> None:
    logto = FakeLogto()
    token = logto.token(scopes=["read:products"])
    with (
        TestClient(build(logto)) as client,
        client.websocket_connect("/ws", headers={"Authorization": f"Bearer {token}"}) as ws,
    ):
        assert ws.receive_json() == {"client_id": logto.app_id}


@pytest.mark.parametrize(
    ("scopes", "headers"),
    [
        (None, {}),  # no token
        (["write:products"], None),  # a token lacking the route's scope
    ],
)
def test_a_refused_websocket_is_closed_with_1008_before_accept(
    scopes: list[str] | None, headers: dict[str, str] | None
) -> None:
    logto = FakeLogto()
    if headers is None:
        headers = {"Authorization": f"Bearer {logto.token(scopes=scopes)}"}
    with (
        TestClient(build(logto)) as client,
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/ws", headers=headers) as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 1008
