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
        LogtoGuard(**BASE, leway=5)
    with pytest.raises(ConfigurationError, match="audience"):
        GuardConfig.from_options(endpoint="https://tenant.logto.app")


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        GuardConfig(**{**BASE, "algorithms": ["HS256"]})
