"""Real HTTP servers on loopback for integration tests: uvicorn in a thread, free ports.

The one place tests (and bench) get ports. A port is never picked as a number and handed
on, since another process may bind it in between: a socket is bound to port 0 and passed
as is (to uvicorn in a thread, or to a subprocess as an inherited descriptor, ``uvicorn
--fd``); a program that binds itself is started with ``--port 0`` and its port read from
its output, or is given a port held by :func:`reserve_port` for as long as it is needed
(also for a server restarted on "the same port").
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def bind_free_port() -> socket.socket:
    """A listening-ready socket on 127.0.0.1 with a port the OS picked (no race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def listening_socket() -> socket.socket:
    """A listening socket on 127.0.0.1 that a subprocess may inherit (``pass_fds``,
    ``uvicorn --fd``); the caller keeps it open while the subprocess runs."""
    sock = bind_free_port()
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def reserve_port() -> socket.socket:
    """A bound, never listening socket holding a free port, for a program that binds the
    port itself (``--port``) or a server stopped and started again on one port.

    While it is open, connections to the port are refused unless a server listens there,
    binds without ``SO_REUSEADDR`` fail, and the kernel hands the port to no ``bind(0)`` or
    ``connect``; servers that set ``SO_REUSEADDR`` (uvicorn, the dev issuer, the demo,
    :func:`bind_reserved`) may bind it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def reserved_port(reservation: socket.socket) -> int:
    """The port number ``reservation`` holds."""
    port: int = reservation.getsockname()[1]
    return port


def bind_reserved(reservation: socket.socket) -> socket.socket:
    """A socket bound to the port of ``reservation`` (see :func:`reserve_port`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(reservation.getsockname())
    return sock


def wait_until(predicate: Any, *, timeout: float = 10.0, interval: float = 0.01) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


@contextmanager
def serve(app: Any, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve ``app`` with uvicorn on loopback in a thread; yields its base URL."""
    sock = sock or bind_free_port()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive())
        if not server.started:
            raise RuntimeError("server failed to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
