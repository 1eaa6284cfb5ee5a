#!/usr/bin/env bash
# End-to-end run under a real Prometheus, natively on 127.0.0.1 (free ports, no containers):
# node-exporter, gateway-sidecar in front of the NestJS api-gateway (apps/), the NestJS
# user-service and interview-service (kafkajs), Apache Kafka (scripts/kafka/cluster.py) with kafka-exporter and a
# producer/consumer workload (scripts/kafka/workload.py), and Prometheus on the localhost variant
# generated from monitoring/prometheus. Checks targets, rules, every panel query of the three
# dashboards, and ServiceDown; see monitoring/tools/e2e.py. Ends with `e2e: N passed, M failed`;
# exits non-zero on a failure.
#
# Prometheus: Debian's 2.42 by default; --prometheus3 runs under the Prometheus 3.x that
# scripts/install-prometheus3.sh builds (once, cached in ~/.cache/prometheus3).
# Builds the daemons (debug, like `cargo test`) into ${CARGO_TARGET_DIR:-target}.
# Tools: prometheus and python3-yaml (scripts/install-deps.sh), Kafka's jars and a JRE
# (scripts/install-kafka.sh), the venv with confluent-kafka (scripts/install-pydeps.sh); the two
# last are run here too (instant once installed). E2E_KEEP=1 keeps the logs.
set -euo pipefail
cd "$(dirname "$0")/.."

prometheus=prometheus
case "${1:-}" in
  "") ;;
  --prometheus3) prometheus="$(scripts/install-prometheus3.sh --quiet)/prometheus" ;;
  *) echo "e2e: unknown argument ${1}; usage: e2e.sh [--prometheus3]" >&2; exit 64 ;;
esac

for tool in "$prometheus" /usr/bin/python3 node; do
  command -v "$tool" > /dev/null || { echo "e2e: $tool missing; run scripts/install-deps.sh" >&2; exit 2; }
done
/usr/bin/python3 -c 'import yaml' 2> /dev/null || { echo "e2e: python3-yaml missing; run scripts/install-deps.sh" >&2; exit 2; }

CARGO=${CARGO:-cargo}
scripts/install-kafka.sh --quiet > /dev/null
VENV_PY=$(scripts/install-pydeps.sh)
scripts/install-node-apps.sh

"$CARGO" build -q -p node-exporter -p gateway-sidecar -p kafka-exporter --bins
BIN=${CARGO_TARGET_DIR:-target}/debug

# e2e.py stops everything it started on any exit (its children also die with it); the trap
# only forwards Ctrl-C / SIGTERM to it.
/usr/bin/python3 monitoring/tools/e2e.py \
  --node-exporter "$BIN/node-exporter" --sidecar "$BIN/gateway-sidecar" \
  --kafka-exporter "$BIN/kafka-exporter" --workload-python "$VENV_PY" --prometheus "$prometheus" \
  ${E2E_KEEP:+--keep} &
pid=$!
trap 'kill -TERM "$pid" 2> /dev/null; wait "$pid"; exit 130' INT TERM
wait "$pid"
