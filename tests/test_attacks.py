"""Attack suite: hostile credentials against the guarded demo API, answered as RFC 6750 says.

Each case sends one request to the demo shopping API running in process (``GET /products``
needs ``read:products``, ``POST /products`` needs ``write:products``) and asserts the exact
answer: the status, the JSON body's ``error`` and the ``WWW-Authenticate`` challenge (realm,
error code, and ``scope`` for 403). No case may produce a 500. Every request goes through a
guard whose HTTP client records each URL it is asked for: only the configured JWKS URI may
ever be fetched, and the structural cases (malformed ``Authorization``, oversize token, not
three base64url segments, header not a JSON object) must be refused before any fetch.

Expected answers: 401 ``invalid_token`` for bad tokens, 400 ``invalid_request`` for malformed
bearer credentials, 401 without an error code for no credentials or another scheme, 403
``insufficient_scope`` for a valid token lacking the route's scope, 200/201 when accepted.

Categories (289 cases in ``CASES``, plus the stand-alone tests at the end):

* ``alg-none``: ``none`` / ``None`` / ``NONE``, with and without a signature or a ``kid``.
* ``hmac``: HS256/384/512 keyed with a trusted public key (PEM, PKCS#1 PEM, JWK JSON).
* ``ecdsa``: r = s = 0 ("psychic signature"), r = s = n, DER instead of raw r||s.
* ``sig``: signature stripped, missing, truncated, too long, garbage, transplanted.
* ``kid``: unknown, empty, missing, not a string, too long, path-like, SQL-like, non-ASCII.
* ``embedded-key``: ``jku`` / ``x5u`` / ``jwk`` / ``x5c`` naming attacker keys.
* ``ext``: ``crit`` with unknown or empty extensions, ``b64: false``.
* ``typ``: missing, ``JWT``, ID-token shaped, mistyped; accepted spellings of ``at+jwt``.
* ``key-swap``: another key (attacker's or a different trusted one) under a trusted ``kid``.
* ``alg-mismatch``: ``alg`` not fitting the key's type or curve, or not a string.
* ``aud`` / ``iss``: wrong, lists, Logto's organization audience, slash and case variants.
* ``exp`` / ``time``: past, missing, mistyped, huge, negative, NaN/Infinity; future nbf/iat.
* ``dup``: duplicate member names in header or payload JSON (validly signed).
* ``struct``: header or payload not a JSON object, wrong segment count, padding, nesting.
* ``encoding``: non-ASCII and whitespace in the token or in header/claim values, oversize.
* ``authz``: the ``Authorization`` header itself (schemes, case, spaces, duplicates).
* ``scope``: scope and claim types of otherwise valid tokens (403 versus 401).

Decision on embedded key references: the guard never reads ``jku``, ``x5u``, ``jwk`` or
``x5c`` (RFC 8725 §3.10). A token signed by an attacker key is refused whatever these headers
say, and a token signed by the trusted key that merely carries them is verified against the
trusted JWKS only, so it is accepted iff it is otherwise valid. In both cases no URL other
than the configured JWKS URI is ever requested.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
import io
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm, get_default_algorithms

from demo_api.app import create_app
from demo_api.settings import Settings
from logto_guard import LogtoGuard
from logto_guard._cli import main as cli_main
from logto_guard.testing import FakeLogto

from . import helpers

pytestmark = pytest.mark.anyio

REALM = "https://shopping.api"
ALL_SCOPES = ("read:products", "write:products")
ATTACKER_JKU = "https://attacker.example/jwks.json"
ATTACKER_X5U = "https://attacker.example/cert.pem"
ATTACKER_KID = "attacker-key-1"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)
_PARAM = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')

Auth = list[tuple[str, str | bytes]]
Expect = tuple[int, str | None]
ACCEPT: Expect = (200, None)  # 201 on the write route
TOKEN: Expect = (401, "invalid_token")
REQUEST: Expect = (400, "invalid_request")
MISSING: Expect = (401, None)
SCOPE: Expect = (403, "insufficient_scope")


# --------------------------------------------------------------------------- building blocks


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode(value: Mapping[str, Any] | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    return json.dumps(dict(value), separators=(",", ":")).encode("utf-8")


def compact(
    header: Mapping[str, Any] | bytes, payload: Mapping[str, Any] | bytes, signature: bytes
) -> str:
    """An unsigned compact JWS: the segments exactly as given."""
    return f"{b64(encode(header))}.{b64(encode(payload))}.{b64(signature)}"


def sign_with(
    key: Any, alg: str, header: Mapping[str, Any] | bytes, payload: Mapping[str, Any] | bytes
) -> str:
    """Sign with any key under any algorithm name PyJWT knows (for mismatches)."""
    signing_input = f"{b64(encode(header))}.{b64(encode(payload))}"
    signature = get_default_algorithms()[alg].sign(signing_input.encode("ascii"), key)
    return f"{signing_input}.{b64(signature)}"


def hmac_forgery(header: Mapping[str, Any], payload: Mapping[str, Any], secret: bytes) -> str:
    """The classic key-confusion forgery: HS* keyed with the verifier's public key."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    signing_input = f"{b64(encode(header))}.{b64(encode(payload))}"
    mac = hmac.new(secret, signing_input.encode("ascii"), digest[header["alg"]]).digest()
    return f"{signing_input}.{b64(mac)}"


def bearer(token: str) -> Auth:
    return [*helpers.bearer(token).items()]


@dataclass(frozen=True)
class World:
    """The trusted tenant (P-384 signing key, plus RSA and P-256 keys) and an attacker."""

    logto: FakeLogto
    ec_kid: str
    rsa_kid: str
    p256_kid: str
    attacker_ec: ec.EllipticCurvePrivateKey
    attacker_rsa: rsa.RSAPrivateKey
    attacker_jwk: dict[str, Any]
    attacker_cert: bytes

    def now(self) -> int:
        return int(time.time())

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Claims of a valid token holding both scopes (``None`` removes a claim)."""
        return self.logto.claims(scopes=ALL_SCOPES, **overrides)

    def header(self, **overrides: Any) -> dict[str, Any]:
        """Logto's header for the P-384 key (``None`` removes a member)."""
        header: dict[str, Any] = {"alg": "ES384", "typ": "at+jwt", "kid": self.ec_kid}
        for name, value in overrides.items():
            if value is None:
                header.pop(name, None)
            else:
                header[name] = value
        return header

    def token(self, **claims: Any) -> str:
        return self.logto.token(scopes=ALL_SCOPES, **claims)

    def signed(
        self,
        header: Mapping[str, Any] | bytes,
        payload: Mapping[str, Any] | bytes,
        kid: str | None = None,
    ) -> str:
        """Sign exactly these bytes with a trusted key (default: the P-384 one)."""
        return self.logto.sign_raw(header, payload, kid=kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        return next(key for key in self.logto.jwks()["keys"] if key["kid"] == kid)

    def pem(self, kid: str, *, pkcs1: bool = False) -> bytes:
        public = self.logto.key(kid).public_key()
        if pkcs1:
            return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def raw_claim(self, name: str, raw: str, **overrides: Any) -> bytes:
        """Payload JSON whose ``name`` claim is the raw JSON text ``raw``."""
        marker = "@@raw-claim@@"
        text = json.dumps(self.claims(**{name: marker}, **overrides), separators=(",", ":"))
        return text.replace(json.dumps(marker), raw).encode("utf-8")


def _self_signed(key: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tenant.logto.app")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA384())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def make_world() -> World:
    """The tenant and the attacker every case is built against (tests/test_inspect_agrees.py
    reuses it with :data:`CASES`)."""
    logto = FakeLogto()
    rsa_kid = logto.add_key("RS256")
    p256_kid = logto.add_key("ES256")
    attacker_ec = ec.generate_private_key(ec.SECP384R1())
    attacker_jwk = {
        **ECAlgorithm.to_jwk(attacker_ec.public_key(), as_dict=True),
        "kid": ATTACKER_KID,
        "use": "sig",
        "alg": "ES384",
    }
    return World(
        logto=logto,
        ec_kid=logto.signing_kid,
        rsa_kid=rsa_kid,
        p256_kid=p256_kid,
        attacker_ec=attacker_ec,
        attacker_rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        attacker_jwk=attacker_jwk,
        attacker_cert=_self_signed(attacker_ec),
    )


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


@dataclass(frozen=True)
class Case:
    """One hostile request: the ``Authorization`` headers to send and the answer expected.

    ``cheap`` cases must be refused before the guard fetches any key.
    """

    category: str
    name: str
    auth: Callable[[World], Auth]
    expect: Expect
    route: str = "read"
    cheap: bool = False

    @property
    def id(self) -> str:
        return f"{self.category}-{self.name}"


def tok(build: Callable[[World], str]) -> Callable[[World], Auth]:
    """Send the token ``build`` makes as ``Authorization: Bearer <token>``."""
    return lambda w: bearer(build(w))


# --------------------------------------------------------------------------- the cases


def _alg_none_cases() -> list[Case]:
    def none_token(alg: str, *, signed: bool, kid: bool) -> Callable[[World], str]:
        def build(w: World) -> str:
            header = w.header(alg=alg) if kid else w.header(alg=alg, kid=None)
            return w.signed(header, w.claims()) if signed else compact(header, w.claims(), b"")

        return build

    cases = []
    for alg in ("none", "None", "NONE", "nOnE"):
        cases += [
            Case("alg-none", f"{alg}-signed", tok(none_token(alg, signed=True, kid=True)), TOKEN),
            Case(
                "alg-none",
                f"{alg}-empty-signature",
                tok(none_token(alg, signed=False, kid=True)),
                TOKEN,
            ),
            Case(
                "alg-none",
                f"{alg}-no-kid-empty-signature",
                tok(none_token(alg, signed=False, kid=False)),
                TOKEN,
            ),
        ]
    cases.append(
        Case(
            "alg-none",
            "none-no-kid-no-typ-two-segments",
            tok(lambda w: compact({"alg": "none"}, w.claims(), b"")[:-1]),
            TOKEN,
            cheap=True,
        )
    )
    return cases


def _hmac_cases() -> list[Case]:
    secrets_by_kind: dict[str, Callable[[World, str], bytes]] = {
        "pem": lambda w, kid: w.pem(kid),
        "pem-no-newline": lambda w, kid: w.pem(kid).rstrip(b"\n"),
        "jwk-json": lambda w, kid: json.dumps(w.jwk(kid)).encode(),
        "jwk-json-compact": lambda w, kid: json.dumps(w.jwk(kid), separators=(",", ":")).encode(),
    }
    cases = []
    for alg in ("HS256", "HS384", "HS512"):
        for kind, secret in secrets_by_kind.items():
            for key_name in ("ec", "rsa"):

                def build(
                    w: World, alg: str = alg, secret: Any = secret, key: str = key_name
                ) -> str:
                    kid = w.ec_kid if key == "ec" else w.rsa_kid
                    return hmac_forgery(w.header(alg=alg, kid=kid), w.claims(), secret(w, kid))

                cases.append(Case("hmac", f"{alg}-{key_name}-{kind}", tok(build), TOKEN))
    cases.append(
        Case(
            "hmac",
            "HS256-rsa-pkcs1-pem",
            tok(
                lambda w: hmac_forgery(
                    w.header(alg="HS256", kid=w.rsa_kid), w.claims(), w.pem(w.rsa_kid, pkcs1=True)
                )
            ),
            TOKEN,
        )
    )
    return cases


def _der_signature(w: World) -> str:
    header, payload = b64(encode(w.header())), b64(encode(w.claims()))
    key = w.logto.key(w.ec_kid)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    der = key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA384()))
    decode_dss_signature(der)  # really DER
    return f"{header}.{payload}.{b64(der)}"


def _ecdsa_cases() -> list[Case]:
    def p256(w: World) -> dict[str, Any]:
        return w.header(alg="ES256", kid=w.p256_kid)

    return [
        Case(
            "ecdsa", "es384-r0-s0", tok(lambda w: compact(w.header(), w.claims(), bytes(96))), TOKEN
        ),
        Case(
            "ecdsa",
            "es384-r-n-s-n",
            tok(lambda w: compact(w.header(), w.claims(), P384_ORDER.to_bytes(48, "big") * 2)),
            TOKEN,
        ),
        Case(
            "ecdsa",
            "es384-r0-s1",
            tok(lambda w: compact(w.header(), w.claims(), bytes(48) + (1).to_bytes(48, "big"))),
            TOKEN,
        ),
        Case(
            "ecdsa",
            "es384-all-ff",
            tok(lambda w: compact(w.header(), w.claims(), b"\xff" * 96)),
            TOKEN,
        ),
        Case("ecdsa", "es256-r0-s0", tok(lambda w: compact(p256(w), w.claims(), bytes(64))), TOKEN),
        Case(
            "ecdsa",
            "es256-r-n-s-n",
            tok(lambda w: compact(p256(w), w.claims(), P256_ORDER.to_bytes(32, "big") * 2)),
            TOKEN,
        ),
        Case("ecdsa", "es384-der-encoded", tok(_der_signature), TOKEN),
    ]


def _signature_cases() -> list[Case]:
    def head(token: str) -> str:
        return token.rsplit(".", 1)[0]

    return [
        Case("sig", "stripped", tok(lambda w: head(w.token()) + "."), TOKEN),
        Case("sig", "no-third-segment", tok(lambda w: head(w.token())), TOKEN, cheap=True),
        Case("sig", "truncated-1-char", tok(lambda w: w.token()[:-1]), TOKEN),
        Case("sig", "truncated-3-chars", tok(lambda w: w.token()[:-3]), TOKEN),
        Case("sig", "truncated-4-chars", tok(lambda w: w.token()[:-4]), TOKEN),
        Case("sig", "half", tok(lambda w: w.token()[:-64]), TOKEN),
        Case("sig", "extra-bytes", tok(lambda w: w.token() + "AAAA"), TOKEN),
        Case("sig", "one-extra-char", tok(lambda w: w.token() + "A"), TOKEN),
        Case(
            "sig",
            "garbage-right-length",
            tok(lambda w: head(w.token()) + "." + b64(secrets.token_bytes(96))),
            TOKEN,
        ),
        Case(
            "sig",
            "garbage-short",
            tok(lambda w: head(w.token()) + "." + b64(secrets.token_bytes(17))),
            TOKEN,
        ),
        Case(
            "sig",
            "garbage-long",
            tok(lambda w: head(w.token()) + "." + b64(secrets.token_bytes(4000))),
            TOKEN,
        ),
        Case(
            "sig",
            "transplanted-from-other-token",
            tok(lambda w: head(w.token(sub="other")) + "." + w.token().rsplit(".", 1)[1]),
            TOKEN,
        ),
        Case(
            "sig",
            "rsa-truncated",
            tok(
                lambda w: w.signed(w.header(alg="RS256", kid=w.rsa_kid), w.claims(), w.rsa_kid)[:-8]
            ),
            TOKEN,
        ),
        Case(
            "sig",
            "rsa-zero-signature",
            tok(lambda w: compact(w.header(alg="RS256", kid=w.rsa_kid), w.claims(), bytes(256))),
            TOKEN,
        ),
        Case(
            "sig",
            "payload-swapped-after-signing",
            tok(
                lambda w: ".".join(
                    [
                        w.token().split(".")[0],
                        b64(encode(w.claims(aud="https://evil.api"))),
                        w.token().split(".")[2],
                    ]
                )
            ),
            TOKEN,
        ),
    ]


def _kid_cases() -> list[Case]:
    kids: dict[str, Callable[[World], Any]] = {
        "unknown-thumbprint-shaped": lambda w: b64(secrets.token_bytes(32)),
        "empty": lambda w: "",
        "number": lambda w: 42,
        "list": lambda w: [w.ec_kid],
        "object": lambda w: {"kid": w.ec_kid},
        "null": lambda w: None,
        "true": lambda w: True,
        "long-2kB": lambda w: "A" * 2048,
        "long-10kB": lambda w: "A" * 10240,
        "path-like": lambda w: "../../etc/passwd",
        "file-url": lambda w: "file:///etc/passwd",
        "sql-like": lambda w: "' OR 1=1 --",
        "non-ascii": lambda w: "ключ-🔑",
        "nul-byte": lambda w: "\u0000",
        "lone-surrogate": lambda w: "\ud800",
        "trusted-lowercased": lambda w: w.ec_kid.lower() + "x",
        "trusted-with-suffix": lambda w: w.ec_kid + " ",
    }
    cases = []
    for name, kid in kids.items():

        def build(w: World, kid: Callable[[World], Any] = kid) -> str:
            header = w.header()
            header["kid"] = kid(w)
            return w.signed(header, w.claims())

        cases.append(Case("kid", name, tok(build), TOKEN))
    cases.append(
        Case("kid", "missing", tok(lambda w: w.signed(w.header(kid=None), w.claims())), TOKEN)
    )
    return cases


def _attacker_signed(w: World, **header: Any) -> str:
    return sign_with(w.attacker_ec, "ES384", w.header(kid=ATTACKER_KID, **header), w.claims())


def _embedded_key_cases() -> list[Case]:
    def x5c(w: World) -> list[str]:
        return [base64.b64encode(w.attacker_cert).decode("ascii")]

    def x5t(w: World) -> str:
        return b64(hashlib.sha256(w.attacker_cert).digest())

    attacker: dict[str, Callable[[World], str]] = {
        "jku-attacker-kid": lambda w: _attacker_signed(w, jku=ATTACKER_JKU),
        "x5u-attacker-kid": lambda w: _attacker_signed(w, x5u=ATTACKER_X5U),
        "jwk-attacker-kid": lambda w: _attacker_signed(w, jwk=w.attacker_jwk),
        "x5c-attacker-kid": lambda w: _attacker_signed(w, x5c=x5c(w), **{"x5t#S256": x5t(w)}),
        "all-four-attacker-kid": lambda w: _attacker_signed(
            w, jku=ATTACKER_JKU, x5u=ATTACKER_X5U, jwk=w.attacker_jwk, x5c=x5c(w)
        ),
        "jku-trusted-kid": lambda w: sign_with(
            w.attacker_ec, "ES384", w.header(jku=ATTACKER_JKU), w.claims()
        ),
        "jwk-trusted-kid": lambda w: sign_with(
            w.attacker_ec, "ES384", w.header(jwk={**w.attacker_jwk, "kid": w.ec_kid}), w.claims()
        ),
        "x5c-trusted-kid": lambda w: sign_with(
            w.attacker_ec, "ES384", w.header(x5c=x5c(w)), w.claims()
        ),
        "jwk-no-kid": lambda w: sign_with(
            w.attacker_ec, "ES384", w.header(kid=None, jwk=w.attacker_jwk), w.claims()
        ),
        "jku-no-kid": lambda w: sign_with(
            w.attacker_ec, "ES384", w.header(kid=None, jku=ATTACKER_JKU), w.claims()
        ),
    }
    trusted: dict[str, Callable[[World], dict[str, Any]]] = {
        "jku": lambda w: {"jku": ATTACKER_JKU},
        "x5u": lambda w: {"x5u": ATTACKER_X5U},
        "jwk": lambda w: {"jwk": w.attacker_jwk},
        "x5c": lambda w: {"x5c": x5c(w)},
        "all-four": lambda w: {
            "jku": ATTACKER_JKU,
            "x5u": ATTACKER_X5U,
            "jwk": w.attacker_jwk,
            "x5c": x5c(w),
        },
    }
    cases = [Case("embedded-key", name, tok(build), TOKEN) for name, build in attacker.items()]
    for name, extra in trusted.items():

        def build(w: World, extra: Callable[[World], dict[str, Any]] = extra) -> str:
            return w.signed(w.header(**extra(w)), w.claims())

        cases.append(Case("embedded-key", f"{name}-trusted-signature-accepted", tok(build), ACCEPT))
    return cases


def _extension_cases() -> list[Case]:
    headers: dict[str, Callable[[World], dict[str, Any]]] = {
        "crit-unknown": lambda w: w.header(
            crit=["urn:example:unknown"], **{"urn:example:unknown": 1}
        ),
        "crit-unknown-absent-member": lambda w: w.header(crit=["urn:example:unknown"]),
        "crit-registered-name": lambda w: w.header(crit=["exp"], exp=w.now() + 60),
        "crit-empty-list": lambda w: w.header(crit=[]),
        "crit-not-a-list": lambda w: w.header(crit="b64"),
        "b64-false-crit": lambda w: w.header(b64=False, crit=["b64"]),
        "b64-false-no-crit": lambda w: w.header(b64=False),
    }
    cases = []
    for name, header in headers.items():

        def build(w: World, header: Callable[[World], dict[str, Any]] = header) -> str:
            return w.signed(header(w), w.claims())

        cases.append(Case("ext", name, tok(build), TOKEN))
    return cases


def _typ_cases() -> list[Case]:
    return [
        Case("typ", "missing", tok(lambda w: w.logto.token(scopes=ALL_SCOPES, typ=None)), TOKEN),
        Case("typ", "JWT", tok(lambda w: w.logto.token(scopes=ALL_SCOPES, typ="JWT")), TOKEN),
        Case(
            "typ",
            "id-token-shaped",
            tok(
                lambda w: w.logto.token(
                    typ="JWT", aud=w.logto.app_id, scope=None, at_hash="x", nonce="n"
                )
            ),
            TOKEN,
        ),
        Case(
            "typ",
            "id-token-shaped-with-scopes",
            tok(lambda w: w.logto.token(scopes=ALL_SCOPES, typ="JWT", aud=w.logto.app_id)),
            TOKEN,
        ),
        Case("typ", "empty", tok(lambda w: w.logto.token(scopes=ALL_SCOPES, typ="")), TOKEN),
        Case(
            "typ",
            "trailing-space",
            tok(lambda w: w.logto.token(scopes=ALL_SCOPES, typ="at+jwt ")),
            TOKEN,
        ),
        Case("typ", "dpop", tok(lambda w: w.logto.token(scopes=ALL_SCOPES, typ="dpop+jwt")), TOKEN),
        Case(
            "typ",
            "list",
            tok(lambda w: w.signed(w.header(typ=["at+jwt"]), w.claims())),
            TOKEN,
        ),
        Case("typ", "number", tok(lambda w: w.signed(w.header(typ=1), w.claims())), TOKEN),
        Case(
            "typ",
            "application-prefix-accepted",
            tok(lambda w: w.logto.token(scopes=ALL_SCOPES, typ="application/at+jwt")),
            ACCEPT,
        ),
        Case(
            "typ",
            "upper-case-accepted",
            tok(lambda w: w.logto.token(scopes=ALL_SCOPES, typ="AT+JWT")),
            ACCEPT,
        ),
    ]


def _key_swap_cases() -> list[Case]:
    return [
        Case(
            "key-swap",
            "attacker-p384-under-trusted-kid",
            tok(lambda w: sign_with(w.attacker_ec, "ES384", w.header(), w.claims())),
            TOKEN,
        ),
        Case(
            "key-swap",
            "attacker-rsa-under-trusted-rsa-kid",
            tok(
                lambda w: sign_with(
                    w.attacker_rsa, "RS256", w.header(alg="RS256", kid=w.rsa_kid), w.claims()
                )
            ),
            TOKEN,
        ),
        Case(
            "key-swap",
            "trusted-p256-under-p384-kid",
            tok(lambda w: w.signed(w.header(alg="ES256"), w.claims(), kid=w.p256_kid)),
            TOKEN,
        ),
        Case(
            "key-swap",
            "trusted-rsa-under-p384-kid",
            tok(lambda w: w.signed(w.header(alg="RS256"), w.claims(), kid=w.rsa_kid)),
            TOKEN,
        ),
        Case(
            "key-swap",
            "trusted-p384-under-p256-kid",
            tok(lambda w: w.signed(w.header(kid=w.p256_kid), w.claims())),
            TOKEN,
        ),
        Case(
            "key-swap",
            "trusted-rsa-positive-control",
            tok(lambda w: w.signed(w.header(alg="RS256", kid=w.rsa_kid), w.claims(), w.rsa_kid)),
            ACCEPT,
        ),
        Case(
            "key-swap",
            "trusted-p256-positive-control",
            tok(lambda w: w.signed(w.header(alg="ES256", kid=w.p256_kid), w.claims(), w.p256_kid)),
            ACCEPT,
        ),
    ]


def _alg_mismatch_cases() -> list[Case]:
    def ec_key(w: World) -> Any:
        return w.logto.key(w.ec_kid)

    return [
        Case(
            "alg-mismatch",
            "ES256-header-on-p384-key",
            tok(lambda w: sign_with(ec_key(w), "ES256", w.header(alg="ES256"), w.claims())),
            TOKEN,
        ),
        Case(
            "alg-mismatch",
            "ES512-header-on-p384-key",
            tok(lambda w: sign_with(ec_key(w), "ES512", w.header(alg="ES512"), w.claims())),
            TOKEN,
        ),
        Case(
            "alg-mismatch",
            "ES384-header-on-p256-key",
            tok(
                lambda w: sign_with(
                    w.logto.key(w.p256_kid), "ES384", w.header(kid=w.p256_kid), w.claims()
                )
            ),
            TOKEN,
        ),
        Case(
            "alg-mismatch",
            "RS256-header-on-ec-key",
            tok(lambda w: w.signed(w.header(alg="RS256"), w.claims())),
            TOKEN,
        ),
        Case(
            "alg-mismatch",
            "PS256-header-on-ec-key",
            tok(lambda w: w.signed(w.header(alg="PS256"), w.claims())),
            TOKEN,
        ),
        Case(
            "alg-mismatch",
            "EdDSA-header-on-ec-key",
            tok(lambda w: w.signed(w.header(alg="EdDSA"), w.claims())),
            TOKEN,
        ),
        Case(
            "alg-mismatch",
            "ES384-header-on-rsa-key",
            tok(lambda w: w.signed(w.header(kid=w.rsa_kid), w.claims(), kid=w.rsa_kid)),
            TOKEN,
        ),
        Case(
            "alg-mismatch",
            "lowercase-es384",
            tok(lambda w: w.signed(w.header(alg="es384"), w.claims())),
            TOKEN,
        ),
        Case(
            "alg-mismatch",
            "alg-with-space",
            tok(lambda w: w.signed(w.header(alg="ES384 "), w.claims())),
            TOKEN,
        ),
        Case(
            "alg-mismatch",
            "missing",
            tok(lambda w: w.signed(w.header(alg=None), w.claims())),
            TOKEN,
        ),
        Case(
            "alg-mismatch", "number", tok(lambda w: w.signed(w.header(alg=384), w.claims())), TOKEN
        ),
        Case(
            "alg-mismatch",
            "list",
            tok(lambda w: w.signed(w.header(alg=["ES384"]), w.claims())),
            TOKEN,
        ),
        Case(
            "alg-mismatch",
            "cyrillic-E",
            tok(lambda w: w.signed(w.header(alg="\u0415S384"), w.claims())),
            TOKEN,
        ),
    ]


def _claim_cases(
    category: str, claim: str, values: Mapping[str, Callable[[World], Any]]
) -> list[Case]:
    cases = []
    for name, value in values.items():

        def build(w: World, value: Callable[[World], Any] = value) -> str:
            claims = w.claims()
            claims[claim] = value(w)
            return w.signed(w.header(), claims)

        cases.append(Case(category, name, tok(build), TOKEN))
    return cases


def _aud_cases() -> list[Case]:
    cases = _claim_cases(
        "aud",
        "aud",
        {
            "wrong": lambda w: "https://evil.api",
            "list-without-ours": lambda w: ["https://evil.api", "https://other.api"],
            "logto-organizations": lambda w: "urn:logto:resource:organizations",
            "logto-organization-token": lambda w: "urn:logto:organization:org1",
            "trailing-slash": lambda w: REALM + "/",
            "upper-case": lambda w: REALM.upper(),
            "prefix": lambda w: REALM + ".evil.example",
            "empty-list": lambda w: [],
            "nested-list": lambda w: [[REALM]],
            "object": lambda w: {"aud": REALM},
            "number": lambda w: 1,
            "null": lambda w: None,
        },
    )
    return [
        *cases,
        Case("aud", "missing", tok(lambda w: w.token(aud=None)), TOKEN),
        Case("aud", "list-with-ours-accepted", tok(lambda w: w.token(aud=["x", REALM])), ACCEPT),
    ]


def _iss_cases() -> list[Case]:
    return [
        *_claim_cases(
            "iss",
            "iss",
            {
                "wrong": lambda w: "https://evil.example/oidc",
                "trailing-slash": lambda w: w.logto.issuer + "/",
                "upper-case": lambda w: w.logto.issuer.upper(),
                "host-upper-case": lambda w: w.logto.issuer.replace("tenant", "TENANT"),
                "without-oidc": lambda w: w.logto.endpoint,
                "list": lambda w: [w.logto.issuer],
                "number": lambda w: 1,
                "null": lambda w: None,
                "homoglyph": lambda w: w.logto.issuer.replace("a", "\u0430"),
            },
        ),
        Case("iss", "missing", tok(lambda w: w.token(iss=None)), TOKEN),
    ]


def _raw_claim(claim: str, raw: str) -> Callable[[World], Auth]:
    return tok(lambda w: w.signed(w.header(), w.raw_claim(claim, raw)))


def _time_cases() -> list[Case]:
    cases = _claim_cases(
        "exp",
        "exp",
        {
            "past": lambda w: w.now() - 3600,
            "past-beyond-leeway": lambda w: w.now() - 31,
            "string": lambda w: str(w.now() + 3600),
            "true": lambda w: True,
            "false": lambda w: False,
            "float-1e30": lambda w: 1e30,
            "negative": lambda w: -1,
            "zero": lambda w: 0,
            "list": lambda w: [w.now() + 3600],
            "object": lambda w: {"exp": w.now() + 3600},
        },
    )
    cases += [
        Case("exp", "missing", tok(lambda w: w.token(exp=None)), TOKEN),
        Case("exp", "null-raw", _raw_claim("exp", "null"), TOKEN),
        Case("exp", "10-pow-400-raw", _raw_claim("exp", "1" + "0" * 400), TOKEN),
        Case("exp", "minus-10-pow-400-raw", _raw_claim("exp", "-1" + "0" * 400), TOKEN),
        Case("exp", "10-pow-5000-raw", _raw_claim("exp", "1" + "0" * 5000), TOKEN),
        Case("exp", "1e400-raw", _raw_claim("exp", "1e400"), TOKEN),
        Case("exp", "NaN-raw", _raw_claim("exp", "NaN"), TOKEN),
        Case("exp", "Infinity-raw", _raw_claim("exp", "Infinity"), TOKEN),
        Case("exp", "minus-Infinity-raw", _raw_claim("exp", "-Infinity"), TOKEN),
        Case("exp", "year-10000", tok(lambda w: w.token(exp=253402300800)), TOKEN),
        Case("exp", "within-leeway-accepted", tok(lambda w: w.token(exp=w.now() - 5)), ACCEPT),
        Case("exp", "year-9999-accepted", tok(lambda w: w.token(exp=253402300799)), ACCEPT),
        Case("exp", "float-accepted", tok(lambda w: w.token(exp=w.now() + 60.5)), ACCEPT),
    ]
    cases += [
        Case("time", "nbf-future", tok(lambda w: w.token(nbf=w.now() + 3600)), TOKEN),
        Case("time", "nbf-beyond-leeway", tok(lambda w: w.token(nbf=w.now() + 120)), TOKEN),
        Case("time", "iat-future", tok(lambda w: w.token(iat=w.now() + 3600)), TOKEN),
        Case("time", "iat-beyond-leeway", tok(lambda w: w.token(iat=w.now() + 120)), TOKEN),
        Case("time", "nbf-string", tok(lambda w: w.token(nbf=str(w.now()))), TOKEN),
        Case("time", "iat-true", tok(lambda w: w.token(iat=True)), TOKEN),
        Case("time", "nbf-10-pow-400-raw", _raw_claim("nbf", "1" + "0" * 400), TOKEN),
        Case("time", "iat-10-pow-400-raw", _raw_claim("iat", "1" + "0" * 400), TOKEN),
        Case("time", "nbf-NaN-raw", _raw_claim("nbf", "NaN"), TOKEN),
        Case("time", "nbf-null-raw", _raw_claim("nbf", "null"), TOKEN),
        Case("time", "nbf-within-leeway-accepted", tok(lambda w: w.token(nbf=w.now() + 5)), ACCEPT),
    ]
    return cases


def _duplicate_cases() -> list[Case]:
    def header(w: World, members: str) -> bytes:
        return ("{" + members.replace("KID", w.ec_kid) + "}").encode()

    def payload(w: World, extra: str) -> bytes:
        text = json.dumps(w.claims(), separators=(",", ":"))
        return (text[:-1] + "," + extra + "}").encode()

    headers = {
        "header-kid": '"alg":"ES384","typ":"at+jwt","kid":"KID","kid":"other"',
        "header-kid-trusted-last": '"alg":"ES384","typ":"at+jwt","kid":"other","kid":"KID"',
        "header-alg-none-first": '"alg":"none","alg":"ES384","typ":"at+jwt","kid":"KID"',
        "header-alg-none-last": '"alg":"ES384","alg":"none","typ":"at+jwt","kid":"KID"',
        "header-typ": '"alg":"ES384","typ":"JWT","typ":"at+jwt","kid":"KID"',
        "header-identical-twice": '"alg":"ES384","typ":"at+jwt","kid":"KID","kid":"KID"',
    }
    payloads = {
        "payload-aud": lambda w: '"aud":"https://evil.api"',
        "payload-aud-ours-again": lambda w: f'"aud":"{REALM}"',
        "payload-scope": lambda w: '"scope":""',
        "payload-exp": lambda w: f'"exp":{w.now() - 3600}',
        "payload-sub": lambda w: '"sub":"admin"',
    }
    cases = []
    for name, members in headers.items():

        def build_h(w: World, members: str = members) -> str:
            return w.signed(header(w, members), w.claims())

        cases.append(Case("dup", name, tok(build_h), TOKEN))
    for name, extra in payloads.items():

        def build_p(w: World, extra: Callable[[World], str] = extra) -> str:
            return w.signed(w.header(), payload(w, extra(w)))

        cases.append(Case("dup", name, tok(build_p), TOKEN))
    return cases


def _structure_cases() -> list[Case]:
    bad_headers: dict[str, bytes] = {
        "header-not-json": b"not json",
        "header-array": b'["ES384"]',
        "header-string": b'"ES384"',
        "header-number": b"384",
        "header-null": b"null",
        "header-true": b"true",
        "header-empty-object-text": b"",
        "header-invalid-utf8": b'{"alg":"\xff\xfe"}',
        "header-deep-nesting": b"[" * 3000 + b"]" * 3000,
        "header-NaN": b'{"alg":"ES384","kid":"k","x":NaN}',
        "header-trailing-garbage": b'{"alg":"ES384"} x',
    }
    bad_payloads: dict[str, bytes] = {
        "payload-array": b"[]",
        "payload-string": b'"claims"',
        "payload-number": b"1",
        "payload-null": b"null",
        "payload-not-json": b"not json",
        "payload-empty": b"",
        "payload-invalid-utf8": b'{"sub":"\xff"}',
        "payload-deep-nesting": b"[" * 2000 + b"]" * 2000,
    }

    def bad_header(raw: bytes) -> Callable[[World], str]:
        return lambda w: w.signed(raw, w.claims())

    def bad_payload(raw: bytes) -> Callable[[World], str]:
        return lambda w: w.signed(w.header(), raw)

    cases = [
        Case("struct", name, tok(bad_header(raw)), TOKEN, cheap=True)
        for name, raw in bad_headers.items()
    ]
    cases += [
        Case("struct", name, tok(bad_payload(raw)), TOKEN) for name, raw in bad_payloads.items()
    ]
    return [
        *cases,
        Case("struct", "one-segment", tok(lambda w: "abc"), TOKEN, cheap=True),
        Case("struct", "four-segments", tok(lambda w: w.token() + ".AAAA"), TOKEN, cheap=True),
        Case(
            "struct",
            "jwe-shaped",
            tok(
                lambda w: ".".join([b64(b'{"alg":"RSA-OAEP","enc":"A256GCM"}'), "a", "b", "c", "d"])
            ),
            TOKEN,
            cheap=True,
        ),
        Case("struct", "dots-only", tok(lambda w: ".."), TOKEN, cheap=True),
        Case(
            "struct",
            "empty-header-segment",
            tok(lambda w: "." + w.token().split(".", 1)[1]),
            TOKEN,
            cheap=True,
        ),
        Case(
            "struct",
            "empty-payload-segment",
            tok(lambda w: re.sub(r"\.[^.]+\.", "..", w.token())),
            TOKEN,
        ),
        Case(
            # '=' may only end a b64token (RFC 6750 §2.1), so this is not even one token.
            "struct",
            "padded-inner-segments",
            tok(lambda w: ".".join(s + "==" for s in w.token().split("."))),
            REQUEST,
            cheap=True,
        ),
        Case(
            "struct",
            "padded-signature",
            tok(lambda w: w.token() + "=="),
            TOKEN,
            cheap=True,
        ),
        Case(
            "struct",
            "standard-base64-alphabet",
            tok(lambda w: w.token().replace("-", "+").replace("_", "/") + "+/"),
            TOKEN,
            cheap=True,
        ),
        Case(
            "struct",
            "json-serialization",
            tok(lambda w: json.dumps({"payload": "x", "signature": "y"})),
            REQUEST,
            cheap=True,
        ),
    ]


def _oversized(w: World) -> str:
    return w.token(padding="x" * 9000)


def _encoding_cases() -> list[Case]:
    def insert(token: str, text: bytes) -> bytes:
        raw = token.encode("ascii")
        return raw[:40] + text + raw[40:]

    return [
        Case(
            "encoding",
            "utf8-e-acute-in-token",
            lambda w: [("Authorization", b"Bearer " + insert(w.token(), "é".encode()))],
            REQUEST,
            cheap=True,
        ),
        Case(
            "encoding",
            "latin1-byte-in-token",
            lambda w: [("Authorization", b"Bearer " + insert(w.token(), b"\xff"))],
            REQUEST,
            cheap=True,
        ),
        Case(
            "encoding",
            "utf8-bom-before-token",
            lambda w: [("Authorization", b"Bearer \xef\xbb\xbf" + w.token().encode())],
            REQUEST,
            cheap=True,
        ),
        Case(
            "encoding",
            "space-inside-token",
            lambda w: [("Authorization", b"Bearer " + insert(w.token(), b" "))],
            REQUEST,
            cheap=True,
        ),
        Case(
            "encoding",
            "tab-inside-token",
            lambda w: [("Authorization", b"Bearer " + insert(w.token(), b"\t"))],
            REQUEST,
            cheap=True,
        ),
        Case(
            "encoding",
            "space-before-dot",
            tok(lambda w: w.token().replace(".", " .", 1)),
            REQUEST,
            cheap=True,
        ),
        Case("encoding", "oversized-valid-token", tok(_oversized), TOKEN, cheap=True),
        Case("encoding", "oversized-garbage", tok(lambda w: "A" * 100_000), TOKEN, cheap=True),
        Case(
            "encoding",
            "non-ascii-typ",
            tok(lambda w: w.signed(w.header(typ="at\uff0bjwt"), w.claims())),
            TOKEN,
        ),
        Case(
            "encoding",
            "non-ascii-iss",
            tok(lambda w: w.token(iss=w.logto.issuer + "\u200b")),
            TOKEN,
        ),
        Case(
            "encoding",
            "non-ascii-aud",
            tok(lambda w: w.token(aud=REALM + "\u0301")),
            TOKEN,
        ),
        Case(
            "encoding",
            "non-ascii-sub-accepted",
            tok(lambda w: w.token(sub="app-é-🔑", client_id="app-é-🔑")),
            ACCEPT,
        ),
        Case(
            "encoding",
            "escaped-quote-in-claims-accepted",
            tok(lambda w: w.token(sub='a"b\\c', jti='"\r\n')),
            ACCEPT,
        ),
    ]


def _authorization_cases() -> list[Case]:
    def value(text: str) -> Callable[[World], Auth]:
        return lambda w: [("Authorization", text.replace("TOKEN", w.token()))]

    return [
        Case("authz", "no-header", lambda w: [], MISSING, cheap=True),
        Case("authz", "empty-header", value(""), MISSING, cheap=True),
        Case("authz", "basic", value("Basic dXNlcjpwYXNz"), MISSING, cheap=True),
        Case("authz", "basic-with-jwt", value("Basic TOKEN"), MISSING, cheap=True),
        Case(
            "authz",
            "digest",
            value('Digest username="a", realm="b", nonce="c", uri="/", response="d"'),
            MISSING,
            cheap=True,
        ),
        Case("authz", "token-scheme", value("Token TOKEN"), MISSING, cheap=True),
        Case("authz", "dpop-scheme", value("DPoP TOKEN"), MISSING, cheap=True),
        Case("authz", "bearer-prefix-word", value("Bearers TOKEN"), MISSING, cheap=True),
        Case("authz", "token-without-scheme", value("TOKEN"), MISSING, cheap=True),
        Case("authz", "bearer-alone", value("Bearer"), REQUEST, cheap=True),
        Case("authz", "bearer-space", value("Bearer "), REQUEST, cheap=True),
        Case("authz", "bearer-spaces", value("Bearer     "), REQUEST, cheap=True),
        Case("authz", "two-tokens", value("Bearer TOKEN TOKEN"), REQUEST, cheap=True),
        Case("authz", "two-tokens-comma", value("Bearer TOKEN,TOKEN"), REQUEST, cheap=True),
        Case("authz", "two-tokens-comma-space", value("Bearer TOKEN, TOKEN"), REQUEST, cheap=True),
        Case("authz", "trailing-comma", value("Bearer TOKEN,"), REQUEST, cheap=True),
        Case("authz", "auth-param-syntax", value('Bearer token="TOKEN"'), REQUEST, cheap=True),
        Case("authz", "double-bearer", value("Bearer Bearer TOKEN"), REQUEST, cheap=True),
        Case(
            "authz",
            "two-headers-both-valid",
            lambda w: [("Authorization", f"Bearer {w.token()}")] * 2,
            REQUEST,
            cheap=True,
        ),
        Case(
            "authz",
            "two-headers-basic-and-bearer",
            lambda w: [
                ("Authorization", "Basic dXNlcjpwYXNz"),
                ("Authorization", f"Bearer {w.token()}"),
            ],
            REQUEST,
            cheap=True,
        ),
        Case(
            "authz",
            "two-headers-empty-and-bearer",
            lambda w: [("Authorization", ""), ("Authorization", f"Bearer {w.token()}")],
            REQUEST,
            cheap=True,
        ),
        Case("authz", "lowercase-bearer-accepted", value("bearer TOKEN"), ACCEPT),
        Case("authz", "uppercase-bearer-accepted", value("BEARER TOKEN"), ACCEPT),
        Case("authz", "mixed-case-bearer-accepted", value("bEaReR TOKEN"), ACCEPT),
        Case("authz", "extra-spaces-accepted", value("Bearer     TOKEN"), ACCEPT),
        Case("authz", "surrounding-spaces-accepted", value("  Bearer TOKEN   "), ACCEPT),
        Case("authz", "valid-token-write-route-accepted", value("Bearer TOKEN"), ACCEPT, "write"),
        Case("authz", "b64token-chars-not-a-jwt", value("Bearer abc~+/def=="), TOKEN, cheap=True),
    ]


def _scope_cases() -> list[Case]:
    def with_scope(scope: Any) -> Callable[[World], Auth]:
        return tok(lambda w: w.logto.token(scope=scope))

    return [
        Case("scope", "read-only-on-write-route", with_scope("read:products"), SCOPE, "write"),
        Case("scope", "write-only-on-read-route", with_scope("write:products"), SCOPE),
        Case("scope", "absent", tok(lambda w: w.logto.token()), SCOPE),
        Case("scope", "absent-on-write-route", tok(lambda w: w.logto.token()), SCOPE, "write"),
        Case("scope", "empty", with_scope(""), SCOPE),
        Case("scope", "spaces-only", with_scope("   "), SCOPE),
        Case("scope", "upper-case", with_scope("READ:PRODUCTS"), SCOPE),
        Case("scope", "suffix", with_scope("read:productsx"), SCOPE),
        Case("scope", "comma-joined", with_scope("read:products,write:products"), SCOPE, "write"),
        Case("scope", "extra-spaces-accepted", with_scope("  read:products   other "), ACCEPT),
        Case("scope", "list", with_scope(["read:products"]), TOKEN),
        Case("scope", "number", with_scope(1), TOKEN),
        Case("scope", "object", with_scope({"read:products": True}), TOKEN),
        Case(
            "scope", "scp-claim-ignored", tok(lambda w: w.logto.token(scp=list(ALL_SCOPES))), SCOPE
        ),
        Case("scope", "sub-missing", tok(lambda w: w.token(sub=None)), TOKEN),
        Case("scope", "sub-empty", tok(lambda w: w.token(sub="")), TOKEN),
        Case("scope", "sub-number", tok(lambda w: w.token(sub=1)), TOKEN),
        Case("scope", "client-id-number", tok(lambda w: w.token(client_id=1)), TOKEN),
        Case("scope", "organization-id-list", tok(lambda w: w.token(organization_id=["o"])), TOKEN),
    ]


CASES: list[Case] = [
    *_alg_none_cases(),
    *_hmac_cases(),
    *_ecdsa_cases(),
    *_signature_cases(),
    *_kid_cases(),
    *_embedded_key_cases(),
    *_extension_cases(),
    *_typ_cases(),
    *_key_swap_cases(),
    *_alg_mismatch_cases(),
    *_aud_cases(),
    *_iss_cases(),
    *_time_cases(),
    *_duplicate_cases(),
    *_structure_cases(),
    *_encoding_cases(),
    *_authorization_cases(),
    *_scope_cases(),
]


# --------------------------------------------------------------------------- harness


class RecordingTransport:
    """Answers the trusted JWKS URI from the fake tenant and records every URL asked for.

    Any other URL gets the attacker's key set, so following ``jku`` would "work" and be seen.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.urls: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.urls.append(url)
        if url == self.world.logto.jwks_uri:
            return self.world.logto.handle(request)
        return httpx.Response(200, json={"keys": [self.world.attacker_jwk]})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


def build_app(logto: FakeLogto, http_client: httpx.AsyncClient, tmp_path: Path) -> FastAPI:
    guard = LogtoGuard(endpoint=logto.endpoint, audience=logto.audience, http_client=http_client)
    settings = Settings(endpoint=logto.endpoint, db_path=str(tmp_path / "shop.sqlite3"))
    return create_app(settings, guard=guard)


async def send(app: FastAPI, route: str, auth: Auth) -> httpx.Response:
    headers = [
        (name.encode("ascii"), value if isinstance(value, bytes) else value.encode("ascii"))
        for name, value in auth
    ]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        if route == "write":
            body = {"name": "Tea", "price": 1}
            return await client.post("/products", json=body, headers=headers)
        return await client.get("/products", headers=headers)


def parse_challenge(value: str) -> dict[str, str]:
    """The auth-params of one ``Bearer`` challenge, strictly in RFC 9110 §11.6.1 syntax."""
    scheme, _, rest = value.partition(" ")
    assert scheme == "Bearer", value
    params: dict[str, str] = {}
    position = 0
    while True:
        match = _PARAM.match(rest, position)
        assert match is not None, value
        assert match[1] not in params, value
        params[match[1]] = re.sub(r"\\(.)", r"\1", match[2])
        position = match.end()
        if position == len(rest):
            return params
        assert rest.startswith(", ", position), value
        position += 2


def assert_answer(response: httpx.Response, expect: Expect, route: str) -> None:
    """Status, JSON body and ``WWW-Authenticate`` exactly as the RFC 6750 contract says."""
    status, error = expect
    shown = (response.status_code, response.text[:300], dict(response.headers))
    assert response.status_code != 500, shown
    if expect == ACCEPT:
        assert response.status_code == (201 if route == "write" else 200), shown
        assert "www-authenticate" not in response.headers, shown
        return
    assert response.status_code == status, shown
    body = response.json()
    assert isinstance(body, dict), shown
    assert isinstance(body.get("detail"), str) and body["detail"], shown
    assert body.get("error") == error, shown
    assert set(body) == ({"detail"} if error is None else {"detail", "error"}), shown
    challenges = response.headers.get_list("www-authenticate")
    assert len(challenges) == 1, shown
    assert challenges[0].isascii() and challenges[0].isprintable(), shown
    challenge = parse_challenge(challenges[0])
    assert challenge["realm"] == REALM, shown
    if error is None:
        assert set(challenge) == {"realm"}, shown
        return
    assert challenge["error"] == error, shown
    assert challenge["error_description"] == body["detail"], shown
    if error == "insufficient_scope":
        needed = "write:products" if route == "write" else "read:products"
        assert challenge["scope"] == needed, shown
        assert set(challenge) == {"realm", "error", "error_description", "scope"}, shown
    else:
        assert set(challenge) == {"realm", "error", "error_description"}, shown


# --------------------------------------------------------------------------- the tests


@dataclass(frozen=True)
class Demo:
    """One demo app for the whole module (building it costs tens of milliseconds).

    Each case swaps in a fresh guard (empty JWKS and token caches, its own recording HTTP
    client) through FastAPI's ``dependency_overrides``; the scopes each route declares stay
    those of the demo. The demo's own guard can never fetch anything.
    """

    app: FastAPI
    guard: LogtoGuard


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the demo's own guard was used: {request.url}")


@pytest.fixture(scope="module")
def demo(world: World, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    logto = world.logto
    guard = LogtoGuard(
        endpoint=logto.endpoint,
        audience=logto.audience,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(_refuse)),
    )
    settings = Settings(
        endpoint=logto.endpoint, db_path=str(tmp_path_factory.mktemp("demo") / "shop.sqlite3")
    )
    return Demo(app=create_app(settings, guard=guard), guard=guard)


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
async def test_attack_gets_the_rfc6750_answer(case: Case, world: World, demo: Demo) -> None:
    """Each hostile request gets its exact RFC 6750 answer and never a foreign fetch."""
    recorder = RecordingTransport(world)
    before = world.logto.jwks_requests
    async with recorder.client() as http_client:
        guard = LogtoGuard(
            endpoint=world.logto.endpoint, audience=world.logto.audience, http_client=http_client
        )
        demo.app.dependency_overrides[demo.guard] = guard
        try:
            response = await send(demo.app, case.route, case.auth(world))
        finally:
            demo.app.dependency_overrides.clear()
    assert_answer(response, case.expect, case.route)
    assert set(recorder.urls) <= {world.logto.jwks_uri}, recorder.urls
    assert world.logto.jwks_requests - before == len(recorder.urls)
    assert len(recorder.urls) <= 2, recorder.urls  # first fetch, then at most one refetch
    if case.cheap:
        assert recorder.urls == [], "refused before any key lookup"
    if case.expect == ACCEPT:
        assert recorder.urls == [world.logto.jwks_uri]  # the fresh guard did the work


def test_cases_are_unique_and_cover_every_category() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    categories = {case.category for case in CASES}
    assert all(f"``{category}``" in (__doc__ or "") for category in categories), categories
    assert f"{len(CASES)} cases" in (__doc__ or "")


async def test_oversized_token_never_triggers_a_jwks_fetch(tmp_path: Path) -> None:
    """A token over ``max_token_size`` is refused on its length alone, on a fresh guard."""
    logto = FakeLogto()
    token = logto.token(scopes=ALL_SCOPES, padding="x" * 9000)
    assert len(token) > 8192
    async with logto.http_client() as http_client:
        app = build_app(logto, http_client, tmp_path)
        response = await send(app, "read", bearer(token))
    assert_answer(response, TOKEN, "read")
    assert logto.jwks_requests == 0


async def test_attacker_key_urls_are_never_fetched_even_after_many_attempts(
    world: World, tmp_path: Path
) -> None:
    """A stream of jku/x5u forgeries on one guard fetches only the configured JWKS."""
    recorder = RecordingTransport(world)
    builders = [case for case in CASES if case.category == "embedded-key"]
    async with recorder.client() as http_client:
        app = build_app(world.logto, http_client, tmp_path)
        for case in builders * 3:
            response = await send(app, case.route, case.auth(world))
            assert_answer(response, case.expect, case.route)
    assert recorder.urls, "the trusted JWKS was fetched"
    assert set(recorder.urls) == {world.logto.jwks_uri}
    assert ATTACKER_JKU not in recorder.urls and ATTACKER_X5U not in recorder.urls


async def test_rejected_forgery_does_not_poison_the_verified_token_cache(
    world: World, tmp_path: Path
) -> None:
    """A valid token still works after forgeries of it; the forgeries stay refused."""
    token = world.token()
    head, signature = token.rsplit(".", 1)
    forgeries = [head + ".", head + "." + b64(bytes(96)), head.split(".")[0] + ".e30." + signature]
    async with RecordingTransport(world).client() as http_client:
        app = build_app(world.logto, http_client, tmp_path)
        assert_answer(await send(app, "read", bearer(token)), ACCEPT, "read")
        for forged in forgeries:
            assert_answer(await send(app, "read", bearer(forged)), TOKEN, "read")
        assert_answer(await send(app, "read", bearer(token)), ACCEPT, "read")


def single_bearer(case: Case, world: World) -> str | None:
    """The token of a case sending exactly ``Authorization: Bearer <token>``, else None."""
    auth = case.auth(world)
    if len(auth) != 1 or auth[0][0].lower() != "authorization" or isinstance(auth[0][1], bytes):
        return None
    scheme, _, token = auth[0][1].partition(" ")
    # The CLI reads a token, not a header: spacing and scheme spelling are the header's.
    if scheme != "Bearer" or not token or not token.isascii() or any(c.isspace() for c in token):
        return None
    return token


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
async def test_inspect_gives_the_guards_verdict(case: Case, world: World, demo: Demo) -> None:
    """`logto-guard inspect` says VALID exactly when the guard accepts, and otherwise the
    very description the guard answers with."""
    token = single_bearer(case, world)
    if token is None:
        assert case.category in {"authz", "encoding", "struct"}, case.id  # header-level cases
        return
    logto = world.logto
    async with RecordingTransport(world).client() as http_client:
        guard = LogtoGuard(
            endpoint=logto.endpoint, audience=logto.audience, http_client=http_client
        )
        demo.app.dependency_overrides[demo.guard] = guard
        try:
            response = await send(demo.app, case.route, case.auth(world))
        finally:
            demo.app.dependency_overrides.clear()
    scope = "read:products" if case.route == "read" else "write:products"
    out, err = io.StringIO(), io.StringIO()
    argv = ["inspect", "-", "--endpoint", logto.endpoint, "--audience", logto.audience]
    async with RecordingTransport(world).client() as cli_client:
        status = await asyncio.to_thread(
            cli_main,
            [*argv, "--scope", scope],
            http_client=cli_client,
            stdin=io.StringIO(token),
            stdout=out,
            stderr=err,
            environ={},
        )
    verdict = out.getvalue().splitlines()[-1]
    if response.status_code < 300:
        assert (verdict, status) == ("verdict: VALID", 0)
    else:
        assert verdict.startswith("verdict: INVALID: ") and status == 1, verdict
        assert f": {response.json()['detail']}" in verdict
