"""Signing keys and tokens shaped like Logto's: keys, public JWKs with RFC 7638 kids,
the claims of an M2M access token, compact JWS signing.

The issuer side, for tests, the dev issuer and the benchmarks; the guard itself never signs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from .._core.trusted_keys import EC_ALGORITHMS

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

#: The ``Cache-Control`` Logto sends with its JWKS (so caches must bring their own floor).
LOGTO_JWKS_CACHE_CONTROL = "no-cache, max-age=0, must-revalidate"

_CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def generate_private_key(alg: str = "ES384", *, rsa_bits: int = 2048) -> PrivateKey:
    """Make a new private key for ``alg`` (ES256/ES384/ES512, RS*/PS*, or EdDSA)."""
    if alg in _CURVES:
        return ec.generate_private_key(_CURVES[alg])
    if alg[:2] in {"RS", "PS"}:
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported algorithm {alg!r}")


def default_alg(key: PrivateKey) -> str:
    """The algorithm Logto signs with for this key: ES* by curve, RS256 for RSA."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return EC_ALGORITHMS[_CURVE_NAMES[key.curve.name]]
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    return "EdDSA"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64(value.to_bytes(length, "big"))


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK (what Logto uses as ``kid``)."""
    members = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
    required = members[str(jwk["kty"])]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(key: PrivateKey) -> dict[str, str]:
    """The public JWK Logto would publish for ``key``: ``kid`` is its thumbprint."""
    jwk: dict[str, str]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.public_key().public_numbers()
        size = (key.curve.key_size + 7) // 8
        crv = _CURVE_NAMES[key.curve.name]
        jwk = {
            "kty": "EC",
            "crv": crv,
            "x": _int_b64(numbers.x, size),
            "y": _int_b64(numbers.y, size),
        }
        jwk["kid"] = thumbprint(jwk)
        jwk.update({"use": "sig", "alg": EC_ALGORITHMS[crv]})
        return jwk
    if isinstance(key, rsa.RSAPrivateKey):
        rsa_numbers = key.public_key().public_numbers()
        jwk = {"kty": "RSA", "e": _int_b64(rsa_numbers.e), "n": _int_b64(rsa_numbers.n)}
        jwk["kid"] = thumbprint(jwk)
        jwk["use"] = "sig"
        return jwk
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}
    jwk["kid"] = thumbprint(jwk)
    jwk.update({"use": "sig", "alg": "EdDSA"})
    return jwk


def _json(value: Mapping[str, Any] | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    return json.dumps(dict(value), separators=(",", ":")).encode("utf-8")


def sign_compact(
    header: Mapping[str, Any] | bytes,
    payload: Mapping[str, Any] | bytes,
    key: PrivateKey,
    *,
    alg: str | None = None,
) -> str:
    """Sign exactly these header and payload bytes (or objects) as a compact JWS.

    Nothing is checked or normalised, so tests can sign what no well-behaved issuer would.
    """
    signing_input = f"{_b64(_json(header))}.{_b64(_json(payload))}"
    algorithm = jwt.algorithms.get_default_algorithms()[alg or default_alg(key)]
    return f"{signing_input}.{_b64(algorithm.sign(signing_input.encode('ascii'), key))}"


def sign(
    claims: Mapping[str, Any],
    key: PrivateKey,
    *,
    alg: str | None = None,
    kid: str | None = None,
    typ: str | None = "at+jwt",
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``claims`` as a compact JWS with Logto's header shape (``alg``, ``typ``, ``kid``)."""
    alg = alg or default_alg(key)
    header: dict[str, Any] = {"alg": alg}
    if typ is not None:
        header["typ"] = typ
    header["kid"] = kid if kid is not None else public_jwk(key)["kid"]
    header.update(headers or {})
    return sign_compact(header, claims, key, alg=alg)


def private_pem(key: PrivateKey) -> str:
    """PKCS#8 PEM of ``key`` (unencrypted: dev and test state only)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_pem(pem: str) -> PrivateKey:
    """Load a key written by :func:`private_pem`."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise ValueError("unsupported private key type")
    return key


def logto_claims(
    *,
    app_id: str,
    issuer: str,
    audience: str,
    now: int,
    ttl: int = 3600,
    scopes: Iterable[str] | None = None,
    organization_id: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The claims of a Logto M2M access token, in Logto's order.

    Args:
        app_id: ``sub`` and ``client_id`` (Logto's rule for M2M tokens).
        now: ``iat``; ``exp`` is ``now + ttl``.
        scopes: the ``scope`` claim, space-joined; ``None`` leaves it out (Logto leaves it
            out of resource tokens that were granted nothing, and sends ``""`` in
            organization tokens).
        organization_id: adds an ``organization_id`` claim.
        overrides: replace or add claims last; a ``None`` value removes that claim.
    """
    claims: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "sub": app_id,
        "iat": now,
        "exp": now + ttl,
        "client_id": app_id,
        "iss": issuer,
        "aud": audience,
    }
    if scopes is not None:
        claims["scope"] = " ".join(scopes)
    if organization_id is not None:
        claims["organization_id"] = organization_id
    for name, value in (overrides or {}).items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims
