#!/usr/bin/env bash
# Idempotently create the virtualenv of the Python clients app developers use through the proxy
# (requirements.txt: apache-airflow-client, airflowctl, Authlib, httpx, requests): the same cache and rules as
# scripts/airflow/ensure-venv.sh, so <cache>/clients-venv-<hash of requirements.txt>, reused when complete.
#
# stdout: only the venv path. Everything else -> stderr.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${SCRIPT_DIR}/../airflow/ensure-venv.sh" "${SCRIPT_DIR}/requirements.txt" clients-venv "3.10 3.11 3.12 3.13" "airflowctl version"
