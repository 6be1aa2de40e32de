#!/usr/bin/env bash
# Start a local, throwaway Apache Airflow 2.11 webserver (the /api/v1 REST API, always FAB) for integration tests.
#
#   AIRFLOW_PORT   port for the webserver (default 28090), bound to 127.0.0.1 only
#   AIRFLOW_HOME   Airflow home (default: a fresh dir under <cache>/airflow2-homes)
#   AIRFLOW_FAB_USERS  FAB users created after `airflow db migrate`, "name:Role,..." with the password
#                  "<name>-pass" (default admin:Admin,proxy:Op,viewer:Viewer)
#   AIRFLOW_COMPANION=1  the token broker's Airflow 2 auth backend (companions/src on PYTHONPATH) comes first in
#                  [api] auth_backends: airflow_token_broker.airflow2_auth,basic_auth,session
#   AIRFLOW_WITH_SCHEDULER=1  also run `airflow scheduler` (same environment, same process group, stopped with
#                  the webserver), so triggered runs really run their tasks (SequentialExecutor: Airflow 2 allows no other with SQLite)
#   AIRFLOW__*     any extra Airflow config from the caller; the caller's value wins over the defaults set here
#                  (except host/port/dags folder)
#
# Runs `airflow db migrate`, then prepare.py (FAB's default roles, the FAB users, and the DAGs serialized: Airflow 2's
# webserver and API read DAGs from the serialized_dag table, which only a DAG processor fills), then execs
# `airflow webserver` in the foreground: kill this process's group to stop Airflow (gunicorn's workers and the scheduler are in it).
# All output goes to stderr.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
AIRFLOW3_DIR="$(cd "${SCRIPT_DIR}/../airflow" && pwd)"
CACHE_ROOT="${AIRFLOW_TOKEN_BROKER_CACHE:-${HOME:-/tmp}/.cache/airflow-token-broker}"

log() { printf '[airflow2-start] %s\n' "$*" >&2; }
source "${AIRFLOW3_DIR}/lib.sh"

AIRFLOW_PORT="${AIRFLOW_PORT:-28090}"
use_venv_and_port "${SCRIPT_DIR}/ensure-venv.sh"
use_airflow_home airflow2-homes

# --- Forced settings ---------------------------------------------------------
# The same DAG files (and ids) as the Airflow 3 tests: they import Airflow 2's modules when airflow.sdk is missing.
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW3_DIR}/dags"
export AIRFLOW__WEBSERVER__WEB_SERVER_HOST="127.0.0.1"
export AIRFLOW__WEBSERVER__WEB_SERVER_PORT="$AIRFLOW_PORT"

# --- Defaults (caller-provided AIRFLOW__* values win) -------------------------
: "${AIRFLOW_FAB_USERS:=admin:Admin,proxy:Op,viewer:Viewer}"
if [[ "${AIRFLOW_COMPANION:-0}" == "1" ]]; then
  COMPANIONS_SRC="$(cd "${SCRIPT_DIR}/../../companions/src" && pwd)"
  export PYTHONPATH="${COMPANIONS_SRC}${PYTHONPATH:+:${PYTHONPATH}}"
  : "${AIRFLOW__API__AUTH_BACKENDS:=airflow_token_broker.airflow2_auth,airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session}"
fi
: "${AIRFLOW__API__AUTH_BACKENDS:=airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session}"
: "${AIRFLOW__CORE__LOAD_EXAMPLES:=False}"
# Airflow 2 refuses SQLite with the LocalExecutor: tasks run one at a time, in the scheduler.
: "${AIRFLOW__CORE__EXECUTOR:=SequentialExecutor}"
: "${AIRFLOW__CORE__FERNET_KEY:=HEpcna4Ka__uy9bjDy91NQn6NVPXu_NGBA23VEdEg_4=}"
: "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:=sqlite:///${AIRFLOW_HOME}/airflow.db}"
: "${AIRFLOW__WEBSERVER__SECRET_KEY:=airflow-token-broker-dev-secret-key-not-for-production}"
# gunicorn workers: each is a full Flask app (~200 MB); two shared cores.
: "${AIRFLOW__WEBSERVER__WORKERS:=2}"
# No worker refresh cycle (it restarts workers every 30 s, each restart a slow app start).
: "${AIRFLOW__WEBSERVER__WORKER_REFRESH_INTERVAL:=0}"
: "${AIRFLOW__WEBSERVER__WORKER_REFRESH_BATCH_SIZE:=0}"
: "${AIRFLOW__WEBSERVER__BASE_URL:=http://127.0.0.1:${AIRFLOW_PORT}}"
: "${AIRFLOW__CORE__PARALLELISM:=2}"
: "${AIRFLOW__LOGGING__BASE_LOG_FOLDER:=${AIRFLOW_HOME}/logs}"
# Airflow 3's behaviour, and silences 2.11's deprecation warning on every command.
: "${AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY:=True}"
export AIRFLOW__API__AUTH_BACKENDS AIRFLOW__CORE__LOAD_EXAMPLES AIRFLOW__CORE__EXECUTOR AIRFLOW__CORE__FERNET_KEY \
  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN AIRFLOW__WEBSERVER__SECRET_KEY AIRFLOW__WEBSERVER__WORKERS \
  AIRFLOW__WEBSERVER__WORKER_REFRESH_INTERVAL AIRFLOW__WEBSERVER__WORKER_REFRESH_BATCH_SIZE \
  AIRFLOW__WEBSERVER__BASE_URL AIRFLOW__CORE__PARALLELISM AIRFLOW__LOGGING__BASE_LOG_FOLDER \
  AIRFLOW__METRICS__TIMER_UNIT_CONSISTENCY
export PATH="${VENV_DIR}/bin:${PATH}"

START=$(date +%s)
log "airflow db migrate"
"$AIRFLOW_BIN" db migrate >&2
log "prepare.py: FAB roles, users ${AIRFLOW_FAB_USERS}, DAGs from $AIRFLOW__CORE__DAGS_FOLDER"
"$PYTHON_BIN" "${SCRIPT_DIR}/prepare.py" "$AIRFLOW_FAB_USERS" >&2
if [[ "${AIRFLOW_WITH_SCHEDULER:-0}" == "1" ]]; then
  # A child of this shell, so it stays in the process group that stop() signals; the exec below keeps this pid.
  # --skip-serve-logs: the log server would listen on 0.0.0.0:8793, one port per machine.
  log "airflow scheduler (executor ${AIRFLOW__CORE__EXECUTOR})"
  "$AIRFLOW_BIN" scheduler --skip-serve-logs >&2 &
fi
log "prepared in $(( $(date +%s) - START ))s; exec airflow webserver on http://127.0.0.1:${AIRFLOW_PORT} (auth_backends ${AIRFLOW__API__AUTH_BACKENDS})"

exec "$AIRFLOW_BIN" webserver --hostname 127.0.0.1 --port "$AIRFLOW_PORT" --workers "$AIRFLOW__WEBSERVER__WORKERS" >&2
