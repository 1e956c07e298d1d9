"""Options are typed: the TypedDicts cannot drift from what they describe, and mypy catches
a misspelt option in a user's code."""

from __future__ import annotations

import dataclasses
import inspect
import os
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest

from logto_guard import (
    Authenticator,
    AuthenticatorOptions,
    ConfigurationError,
    GuardConfig,
    GuardOptions,
    LogtoGuard,
)
from logto_guard._fastapi.relay import RelayLimits, TokenRelay
from logto_guard.asgi import LogtoAuthMiddleware
from logto_guard.testing import FakeLogto, FakeLogtoOptions

ROOT = Path(__file__).resolve().parent.parent
ENDPOINT, AUDIENCE = "https://tenant.logto.app", "https://shopping.api"


def keyword_hints(function: typing.Callable[..., object], *skip: str) -> dict[str, object]:
    hints = typing.get_type_hints(function)
    names = inspect.signature(function).parameters
    return {name: hints[name] for name in names if name not in {"self", *skip}}


def test_guard_options_are_the_config_fields_but_endpoint_and_audience() -> None:
    fields = typing.get_type_hints(GuardConfig)
    settable = {f.name for f in dataclasses.fields(GuardConfig) if f.init}
    expected = {name: fields[name] for name in settable - {"endpoint", "audience"}}
    assert typing.get_type_hints(GuardOptions) == expected
    assert GuardOptions.__required_keys__ == frozenset()


def test_authenticator_options_are_guard_options_and_the_authenticators_own() -> None:
    own = keyword_hints(
        Authenticator.__init__, "endpoint", "audience", "config", "http_client", "clock", "options"
    )
    assert set(own) == {"metrics", "meter_provider", "key_source"}
    assert typing.get_type_hints(AuthenticatorOptions) == {
        **typing.get_type_hints(GuardOptions),
        **own,
    }


def test_relay_limits_are_the_token_relays_keywords() -> None:
    own = keyword_hints(TokenRelay.__init__, "token_endpoint", "audience", "transport")
    assert typing.get_type_hints(RelayLimits) == own


def test_fake_logto_options_are_its_keywords_but_the_tenant() -> None:
    own = keyword_hints(FakeLogto.__init__, "endpoint", "audience")
    assert typing.get_type_hints(FakeLogtoOptions) == own


def test_every_front_end_accepts_a_guard_config() -> None:
    config = GuardConfig(endpoint=ENDPOINT, audience=AUDIENCE, leeway=5)
    assert Authenticator(config=config).config is config
    assert LogtoGuard(config=config).authenticator.config is config
    assert LogtoAuthMiddleware(app, config=config).authenticator.config is config


async def app(scope: object, receive: object, send: object) -> None:
    """An ASGI app that is never called."""


def test_the_mcp_front_ends_accept_a_guard_config() -> None:
    pytest.importorskip("mcp")
    from logto_guard.mcp import LogtoTokenVerifier

    config = GuardConfig(endpoint=ENDPOINT, audience="https://shop.example.com/mcp")
    assert LogtoTokenVerifier(config=config).authenticator.config is config
    pytest.importorskip("fastmcp")
    from logto_guard.fastmcp import LogtoProvider

    provider = LogtoProvider(config=config, base_url="https://shop.example.com")
    assert provider.authenticator.config is config
    with pytest.raises(ConfigurationError, match="audience"):
        LogtoProvider(config=config, base_url="https://shop.example.com", audience=AUDIENCE)  # type: ignore[call-overload]


def test_a_config_and_keywords_together_are_refused() -> None:
    config = GuardConfig(endpoint=ENDPOINT, audience=AUDIENCE)
    with pytest.raises(ConfigurationError, match="leeway"):
        Authenticator(config=config, leeway=5)  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match="endpoint"):
        LogtoGuard(config=config, endpoint=ENDPOINT)  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match="GuardConfig"):
        Authenticator(config={"endpoint": ENDPOINT})  # type: ignore[call-overload]


def test_keywords_still_build_the_same_config() -> None:
    by_keywords = Authenticator(endpoint=ENDPOINT, audience=AUDIENCE, leeway=5, metrics=False)
    assert by_keywords.config == GuardConfig(endpoint=ENDPOINT, audience=AUDIENCE, leeway=5)


USER_CODE = """\
    from logto_guard import Authenticator, GuardConfig, LogtoGuard
    from logto_guard.asgi import LogtoAuthMiddleware
    from logto_guard.mcp import LogtoTokenVerifier

    E, A = "https://tenant.logto.app", "https://shopping.api"

    async def app(scope: object, receive: object, send: object) -> None: ...
"""
MISSPELT = {  # line in the file: the misspelt option mypy must name
    8: ("LogtoGuard(endpoint=E, audience=A, leway=5)", "leway"),
    9: ("Authenticator(endpoint=E, audience=A, jwks_timout=1.0)", "jwks_timout"),
    10: ("LogtoAuthMiddleware(app, endpoint=E, audience=A, isuer=E)", "isuer"),
    11: ("LogtoTokenVerifier(endpoint=E, audience=A, match_trailing_slashes=True)", "slashes"),
    12: ("LogtoTokenVerifier(endpoint=E, audience=A, leeway='5')", '"leeway"'),  # a str
}
CORRECT = [
    "LogtoGuard(endpoint=E, audience=A, leeway=5, jwks_timeout=1.0, metrics=False)",
    "Authenticator(config=GuardConfig(endpoint=E, audience=A, leeway=5))",
    "LogtoGuard(config=GuardConfig(endpoint=E, audience=A), scopes={'read': 'Read'})",
    "LogtoAuthMiddleware(app, endpoint=E, audience=A, issuer=E, required_scopes=['read'])",
    "LogtoTokenVerifier(endpoint=E, audience=A, match_trailing_slash=True)",
]


def run_mypy(directory: Path, *files: str) -> subprocess.CompletedProcess[str]:
    # MYPYPATH first: this checkout, not whatever the editable install points at.
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    command = [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *files]
    command += ["--cache-dir", str(directory / ".mypy_cache")]
    return subprocess.run(
        command, cwd=directory, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_mypy_strict_names_a_misspelt_option_and_passes_the_right_spelling(
    tmp_path: Path,
) -> None:
    pytest.importorskip("mcp")
    header = textwrap.dedent(USER_CODE)
    assert header.count("\n") == 7
    bad = header + "".join(f"{call}\n" for call, _ in MISSPELT.values())
    (tmp_path / "user_bad.py").write_text(bad)
    (tmp_path / "user_ok.py").write_text(header + "".join(f"{c}\n" for c in CORRECT))
    done = run_mypy(tmp_path, "user_bad.py", "user_ok.py")
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert done.returncode == 1, done.stdout + done.stderr
    assert [line for line in errors if line.startswith("user_ok.py")] == []
    for number, (_, name) in MISSPELT.items():
        assert any(line.startswith(f"user_bad.py:{number}:") and name in line for line in errors), (
            number,
            name,
            errors,
        )
