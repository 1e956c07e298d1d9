"""Configuration is validated when the guard is built, with clear messages."""

from __future__ import annotations

from typing import Any

import pytest

from logto_guard import ConfigurationError, GuardConfig, LogtoGuard

BASE: dict[str, Any] = {"endpoint": "https://tenant.logto.app", "audience": "https://shopping.api"}


def test_defaults_follow_logto() -> None:
    config = GuardConfig(**BASE)
    assert config.issuers == ("https://tenant.logto.app/oidc",)
    assert config.jwks_uri == "https://tenant.logto.app/oidc/jwks"
    assert config.token_endpoint == "https://tenant.logto.app/oidc/token"
    assert config.require_typ == "at+jwt"
    assert "ES384" in config.algorithms and "RS256" in config.algorithms


def test_trailing_slash_on_endpoint_is_normalised() -> None:
    assert GuardConfig(**{**BASE, "endpoint": "https://tenant.logto.app/"}).issuers == (
        "https://tenant.logto.app/oidc",
    )


def test_several_issuers_and_custom_jwks_uri() -> None:
    config = GuardConfig(
        **BASE,
        issuer=("https://tenant.logto.app/oidc", "https://auth.example.com/oidc"),
        jwks_uri="https://auth.example.com/oidc/jwks",
    )
    assert config.issuers[1] == "https://auth.example.com/oidc"
    assert config.jwks_uri == "https://auth.example.com/oidc/jwks"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithms": ["HS256"]}, "HS256"),
        ({"algorithms": ["none"]}, "none"),
        ({"algorithms": ["ES384", "HS512"]}, "HS512"),
        ({"algorithms": []}, "non-empty"),
        ({"algorithms": "ES384"}, "non-empty collection"),
        ({"endpoint": "tenant.logto.app"}, "absolute http"),
        ({"endpoint": "ftp://tenant.logto.app"}, "absolute http"),
        ({"endpoint": "https://tenant.logto.app?x=1"}, "query"),
        ({"audience": ""}, "audience"),
        ({"audience": 'https://a"b'}, "audience"),
        ({"audience": "urn:logto:resource:organizations"}, "not an API audience"),
        ({"issuer": ()}, "at least one"),
        ({"issuer": "not a url"}, "issuer"),
        ({"jwks_uri": "/oidc/jwks"}, "jwks_uri"),
        ({"leeway": -1}, "leeway"),
        ({"leeway": 3600}, "at most 300"),
        ({"leeway": float("nan")}, "finite"),
        ({"jwks_timeout": 0}, "jwks_timeout"),
        ({"jwks_min_cooldown": 60}, "exceed"),
        ({"token_cache_size": -1}, "token_cache_size"),
        ({"max_token_size": 10}, "max_token_size"),
        ({"require_typ": ""}, "require_typ"),
        ({"realm": 'a"b'}, "realm"),
    ],
)
def test_bad_options_raise_configuration_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        GuardConfig.from_options(**{**BASE, **options})


def test_guard_reports_unknown_and_missing_options() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown option.*leway"):
        LogtoGuard(**BASE, leway=5)  # type: ignore[call-overload]  # mypy sees it too
    with pytest.raises(ConfigurationError, match="audience"):
        GuardConfig.from_options(endpoint="https://tenant.logto.app")


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        GuardConfig(**{**BASE, "algorithms": ["HS256"]})


@pytest.mark.parametrize("endpoint", ["https://tenant.logto.app/oidc", "https://t.app/oidc/"])
def test_the_issuer_pasted_as_endpoint_is_refused_with_the_fix(endpoint: str) -> None:
    """Logto's Console shows the issuer with /oidc; the JWKS would become .../oidc/oidc/jwks."""
    fixed = endpoint.rstrip("/").removesuffix("/oidc")
    with pytest.raises(ConfigurationError, match="without /oidc") as caught:
        LogtoGuard(endpoint=endpoint, audience="https://shopping.api")
    assert f"write {fixed!r}" in str(caught.value)


@pytest.mark.parametrize(
    "option",
    [
        {"endpoint": "http://logto:3001"},
        {"endpoint": "http://10.0.0.5:3001"},
        {"jwks_uri": "http://keys.example.com/jwks"},
        {"issuer": "http://auth.example.com/oidc"},
    ],
)
def test_plain_http_to_a_remote_host_needs_an_explicit_opt_in(option: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http=True"):
        GuardConfig(**{**BASE, **option})
    assert GuardConfig(**{**BASE, **option}, allow_insecure_http=True)


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:3001", "http://localhost:3001", "http://[::1]:3001"]
)
def test_plain_http_to_loopback_is_fine(endpoint: str) -> None:
    assert GuardConfig(**{**BASE, "endpoint": endpoint}).jwks_uri == f"{endpoint}/oidc/jwks"


def test_trailing_slash_matching_is_off_by_default_and_explicit() -> None:
    assert GuardConfig(**{**BASE, "audience": "https://mcp.example.com"}).audiences == {
        "https://mcp.example.com"
    }
    both = GuardConfig(**BASE | {"audience": "https://mcp.example.com/"}, match_trailing_slash=True)
    assert both.audiences == {"https://mcp.example.com", "https://mcp.example.com/"}


def test_stale_keys_serve_an_outage_for_an_hour_by_default() -> None:
    """SECURITY.md ("Stale keys during an outage") defends 1 h; it was 24 h."""
    assert GuardConfig(**BASE).jwks_stale_if_error == 3600
    assert GuardConfig(**BASE, jwks_stale_if_error=0).jwks_stale_if_error == 0
