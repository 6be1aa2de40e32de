"""
Airflow 2 API auth backend (``[api] auth_backends``) that trusts the broker's tokens and names their FAB users.

::

    [api]
    auth_backends = airflow_token_broker.airflow2_auth,airflow.providers.fab.auth_manager.api.auth.backend.basic_auth,airflow.providers.fab.auth_manager.api.auth.backend.session

    [token_broker]
    jwks_url = https://broker.example/airflow/jwks.json
    issuer = https://broker.example
    audience = https://airflow.prod.example

Airflow 2 calls ``requires_authentication(Response)()`` of each backend in turn and takes the first 200. So:

- no ``Authorization: Bearer``: a plain 401, and Airflow asks the next backend (basic_auth, session);
- a bearer token that fails verification: 401 ``invalid_token`` with ``WWW-Authenticate: Bearer``, answered at
  once (Flask ``abort``): the next backend would only replace the challenge with its own;
- the broker's key set cannot be fetched, or FAB's user lookup fails in the database: 503
  ``temporarily_unavailable``, the caller's token is not at fault;
- a verified caller without an active FAB user (and no provisioning): 403 ``insufficient_scope``;
- otherwise the FAB user is set for this request only, as Airflow's own token backends do (the login manager's
  request context and ``g.user``), with no ``login_user``: nothing is written to a session.

Every ``[token_broker]`` option is in README.md (companions/) and docs/airflow.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, Response, abort, current_app, g, json, request
from sqlalchemy.exc import SQLAlchemyError

from airflow_token_broker.bearer_verifier import (
    BrokerTokenVerifier,
    KeySetUnavailable,
    TokenRejected,
    VerifiedCaller,
    VerifierSettings,
)

log = logging.getLogger(__name__)

CONFIG_SECTION = "token_broker"
EXTENSION = "airflow_token_broker"
# Airflow's CLI reads this of every backend module (the experimental API client's credentials): none here.
CLIENT_AUTH: tuple[str, str] | Any | None = None
# Seconds a client is asked to wait after a key-set outage (a fetch is retried on the next request anyway).
RETRY_AFTER = 5

T = TypeVar("T", bound=Callable[..., Any])


@dataclass(frozen=True)
class BackendSettings:
    verifier: VerifierSettings
    roles_claim: str = "fab_roles"
    provision: bool = False
    provision_roles: frozenset[str] = frozenset()


class BearerBackend:
    """
    Authenticates one request: bearer token -> verified caller -> FAB user -> the request's current user.

    ``resolve_user`` maps a verified caller to its user, or raises ``ValueError`` when it has none this Airflow may
    use (unknown and not provisioned, or inactive);
    ``set_user`` makes that user the request's current user.
    """

    def __init__(
        self,
        verifier: BrokerTokenVerifier,
        resolve_user: Callable[[VerifiedCaller], Any],
        set_user: Callable[[Any], None] | None = None,
    ) -> None:
        self.verifier = verifier
        self.resolve_user = resolve_user
        self.set_user = set_user or set_request_user

    def authenticate(self) -> bool:
        """True: the request's user is set. False: no bearer token, let the next backend try. Aborts otherwise."""
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            return False
        try:
            caller = self.verifier.verify(token)
        except TokenRejected as refused:
            log.info("token broker: bearer token refused (%s) %s", refused.reason, refused.detail)
            abort(error_response(401, "invalid_token", _description(refused.reason)))
        except KeySetUnavailable as outage:
            log.warning("token broker: %s", outage)
            abort(error_response(503, "temporarily_unavailable", "the token broker's key set is unavailable"))
        try:
            user = self.resolve_user(caller)
            if not getattr(user, "is_active", False):
                raise ValueError(f"FAB user {caller.username!r} is not active")
        except ValueError as refused:
            log.info("token broker caller %r refused: %s", caller.username, refused)
            abort(error_response(403, "insufficient_scope", "the caller has no active user in this Airflow"))
        except SQLAlchemyError as outage:
            log.warning("token broker caller %r: FAB user lookup failed: %s", caller.username, outage)
            abort(error_response(503, "temporarily_unavailable", "Airflow's metadata database is unavailable"))
        self.set_user(user)
        return True


def bearer_token(authorization: str | None) -> str | None:
    """
    The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive, RFC 7235); ``None`` for no
    header or another scheme. A Bearer header that does not hold exactly one token is refused, not handed on.
    """
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    if not token or any(c.isspace() for c in token):
        abort(error_response(401, "invalid_token", "the Authorization header does not hold one bearer token"))
    return token


def _description(reason: str) -> str:
    return "the token has expired" if reason == "expired" else "the token is not valid for this Airflow"


def error_response(status: int, error: str, description: str) -> Response:
    """RFC 6750 §3 answers: a short JSON body, a Bearer challenge on 401/403, ``Retry-After`` on 503."""
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if status in (401, 403):
        headers["WWW-Authenticate"] = f'Bearer error="{error}", error_description="{description}"'
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER)
    body = json.dumps({"error": error, "error_description": description})
    return Response(body, status, headers, content_type="application/json")


def set_request_user(user: Any) -> None:
    """The user of this request only: flask-login's current user (its request context) and ``g.user``, which
    FAB's auth manager of Airflow 2 reads for token backends; never ``login_user`` (it writes a session)."""
    current_app.login_manager._update_request_context_with_user(user)  # type: ignore[attr-defined]
    g.user = user


def fab_user_resolver(settings: BackendSettings) -> Callable[[VerifiedCaller], Any]:
    """The caller's FAB user by username (``username_claim``), created when ``fab_provision`` is on."""
    from airflow_token_broker.fab_users import find_or_provision_user

    def resolve(caller: VerifiedCaller) -> Any:
        return find_or_provision_user(
            caller.username, caller.claims.get(settings.roles_claim), settings.provision, settings.provision_roles
        )

    return resolve


def settings_from_airflow_config() -> BackendSettings:
    """``[token_broker]`` of ``airflow.cfg`` (or ``AIRFLOW__TOKEN_BROKER__*``); raises AirflowConfigException."""
    from airflow.configuration import conf
    from airflow.exceptions import AirflowConfigException

    from airflow_token_broker.fab_users import parse_role_list

    def text(key: str, default: str = "") -> str:
        return str(conf.get(CONFIG_SECTION, key, fallback=default)).strip()

    def number(key: str, default: float) -> float:
        return conf.getfloat(CONFIG_SECTION, key, fallback=default)

    try:
        verifier = VerifierSettings(
            jwks_url=text("jwks_url"),
            issuer=text("issuer"),
            audience=text("audience"),
            token_type=text("token_type", "JWT"),
            algorithms=tuple(a.strip() for a in text("algorithms", "ES256").split(",") if a.strip()),
            leeway=number("leeway", 10),
            username_claim=text("username_claim", "fab_username"),
            jwks_timeout=number("jwks_timeout", 5),
            jwks_lifespan=number("jwks_lifespan", 300),
            jwks_refetch_interval=number("jwks_refetch_interval", 30),
        )
    except ValueError as err:
        raise AirflowConfigException(f"[{CONFIG_SECTION}] {err}") from err
    return BackendSettings(
        verifier=verifier,
        roles_claim=text("roles_claim", "fab_roles"),
        provision=conf.getboolean(CONFIG_SECTION, "fab_provision", fallback=False),
        provision_roles=parse_role_list(text("fab_provision_roles")),
    )


def install(app: Flask, backend: BearerBackend) -> None:
    """Attaches the backend to the Flask app (one per app, as Flask extensions keep their state)."""
    app.extensions[EXTENSION] = backend


def init_app(app: Flask) -> None:
    """Airflow 2's backend hook: reads ``[token_broker]`` once, at webserver start (a bad setting fails it)."""
    settings = settings_from_airflow_config()
    install(app, BearerBackend(BrokerTokenVerifier(settings.verifier), fab_user_resolver(settings)))


def requires_authentication(function: T) -> T:
    """Airflow 2's backend hook: ``function`` runs once the request's user is set; no bearer token: 401."""

    @wraps(function)
    def decorated(*args: Any, **kwargs: Any) -> Any:
        backend: BearerBackend = current_app.extensions[EXTENSION]
        if not backend.authenticate():
            return Response("Unauthorized", 401, {"WWW-Authenticate": "Bearer"})
        return function(*args, **kwargs)

    return cast(T, decorated)
