"""``logto-guard token`` when Logto drops requested scopes silently (issue 19).

The token endpoint is an ``httpx.MockTransport`` answering like Logto: a 200 whose
``scope`` holds only what the app was granted.
"""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from logto_guard._cli import main
from logto_guard._cli._token_command import EXIT_SCOPES_DROPPED

ENDPOINT = "https://my-tenant.logto.app"
APP_ID = "m2m-app-id"
SECRET = "the-app-secret"
TOKEN = "eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJ4In0.c2ln"
GRANTED = {"read:items"}


def logto(request: httpx.Request) -> httpx.Response:
    asked = parse_qs(request.content.decode()).get("scope", [""])[0].split(" ")
    body: dict[str, Any] = {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}
    granted = [s for s in asked if s in GRANTED]
    if granted:  # Logto omits scope when nothing was granted
        body["scope"] = " ".join(granted)
    return httpx.Response(200, json=body)


def run(*extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["token", "--endpoint", ENDPOINT, "--app-id", APP_ID, "--resource", "https://api"]
    status = main(
        [*argv, *extra],
        environ={"LOGTO_APP_SECRET": SECRET},
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(logto)),
        stdout=out,
        stderr=err,
    )
    return status, out.getvalue(), err.getvalue()


def test_granted_scopes_print_the_token_and_nothing_on_stderr() -> None:
    assert run("--scope", "read:items") == (0, TOKEN + "\n", "")


def test_dropped_scopes_are_named_on_stderr_and_the_token_still_printed() -> None:
    status, out, err = run("--scope", "read:items", "--scope", "write:items delete:items")
    assert (status, out) == (0, TOKEN + "\n")
    assert err.startswith(
        "logto-guard token: warning: Logto did not grant delete:items write:items"
    )
    assert APP_ID in err and "Logto Console" in err
    assert "read:items" not in err
    assert SECRET not in err


@pytest.mark.parametrize("scopes", [["write:items"], ["read:items", "write:items"]])
def test_require_scopes_exits_3_without_printing_a_token(scopes: list[str]) -> None:
    args = [a for s in scopes for a in ("--scope", s)]
    status, out, err = run(*args, "--require-scopes")
    assert (status, out) == (EXIT_SCOPES_DROPPED, "")
    assert EXIT_SCOPES_DROPPED == 3
    assert err.startswith("logto-guard token: error: Logto did not grant write:items ")


def test_require_scopes_with_every_scope_granted_exits_0() -> None:
    assert run("--scope", "read:items", "--require-scopes") == (0, TOKEN + "\n", "")


def test_help_names_exit_status_3() -> None:
    out = io.StringIO()
    status = main(["token", "--help"], stdout=out, stderr=io.StringIO(), environ={})
    assert status == 0
    assert "--require-scopes" in out.getvalue() and "exit 3" in out.getvalue()
