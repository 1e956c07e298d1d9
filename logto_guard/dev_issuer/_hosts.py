"""Which ``Host`` values count as local: the guard of ``/__dev__`` and the login page."""

from __future__ import annotations

from urllib.parse import urlsplit

from logto_guard.lowlevel import is_loopback


def hostname(netloc: str) -> str | None:
    """The host name of a ``Host`` header value, ``None`` when malformed."""
    try:
        parts = urlsplit(f"//{netloc.strip()}")
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return None
    return parts.hostname or None


def local_host(host_header: str, issuer: str) -> bool:
    """Whether a ``Host`` header names a loopback host or the issuer's own host."""
    host = hostname(host_header)
    return host is not None and (is_loopback(host) or host == urlsplit(issuer).hostname)
