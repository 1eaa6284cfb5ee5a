#!/usr/bin/env bash
# Installs, idempotently, the Kafka-compatible broker the kafka-exporter tests run against:
# Tansu 0.6.0 (Apache-licensed, published as a Rust crate), into the cargo home, where CI caches
# it. The first build takes about 9 minutes on 2 CPUs; later runs return at once.
# Start it on loopback only, e.g.:
#   tansu broker --storage-engine memory://tansu/ \
#     --listener-url tcp://127.0.0.1:9092 --advertised-listener-url tcp://127.0.0.1:9092
set -euo pipefail
want=0.6.0
bin="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$want"; then
  exit 0
fi
echo "install-tansu: building tansu $want (about 9 minutes on 2 CPUs, once)"
# A second try if the first fails (a registry hiccup); cargo keeps what it already fetched.
for attempt in 1 2; do
  if cargo install tansu --version "$want" --locked --features dynostore; then
    exit 0
  fi
  echo "install-tansu: attempt $attempt failed" >&2
done
exit 1
