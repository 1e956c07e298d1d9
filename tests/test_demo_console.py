"""The demo's console log: labelled lines, refusals at INFO unless quieted, no tracebacks
for a configuration mistake."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator

import pytest

from demo_api.console import ISSUER_THREAD, configure_console


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """configure_console on a buffer; the logging configuration is restored afterwards."""
    loggers = [
        logging.getLogger(name)
        for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "demo_api", "logto_guard")
    ]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    stream = io.StringIO()
    configure_console(stream=stream)
    try:
        yield stream
    finally:
        for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def test_lines_are_labelled_by_the_server_thread(console: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    issuer = threading.Thread(
        target=logging.getLogger("uvicorn.error").info, args=("Started",), name=ISSUER_THREAD
    )
    issuer.start()
    issuer.join()
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1:3001/oidc/jwks")
    logging.getLogger("logto_guard").info(
        "request refused: reason=%s (%s)", "token_expired", "token expired"
    )
    assert console.getvalue().splitlines() == [
        "[api] uvicorn INFO Application startup complete.",
        "[issuer] uvicorn INFO Started",
        "[api] logto_guard INFO request refused: reason=token_expired (token expired)",
    ]


def test_quiet_refusals_keeps_only_warnings_of_logto_guard(console: io.StringIO) -> None:
    configure_console(quiet_refusals=True, stream=console)
    guard = logging.getLogger("logto_guard")
    guard.info("request refused: reason=token_expired (token expired)")
    guard.warning("JWKS fetch from http://x/oidc/jwks failed: HTTP 503")
    assert console.getvalue().splitlines() == [
        "[api] logto_guard WARNING JWKS fetch from http://x/oidc/jwks failed: HTTP 503"
    ]


def test_a_configuration_mistake_from_the_lifespan_is_one_line(console: io.StringIO) -> None:
    traceback_text = (
        "Traceback (most recent call last):\n"
        '  File "starlette/routing.py", line 661, in lifespan\n'
        "logto_guard._errors.ConfigurationError: the JWKS at http://x/oidc/jwks is not a "
        "Logto JWKS (JWKS answered HTTP 404)\n"
    )
    logging.getLogger("uvicorn.error").error(traceback_text)
    logging.getLogger("uvicorn.error").error("Traceback (most recent call last):\nValueError: x")
    lines = console.getvalue().splitlines()
    assert lines[0] == (
        "[api] uvicorn ERROR ConfigurationError: the JWKS at http://x/oidc/jwks is not a "
        "Logto JWKS (JWKS answered HTTP 404)"
    )
    assert lines[1:] == ["[api] uvicorn ERROR Traceback (most recent call last):", "ValueError: x"]
