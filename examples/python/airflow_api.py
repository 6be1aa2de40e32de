"""The official `apache-airflow-client` through airflow-token-broker's proxy, with a token that renews itself.

Copy this file (and broker_token.py) into your app. docs/app-developers.md explains it; `npm test` runs it.
"""
from __future__ import annotations

import os

from airflow_client.client import ApiClient, Configuration

from broker_token import BrokerToken


class RenewingConfiguration(Configuration):
    """A `Configuration` whose bearer token is asked for on every call, so a long-running app never sends an
    expired one. The generated client reads `access_token` in `auth_settings()` for each request (its
    `refresh_api_key_hook` is only for API keys), so that is where the fresh token goes in."""

    def __init__(self, host: str, token: BrokerToken, **kwargs):
        super().__init__(host=host, **kwargs)
        self._token = token

    def auth_settings(self):
        self.access_token = self._token.access_token()
        return super().auth_settings()


def airflow_api_client() -> ApiClient:
    """An `ApiClient` for the deployment `AIRFLOW_TOKEN_BROKER_DEPLOYMENT` (default `prod`) of the broker."""
    issuer = os.environ["AIRFLOW_TOKEN_BROKER_ISSUER"].rstrip("/")
    deployment = os.environ.get("AIRFLOW_TOKEN_BROKER_DEPLOYMENT", "prod")
    # host is everything before /api/v2: the proxy serves the deployment's API under <issuer>/airflow/<deployment>.
    return ApiClient(RenewingConfiguration(host=f"{issuer}/airflow/{deployment}", token=BrokerToken.from_env()))
