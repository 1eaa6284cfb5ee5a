# The two commands a newcomer needs: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all build release deps test test-rust test-monitoring fmt-check lint run bench-node bench-sidecar clean

all: build

deps:
	@scripts/install-deps.sh

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release --workspace

## Tests: unit and end-to-end against real processes (node_exporter, promtool, curl).
test: deps fmt-check lint test-rust test-monitoring

test-rust:
	$(CARGO) test --workspace

## promtool, amtool, docker-compose config, dashboards: see monitoring/README.md.
test-monitoring:
	scripts/check-monitoring.sh

fmt-check:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Runs node-exporter on :9100 in the foreground (Ctrl-C stops it).
run: release
	./target/release/node-exporter --web.listen-address=:9100

## Benchmarks print figures beside the Go original; they never fail on a figure.
bench-node: deps
	scripts/bench-node.sh

bench-sidecar:
	scripts/bench-sidecar.sh

clean:
	$(CARGO) clean
