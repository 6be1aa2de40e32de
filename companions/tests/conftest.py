"""
Shared fixtures: a real JWKS endpoint on loopback (a thread of ``http.server``), the broker's kind of signing key
(ES256, ``kid``), and tokens minted with the claims the broker puts in per-caller tokens.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

# Airflow reads its home and database when it is first imported: always a fresh one, never the developer's own
# (test_fab_users creates FAB users in it).
_HOME = tempfile.mkdtemp(prefix="atb-companion-airflow-home-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

ISSUER = "https://broker.example"
AUDIENCE = "https://airflow.prod.example"


@dataclass
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict[str, Any]:
        jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}


@dataclass
class JwksServer:
    """The broker's ``/airflow/jwks.json`` as a real HTTP server: its keys can change, its fetches are counted."""

    keys: list[SigningKey]
    url: str = ""
    fetches: int = 0
    status: int = 200

    def document(self) -> bytes:
        return json.dumps({"keys": [k.jwk() for k in self.keys]}).encode()


@pytest.fixture
def signing_key() -> SigningKey:
    return SigningKey(kid="airflow-2026-12")


@pytest.fixture
def jwks_server(signing_key: SigningKey) -> Iterator[JwksServer]:
    server_state = JwksServer(keys=[signing_key])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            server_state.fetches += 1
            body = server_state.document()
            self.send_response(server_state.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}/airflow/jwks.json"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server_state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def silent_jwks_url() -> Iterator[str]:
    """A JWKS address that accepts connections and never answers (a hung broker)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/airflow/jwks.json"
    listener.close()


def broker_claims(**overrides: Any) -> dict[str, Any]:
    """The claims of a per-caller token as the broker mints it for an Airflow on FAB (``identity.auth_manager: fab``)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "demo-etl",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        "fab_username": "demo-etl",
        "fab_roles": ["User"],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def mint(key: SigningKey, claims: dict[str, Any] | None = None, *, typ: str = "JWT", kid: str | None = None) -> str:
    return jwt.encode(claims or broker_claims(), key.private, algorithm="ES256", headers={"kid": kid or key.kid, "typ": typ})


# npm test runs this suite from jest (test/integration/companion-pytest.test.ts), which reads each test's outcome
# from the JSON file named by ATB_PYTEST_RESULTS: one jest test per pytest test, failures with pytest's report.
_results: list[dict[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        _results.append({"test": report.nodeid, "phase": report.when, "outcome": report.outcome, "report": report.longreprtext})


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("ATB_PYTEST_RESULTS")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            json.dump(_results, out)
