"""The ``AccessToken`` each front end hands its MCP framework, kept per reused token.

The SDK's and FastMCP's bearer backends await ``verify_token`` on every request. For a
reused token the core answers from its warm path with the same :class:`AuthInfo`, so the
framework's ``AccessToken`` (a pydantic model, the costliest part of the call) is built
once and shared by that token's requests; it is read-only to both frameworks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from .._core.identity import AuthInfo

Access = TypeVar("Access")

#: Tokens whose AccessToken is kept (the memo is emptied when full: a few KB per entry).
ISSUED_LIMIT = 256


class Issued(Generic[Access]):
    """The ``AccessToken`` built for each recently verified token, rebuilt whenever the
    core hands out another :class:`AuthInfo` for it (re-verified, or scopes implied)."""

    def __init__(self, build: Callable[[AuthInfo, str, float], Access]) -> None:
        self._build = build
        self._issued: dict[str, tuple[AuthInfo, Access]] = {}

    def get(self, info: AuthInfo, token: str, leeway: float) -> Access:
        """``token``'s AccessToken for ``info``: the kept one, or a new one kept."""
        issued = self._issued.get(token)
        if issued is not None and issued[0] is info:
            return issued[1]
        access = self._build(info, token, leeway)
        if len(self._issued) >= ISSUED_LIMIT:
            self._issued.clear()
        self._issued[token] = (info, access)
        return access
