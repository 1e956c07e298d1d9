"""Guard configuration: keyword-only, frozen, validated when it is built."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, cast

from .errors import ConfigurationError
from .urls import check_endpoint, check_url

#: Every asymmetric JWS algorithm the guard can verify. ``none`` and ``HS*`` are absent on
#: purpose: a resource server never shares a secret with the issuer (RFC 8725 §3.1).
SUPPORTED_ALGORITHMS = frozenset(
    {
        "ES256",
        "ES384",
        "ES512",
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "EdDSA",
    }
)
DEFAULT_LEEWAY = 30.0
DEFAULT_TYP = "at+jwt"
DEFAULT_MAX_TOKEN_SIZE = 8192
DEFAULT_JWKS_TIMEOUT = 5.0
DEFAULT_JWKS_MAX_AGE = 600.0
DEFAULT_JWKS_MIN_COOLDOWN = 1.0
DEFAULT_JWKS_COOLDOWN = 30.0
DEFAULT_JWKS_STALE_IF_ERROR = 3600.0
DEFAULT_TOKEN_CACHE_SIZE = 4096

#: Logto's audience for organization-scoped tokens of *all* organizations: never an API's.
FORBIDDEN_AUDIENCE = "urn:logto:resource:organizations"
#: Pass as ``audience`` to accept organization tokens: ``aud`` must then be
#: ``urn:logto:organization:<id>`` for the organization the request names.
ORGANIZATION_AUDIENCE = "urn:logto:organization:*"
ORGANIZATION_AUDIENCE_PREFIX = "urn:logto:organization:"
_HEADER_SAFE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")


def _positive(name: str, value: object, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigurationError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class GuardConfig:
    """Everything the guard needs to know about the tenant and the API it protects.

    Args:
        endpoint: the Logto endpoint, e.g. ``https://<tenant>.logto.app`` (without ``/oidc``).
        audience: the API resource indicator tokens must be issued for, or
            :data:`ORGANIZATION_AUDIENCE` for organization tokens (``aud`` is then
            ``urn:logto:organization:<id>`` of the organization named by the request).
        issuer: accepted ``iss`` value(s); defaults to ``<endpoint>/oidc``. Give several
            when tokens come from both the default and a custom domain.
        jwks_uri: where the signing keys live; defaults to ``<endpoint>/oidc/jwks``.
        algorithms: allow-list of JWS algorithms (asymmetric only).
        leeway: seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
        require_typ: the header ``typ`` required (RFC 9068), or ``None`` to skip the check.
        realm: the ``realm`` of ``WWW-Authenticate``; defaults to the audience.
        match_trailing_slash: accept ``aud`` with or without a trailing ``/`` (MCP clients
            and Logto's API resource settings disagree on ``https://mcp.example.com/``).
        allow_insecure_http: allow ``http://`` URLs to hosts other than loopback (a
            private network only: keys would travel without integrity).
        max_token_size: longer bearer tokens are refused before any parsing.
        jwks_timeout: total seconds one JWKS fetch may take.
        jwks_max_age: seconds a fetched key set is used before it is refreshed.
        jwks_min_cooldown: shortest wait between refetches triggered by an unknown ``kid``.
        jwks_cooldown: longest such wait; the wait doubles while refetches find nothing.
        jwks_stale_if_error: seconds past ``jwks_max_age`` a key set stays usable while
            the JWKS cannot be fetched.
        token_cache_size: verified tokens remembered (0 turns the cache off).
        accept_organization_tokens: on a guard without ``organization=``, accept Logto's
            organization-level API tokens (``aud`` = the API plus an ``organization_id``
            claim) as if they were global grants. Off by default: their scopes come from
            the app's or user's roles *in one organization*, so accepting them lets an
            organization role grant what the global roles do not.
        m2m_clients: App IDs of your M2M apps that exchange user tokens (RFC 8693): a
            token whose ``client_id`` is one of them and whose ``sub`` is not is marked
            :attr:`AuthInfo.delegated` (Logto adds ``act`` only with an actor token).

    Raises:
        ConfigurationError: any value is unusable (checked here, not per request).
    """

    endpoint: str
    audience: str
    issuer: str | tuple[str, ...] | None = None
    jwks_uri: str = ""  # "" = <endpoint>/oidc/jwks
    algorithms: Collection[str] = SUPPORTED_ALGORITHMS
    leeway: float = DEFAULT_LEEWAY
    require_typ: str | None = DEFAULT_TYP
    realm: str = ""  # "" = the audience
    match_trailing_slash: bool = False
    allow_insecure_http: bool = False
    max_token_size: int = DEFAULT_MAX_TOKEN_SIZE
    jwks_timeout: float = DEFAULT_JWKS_TIMEOUT
    jwks_max_age: float = DEFAULT_JWKS_MAX_AGE
    jwks_min_cooldown: float = DEFAULT_JWKS_MIN_COOLDOWN
    jwks_cooldown: float = DEFAULT_JWKS_COOLDOWN
    jwks_stale_if_error: float = DEFAULT_JWKS_STALE_IF_ERROR
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE
    accept_organization_tokens: bool = False
    m2m_clients: Collection[str] = ()
    issuers: tuple[str, ...] = field(init=False)
    audiences: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        for name in ("match_trailing_slash", "allow_insecure_http", "accept_organization_tokens"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(f"{name} must be True or False")
        insecure = self.allow_insecure_http
        endpoint = check_endpoint(self.endpoint, allow_insecure_http=insecure)
        set_(self, "endpoint", endpoint)
        if not isinstance(self.audience, str) or not _HEADER_SAFE.fullmatch(self.audience):
            raise ConfigurationError("audience must be a non-empty printable ASCII string")
        if self.audience == FORBIDDEN_AUDIENCE:
            raise ConfigurationError(f"{FORBIDDEN_AUDIENCE!r} is not an API audience")
        audiences = {self.audience}
        if self.match_trailing_slash and self.audience != ORGANIZATION_AUDIENCE:
            bare = self.audience.rstrip("/")
            audiences |= {bare, bare + "/"}
        set_(self, "audiences", frozenset(audiences))
        raw_issuers = self.issuer if self.issuer is not None else f"{endpoint}/oidc"
        if isinstance(raw_issuers, str):
            raw_issuers = (raw_issuers,)
        issuers = tuple(
            check_url("issuer", value, allow_insecure_http=insecure) for value in raw_issuers
        )
        if not issuers:
            raise ConfigurationError("issuer must name at least one issuer")
        set_(self, "issuers", issuers)
        jwks_uri = self.jwks_uri or f"{endpoint}/oidc/jwks"
        set_(self, "jwks_uri", check_url("jwks_uri", jwks_uri, allow_insecure_http=insecure))
        algorithms = frozenset(self.algorithms) if not isinstance(self.algorithms, str) else None
        if not algorithms:
            raise ConfigurationError("algorithms must be a non-empty collection of names")
        unsupported = sorted(algorithms - SUPPORTED_ALGORITHMS)
        if unsupported:
            raise ConfigurationError(
                f"algorithms not allowed: {', '.join(unsupported)} "
                f"(supported: {', '.join(sorted(SUPPORTED_ALGORITHMS))}; never none or HS*)"
            )
        set_(self, "algorithms", algorithms)
        leeway = _positive("leeway", self.leeway, allow_zero=True)
        if leeway > 300:
            raise ConfigurationError(f"leeway must be at most 300 seconds, got {leeway}")
        set_(self, "leeway", leeway)
        if self.require_typ is not None and (
            not isinstance(self.require_typ, str) or not self.require_typ
        ):
            raise ConfigurationError("require_typ must be a non-empty string or None")
        realm = self.realm or self.audience
        if not isinstance(realm, str) or not _HEADER_SAFE.fullmatch(realm):
            raise ConfigurationError("realm must be printable ASCII without quotes or backslashes")
        set_(self, "realm", realm)
        for name in ("jwks_timeout", "jwks_max_age", "jwks_min_cooldown", "jwks_cooldown"):
            set_(self, name, _positive(name, getattr(self, name)))
        set_(
            self,
            "jwks_stale_if_error",
            _positive("jwks_stale_if_error", self.jwks_stale_if_error, allow_zero=True),
        )
        if self.jwks_min_cooldown > self.jwks_cooldown:
            raise ConfigurationError("jwks_min_cooldown must not exceed jwks_cooldown")
        for name in ("max_token_size", "token_cache_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigurationError(f"{name} must be a non-negative integer, got {value!r}")
        clients = self.m2m_clients
        if isinstance(clients, str) or not all(isinstance(c, str) and c for c in clients):
            raise ConfigurationError("m2m_clients must be a collection of App IDs (strings)")
        set_(self, "m2m_clients", frozenset(clients))
        if self.max_token_size < 64:
            raise ConfigurationError("max_token_size must be at least 64 bytes")

    @property
    def token_endpoint(self) -> str:
        """``<endpoint>/oidc/token``: where M2M apps get tokens (shown in OpenAPI)."""
        return f"{self.endpoint}/oidc/token"

    @property
    def organization_tokens(self) -> bool:
        """True when the audience is ``urn:logto:organization:<id>`` of each request."""
        return self.audience == ORGANIZATION_AUDIENCE

    @classmethod
    def from_options(cls, **options: object) -> GuardConfig:
        """Build a config from names known only at run time (a settings mapping), turning
        unknown or missing names into ConfigurationError (the values are checked as usual).
        """
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ConfigurationError(f"unknown option(s): {', '.join(unknown)}")
        missing = sorted({"endpoint", "audience"} - set(options))
        if missing:
            raise ConfigurationError(f"missing required option(s): {', '.join(missing)}")
        config: GuardConfig = cast(Any, cls)(**options)  # names checked here, values there
        return config
