# The two commands a newcomer needs: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all build release deps test test-rust test-fuzz fuzz test-kafka test-monitoring test-deploy e2e fmt-check lint run up down bench-node bench-sidecar bench-kafka soak clean

all: build

## Debian packages (scripts/install-test-peers.sh: dbus, supervisor, chrony for node-exporter's
## tests/peers.rs), node_exporter 1.12.1 (go install, once, into ~/.cache/node_exporter-1.12.1),
## Apache Kafka's jars (Maven, into ~/.cache/kafka), the Python venv of the Kafka workload and
## tests (confluent-kafka, pytest; ~/.cache/observability-venv) and the NestJS apps' npm packages
## (npm ci into apps/node_modules).
deps:
	@scripts/install-deps.sh
	@scripts/install-test-peers.sh
	@scripts/install-node-exporter.sh > /dev/null
	@scripts/install-kafka.sh --quiet > /dev/null
	@scripts/install-pydeps.sh > /dev/null
	@scripts/install-node-apps.sh

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release --workspace

## Tests: unit and end-to-end against real processes (node_exporter, promtool, curl).
test: deps fmt-check lint test-rust test-fuzz test-monitoring test-deploy e2e test-kafka

test-rust:
	$(CARGO) test --workspace

## Every cargo-fuzz target of fuzz/ for a few seconds each (a crash fails the test); installs
## cargo-fuzz once into the cargo home. `make fuzz` is the long run: FUZZ_SECONDS per target.
test-fuzz:
	FUZZ_SECONDS=$${FUZZ_TEST_SECONDS:-10} scripts/fuzz.sh

FUZZ_SECONDS ?= 600
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)

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

## node-exporter, the sidecar in front of the NestJS apps (apps/), Kafka and the exporters under
## a real Prometheus, on free local ports (sidecar = in-app prom-client, targets, rules, every
## dashboard query, ServiceDown); see monitoring/tools/e2e.py. Twice: under Debian's Prometheus
## 2.42 and under Prometheus 3.x (scripts/install-prometheus3.sh builds it once into ~/.cache).
e2e: deps
	scripts/e2e.sh
	scripts/e2e.sh --prometheus3

## rustfmt on every tracked .rs file on its own, not only those reachable through `mod` items.
fmt-check:
	scripts/check-fmt.sh

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## node-exporter :9100, the sidecar :8000 (metrics :9464) in front of the NestJS api-gateway :3000,
## user-service :8001, interview-service :8002 (apps/), Kafka :9092, kafka-exporter :9308 and
## Prometheus :9090 on the generated localhost config, with a traffic generator (`make run
## TRAFFIC=0` leaves it out); Ctrl-C stops it all (scripts/run-local.sh).
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

## Soak run of the three daemons under scrapes, proxy load with random tokens, a SIGHUP a minute
## and TLS certificate rotation; prints RSS and fds, fails on growth or a panic. Not in `make
## test`: 10 minutes by default, e.g. make soak SOAK_SECONDS=300.
SOAK_SECONDS ?= 600
soak:
	$(CARGO) build -p node-exporter -p kafka-exporter -p gateway-sidecar --bins
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_TARGET_DIR=$${CARGO_TARGET_DIR:-target}/debug python3 scripts/soak.py

clean:
	$(CARGO) clean
