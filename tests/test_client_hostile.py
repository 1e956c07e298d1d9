"""LogtoM2MClient against a misbehaving token endpoint (issue 16), and token exchange (issue 20).

Offline: httpx.MockTransport answering like Logto (LOGTO.md § Token endpoint, § Token
exchange). Each hostile answer becomes the client's own TokenRequestError, and no
credential or subject token appears in any message, repr or log line.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
import pytest

from logto_guard.client import (
    ACCESS_TOKEN_TYPE,
    IMPERSONATION_TOKEN_TYPE,
    MAX_RESPONSE_BYTES,
    Challenge,
    LogtoM2MClient,
    TokenRequestError,
)

ENDPOINT = "https://my-tenant.logto.app"
APP_ID = "m2m-app-id"
APP_SECRET = "s3cr3t/with+odd=chars?"
RESOURCE = "https://shopping.api"
T0 = 1_700_000_000.0
GOOD = {"access_token": "eyJ.x.y", "expires_in": 3600, "token_type": "Bearer"}


def jwt(payload: dict[str, Any]) -> str:
    part = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJFUzM4NCJ9.{part}.c2ln"


def client(
    handler: Any, now: list[float] | None = None, async_handler: Any = None, **kw: Any
) -> LogtoM2MClient:
    clock = now or [T0]
    return LogtoM2MClient(
        endpoint=ENDPOINT,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(async_handler or handler)),
        sync_http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        clock=lambda: clock[0],
        **kw,
    )


def secret_spellings(authorization: str) -> list[str]:
    b64 = authorization.removeprefix("Basic ")
    raw = base64.b64decode(b64)
    url = base64.urlsafe_b64encode(raw).decode()
    plain = base64.b64encode(f"{APP_ID}:{APP_SECRET}".encode()).decode()
    return [
        authorization,
        b64,
        b64.rstrip("="),
        url,
        url.rstrip("="),
        quote(b64, safe=""),
        plain,
        plain.rstrip("="),
        APP_SECRET,
        quote(APP_SECRET, safe=""),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"access_token":"eyJ.x.y","token_type":"Bearer","expires_in":' + "9" * 401 + "}",
            "expires_in",
        ),
        (json.dumps({**GOOD, "expires_in": 10**12}), "expires_in"),
        (json.dumps({**GOOD, "expires_in": 1e300}), "expires_in"),
    ],
)
async def test_absurd_expires_in_is_invalid_response_not_overflow(body: str, expected: str) -> None:
    async with client(lambda _: httpx.Response(200, text=body)) as m2m:
        with pytest.raises(TokenRequestError) as caught:
            await m2m.get_token(resource=RESOURCE)
    assert caught.value.error == "invalid_response"
    assert expected in str(caught.value)


@pytest.mark.parametrize("status", [200, 400])
def test_deeply_nested_json_is_invalid_response_not_recursion_error(status: int) -> None:
    body = "[" * 100_000 + "]" * 100_000
    m2m = client(lambda _: httpx.Response(status, text=body))
    with m2m, pytest.raises(TokenRequestError) as caught:
        m2m.get_token_sync(resource=RESOURCE)
    assert caught.value.error == "invalid_response"


@pytest.mark.anyio
async def test_an_echoed_authorization_header_is_redacted_in_every_spelling(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def echo(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        text = " | ".join(secret_spellings(request.headers["Authorization"]))
        return httpx.Response(
            401, json={"error": "invalid_client", "error_description": text, "code": text}
        )

    caplog.set_level(logging.DEBUG)
    async with client(echo) as m2m:
        with pytest.raises(TokenRequestError) as caught:
            await m2m.get_token(resource=RESOURCE)
        logging.getLogger("test").error("failed: %s", caught.value)
    error = caught.value
    texts = [str(error), repr(error), error.error_description or "", error.code or "", caplog.text]
    for spelling in secret_spellings(seen[0]):
        for text in texts:
            assert spelling not in text
    assert "***" in str(error)


@pytest.mark.anyio
async def test_token_requests_ask_for_identity_encoding() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=GOOD)

    async with client(answer) as m2m:
        await m2m.get_token(resource=RESOURCE)
    assert seen[0].headers["Accept-Encoding"] == "identity"


@pytest.mark.anyio
@pytest.mark.parametrize("codings", ["gzip", "gzip, gzip", "br", "deflate"])
async def test_a_compressed_answer_is_refused_without_decompressing(codings: str) -> None:
    bomb = gzip.compress(gzip.compress(b"{" + b" " * 50_000_000 + b"}"))
    pulled: list[int] = []

    async def body() -> Any:
        pulled.append(1)
        yield bomb

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body(), headers={"Content-Encoding": codings})

    async with client(answer) as m2m:
        with pytest.raises(TokenRequestError) as caught:
            await m2m.get_token(resource=RESOURCE)
    assert caught.value.error == "invalid_response"
    assert "Content-Encoding" in str(caught.value)
    assert pulled == []  # refused on the headers: not a byte read, none decompressed


@pytest.mark.anyio
async def test_an_oversized_answer_is_refused_at_the_cap() -> None:
    read: list[int] = []

    async def chunks() -> Any:
        for _ in range(1000):
            read.append(1)
            yield b" " * 65536

    answer = httpx.Response(200, content=chunks())
    async with client(lambda _: answer) as m2m:
        with pytest.raises(TokenRequestError) as caught:
            await m2m.get_token(resource=RESOURCE)
    assert caught.value.error == "invalid_response"
    assert str(MAX_RESPONSE_BYTES) in str(caught.value)
    assert len(read) <= MAX_RESPONSE_BYTES // 65536 + 2


def test_an_oversized_sync_answer_is_refused() -> None:
    padded = {**GOOD, "pad": "x" * MAX_RESPONSE_BYTES}  # valid JSON, valid token, too big
    answer = httpx.Response(200, json=padded)
    with client(lambda _: answer) as m2m, pytest.raises(TokenRequestError) as caught:
        m2m.get_token_sync(resource=RESOURCE)
    assert caught.value.error == "invalid_response"


# -- token exchange ----------------------------------------------------------------------

INVALID_GRANT = {
    "code": "oidc.invalid_grant",
    "message": "Grant request is invalid.",
    "error": "invalid_grant",
    "error_description": "grant request is invalid",
}


class FakeExchange:
    """Logto's token endpoint for the token-exchange grant, as LOGTO.md describes it."""

    def __init__(self) -> None:
        self.forms: list[dict[str, list[str]]] = []
        self.answer: httpx.Response | None = None
        self.gate: asyncio.Event | None = None

    async def gated(self, request: httpx.Request) -> httpx.Response:
        assert self.gate is not None
        await self.gate.wait()
        return self(request)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.forms.append(parse_qs(request.content.decode()))
        assert request.headers["Authorization"].startswith("Basic ")
        if self.answer is not None:
            return self.answer
        body = {
            "access_token": jwt({"n": len(self.forms)}),
            "expires_in": 3600,
            "token_type": "Bearer",
            "scope": "read:products",
        }
        return httpx.Response(200, json=body)


@pytest.mark.anyio
async def test_exchange_sends_exactly_logtos_parameters() -> None:
    logto = FakeExchange()
    async with client(logto) as m2m:
        token = await m2m.exchange(
            "subject",
            resource=RESOURCE,
            scopes=["write:a", "read:b"],
            actor_token="actor",
            organization_id="org1",
        )
    assert logto.forms == [
        {
            "grant_type": ["urn:ietf:params:oauth:grant-type:token-exchange"],
            "subject_token": ["subject"],
            "subject_token_type": [ACCESS_TOKEN_TYPE],
            "resource": [RESOURCE],
            "scope": ["read:b write:a"],
            "organization_id": ["org1"],
            "actor_token": ["actor"],
            "actor_token_type": [ACCESS_TOKEN_TYPE],
        }
    ]
    assert token.scopes == {"read:products"}  # no issued_token_type needed


@pytest.mark.anyio
async def test_exchange_is_cached_per_subject_and_concurrent_callers_share_one_request() -> None:
    logto = FakeExchange()
    logto.gate = asyncio.Event()
    async with client(logto, async_handler=logto.gated) as m2m:
        calls = [m2m.exchange("user-a", resource=RESOURCE) for _ in range(20)]
        tasks = [asyncio.ensure_future(c) for c in calls]
        await asyncio.sleep(0)
        logto.gate.set()
        tokens = await asyncio.gather(*tasks)
        again = await m2m.exchange("user-a", resource=RESOURCE)
        other = await m2m.exchange("user-b", resource=RESOURCE)
        typed = await m2m.exchange(
            "user-a", resource=RESOURCE, subject_token_type=IMPERSONATION_TOKEN_TYPE
        )
    assert len({t.access_token for t in tokens}) == 1
    assert again.access_token == tokens[0].access_token
    assert other.access_token != again.access_token != typed.access_token
    assert len(logto.forms) == 3


def test_exchange_cache_never_outlives_the_subject_tokens_exp() -> None:
    logto = FakeExchange()
    now = [T0]
    subject = jwt({"sub": "user", "exp": T0 + 5})
    with client(logto, now) as m2m:
        token = m2m.exchange_sync(subject, resource=RESOURCE)
        assert token.expires_at == T0 + 5  # Logto said 3600 s
        now[0] = T0 + 6
        with pytest.raises(TokenRequestError) as caught:
            m2m.exchange_sync(subject, resource=RESOURCE)
    assert caught.value.error == "invalid_grant"
    assert len(logto.forms) == 1


def test_exchange_cache_is_bounded_lru() -> None:
    logto = FakeExchange()
    with client(logto, max_cached_tokens=2) as m2m:
        for subject in ("a", "b", "a", "c", "a", "b"):
            m2m.exchange_sync(subject, resource=RESOURCE)
    # a, b, (a hit), c evicts b, (a hit), b again
    assert [f["subject_token"][0] for f in logto.forms] == ["a", "b", "c", "b"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (
            400,
            INVALID_GRANT,
            "invalid_grant",
            ["expired", "already used", "subject_token_type", "tenant", "allowTokenExchange"],
        ),
        (
            400,
            {
                "code": "oidc.invalid_request",
                "error": "invalid_request",
                "error_description": "requested grant type is not allowed for this client",
            },
            "invalid_request",
            ["allowTokenExchange", "Logto Console"],
        ),
        (
            400,
            {
                "code": "oidc.invalid_target",
                "error": "invalid_target",
                "error_description": "resource indicator is missing, or unknown",
            },
            "invalid_target",
            ["resource indicator"],
        ),
        (
            403,
            {
                "code": "oidc.access_denied",
                "error": "access_denied",
                "error_description": "user is not a member of the organization",
            },
            "access_denied",
            ["organization"],
        ),
        (
            401,
            {
                "code": "oidc.invalid_client",
                "error": "invalid_client",
                "error_description": "client authentication failed",
            },
            "invalid_client",
            ["client authentication failed"],
        ),
    ],
)
async def test_exchange_refusals_name_the_usual_causes(
    status: int, body: dict[str, str], error: str, words: list[str]
) -> None:
    logto = FakeExchange()
    logto.answer = httpx.Response(status, json=body)
    subject = jwt({"sub": "user-1", "exp": T0 + 600})
    async with client(logto) as m2m:
        with pytest.raises(TokenRequestError) as caught:
            await m2m.exchange(subject, resource=RESOURCE)
    assert (caught.value.error, caught.value.status_code) == (error, status)
    for word in words:
        assert word in str(caught.value)
    assert subject not in str(caught.value) + repr(caught.value)


@pytest.mark.anyio
async def test_an_echoed_subject_token_is_redacted() -> None:
    logto = FakeExchange()
    subject = jwt({"sub": "user-1"})
    logto.answer = httpx.Response(400, json={**INVALID_GRANT, "error_description": subject})
    async with client(logto) as m2m:
        with pytest.raises(TokenRequestError) as caught:
            await m2m.exchange(subject, resource=RESOURCE, actor_token="actor-secret")
    assert subject not in str(caught.value)


@pytest.mark.anyio
async def test_delegated_auth_calls_the_api_as_the_user_and_retries_once_on_401(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    logto = FakeExchange()
    api_seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oidc/token":
            return logto(request)
        api_seen.append(request.headers["Authorization"])
        return httpx.Response(401 if len(api_seen) == 1 else 200)

    subject = jwt({"sub": "user-1", "exp": T0 + 600})
    async with client(handler) as m2m:
        auth = m2m.delegated_auth(subject, resource=RESOURCE, scopes=["read:products"])
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as api:
            response = await api.get("https://shopping.api/products")
        assert subject not in repr(auth)
        assert APP_SECRET not in repr(auth) + repr(m2m)
    assert response.status_code == 200
    assert caplog.records  # httpx logged the calls, and nothing secret
    assert subject not in caplog.text and APP_SECRET not in caplog.text
    assert len(logto.forms) == 2
    assert api_seen[0] != api_seen[1]
    assert all(seen.startswith("Bearer eyJ") for seen in api_seen)


def test_sync_delegated_auth() -> None:
    logto = FakeExchange()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oidc/token":
            logto.forms.append(parse_qs(request.content.decode()))
            return httpx.Response(200, json=GOOD)
        return httpx.Response(200, text=request.headers["Authorization"])

    with client(handler) as m2m:
        auth = m2m.delegated_auth("subject", resource=RESOURCE)
        with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as api:
            assert api.get("https://shopping.api/x").text == "Bearer eyJ.x.y"
            assert api.get("https://shopping.api/x").text == "Bearer eyJ.x.y"
    assert len(logto.forms) == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="r", error="insufficient_scope", error_description="needs \\"w\\"", '
            'scope="read:a write:a", resource_metadata="https://x/.well-known/oauth-protected-resource/mcp"',
            Challenge(
                403,
                "insufficient_scope",
                'needs "w"',
                ("read:a", "write:a"),
                "https://x/.well-known/oauth-protected-resource/mcp",
            ),
        ),
        ("Basic realm=x", Challenge(403)),
        (None, Challenge(403)),
        ("Bearer " + "a=b, " * 5000, Challenge(403)),
    ],
)
def test_challenges_are_parsed_from_www_authenticate(
    header: str | None, expected: Challenge
) -> None:
    assert Challenge.parse(403, header) == expected


def test_an_auth_keeps_the_last_refusal_it_saw() -> None:
    challenge = 'Bearer error="insufficient_scope", scope="write:items"'

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oidc/token":
            return httpx.Response(200, json=GOOD)
        return httpx.Response(403, headers={"WWW-Authenticate": challenge})

    with client(handler) as m2m:
        auth = m2m.auth(resource=RESOURCE)
        with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as api:
            assert api.get("https://shopping.api/x").status_code == 403
    assert auth.last_challenge == Challenge(403, "insufficient_scope", None, ("write:items",))  # type: ignore[attr-defined]
