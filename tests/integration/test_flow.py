"""The whole M2M flow over real HTTP: dev issuer and demo API on free loopback ports.

Tokens are requested exactly as Logto's guide shows (Basic auth with App ID and App Secret,
form-encoded ``grant_type``, ``resource``, ``scope``); everything else is plain HTTP too.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo_api.__main__ import READER, WRITER, register_apps
from demo_api.app import create_app
from demo_api.settings import Settings
from logto_guard.dev_issuer import IssuerState, open_issuer
from logto_guard.dev_issuer import create_app as create_issuer_app

from .servers import bind_free_port, serve, wait_until

pytestmark = pytest.mark.integration
AUDIENCE = "https://shopping.api"
OTHER = "https://other.api"


@dataclass
class Stack:
    """A running dev issuer and demo API, and ways to restart either."""

    tmp: Path
    state: IssuerState
    issuer_url: str
    issuer_sock: socket.socket
    api_url: str = ""
    _issuer: AbstractContextManager[str] | None = None
    _api: AbstractContextManager[str] | None = None

    def start_api(self) -> None:
        settings = Settings(endpoint=self.issuer_url, db_path=str(self.tmp / "shop.sqlite3"))
        self._api = serve(create_app(settings))
        self.api_url = self._api.__enter__()

    def stop_api(self) -> None:
        assert self._api is not None
        self._api.__exit__(None, None, None)
        self._api = None

    def stop_issuer(self) -> None:
        assert self._issuer is not None
        self._issuer.__exit__(None, None, None)
        self._issuer = None

    def credentials(self, name: str) -> tuple[str, str]:
        app = self.state.find_app(name)
        assert app is not None
        return app.app_id, app.app_secret

    def token(self, name: str, *, resource: str = AUDIENCE, scope: str = "") -> str:
        """Request a token the way Logto's M2M guide does."""
        app_id, secret = self.credentials(name)
        basic = base64.b64encode(f"{app_id}:{secret}".encode()).decode()
        response = httpx.post(
            f"{self.issuer_url}/oidc/token",
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials", "resource": resource, "scope": scope},
        )
        assert response.status_code == 200, response.text
        assert response.json()["token_type"] == "Bearer"
        token: str = response.json()["access_token"]
        return token


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    sock = bind_free_port()
    issuer_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state = open_issuer(tmp_path / "issuer", issuer=f"{issuer_url}/oidc")
    register_apps(state, AUDIENCE)
    state.add_resource(OTHER, ["read:other"])
    state.ensure_app("other-client", grants={OTHER: ["read:other"]})
    stack = Stack(tmp=tmp_path, state=state, issuer_url=issuer_url, issuer_sock=sock)
    stack._issuer = serve(create_issuer_app(state), sock)
    stack._issuer.__enter__()
    stack.start_api()
    try:
        yield stack
    finally:
        if stack._api is not None:
            stack.stop_api()
        if stack._issuer is not None:
            stack.stop_issuer()


def call(stack: Stack, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method, f"{stack.api_url}{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs
    )


def test_read_only_app_lists_but_cannot_create(stack: Stack) -> None:
    token = stack.token(READER, scope="read:products write:products")  # write is dropped
    listed = call(stack, "GET", "/products", token)
    assert (listed.status_code, listed.json()) == (200, [])
    created = call(stack, "POST", "/products", token, json={"name": "Tea", "price": 2})
    assert created.status_code == 403
    assert created.json() == {
        "detail": "token lacks required scopes: write:products",
        "error": "insufficient_scope",
    }
    assert 'error="insufficient_scope"' in created.headers["www-authenticate"]
    assert 'scope="write:products"' in created.headers["www-authenticate"]


def test_read_write_app_creates_and_product_survives_api_restart(stack: Stack) -> None:
    token = stack.token(WRITER, scope="read:products write:products")
    created = call(stack, "POST", "/products", token, json={"name": "Tea", "price": 2.5})
    assert created.status_code == 201
    product = created.json()
    assert product["created_by"] == stack.credentials(WRITER)[0]
    stack.stop_api()
    stack.start_api()
    again = call(stack, "GET", f"/products/{product['id']}", token)
    assert (again.status_code, again.json()) == (200, product)


def test_token_without_scope_parameter_grants_nothing(stack: Stack) -> None:
    token = stack.token(WRITER)
    assert call(stack, "GET", "/products", token).status_code == 403


def test_token_for_another_resource_is_rejected(stack: Stack) -> None:
    token = stack.token("other-client", resource=OTHER, scope="read:other")
    response = call(stack, "GET", "/products", token)
    assert response.status_code == 401
    assert response.json() == {"detail": "audience mismatch", "error": "invalid_token"}


def test_tampered_token_is_rejected(stack: Stack) -> None:
    token = stack.token(READER, scope="read:products")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "read:products write:products"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{header}.{forged_payload}.{signature}"
    response = call(stack, "POST", "/products", forged, json={"name": "Tea", "price": 1})
    assert response.status_code == 401
    assert response.json()["detail"] == "signature verification failed"


def test_expired_token_is_rejected(stack: Stack) -> None:
    app_id, _ = stack.credentials(WRITER)
    now = int(time.time())
    claims = {
        "jti": "expired-1",
        "sub": app_id,
        "client_id": app_id,
        "iat": now - 7200,
        "exp": now - 3600,
        "scope": "read:products",
        "iss": f"{stack.issuer_url}/oidc",
        "aud": AUDIENCE,
    }
    signed = httpx.post(f"{stack.issuer_url}/__dev__/sign", json={"claims": claims})
    response = call(stack, "GET", "/products", signed.json()["token"])
    assert response.status_code == 401
    assert response.json() == {"detail": "token expired", "error": "invalid_token"}


def test_rotation_new_key_accepted_without_restart_and_previous_key_still_works(
    stack: Stack,
) -> None:
    before = stack.token(WRITER, scope="read:products")
    assert call(stack, "GET", "/products", before).status_code == 200
    unseen_old = stack.token(READER, scope="read:products")  # signed by the soon-previous key
    rotated = httpx.post(f"{stack.issuer_url}/__dev__/rotate", json={"alg": "RS256"})
    assert rotated.status_code == 200
    after = stack.token(WRITER, scope="read:products")
    assert json.loads(base64.urlsafe_b64decode(after.split(".")[0] + "=="))["alg"] == "RS256"
    first_use = time.monotonic()
    statuses: list[int] = []

    def accepted() -> bool:
        statuses.append(call(stack, "GET", "/products", after).status_code)
        return statuses[-1] == 200

    wait_until(accepted, timeout=5, interval=0.1)
    print(f"new key accepted {time.monotonic() - first_use:.2f} s after first use: {statuses}")
    assert call(stack, "GET", "/products", unseen_old).status_code == 200


def test_api_keeps_accepting_valid_tokens_with_the_issuer_stopped(stack: Stack) -> None:
    warm = stack.token(WRITER, scope="read:products")
    assert call(stack, "GET", "/products", warm).status_code == 200
    unseen = stack.token(READER, scope="read:products")
    stack.stop_issuer()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{stack.issuer_url}/oidc/jwks")
    assert call(stack, "GET", "/products", unseen).status_code == 200
    assert call(stack, "GET", "/products", warm).status_code == 200


def test_demo_client_creates_and_lists_with_tokens_from_logto_guard_client(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    from demo_api import client

    port = stack.issuer_url.rsplit(":", 1)[1]
    common = ["--state-dir", str(stack.tmp / "issuer"), "--issuer-port", port]
    common += ["--api-url", stack.api_url]
    env: dict[str, str] = {}
    assert client.main([*common, "create", "--name", "Oolong", "--price", "7.25"], environ=env) == 0
    created = json.loads(capsys.readouterr().out)
    assert (created["name"], created["created_by"]) == ("Oolong", stack.credentials(WRITER)[0])
    assert client.main([*common, "--as", "reader", "list"], environ=env) == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)] == ["Oolong"]
    assert client.main([*common, "--as", "reader", "delete", str(created["id"])], environ=env) == 1
    assert json.loads(capsys.readouterr().out)["error"] == "insufficient_scope"
    assert client.main([*common, "update", str(created["id"]), "--price", "8"], environ=env) == 0
    assert json.loads(capsys.readouterr().out)["price"] == 8
    assert client.main([*common, "get", str(created["id"])], environ=env) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "Oolong"
