"""The fake tenant (:class:`FakeLogto`) and the fake clock (:class:`FakeClock`)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypedDict

import httpx

from .._core.authenticator import Authenticator
from .._core.jwks_cache import JWKSCache
from .._core.options import Unpack
from ._signing import (
    LOGTO_JWKS_CACHE_CONTROL,
    PrivateKey,
    default_alg,
    generate_private_key,
    logto_claims,
    public_jwk,
    sign,
    sign_compact,
)


class HasAuthenticator(Protocol):
    """A front end built on an :class:`Authenticator` (``LogtoGuard``, the ASGI middleware,
    the MCP verifier)."""

    @property
    def authenticator(self) -> Authenticator: ...


#: What :meth:`FakeLogto.for_guard` and :meth:`FakeLogto.trust` accept.
Guarded = Authenticator | HasAuthenticator


class FakeLogtoOptions(TypedDict, total=False):
    """:class:`FakeLogto`'s keywords besides the tenant's ``endpoint`` and ``audience``
    (what :meth:`FakeLogto.for_guard` takes beside the guard)."""

    alg: str
    clock: Callable[[], float]


def _authenticator(guard: Guarded) -> Authenticator:
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
        #: JWKS requests answered 304 Not Modified (``If-None-Match`` matched).
        self.jwks_not_modified = 0
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
        return logto_claims(
            app_id=self.app_id,
            issuer=self.issuer,
            audience=self.audience,
            now=int(self.clock()),
            ttl=ttl,
            scopes=scopes or None,
            organization_id=organization_id,
            overrides=overrides,
        )

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
    def for_guard(cls, guard: Guarded, **options: Unpack[FakeLogtoOptions]) -> FakeLogto:
        """A fake whose endpoint, issuer and audience are those ``guard`` expects."""
        config = _authenticator(guard).config
        fake = cls(endpoint=config.endpoint, audience=config.audience, **options)
        fake.issuer = config.issuers[0]
        return fake

    def trust(self, guard: Guarded) -> Callable[[], None]:
        """Make ``guard`` fetch its keys from this fake; returns a function undoing it."""
        authenticator = _authenticator(guard)
        previous = authenticator.key_source
        # The guard's own JWKS settings and clock, answered in process by this fake.
        authenticator.key_source = JWKSCache.for_config(
            authenticator.config, http_client=self.http_client(), clock=authenticator.clock
        )

        def restore() -> None:
            authenticator.key_source = previous

        return restore

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer a request for the JWKS URI (the MockTransport handler)."""
        if request.url.path != httpx.URL(self.jwks_uri).path:
            return httpx.Response(404, json={"error": "not found"})
        self.jwks_requests += 1
        if self.jwks_fault is not None:
            return self.jwks_fault(request)
        body = json.dumps(self.jwks()).encode()
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:16]}"'  # Logto sends a weak ETag
        headers = {"Cache-Control": LOGTO_JWKS_CACHE_CONTROL, "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            self.jwks_not_modified += 1
            return httpx.Response(304, headers=headers)
        headers["Content-Type"] = "application/jwk-set+json"
        return httpx.Response(200, content=body, headers=headers)

    def http_client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` whose requests this fake answers (for ``http_client=``)."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
