"""The demo's console log: both servers' lines on stderr, each labelled with its server.

One line per record, ``<server> <logger> <LEVEL> <message>``::

    [issuer] demo_api INFO dev issuer listening on http://127.0.0.1:3001
    [api] demo_api INFO shopping API listening on http://127.0.0.1:8000
    [api] logto_guard INFO request refused: reason=token_expired (token expired)

The two uvicorn servers share uvicorn's loggers (they run in one process), so the label
comes from the thread that logged (the dev issuer serves in its own named thread) unless
the record names its ``server``. ``uvicorn``, ``demo_api`` and ``logto_guard`` (the reason
of every refusal, never token bytes; JWKS trouble) log at INFO, everything else (httpx's
request lines, the MCP SDK's) only from WARNING.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

LOG_FORMAT = "%(server)s %(source)s %(levelname)s %(message)s"
ISSUER_THREAD = "dev-issuer"
_TRACEBACK = "Traceback (most recent call last):"


class ServerLabel(logging.Filter):
    """Adds ``server`` (``[issuer]`` or ``[api]``) and ``source`` (the top-level logger
    name) to each record, and shortens a start-up configuration mistake to one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "server"):
            record.server = "[issuer]" if record.threadName == ISSUER_THREAD else "[api]"
        record.source = record.name.split(".")[0]
        message = record.msg
        # A failed lifespan start arrives from uvicorn as traceback text; for a
        # configuration mistake the last line says it all (the exit repeats it, too).
        if isinstance(message, str) and message.startswith(_TRACEBACK):
            last = message.rstrip().splitlines()[-1]
            if "ConfigurationError: " in last:
                record.msg = "ConfigurationError: " + last.split("ConfigurationError: ", 1)[1]
                record.args = ()
        return True


def configure_console(*, quiet_refusals: bool = False, stream: TextIO | None = None) -> None:
    """Log to ``stream`` (stderr) through one labelled handler on the root logger.

    Call before the MCP server is built: its ``logging.basicConfig`` then finds a handler
    and leaves the root alone. ``quiet_refusals`` keeps ``logto_guard`` to warnings.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ServerLabel())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "demo_api", "logto_guard"):
        logger = logging.getLogger(name)  # through the root handler, whatever ran before
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.INFO if "." not in name else logging.NOTSET)
    if quiet_refusals:
        logging.getLogger("logto_guard").setLevel(logging.WARNING)
