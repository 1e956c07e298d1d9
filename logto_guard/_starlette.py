"""Starlette glue shared by the FastAPI and MCP front ends (which never import each other).

:class:`RefusalResponse` is the one Starlette form of a :class:`Refusal`: the status,
headers and body bytes :func:`~logto_guard._core.rfc6750.send_refusal` sends.
"""

from __future__ import annotations

from starlette.responses import Response

from ._core.rfc6750 import Refusal

__all__ = ["RefusalResponse"]


class RefusalResponse(Response):
    """A Starlette response answering ``refusal``, byte for byte as the ASGI writer does."""

    def __init__(self, refusal: Refusal) -> None:
        body = refusal.body_bytes()
        super().__init__(body, refusal.status_code)
        self.raw_headers = refusal.raw_headers(body)
        self.refusal = refusal
