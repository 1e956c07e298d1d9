"""Helpers for testing APIs protected by logto-guard, without a Logto tenant.

:class:`FakeLogto` holds real signing keys, mints Logto-shaped access tokens and serves its
JWKS through an ``httpx.MockTransport``; :class:`FakeClock` is a settable clock for the
guard's ``clock=`` argument.

Example::

    logto = FakeLogto()
    guard = LogtoGuard(endpoint=logto.endpoint, audience=logto.audience,
                       http_client=logto.http_client())
    token = logto.token(scopes=["read:products"])
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Union

import httpx

from ._core import Authenticator
from ._keys import (
    PrivateKey,
    default_alg,
    generate_private_key,
    public_jwk,
    sign,
    sign_compact,
)

if TYPE_CHECKING:
    from .asgi import LogtoAuthMiddleware
    from .fastapi import LogtoGuard

__all__ = ["FakeClock", "FakeLogto"]

_Guarded = Union["Authenticator", "LogtoGuard", "LogtoAuthMiddleware"]


def _authenticator(guard: _Guarded) -> Authenticator:
    return guard if isinstance(guard, Authenticator) else guard.authenticator


class FakeClock:
    """A clock that only moves when told to: pass it as ``clock=`` and call :meth:`advance`."""

    def __init__(self, now: float | None = None) -> None:
        self.now = float(now if now is not None else int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds


class FakeLogto:
    """An in-process stand-in for a Logto tenant: keys, JWKS and token minting.

    Args:
        endpoint: the tenant endpoint; tokens carry ``iss = <endpoint>/oidc``.
        audience: the default ``aud`` of minted tokens.
        alg: the algorithm of the first signing key (Logto's default is ES384).
        clock: what "now" is when minting tokens (defaults to the wall clock).
    """

    def __init__(
        self,
        *,
        endpoint: str = "https://tenant.logto.app",
        audience: str = "https://shopping.api",
        alg: str = "ES384",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.issuer = f"{self.endpoint}/oidc"
        self.jwks_uri = f"{self.issuer}/jwks"
        self.audience = audience
        self.clock = clock
        self.app_id = secrets.token_hex(10)
        self._keys: list[PrivateKey] = []
        self.signing_kid = self.add_key(alg)
        self.jwks_requests = 0
        #: Set to a callable returning an ``httpx.Response`` to make the JWKS misbehave.
        self.jwks_fault: Callable[[httpx.Request], httpx.Response] | None = None

    def add_key(self, alg: str = "ES384", *, sign_with: bool = False) -> str:
        """Publish a new key (and sign with it if ``sign_with``); returns its ``kid``."""
        key = generate_private_key(alg)
        self._keys.append(key)
        kid = public_jwk(key)["kid"]
        if sign_with:
            self.signing_kid = kid
        return kid

    def rotate(self, alg: str = "ES384") -> str:
        """Publish a new key and sign with it; the previous keys stay published."""
        return self.add_key(alg, sign_with=True)

    def remove_key(self, kid: str) -> None:
        """Stop publishing the key ``kid``."""
        self._keys = [key for key in self._keys if public_jwk(key)["kid"] != kid]

    def key(self, kid: str | None = None) -> PrivateKey:
        """The private key for ``kid`` (default: the signing key)."""
        wanted = kid or self.signing_kid
        for key in self._keys:
            if public_jwk(key)["kid"] == wanted:
                return key
        raise KeyError(wanted)

    def jwks(self) -> dict[str, Any]:
        """The published JWKS document."""
        return {"keys": [public_jwk(key) for key in self._keys]}

    def claims(
        self,
        *,
        scopes: Iterable[str] | None = None,
        ttl: int = 3600,
        organization_id: str | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Claims of a Logto M2M access token; ``overrides`` replace or add claims
        (``None`` removes one)."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "sub": self.app_id,
            "iat": now,
            "exp": now + ttl,
            "client_id": self.app_id,
            "iss": self.issuer,
            "aud": self.audience,
        }
        if scopes:
            claims["scope"] = " ".join(scopes)
        if organization_id is not None:
            claims["organization_id"] = organization_id
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def token(
        self,
        *,
        scopes: Iterable[str] | None = None,
        kid: str | None = None,
        alg: str | None = None,
        typ: str | None = "at+jwt",
        headers: Mapping[str, Any] | None = None,
        ttl: int = 3600,
        organization_id: str | None = None,
        **overrides: Any,
    ) -> str:
        """Mint a signed access token (see :meth:`claims` for the claim arguments)."""
        key = self.key(kid)
        claims = self.claims(scopes=scopes, ttl=ttl, organization_id=organization_id, **overrides)
        return sign(
            claims,
            key,
            alg=alg or default_alg(key),
            kid=kid or self.signing_kid,
            typ=typ,
            headers=headers,
        )

    def sign_raw(
        self,
        header: Mapping[str, Any] | bytes,
        payload: Mapping[str, Any] | bytes,
        *,
        kid: str | None = None,
    ) -> str:
        """Sign arbitrary header and payload (objects or raw bytes) with a published key."""
        return sign_compact(header, payload, self.key(kid))

    def headers(self, *, scopes: Iterable[str] | None = None, **claims: Any) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}`` for a freshly minted token."""
        return {"Authorization": f"Bearer {self.token(scopes=scopes, **claims)}"}

    @classmethod
    def for_guard(cls, guard: _Guarded, **options: Any) -> FakeLogto:
        """A fake whose endpoint, issuer and audience are those ``guard`` expects."""
        config = _authenticator(guard).config
        fake = cls(endpoint=config.endpoint, audience=config.audience, **options)
        fake.issuer = config.issuers[0]
        return fake

    def trust(self, guard: _Guarded) -> Callable[[], None]:
        """Make ``guard`` fetch its keys from this fake; returns a function undoing it."""
        authenticator = _authenticator(guard)
        previous = authenticator.jwks._given_client
        authenticator.jwks.use_http_client(self.http_client())
        authenticator.validator.clear_cache()

        def undo() -> None:
            authenticator.jwks.use_http_client(previous)
            authenticator.validator.clear_cache()

        return undo

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer a request for the JWKS URI (the MockTransport handler)."""
        if request.url.path != httpx.URL(self.jwks_uri).path:
            return httpx.Response(404, json={"error": "not found"})
        self.jwks_requests += 1
        if self.jwks_fault is not None:
            return self.jwks_fault(request)
        return httpx.Response(
            200,
            content=json.dumps(self.jwks()).encode(),
            headers={
                "Content-Type": "application/jwk-set+json",
                "Cache-Control": "no-cache, max-age=0, must-revalidate",
            },
        )

    def http_client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` whose requests this fake answers (for ``http_client=``)."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
