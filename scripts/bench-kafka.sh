#!/usr/bin/env bash
# Benchmarks our kafka-exporter against Apache Kafka (`make bench-kafka`).
#
#   scripts/bench-kafka.sh [ARGS...]              side by side (bench/kafka_side_by_side.py)
#   scripts/bench-kafka.sh collections [ARGS...]  ours alone, per collection (bench/kafka_bench.py)
#
# Side by side (the default): ours and danielqsj/kafka_exporter (the binary named by
# KAFKA_EXPORTER_BIN; without it our column only, said in one line) on the same 3-node Apache
# Kafka, a counting proxy in front of each node, scraped as Prometheus scrapes (every 15 s, 10 s
# timeout, gzip) for 3 minutes at 1,000 partitions / 200 groups and at 10,000 / 1,000, then at
# 1,000 / 200 with one node killed: scrape p50/p99, failed scrapes, CPU per minute, RSS, broker
# requests per minute, ratios. Durations and sizes: BENCH_KAFKA_SIZES (1000/200,10000/1000),
# BENCH_KAFKA_DURATION (180), BENCH_KAFKA_INTERVAL (15), BENCH_KAFKA_TIMEOUT (10),
# BENCH_KAFKA_REFRESH (15), BENCH_KAFKA_KILL (1). A smoke run:
#   BENCH_KAFKA_SIZES=200/20 BENCH_KAFKA_DURATION=30 make bench-kafka
#
# "collections": one node, collection duration and the broker's share of it, requests per
# collection by API key, CPU per collection, RSS, scrape latency (--sizes small,large ...).
#
# The brokers: scripts/kafka/cluster.py (jars from scripts/install-kafka.sh); the workload:
# scripts/kafka/workload.py in the venv of scripts/install-pydeps.sh. Both installs are instant
# once done. Never fails on a figure.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
cargo build --release -p kafka-exporter --bin kafka-exporter
scripts/install-kafka.sh --quiet > /dev/null
venv_py=$(scripts/install-pydeps.sh)
target="${CARGO_TARGET_DIR:-$repo/target}"
if [ "${1:-}" = collections ]; then
  shift
  exec python3 bench/kafka_bench.py \
    --exporter "$target/release/kafka-exporter" \
    --workload-python "$venv_py" \
    "$@"
fi
exec python3 bench/kafka_side_by_side.py \
  --ours "$target/release/kafka-exporter" \
  --workload-python "$venv_py" \
  "$@"
