"""Create or update an Airflow variable with the official client; a refusal shows the proxy's answer.

    python set_variable.py KEY VALUE     exits 0 when set; 3 when Airflow or the proxy refused (status and body on stderr)
"""
import json
import sys

from airflow_client.client import ApiException, VariableApi, VariableBody

from airflow_api import airflow_api_client

key, value = sys.argv[1], sys.argv[2]
with airflow_api_client() as api:
    variables = VariableApi(api)
    try:
        try:
            variable = variables.patch_variable(key, VariableBody(key=key, value=value))
        except ApiException as missing:
            if missing.status != 404:
                raise
            variable = variables.post_variable(VariableBody(key=key, value=value))
    except ApiException as refused:
        # The proxy's refusals are JSON: {"error": "insufficient_scope", ...} (see "Errors" in docs/app-developers.md).
        print(json.dumps({"status": refused.status, "body": json.loads(refused.body)}), file=sys.stderr)
        sys.exit(3)
print(json.dumps({"key": variable.key, "value": variable.value}))
