"""
FAB user lookup and provisioning (``fab_users``, shared by both Airflow lines) on a real Airflow 2 metadata database
(SQLite, FAB's own models), through the Airflow 2 backend's resolver.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_token_broker.airflow2_auth import BackendSettings, fab_user_resolver
from airflow_token_broker.bearer_verifier import VerifiedCaller, VerifierSettings


@pytest.fixture(scope="module")
def airflow_db() -> None:
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def fab(airflow_db: None) -> Iterator[Any]:
    """FAB's tables with the roles Viewer, User, Admin and one existing user, ``svc-reporting`` (Viewer)."""
    from airflow.providers.fab.auth_manager.models import Role, User, assoc_user_role
    from airflow.utils.session import create_session

    with create_session() as session:
        session.execute(assoc_user_role.delete())
        session.query(User).delete()
        session.query(Role).delete()
        roles = {name: Role(name=name) for name in ("Viewer", "User", "Admin")}
        session.add_all(roles.values())
        session.add(User(username="svc-reporting", first_name="s", last_name="r", email="s@r.invalid", active=True, roles=[roles["Viewer"]]))
    yield User


def resolve(username: str, fab_roles: object = None, provision: bool = False, allowed: tuple[str, ...] = ("Viewer", "User")) -> Any:
    settings = BackendSettings(
        verifier=VerifierSettings(jwks_url="http://127.0.0.1:9/jwks.json", issuer="i", audience="a"),
        provision=provision,
        provision_roles=frozenset(allowed),
    )
    claims = {"fab_username": username, **({"fab_roles": fab_roles} if fab_roles is not None else {})}
    return fab_user_resolver(settings)(VerifiedCaller(username=username, claims=claims))


def role_names(user: Any) -> list[str]:
    return sorted(r.name for r in user.roles)


def test_existing_user_found_case_insensitively(fab: Any) -> None:
    user = resolve("SVC-Reporting")
    assert user.username == "svc-reporting" and role_names(user) == ["Viewer"]


def test_unknown_user_refused_without_provisioning(fab: Any) -> None:
    with pytest.raises(ValueError, match="fab_provision is off"):
        resolve("demo-etl", ["User"])


def test_provisioned_user_gets_only_allow_listed_roles(fab: Any) -> None:
    user = resolve("demo-etl", ["User", "Admin"], provision=True)
    assert role_names(user) == ["User"]
    assert user.is_active and not user.password  # no password: FAB's password login refuses it


def test_provisioning_refused_without_an_allowed_role(fab: Any) -> None:
    with pytest.raises(ValueError):
        resolve("demo-etl", ["Admin"], provision=True)
    with pytest.raises(ValueError, match="fab_provision is off"):
        resolve("demo-etl")  # and nothing was created


def test_allow_listed_role_that_fab_lacks_is_not_granted(fab: Any) -> None:
    user = resolve("demo-etl", ["Op", "Viewer"], provision=True, allowed=("Op", "Viewer"))
    assert role_names(user) == ["Viewer"]


def test_roles_claim_as_a_string_grants_nothing(fab: Any) -> None:
    with pytest.raises(ValueError):
        resolve("demo-etl", "User", provision=True)


def test_existing_user_keeps_its_roles_whatever_the_token_claims(fab: Any) -> None:
    user = resolve("svc-reporting", ["User"], provision=True)
    assert role_names(user) == ["Viewer"]


def test_inactive_user_refused(fab: Any) -> None:
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(fab).filter(fab.username == "svc-reporting").update({"active": False})
    with pytest.raises(ValueError, match="not active"):
        resolve("svc-reporting")
