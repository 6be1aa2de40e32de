#!/usr/bin/env bash
# Start a local, throwaway Apache Airflow 3 API server for integration tests.
#
#   AIRFLOW_PORT   port for the API server (default 28080), bound to 127.0.0.1 only
#   AIRFLOW_HOME   Airflow home (default: a fresh dir under the cache)
#   AIRFLOW_SKIP_RESERIALIZE=1  skip `airflow dags reserialize` (DAGs then stay
#                  invisible to the API, since no dag-processor is running)
#   AIRFLOW_SKIP_MIGRATE=1  skip `airflow db migrate` and `airflow dags reserialize`:
#                  a second API server on the AIRFLOW_HOME/database another
#                  start.sh prepared (pass that AIRFLOW_HOME)
#   AIRFLOW_WITH_SCHEDULER=1  also run `airflow scheduler` (same environment,
#                  same process group, stopped with the API server), so
#                  triggered runs really run their tasks (LocalExecutor)
#   AIRFLOW_WITH_DAG_PROCESSOR=1  also run `airflow dag-processor` (same process
#                  group): Airflow 3's scheduler never parses DAG files, so
#                  without it a DAG file added or changed after start-up is not
#                  seen (the DAGs serialized by `dags reserialize` still run)
#   AIRFLOW__*     any extra Airflow config from the caller; the caller's value
#                  wins over the defaults set here (except host/port/dags folder)
#   AIRFLOW_AUTH_MANAGER=fab  the FAB auth manager with the token broker's companion
#                  (scripts/airflow/fab.sh: AIRFLOW_FAB_USERS); default: SimpleAuthManager
#
# Runs `airflow db migrate` and `airflow dags reserialize`, then execs
# `airflow api-server` in the foreground: kill this process's group to stop
# Airflow (the scheduler, when started, is a child in the same group).
# All output goes to stderr.
#
# Dev credentials (SimpleAuthManager): admin/admin-pass (admin),
# proxy/proxy-pass (op), viewer/viewer-pass (viewer).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${AIRFLOW_TOKEN_BROKER_CACHE:-${HOME:-/tmp}/.cache/airflow-token-broker}"

log() { printf '[airflow-start] %s\n' "$*" >&2; }
source "${SCRIPT_DIR}/lib.sh"

AIRFLOW_PORT="${AIRFLOW_PORT:-28080}"
use_venv_and_port "${SCRIPT_DIR}/ensure-venv.sh"

use_airflow_home airflow-homes

# Fixed dev passwords, written before Airflow starts so SimpleAuthManager does
# not generate random ones. Users listed in SIMPLE_AUTH_MANAGER_USERS but not
# in this file get a generated password appended by Airflow.
PASSWORDS_FILE="${AIRFLOW_HOME}/simple_auth_manager_passwords.json"
if [[ ! -f "$PASSWORDS_FILE" ]]; then
  printf '%s\n' '{"admin": "admin-pass", "proxy": "proxy-pass", "viewer": "viewer-pass"}' > "$PASSWORDS_FILE"
fi

# --- Forced settings ---------------------------------------------------------
export AIRFLOW__CORE__DAGS_FOLDER="${SCRIPT_DIR}/dags"
export AIRFLOW__API__HOST="127.0.0.1"
export AIRFLOW__API__PORT="$AIRFLOW_PORT"

# --- Defaults (caller-provided AIRFLOW__* values win) -------------------------
[[ "${AIRFLOW_AUTH_MANAGER:-simple}" == "fab" ]] && source "${SCRIPT_DIR}/fab.sh"
: "${AIRFLOW__CORE__LOAD_EXAMPLES:=False}"
: "${AIRFLOW__CORE__AUTH_MANAGER:=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:=admin:admin,proxy:op,viewer:viewer}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:=$PASSWORDS_FILE}"
: "${AIRFLOW__CORE__EXECUTOR:=LocalExecutor}"
: "${AIRFLOW__CORE__FERNET_KEY:=HEpcna4Ka__uy9bjDy91NQn6NVPXu_NGBA23VEdEg_4=}"
: "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:=sqlite:///${AIRFLOW_HOME}/airflow.db}"
: "${AIRFLOW__API_AUTH__JWT_SECRET:=airflow-token-broker-dev-jwt-secret-not-for-production-0123456789abcdef}"
: "${AIRFLOW__API__SECRET_KEY:=airflow-token-broker-dev-secret-key-not-for-production}"
: "${AIRFLOW__API__WORKERS:=1}"
# Task slots of the LocalExecutor (one forked worker each): the tests run one
# task at a time on two shared cores.
: "${AIRFLOW__CORE__PARALLELISM:=2}"
: "${AIRFLOW__API__BASE_URL:=http://127.0.0.1:${AIRFLOW_PORT}}"
: "${AIRFLOW__LOGGING__BASE_LOG_FOLDER:=${AIRFLOW_HOME}/logs}"
# Where workers reach the Task Execution API: this API server unless the caller
# points them elsewhere (the "dedicated API server for the broker" set-up).
: "${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:=http://127.0.0.1:${AIRFLOW_PORT}/execution/}"
export AIRFLOW__CORE__LOAD_EXAMPLES AIRFLOW__CORE__AUTH_MANAGER \
  AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE \
  AIRFLOW__CORE__EXECUTOR AIRFLOW__CORE__FERNET_KEY AIRFLOW__DATABASE__SQL_ALCHEMY_CONN \
  AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY AIRFLOW__API__WORKERS AIRFLOW__CORE__PARALLELISM \
  AIRFLOW__API__BASE_URL AIRFLOW__LOGGING__BASE_LOG_FOLDER AIRFLOW__CORE__EXECUTION_API_SERVER_URL

# By default only the API server is started (no scheduler, triggerer or
# dag-processor), so the only listening socket is 127.0.0.1:$AIRFLOW_PORT.
export PATH="${VENV_DIR}/bin:${PATH}"

START=$(date +%s)
if [[ "${AIRFLOW_SKIP_MIGRATE:-0}" == "1" ]]; then
  log "skipping airflow db migrate and dags reserialize (AIRFLOW_SKIP_MIGRATE=1)"
else
  log "airflow db migrate"
  "$AIRFLOW_BIN" db migrate >&2
  [[ "${AIRFLOW_AUTH_MANAGER:-simple}" == "fab" ]] && fab_create_users
  if [[ "${AIRFLOW_SKIP_RESERIALIZE:-0}" == "1" ]]; then
    log "skipping airflow dags reserialize (AIRFLOW_SKIP_RESERIALIZE=1)"
  else
    log "airflow dags reserialize (dags folder: $AIRFLOW__CORE__DAGS_FOLDER)"
    "$AIRFLOW_BIN" dags reserialize >&2
  fi
fi
if [[ "${AIRFLOW_WITH_SCHEDULER:-0}" == "1" ]]; then
  # A child of this shell, so it stays in the process group that stop() signals;
  # the exec below keeps this pid, so the API server becomes its parent.
  log "airflow scheduler (executor ${AIRFLOW__CORE__EXECUTOR}, execution API ${AIRFLOW__CORE__EXECUTION_API_SERVER_URL})"
  # --skip-serve-logs: the log server would listen on 0.0.0.0:8793 (one port
  # per machine, so parallel stacks collide); the API server on this host reads
  # the task logs from the files directly.
  "$AIRFLOW_BIN" scheduler --skip-serve-logs >&2 &
fi
if [[ "${AIRFLOW_WITH_DAG_PROCESSOR:-0}" == "1" ]]; then
  log "airflow dag-processor (dags folder: $AIRFLOW__CORE__DAGS_FOLDER)"
  "$AIRFLOW_BIN" dag-processor >&2 &
fi
log "prepared in $(( $(date +%s) - START ))s; exec airflow api-server on http://127.0.0.1:${AIRFLOW_PORT}"

exec "$AIRFLOW_BIN" api-server --host 127.0.0.1 --port "$AIRFLOW_PORT" \
  --workers "$AIRFLOW__API__WORKERS" >&2
