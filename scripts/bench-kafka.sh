#!/usr/bin/env bash
# Benchmarks our kafka-exporter against Tansu (`make bench-kafka`): for a small (1,000 partitions,
# 200 groups) and a large (10,000 partitions, 1,000 groups) cluster, collection duration and the
# broker's share of it, requests per collection by API key (counted by a proxy in front of the
# broker), CPU per collection, RSS, scrape latency and size. Prints figures beside the targets;
# never fails on a figure.
#
#   scripts/bench-kafka.sh [--sizes small,large] [--messages M] [--collections K]
#                          [--scrapes N] [--json FILE]
#
# TANSU: the broker binary (default: the cargo home's, installed by scripts/install-tansu.sh).
# Needs python3 (standard library only).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
cargo build --release -p kafka-exporter --bin kafka-exporter --example workload
scripts/install-tansu.sh
target="${CARGO_TARGET_DIR:-$repo/target}"
exec python3 bench/kafka_bench.py \
  --exporter "$target/release/kafka-exporter" \
  --workload "$target/release/examples/workload" \
  --tansu "${TANSU:-${CARGO_HOME:-$HOME/.cargo}/bin/tansu}" \
  "$@"
