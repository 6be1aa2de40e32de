"""Access tokens from airflow-token-broker for a Python app, renewed shortly before they expire.

Copy this file into your app: it needs Authlib and requests. docs/app-developers.md explains it; `npm test` runs
it against a real broker and Airflow.
"""
from __future__ import annotations

import os
import threading

from authlib.integrations.requests_client import OAuth2Session


class BrokerToken:
    """Client-credentials tokens from `<issuer>/oauth2/token`, fetched again `leeway` seconds before one expires.

    Pass it as `auth=` to requests or httpx (both call it with each request), or to `RenewingConfiguration`
    (airflow_api.py) for the official client. `resource` names the Airflow deployment (its audience) when the
    broker fronts more than one: Authlib's own automatic renewal would drop it, so this class renews with
    Authlib's `fetch_token` and passes it every time.
    """

    def __init__(self, issuer: str, client_id: str, client_secret: str, resource: str | None = None, leeway: int = 30):
        self._oauth = OAuth2Session(client_id, client_secret, token_endpoint=f"{issuer.rstrip('/')}/oauth2/token", leeway=leeway)
        self._params = {"resource": resource} if resource else {}
        self._lock = threading.Lock()  # one token request at a time, however many threads call

    @classmethod
    def from_env(cls) -> BrokerToken:
        """The service account from the environment (the secret in the same variable as `airflow-token-broker token`)."""
        return cls(
            os.environ["AIRFLOW_TOKEN_BROKER_ISSUER"],
            os.environ["AIRFLOW_TOKEN_BROKER_CLIENT_ID"],
            os.environ["AIRFLOW_TOKEN_BROKER_CLIENT_SECRET"],
            resource=os.environ.get("AIRFLOW_TOKEN_BROKER_RESOURCE"),
            leeway=int(os.environ.get("AIRFLOW_TOKEN_BROKER_LEEWAY", "30")),
        )

    def access_token(self) -> str:
        """A token valid for at least `leeway` more seconds: the current one, or a new one from the broker."""
        with self._lock:
            token = self._oauth.token
            if not token or token.is_expired(leeway=self._oauth.leeway):
                token = self._oauth.fetch_token(grant_type="client_credentials", timeout=30, **self._params)
            return token["access_token"]

    def __call__(self, request):
        """requests' and httpx's auth hook: the request goes out with a valid token."""
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        return request
