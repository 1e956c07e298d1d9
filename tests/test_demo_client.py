"""The demo client's command line: one style for every command, everything in --help."""

from __future__ import annotations

import pytest

from demo_api.client import parse_args, request
from demo_api.settings import ClientSettings


def test_help_names_every_command_global_flag_and_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for command in ("list", "get", "create", "update", "delete", "mcp-tools", "mcp-call"):
        assert f"    {command} " in text
    for flag in ("--api-url URL", "--as {reader,writer}", "--state-dir DIR", "--issuer-port"):
        assert flag in text
    assert "SHOPPING_API_URL" in text and "LOGTO_APP_SECRET" in text
    assert 'create --name "Green tea" --price 4.5' in text


def test_create_takes_flags_like_update() -> None:
    args = parse_args(["create", "--name", "Tea", "--price", "4.5", "--description", "green"])
    assert request(args) == (
        "POST",
        "/products",
        {"name": "Tea", "price": 4.5, "description": "green"},
    )
    patch = parse_args(["update", "7", "--price", "5"])
    assert request(patch) == ("PATCH", "/products/7", {"price": 5.0})


@pytest.mark.parametrize(
    "argv",
    [
        ["create", "Tea", "4.5"],  # the old positional form
        ["create", "--name", "Tea"],
        ["update", "7"],  # nothing to change
        ["get", "one"],
    ],
)
def test_malformed_commands_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_api_url_flag_default_and_environment() -> None:
    assert parse_args(["list"]).api_url == "http://127.0.0.1:8000"
    from_env = ClientSettings.from_env({"SHOPPING_API_URL": "http://127.0.0.1:9000"}).api_url
    assert parse_args(["list"], default_api_url=from_env).api_url == "http://127.0.0.1:9000"
    flagged = parse_args(["--api-url", "http://127.0.0.1:8001", "list"], default_api_url=from_env)
    assert flagged.api_url == "http://127.0.0.1:8001"
