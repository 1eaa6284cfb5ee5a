#!/usr/bin/env bash
# Builds, idempotently, Prometheus 3.x and its promtool from the Go module proxy (Debian ships
# 2.42 only), from the wrapper module scripts/prometheus3 (go.mod + go.sum pin every dependency;
# Prometheus itself cannot be `go install`ed from a plain require once its go.mod carries replace
# or exclude directives, and a main package cannot be imported: the wrapper names both commands
# as `tool`s). No web UI assets: the UI is embedded only with the `builtinassets` build tag, and
# the tests use the HTTP API alone.
# Binaries go to ~/.cache/prometheus3/<version>/{prometheus,promtool}; a marker makes a second
# run instant. Prints that directory. The first build costs ~8.5 min of CPU (26 min of wall time
# on a 2-core machine shared with other builds), the module download ~1 min; Go's build cache
# (~/.cache/go-build) makes a rebuild quick.
#   usage: scripts/install-prometheus3.sh [--quiet]
set -euo pipefail
cd "$(dirname "$0")/prometheus3"

quiet=0
case "${1:-}" in
  "") ;;
  --quiet) quiet=1 ;;
  *) echo "install-prometheus3: unknown argument ${1}; usage: install-prometheus3.sh [--quiet]" >&2; exit 64 ;;
esac
say() { [ $quiet = 1 ] || echo "install-prometheus3: $*" >&2; }

version=$(sed -nE 's/^(require)?[[:space:]]*github\.com\/prometheus\/prometheus (v[0-9.]+).*/\2/p' go.mod)
[ -n "$version" ] || { echo "install-prometheus3: no prometheus version in scripts/prometheus3/go.mod" >&2; exit 1; }
dir="${XDG_CACHE_HOME:-$HOME/.cache}/prometheus3/$version"
marker="$dir/.installed-$(sha256sum go.sum | cut -c1-16)"
if [ -f "$marker" ] && [ -x "$dir/prometheus" ] && [ -x "$dir/promtool" ]; then
  echo "$dir"
  exit 0
fi
command -v go > /dev/null || { echo "install-prometheus3: go missing (Go 1.26 or newer)" >&2; exit 1; }

mkdir -p "$dir"
exec 9> "$dir/.lock"
flock 9
if [ -f "$marker" ] && [ -x "$dir/prometheus" ] && [ -x "$dir/promtool" ]; then
  echo "$dir"
  exit 0
fi
say "building Prometheus $version and promtool (first time: 10 to 30 min)"
start=$SECONDS
# -mod=readonly: go.sum must already hold every hash (a tampered or missing module fails).
# The version shows in `prometheus --version` through the ldflags Prometheus's own build sets:
# module v0.316.0 is Prometheus 3.16.0 (v0.3xx.y: 3.xx.y).
release=${version#v0.}
release="${release:0:1}.${release:1}"
ldflags="-X github.com/prometheus/common/version.Version=$release -X github.com/prometheus/common/version.Branch=wrapper"
for cmd in prometheus promtool; do
  GOFLAGS="-mod=readonly -buildvcs=false" nice go build -trimpath -ldflags "$ldflags" \
    -o "$dir/$cmd.tmp" "github.com/prometheus/prometheus/cmd/$cmd"
  mv "$dir/$cmd.tmp" "$dir/$cmd"
done
rm -f "$dir"/.installed-*
touch "$marker"
say "built in $((SECONDS - start))s: $("$dir/prometheus" --version 2>&1 | head -1)"
echo "$dir"
