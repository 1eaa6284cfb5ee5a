# The two commands a newcomer needs: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all build release deps test test-rust test-kafka test-monitoring test-deploy e2e fmt-check lint run up down bench-node bench-sidecar bench-kafka clean

all: build

## Debian packages, Apache Kafka's jars (Maven, into ~/.cache/kafka) and the Python venv of the
## Kafka workload and tests (confluent-kafka, pytest; ~/.cache/observability-venv).
deps:
	@scripts/install-deps.sh
	@scripts/install-kafka.sh --quiet > /dev/null
	@scripts/install-pydeps.sh > /dev/null

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release --workspace

## Tests: unit and end-to-end against real processes (node_exporter, promtool, curl).
test: deps fmt-check lint test-rust test-monitoring test-deploy e2e test-kafka

test-rust:
	$(CARGO) test --workspace

## kafka-exporter against real Apache Kafka (KRaft, 1 and 3 nodes, brokers killed), in pytest;
## installs Kafka's jars and the Python packages once. KAFKA_SKIP_FAULT_LOOP=1 for a quick run.
test-kafka:
	scripts/test-kafka.sh

## promtool, amtool, docker-compose config, dashboards: see monitoring/README.md.
test-monitoring:
	scripts/check-monitoring.sh

## Helm chart, gateway sidecar patches, AWS configuration, offline: see deploy/README.md.
test-deploy: deps
	scripts/install-deploy-tools.sh
	scripts/check-deploy.sh

## node-exporter, the sidecar and stub services under a real Prometheus, on free local ports
## (targets, rules, every dashboard query, ServiceDown); see monitoring/tools/e2e.py.
e2e: deps
	scripts/e2e.sh

## rustfmt on every tracked .rs file on its own, not only those reachable through `mod` items.
fmt-check:
	scripts/check-fmt.sh

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## node-exporter :9100, the sidecar :8000 (metrics :9464) in front of a stub upstream :3000, and
## Prometheus :9090 on the generated localhost config; Ctrl-C stops it all (scripts/run-local.sh).
run: deps
	scripts/run-local.sh

## The containerised stack, for those with a Docker engine: docker-compose.yml's profiles.
PROFILES ?= observability kafka
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
up:
	$(COMPOSE) $(foreach p,$(PROFILES),--profile $(p)) up -d --build
down:
	$(COMPOSE) $(foreach p,$(PROFILES),--profile $(p)) down

## Benchmarks print figures beside the Go original; they never fail on a figure.
bench-node: deps
	scripts/bench-node.sh

## kafka-exporter beside kafka_exporter (KAFKA_EXPORTER_BIN; ours alone without it) on 3-node Apache
## Kafka at 1,000 and 10,000 partitions, scraped as Prometheus does (counting proxies in front of the
## brokers); smoke: BENCH_KAFKA_SIZES=200/20 BENCH_KAFKA_DURATION=30; see scripts/bench-kafka.sh.
bench-kafka: deps
	scripts/bench-kafka.sh $(BENCH_KAFKA_ARGS)

bench-sidecar:
	scripts/bench-sidecar.sh

clean:
	$(CARGO) clean
