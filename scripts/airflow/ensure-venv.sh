#!/usr/bin/env bash
# Idempotently create a Python virtualenv with a pinned Apache Airflow for
# integration tests. The venv lives in a cache directory outside the repo,
# keyed by the hash of the requirements file, and is reused when complete.
#
#   ensure-venv.sh [REQUIREMENTS [VENV_PREFIX [PYTHON_VERSIONS [CHECK]]]]
#
# Defaults: this directory's requirements.txt (Airflow 3), prefix airflow-venv
# (so the venv is <cache>/airflow-venv-<hash>), Python "3.10 3.11 3.12 3.13",
# CHECK "airflow version": the sanity check run from the venv's bin/ once
# installed (its first word must be there for the venv to count as complete).
# scripts/airflow2/ensure-venv.sh calls it with Airflow 2.11's pins,
# scripts/clients/ensure-venv.sh with the app developers' clients.
#
# stdout: only the venv path (last and only line). Everything else -> stderr.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQ_FILE="${1:-${SCRIPT_DIR}/requirements.txt}"
VENV_PREFIX="${2:-airflow-venv}"
read -ra PYTHON_VERSIONS <<< "${3:-3.10 3.11 3.12 3.13}"
read -ra CHECK <<< "${4:-airflow version}"
CACHE_ROOT="${AIRFLOW_TOKEN_BROKER_CACHE:-${HOME:-/tmp}/.cache/airflow-token-broker}"

log() { printf '[ensure-venv] %s\n' "$*" >&2; }

if [[ ! -f "$REQ_FILE" ]]; then
  log "missing $REQ_FILE"
  exit 1
fi

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -c1-64
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -c1-64
  else
    python3 -c 'import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
  fi
}

REQ_HASH="$(sha256_of "$REQ_FILE")"
REQ_HASH="${REQ_HASH:0:12}"
VENV_DIR="${CACHE_ROOT}/${VENV_PREFIX}-${REQ_HASH}"

# Fast path: already installed.
if [[ -f "${VENV_DIR}/.complete" && -x "${VENV_DIR}/bin/${CHECK[0]}" ]]; then
  printf '%s\n' "$VENV_DIR"
  exit 0
fi

# Pick a supported interpreter (Airflow 3.3 supports CPython 3.10-3.13; the
# Airflow 2.11 pins are a Python 3.11 freeze).
pick_python() {
  local candidates=() v
  [[ -n "${AIRFLOW_PYTHON:-}" ]] && candidates+=("$AIRFLOW_PYTHON")
  candidates+=(python3)
  for v in "${PYTHON_VERSIONS[@]}"; do candidates+=("python$v"); done
  local py ver
  for py in "${candidates[@]}"; do
    command -v "$py" >/dev/null 2>&1 || continue
    ver="$("$py" -c 'import sys;print("%d.%d"%sys.version_info[:2])' 2>/dev/null)" || continue
    for v in "${PYTHON_VERSIONS[@]}"; do
      [[ "$ver" == "$v" ]] && { printf '%s\n' "$py"; return 0; }
    done
    log "skipping $py (Python $ver not in ${PYTHON_VERSIONS[*]})"
  done
  return 1
}

PYTHON="$(pick_python)" || { log "no python3 in ${PYTHON_VERSIONS[*]} found (set AIRFLOW_PYTHON)"; exit 1; }
log "using $(command -v "$PYTHON") ($("$PYTHON" --version 2>&1))"

mkdir -p "$CACHE_ROOT"

# Serialize concurrent callers (e.g. parallel test workers) if flock exists.
LOCK_FILE="${CACHE_ROOT}/.${VENV_PREFIX}-${REQ_HASH}.lock"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LOCK_FILE"
  log "waiting for lock $LOCK_FILE"
  flock 9
  if [[ -f "${VENV_DIR}/.complete" && -x "${VENV_DIR}/bin/${CHECK[0]}" ]]; then
    printf '%s\n' "$VENV_DIR"
    exit 0
  fi
fi

# Start from scratch if a previous attempt was interrupted.
if [[ -d "$VENV_DIR" ]]; then
  log "removing incomplete venv $VENV_DIR"
  rm -rf "$VENV_DIR"
fi

START=$(date +%s)
log "creating venv in $VENV_DIR (this takes a few minutes on a cold machine)"
# Build in place at the final path: venv scripts hard-code their location,
# so a temp dir + rename would break bin/airflow shebangs.
if ! "$PYTHON" -m venv "$VENV_DIR" >&2; then
  log "python -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
  rm -rf "$VENV_DIR"
  exit 1
fi
"${VENV_DIR}/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip >&2
"${VENV_DIR}/bin/python" -m pip install --disable-pip-version-check -r "$REQ_FILE" >&2

# Sanity check (with a throwaway AIRFLOW_HOME so ~/airflow is not created).
CHECK_HOME="$(mktemp -d)"
AIRFLOW_HOME="$CHECK_HOME" "${VENV_DIR}/bin/${CHECK[0]}" "${CHECK[@]:1}" >&2
rm -rf "$CHECK_HOME"

date -u +%Y-%m-%dT%H:%M:%SZ > "${VENV_DIR}/.complete"
log "done in $(( $(date +%s) - START ))s"
printf '%s\n' "$VENV_DIR"
