#!/usr/bin/env bash
# The Airflow 2.11 venv for the /api/v1 tests: scripts/airflow/ensure-venv.sh with this directory's pins, cached as
# <cache>/airflow2-venv-<hash of requirements.txt>. The pins are a Python 3.11 freeze (importlib_metadata and
# google-re2 differ by Python version), so only 3.11 is accepted (AIRFLOW_PYTHON picks the interpreter).
#
# stdout: only the venv path. Everything else -> stderr.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${SCRIPT_DIR}/../airflow/ensure-venv.sh" "${SCRIPT_DIR}/requirements.txt" airflow2-venv 3.11
