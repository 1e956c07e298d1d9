"""The httpx auths of :mod:`logto_guard.client`: Bearer from the cache, one retry on 401.

One flow serves httpx's sync and async clients and the ``httpx2`` fork the official MCP
client SDK uses (its ``Client`` refuses an ``httpx.Auth``: ``Invalid "auth" argument``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ._challenge import Challenge, parse_challenge

if TYPE_CHECKING:
    from ._cache import AccessToken
    from ._source import TokenSource


@dataclass(frozen=True, repr=False)
class Plan:
    """What one cached token is: its key, the form to send, and what bounds it."""

    key: Any
    form: dict[str, str]
    resource: str | None
    organization_id: str | None
    secrets: tuple[str, ...] = ()
    explain: Callable[[str, str | None], str | None] | None = None
    not_after: float | None = None

    def __repr__(self) -> str:  # the form may hold a subject token
        return f"Plan(resource={self.resource!r})"


def scope_set(scopes: Iterable[str]) -> frozenset[str]:
    """Scopes as a set; scopes travel space-joined, so "a b" and ["a", "b"] are the same."""
    parts = [scopes] if isinstance(scopes, str) else scopes
    return frozenset(s for part in parts for s in part.split(" ") if s)


class BearerAuth(httpx.Auth):
    """Bearer token from the client's cache; one retry with a fresh token after a 401."""

    def __init__(self, source: TokenSource, plan: Plan, app_id: str, label: str = "auth") -> None:
        self._source = source
        self._plan = plan
        self._app_id = app_id
        self._label = label
        self.last_challenge: Challenge | None = None
        """The last 401/403 this auth saw (after its one retry), or None."""

    def __repr__(self) -> str:
        return f"<LogtoM2MClient.{self._label} for app {self._app_id!r}>"

    def _get_sync(self) -> AccessToken:
        return self._source.get_sync(self._plan)

    async def _get(self) -> AccessToken:
        return await self._source.get(self._plan)

    def sync_auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        token = self._get_sync()
        response = yield _with_token(request, token)
        if response.status_code == 401:
            # Drop only the token that failed: another caller may have replaced it already.
            self._source.discard(self._plan, token)
            response = yield _with_token(request, self._get_sync())
        self._saw(response)

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        token = await self._get()
        response = yield _with_token(request, token)
        if response.status_code == 401:
            self._source.discard(self._plan, token)
            response = yield _with_token(request, await self._get())
        self._saw(response)

    def _saw(self, response: Any) -> None:
        if response.status_code in (401, 403):
            header = response.headers.get("WWW-Authenticate")
            self.last_challenge = parse_challenge(response.status_code, header)


def _with_token(request: Any, token: AccessToken) -> Any:
    request.headers["Authorization"] = f"Bearer {token.access_token}"
    return request


def mcp_auth(auth: BearerAuth) -> Any:
    """``auth`` as an ``httpx2.Auth`` (the MCP SDK's HTTP client), same flow."""
    try:
        import httpx2  # optional: only the MCP client SDK brings it
    except ImportError as exc:
        raise RuntimeError("mcp_auth() needs httpx2 (installed with the MCP SDK)") from exc

    class _McpBearerAuth(httpx2.Auth):
        @property
        def last_challenge(self) -> Challenge | None:
            return auth.last_challenge

        def __repr__(self) -> str:
            return repr(auth)

        async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
            flow = auth.async_auth_flow(request)
            response = yield await flow.__anext__()
            try:
                while True:
                    response = yield await flow.asend(response)
            except StopAsyncIteration:
                return

    return _McpBearerAuth()
