"""Which URLs a guard accepts: https, or http on this machine only (the loopback rule)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import httpx

from .errors import ConfigurationError


def is_loopback(host: str) -> bool:
    """True when ``host`` names this machine: ``localhost`` and its subdomains (RFC 6761
    §6.3, in any case, with or without the root dot) and loopback addresses (127.0.0.0/8,
    ``::1`` with or without brackets, and 127.x written IPv4-mapped).

    The one rule behind ``allow_insecure_http`` (plain ``http://`` needs no opt-in for these
    hosts) and the dev issuer's local-only pages; a host name is never resolved.

    Example::

        >>> is_loopback("api.localhost"), is_loopback("[::1]"), is_loopback("10.0.0.1")
        (True, True, False)
    """
    name = host.lower()
    if name.endswith("."):
        name = name[:-1]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    bracketed = name.startswith("[") and name.endswith("]")
    try:
        address = ipaddress.ip_address(name[1:-1] if bracketed else name)
    except ValueError:
        return False
    if bracketed and address.version != 6:  # brackets hold IPv6 literals only (RFC 3986)
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # Python 3.13 says loopback for these, older ones not
    return address.is_loopback


def check_url(
    name: str,
    value: object,
    *,
    allow_insecure_http: bool = False,
    error: type[ConfigurationError] = ConfigurationError,
) -> str:
    """``value`` if it is an absolute https URL (or http to loopback), else raise ``error``.

    Plain ``http://`` to any other host is refused unless ``allow_insecure_http``: the app
    secret (token requests) or the keys (JWKS) would travel without integrity.
    """
    if not isinstance(value, str):
        raise error(f"{name} must be an absolute http(s) URL string")
    if value != value.strip():  # urlsplit drops a leading space; httpx then fails per fetch
        shown = "a URL with credentials" if "@" in value else repr(value.strip())
        raise error(f"{name} has leading or trailing whitespace: remove it, write {shown}")
    try:  # httpx.InvalidURL is no httpx.HTTPError: catch it here, not on each request
        parts = urlsplit(value)
        httpx.URL(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except (TypeError, ValueError, AttributeError, httpx.InvalidURL):  # .port may raise
        ok = False
    if not ok:
        shown = "a URL with credentials" if "@" in value else repr(value)
        raise error(f"{name} must be an absolute http(s) URL, got {shown}")
    if parts.username is not None or parts.query or parts.fragment:
        # Not echoed: the URL may hold a password.
        raise error(f"{name} must not carry credentials, a query or a fragment")
    host = parts.hostname or ""
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(host):
        raise error(
            f"{name} uses plain http:// for {host!r}, which is not loopback: tokens, secrets "
            "or keys would travel without integrity. Use https://, or pass "
            "allow_insecure_http=True for a private network (e.g. a self-hosted Logto at "
            "http://logto:3001 in docker compose)"
        )
    return value


def check_endpoint(
    value: object,
    *,
    allow_insecure_http: bool = False,
    error: type[ConfigurationError] = ConfigurationError,
) -> str:
    """The Logto endpoint without a trailing slash; refuses the ``.../oidc`` issuer form."""
    endpoint = check_url("endpoint", value, allow_insecure_http=allow_insecure_http, error=error)
    endpoint = endpoint.rstrip("/")
    path = urlsplit(endpoint).path
    oidc_at = path.find("/oidc/")
    if oidc_at >= 0:  # .../oidc/jwks would become .../oidc/jwks/oidc/jwks
        base = endpoint[: len(endpoint) - len(path) + oidc_at]
        raise error(
            f"endpoint is the Logto endpoint, not one of its URLs: write {base!r}, not "
            f"{endpoint!r} (the issuer {base + '/oidc'!r}, the JWKS {base + '/oidc/jwks'!r} "
            "and the token endpoint are derived from it; give jwks_uri= to override the JWKS)"
        )
    if endpoint.endswith("/oidc"):
        raise error(
            f"endpoint is the Logto endpoint without /oidc: write "
            f"{endpoint[: -len('/oidc')]!r}, not {endpoint!r} (the issuer "
            f"{endpoint!r} and the JWKS {endpoint + '/jwks'!r} are derived from it)"
        )
    return endpoint
