"""
Verification of the broker's tokens with PyJWT, against a JWKS the broker publishes.

No Airflow and no Flask in here: ``airflow2_auth`` turns the outcomes into HTTP answers. PyJWT is the library because
Airflow 2 already depends on it (no new dependency in Airflow's environment), its ``PyJWKClient`` fetches and caches
a JWKS with a timeout, and its ``decode`` checks signature, ``exp``/``nbf`` with leeway, ``iss`` and required claims.
What PyJWT leaves to its caller is done here, explicitly, whatever PyJWT version Airflow was installed with:
the header's ``typ``, an asymmetric algorithm allow-list that must also fit the key, an exact single ``aud``,
``iat`` not in the future, a non-empty ``jti``, and a rate limit on the refetch for an unknown ``kid``.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet
from jwt.exceptions import PyJWKClientError, PyJWKSetError

# Signatures a public key set can back. HMAC and "none" would need a shared secret or nothing: never allowed.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "jti")


@dataclass(frozen=True)
class VerifierSettings:
    """
    What a token must be to name a caller. ``airflow2_auth`` reads these from ``[token_broker]`` in ``airflow.cfg``.

    Example (the proxy's per-caller tokens)::

        VerifierSettings(jwks_url="https://broker.example/airflow/jwks.json",
                         issuer="https://broker.example", audience="https://airflow.prod.example")
    """

    jwks_url: str
    issuer: str
    audience: str
    #: the header ``typ``, compared exactly: ``JWT`` (per-caller tokens) or ``at+jwt`` (clients' access tokens)
    token_type: str = "JWT"
    algorithms: tuple[str, ...] = ("ES256",)
    #: seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``
    leeway: float = 10.0
    username_claim: str = "fab_username"
    #: seconds for each JWKS fetch (connect, and each read)
    jwks_timeout: float = 5.0
    #: seconds a fetched JWKS is used before it is fetched again
    jwks_lifespan: float = 300.0
    #: at most one extra fetch for an unknown ``kid`` per this many seconds
    jwks_refetch_interval: float = 30.0

    def __post_init__(self) -> None:
        for name in ("jwks_url", "issuer", "audience", "token_type", "username_claim"):
            if not getattr(self, name):
                raise ValueError(f"{name} must be set")
        if urlparse(self.jwks_url).scheme not in ("http", "https"):
            raise ValueError("jwks_url must be an http(s) URL")
        if not self.algorithms or not set(self.algorithms) <= ASYMMETRIC_ALGORITHMS:
            raise ValueError(f"algorithms must be among {sorted(ASYMMETRIC_ALGORITHMS)}, got {list(self.algorithms)}")
        if self.leeway < 0 or self.jwks_timeout <= 0 or self.jwks_lifespan <= 0 or self.jwks_refetch_interval < 0:
            raise ValueError("leeway, jwks_refetch_interval must be >= 0; jwks_timeout, jwks_lifespan > 0")


class TokenRejected(Exception):
    """
    The token is not one this Airflow accepts: the caller's fault (401 ``invalid_token``).

    ``reason`` is one of a closed vocabulary, for the log: ``malformed``, ``wrong_type``, ``algorithm_not_allowed``,
    ``unknown_key``, ``key_algorithm_mismatch``, ``bad_signature``, ``wrong_issuer``, ``wrong_audience``,
    ``expired``, ``not_yet_valid``, ``issued_in_the_future``, ``missing_claim``, ``invalid``.
    ``detail`` may quote PyJWT and goes to the log only, never to the caller.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class KeySetUnavailable(Exception):
    """The broker's key set could not be fetched or read: our dependency's fault, never the token's (503)."""


@dataclass(frozen=True)
class VerifiedCaller:
    username: str
    claims: Mapping[str, Any]


class BrokerKeySet:
    """The broker's JWKS through ``PyJWKClient``: cached for ``lifespan``, refetched for an unknown kid at most once
    per ``refetch_interval`` (a flood of made-up kids costs the broker one fetch), every fetch with ``timeout``."""

    def __init__(self, settings: VerifierSettings, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._client = PyJWKClient(
            settings.jwks_url, cache_jwk_set=True, lifespan=settings.jwks_lifespan, timeout=settings.jwks_timeout
        )
        self._refetch_interval = settings.jwks_refetch_interval
        self._monotonic = monotonic
        self._last_refetch: float | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> PyJWK | None:
        with self._lock:
            key = _find(self._key_set(refresh=False), kid)
            if key is None and self._may_refetch():
                self._last_refetch = self._monotonic()
                key = _find(self._key_set(refresh=True), kid)
            return key

    def _may_refetch(self) -> bool:
        return self._last_refetch is None or self._monotonic() - self._last_refetch >= self._refetch_interval

    def _key_set(self, refresh: bool) -> PyJWKSet:
        try:
            return self._client.get_jwk_set(refresh=refresh)
        # Connection errors, timeouts, HTTP errors, non-JSON or a set without usable keys (older PyJWTs do not
        # wrap all of them in PyJWKClientError).
        except (PyJWKClientError, PyJWKSetError, ValueError, OSError, http.client.HTTPException) as err:
            raise KeySetUnavailable(f"cannot read the broker's key set: {type(err).__name__}: {err}") from err


def _find(key_set: PyJWKSet, kid: str) -> PyJWK | None:
    return next((k for k in key_set.keys if k.key_id == kid and k.public_key_use in ("sig", None)), None)


# PyJWT's exceptions -> our reasons; the first matching class wins (subclasses first).
_PYJWT_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.DecodeError, "malformed"),
)


class BrokerTokenVerifier:
    """Verifies a bearer token and names its caller; raises ``TokenRejected`` or ``KeySetUnavailable``."""

    def __init__(self, settings: VerifierSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._keys = BrokerKeySet(settings)
        self._clock = clock

    def verify(self, token: str) -> VerifiedCaller:
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as err:
            raise TokenRejected("malformed", str(err)) from err
        if header.get("typ") != s.token_type:
            raise TokenRejected("wrong_type", f"typ {header.get('typ')!r}")
        alg = header.get("alg")
        if alg not in s.algorithms:
            raise TokenRejected("algorithm_not_allowed", f"alg {alg!r}")
        kid = header.get("kid")
        key = self._keys.key_for(kid) if isinstance(kid, str) and kid else None
        if key is None:
            raise TokenRejected("unknown_key", f"kid {kid!r}")
        if key.algorithm_name != alg:
            raise TokenRejected("key_algorithm_mismatch", f"alg {alg!r}, key {key.algorithm_name!r}")
        claims = self._decode(token, key, alg)
        if claims["aud"] != s.audience:  # one audience, exactly: the broker never issues an array
            raise TokenRejected("wrong_audience", f"aud {claims['aud']!r}")
        iat = claims["iat"]
        if not isinstance(iat, (int, float)) or isinstance(iat, bool) or iat > self._clock() + s.leeway:
            raise TokenRejected("issued_in_the_future", f"iat {iat!r}")
        if not isinstance(claims["jti"], str) or not claims["jti"]:
            raise TokenRejected("missing_claim", "jti is not a non-empty string")
        username = claims.get(s.username_claim)
        if not isinstance(username, str) or not username:
            raise TokenRejected("missing_claim", f"{s.username_claim} is not a non-empty string")
        return VerifiedCaller(username=username, claims=claims)

    def _decode(self, token: str, key: PyJWK, alg: str) -> dict[str, Any]:
        s = self.settings
        try:
            return jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                issuer=s.issuer,
                leeway=s.leeway,
                options={"require": list(REQUIRED_CLAIMS), "verify_aud": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError as err:
            reason = next((r for cls, r in _PYJWT_REASONS if isinstance(err, cls)), "invalid")
            raise TokenRejected(reason, str(err)) from err
