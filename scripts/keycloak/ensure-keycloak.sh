#!/usr/bin/env bash
# Idempotently install a pinned Keycloak (the Quarkus distribution from Maven Central, fetched with Maven) for
# the integration tests, and run its one-time `kc.sh build` so later starts are `--optimized` (no rebuild).
# It lives in the same cache as the Airflow venv, outside the repository, keyed by version and build options.
#
# stdout: only the Keycloak home (last and only line). Everything else -> stderr.
set -euo pipefail

KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.3}"
CACHE_ROOT="${AIRFLOW_TOKEN_BROKER_CACHE:-${HOME:-/tmp}/.cache/airflow-token-broker}"
# The build options are baked into the distribution by `kc.sh build`; start.sh must not contradict them.
# Bump BUILD_REV when they change so an old build is not reused.
BUILD_REV=1
KC_HOME="${CACHE_ROOT}/keycloak-${KEYCLOAK_VERSION}-b${BUILD_REV}"

log() { printf '[ensure-keycloak] %s\n' "$*" >&2; }

complete() { [[ -f "${KC_HOME}/.complete" && -x "${KC_HOME}/bin/kc.sh" ]]; }

if complete; then
  printf '%s\n' "$KC_HOME"
  exit 0
fi

for tool in java mvn unzip; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is needed (Java 17+, Maven, unzip)"; exit 1; }
done

mkdir -p "$CACHE_ROOT"

# Serialize concurrent callers (parallel jest workers start Keycloak at once on a cold cache).
LOCK_FILE="${CACHE_ROOT}/.keycloak-${KEYCLOAK_VERSION}-b${BUILD_REV}.lock"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LOCK_FILE"
  log "waiting for lock $LOCK_FILE"
  flock 9
  if complete; then
    printf '%s\n' "$KC_HOME"
    exit 0
  fi
fi

START=$(date +%s)
WORK="$(mktemp -d "${CACHE_ROOT}/.keycloak-tmp.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

ZIP="${WORK}/keycloak-quarkus-dist-${KEYCLOAK_VERSION}.zip"
log "fetching org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip from Maven Central (about 150 MB)"
# dependency:copy resolves through the machine's Maven settings (mirrors, proxies) and keeps a copy in ~/.m2.
mvn -q -B dependency:copy \
  "-Dartifact=org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip" \
  "-DoutputDirectory=${WORK}" -Dmdep.stripVersion=false >&2
[[ -f "$ZIP" ]] || { log "Maven did not produce $ZIP"; exit 1; }

unzip -q "$ZIP" -d "${WORK}/unpacked" >&2
rm -f "$ZIP"
UNPACKED="${WORK}/unpacked/keycloak-${KEYCLOAK_VERSION}"
[[ -x "${UNPACKED}/bin/kc.sh" ]] || { log "unexpected archive layout: no keycloak-${KEYCLOAK_VERSION}/bin/kc.sh"; exit 1; }

# The build-time options of a test instance: in-memory H2 database, no
# health/metrics endpoints (so no management port). Starting with `--optimized` then skips the slow
# augmentation step; test/helpers/keycloak-server.ts must pass no other build-time option.
log "kc.sh build (one-time; takes a minute or two)"
BUILD_START=$(date +%s)
"${UNPACKED}/bin/kc.sh" build \
  --db=dev-mem --health-enabled=false --metrics-enabled=false >&2
log "build took $(( $(date +%s) - BUILD_START ))s"

# Move into place only when complete, so an interrupted run leaves nothing that looks usable.
rm -rf "$KC_HOME"
mv "$UNPACKED" "$KC_HOME"
date -u +%Y-%m-%dT%H:%M:%SZ > "${KC_HOME}/.complete"
log "done in $(( $(date +%s) - START ))s"
printf '%s\n' "$KC_HOME"
