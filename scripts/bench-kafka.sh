#!/usr/bin/env bash
# Benchmarks our kafka-exporter against Apache Kafka (`make bench-kafka`): for a small (1,000
# partitions, 200 groups) and a large (10,000 partitions, 1,000 groups) cluster, collection
# duration and the broker's share of it, requests per collection by API key (counted by a proxy
# in front of the broker), CPU per collection, RSS, scrape latency and size. Prints figures
# beside the targets; never fails on a figure.
#
#   scripts/bench-kafka.sh [--sizes small,large] [--messages M] [--collections K]
#                          [--scrapes N] [--json FILE]
#
# The broker: one KRaft node of scripts/kafka/cluster.py (jars from scripts/install-kafka.sh);
# the workload: scripts/kafka/workload.py in the venv of scripts/install-pydeps.sh. Both
# installs are instant once done.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
cargo build --release -p kafka-exporter --bin kafka-exporter
scripts/install-kafka.sh --quiet > /dev/null
venv_py=$(scripts/install-pydeps.sh)
target="${CARGO_TARGET_DIR:-$repo/target}"
exec python3 bench/kafka_bench.py \
  --exporter "$target/release/kafka-exporter" \
  --workload-python "$venv_py" \
  "$@"
