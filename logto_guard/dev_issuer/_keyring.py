"""Logto's key rotation on a list of signing keys: next, current, previous."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from logto_guard.dev_issuer._model import SUPPORTED_ALGS, KeyStatus, SigningKey, sort_keys
from logto_guard.signing import generate_private_key


def new_key(alg: str, status: KeyStatus, *, rsa_bits: int, now: float) -> SigningKey:
    """A freshly generated key for ``alg``.

    Raises:
        ValueError: unsupported ``alg``.
    """
    if alg not in SUPPORTED_ALGS:
        raise ValueError(f"unsupported algorithm {alg!r}; choose one of {SUPPORTED_ALGS}")
    return SigningKey(generate_private_key(alg, rsa_bits=rsa_bits), alg, status, int(now))


def rotated(
    keys: Sequence[SigningKey], alg: str | None, *, rsa_bits: int, now: float
) -> list[SigningKey]:
    """The keys after a rotation: the staged next key (or a new one) becomes current, the
    current one previous; older previous keys go, as Logto keeps at most three.

    Raises:
        ValueError: unsupported ``alg``, or one that differs from a staged next key.
    """
    current = next(k for k in keys if k.status == "current")
    staged = next((k for k in keys if k.status == "next"), None)
    if staged is not None and alg is not None and alg != staged.alg:
        raise ValueError(f"the staged next key is {staged.alg}, not {alg}")
    if staged is not None:
        new = dataclasses.replace(staged, status="current")
    else:
        new = new_key(alg or current.alg, "current", rsa_bits=rsa_bits, now=now)
    return [new, dataclasses.replace(current, status="previous")]


def staged(
    keys: Sequence[SigningKey], alg: str | None, *, rsa_bits: int, now: float
) -> list[SigningKey]:
    """The keys with a new "next" key published (replacing a staged one), not yet signing."""
    current = next(k for k in keys if k.status == "current")
    new = new_key(alg or current.alg, "next", rsa_bits=rsa_bits, now=now)
    return sort_keys([new, *(k for k in keys if k.status != "next")])
