"""Plain `requests`: a token with the client-credentials grant, then the Airflow REST API through the proxy.

    python requests_example.py DAG_ID     prints the DAG ids it may see and the run it triggered
"""
import json
import os
import sys

import requests

issuer = os.environ["AIRFLOW_TOKEN_BROKER_ISSUER"].rstrip("/")
deployment = os.environ.get("AIRFLOW_TOKEN_BROKER_DEPLOYMENT", "prod")
client = (os.environ["AIRFLOW_TOKEN_BROKER_CLIENT_ID"], os.environ["AIRFLOW_TOKEN_BROKER_CLIENT_SECRET"])

# RFC 6749 client credentials; the client authenticates with HTTP Basic. The token lives `expires_in` seconds:
# a script that runs longer asks again (or uses BrokerToken from broker_token.py, which does it for you).
grant = requests.post(f"{issuer}/oauth2/token", data={"grant_type": "client_credentials"}, auth=client, timeout=30)
grant.raise_for_status()
session = requests.Session()
session.headers["Authorization"] = f"Bearer {grant.json()['access_token']}"
api = f"{issuer}/airflow/{deployment}/api/v2"

dags = session.get(f"{api}/dags", timeout=30)
run = session.post(f"{api}/dags/{sys.argv[1]}/dagRuns", json={"logical_date": None, "conf": {"via": "requests"}}, timeout=30)
if not run.ok:
    # A refusal by the proxy: 403 with a JSON body naming what was refused.
    print(json.dumps({"status": run.status_code, "body": run.json()}), file=sys.stderr)
    sys.exit(3)
print(json.dumps({"dag_ids": [d["dag_id"] for d in dags.json()["dags"]], "dag_run_id": run.json()["dag_run_id"]}))
