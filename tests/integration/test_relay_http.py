"""The demo's Swagger token relay over real HTTP: what it refuses, its limits, its answers.

The demo API runs under uvicorn on loopback; its Logto is either the dev issuer or a small
stand-in HTTP server on loopback that counts connections and requests, can hang, and
answers whatever the test needs (so a refusal is proven by Logto never being asked).
"""

from __future__ import annotations

import asyncio
import base64
import json
import select
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from demo_api.__main__ import WRITER, register_apps
from demo_api.app import create_app
from demo_api.settings import Settings
from logto_guard.dev_issuer import create_app as create_issuer_app
from logto_guard.dev_issuer import open_issuer

from .servers import bind_free_port, serve

pytestmark = pytest.mark.integration
RELAY = "/docs/oauth2/token"
FORM = "application/x-www-form-urlencoded"
SWAGGER_BODY = "grant_type=client_credentials&scope=read%3Aproducts+write%3Aproducts"


def basic(app_id: str = "app", secret: str = "secret") -> str:
    return "Basic " + base64.b64encode(f"{app_id}:{secret}".encode()).decode()


@dataclass
class FakeLogto:
    """A loopback token endpoint: counts connections (that POST) and requests, may hang until
    released."""

    url: str = ""
    connections: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    hang: bool = False
    released: threading.Event = field(default_factory=threading.Event)
    status: int = 200
    body: bytes = b'{"access_token":"eyJ.a.b","token_type":"Bearer","expires_in":3600}'
    content_type: str = "text/html"
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def token_server() -> Iterator[FakeLogto]:
    fake = FakeLogto()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: connection reuse is observable

        posted = False  # per connection: one handler instance serves one connection

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with fake.lock:
                fake.requests.append((dict(self.headers.items()), raw))
                # Token-endpoint connections only: the API's start-up JWKS check (a GET,
                # answered 501 here) uses its own client and is not the relay's.
                fake.connections += not self.posted
                self.posted = True
            if fake.hang:
                fake.released.wait(30)
            self.send_response(fake.status)
            self.send_header("Content-Type", fake.content_type)
            self.send_header("WWW-Authenticate", 'Basic realm="logto"')
            self.send_header("Content-Length", str(len(fake.body)))
            self.end_headers()
            self.wfile.write(fake.body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # 40 concurrent connects must not overflow the backlog

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        fake.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def api(token_server: FakeLogto, tmp_path: Path) -> Iterator[str]:
    """The demo API trusting the stand-in Logto; yields its base URL."""
    settings = Settings(endpoint=token_server.url, db_path=str(tmp_path / "shop.sqlite3"))
    with serve(create_app(settings)) as url:
        yield url


def relay_post(
    api: str, body: str | bytes = SWAGGER_BODY, *, headers: dict[str, Any] | None = None
) -> httpx.Response:
    sent = {"Content-Type": FORM, "Authorization": basic(), **(headers or {})}
    return httpx.post(api + RELAY, content=body, headers=sent, timeout=10)


def test_swagger_shaped_request_is_forwarded_with_the_audience(
    api: str, token_server: FakeLogto
) -> None:
    """Exactly what Swagger UI sends goes through, same-origin headers included."""
    response = relay_post(api, headers={"Origin": api, "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200, response.text
    ((headers, raw),) = token_server.requests
    assert parse_qs(raw.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["read:products write:products"],
        "resource": ["https://shopping.api"],
    }
    assert headers["Authorization"] == basic()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("grant_type=password&username=u&password=p", "unknown parameter"),
        ("grant_type=password&scope=all", "unsupported_grant_type"),
        ("grant_type=client_credentials&resource=https%3A%2F%2Fdefault.logto.app%2Fapi", "target"),
        ("grant_type=client_credentials&scope=a&scope=b", "repeated"),
        ("grant_type=client_credentials&grant_type=client_credentials", "repeated"),
        ("grant_type=client_credentials&client_secret=guess", "Basic"),
        ("grant_type=client_credentials&organization_id=o1", "unknown parameter"),
        ("scope=all", "unsupported_grant_type"),
    ],
)
def test_relay_refuses_anything_but_client_credentials_for_the_audience(
    api: str, token_server: FakeLogto, body: str, error: str
) -> None:
    response = relay_post(api, body)
    assert response.status_code == 400
    assert error in json.dumps(response.json())
    assert response.headers["cache-control"] == "no-store"
    assert token_server.requests == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json"},
        {"Authorization": "Bearer eyJ.a.b"},
        {"Authorization": "Digest username=app"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Basic caf\xe9:s".encode("latin-1")},
        {"Authorization": "Basic " + base64.b64encode("é:s".encode()).decode()},
    ],
    ids=["text", "json", "bearer", "digest", "bad-b64", "no-colon", "non-ascii", "utf8-id"],
)
def test_relay_refuses_other_content_types_and_authorizations(
    api: str, token_server: FakeLogto, headers: dict[str, Any]
) -> None:
    """Never 500: a non-ASCII Authorization used to crash the upstream call."""
    response = relay_post(api, headers=headers)
    assert response.status_code in (400, 415)
    assert response.json()["error"] in ("invalid_request", "invalid_client")
    assert token_server.requests == []


def test_relay_refuses_a_missing_authorization(api: str, token_server: FakeLogto) -> None:
    response = httpx.post(api + RELAY, content=SWAGGER_BODY, headers={"Content-Type": FORM})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_client")
    assert token_server.requests == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:1"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_relay_refuses_cross_origin_requests(
    api: str, token_server: FakeLogto, headers: dict[str, str]
) -> None:
    response = relay_post(api, headers=headers)
    assert (response.status_code, response.json()["error"]) == (403, "access_denied")
    assert token_server.requests == []


def _raw_request(api: str, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", urlsplit(api).port or 80), timeout=10)
    sock.sendall(head)
    return sock


def _status_of(sock: socket.socket) -> int:
    return int(sock.recv(65536).split(b" ", 2)[1])


def test_oversized_content_length_is_refused_without_reading_the_body(
    api: str, token_server: FakeLogto
) -> None:
    """300 MiB announced, none sent: the answer comes at once (it used to wait for it all)."""
    host = urlsplit(api).netloc.encode()
    head = (
        b"POST " + RELAY.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
        b"Content-Type: " + FORM.encode() + b"\r\nAuthorization: " + basic().encode() + b"\r\n"
        b"Content-Length: " + str(300 * 1024 * 1024).encode() + b"\r\n\r\n"
    )
    with _raw_request(api, head) as sock:
        assert _status_of(sock) == 413
    assert token_server.requests == []


def test_oversized_chunked_body_is_refused_after_16_kib(api: str, token_server: FakeLogto) -> None:
    """A chunked body is counted as it streams: the answer comes long before it ends."""
    host = urlsplit(api).netloc.encode()
    head = (
        b"POST " + RELAY.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
        b"Content-Type: " + FORM.encode() + b"\r\nAuthorization: " + basic().encode() + b"\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"4000\r\n" + b"a" * 0x4000 + b"\r\n"
    limit, sent = 64 * 1024 * 1024, 0
    with _raw_request(api, head) as sock:
        while sent < limit:
            readable, _, _ = select.select([sock], [], [], 0.01)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed the connection after answering
                break
            sent += 0x4000
        assert _status_of(sock) == 413
    assert sent < limit // 8, f"the whole body was read before answering ({sent} bytes)"
    assert token_server.requests == []


def test_answer_is_rebuilt_from_logto_json(api: str, token_server: FakeLogto) -> None:
    """No upstream Content-Type or WWW-Authenticate passthrough; no-store and nosniff."""
    token_server.body = json.dumps(
        {"access_token": "eyJ.a.b", "token_type": "Bearer", "expires_in": 60, "extra": "<x>"}
    ).encode()
    response = relay_post(api)
    assert response.status_code == 200
    assert response.json() == {"access_token": "eyJ.a.b", "token_type": "Bearer", "expires_in": 60}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "www-authenticate" not in response.headers


def test_non_json_answer_from_logto_is_a_502(api: str, token_server: FakeLogto) -> None:
    token_server.body = b"<html>gateway</html>"
    response = relay_post(api)
    assert (response.status_code, response.json()["error"]) == (502, "temporarily_unavailable")
    assert response.headers["content-type"] == "application/json"


def test_one_upstream_connection_serves_many_relay_requests(
    api: str, token_server: FakeLogto
) -> None:
    """One pooled client per relay: it used to open (and leave in TIME_WAIT) one each."""
    statuses = [
        relay_post(api, headers={"Authorization": basic(f"app{i}")}).status_code for i in range(8)
    ]
    assert statuses == [200] * 8
    assert (len(token_server.requests), token_server.connections) == (8, 1)


def test_attempts_over_the_rate_limit_are_answered_429(api: str, token_server: FakeLogto) -> None:
    """Secret guessing against one App ID is throttled before it reaches Logto."""
    token_server.status, token_server.body = 401, b'{"error":"invalid_client"}'
    responses = [
        relay_post(api, headers={"Authorization": basic("app", f"guess{i}")}) for i in range(30)
    ]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, [r.status_code for r in responses]
    assert limited[0].json()["error"] == "slow_down"
    assert int(limited[0].headers["retry-after"]) >= 1
    assert len(token_server.requests) < 30


def test_concurrency_cap_answers_503_at_once_and_health_stays_up(
    api: str, token_server: FakeLogto
) -> None:
    """40 relay requests on a hanging Logto: a few park, the rest get 503 without waiting."""
    token_server.hang = True

    async def scenario() -> tuple[list[int], list[float], int]:
        async with httpx.AsyncClient(base_url=api, timeout=30) as client:

            async def attempt(i: int) -> int:
                headers = {"Content-Type": FORM, "Authorization": basic(f"app{i}")}
                return (await client.post(RELAY, content=SWAGGER_BODY, headers=headers)).status_code

            tasks = [asyncio.create_task(attempt(i)) for i in range(40)]
            deadline = time.monotonic() + 10
            while sum(t.done() for t in tasks) + len(token_server.requests) < 40:
                assert time.monotonic() < deadline, "requests neither parked nor refused"
                await asyncio.sleep(0.01)
            done_while_parked = sum(t.done() for t in tasks)
            health = []
            for _ in range(30):
                started = time.perf_counter()
                assert (await client.get("/health")).status_code == 200
                health.append(time.perf_counter() - started)
            token_server.released.set()
            return list(await asyncio.gather(*tasks)), health, done_while_parked

    statuses, health, done_while_parked = asyncio.run(scenario())
    print(
        f"/health median with 40 relay requests on a hanging Logto: "
        f"{statistics.median(health) * 1000:.1f} ms; parked upstream: {len(token_server.requests)}"
    )
    assert 1 <= len(token_server.requests) <= 8
    assert done_while_parked == 40 - len(token_server.requests)
    assert statuses.count(503) == 40 - len(token_server.requests)
    assert statuses.count(200) == len(token_server.requests)


def test_swagger_login_through_the_relay_gets_a_dev_issuer_token(tmp_path: Path) -> None:
    """End to end with the dev issuer: the token works on a guarded route."""
    sock = bind_free_port()
    endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    state = open_issuer(tmp_path / "issuer", issuer=f"{endpoint}/oidc")
    register_apps(state, "https://shopping.api")
    writer = state.find_app(WRITER)
    assert writer is not None
    settings = Settings(endpoint=endpoint, db_path=str(tmp_path / "shop.sqlite3"))
    with serve(create_issuer_app(state), sock), serve(create_app(settings)) as api_url:
        response = relay_post(
            api_url,
            headers={"Authorization": basic(writer.app_id, writer.app_secret), "Origin": api_url},
        )
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"access_token", "token_type", "expires_in", "scope"}
        assert response.headers["cache-control"] == "no-store"
        token = response.json()["access_token"]
        products = httpx.get(f"{api_url}/products", headers={"Authorization": f"Bearer {token}"})
        assert products.status_code == 200
