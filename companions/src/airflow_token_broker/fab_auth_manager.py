"""FAB auth manager for Airflows behind airflow-token-broker (``[core] auth_manager``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.configuration import conf
from airflow.providers.fab.auth_manager.fab_auth_manager import CACHE_TTL, FabAuthManager
from airflow.providers.fab.auth_manager.models import Role, User
from airflow.utils.session import create_session
from cachetools import TTLCache, cachedmethod
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

log = logging.getLogger(__name__)

USERNAME_CLAIM = "fab_username"
ROLES_CLAIM = "fab_roles"
CONFIG_SECTION = "token_broker"
# Provisioned users get an email FAB requires (unique, not null) that can never receive mail (RFC 2606).
PLACEHOLDER_EMAIL_DOMAIN = "token-broker.invalid"


class TokenBrokerFabAuthManager(FabAuthManager):
    """
    FAB's auth manager, plus the callers of airflow-token-broker, found by FAB username instead of FAB user id.

    FAB reads a token's ``sub`` as its numeric user id; the broker knows its callers by directory name and
    cannot learn FAB ids. Its per-caller tokens (validated by Airflow like any other token, through
    ``[api_auth] trusted_jwks_url``) therefore carry the claim ``fab_username``, and this auth manager looks the
    FAB user up by that username (case-insensitively, like FAB's login), cached for ``[fab] cache_ttl`` seconds
    like FAB's own lookups. Tokens without ``fab_username`` (Airflow's own UI and API logins) go to FAB unchanged.

    Unknown usernames are refused (Airflow answers 403 "Invalid JWT token"), unless provisioning is on::

        [core]
        auth_manager = airflow_token_broker.fab_auth_manager.TokenBrokerFabAuthManager

        [token_broker]
        fab_provision = True
        fab_provision_roles = Viewer, User     # the only FAB roles a provisioned user may get

    Then a first-seen username becomes an active FAB user without a usable password, with the roles of the
    claim ``fab_roles`` that the allow-list contains (others are dropped and logged; none left: refused). Users
    that already exist keep the roles FAB's admins gave them: FAB stays authoritative beneath the broker's policy.

    The name must keep ``FabAuthManager`` in it: Airflow core tests ``"FabAuthManager" in [core] auth_manager`` to
    sync per-DAG permissions (``access_control``) when DAGs are serialized, and in ``airflow db clean``.
    """

    broker_users: TTLCache[str, User] = TTLCache(maxsize=1024, ttl=CACHE_TTL)

    def deserialize_user(self, token: dict[str, Any]) -> User:
        if USERNAME_CLAIM not in token:
            return super().deserialize_user(token)
        return self._broker_user(token)

    @cachedmethod(lambda self: self.broker_users, key=lambda _, token: str(token[USERNAME_CLAIM]))
    def _broker_user(self, token: dict[str, Any]) -> User:
        username = token[USERNAME_CLAIM]
        if not isinstance(username, str) or not username:
            raise ValueError(f"claim {USERNAME_CLAIM} is not a username")
        user = _find_user(username)
        if user is None and self.provisioning:
            _provision_user(username, self._grantable_roles(username, token.get(ROLES_CLAIM)))
            user = _find_user(username)
        if user is None:
            raise ValueError(f"FAB user {username!r} does not exist and [{CONFIG_SECTION}] fab_provision is off")
        if not user.is_active:
            raise ValueError(f"FAB user {username!r} is not active")
        return user

    @cached_property
    def provisioning(self) -> bool:
        return conf.getboolean(CONFIG_SECTION, "fab_provision", fallback=False)

    @cached_property
    def provision_roles(self) -> frozenset[str]:
        listed = conf.get(CONFIG_SECTION, "fab_provision_roles", fallback="")
        return frozenset(name.strip() for name in listed.split(",") if name.strip())

    def _grantable_roles(self, username: str, claimed: object) -> list[str]:
        requested = [r for r in claimed if isinstance(r, str)] if isinstance(claimed, list) else []
        dropped = [r for r in requested if r not in self.provision_roles]
        if dropped:
            log.warning(
                "token broker caller %r: FAB roles %s are not in [%s] fab_provision_roles; not granted",
                username, dropped, CONFIG_SECTION,
            )
        return [r for r in requested if r in self.provision_roles]


def _find_user(username: str) -> User | None:
    with create_session() as session:
        return session.scalars(select(User).where(func.lower(User.username) == func.lower(username))).one_or_none()


def _provision_user(username: str, role_names: Sequence[str]) -> None:
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
                    password=None,  # FAB refuses a password login for a user without a password hash
                    roles=roles,
                )
            )
        log.info("token broker caller %r: provisioned FAB user with roles %s", username, [r.name for r in roles])
    except IntegrityError:
        # A concurrent request provisioned the same user first; the caller looks it up again.
        log.info("token broker caller %r: FAB user was provisioned concurrently", username)
