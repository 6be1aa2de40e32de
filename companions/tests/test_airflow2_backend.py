"""
The Airflow 2 API auth backend in Airflow's own calling convention: a Flask app whose ``api_auth`` list is walked by
Airflow 2's real ``check_authentication`` (``airflow.api_connexion.security``), with the real error handler for its
401s. FAB's users are stood in for by a dictionary here; the acceptance test uses a real Airflow 2.11 and FAB.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask, Response, g, request
from flask.testing import FlaskClient
from flask_login import LoginManager, current_user

from airflow_token_broker import airflow2_auth
from airflow_token_broker.bearer_verifier import BrokerTokenVerifier, VerifiedCaller, VerifierSettings
from conftest import AUDIENCE, ISSUER, JwksServer, SigningKey, broker_claims, mint


@dataclass
class FabUser:
    username: str
    is_active: bool = True
    is_anonymous: bool = False
    is_authenticated: bool = True

    def get_id(self) -> str:
        return self.username


@dataclass
class NextBackend:
    """Stands for the backend after ours in ``[api] auth_backends`` (basic_auth): accepts any Basic header."""

    tried: int = 0

    def requires_authentication(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def decorated(*args: Any, **kwargs: Any) -> Any:
            self.tried += 1
            if request.headers.get("Authorization", "").startswith("Basic "):
                return function(*args, **kwargs)
            return Response("Unauthorized", 401, {"WWW-Authenticate": "Basic"})

        return decorated


@dataclass
class Api:
    client: FlaskClient
    next_backend: NextBackend
    users: dict[str, FabUser] = field(default_factory=dict)

    def get(self, authorization: str | None = None) -> Any:
        headers = {"Authorization": authorization} if authorization else {}
        return self.client.get("/api/v1/dags", headers=headers)


def make_api(jwks_url: str, **settings: Any) -> Api:
    from airflow.api_connexion.exceptions import common_error_handler
    from airflow.api_connexion.security import check_authentication
    from connexion.exceptions import ProblemException

    app = Flask(__name__)
    app.secret_key = "test"
    LoginManager(app).user_loader(lambda _id: None)  # FAB registers its own; nothing is in a session here
    app.appbuilder = SimpleNamespace(get_app=app)  # check_authentication reads AUTH_ROLE_PUBLIC through it
    app.register_error_handler(ProblemException, common_error_handler)
    verifier = BrokerTokenVerifier(
        VerifierSettings(jwks_url=jwks_url, issuer=ISSUER, audience=AUDIENCE, jwks_timeout=0.5, **settings)
    )
    api = Api(client=app.test_client(), next_backend=NextBackend(), users={"demo-etl": FabUser("demo-etl")})

    def resolve(caller: VerifiedCaller) -> FabUser:
        user = api.users.get(caller.username)
        if user is None:
            raise ValueError(f"FAB user {caller.username!r} does not exist")
        return user

    airflow2_auth.install(app, airflow2_auth.BearerBackend(verifier, resolve))
    app.api_auth = [airflow2_auth, api.next_backend]

    @app.get("/api/v1/dags")
    def dags() -> Any:
        check_authentication()
        return {"user": getattr(current_user, "username", None), "g_user": getattr(g.get("user"), "username", None)}

    return api


@pytest.fixture
def api(jwks_server: JwksServer) -> Iterator[Api]:
    yield make_api(jwks_server.url)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_valid_token_sets_the_fab_user_without_a_session(api: Api, signing_key: SigningKey) -> None:
    answer = api.get(bearer(mint(signing_key)))
    assert answer.status_code == 200
    assert answer.json == {"user": "demo-etl", "g_user": "demo-etl"}
    assert "Set-Cookie" not in answer.headers
    assert api.next_backend.tried == 0


def test_no_bearer_falls_through_to_the_next_backend(api: Api) -> None:
    answer = api.get("Basic YWRtaW46YWRtaW4tcGFzcw==")
    assert answer.status_code == 200
    assert answer.json == {"user": None, "g_user": None}
    assert api.next_backend.tried == 1


def test_no_credentials_at_all_asks_the_next_backend(api: Api) -> None:
    answer = api.get()
    assert answer.status_code == 401
    assert api.next_backend.tried == 1


@pytest.mark.parametrize(
    "claims",
    [
        broker_claims(exp=int(time.time()) - 60, iat=int(time.time()) - 400, nbf=int(time.time()) - 400),
        broker_claims(iss="https://elsewhere.example"),
        broker_claims(aud="https://airflow.staging.example"),
        broker_claims(jti=None),
    ],
    ids=["expired", "wrong-iss", "wrong-aud", "missing-jti"],
)
def test_bad_token_is_401_invalid_token(api: Api, signing_key: SigningKey, claims: dict[str, Any]) -> None:
    token = mint(signing_key, claims)
    answer = api.get(bearer(token))
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert answer.headers["Content-Type"] == "application/json"
    body = json.loads(answer.data)
    assert body["error"] == "invalid_token"
    assert set(body) <= {"error", "error_description"}
    assert token not in answer.get_data(as_text=True) and "Traceback" not in answer.get_data(as_text=True)
    assert api.next_backend.tried == 0  # a bearer token that fails is refused, never handed on


@pytest.mark.parametrize("authorization", ["Bearer", "Bearer ", "Bearer  two spaces", "Bearer a b", "Bearer not-a-jwt"])
def test_malformed_bearer_header(api: Api, authorization: str) -> None:
    answer = api.get(authorization)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert api.next_backend.tried == 0


def test_bearer_scheme_is_case_insensitive(api: Api, signing_key: SigningKey) -> None:
    assert api.get(f"bearer {mint(signing_key)}").status_code == 200


def test_jwks_timeout_is_503(silent_jwks_url: str, signing_key: SigningKey) -> None:
    api = make_api(silent_jwks_url)
    answer = api.get(bearer(mint(signing_key)))
    assert answer.status_code == 503
    assert json.loads(answer.data)["error"] == "temporarily_unavailable"
    assert int(answer.headers["Retry-After"]) > 0
    assert "WWW-Authenticate" not in answer.headers  # the caller's token is not at fault
    assert api.next_backend.tried == 0


def test_unknown_fab_user_is_403(api: Api, signing_key: SigningKey) -> None:
    answer = api.get(bearer(mint(signing_key, broker_claims(fab_username="nobody"))))
    assert answer.status_code == 403
    assert json.loads(answer.data)["error"] == "insufficient_scope"
    assert "nobody" not in answer.get_data(as_text=True)


def test_inactive_fab_user_is_403(api: Api, signing_key: SigningKey) -> None:
    api.users["demo-etl"].is_active = False
    assert api.get(bearer(mint(signing_key))).status_code == 403


def test_settings_from_airflow_config(monkeypatch: pytest.MonkeyPatch, jwks_server: JwksServer) -> None:
    for key, value in {
        "JWKS_URL": jwks_server.url,
        "ISSUER": ISSUER,
        "AUDIENCE": AUDIENCE,
        "TOKEN_TYPE": "at+jwt",
        "ALGORITHMS": "ES256, EdDSA",
        "LEEWAY": "5",
        "USERNAME_CLAIM": "sub",
        "JWKS_TIMEOUT": "2.5",
    }.items():
        monkeypatch.setenv(f"AIRFLOW__TOKEN_BROKER__{key}", value)
    settings = airflow2_auth.settings_from_airflow_config()
    assert settings.verifier.token_type == "at+jwt"
    assert settings.verifier.algorithms == ("ES256", "EdDSA")
    assert settings.verifier.leeway == 5 and settings.verifier.jwks_timeout == 2.5
    assert settings.verifier.username_claim == "sub"
    assert settings.provision is False and settings.roles_claim == "fab_roles"


@pytest.mark.parametrize("missing", ["JWKS_URL", "ISSUER", "AUDIENCE"])
def test_missing_setting_fails_at_start(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    from airflow.exceptions import AirflowConfigException

    for key in ("JWKS_URL", "ISSUER", "AUDIENCE"):
        if key != missing:
            monkeypatch.setenv(f"AIRFLOW__TOKEN_BROKER__{key}", "https://broker.example/x")
    monkeypatch.delenv(f"AIRFLOW__TOKEN_BROKER__{missing}", raising=False)
    with pytest.raises(AirflowConfigException, match=missing.lower()):
        airflow2_auth.init_app(Flask(__name__))


def test_metadata_database_outage_is_503(api: Api, signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    def database_down(_: VerifiedCaller) -> FabUser:
        raise OperationalError("SELECT ab_user", {}, Exception("database is locked"))

    backend = api.client.application.extensions[airflow2_auth.EXTENSION]
    monkeypatch.setattr(backend, "resolve_user", database_down)
    answer = api.get(bearer(mint(signing_key)))
    assert answer.status_code == 503
    assert json.loads(answer.data)["error"] == "temporarily_unavailable"
    assert "database is locked" not in answer.get_data(as_text=True)
