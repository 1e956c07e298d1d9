"""Diagnostics that name the fix: expected and received values in logs, missing scopes in
403 bodies, endpoint mistakes refused at construction (issue 19)."""

from __future__ import annotations

import logging

import pytest

from logto_guard import (
    Authenticator,
    ConfigurationError,
    GuardConfig,
    InsufficientScopeError,
    Refusal,
)
from logto_guard.testing import FakeClock, FakeLogto

pytestmark = pytest.mark.anyio


def authenticator(logto: FakeLogto, clock: FakeClock) -> Authenticator:
    return Authenticator(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=logto.http_client(),
        clock=clock,
    )


def refused_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "logto_guard" and r.getMessage().startswith("request refused")
    ]


async def test_issuer_mismatch_logs_expected_and_received_rate_limited(
    logto: FakeLogto, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    guard = authenticator(logto, clock)
    caplog.set_level(logging.INFO, logger="logto_guard")
    token = logto.token(iss="https://other.logto.app/oidc\n")
    for _ in range(2):
        await guard.check([f"Bearer {token}"])
    clock.advance(10)
    await guard.check([f"Bearer {token}"])
    detailed = (
        "request refused: reason=invalid_claim (issuer mismatch): expected iss "
        "['https://tenant.logto.app/oidc'], received 'https://other.logto.app/oidc\\n'"
    )
    assert refused_lines(caplog) == [
        detailed,
        "request refused: reason=invalid_claim (issuer mismatch)",
        detailed,
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "logto_guard")


async def test_audience_mismatch_logs_both_values_cold_and_cached(
    logto: FakeLogto, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    guard = authenticator(logto, clock)
    caplog.set_level(logging.INFO, logger="logto_guard")
    token = logto.token(aud=["https://billing.api", "x" * 200])
    await guard.check([f"Bearer {token}"])
    (line,) = refused_lines(caplog)
    assert line.startswith(
        "request refused: reason=invalid_claim (audience mismatch): expected aud "
        "['https://shopping.api'], received ['https://billing.api', 'xxx"
    )
    assert line.endswith("...")
    assert len(line) < 250  # long values are truncated


async def test_a_token_of_another_tenant_says_so_in_the_log(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    ours = FakeLogto(clock=clock)
    stranger = FakeLogto(endpoint="https://stranger.logto.app", clock=clock)
    guard = authenticator(ours, clock)
    caplog.set_level(logging.INFO, logger="logto_guard")
    await guard.check([f"Bearer {stranger.token()}"])
    (line,) = refused_lines(caplog)
    assert line == (
        "request refused: reason=unknown_kid (signing key not found): unverified iss "
        "'https://stranger.logto.app/oidc' is not this guard's issuer "
        "['https://tenant.logto.app/oidc']: a token from another tenant or environment?"
    )


async def test_an_unknown_key_of_our_own_issuer_gets_no_tenant_hint(
    logto: FakeLogto, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    guard = authenticator(logto, clock)
    caplog.set_level(logging.INFO, logger="logto_guard")
    same_issuer_other_key = FakeLogto(endpoint=logto.endpoint, clock=clock)
    await guard.check([f"Bearer {same_issuer_other_key.token()}"])
    assert refused_lines(caplog) == ["request refused: reason=unknown_kid (signing key not found)"]


async def test_the_403_body_and_the_log_name_the_missing_scopes(
    logto: FakeLogto, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    guard = authenticator(logto, clock)
    caplog.set_level(logging.INFO, logger="logto_guard")
    token = logto.token(scopes=["read:products"])
    refusal = await guard.check(
        [f"Bearer {token}"], ["read:products", "write:products", "delete:products"]
    )
    assert isinstance(refusal, Refusal)
    assert refusal.body == {
        "detail": "token lacks required scopes: write:products delete:products",
        "error": "insufficient_scope",
    }
    assert refused_lines(caplog) == [
        "request refused: reason=insufficient_scope (token lacks required scopes: "
        "write:products delete:products)"
    ]
    assert InsufficientScopeError(["a"], ["a"]).description == "token lacks required scopes"


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:3101/oidc/jwks",
        "http://127.0.0.1:3101/oidc/token",
        "http://127.0.0.1:3101/oidc/.well-known/openid-configuration",
    ],
)
def test_an_endpoint_that_is_one_of_its_urls_is_refused_with_the_fix(endpoint: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        GuardConfig(endpoint=endpoint, audience="https://shopping.api")
    assert f"write 'http://127.0.0.1:3101', not {endpoint!r}" in str(caught.value)


@pytest.mark.parametrize("endpoint", [" http://127.0.0.1:3101", "http://127.0.0.1:3101\n"])
def test_whitespace_around_a_url_is_refused_with_the_fix(endpoint: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        GuardConfig(endpoint=endpoint, audience="https://shopping.api")
    assert str(caught.value) == (
        "endpoint has leading or trailing whitespace: remove it, write 'http://127.0.0.1:3101'"
    )
    with pytest.raises(ConfigurationError, match="whitespace"):
        GuardConfig(
            endpoint="http://127.0.0.1:3101",
            audience="https://shopping.api",
            jwks_uri="http://127.0.0.1:3101/oidc/jwks ",
        )


@pytest.mark.parametrize("iss", [["https://a/oidc"], {"x": 1}, 5, None])
async def test_an_unknown_key_with_an_odd_iss_is_still_a_plain_401(
    clock: FakeClock, iss: object, caplog: pytest.LogCaptureFixture
) -> None:
    guard = authenticator(FakeLogto(clock=clock), clock)
    stranger = FakeLogto(clock=clock)
    caplog.set_level(logging.INFO, logger="logto_guard")
    refusal = await guard.check([f"Bearer {stranger.token(iss=iss)}"])
    assert isinstance(refusal, Refusal) and refusal.status_code == 401
    assert refused_lines(caplog) == ["request refused: reason=unknown_kid (signing key not found)"]


async def test_https_against_a_plain_http_logto_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """A real TLS handshake against a plain-HTTP socket on loopback: the log line and the
    readiness error carry OpenSSL's words and the fix, as ``logto-guard`` does."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_plain_http() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_plain_http, daemon=True)
    thread.start()
    guard = Authenticator(endpoint=f"https://127.0.0.1:{port}", audience="https://shopping.api")
    try:
        with caplog.at_level(logging.WARNING, logger="logto_guard"):
            readiness = await guard.refresh_keys()
    finally:
        await guard.aclose()
        server.close()
        thread.join(timeout=5)
    assert readiness.last_error is not None
    assert "WRONG_VERSION_NUMBER" in readiness.last_error
    assert "use http://" in readiness.last_error
    assert any("use http://" in record.getMessage() for record in caplog.records)
