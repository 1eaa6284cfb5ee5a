#!/usr/bin/env bash
# `make run`: the stack natively on this machine, no containers, on the compose ports:
#   node-exporter          :9100
#   gateway-sidecar        :8000 (proxy) -> stub upstream :3000, metrics :9464
#   stub user-service      :8001, stub interview-service :8002 (only if the port is free: a
#                          real NestJS service already listening there is scraped instead)
#   Apache Kafka           :9092, one KRaft node (scripts/kafka/cluster.py, data in a temporary
#                          directory), with a producer and a consumer group `billing` that stays
#                          a little behind (scripts/kafka/workload.py); skipped if a broker
#                          already listens on :9092 (then it is the one watched)
#   kafka-exporter         :9308
#   Prometheus             :9090, on the localhost variant generated from monitoring/prometheus
#                          (if `prometheus` is installed: scripts/install-deps.sh)
# The stubs are monitoring/tools/stub_upstream.py. Ctrl-C stops everything this script started.
# BIND=0.0.0.0 listens on every interface instead of 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

BIND=${BIND:-127.0.0.1}
CARGO=${CARGO:-cargo}
PY=/usr/bin/python3
TMP=$(mktemp -d)
PIDS=()

cleanup() {
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[$i]}" 2> /dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
  rm -rf "$TMP"
  echo "run-local: stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

listening() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

for port in 9100 8000 9464 3000 9090 9308; do
  if listening "$port"; then
    echo "run-local: port $port is already in use (a packaged service? see scripts/install-deps.sh); stop it first" >&2
    exit 1
  fi
done

"$CARGO" build --release -p node-exporter -p gateway-sidecar -p kafka-exporter --bins
BIN=${CARGO_TARGET_DIR:-target}/release
# Both instant once installed (`make deps` runs them too).
scripts/install-kafka.sh --quiet > /dev/null
VENV_PY=$(scripts/install-pydeps.sh)

start() { # name, command...
  local name=$1
  shift
  "$@" > "$TMP/$name.log" 2>&1 &
  PIDS+=($!)
}

start stub-api-gateway $PY monitoring/tools/stub_upstream.py --listen "$BIND:3000" --name api-gateway
started_stubs=()
for svc in user-service:8001 interview-service:8002; do
  if listening "${svc#*:}"; then
    echo "run-local: ${svc%%:*} already listens on :${svc#*:}; scraping it, no stub"
  else
    start "stub-${svc%%:*}" $PY monitoring/tools/stub_upstream.py --listen "$BIND:${svc#*:}" --name "${svc%%:*}"
    started_stubs+=("${svc%%:*} stub   http://127.0.0.1:${svc#*:}/metrics")
  fi
done
start node-exporter "$BIN/node-exporter" --web.listen-address="$BIND:9100"
kafka_note="Apache Kafka           127.0.0.1:9092, topic orders, group billing"
if listening 9092; then
  kafka_note="Kafka: a broker already listens on :9092; kafka-exporter watches it"
else
  # Loopback only, whatever BIND says: the broker has no authentication. cluster.py prints the
  # bootstrap once the node answers Kafka requests (a JVM: some seconds).
  start kafka $PY scripts/kafka/cluster.py --nodes 1 --port 9092
  for _ in $(seq 1200); do
    grep -q '^127.0.0.1:9092$' "$TMP/kafka.log" && break
    kill -0 "${PIDS[-1]}" 2> /dev/null || break
    sleep 0.1
  done
  if ! grep -q '^127.0.0.1:9092$' "$TMP/kafka.log"; then
    echo "run-local: Kafka did not start; its log:" >&2
    tail -n 20 "$TMP/kafka.log" >&2
    exit 1
  fi
  start workload "$VENV_PY" scripts/kafka/workload.py --brokers 127.0.0.1:9092 run --topic orders \
    --partitions 3 --group billing --rate 20 --behind 30
fi
start kafka-exporter "$BIN/kafka-exporter" --kafka.server=127.0.0.1:9092 --web.listen-address="$BIND:9308"
start gateway-sidecar "$BIN/gateway-sidecar" --proxy.listen-address="$BIND:8000" \
  --upstream=http://127.0.0.1:3000 --web.listen-address="$BIND:9464"

have_prometheus=0
if command -v prometheus > /dev/null; then
  have_prometheus=1
  gen=(--out "$TMP/prom" --no-alertmanager --drop-job alertmanager)
  $PY monitoring/tools/prometheus_local.py "${gen[@]}"
  start prometheus prometheus --config.file="$TMP/prom/prometheus.yml" \
    --storage.tsdb.path="$TMP/tsdb" --web.listen-address="$BIND:9090"
fi

# Wait until each listens; a process that exits early is reported with its log.
for port in 3000 9100 8000 9464 9092 9308 $([ $have_prometheus = 1 ] && echo 9090); do
  for _ in $(seq 100); do
    listening "$port" && break
    sleep 0.1
  done
  if ! listening "$port"; then
    echo "run-local: nothing listens on :$port; logs:" >&2
    tail -n 5 "$TMP"/*.log >&2
    exit 1
  fi
done

cat << MSG

  gateway-sidecar proxy  http://127.0.0.1:8000   (e.g. curl -i -X POST localhost:8000/auth/login)
  gateway-sidecar metrics http://127.0.0.1:9464/metrics
  stub upstream          http://127.0.0.1:3000
  node-exporter          http://127.0.0.1:9100/metrics
  kafka-exporter         http://127.0.0.1:9308/metrics
  $kafka_note
MSG
for s in ${started_stubs[@]+"${started_stubs[@]}"}; do echo "  $s"; done
if [ $have_prometheus = 1 ]; then
  echo "  Prometheus             http://127.0.0.1:9090   (targets: http://127.0.0.1:9090/targets)"
  echo "  (the alertmanager job is left out of its config: Alertmanager is not started)"
else
  echo "  Prometheus: not installed; scripts/install-deps.sh installs it (apt-get install prometheus)"
fi
echo "  logs in $TMP; Ctrl-C stops everything"
echo

# Run until Ctrl-C, or until one of them exits on its own.
set +e
wait -n "${PIDS[@]}"
echo "run-local: a process exited on its own; stopping the rest. Logs:" >&2
tail -n 5 "$TMP"/*.log >&2
exit 1
