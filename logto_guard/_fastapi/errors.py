"""How the FastAPI front end answers a refusal: the exception, its handler, and the
documented body even when :meth:`LogtoGuard.install` did not run."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._core.rfc6750 import Refusal
from .._starlette import RefusalResponse

__all__ = ["GuardHTTPException", "answer_refusals_in", "guard_exception_handler"]


class GuardHTTPException(HTTPException):
    """The HTTP form of a :class:`Refusal`; ``auth_error`` keeps the evidence."""

    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal
        self.auth_error = refusal.error
        super().__init__(
            status_code=refusal.status_code,
            detail=refusal.error.description,
            headers=dict(refusal.headers),
        )


async def guard_exception_handler(request: Request, exc: Exception) -> RefusalResponse:
    """Answer a :class:`GuardHTTPException` with the RFC 6750 JSON body and headers."""
    assert isinstance(exc, GuardHTTPException)
    return RefusalResponse(exc.refusal)


def answer_refusals_in(scope: MutableMapping[str, Any]) -> None:
    """Make the app answering ``scope`` render :class:`GuardHTTPException` with
    :func:`guard_exception_handler`, unless the app renders HTTP exceptions its own way.

    FastAPI's stock handler writes ``{"detail": ...}`` only: without this an app that never
    called ``install()`` would silently lose the documented ``error`` member. The table is
    the one Starlette's exception middleware looks the handler up in, right after the
    dependency raises.
    """
    tables = scope.get("starlette.exception_handlers")
    if not tables:
        return
    handlers = tables[0]
    if GuardHTTPException in handlers or HTTPException in handlers:
        return
    if handlers.get(StarletteHTTPException) is http_exception_handler:
        handlers[GuardHTTPException] = guard_exception_handler
