#!/usr/bin/env bash
# `make run`: the stack natively on this machine, no containers, on the compose ports:
#   node-exporter          :9100
#   gateway-sidecar        :8000 (proxy) -> the NestJS api-gateway :3000 (apps/), metrics :9464
#   user-service           :8001, interview-service :8002: the NestJS apps (apps/), producing
#                          to and consuming from Kafka with kafkajs
#   Apache Kafka           :9092, one KRaft node (scripts/kafka/cluster.py, data in a temporary
#                          directory), with a producer and a consumer group `billing` that stays
#                          a little behind (scripts/kafka/workload.py); skipped if a broker
#                          already listens on :9092 (then it is the one watched)
#   kafka-exporter         :9308
#   Prometheus             :9090, on the localhost variant generated from monitoring/prometheus
#                          (if `prometheus` is installed: scripts/install-deps.sh)
#   traffic                monitoring/tools/traffic.py: logins (some failing), refreshes,
#                          callbacks, user CRUD and logouts through the sidecar, interview
#                          events, ~5 rounds a second, so that every dashboard panel has data
#                          within a minute; --no-traffic (or TRAFFIC=0) leaves it out
# Ctrl-C stops everything this script started. BIND=0.0.0.0 listens on every interface instead
# of 127.0.0.1.
#   usage: scripts/run-local.sh [--no-traffic]
set -euo pipefail
cd "$(dirname "$0")/.."

TRAFFIC=${TRAFFIC:-1}
case "${1:-}" in
  "") ;;
  --no-traffic) TRAFFIC=0 ;;
  *) echo "run-local: unknown argument ${1}; usage: run-local.sh [--no-traffic]" >&2; exit 64 ;;
esac

BIND=${BIND:-127.0.0.1}
CARGO=${CARGO:-cargo}
PY=/usr/bin/python3
TMP=$(mktemp -d)
PIDS=()

cleanup() {
  trap - EXIT INT TERM
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[$i]}" 2> /dev/null || true; done
  # A Kafka client closing against a broker that is already gone can wait out its session
  # timeout: whatever still runs after 10 s is killed.
  for _ in $(seq 100); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2> /dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2> /dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
  rm -rf "$TMP"
  echo "run-local: stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

listening() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

for port in 9100 8000 9464 3000 8001 8002 9090 9308; do
  if listening "$port"; then
    echo "run-local: port $port is already in use (a packaged service? see scripts/install-deps.sh); stop it first" >&2
    exit 1
  fi
done

"$CARGO" build --release -p node-exporter -p gateway-sidecar -p kafka-exporter --bins
BIN=${CARGO_TARGET_DIR:-target}/release
# All instant once installed (`make deps` runs them too).
scripts/install-kafka.sh --quiet > /dev/null
VENV_PY=$(scripts/install-pydeps.sh)
scripts/install-node-apps.sh

start() { # name, command...
  local name=$1
  shift
  "$@" > "$TMP/$name.log" 2>&1 &
  PIDS+=($!)
}

start node-exporter "$BIN/node-exporter" --web.listen-address="$BIND:9100"
kafka_note="Apache Kafka           127.0.0.1:9092, topics orders, user-events, interview-events; groups billing, interview-service"
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
# The apps: Kafka is up (or was already), so their producers and consumer group start at once.
start user-service node apps/user-service/main.js --host "$BIND" --port 8001 --kafka-brokers 127.0.0.1:9092
start interview-service node apps/interview-service/main.js --host "$BIND" --port 8002 \
  --kafka-brokers 127.0.0.1:9092
start api-gateway node apps/api-gateway/main.js --host 127.0.0.1 --port 3000 \
  --user-service http://127.0.0.1:8001
start kafka-exporter "$BIN/kafka-exporter" --kafka.server=127.0.0.1:9092 --web.listen-address="$BIND:9308"
start gateway-sidecar "$BIN/gateway-sidecar" --proxy.listen-address="$BIND:8000" \
  --upstream=http://127.0.0.1:3000 --web.listen-address="$BIND:9464"

have_prometheus=0
if command -v prometheus > /dev/null; then
  have_prometheus=1
  # 5 s scrapes (15 s in monitoring/prometheus): every rate panel has its two samples within
  # the first minute.
  gen=(--out "$TMP/prom" --no-alertmanager --drop-job alertmanager --scrape-interval 5s
    --evaluation-interval 5s)
  $PY monitoring/tools/prometheus_local.py "${gen[@]}"
  start prometheus prometheus --config.file="$TMP/prom/prometheus.yml" \
    --storage.tsdb.path="$TMP/tsdb" --web.listen-address="$BIND:9090"
fi

# Wait until each listens; a process that exits early is reported with its log.
# NestJS takes a few seconds to start on a busy machine.
for port in 3000 8001 8002 9100 8000 9464 9092 9308 $([ $have_prometheus = 1 ] && echo 9090); do
  for _ in $(seq 300); do
    listening "$port" && break
    sleep 0.1
  done
  if ! listening "$port"; then
    echo "run-local: nothing listens on :$port; logs:" >&2
    tail -n 5 "$TMP"/*.log >&2
    exit 1
  fi
done

traffic_note="traffic                monitoring/tools/traffic.py through the sidecar (--no-traffic: off)"
if [ "$TRAFFIC" = 1 ]; then
  start traffic $PY monitoring/tools/traffic.py --gateway 127.0.0.1:8000 --interviews 127.0.0.1:8002
else
  traffic_note="traffic                off (--no-traffic)"
fi

cat << MSG

  gateway-sidecar proxy  http://127.0.0.1:8000   (e.g. curl -i -X POST localhost:8000/auth/login
                         -H 'Content-Type: application/json' -d '{"username":"a","password":"b"}')
  gateway-sidecar metrics http://127.0.0.1:9464/metrics
  api-gateway (NestJS)   http://127.0.0.1:3000, its own prom-client metrics on /metrics
  user-service           http://127.0.0.1:8001/metrics
  interview-service      http://127.0.0.1:8002/metrics (POST /interviews produces to Kafka)
  node-exporter          http://127.0.0.1:9100/metrics
  kafka-exporter         http://127.0.0.1:9308/metrics
  $kafka_note
  $traffic_note
MSG
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
