"""FAB auth manager for Airflows behind airflow-token-broker (``[core] auth_manager``)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.configuration import conf
from airflow.providers.fab.auth_manager.fab_auth_manager import CACHE_TTL, FabAuthManager
from airflow.providers.fab.auth_manager.models import User
from cachetools import TTLCache, cachedmethod

from airflow_token_broker.fab_users import CONFIG_SECTION, find_or_provision_user, parse_role_list

USERNAME_CLAIM = "fab_username"
ROLES_CLAIM = "fab_roles"


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
        return find_or_provision_user(username, token.get(ROLES_CLAIM), self.provisioning, self.provision_roles)

    @cached_property
    def provisioning(self) -> bool:
        return conf.getboolean(CONFIG_SECTION, "fab_provision", fallback=False)

    @cached_property
    def provision_roles(self) -> frozenset[str]:
        return parse_role_list(conf.get(CONFIG_SECTION, "fab_provision_roles", fallback=""))
