"""One attack, one test: the checks of ``BrokerTokenVerifier`` on the broker's per-caller tokens (PyJWT, a real JWKS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from airflow_token_broker.bearer_verifier import BrokerTokenVerifier, KeySetUnavailable, TokenRejected, VerifierSettings
from conftest import AUDIENCE, ISSUER, JwksServer, SigningKey, broker_claims, mint


def verifier_for(url: str, **overrides: object) -> BrokerTokenVerifier:
    settings = {"jwks_url": url, "issuer": ISSUER, "audience": AUDIENCE, "jwks_timeout": 1.0, **overrides}
    return BrokerTokenVerifier(VerifierSettings(**settings))  # type: ignore[arg-type]


def rejected(verifier: BrokerTokenVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as refused:
        verifier.verify(token)
    return refused.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_valid_token_names_its_fab_user(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    caller = verifier_for(jwks_server.url).verify(mint(signing_key))
    assert caller.username == "demo-etl"
    assert caller.claims["fab_roles"] == ["User"]


def test_wrong_iss(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    token = mint(signing_key, broker_claims(iss="https://broker.example/"))
    assert rejected(verifier_for(jwks_server.url), token) == "wrong_issuer"


def test_missing_iss(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    token = mint(signing_key, broker_claims(iss=None))
    assert rejected(verifier_for(jwks_server.url), token) == "missing_claim"


def test_wrong_aud(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    token = mint(signing_key, broker_claims(aud="https://airflow.staging.example"))
    assert rejected(verifier_for(jwks_server.url), token) == "wrong_audience"


def test_aud_array_naming_another_deployment_too(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    token = mint(signing_key, broker_claims(aud=[AUDIENCE, "https://airflow.staging.example"]))
    assert rejected(verifier_for(jwks_server.url), token) == "wrong_audience"


def test_wrong_typ(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    # A client's broker access token (at+jwt) is not a per-caller token: it was not authorized by the proxy.
    assert rejected(verifier_for(jwks_server.url), mint(signing_key, typ="at+jwt")) == "wrong_type"


def test_access_token_accepted_where_configured(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    verifier = verifier_for(jwks_server.url, token_type="at+jwt", username_claim="sub")
    assert verifier.verify(mint(signing_key, typ="at+jwt")).username == "demo-etl"
    assert rejected(verifier, mint(signing_key, typ="JWT")) == "wrong_type"


def test_alg_none(jwks_server: JwksServer) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "airflow-2026-12"}).encode())
    token = f"{header}.{b64(json.dumps(broker_claims()).encode())}."
    assert rejected(verifier_for(jwks_server.url), token) == "algorithm_not_allowed"


def test_hs256_with_the_public_key(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    # The classic confusion: an HMAC "signed" with the published public key, hoping it is used as the secret.
    public_pem = signing_key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': signing_key.kid}).encode())}."
        f"{b64(json.dumps(broker_claims()).encode())}"
    )
    signature = b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())
    assert rejected(verifier_for(jwks_server.url), f"{signing_input}.{signature}") == "algorithm_not_allowed"


@pytest.mark.parametrize("algorithm", ["HS256", "none", "ES257"])
def test_hmac_or_none_in_the_algorithm_allow_list(algorithm: str) -> None:
    # A public key set can only back asymmetric signatures: a configuration allowing others is refused at start.
    with pytest.raises(ValueError):
        verifier_for("http://127.0.0.1:9/jwks.json", algorithms=("ES256", algorithm))


def test_key_of_another_algorithm_under_the_kid(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    # The set says ES256 for this kid; a token claiming ES384 with it is refused before any signature check.
    header = b64(json.dumps({"alg": "ES384", "typ": "JWT", "kid": signing_key.kid}).encode())
    token = f"{header}.{b64(json.dumps(broker_claims()).encode())}.{b64(b'x' * 96)}"
    verifier = verifier_for(jwks_server.url, algorithms=("ES256", "ES384"))
    assert rejected(verifier, token) == "key_algorithm_mismatch"


def test_signature_by_another_key_under_the_published_kid(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    impostor = SigningKey(kid=signing_key.kid)
    assert rejected(verifier_for(jwks_server.url), mint(impostor)) == "bad_signature"


def test_expired(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    now = int(time.time())
    token = mint(signing_key, broker_claims(iat=now - 400, nbf=now - 400, exp=now - 30))
    assert rejected(verifier_for(jwks_server.url), token) == "expired"


def test_expired_within_the_leeway_is_accepted(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    now = int(time.time())
    token = mint(signing_key, broker_claims(iat=now - 300, nbf=now - 300, exp=now - 3))
    assert verifier_for(jwks_server.url).verify(token).username == "demo-etl"


def test_nbf_in_the_future(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    token = mint(signing_key, broker_claims(nbf=int(time.time()) + 60))
    assert rejected(verifier_for(jwks_server.url), token) == "not_yet_valid"


def test_iat_in_the_future(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    token = mint(signing_key, broker_claims(iat=int(time.time()) + 60))
    assert rejected(verifier_for(jwks_server.url), token) == "issued_in_the_future"


@pytest.mark.parametrize("claim", ["jti", "exp", "iat", "nbf"])
def test_missing_jti(jwks_server: JwksServer, signing_key: SigningKey, claim: str) -> None:
    # Named after the first of these; exp, iat and nbf are just as required.
    token = mint(signing_key, broker_claims(**{claim: None}))
    assert rejected(verifier_for(jwks_server.url), token) == "missing_claim"


def test_empty_jti(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    assert rejected(verifier_for(jwks_server.url), mint(signing_key, broker_claims(jti=""))) == "missing_claim"


@pytest.mark.parametrize("username", [None, "", 42, ["demo-etl"]])
def test_username_claim_missing_or_not_a_name(jwks_server: JwksServer, signing_key: SigningKey, username: object) -> None:
    token = mint(signing_key, broker_claims(fab_username=username))
    assert rejected(verifier_for(jwks_server.url), token) == "missing_claim"


def test_not_a_jwt(jwks_server: JwksServer) -> None:
    assert rejected(verifier_for(jwks_server.url), "not-a-jwt") == "malformed"


def test_missing_kid(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    token = jwt.encode(broker_claims(), signing_key.private, algorithm="ES256", headers={"typ": "JWT"})
    assert rejected(verifier_for(jwks_server.url), token) == "unknown_key"


def test_unknown_kid_refetch_once(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    verifier = verifier_for(jwks_server.url)
    verifier.verify(mint(signing_key))
    assert jwks_server.fetches == 1
    # The broker publishes a new key: the first token signed with it makes the verifier fetch the set once more.
    rotated = SigningKey(kid="airflow-2027-01")
    jwks_server.keys = [signing_key, rotated]
    assert verifier.verify(mint(rotated)).username == "demo-etl"
    assert jwks_server.fetches == 2
    verifier.verify(mint(rotated))
    verifier.verify(mint(signing_key))
    assert jwks_server.fetches == 2


def test_unknown_kid_flood_fetches_at_most_once_per_interval(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    verifier = verifier_for(jwks_server.url, jwks_refetch_interval=30.0)
    verifier.verify(mint(signing_key))
    for n in range(20):
        assert rejected(verifier, mint(signing_key, kid=f"made-up-{n}")) == "unknown_key"
    assert jwks_server.fetches == 2


def test_jwks_timeout(silent_jwks_url: str, signing_key: SigningKey) -> None:
    verifier = verifier_for(silent_jwks_url, jwks_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(KeySetUnavailable):
        verifier.verify(mint(signing_key))
    assert time.monotonic() - started < 3


def test_jwks_endpoint_failing(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    jwks_server.status = 500
    with pytest.raises(KeySetUnavailable):
        verifier_for(jwks_server.url).verify(mint(signing_key))


def test_jwks_unreachable(signing_key: SigningKey) -> None:
    with pytest.raises(KeySetUnavailable):
        verifier_for("http://127.0.0.1:9/airflow/jwks.json").verify(mint(signing_key))


def test_jwks_outage_after_a_fetch_keeps_the_cached_keys(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    verifier = verifier_for(jwks_server.url)
    verifier.verify(mint(signing_key))
    jwks_server.status = 503
    assert verifier.verify(mint(signing_key)).username == "demo-etl"


def test_jku_header_pointing_to_the_attackers_key_set(jwks_server: JwksServer, signing_key: SigningKey) -> None:
    # Keys come only from [token_broker] jwks_url: a key set named by the token itself is never fetched.
    attacker = SigningKey(kid="attacker")
    token = jwt.encode(
        broker_claims(), attacker.private, algorithm="ES256",
        headers={"kid": "attacker", "typ": "JWT", "jku": "http://127.0.0.1:9/evil.json", "jwk": attacker.jwk()},
    )
    assert rejected(verifier_for(jwks_server.url), token) == "unknown_key"
