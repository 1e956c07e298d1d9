"""LogtoM2MClient against a fake Logto token endpoint (httpx.MockTransport), offline.

The fake answers like Logto: Basic client authentication, form parameters, Logto-shaped
success and error bodies. Time is a FakeClock; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logto_guard.client import (
    AccessToken,
    ClientConfigurationError,
    LogtoM2MClient,
    TokenRequestError,
)
from logto_guard.testing import FakeClock
from tests.integration.servers import reserve_port, reserved_port

ENDPOINT = "https://my-tenant.logto.app"
TOKEN_URL = f"{ENDPOINT}/oidc/token"
APP_ID = "m2m-app-id"
APP_SECRET = "m2m-app-secret-do-not-log"
RESOURCE = "https://shopping.api"
MANAGEMENT_API = f"{ENDPOINT}/api"
API_URL = "https://api.shop.example/products"
T0 = 1_700_000_000.0


class FakeLogto:
    """Logto's token endpoint plus an API that accepts the tokens it issued."""

    def __init__(self, *, expires_in: int = 3600, scope: str | None = None) -> None:
        self.expires_in = expires_in
        self.scope = scope
        self.token_requests: list[httpx.Request] = []
        self.api_requests: list[httpx.Request] = []
        self.api_calls: list[tuple[str, bytes]] = []  # (bearer token, body) as sent
        self.issued: list[str] = []
        self.token_answer: Callable[[httpx.Request], httpx.Response] | None = None
        self.rejected: set[str] = set()  # tokens the API answers 401 to
        self.reject_all = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oidc/token":
            return self.token(request)
        return self.api(request)

    def token(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(request)
        if self.token_answer is not None:
            return self.token_answer(request)
        if request.headers.get("Authorization") != basic(APP_ID, APP_SECRET):
            return logto_error(401, "invalid_client", "client authentication failed")
        self.issued.append(f"eyJhbGciOiJFUzM4NCJ9.token-{len(self.issued) + 1}.sig")
        body: dict[str, Any] = {
            "access_token": self.issued[-1],
            "expires_in": self.expires_in,
            "token_type": "Bearer",
        }
        requested = form(request).get("scope")
        scope = self.scope if self.scope is not None else (requested[0] if requested else None)
        if scope is not None:
            body["scope"] = scope
        return httpx.Response(200, json=body, headers={"Cache-Control": "no-store"})

    def api(self, request: httpx.Request) -> httpx.Response:
        self.api_requests.append(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.api_calls.append((token, request.content))
        if self.reject_all or token not in self.issued or token in self.rejected:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return httpx.Response(200, json={"products": []})


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def logto_error(status: int, error: str, description: str) -> httpx.Response:
    body = {
        "code": f"oidc.{error}",
        "message": description,
        "error": error,
        "error_description": description,
    }
    return httpx.Response(status, json=body)


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode(), keep_blank_values=True, strict_parsing=True)


@pytest.fixture
def token_endpoint() -> FakeLogto:
    """Logto's token endpoint and an API (not the JWKS fake of the ``logto`` fixture)."""
    return FakeLogto()


@pytest.fixture
def make_client(token_endpoint: FakeLogto, clock: FakeClock) -> Callable[..., LogtoM2MClient]:
    def make(**overrides: Any) -> LogtoM2MClient:
        options: dict[str, Any] = {
            "endpoint": ENDPOINT,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "http_client": httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint)),
            "sync_http_client": httpx.Client(transport=httpx.MockTransport(token_endpoint)),
            "clock": clock,
            **overrides,
        }
        return LogtoM2MClient(**options)

    return make


@pytest.fixture
def m2m(make_client: Callable[..., LogtoM2MClient]) -> Iterator[LogtoM2MClient]:
    with make_client() as client:
        yield client


# -- the request -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_token_request_is_exactly_the_one_in_logtos_guide(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    await m2m.fetch_token(resource=RESOURCE, scopes=["read:products", "write:products"])

    [request] = token_endpoint.token_requests
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Accept"] == "application/json"
    encoded = request.headers["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(encoded).decode() == f"{APP_ID}:{APP_SECRET}"
    assert form(request) == {
        "grant_type": ["client_credentials"],
        "resource": [RESOURCE],
        "scope": ["read:products write:products"],
    }


def test_sync_token_request_has_the_same_shape(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    m2m.fetch_token_sync(resource=MANAGEMENT_API, scopes=["all"])

    [request] = token_endpoint.token_requests
    assert request.headers["Authorization"] == basic(APP_ID, APP_SECRET)
    assert form(request) == {
        "grant_type": ["client_credentials"],
        "resource": [MANAGEMENT_API],
        "scope": ["all"],
    }


@pytest.mark.anyio
async def test_no_scope_field_without_scopes_and_organization_id_is_sent(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    await m2m.fetch_token(resource=RESOURCE)
    await m2m.fetch_token(organization_id="org_1")

    first, second = (form(request) for request in token_endpoint.token_requests)
    assert first == {"grant_type": ["client_credentials"], "resource": [RESOURCE]}
    assert second == {"grant_type": ["client_credentials"], "organization_id": ["org_1"]}


@settings(max_examples=50, deadline=None)
@given(
    app_id=st.text(st.characters(exclude_categories=["Cs"]), min_size=1),
    secret=st.text(st.characters(exclude_categories=["Cs"]), min_size=1),
)
def test_basic_credentials_are_form_urlencoded_first(app_id: str, secret: str) -> None:
    """RFC 6749 §2.3.1: a ':' or '+' in the id or secret cannot break the Basic pair."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"access_token": "t", "expires_in": 60, "token_type": "Bearer"}
        )

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with LogtoM2MClient(
        endpoint=ENDPOINT, app_id=app_id, app_secret=secret, sync_http_client=client
    ) as m2m:
        m2m.fetch_token_sync(resource=RESOURCE)

    pair = base64.b64decode(seen[0].headers["Authorization"].removeprefix("Basic ")).decode()
    user, _, password = pair.partition(":")
    assert (unquote(user), unquote(password)) == (app_id, secret)


def test_token_endpoint_defaults_to_endpoint_oidc_token_and_can_be_replaced(
    make_client: Callable[..., LogtoM2MClient], token_endpoint: FakeLogto
) -> None:
    assert make_client(endpoint=ENDPOINT + "/").token_endpoint == TOKEN_URL
    custom = "https://auth.shop.example/oidc/token"
    make_client(token_endpoint=custom).fetch_token_sync(resource=RESOURCE)
    assert str(token_endpoint.token_requests[0].url) == custom


# -- the answer --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_access_token_carries_the_answer_and_the_request(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    token_endpoint.scope = "read:products write:products"

    token = await m2m.get_token(resource=RESOURCE, scopes=["read:products"], organization_id="o")

    assert token == AccessToken(
        access_token=token_endpoint.issued[0],
        token_type="Bearer",
        expires_in=3600,
        expires_at=T0 + 3600,
        scopes=frozenset({"read:products", "write:products"}),
        resource=RESOURCE,
        organization_id="o",
    )


@pytest.mark.anyio
@pytest.mark.parametrize("scope", [None, ""])
async def test_missing_or_empty_scope_means_no_scopes(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto, scope: str | None
) -> None:
    token_endpoint.scope = scope

    token = await m2m.get_token(organization_id="org_1")

    assert token.scopes == frozenset()


def test_repr_never_shows_the_token_or_the_secret(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    token = m2m.get_token_sync(resource=RESOURCE)

    for text in (repr(token), str(token), repr(m2m), str(m2m)):
        assert token_endpoint.issued[0] not in text
        assert "token-1" not in text
        assert APP_SECRET not in text
    assert "expires_at" in repr(token)
    assert APP_ID in repr(m2m)


def test_is_expired_at_and_before_expiry() -> None:
    token = AccessToken(access_token="t", token_type="Bearer", expires_in=10, expires_at=110.0)

    assert not token.is_expired(109.9)
    assert token.is_expired(110.0)
    assert token.is_expired(100.0, margin=10)
    assert not token.is_expired(99.9, margin=10)


# -- caching -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_twenty_async_api_calls_need_one_token_request(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    auth = m2m.auth(resource=RESOURCE, scopes=["read:products"])
    async with httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint), auth=auth) as api:
        statuses = [(await api.get(API_URL)).status_code for _ in range(20)]

    assert statuses == [200] * 20
    assert len(token_endpoint.token_requests) == 1
    assert {token for token, _ in token_endpoint.api_calls} == {token_endpoint.issued[0]}


def test_twenty_sync_api_calls_need_one_token_request(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    auth = m2m.auth(resource=MANAGEMENT_API, scopes=["all"])
    with httpx.Client(transport=httpx.MockTransport(token_endpoint), auth=auth) as api:
        statuses = [api.get(f"{ENDPOINT}/api/applications").status_code for _ in range(20)]

    assert statuses == [200] * 20
    assert len(token_endpoint.token_requests) == 1
    assert form(token_endpoint.token_requests[0])["scope"] == ["all"]


@pytest.mark.anyio
async def test_token_is_refreshed_once_within_the_refresh_margin(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto, clock: FakeClock
) -> None:
    first = await m2m.get_token(resource=RESOURCE)
    clock.now = T0 + 3600 - 60 - 0.5
    assert await m2m.get_token(resource=RESOURCE) is first

    clock.now = T0 + 3600 - 60
    second = await m2m.get_token(resource=RESOURCE)

    assert second.access_token == token_endpoint.issued[1] != first.access_token
    assert second.expires_at == clock.now + 3600
    assert len(token_endpoint.token_requests) == 2


def test_short_lived_token_is_reused_for_half_its_lifetime(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto, clock: FakeClock
) -> None:
    """With expires_in (30 s) under the 60 s margin, a token must not be refetched per call."""
    token_endpoint.expires_in = 30
    first = m2m.get_token_sync(resource=RESOURCE)
    clock.now = T0 + 14.9
    assert m2m.get_token_sync(resource=RESOURCE) is first
    assert len(token_endpoint.token_requests) == 1

    clock.now = T0 + 15
    assert m2m.get_token_sync(resource=RESOURCE) is not first
    assert len(token_endpoint.token_requests) == 2


def test_refresh_margin_is_configurable(
    make_client: Callable[..., LogtoM2MClient], token_endpoint: FakeLogto, clock: FakeClock
) -> None:
    m2m = make_client(refresh_margin=0)
    first = m2m.get_token_sync(resource=RESOURCE)
    clock.now = T0 + 3599
    assert m2m.get_token_sync(resource=RESOURCE) is first
    clock.now = T0 + 3600
    assert m2m.get_token_sync(resource=RESOURCE) is not first


@pytest.mark.anyio
async def test_each_resource_scope_set_and_organization_has_its_own_token(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    tokens = [
        await m2m.get_token(resource=RESOURCE),
        await m2m.get_token(resource=MANAGEMENT_API, scopes=["all"]),
        await m2m.get_token(resource=RESOURCE, scopes=["read:products"]),
        await m2m.get_token(resource=RESOURCE, scopes=["read:products", "write:products"]),
        await m2m.get_token(resource=RESOURCE, organization_id="org_1"),
        await m2m.get_token(resource=RESOURCE, organization_id="org_2"),
        await m2m.get_token(organization_id="org_1"),
    ]
    again = [
        await m2m.get_token(resource=RESOURCE),
        await m2m.get_token(resource=MANAGEMENT_API, scopes=("all",)),
        await m2m.get_token(resource=RESOURCE, scopes={"read:products"}),
        await m2m.get_token(resource=RESOURCE, scopes=["write:products", "read:products"]),
        await m2m.get_token(resource=RESOURCE, scopes="read:products write:products"),
        await m2m.get_token(resource=RESOURCE, organization_id="org_2"),
    ]

    assert len({token.access_token for token in tokens}) == 7
    assert len(token_endpoint.token_requests) == 7
    assert [token.access_token for token in again] == [
        tokens[0].access_token,
        tokens[1].access_token,
        tokens[2].access_token,
        tokens[3].access_token,
        tokens[3].access_token,
        tokens[5].access_token,
    ]


@pytest.mark.anyio
async def test_fetch_token_always_requests_and_refreshes_the_cache(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    first = await m2m.fetch_token(resource=RESOURCE)
    second = await m2m.fetch_token(resource=RESOURCE)

    assert first.access_token != second.access_token
    assert await m2m.get_token(resource=RESOURCE) is second
    assert len(token_endpoint.token_requests) == 2


def test_invalidate_drops_only_that_token(m2m: LogtoM2MClient, token_endpoint: FakeLogto) -> None:
    kept = m2m.get_token_sync(resource=MANAGEMENT_API, scopes=["all"])
    dropped = m2m.get_token_sync(resource=RESOURCE, scopes=["read:products"])

    m2m.invalidate(resource=RESOURCE, scopes=["read:products"])

    assert m2m.get_token_sync(resource=RESOURCE, scopes=["read:products"]) != dropped
    assert m2m.get_token_sync(resource=MANAGEMENT_API, scopes=["all"]) is kept
    assert len(token_endpoint.token_requests) == 3


def test_the_cache_survives_a_new_event_loop(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    """Nothing is bound to the loop of the first call: asyncio.run twice works."""
    first = asyncio.run(m2m.get_token(resource=RESOURCE))
    assert asyncio.run(m2m.get_token(resource=RESOURCE)) is first
    m2m.invalidate(resource=RESOURCE)
    assert asyncio.run(m2m.get_token(resource=RESOURCE)) != first
    assert len(token_endpoint.token_requests) == 2


# -- concurrency -------------------------------------------------------------------------


class GatedLogto:
    """Holds every token request until released, so concurrent callers pile up."""

    def __init__(self, token_endpoint: FakeLogto) -> None:
        self.token_endpoint = token_endpoint
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oidc/token":
            self.entered.set()
            await self.release.wait()
        return self.token_endpoint(request)


@pytest.mark.anyio
async def test_fifty_concurrent_get_token_calls_share_one_request(
    make_client: Callable[..., LogtoM2MClient], token_endpoint: FakeLogto
) -> None:
    gate = GatedLogto(token_endpoint)
    m2m = make_client(http_client=httpx.AsyncClient(transport=httpx.MockTransport(gate)))

    calls = asyncio.gather(*(m2m.get_token(resource=RESOURCE) for _ in range(50)))
    await gate.entered.wait()
    gate.release.set()
    tokens = await calls

    assert len(token_endpoint.token_requests) == 1
    assert {token.access_token for token in tokens} == {token_endpoint.issued[0]}


@pytest.mark.anyio
async def test_concurrent_callers_share_a_failure_and_the_next_call_retries(
    make_client: Callable[..., LogtoM2MClient], token_endpoint: FakeLogto
) -> None:
    gate = GatedLogto(token_endpoint)
    m2m = make_client(http_client=httpx.AsyncClient(transport=httpx.MockTransport(gate)))
    token_endpoint.token_answer = lambda _: logto_error(400, "invalid_target", "unknown resource")

    calls = asyncio.gather(
        *(m2m.get_token(resource=RESOURCE) for _ in range(10)), return_exceptions=True
    )
    await gate.entered.wait()
    gate.release.set()
    outcomes = await calls

    assert all(isinstance(o, TokenRequestError) and o.error == "invalid_target" for o in outcomes)
    assert len(token_endpoint.token_requests) == 1
    token_endpoint.token_answer = None
    assert (await m2m.get_token(resource=RESOURCE)).access_token == token_endpoint.issued[0]
    assert len(token_endpoint.token_requests) == 2


@pytest.mark.anyio
async def test_a_cancelled_caller_does_not_cancel_the_shared_request(
    make_client: Callable[..., LogtoM2MClient], token_endpoint: FakeLogto
) -> None:
    gate = GatedLogto(token_endpoint)
    m2m = make_client(http_client=httpx.AsyncClient(transport=httpx.MockTransport(gate)))

    impatient = asyncio.ensure_future(m2m.get_token(resource=RESOURCE))
    patient = asyncio.ensure_future(m2m.get_token(resource=RESOURCE))
    await gate.entered.wait()
    impatient.cancel()
    gate.release.set()

    assert (await patient).access_token == token_endpoint.issued[0]
    assert impatient.cancelled()
    assert len(token_endpoint.token_requests) == 1


def test_concurrent_threads_share_one_request(
    make_client: Callable[..., LogtoM2MClient], token_endpoint: FakeLogto
) -> None:
    entered, release = threading.Event(), threading.Event()

    def held(request: httpx.Request) -> httpx.Response:
        entered.set()
        assert release.wait(timeout=10)
        return token_endpoint(request)

    m2m = make_client(sync_http_client=httpx.Client(transport=httpx.MockTransport(held)))
    started = threading.Barrier(21)
    results: list[AccessToken] = []

    def worker() -> None:
        started.wait()
        results.append(m2m.get_token_sync(resource=RESOURCE))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    started.wait()
    assert entered.wait(timeout=10)
    release.set()
    for thread in threads:
        thread.join(timeout=10)

    assert len(results) == 20
    assert len(token_endpoint.token_requests) == 1
    assert {token.access_token for token in results} == {token_endpoint.issued[0]}


# -- httpx auth: 401 handling ------------------------------------------------------------


@pytest.mark.anyio
async def test_api_401_retries_once_with_a_fresh_token(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    auth = m2m.auth(resource=RESOURCE)
    async with httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint), auth=auth) as api:
        assert (await api.get(API_URL)).status_code == 200
        token_endpoint.rejected.add(token_endpoint.issued[0])  # e.g. the app's role was changed
        response = await api.post(API_URL, json={"name": "tea"})

    assert response.status_code == 200
    assert len(token_endpoint.token_requests) == 2
    assert token_endpoint.api_calls[1:] == [
        (token_endpoint.issued[0], b'{"name":"tea"}'),
        (token_endpoint.issued[1], b'{"name":"tea"}'),
    ]


@pytest.mark.anyio
async def test_a_second_401_is_returned_as_is(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    token_endpoint.reject_all = True
    auth = m2m.auth(resource=RESOURCE)
    async with httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint), auth=auth) as api:
        response = await api.get(API_URL)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert len(token_endpoint.api_requests) == 2
    assert len(token_endpoint.token_requests) == 2


def test_sync_api_401_retries_once_then_gives_up(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    auth = m2m.auth(resource=RESOURCE)
    with httpx.Client(transport=httpx.MockTransport(token_endpoint), auth=auth) as api:
        api.get(API_URL)
        token_endpoint.rejected.add(token_endpoint.issued[0])
        retried = api.put(API_URL, content=b"payload")
        token_endpoint.reject_all = True
        refused = api.get(API_URL)

    assert retried.status_code == 200
    assert token_endpoint.api_calls[1:3] == [
        (token_endpoint.issued[0], b"payload"),
        (token_endpoint.issued[1], b"payload"),
    ]
    assert refused.status_code == 401
    assert len(token_endpoint.api_requests) == 5
    assert len(token_endpoint.token_requests) == 3


@pytest.mark.anyio
async def test_concurrent_401s_lead_to_one_new_token(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    auth = m2m.auth(resource=RESOURCE)
    async with httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint), auth=auth) as api:
        await api.get(API_URL)
        token_endpoint.rejected.add(token_endpoint.issued[0])
        responses = await asyncio.gather(*(api.get(API_URL) for _ in range(10)))

    assert [r.status_code for r in responses] == [200] * 10
    assert len(token_endpoint.token_requests) == 2


@pytest.mark.anyio
async def test_auth_on_the_token_client_itself_does_not_recurse(
    make_client: Callable[..., LogtoM2MClient], token_endpoint: FakeLogto
) -> None:
    """One AsyncClient for tokens and API calls: the token request keeps its Basic auth."""
    shared = httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint))
    m2m = make_client(http_client=shared)
    shared.auth = m2m.auth(resource=RESOURCE)

    response = await asyncio.wait_for(shared.get(API_URL), timeout=10)  # no deadlock

    assert response.status_code == 200
    assert token_endpoint.token_requests[0].headers["Authorization"] == basic(APP_ID, APP_SECRET)


@pytest.mark.anyio
async def test_token_errors_surface_from_api_calls(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    token_endpoint.token_answer = lambda _: logto_error(
        401, "invalid_client", "client authentication failed"
    )
    auth = m2m.auth(resource=RESOURCE)
    async with httpx.AsyncClient(transport=httpx.MockTransport(token_endpoint), auth=auth) as api:
        with pytest.raises(TokenRequestError, match="invalid_client"):
            await api.get(API_URL)
    assert token_endpoint.api_requests == []


# -- errors ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_wrong_secret_raises_invalid_client_with_logtos_code(
    make_client: Callable[..., LogtoM2MClient], token_endpoint: FakeLogto
) -> None:
    m2m = make_client(app_secret="wrong-secret")

    with pytest.raises(TokenRequestError) as caught:
        await m2m.get_token(resource=RESOURCE)

    error = caught.value
    assert (error.error, error.code, error.status_code) == (
        "invalid_client",
        "oidc.invalid_client",
        401,
    )
    assert error.error_description == "client authentication failed"
    assert str(error) == "invalid_client: client authentication failed"
    assert isinstance(error, Exception)


@pytest.mark.parametrize(
    ("status", "error", "description"),
    [
        (400, "invalid_target", "resource indicator is missing, or unknown"),
        (400, "invalid_client", "invalid client m2m-app-id"),
        (400, "invalid_scope", "scope contains invalid characters"),
        (403, "access_denied", "app has not associated with the organization"),
    ],
)
def test_token_endpoint_errors_carry_error_description_and_status(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto, status: int, error: str, description: str
) -> None:
    token_endpoint.token_answer = lambda _: logto_error(status, error, description)

    with pytest.raises(TokenRequestError) as caught:
        m2m.get_token_sync(resource=RESOURCE)

    assert caught.value.error == error
    assert caught.value.error_description == description
    assert caught.value.code == f"oidc.{error}"
    assert caught.value.status_code == status
    assert str(caught.value) == f"{error}: {description}"


def test_logto_error_with_only_code_and_message(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    body = {"code": "guard.invalid_input", "message": "The request input is invalid."}
    token_endpoint.token_answer = lambda _: httpx.Response(400, json=body)

    with pytest.raises(TokenRequestError) as caught:
        m2m.get_token_sync(resource=RESOURCE)

    assert caught.value.error == caught.value.code == "guard.invalid_input"
    assert caught.value.error_description == "The request input is invalid."


@pytest.mark.anyio
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.Response(500, json=["not", "an", "object"]),
        httpx.Response(404, content=b"\xff\xfe"),
    ],
)
async def test_error_without_an_oauth_body_is_invalid_response(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto, answer: httpx.Response
) -> None:
    token_endpoint.token_answer = lambda _: answer

    with pytest.raises(TokenRequestError) as caught:
        await m2m.get_token(resource=RESOURCE)

    assert caught.value.error == "invalid_response"
    assert caught.value.status_code == answer.status_code
    assert caught.value.code is None
    assert str(answer.status_code) in str(caught.value)


GOOD = {"access_token": "eyJ.x.y", "expires_in": 3600, "token_type": "Bearer"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>captive portal</html>"),
        httpx.Response(200, json=["eyJ.x.y"]),
        httpx.Response(200, json={**GOOD, "access_token": None}),
        httpx.Response(200, json={**GOOD, "access_token": ""}),
        httpx.Response(200, json={k: v for k, v in GOOD.items() if k != "access_token"}),
        httpx.Response(200, json={**GOOD, "token_type": "DPoP"}),
        httpx.Response(200, json={k: v for k, v in GOOD.items() if k != "token_type"}),
        httpx.Response(200, json={**GOOD, "expires_in": "3600"}),
        httpx.Response(200, json={**GOOD, "expires_in": True}),
        httpx.Response(200, json={**GOOD, "expires_in": 0}),
        httpx.Response(200, json={**GOOD, "expires_in": -5}),
        httpx.Response(200, json={k: v for k, v in GOOD.items() if k != "expires_in"}),
        httpx.Response(200, json={**GOOD, "scope": ["all"]}),
        httpx.Response(201, json=GOOD),
    ],
)
async def test_malformed_success_is_invalid_response(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto, answer: httpx.Response
) -> None:
    token_endpoint.token_answer = lambda _: answer

    with pytest.raises(TokenRequestError) as caught:
        await m2m.get_token(resource=RESOURCE)

    assert caught.value.error == "invalid_response"
    assert "eyJ.x.y" not in str(caught.value)


def test_lowercase_bearer_token_type_is_accepted(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto
) -> None:
    """RFC 6749 §5.1: token_type is case-insensitive."""
    token_endpoint.token_answer = lambda _: httpx.Response(
        200, json={**GOOD, "token_type": "bearer"}
    )

    assert m2m.get_token_sync(resource=RESOURCE).access_token == "eyJ.x.y"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("[Errno 111] Connection refused"), httpx.ReadTimeout("timed out")],
)
async def test_transport_errors_become_network_error(
    m2m: LogtoM2MClient, token_endpoint: FakeLogto, exc: httpx.HTTPError
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    token_endpoint.token_answer = fail

    with pytest.raises(TokenRequestError) as caught:
        await m2m.get_token(resource=RESOURCE)
    with pytest.raises(TokenRequestError) as caught_sync:
        m2m.get_token_sync(resource=RESOURCE)

    for error in (caught.value, caught_sync.value):
        assert error.error == "network_error"
        assert error.status_code is None
        assert error.__cause__ is exc
        assert TOKEN_URL in str(error)
        assert type(exc).__name__ in str(error)


@pytest.mark.anyio
async def test_connection_refused_with_own_clients_then_close_them() -> None:
    with reserve_port() as closed:  # bound, never listening: connections are refused
        m2m = LogtoM2MClient(
            endpoint=f"http://127.0.0.1:{reserved_port(closed)}",
            app_id=APP_ID,
            app_secret=APP_SECRET,
        )
        async with m2m:
            with pytest.raises(TokenRequestError, match="network_error") as caught:
                await m2m.fetch_token(resource=RESOURCE)
            with pytest.raises(TokenRequestError, match="network_error") as caught_sync:
                m2m.fetch_token_sync(resource=RESOURCE)
        # Closed clients are not reused: new ones are made (refused the same way).
        with pytest.raises(TokenRequestError, match="network_error"):
            await m2m.fetch_token(resource=RESOURCE)
        await m2m.aclose()

    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert isinstance(caught_sync.value.__cause__, httpx.ConnectError)


@pytest.mark.anyio
async def test_clients_passed_in_stay_open(make_client: Callable[..., LogtoM2MClient]) -> None:
    with httpx.Client() as given_sync:
        async with httpx.AsyncClient() as given_async:
            async with make_client(http_client=given_async, sync_http_client=given_sync):
                pass
            with make_client(http_client=given_async, sync_http_client=given_sync):
                pass

            assert not given_async.is_closed
            assert not given_sync.is_closed


@pytest.mark.anyio
async def test_redirects_are_not_followed_even_if_the_client_would(
    make_client: Callable[..., LogtoM2MClient], token_endpoint: FakeLogto
) -> None:
    """The Basic credentials go to the token endpoint and nowhere else."""
    elsewhere = "https://evil.example/oidc/token"
    token_endpoint.token_answer = lambda request: (
        httpx.Response(307, headers={"Location": elsewhere})
        if request.url.host == "my-tenant.logto.app"
        else httpx.Response(200, json=GOOD)
    )
    transport = httpx.MockTransport(token_endpoint)
    m2m = make_client(http_client=httpx.AsyncClient(transport=transport, follow_redirects=True))

    with pytest.raises(TokenRequestError) as caught:
        await m2m.get_token(resource=RESOURCE)

    assert (caught.value.error, caught.value.status_code) == ("invalid_response", 307)
    assert [str(request.url) for request in token_endpoint.token_requests] == [TOKEN_URL]


def test_no_message_carries_the_secret(m2m: LogtoM2MClient, token_endpoint: FakeLogto) -> None:
    """Even a token endpoint echoing the secret back does not put it in our messages."""
    echo = f"bad secret {APP_SECRET}"
    token_endpoint.token_answer = lambda _: logto_error(401, "invalid_client", echo)

    with pytest.raises(TokenRequestError) as caught:
        m2m.get_token_sync(resource=RESOURCE)

    assert APP_SECRET not in str(caught.value)
    assert APP_SECRET not in repr(caught.value)
    assert caught.value.error_description == "bad secret ***"


def test_failures_are_not_cached(m2m: LogtoM2MClient, token_endpoint: FakeLogto) -> None:
    token_endpoint.token_answer = lambda _: httpx.Response(503, text="maintenance")
    with pytest.raises(TokenRequestError):
        m2m.get_token_sync(resource=RESOURCE)

    token_endpoint.token_answer = None
    assert m2m.get_token_sync(resource=RESOURCE).access_token == token_endpoint.issued[0]
    assert len(token_endpoint.token_requests) == 2


# -- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"endpoint": "my-tenant.logto.app"}, "absolute http"),
        ({"endpoint": "/oidc/token"}, "absolute http"),
        ({"endpoint": "ftp://my-tenant.logto.app"}, "absolute http"),
        ({"endpoint": ""}, "absolute http"),
        ({"endpoint": "https://host:99999"}, "absolute http"),
        ({"endpoint": "https://[::1"}, "absolute http"),
        ({"endpoint": "https://my-tenant.logto.app/oidc"}, "/oidc"),
        ({"endpoint": "https://user:pw@my-tenant.logto.app"}, "credentials"),
        ({"endpoint": "https://my-tenant.logto.app?x=1"}, "query"),
        ({"token_endpoint": "oidc/token"}, "token_endpoint"),
        ({"app_id": ""}, "app_id"),
        ({"app_secret": ""}, "app_secret"),
        ({"refresh_margin": -1}, "refresh_margin"),
        ({"refresh_margin": float("nan")}, "refresh_margin"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
    ],
)
def test_bad_configuration_fails_at_construction(overrides: dict[str, Any], message: str) -> None:
    options: dict[str, Any] = {"endpoint": ENDPOINT, "app_id": APP_ID, "app_secret": APP_SECRET}

    with pytest.raises(ClientConfigurationError, match=message) as caught:
        LogtoM2MClient(**{**options, **overrides})

    assert isinstance(caught.value, ValueError)
    assert "pw" not in str(caught.value)


def test_configuration_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        LogtoM2MClient(ENDPOINT, APP_ID, APP_SECRET)  # type: ignore[call-arg]


def test_all_is_sorted_and_complete() -> None:
    import logto_guard.client as module

    # ruff's RUF022 order: constants first, then classes, each alphabetical.
    assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith(module.__name__)
    }
    assert public <= set(module.__all__)
    assert {
        "ACCESS_TOKEN_TYPE",
        "IMPERSONATION_TOKEN_TYPE",
        "PERSONAL_ACCESS_TOKEN_TYPE",
        "AccessToken",
        "LogtoM2MClient",
        "TokenRequestError",
    } <= set(module.__all__)
