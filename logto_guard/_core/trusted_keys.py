"""JWKS documents: which entries can verify access tokens, parsed once into public keys.

PyJWT loads the key material; everything it raises on a bad entry stays here and means
"skip this entry". An entry is usable when its type and curve imply an algorithm of the
allow-list that its own ``alg`` (if any) agrees with.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from .signature import verify_signature

MAX_JWKS_BYTES = 512 * 1024
#: The one algorithm each EC curve signs with (RFC 7518 §3.4).
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_OKP_CURVES = frozenset({"Ed25519", "Ed448"})
_MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key from the trusted JWKS and the algorithms it may verify."""

    kid: str
    key: Any
    algorithms: frozenset[str]

    def fits(self, alg: str) -> bool:
        """True when ``alg`` is one this key may verify: the one rule of "the algorithm
        fits the key" (implied by its type and curve, its own ``alg``, the allow-list)."""
        return alg in self.algorithms

    def verify(self, alg: str, signing_input: bytes, signature: bytes) -> bool:
        """True when ``signature`` is valid for ``signing_input`` under ``alg``."""
        return self.fits(alg) and verify_signature(alg, self.key, signing_input, signature)


class JWKSFetchError(Exception):
    """A JWKS fetch that produced no usable key set (the message is safe to log).

    ``misconfiguration`` is True when the answer can only come from a wrong URL (a 404, an
    HTML page, JSON that is no JWKS), not from an outage.
    """

    def __init__(self, message: str, *, misconfiguration: bool = False) -> None:
        super().__init__(message)
        self.misconfiguration = misconfiguration


def _algorithms_for(jwk: Mapping[str, Any], allowed: Collection[str]) -> frozenset[str]:
    """What the key's type and curve imply, narrowed by its own ``alg`` and the allow-list."""
    kty = jwk.get("kty")
    if kty == "EC":
        implied = {EC_ALGORITHMS[jwk["crv"]]} if jwk.get("crv") in EC_ALGORITHMS else set()
    elif kty == "RSA":
        implied = set(_RSA_ALGS)
    elif kty == "OKP" and jwk.get("crv") in _OKP_CURVES:
        implied = {"EdDSA"}
    else:
        implied = set()
    if "alg" in jwk:
        implied &= {jwk["alg"]}
    return frozenset(implied & set(allowed))


def _parse_key(jwk: object, allowed: Collection[str]) -> TrustedKey | None:
    """One JWKS entry as a TrustedKey, or None when it cannot sign access tokens for us."""
    if not isinstance(jwk, dict):
        return None
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        return None
    if jwk.get("use", "sig") != "sig":
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    algorithms = _algorithms_for(jwk, allowed)
    if not algorithms:
        return None
    public = {k: v for k, v in jwk.items() if k not in {"d", "p", "q", "dp", "dq", "qi"}}
    loaders = {
        "EC": ECAlgorithm.from_jwk,
        "RSA": RSAAlgorithm.from_jwk,
        "OKP": OKPAlgorithm.from_jwk,
    }
    try:
        key = loaders[jwk["kty"]](public)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < _MIN_RSA_BITS:
        return None
    return TrustedKey(kid=kid, key=key, algorithms=algorithms)


def parse_jwks(body: bytes, allowed: Collection[str]) -> dict[str, TrustedKey]:
    """Parse a JWKS document into usable keys by ``kid``.

    Raises:
        JWKSFetchError: the body is not a JWKS or holds no key usable with ``allowed``.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise JWKSFetchError("JWKS body is not JSON", misconfiguration=True) from exc
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JWKSFetchError("JWKS body has no 'keys' array", misconfiguration=True)
    keys: dict[str, TrustedKey] = {}
    ambiguous: set[str] = set()
    for entry in document["keys"]:
        parsed = _parse_key(entry, allowed)
        if parsed is None:
            continue
        if parsed.kid in keys:
            # Two keys under one kid: trusting either would let the JWKS order decide.
            ambiguous.add(parsed.kid)
        keys[parsed.kid] = parsed
    for kid in ambiguous:
        del keys[kid]
    if not keys:
        raise JWKSFetchError("JWKS holds no usable signing key")
    return keys
