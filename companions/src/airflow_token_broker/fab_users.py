"""
The broker's callers as FAB users: lookup by username and allow-listed provisioning.

Shared by the Airflow 3 auth manager (``fab_auth_manager``) and the Airflow 2 API auth backend (``airflow2_auth``):
it imports only what both lines have (FAB's models, Airflow's ``create_session``, SQLAlchemy 1.4/2.0 ``select``).
FAB's ``User.roles`` and ``Role.permissions`` load eagerly, so a returned user is complete after its session closed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from airflow.providers.fab.auth_manager.models import Role, User
from airflow.utils.session import create_session
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

log = logging.getLogger(__name__)

CONFIG_SECTION = "token_broker"
# Provisioned users get an email FAB requires (unique, not null) that can never receive mail (RFC 2606).
PLACEHOLDER_EMAIL_DOMAIN = "token-broker.invalid"


def parse_role_list(listed: str) -> frozenset[str]:
    """``"Viewer, User"`` (an ``airflow.cfg`` value) -> ``{"Viewer", "User"}``."""
    return frozenset(name.strip() for name in listed.split(",") if name.strip())


def grantable_roles(username: str, claimed: object, allowed: Iterable[str]) -> list[str]:
    """The claimed FAB role names (a list of strings, anything else claims none) that the allow-list contains."""
    allow = frozenset(allowed)
    requested = [r for r in claimed if isinstance(r, str)] if isinstance(claimed, list) else []
    dropped = [r for r in requested if r not in allow]
    if dropped:
        log.warning(
            "token broker caller %r: FAB roles %s are not in [%s] fab_provision_roles; not granted",
            username, dropped, CONFIG_SECTION,
        )
    return [r for r in requested if r in allow]


def find_user(username: str) -> User | None:
    """The FAB user with this username, compared case-insensitively like FAB's own login."""
    with create_session() as session:
        user: User | None = session.scalars(
            select(User).where(func.lower(User.username) == func.lower(username))
        ).one_or_none()
        return user


def provision_user(username: str, role_names: Sequence[str]) -> None:
    """
    Creates an active FAB user without a password (FAB's password login then refuses it) with the named roles
    that exist; raises ``ValueError`` when none does. A concurrent creation of the same user is not an error.
    """
    try:
        with create_session() as session:
            roles = list(session.scalars(select(Role).where(Role.name.in_(role_names))).unique().all())
            missing = set(role_names) - {role.name for role in roles}
            if missing:
                log.warning("token broker caller %r: FAB roles %s do not exist; not granted", username, sorted(missing))
            if not roles:
                raise ValueError(f"FAB user {username!r} not provisioned: no allowed FAB role among the claimed ones")
            session.add(
                User(
                    username=username,
                    first_name=username,
                    last_name="(token broker)",
                    email=f"{username}@{PLACEHOLDER_EMAIL_DOMAIN}",
                    active=True,
                    password=None,
                    roles=roles,
                )
            )
        log.info("token broker caller %r: provisioned FAB user with roles %s", username, [r.name for r in roles])
    except IntegrityError:
        log.info("token broker caller %r: FAB user was provisioned concurrently", username)


def find_or_provision_user(username: str, claimed_roles: object, provision: bool, allowed_roles: Iterable[str]) -> User:
    """
    The active FAB user named ``username``; with ``provision`` a missing one is created with the claimed roles the
    allow-list contains. Raises ``ValueError`` (a refusal, with a message for the log) otherwise.
    """
    user = find_user(username)
    if user is None and provision:
        provision_user(username, grantable_roles(username, claimed_roles, allowed_roles))
        user = find_user(username)
    if user is None:
        raise ValueError(f"FAB user {username!r} does not exist and [{CONFIG_SECTION}] fab_provision is off")
    if not user.is_active:
        raise ValueError(f"FAB user {username!r} is not active")
    return user
