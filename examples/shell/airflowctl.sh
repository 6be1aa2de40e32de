#!/bin/sh
# airflowctl (apache-airflow-ctl 0.1.5) through the proxy. `auth login` only records the API URL (in
# $AIRFLOW_HOME/production.json; with --skip-keyring no token is stored, so any non-empty --api-token will do);
# every command then takes its token from AIRFLOW_CLI_TOKEN. Tokens are short-lived: get one per script run.
set -eu
airflowctl auth login --api-url "$AIRFLOW_TOKEN_BROKER_ISSUER/airflow/$AIRFLOW_TOKEN_BROKER_DEPLOYMENT" --api-token unused --skip-keyring
AIRFLOW_CLI_TOKEN=$(airflow-token-broker token --issuer "$AIRFLOW_TOKEN_BROKER_ISSUER" --client-id "$AIRFLOW_TOKEN_BROKER_CLIENT_ID")
export AIRFLOW_CLI_TOKEN
airflowctl dags list --output json
airflowctl dags trigger "$1" --output json   # 0.1.5 cannot send a conf: see "airflowctl" in docs/app-developers.md
