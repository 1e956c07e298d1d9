"""Shared fixtures code for the dev issuer's user-flow tests (auth code, token exchange)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt

from logto_guard.dev_issuer import DEFAULT_USER_ID, Directory, IssuerState, create_app
from logto_guard.testing import FakeClock

BASE = "http://127.0.0.1:3001"
ISSUER = f"{BASE}/oidc"
SHOP = "https://shopping.api"
MCP = "http://127.0.0.1:8000/mcp"
REDIRECT = "http://127.0.0.1:9999/callback"


def make_state(tmp_path: Path, clock: FakeClock) -> tuple[IssuerState, Directory]:
    state = IssuerState.open(tmp_path / "state", issuer=ISSUER, clock=clock)
    state.add_resource(SHOP, ["read:products", "write:products"])
    state.add_resource(MCP, ["read:products", "write:products"], ttl=900)
    directory = Directory.open(tmp_path / "state")
    directory.set_user(
        DEFAULT_USER_ID,
        username="dev",
        roles={SHOP: ["read:products", "write:products"], MCP: ["read:products"]},
        personal_access_tokens=["pat_devtoken"],
    )
    directory.set_user("user-ro", username="reader", roles={SHOP: ["read:products"]})
    return state, directory


def client(state: IssuerState, directory: Directory, base: str = BASE) -> httpx.AsyncClient:
    app = create_app(state, directory=directory)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def claims_of(state: IssuerState, token: str) -> dict[str, Any]:
    key = state.current_key
    return jwt.decode(
        token,
        key.private_key.public_key(),
        algorithms=[key.alg],
        options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
    )


async def login(
    http: httpx.AsyncClient,
    client_id: str,
    *,
    scope: str = "read:products write:products",
    resource: str | None = SHOP,
    login_hint: str | None = None,
) -> dict[str, Any]:
    """Run /auth then /token for a public client; the token endpoint's JSON."""
    verifier, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": scope,
        "state": "xyz",
    }
    if resource:
        params["resource"] = resource
    if login_hint:
        params["login_hint"] = login_hint
    response = await http.get("/oidc/auth", params=params)
    assert response.status_code == 302, response.text
    code = query_of(response.headers["location"])["code"]
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    if resource:
        form["resource"] = resource
    token = await http.post("/oidc/token", data=form)
    assert token.status_code == 200, token.text
    result: dict[str, Any] = token.json()
    return result
