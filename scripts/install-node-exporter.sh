#!/usr/bin/env bash
# Builds, once, the Go node_exporter that the parity test and `make bench-node` run beside ours:
#   go install github.com/prometheus/node_exporter@v1.12.1
# into ~/.cache/node_exporter-<version>/bin, with the build settings of upstream's .promu.yml
# (CGO off, tags netgo/osusergo/static_build, the prometheus/common/version ldflags), so
# `node_exporter --version` and node_exporter_build_info say 1.12.1 as a release binary does.
#
# Prints the path of the binary to use on stdout (nothing else). When Go or the module proxy is
# unavailable it falls back to Debian's prometheus-node-exporter (1.5.0 on bookworm) and says so
# on stderr; NODE_EXPORTER_VERSION overrides the version.
set -euo pipefail

version="${NODE_EXPORTER_VERSION:-1.12.1}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/node_exporter-$version"
bin="$cache/bin/node_exporter"

# Idempotent: a binary that reports the wanted version is kept.
if [ -x "$bin" ] && "$bin" --version 2>&1 | grep -q "version $version "; then
  echo "$bin"
  exit 0
fi

fallback() {
  local debian=/usr/bin/prometheus-node-exporter
  if [ -x "$debian" ]; then
    echo "install-node-exporter: $1; falling back to Debian's $("$debian" --version 2>&1 | head -1)" >&2
    echo "$debian"
    exit 0
  fi
  echo "install-node-exporter: $1, and no Debian prometheus-node-exporter either" >&2
  exit 1
}

command -v go >/dev/null || fallback "go not found"

mkdir -p "$cache/bin"
user="$(id -un 2>/dev/null || echo unknown)@$(hostname 2>/dev/null || echo unknown)"
v=github.com/prometheus/common/version
ldflags="-X $v.Version=$version -X $v.Revision=v$version -X $v.Branch=HEAD -X $v.BuildUser=$user"
ldflags+=" -X $v.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)"
echo "install-node-exporter: go install github.com/prometheus/node_exporter@v$version (once, into $cache)" >&2
# A temporary GOBIN, then a rename: a build cut short never leaves a half-written binary behind.
tmp="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
if ! CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS=-mod=mod go install -trimpath \
    -tags netgo,osusergo,static_build -ldflags "$ldflags" \
    "github.com/prometheus/node_exporter@v$version" >&2; then
  fallback "go install github.com/prometheus/node_exporter@v$version failed"
fi
mv "$tmp/node_exporter" "$bin"
echo "$bin"
