"""The demo API for multi-process servers: ``demo_api.asgi:app`` or ``demo_api.asgi:create``.

``uvicorn --workers N`` and gunicorn need an import string; each worker process imports
this module and builds its own app, guard, JWKS cache and token cache from the
environment (``LOGTO_ENDPOINT`` is required here: no embedded dev issuer starts)::

    LOGTO_ENDPOINT=http://127.0.0.1:3001 uvicorn demo_api.asgi:app --workers 4
    LOGTO_ENDPOINT=http://127.0.0.1:3001 uvicorn demo_api.asgi:create --factory --workers 4
    LOGTO_ENDPOINT=https://<tenant>.logto.app \\
        gunicorn demo_api.asgi:app -k uvicorn.workers.UvicornWorker -w 4

Products live in ``demo.sqlite3`` in the working directory, shared by the workers.
Each worker checks the configuration as it starts (the guard's lifespan): a JWKS URL
that answers no key set stops it, an unreachable issuer only warns; probe ``GET /ready``.

For operations demos and tests, two diagnostics are added around the app (here, not in
:mod:`demo_api.app`): every HTTP response carries ``X-Demo-Worker: <pid>``, and the open
route ``GET /__worker__`` answers ``{"pid": ..., "rss_kb": ...}`` for the worker that
served it. They reveal process ids and memory use: fine for a demo, not for production.
"""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .app import create_app
from .settings import Settings

WORKER_PATH = "/__worker__"
WORKER_HEADER = "x-demo-worker"


def _rss_kb() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:  # not Linux: no /proc
        return None
    return None


class WorkerDiagnostics:
    """ASGI wrapper: ``X-Demo-Worker`` on every HTTP response and ``GET /__worker__``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._pid = str(os.getpid()).encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == WORKER_PATH:
            await self._worker_info(send)
            return

        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (WORKER_HEADER.encode(), self._pid)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_pid)

    async def _worker_info(self, send: Send) -> None:
        body = json.dumps({"pid": os.getpid(), "rss_kb": _rss_kb()}).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"cache-control", b"no-store"),
            (WORKER_HEADER.encode(), self._pid),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def create() -> ASGIApp:
    """Build the demo app from the environment (``--factory`` entry point).

    Raises:
        RuntimeError: ``LOGTO_ENDPOINT`` is not set.
    """
    settings = Settings.from_env()
    if settings.endpoint is None:
        raise RuntimeError(
            "demo_api.asgi needs LOGTO_ENDPOINT (a Logto endpoint or a running dev issuer, "
            "e.g. python -m logto_guard.dev_issuer); `python -m demo_api` embeds one instead"
        )
    return WorkerDiagnostics(create_app(settings))


def __getattr__(name: str) -> Any:
    # ``app`` is built on first access, not at import: importing this module (tests, type
    # checkers, gunicorn's master before it forks) needs no environment.
    if name == "app":
        return create()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
