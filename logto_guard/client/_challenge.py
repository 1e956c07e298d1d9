"""The ``WWW-Authenticate: Bearer`` challenge of a refused call (RFC 6750 §3, RFC 9728 §5.1).

MCP client SDKs turn an HTTP 401/403 into a bare "Server returned an error response": the
status and the challenge (which scope is missing, where the metadata is) are lost. The
auths of :class:`~logto_guard.client.LogtoM2MClient` see every response, so they keep the
last refusal as a :class:`Challenge` (``auth.last_challenge``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]+)')
_MAX_HEADER = 8192


@dataclass(frozen=True)
class Challenge:
    """A refusal seen by an auth: HTTP status and the Bearer challenge's parameters.

    Attributes:
        status_code: 401 (no or bad token) or 403 (``insufficient_scope``).
        error, error_description: RFC 6750's, when the server sent them.
        scopes: the ``scope`` parameter: the scopes the operation needs.
        resource_metadata: the RFC 9728 metadata URL, when advertised.
    """

    status_code: int
    error: str | None = None
    error_description: str | None = None
    scopes: tuple[str, ...] = ()
    resource_metadata: str | None = None

    @classmethod
    def parse(cls, status_code: int, header: str | None) -> Challenge:
        """The challenge of a 401/403 with this ``WWW-Authenticate`` value."""
        return parse_challenge(status_code, header)


def parse_challenge(status_code: int, header: str | None) -> Challenge:
    """The :class:`Challenge` of a 401/403 answer; parameters absent when not Bearer."""
    if not header or len(header) > _MAX_HEADER or not header.lower().startswith("bearer"):
        return Challenge(status_code)
    params: dict[str, str] = {}
    for name, raw in _PARAM.findall(header[6:]):
        value = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\") if raw[:1] == '"' else raw
        params.setdefault(name.lower(), value)
    return Challenge(
        status_code,
        error=params.get("error"),
        error_description=params.get("error_description"),
        scopes=tuple(s for s in params.get("scope", "").split(" ") if s),
        resource_metadata=params.get("resource_metadata"),
    )
