#!/usr/bin/env bash
# Idempotently fetch a pinned openapi-generator-cli (the executable jar from Maven Central, fetched with Maven) for
# the OpenAPI acceptance test: it validates the document the proxy serves and generates the Python client that
# test calls through the proxy. It lives in the same cache as the Airflow venv, outside the repository.
#
# stdout: only the jar's path (last and only line). Everything else -> stderr.
set -euo pipefail

GENERATOR_VERSION="${OPENAPI_GENERATOR_VERSION:-7.25.0}"
CACHE_ROOT="${AIRFLOW_TOKEN_BROKER_CACHE:-${HOME:-/tmp}/.cache/airflow-token-broker}"
JAR="${CACHE_ROOT}/openapi-generator-cli-${GENERATOR_VERSION}.jar"

log() { printf '[ensure-openapi-generator] %s\n' "$*" >&2; }

if [[ -s "$JAR" ]]; then
  printf '%s\n' "$JAR"
  exit 0
fi

for tool in java mvn; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is needed (Java 11+, Maven)"; exit 1; }
done
mkdir -p "$CACHE_ROOT"

# Serialize concurrent callers (parallel jest workers on a cold cache).
if command -v flock >/dev/null 2>&1; then
  exec 9>"${JAR}.lock"
  flock 9
  if [[ -s "$JAR" ]]; then
    printf '%s\n' "$JAR"
    exit 0
  fi
fi

WORK="$(mktemp -d "${CACHE_ROOT}/.openapi-generator-tmp.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
log "fetching org.openapitools:openapi-generator-cli:${GENERATOR_VERSION} from Maven Central (about 30 MB)"
# dependency:copy resolves through the machine's Maven settings (mirrors, proxies) and keeps a copy in ~/.m2.
mvn -q -B dependency:copy \
  "-Dartifact=org.openapitools:openapi-generator-cli:${GENERATOR_VERSION}:jar" \
  "-DoutputDirectory=${WORK}" -Dmdep.stripVersion=false >&2
FETCHED="${WORK}/openapi-generator-cli-${GENERATOR_VERSION}.jar"
[[ -s "$FETCHED" ]] || { log "Maven did not produce $FETCHED"; exit 1; }
# Moved into place only when complete, so an interrupted run leaves nothing that looks usable.
mv "$FETCHED" "$JAR"
printf '%s\n' "$JAR"
