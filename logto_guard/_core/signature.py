"""JWS signature verification straight on ``cryptography`` (RFC 7518 §3).

The algorithm was already checked against the trusted key and the allow-list; this module
only does the arithmetic, without per-call work beyond what OpenSSL needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def _ecdsa(bits: str) -> Callable[[Any, bytes, bytes], None]:
    algorithm = ec.ECDSA(_HASHES[bits]())

    def verify(key: ec.EllipticCurvePublicKey, message: bytes, signature: bytes) -> None:
        size = (key.curve.key_size + 7) // 8
        if len(signature) != 2 * size:  # RFC 7518 §3.4: exactly r || s, each padded
            raise InvalidSignature
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        key.verify(encode_dss_signature(r, s), message, algorithm)

    return verify


def _rsa(bits: str, *, pss: bool) -> Callable[[Any, bytes, bytes], None]:
    digest = _HASHES[bits]()
    scheme: padding.AsymmetricPadding = (
        padding.PSS(mgf=padding.MGF1(_HASHES[bits]()), salt_length=digest.digest_size)
        if pss
        else padding.PKCS1v15()
    )

    def verify(key: rsa.RSAPublicKey, message: bytes, signature: bytes) -> None:
        key.verify(signature, message, scheme, digest)

    return verify


def _eddsa(
    key: ed25519.Ed25519PublicKey | ed448.Ed448PublicKey, message: bytes, signature: bytes
) -> None:
    key.verify(signature, message)


_VERIFY: dict[str, Callable[[Any, bytes, bytes], None]] = {
    **{f"ES{bits}": _ecdsa(bits) for bits in _HASHES},
    **{f"RS{bits}": _rsa(bits, pss=False) for bits in _HASHES},
    **{f"PS{bits}": _rsa(bits, pss=True) for bits in _HASHES},
    "EdDSA": _eddsa,
}


def verify_signature(alg: str, key: Any, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` over ``message`` verifies with ``key`` under ``alg``."""
    try:
        _VERIFY[alg](key, message, signature)
    except (InvalidSignature, ValueError):
        return False
    return True
