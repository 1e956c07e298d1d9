"""How the FastAPI front end answers a refusal: the exception, its handler, and the
documented body even when :meth:`LogtoGuard.install` did not run."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, NoReturn

from fastapi import HTTPException, Request, WebSocketException
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._core.rfc6750 import WEBSOCKET_REFUSAL_CODE, Refusal, websocket_close_reason
from .._starlette import RefusalResponse

__all__ = ["GuardHTTPException", "answer_refusals_in", "guard_exception_handler", "raise_refusal"]


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


def raise_refusal(
    scope: MutableMapping[str, Any],
    refusal: Refusal,
    make_http_error: Callable[[Refusal], HTTPException],
) -> NoReturn:
    """Raise what answers ``refusal`` on this connection: a WebSocket is closed with
    code 1008 (RFC 6455 §7.4.1) before it is accepted, a request gets the HTTP error."""
    if scope["type"] == "websocket":
        reason = websocket_close_reason(refusal.error.description)
        raise WebSocketException(WEBSOCKET_REFUSAL_CODE, reason)
    error = make_http_error(refusal)
    if isinstance(error, GuardHTTPException):
        answer_refusals_in(scope)
    raise error
