#!/usr/bin/env bash
# Benchmarks our node-exporter beside the real node_exporter on this host (`make bench-node`):
# RSS, CPU per scrape, latency, response and binary size, and the floor of CPU per scrape (only
# reading the files one scrape opens). Prints figures and ratios beside the targets; never fails
# on a figure.
#
#   scripts/bench-node.sh [--scrapes N] [--floor-passes N] [--collectors a,b] [--json FILE]
#
# NODE_EXPORTER_BIN: the reference binary (default: node_exporter 1.12.1 from
# scripts/install-node-exporter.sh, which falls back to Debian's 1.5.0 when it cannot build it).
# NODE_EXPORTER_OLD_BIN: a second reference run beside it (default Debian's
# /usr/bin/prometheus-node-exporter when present and not already the first; "" for none).
# Needs python3 (standard library) and, for the floor, strace; run as root to trace.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
cargo build --release -p node-exporter --bin node-exporter --example read_floor
target="${CARGO_TARGET_DIR:-$repo/target}"
theirs="${NODE_EXPORTER_BIN:-$(scripts/install-node-exporter.sh)}"
old="${NODE_EXPORTER_OLD_BIN-/usr/bin/prometheus-node-exporter}"
extra=()
if [ -n "$old" ] && [ -x "$old" ] && [ "$(readlink -f "$old")" != "$(readlink -f "$theirs")" ]; then
  extra=(--theirs-old "$old")
fi
echo "bench-node: reference: $("$theirs" --version 2>&1 | head -1) ($theirs)"
exec python3 bench/node_bench.py \
  --ours "$target/release/node-exporter" \
  --read-floor "$target/release/examples/read_floor" \
  --theirs "$theirs" \
  "${extra[@]}" \
  "$@"
