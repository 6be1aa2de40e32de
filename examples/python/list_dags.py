"""List one page of the DAGs this service account may see, with the official client.

    python list_dags.py [LIMIT [OFFSET]]     prints {"dag_ids": [...], "total_entries": N}
"""
import json
import sys

from airflow_client.client import DAGApi

from airflow_api import airflow_api_client

limit, offset = (int(sys.argv[1]) if len(sys.argv) > 1 else 50), (int(sys.argv[2]) if len(sys.argv) > 2 else 0)
with airflow_api_client() as api:
    page = DAGApi(api).get_dags(limit=limit, offset=offset, order_by=["dag_id"])
# total_entries counts only the DAGs the token may see (the proxy filters the list and pages what is left).
print(json.dumps({"dag_ids": [dag.dag_id for dag in page.dags], "total_entries": page.total_entries}))
