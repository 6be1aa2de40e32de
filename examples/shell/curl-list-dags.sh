#!/bin/sh
# A token with curl (client credentials, HTTP Basic), then the DAGs it may see: the shortest path to a first call.
TOKEN=$(curl -sf -u "$AIRFLOW_TOKEN_BROKER_CLIENT_ID:$AIRFLOW_TOKEN_BROKER_CLIENT_SECRET" -d grant_type=client_credentials "$AIRFLOW_TOKEN_BROKER_ISSUER/oauth2/token" | jq -r .access_token)
curl -sf -H "Authorization: Bearer $TOKEN" "$AIRFLOW_TOKEN_BROKER_ISSUER/airflow/$AIRFLOW_TOKEN_BROKER_DEPLOYMENT/api/v2/dags"
