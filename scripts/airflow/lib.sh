# Sourced by scripts/airflow/start.sh (Airflow 3) and scripts/airflow2/start.sh (Airflow 2.11): what both start
# scripts do the same way. Expects `log` and CACHE_ROOT.

# Sets VENV_DIR, AIRFLOW_BIN and PYTHON_BIN from the venv that $1 (an ensure-venv.sh) prints, and exits unless
# AIRFLOW_PORT is a number and free on 127.0.0.1 (the server would otherwise die only after its slow start-up).
use_venv_and_port() {
  if ! [[ "$AIRFLOW_PORT" =~ ^[0-9]+$ ]]; then
    log "AIRFLOW_PORT must be a number, got '$AIRFLOW_PORT'"
    exit 2
  fi
  VENV_DIR="$("$1" | tail -n 1)"
  AIRFLOW_BIN="${VENV_DIR}/bin/airflow"
  PYTHON_BIN="${VENV_DIR}/bin/python"
  "$PYTHON_BIN" - "$AIRFLOW_PORT" <<'PY' || exit 1
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    sys.stderr.write(f"port {sys.argv[1]} on 127.0.0.1 is not free: {e}\n")
    sys.exit(1)
finally:
    s.close()
PY
}

# Exports AIRFLOW_HOME as an absolute path: the caller's, or a fresh one under <cache>/$1 (homes left behind by runs
# more than a day old are pruned).
use_airflow_home() {
  if [[ -z "${AIRFLOW_HOME:-}" ]]; then
    local homes_dir="${CACHE_ROOT}/$1"
    mkdir -p "$homes_dir"
    find "$homes_dir" -mindepth 1 -maxdepth 1 -type d -mtime +1 -exec rm -rf {} + 2>/dev/null || true
    AIRFLOW_HOME="$(mktemp -d "${homes_dir}/home-XXXXXXXX")"
  fi
  mkdir -p "$AIRFLOW_HOME"
  AIRFLOW_HOME="$(cd "$AIRFLOW_HOME" && pwd)"
  export AIRFLOW_HOME
  log "AIRFLOW_HOME=$AIRFLOW_HOME"
}

