"""One answer to "is this host this machine?", for the guard's URLs and the dev issuer."""

from __future__ import annotations

import pytest

from logto_guard import ConfigurationError, GuardConfig
from logto_guard.dev_issuer._hosts import local_host
from logto_guard.lowlevel import is_loopback

HOSTS = [
    ("localhost", True),
    ("LOCALHOST", True),
    ("LocalHost.", True),  # the absolute form of the same name
    ("api.localhost", True),  # RFC 6761 §6.3: localhost names are loopback
    ("API.LOCALHOST", True),
    ("127.0.0.1", True),
    ("127.8.9.10", True),  # all of 127.0.0.0/8
    ("::1", True),
    ("[::1]", True),
    ("::ffff:127.0.0.1", True),  # IPv4-mapped: the same on every Python
    ("[::ffff:7f00:1]", True),
    ("localhost.example.com", False),
    ("notlocalhost", False),
    ("localhost.evil", False),
    ("evil-localhost", False),
    ("0.0.0.0", False),  # noqa: S104 - "all interfaces" is not loopback
    ("::", False),
    ("::ffff:10.0.0.1", False),
    ("10.0.0.1", False),
    ("logto", False),
    ("", False),
    ("[127.0.0.1]", False),  # brackets are for IPv6 literals only
    ("127.1", False),  # a shorthand inet_aton accepts; not a host name we trust
]


@pytest.mark.parametrize(("host", "loopback"), HOSTS, ids=[h or "empty" for h, _ in HOSTS])
def test_is_loopback_table(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("host", "loopback"), [h for h in HOSTS if h[0] and "[" not in h[0]])
def test_plain_http_needs_no_opt_in_exactly_for_loopback_hosts(host: str, loopback: bool) -> None:
    url_host = f"[{host}]" if ":" in host else host
    endpoint = f"http://{url_host}:3001"
    if loopback:
        assert GuardConfig.from_options(endpoint=endpoint, audience="https://a.test")
    else:
        with pytest.raises(ConfigurationError, match="not loopback"):
            GuardConfig.from_options(endpoint=endpoint, audience="https://a.test")


@pytest.mark.parametrize(("host", "loopback"), [h for h in HOSTS if h[0] and "[" not in h[0]])
def test_dev_issuer_local_pages_use_the_same_answer(host: str, loopback: bool) -> None:
    header = f"[{host}]:3001" if ":" in host else f"{host}:3001"
    assert local_host(header, issuer="https://issuer.example/oidc") is loopback
