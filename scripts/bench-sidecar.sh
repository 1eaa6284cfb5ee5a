#!/usr/bin/env bash
# Benchmark of gateway-sidecar (`make bench-sidecar`): prints figures, is not a test.
#
# One upstream (nginx answering a small static response) is driven three ways in the same run:
# directly, through gateway-sidecar (release build) and through nginx configured as a plain
# reverse proxy with upstream keep-alive, the reference a team would otherwise put in front.
# The reference is a separate nginx instance with `worker_processes auto`; it and the sidecar are
# started under the same CPU set (PROXY_CPUS, all CPUs by default, via taskset), and the sidecar
# gets one worker per CPU of that set, so both proxies have the same cores. The worker counts of
# both are printed. On a machine shared with other work, the figures move with it: say so.
# For each: latency p50/p99 at a fixed 1,000 req/s (our paced client, examples/loadgen.rs, as
# Debian's wrk has no fixed-rate mode; the three targets are driven at the same time on
# interleaved schedules, so the machine's hiccups hit all three alike) and throughput at full
# speed (wrk, one target at a time, ROUNDS rounds in turn, averaged). Then the sidecar's RSS and
# CPU, and its RSS with 1,000,000 tracked sessions, driven through HTTP (one request per
# session, each with its own bearer token).
#
# Every request carries a bearer JWT and hits a rule (/api/users/:id), so the sidecar does its
# real per-request work: route match, metrics, JWT decode, HMAC, session touch.
#
# Everything listens on 127.0.0.1 and is stopped on exit. Exit 0 unless something could not run.
# Knobs: RATE (1000), PACED_SECONDS (20), WRK_SECONDS (10), WRK_CONNECTIONS (64), ROUNDS (2),
# SESSIONS (1000000), SKIP_SESSIONS=1, PROXY_CPUS (e.g. 0-1; default all).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RATE="${RATE:-1000}"
PACED_SECONDS="${PACED_SECONDS:-20}"
ROUNDS="${ROUNDS:-2}"
WRK_SECONDS="${WRK_SECONDS:-10}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-64}"
SESSIONS="${SESSIONS:-1000000}"
PROXY_CPUS="${PROXY_CPUS:-0-$(($(nproc) - 1))}"
# CPUs in the set ("0-3,6" is 5).
PROXY_NCPU=$(awk -F, '{n=0; for(i=1;i<=NF;i++){split($i,r,"-"); n+=(r[2]==""?1:r[2]-r[1]+1)} print n}' <<<"$PROXY_CPUS")

need() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
    if ! need apt-get; then
        echo "bench-sidecar: $* missing and no apt-get to install it" >&2
        exit 1
    fi
    (apt-get update -qq || true) >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
need wrk || apt_install wrk
need nginx || [ -x /usr/sbin/nginx ] || apt_install nginx-light
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
need taskset || apt_install util-linux
PIN=(taskset -c "$PROXY_CPUS")

echo "== building (release)"
cd "$ROOT"
cargo build --release -q -p gateway-sidecar --bin gateway-sidecar --example loadgen
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release"
SIDECAR="$TARGET/gateway-sidecar"
LOADGEN="$TARGET/examples/loadgen"

WORK="$(mktemp -d /tmp/bench-sidecar.XXXXXX)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP_PORT=$(free_port); NGX_PORT=$(free_port); SC_PORT=$(free_port); SC_METRICS=$(free_port)

wait_port() {
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "bench-sidecar: nothing listening on port $1" >&2
    exit 1
}

nginx_conf() { # name workers body
    local dir="$WORK/$1"
    mkdir -p "$dir"
    chmod 777 "$dir"
    cat >"$dir/nginx.conf" <<EOF
worker_processes $2;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_requests 1000000;
    $3
}
EOF
    echo "$dir/nginx.conf"
}

# The upstream: one nginx worker with a small JSON answer (the app's stand-in).
UP_CONF=$(nginx_conf upstream 1 "server { listen 127.0.0.1:$UP_PORT; location / { default_type application/json; return 200 '{\"id\":42,\"name\":\"alice\"}'; } }")
"$NGINX" -c "$UP_CONF" -e "$WORK/upstream/error.log" &
PIDS+=($!)
# The reference: nginx as a plain reverse proxy, upstream keep-alive, one worker per core.
PX_CONF=$(nginx_conf proxy auto "upstream app { server 127.0.0.1:$UP_PORT; keepalive 128; }
    server { listen 127.0.0.1:$NGX_PORT; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto \$scheme; } }")
"${PIN[@]}" "$NGINX" -c "$PX_CONF" -e "$WORK/proxy/error.log" &
PIDS+=($!)

start_sidecar() {
    "${PIN[@]}" "$SIDECAR" --upstream="http://127.0.0.1:$UP_PORT" --config.prefix=/api \
        --runtime.worker-threads="$PROXY_NCPU" \
        --proxy.listen-address="127.0.0.1:$SC_PORT" --web.listen-address="127.0.0.1:$SC_METRICS" \
        --log.level=warn 2>>"$WORK/sidecar.log" &
    SC_PID=$!
    PIDS+=("$SC_PID")
    wait_port "$SC_PORT"
    wait_port "$SC_METRICS"
}
start_sidecar
wait_port "$UP_PORT"
wait_port "$NGX_PORT"

JWT_H=$(printf '{"alg":"HS256","typ":"JWT"}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
JWT_P=$(printf '{"sub":"u1","sid":"bench-session","exp":4102444800}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
TOKEN="$JWT_H.$JWT_P.c2lnbmF0dXJl"
AUTH="Authorization: Bearer $TOKEN"
PATH_Q="/api/users/42"
declare -A URL=([direct]="http://127.0.0.1:$UP_PORT$PATH_Q" [sidecar]="http://127.0.0.1:$SC_PORT$PATH_Q" [nginx]="http://127.0.0.1:$NGX_PORT$PATH_Q")

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
# wrk prints latency percentiles as e.g. "99%  1.23ms"; normalise to ms.
wrk_ms() {
    awk -v p="$1" '$1==p {v=$2; u=v; gsub(/[0-9.]/,"",u); gsub(/[a-z]/,"",v);
        if (u=="us") v/=1000; else if (u=="s") v*=1000; printf "%.3f", v}' <<<"$2"
}

NGX_WORKERS=$(ps -o pid= --ppid "$(cat "$WORK/proxy/nginx.pid")" | wc -l)
SC_THREADS=$(ls /proc/"$SC_PID"/task | xargs -I{} cat /proc/"$SC_PID"/task/{}/comm 2>/dev/null | grep -c '^proxy-' || true)
echo "== proxies on CPUs $PROXY_CPUS ($PROXY_NCPU): nginx $NGX_WORKERS worker processes (auto), sidecar $SC_THREADS worker threads"
echo "== warm-up"
for t in direct sidecar nginx; do
    wrk -t1 -c8 -d2s -H "$AUTH" "${URL[$t]}" >/dev/null
done

declare -A P50 P99 LATE RPS WP50 WP99 CPU_PACED CPU_FULL
echo "== fixed rate: $RATE req/s to each target for ${PACED_SECONDS}s, 8 keep-alive connections each, interleaved"
c0=$(cpu_ticks "$SC_PID")
out=$("$LOADGEN" paced "$RATE" "$PACED_SECONDS" 8 "${URL[direct]}" "${URL[sidecar]}" "${URL[nginx]}" -H "$AUTH")
c1=$(cpu_ticks "$SC_PID")
CPU_PACED[sidecar]=$(awk -v a="$c0" -v b="$c1" -v k="$clk" -v s="$PACED_SECONDS" 'BEGIN{printf "%.1f", (b-a)/k/s*100}')
for t in direct sidecar nginx; do
    line=$(grep -F "url=${URL[$t]} " <<<"$out")
    echo "   $t: ${line#* }"
    P50[$t]=$(kv p50_ms "$line"); P99[$t]=$(kv p99_ms "$line"); LATE[$t]=$(kv late "$line")
    [ "$(kv errors "$line")" = 0 ] || echo "   WARNING: $t had errors"
done
RSS_PACED=$(rss_kib "$SC_PID")

echo "== full speed: wrk -t2 -c$WRK_CONNECTIONS -d${WRK_SECONDS}s, $ROUNDS rounds"
declare -A SUM50 SUM99 SUMRPS
CPU_TICKS=0
for round in $(seq 1 "$ROUNDS"); do
    for t in direct sidecar nginx; do
        c0=$(cpu_ticks "$SC_PID")
        out=$(wrk -t2 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency -H "$AUTH" "${URL[$t]}")
        c1=$(cpu_ticks "$SC_PID")
        rps=$(awk '/^Requests\/sec/{printf "%.0f", $2}' <<<"$out")
        w50=$(wrk_ms 50% "$out"); w99=$(wrk_ms 99% "$out")
        errs=$(awk '/Non-2xx|Socket errors/' <<<"$out")
        echo "   round $round, $t: $rps req/s, p50 $w50 ms, p99 $w99 ms ${errs:+($errs)}"
        SUMRPS[$t]=$(( ${SUMRPS[$t]:-0} + rps ))
        SUM50[$t]=$(awk -v a="${SUM50[$t]:-0}" -v b="$w50" 'BEGIN{print a+b}')
        SUM99[$t]=$(awk -v a="${SUM99[$t]:-0}" -v b="$w99" 'BEGIN{print a+b}')
        [ "$t" = sidecar ] && CPU_TICKS=$(( CPU_TICKS + c1 - c0 ))
    done
done
for t in direct sidecar nginx; do
    RPS[$t]=$(( SUMRPS[$t] / ROUNDS ))
    WP50[$t]=$(awk -v a="${SUM50[$t]}" -v n="$ROUNDS" 'BEGIN{printf "%.3f", a/n}')
    WP99[$t]=$(awk -v a="${SUM99[$t]}" -v n="$ROUNDS" 'BEGIN{printf "%.3f", a/n}')
done
CPU_FULL[sidecar]=$(awk -v t="$CPU_TICKS" -v k="$clk" -v s="$((WRK_SECONDS * ROUNDS))" 'BEGIN{printf "%.1f", t/k/s*100}')
RSS_FULL=$(rss_kib "$SC_PID")
NGX_WORKERS_RSS=$(ps -o rss= --ppid "$(cat "$WORK/proxy/nginx.pid")" | awk '{s+=$1} END{print s}')
NGX_MASTER_RSS=$(rss_kib "$(cat "$WORK/proxy/nginx.pid")")

sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a-b}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a"}'; }

echo
echo "== results (same run, 127.0.0.1, $(nproc) CPUs)"
printf "%-9s | %10s %10s | %12s %12s | %11s %10s %10s\n" "" "p50@${RATE}" "p99@${RATE}" "+p50 added" "+p99 added" "full req/s" "wrk p50" "wrk p99"
for t in direct sidecar nginx; do
    if [ "$t" = direct ]; then a50="-"; a99="-"; else a50="$(sub "${P50[$t]}" "${P50[direct]}") ms"; a99="$(sub "${P99[$t]}" "${P99[direct]}") ms"; fi
    printf "%-9s | %7s ms %7s ms | %12s %12s | %11s %7s ms %7s ms\n" "$t" "${P50[$t]}" "${P99[$t]}" "$a50" "$a99" "${RPS[$t]}" "${WP50[$t]}" "${WP99[$t]}"
done
echo
echo "sidecar/nginx full-speed throughput: $(ratio "${RPS[sidecar]}" "${RPS[nginx]}")  (target >= 1.00)"
echo "sidecar added p99 at ${RATE} req/s: $(sub "${P99[sidecar]}" "${P99[direct]}") ms (target <= 0.3 ms); nginx added p99: $(sub "${P99[nginx]}" "${P99[direct]}") ms"
echo "sidecar/direct full-speed throughput: $(ratio "${RPS[sidecar]}" "${RPS[direct]}"); nginx/direct: $(ratio "${RPS[nginx]}" "${RPS[direct]}")"
echo "late sends by the paced client (>2 ms behind schedule): direct ${LATE[direct]}, sidecar ${LATE[sidecar]}, nginx ${LATE[nginx]}"
echo "sidecar CPU: ${CPU_PACED[sidecar]}% of one core at ${RATE} req/s, ${CPU_FULL[sidecar]}% at full speed ($(awk -v t="$CPU_TICKS" -v k="$clk" -v n="$(( SUMRPS[sidecar] * WRK_SECONDS ))" 'BEGIN{printf "%.1f", t/k/n*1e6}') us per request)"
echo "sidecar RSS: $((RSS_PACED / 1024)).$(( (RSS_PACED % 1024) * 10 / 1024 )) MiB after the fixed-rate run, $((RSS_FULL / 1024)).$(( (RSS_FULL % 1024) * 10 / 1024 )) MiB after full speed (nginx proxy: master $((NGX_MASTER_RSS / 1024)) MiB + workers $((NGX_WORKERS_RSS / 1024)) MiB)"

if [ "${SKIP_SESSIONS:-0}" != 1 ]; then
    echo
    echo "== $SESSIONS sessions, through HTTP (one request per session, each its own bearer token)"
    kill "$SC_PID"; wait "$SC_PID" 2>/dev/null || true
    start_sidecar
    base=$(rss_kib "$SC_PID")
    "$LOADGEN" paced 1000 1 4 "${URL[sidecar]}" -H "$AUTH" >/dev/null
    warm=$(rss_kib "$SC_PID")
    out=$("$LOADGEN" sessions "${URL[sidecar]}" "$SESSIONS" 32)
    echo "   $out"
    active=$(curl -s "http://127.0.0.1:$SC_METRICS/metrics" | awk '$1=="auth_active_sessions"{printf "%d", $2}')
    full=$(rss_kib "$SC_PID")
    echo "   auth_active_sessions=$active"
    echo "   sidecar RSS: $((base / 1024)).$(( (base % 1024) * 10 / 1024 )) MiB at start, $((warm / 1024)).$(( (warm % 1024) * 10 / 1024 )) MiB warm with 1 session, $((full / 1024)).$(( (full % 1024) * 10 / 1024 )) MiB with $active sessions"
    awk -v w="$warm" -v f="$full" -v n="$active" 'BEGIN{ if (n>1) printf "   per session: %.1f bytes (documented bound: 48 bytes + allocator slack)\n", (f-w)*1024/(n-1) }'
fi
echo
echo "bench-sidecar: done"
