#!/usr/bin/env bash
# End-to-end run under a real Prometheus, natively on 127.0.0.1 (free ports, no containers):
# node-exporter, gateway-sidecar in front of a stub upstream, stubs playing user-service and
# interview-service, and Prometheus on the localhost variant generated from monitoring/prometheus.
# Checks targets, rules, every System Overview and Auth Metrics panel query, and ServiceDown;
# see monitoring/tools/e2e.py. Ends with `e2e: N passed, M failed`; exits non-zero on a failure.
#
# Builds the two binaries (debug, like `cargo test`) into ${CARGO_TARGET_DIR:-target}.
# Tools: prometheus and python3-yaml (scripts/install-deps.sh). E2E_KEEP=1 keeps the logs.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in prometheus /usr/bin/python3; do
  command -v "$tool" > /dev/null || { echo "e2e: $tool missing; run scripts/install-deps.sh" >&2; exit 2; }
done
/usr/bin/python3 -c 'import yaml' 2> /dev/null || { echo "e2e: python3-yaml missing; run scripts/install-deps.sh" >&2; exit 2; }

CARGO=${CARGO:-cargo}
"$CARGO" build -q -p node-exporter -p gateway-sidecar
BIN=${CARGO_TARGET_DIR:-target}/debug

# e2e.py stops everything it started on any exit (its children also die with it); the trap
# only forwards Ctrl-C / SIGTERM to it.
/usr/bin/python3 monitoring/tools/e2e.py \
  --node-exporter "$BIN/node-exporter" --sidecar "$BIN/gateway-sidecar" \
  ${E2E_KEEP:+--keep} &
pid=$!
trap 'kill -TERM "$pid" 2> /dev/null; wait "$pid"; exit 130' INT TERM
wait "$pid"
