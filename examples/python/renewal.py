"""A long-running app: httpx with BrokerToken as its auth calls the proxy for SECONDS seconds, across token expiries.

    python renewal.py SECONDS     prints one status per call; exits 0 when every call succeeded
"""
import os
import sys
import time

import httpx

from broker_token import BrokerToken

issuer = os.environ["AIRFLOW_TOKEN_BROKER_ISSUER"].rstrip("/")
deployment = os.environ.get("AIRFLOW_TOKEN_BROKER_DEPLOYMENT", "prod")
statuses = []
with httpx.Client(base_url=f"{issuer}/airflow/{deployment}/api/v2", auth=BrokerToken.from_env(), timeout=30) as airflow:
    deadline = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < deadline:
        statuses.append(airflow.get("/dags", params={"limit": 1}).status_code)
        time.sleep(1)
print(" ".join(map(str, statuses)))
sys.exit(0 if statuses and all(s == 200 for s in statuses) else 1)
