"""JWS signature arithmetic (logto_guard._core.signature), RFC 7518 §3, every algorithm."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from logto_guard._core.signature import verify_signature

MESSAGE = b"eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJhcHAifQ"
_HASH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_CURVE: dict[str, Callable[[], ec.EllipticCurve]] = {
    "256": ec.SECP256R1,
    "384": ec.SECP384R1,
    "512": ec.SECP521R1,
}
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def es(bits: str) -> tuple[Any, Callable[[bytes], bytes]]:
    key = ec.generate_private_key(_CURVE[bits]())
    size = (key.curve.key_size + 7) // 8

    def sign(message: bytes) -> bytes:  # RFC 7518 §3.4: r || s, each left-padded
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(_HASH[bits]())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return key.public_key(), sign


def rs(bits: str, *, pss: bool) -> tuple[Any, Callable[[bytes], bytes]]:
    digest = _HASH[bits]()
    scheme: padding.AsymmetricPadding = (
        padding.PSS(mgf=padding.MGF1(_HASH[bits]()), salt_length=digest.digest_size)
        if pss
        else padding.PKCS1v15()
    )
    return _RSA.public_key(), lambda message: _RSA.sign(message, scheme, _HASH[bits]())


def eddsa(curve: Any) -> tuple[Any, Callable[[bytes], bytes]]:
    key = curve.generate()
    return key.public_key(), key.sign


Signer = Callable[[], tuple[Any, Callable[[bytes], bytes]]]
SIGNERS: dict[str, Signer] = {
    **{f"ES{bits}": partial(es, bits) for bits in _HASH},
    **{f"RS{bits}": partial(rs, bits, pss=False) for bits in _HASH},
    **{f"PS{bits}": partial(rs, bits, pss=True) for bits in _HASH},
    "EdDSA-Ed25519": lambda: eddsa(ed25519.Ed25519PrivateKey),
    "EdDSA-Ed448": lambda: eddsa(ed448.Ed448PrivateKey),
}


def alg_of(name: str) -> str:
    return name.split("-")[0]


@pytest.mark.parametrize("name", sorted(SIGNERS))
def test_a_signature_verifies_over_its_message_only(name: str) -> None:
    key, sign = SIGNERS[name]()
    signature = sign(MESSAGE)
    assert verify_signature(alg_of(name), key, MESSAGE, signature)
    assert not verify_signature(alg_of(name), key, MESSAGE + b"x", signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not verify_signature(alg_of(name), key, MESSAGE, flipped)


@pytest.mark.parametrize("name", sorted(SIGNERS))
def test_a_signature_by_another_key_does_not_verify(name: str) -> None:
    key, _ = SIGNERS[name]()
    _, other_sign = SIGNERS[name]()
    if name.startswith(("RS", "PS")):  # one RSA key serves all: make another for this test
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        hashed = _HASH[name[2:]]
        scheme: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if name.startswith("RS")
            else padding.PSS(mgf=padding.MGF1(hashed()), salt_length=hashed().digest_size)
        )
        signature = other.sign(MESSAGE, scheme, hashed())
    else:
        signature = other_sign(MESSAGE)
    assert not verify_signature(alg_of(name), key, MESSAGE, signature)


@pytest.mark.parametrize("bits", sorted(_HASH))
def test_ecdsa_wants_exactly_r_and_s_at_full_size(bits: str) -> None:
    """A DER signature, or r || s with a byte missing or added, is refused (RFC 7518 §3.4)."""
    key, sign = es(bits)
    raw = sign(MESSAGE)
    private = ec.generate_private_key(_CURVE[bits]())
    der = private.sign(MESSAGE, ec.ECDSA(_HASH[bits]()))
    assert not verify_signature(f"ES{bits}", private.public_key(), MESSAGE, der)
    assert not verify_signature(f"ES{bits}", key, MESSAGE, raw[:-1])
    assert not verify_signature(f"ES{bits}", key, MESSAGE, raw + b"\x00")
    assert not verify_signature(f"ES{bits}", key, MESSAGE, b"")
    size = len(raw) // 2  # s with one more leading zero: the same number, another spelling
    assert not verify_signature(f"ES{bits}", key, MESSAGE, raw[:size] + b"\x00" + raw[size:])


@pytest.mark.parametrize("bits", sorted(_HASH))
def test_the_hash_and_padding_are_the_algorithms_own(bits: str) -> None:
    """An RS signature is no PS signature, and SHA-256 is no SHA-384."""
    key, sign_pkcs1 = rs(bits, pss=False)
    _, sign_pss = rs(bits, pss=True)
    assert not verify_signature(f"PS{bits}", key, MESSAGE, sign_pkcs1(MESSAGE))
    assert not verify_signature(f"RS{bits}", key, MESSAGE, sign_pss(MESSAGE))
    other_bits = "384" if bits == "256" else "256"
    assert not verify_signature(f"RS{other_bits}", key, MESSAGE, sign_pkcs1(MESSAGE))
    ec_key, ec_sign = es(bits)
    if bits != "512":  # ES512 is P-521: no other hash has its signature size
        assert not verify_signature(f"ES{other_bits}", ec_key, MESSAGE, ec_sign(MESSAGE))


def test_unknown_algorithms_are_not_verified_here() -> None:
    key, sign = es("256")
    with pytest.raises(KeyError):  # the allow-list was checked before: this is a bug
        verify_signature("HS256", key, MESSAGE, sign(MESSAGE))
