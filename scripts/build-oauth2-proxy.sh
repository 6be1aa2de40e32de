#!/bin/sh
# Builds oauth2-proxy (an anchor of `npm run bench`) with `go install` from the Go module proxy into
# ~/.cache/airflow-token-broker/oauth2-proxy-<version>/, like the Airflow virtualenv: once, reused after.
set -eu
VERSION=${OAUTH2_PROXY_VERSION:-v7.15.6}
DIR="$HOME/.cache/airflow-token-broker/oauth2-proxy-$VERSION"
if [ -x "$DIR/oauth2-proxy" ]; then echo "$DIR/oauth2-proxy"; exit 0; fi
command -v go >/dev/null || { echo "go is not on PATH: install Go to build oauth2-proxy" >&2; exit 1; }
TMP="$DIR.tmp.$$"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT
GOBIN="$TMP" go install "github.com/oauth2-proxy/oauth2-proxy/v7@$VERSION"
mkdir -p "$DIR"
mv "$TMP/oauth2-proxy" "$DIR/oauth2-proxy"
echo "$DIR/oauth2-proxy"
