"""RFC 9728 protected-resource metadata: the document, where it lives, how it is advertised.

Logto does not serve this document: the resource server (an MCP server, or an API that is
its own resource indicator) serves it, naming ``<endpoint>/oidc`` as its authorization
server, so that a client can find where to get a token from a 401 alone.

Framework-free building blocks shared by every front end (``logto_guard.mcp``,
``logto_guard.fastmcp``, and the FastAPI guard's ``resource_url=``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigurationError

__all__ = [
    "WELL_KNOWN_PREFIX",
    "metadata_document",
    "metadata_path",
    "metadata_url",
]

#: RFC 9728 §3: the well-known URI suffix registered for protected-resource metadata.
WELL_KNOWN_PREFIX = "/.well-known/oauth-protected-resource"


def _resource(resource_url: str) -> tuple[str, str, str]:
    parts = urlsplit(resource_url)
    # RFC 9728 §1.2: the resource identifier is an https URL (http for loopback demos)
    # with no query or fragment.
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigurationError(f"resource URL must be absolute http(s), got {resource_url!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"resource URL must have no query or fragment: {resource_url!r}")
    return parts.scheme, parts.netloc, parts.path


def metadata_path(resource_url: str) -> str:
    """The path of the metadata document for ``resource_url`` (RFC 9728 §3.1).

    The well-known suffix goes between the host and the resource's path; a bare origin
    (with or without its trailing slash) gets the suffix alone.

    Example::

        >>> metadata_path("https://shop.example/mcp")
        '/.well-known/oauth-protected-resource/mcp'
        >>> metadata_path("https://mcp.example.com/")
        '/.well-known/oauth-protected-resource'
    """
    _, _, path = _resource(resource_url)
    # §3.1: "any terminating slash" of the path is removed before it is appended.
    return WELL_KNOWN_PREFIX + path.rstrip("/")


def metadata_url(resource_url: str) -> str:
    """The absolute URL of the metadata document for ``resource_url`` (RFC 9728 §3.1)."""
    scheme, netloc, _ = _resource(resource_url)
    return urlunsplit((scheme, netloc, metadata_path(resource_url), "", ""))


def metadata_document(
    resource_url: str,
    authorization_servers: Iterable[str],
    *,
    scopes_supported: Iterable[str] = (),
    resource_name: str | None = None,
) -> dict[str, Any]:
    """The protected-resource metadata for ``resource_url`` (RFC 9728 §2).

    Args:
        resource_url: the resource identifier, exactly as tokens carry it in ``aud``.
        authorization_servers: the issuers of accepted tokens (Logto: ``<endpoint>/oidc``).
        scopes_supported: scopes a client may request for this resource (omitted if none).
        resource_name: a human-readable name (optional).

    Raises:
        ConfigurationError: ``resource_url`` is not an absolute http(s) URL, or no
            authorization server is given.
    """
    _resource(resource_url)
    servers = list(dict.fromkeys(authorization_servers))
    if not servers:
        raise ConfigurationError("metadata needs at least one authorization server")
    document: dict[str, Any] = {
        "resource": resource_url,
        "authorization_servers": servers,
        # §2: bearer tokens are accepted in the Authorization header only (RFC 6750 §2.1).
        "bearer_methods_supported": ["header"],
    }
    scopes = list(dict.fromkeys(scopes_supported))
    if scopes:
        document["scopes_supported"] = scopes
    if resource_name:
        document["resource_name"] = resource_name
    return document
