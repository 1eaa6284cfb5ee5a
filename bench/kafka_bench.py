#!/usr/bin/env python3
"""Benchmark our kafka-exporter against Apache Kafka at a small and a large cluster size.

For each size: one Apache Kafka node (KRaft, scripts/kafka/cluster.py, with the optimising JIT
compiler and its partition data on tmpfs) listens on one free 127.0.0.1 port and advertises
another, where a counting proxy (in this process) forwards bytes both ways and reads the Kafka
framing, so every client (the workload and the exporter) talks through it. The proxy counts
requests per API key and times each (request forwarded -> last byte of its response), per
connection. scripts/kafka/workload.py (confluent-kafka, run by --workload-python) creates the
topics, records and group commits; then the
release exporter collects in the background and, over K collections (boundaries: the exporter's
`kafka_exporter_last_collection_timestamp_seconds` changing), we take: collection duration (the
exporter's own metric), requests per collection by API key and the broker's time on them, the
exporter's CPU per collection (utime+stime from /proc/<pid>/stat), RSS and peak RSS; then N
sequential keep-alive scrapes (latency p50/p99, response size) while collections go on, and a
sanity check of the scrape body (one current-offset series per partition, every group present).

The Go original (danielqsj/kafka_exporter) cannot be run here; its request count for the same
cluster is computed from its design and printed as such.

Prints figures beside the issue's targets; never fails on a figure (exit 0 unless something
could not run). Standard library only (and scripts/kafka/cluster.py). Usually run through
scripts/bench-kafka.sh.
"""

import argparse
import atexit
import collections
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import benchlib
from benchlib import free_port, percentile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAFKA_TOOLS = os.path.join(REPO, "scripts", "kafka")
sys.path.insert(0, KAFKA_TOOLS)
import cluster  # noqa: E402 -- scripts/kafka/cluster.py, standard library only

# The targets, at the large size.
TARGET_P99_MS = 10.0
TARGET_COLLECTION_S = 5.0
TARGET_RSS_MIB = 40.0


# name: (topics, partitions per topic, groups, default --refresh.metadata in seconds)
SIZES = {
    "small": (10, 100, 200, 10),
    "large": (100, 100, 1000, 30),
}

API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
    9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
    13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups",
    17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics",
    22: "InitProducerId", 32: "DescribeConfigs", 36: "SaslAuthenticate", 42: "DeleteGroups",
    47: "OffsetDelete", 60: "DescribeCluster",
    68: "ConsumerGroupHeartbeat", 69: "ConsumerGroupDescribe", 71: "GetTelemetrySubscriptions",
    72: "PushTelemetry", 75: "DescribeTopicPartitions",
}


def api_name(key):
    return API_NAMES.get(key, "api%d" % key)


# ---------------------------------------------------------------------------------------------
# The counting proxy


class CountingProxy:
    """Forwards 127.0.0.1:port to 127.0.0.1:upstream and reads the Kafka framing on the way.

    Request: int32 size, int16 api_key, int16 api_version, int32 correlation id, ...
    Response: int32 size, int32 correlation id, ...; responses come in request order on a
    connection (a request without a response, Produce with acks=0, is skipped by its id).
    Each answered request is recorded as (sent, answered, api_key, connection): `sent` when its
    last byte is handed to the broker, `answered` when the last byte of its response arrives.
    """

    def __init__(self, upstream_port, classify=None):
        self.upstream = upstream_port
        # classify(accepted socket) -> a tag naming the client (e.g. which exporter), or None:
        # requests are also counted per tag (sent_by), for several clients behind one proxy.
        self.classify = classify
        self.sent_by = collections.defaultdict(collections.Counter)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sent = collections.Counter()  # api_key -> requests forwarded
        self.records = []  # (sent, answered, api_key, conn)
        self.connections = 0
        self.closed = False
        self.socks = set()
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tag = None
            if self.classify is not None:
                try:
                    tag = self.classify(client)
                except OSError:
                    pass
            with self.lock:
                self.connections += 1
                conn = self.connections
                self.socks.update((client, upstream))
            pending = collections.deque()
            threading.Thread(target=self._requests, args=(client, upstream, pending, conn, tag),
                             name="proxy-c2s-%d" % conn, daemon=True).start()
            threading.Thread(target=self._responses, args=(upstream, client, pending, conn),
                             name="proxy-s2c-%d" % conn, daemon=True).start()

    def _requests(self, src, dst, pending, conn, tag=None):
        hdr = bytearray()
        skip = 0
        current = None
        try:
            while True:
                data = src.recv(1 << 18)
                if not data:
                    break
                done = []
                pos, n = 0, len(data)
                while pos < n:
                    if skip:
                        take = min(skip, n - pos)
                        skip -= take
                        pos += take
                        if skip == 0:
                            done.append(current)
                        continue
                    take = min(12 - len(hdr), n - pos)
                    hdr += data[pos:pos + take]
                    pos += take
                    if len(hdr) == 12:
                        size, key, _version, corr = struct.unpack(">ihhi", hdr)
                        hdr.clear()
                        current = [corr, key, None]
                        # Queued before the bytes go out, so the response side always finds it.
                        pending.append(current)
                        with self.lock:
                            self.sent[key] += 1
                            self.sent_by[tag][key] += 1
                        skip = max(size - 8, 0)
                        if skip == 0:
                            done.append(current)
                now = time.time()
                for r in done:
                    r[2] = now
                dst.sendall(data)
        except OSError:
            pass
        self._close(src, dst)

    def _responses(self, src, dst, pending, conn):
        hdr = bytearray()
        skip = 0
        current = None
        try:
            while True:
                data = src.recv(1 << 18)
                if not data:
                    break
                now = time.time()
                pos, n = 0, len(data)
                while pos < n:
                    if skip:
                        take = min(skip, n - pos)
                        skip -= take
                        pos += take
                        if skip == 0 and current is not None:
                            self._answered(current, now, conn)
                        continue
                    take = min(8 - len(hdr), n - pos)
                    hdr += data[pos:pos + take]
                    pos += take
                    if len(hdr) == 8:
                        size, corr = struct.unpack(">ii", hdr)
                        hdr.clear()
                        current = None
                        while pending:
                            r = pending.popleft()
                            if r[0] == corr:
                                current = r
                                break
                        skip = max(size - 4, 0)
                        if skip == 0 and current is not None:
                            self._answered(current, now, conn)
                dst.sendall(data)
        except OSError:
            pass
        self._close(src, dst)

    def _answered(self, r, now, conn):
        sent = r[2] if r[2] is not None else now
        self.records.append((sent, now, r[1], conn))  # list.append is atomic

    def _close(self, a, b):
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self.lock:
            self.socks.discard(a)
            self.socks.discard(b)

    def counters_by(self):
        """{tag: Counter(api_key -> requests forwarded)}, a copy."""
        with self.lock:
            return {t: collections.Counter(c) for t, c in self.sent_by.items()}

    def counters(self):
        with self.lock:
            return collections.Counter(self.sent), len(self.records), self.connections

    def close(self):
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Processes


class Proc:
    """A child process with its output in a log file; stop() is idempotent."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)
        log.close()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log(self, tail=4000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-tail:]
        except OSError:
            return ""

    def status(self):
        """VmRSS and VmHWM in KiB."""
        return benchlib.memory_kib(self.pid)

    def cpu_seconds(self):
        return benchlib.cpu_seconds(self.pid)

    def stop(self):
        benchlib.stop(self.proc)

RUNNING = []


def stop_all():
    while RUNNING:
        p = RUNNING.pop()
        try:
            p.stop()
        except Exception:  # noqa: BLE001 -- teardown must go on
            pass


class Broker:
    """One Apache Kafka node listening on `port` and advertising `advertised` (the proxy's
    port), so that clients bootstrapped through the proxy stay on it. The optimising JIT
    compiler is on (fast_start=False): the broker's share of a collection is measured, and it
    should be a production-like broker's. stop() is idempotent, like Proc's."""

    def __init__(self, port, advertised, workdir):
        self.cluster = cluster.Cluster(nodes=1, workdir=workdir, ports=[port],
                                       advertised_ports=[advertised], fast_start=False)
        RUNNING.append(self)
        self.cluster.start(timeout=180)

    def log(self, tail=40):
        return self.cluster.log_tail(0, tail)

    def stop(self):
        self.cluster.close()


class Exporter(Proc):
    def __init__(self, binary, kafka_port, interval, workdir, env=None):
        for _ in range(3):
            self.port = free_port()
            super().__init__("exporter", [
                binary, "--kafka.server=127.0.0.1:%d" % kafka_port,
                "--refresh.metadata=%ds" % interval,
                "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"], workdir, env)
            RUNNING.append(self)
            if self._wait_ready():
                return
            self.stop()
            if "address already in use" not in self.log().lower():
                break
        raise RuntimeError("the exporter did not start; its log:\n%s" % self.log())

    def _wait_ready(self, timeout=20.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.alive():
                return False
            try:
                self.get("/healthz")
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def get(self, path="/metrics"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()


# ---------------------------------------------------------------------------------------------
# Reading the exposition

def sample(body, name):
    """The value of the first sample of family `name` in `body` (bytes), or None. A plain find,
    not a regular expression over the whole body: the large body is tens of MB."""
    key = name.encode()
    for sep in (b" ", b"{"):
        i = body.find(b"\n" + key + sep)
        if i < 0:
            continue
        line = body[i + 1:body.find(b"\n", i + 1)]
        try:
            return float(line.rsplit(b" ", 1)[1])
        except (IndexError, ValueError):
            return None
    return None


def count_series(body, family):
    return body.count(b"\n" + family.encode() + b"{") + (1 if body.startswith(family.encode() + b"{") else 0)


def count_bench_series(body, family):
    """Series of `family` on the workload's topics (bench-NNNN) only: a real Kafka also has its
    internal __consumer_offsets topic (50 partitions), which the exporter reports too."""
    return len(re.findall(rb'^' + re.escape(family.encode()) + rb'\{(?:[^}]*,)?topic="bench-', body, re.M))


def group_names(body):
    return set(re.findall(rb'^kafka_consumergroup_members\{(?:[^}]*,)?consumergroup="([^"]*)"', body, re.M))


def union_seconds(intervals):
    """Wall time covered by at least one of the (start, end) intervals."""
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


# ---------------------------------------------------------------------------------------------
# One size


def health_age(exp):
    """(status, age in seconds or None) from /healthz: a cheap way to see a collection end."""
    try:
        status, body = exp.get("/healthz")
    except OSError:
        return None, None
    m = re.search(rb"([0-9.]+)s ago", body)
    return status, (float(m.group(1)) if m else None)


def wait_collection(exp, prev_ts, prev_dur, timeout):
    """Waits for the next collection to be published: polls /healthz (cheap), and when its
    answer says a new collection ended, reads /metrics. Returns (wall time seen, body, ts, dur)."""
    end = time.monotonic() + timeout
    _, last_age = health_age(exp)
    while time.monotonic() < end:
        if not exp.alive():
            raise RuntimeError("the exporter exited; its log:\n%s" % exp.log())
        time.sleep(0.05)
        status, age = health_age(exp)
        changed = age is None or last_age is None or age < last_age - 0.15 or status != 200
        if age is not None:
            last_age = age
        if not changed:
            continue
        seen = time.time()
        code, body = exp.get()
        if code != 200:
            continue
        ts = sample(body, "kafka_exporter_last_collection_timestamp_seconds")
        dur = sample(body, "kafka_exporter_collection_duration_seconds")
        if ts is not None and ts != prev_ts:
            return seen, body, ts, dur
        if sample(body, "kafka_up") == 0 and dur is not None and dur != prev_dur:
            # A failed collection: the timestamp stays, the duration changes.
            return seen, body, prev_ts, dur
    raise RuntimeError("no new collection within %.0f s; exporter log:\n%s" % (timeout, exp.log()))


def scrape_loop(exp, n, budget, gzip=False):
    conn = http.client.HTTPConnection("127.0.0.1", exp.port, timeout=120)
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    lat, body, stamps = [], b"", set()
    end = time.monotonic() + budget
    # At least n scrapes, and (uncompressed) on until a collection has run during them, so that
    # some scrapes overlap a collection; within the time budget.
    while len(lat) < n or (not gzip and len(stamps) < 2):
        t0 = time.perf_counter()
        conn.request("GET", "/metrics", headers=headers)
        r = conn.getresponse()
        b = r.read()
        t1 = time.perf_counter()
        if r.status != 200:
            raise RuntimeError("scrape: status %d" % r.status)
        if r.getheader("Connection", "").lower() == "close":
            raise RuntimeError("the exporter closed the keep-alive connection")
        lat.append(t1 - t0)
        body = b
        if not gzip:
            stamps.add(sample(b, "kafka_exporter_last_collection_timestamp_seconds"))
        if time.monotonic() > end:
            break
    conn.close()
    return lat, body, len(stamps)


def family_bytes(body):
    """Bytes of samples per family (HELP/TYPE lines left out), largest first."""
    sizes = collections.Counter()
    for line in body.split(b"\n"):
        if line and not line.startswith(b"#"):
            sizes[line.split(b"{", 1)[0].split(b" ", 1)[0].decode()] += len(line) + 1
    return sizes.most_common()


def client_floor(body, n):
    """Latencies of n keep-alive GETs of the same body from a trivial server thread in this
    process: what this client alone costs for a body that size (the exporter's p99 cannot be
    below it)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body)

    def serve():
        c, _ = srv.accept()
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf.split(b"\r\n\r\n", 1)[1]
                c.sendall(head + body)
        except OSError:
            pass
        finally:
            c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    conn = http.client.HTTPConnection("127.0.0.1", srv.getsockname()[1], timeout=60)
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("GET", "/")
        conn.getresponse().read()
        lat.append(time.perf_counter() - t0)
    conn.close()
    srv.close()
    t.join(5)
    return sorted(lat)


def exporter_env(a):
    env = dict(os.environ)
    for kv in a.exporter_env or []:
        k, _, v = kv.partition("=")
        env[k] = v
    return env


def bench_size(name, a, work):
    topics, per_topic, groups, interval = SIZES[name]
    if a.interval:
        interval = a.interval
    partitions = topics * per_topic
    res = {"size": name, "topics": topics, "partitions": partitions, "groups": groups,
           "messages_per_partition": a.messages, "brokers": 1}
    print()
    print("== %s: %d topics x %d partitions = %s partitions, %d groups, %d records per partition"
          % (name, topics, per_topic, "{:,}".format(partitions), groups, a.messages))
    sys.stdout.flush()

    broker_port = free_port()
    proxy = CountingProxy(broker_port)
    try:
        broker = Broker(broker_port, proxy.port, os.path.join(work, "kafka-" + name))

        # 2. The workload, through the proxy.
        t0 = time.monotonic()
        try:
            r = subprocess.run([a.workload_python, os.path.join(KAFKA_TOOLS, "workload.py"),
                                "--brokers", "127.0.0.1:%d" % proxy.port, "setup",
                                "--topics", str(topics), "--partitions", str(per_topic),
                                "--messages", str(a.messages), "--groups", str(groups)],
                               capture_output=True, text=True, timeout=a.setup_timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError("workload setup did not finish in %d s (try --messages 2 or a "
                               "smaller size)" % a.setup_timeout)
        res["setup_seconds"] = time.monotonic() - t0
        if r.returncode != 0:
            raise RuntimeError("workload setup failed (%d):\n%s\n%s\nbroker log:\n%s" % (
                r.returncode, r.stdout[-2000:], r.stderr[-3000:], broker.log()))
        res["setup_line"] = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        sent, _, conns = proxy.counters()
        res["setup_requests"] = {api_name(k): v for k, v in sorted(sent.items())}
        print("setup: %.1f s through the proxy (%s requests on %d connections)" % (
            res["setup_seconds"], "{:,}".format(sum(sent.values())), conns))
        print("  " + res["setup_line"])
        sys.stdout.flush()

        # 3. The exporter.
        exp = Exporter(a.exporter, proxy.port, interval, work, exporter_env(a))
        t_start = time.monotonic()
        # Before (or at the very start of) its first collection: the floor of its memory.
        res["rss_start_mib"] = exp.status().get("VmRSS", 0) / 1024.0
        body, ts, dur = None, None, None
        deadline = time.monotonic() + a.first_timeout
        while True:
            _, body, ts, dur = wait_collection(exp, ts, dur, deadline - time.monotonic())
            if len(group_names(body)) >= groups and ts is not None:
                break
            print("  (a collection without every group yet: %d of %d)" % (len(group_names(body)), groups))
        res["first_collection_after_start_s"] = time.monotonic() - t_start
        res["first_collection_s"] = dur
        if dur is not None and dur > interval / 2.0:
            # Collections would run back to back: restart with a longer interval.
            exp.stop()
            interval = int(dur * 3) + 1
            print("  first collection took %.1f s: restarting with --refresh.metadata=%ds" % (dur, interval))
            exp = Exporter(a.exporter, proxy.port, interval, work, exporter_env(a))
            ts, dur = None, None
            while True:
                _, body, ts, dur = wait_collection(exp, ts, dur, a.first_timeout)
                if len(group_names(body)) >= groups and ts is not None:
                    break
        res["interval_s"] = interval
        sys.stdout.flush()

        # K collections: boundaries at each new timestamp.
        c_prev, nrec_prev, conns_prev = proxy.counters()
        cpu0 = exp.cpu_seconds()
        windows, durations, failed = [], [], 0
        errors0 = sample(body, "kafka_exporter_collection_errors_total") or 0.0
        for _ in range(a.collections):
            prev_ts = ts
            _, body, ts, dur = wait_collection(exp, ts, dur, interval * 3 + 120)
            if ts == prev_ts:
                failed += 1
            durations.append(dur)
            windows.append((ts, ts + (dur or 0.0)))
        cpu = exp.cpu_seconds() - cpu0
        c_now, nrec_now, conns_now = proxy.counters()
        mem = exp.status()
        k = a.collections
        errors1 = sample(body, "kafka_exporter_collection_errors_total") or 0.0

        per_api = {}
        for key in sorted(set(c_now) | set(c_prev)):
            d = c_now[key] - c_prev[key]
            if d:
                per_api[key] = {"name": api_name(key), "per_collection": d / k, "broker_s": 0.0}
        recs = proxy.records[nrec_prev:nrec_now]
        in_flight, broker_sum = [], []
        for (w0, w1) in windows:
            # A little slack: the timestamp is taken just before the collection's first request.
            inside = [r for r in recs if w0 - 0.05 <= r[0] <= w1 + 0.05]
            in_flight.append(union_seconds([(r[0], r[1]) for r in inside]))
            broker_sum.append(sum(r[1] - r[0] for r in inside))
        for r in recs:
            if r[2] in per_api:
                per_api[r[2]]["broker_s"] += (r[1] - r[0]) / k
        used_conns = sorted({r[3] for r in recs})
        res.update({
            "collections": k,
            "collection_s": durations,
            "failed_collections": failed,
            "requests_per_collection": {v["name"]: v["per_collection"] for v in per_api.values()},
            "requests_total_per_collection": sum(v["per_collection"] for v in per_api.values()),
            "broker_s_per_api": {v["name"]: v["broker_s"] for v in per_api.values()},
            "broker_summed_s": broker_sum,
            "broker_in_flight_wall_s": in_flight,
            "connections_used": len(used_conns),
            "connections_opened_during": conns_now - conns_prev,
            "cpu_s_per_collection": cpu / k,
            "rss_mib": mem.get("VmRSS", 0) / 1024.0,
            "hwm_mib": mem.get("VmHWM", 0) / 1024.0,
            "errors_during": errors1 - errors0,
        })

        # Sanity of the body.
        res["check_partition_series"] = count_bench_series(body, "kafka_topic_partition_current_offset")
        res["check_all_partition_series"] = count_series(body, "kafka_topic_partition_current_offset")
        res["check_groups"] = len(group_names(body))
        res["check_group_offset_series"] = count_series(body, "kafka_consumergroup_current_offset")

        # Scrapes while collections go on.
        cpu0 = exp.cpu_seconds()
        lat, sbody, seen_ts = scrape_loop(exp, a.scrapes, a.scrape_budget)
        scpu = exp.cpu_seconds() - cpu0
        ls = sorted(lat)
        res.update({
            "scrapes": len(lat),
            "scrape_p50_ms": percentile(ls, 0.50) * 1000.0,
            "scrape_p99_ms": percentile(ls, 0.99) * 1000.0,
            "scrape_max_ms": ls[-1] * 1000.0,
            # The collections that ran meanwhile are taken out at their measured mean.
            "scrape_cpu_ms": max(scpu - max(seen_ts - 1, 0) * res["cpu_s_per_collection"], 0.0)
            * 1000.0 / len(lat),
            "collections_during_scrapes": max(seen_ts - 1, 0),
            "response_bytes": len(sbody),
        })
        if a.gzip_scrapes:
            glat, gbody, _ = scrape_loop(exp, a.gzip_scrapes, a.scrape_budget, gzip=True)
            gl = sorted(glat)
            res.update({"gzip_scrapes": len(glat), "gzip_p50_ms": percentile(gl, 0.5) * 1000.0,
                        "gzip_p99_ms": percentile(gl, 0.99) * 1000.0, "gzip_bytes": len(gbody)})
        fl = client_floor(sbody, min(a.scrapes, 200))
        res["floor_p50_ms"] = percentile(fl, 0.5) * 1000.0
        res["floor_p99_ms"] = percentile(fl, 0.99) * 1000.0
        res["body_families"] = family_bytes(sbody)[:5]
        mem = exp.status()
        res["rss_after_scrapes_mib"] = mem.get("VmRSS", 0) / 1024.0
        res["hwm_after_scrapes_mib"] = mem.get("VmHWM", 0) / 1024.0
        res["errors_total_end"] = sample(sbody, "kafka_exporter_collection_errors_total")
        res["up_end"] = sample(sbody, "kafka_up")
        warn = [l for l in exp.log(20000).splitlines() if l.strip()]
        res["exporter_log_lines"] = len(warn)
        res["exporter_log_sample"] = warn[:5]
        exp.stop()
    finally:
        stop_all()
        proxy.close()
    print_size(res)
    return res


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, int):
        return "{:,}{}".format(v, unit)
    if v >= 100:
        return "{:,.0f}{}".format(v, unit)
    if v >= 10:
        return "{:.1f}{}".format(v, unit)
    return "{:.3f}{}".format(v, unit)


def fmt_n(v):
    """A count, averaged over collections: whole numbers without decimals."""
    if v is None:
        return "-"
    if float(v).is_integer():
        return fmt(int(v))
    return "{:,.1f}".format(v)


def spread(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    return "%s (%s)" % (fmt(sum(vals) / len(vals)), " ".join(fmt(v) for v in vals))


def print_size(r):
    k = r["collections"]
    rows = [
        ("setup through the proxy (s)", fmt(r["setup_seconds"])),
        ("--refresh.metadata (s)", fmt(r["interval_s"])),
        ("first collection (s)", fmt(r["first_collection_s"])),
        ("collection duration (s), mean (each)", spread(r["collection_s"])),
        ("  broker, summed request time (s)", spread(r["broker_summed_s"])),
        ("  broker, in-flight wall time (s)", spread(r["broker_in_flight_wall_s"])),
        ("requests per collection", fmt_n(r["requests_total_per_collection"])),
        ("connections used / opened", "%d / %d" % (r["connections_used"], r["connections_opened_during"])),
        ("CPU per collection (s)", fmt(r["cpu_s_per_collection"])),
        ("RSS at start (MiB)", fmt(r["rss_start_mib"])),
        ("RSS after %d collections (MiB)" % k, fmt(r["rss_mib"])),
        ("peak RSS, VmHWM (MiB)", fmt(r["hwm_mib"])),
        ("scrapes (collections meanwhile)", "%s (%d)" % (fmt(r["scrapes"]), r["collections_during_scrapes"])),
        ("scrape latency p50 (ms)", fmt(r["scrape_p50_ms"])),
        ("scrape latency p99 (ms)", fmt(r["scrape_p99_ms"])),
        ("scrape latency max (ms)", fmt(r["scrape_max_ms"])),
        ("CPU per scrape (ms, collections taken out)", fmt(r["scrape_cpu_ms"])),
        ("  client floor, same body p50 / p99 (ms)", "%s / %s" % (fmt(r["floor_p50_ms"]), fmt(r["floor_p99_ms"]))),
        ("response size (bytes)", fmt(r["response_bytes"])),
        ("  largest families", ", ".join("%s %.0f%%" % (f, 100.0 * b / max(r["response_bytes"], 1))
                                         for f, b in r["body_families"][:3])),
    ]
    if "gzip_scrapes" in r:
        rows += [("gzip scrape p50 / p99 (ms)", "%s / %s" % (fmt(r["gzip_p50_ms"]), fmt(r["gzip_p99_ms"]))),
                 ("gzip response size (bytes)", fmt(r["gzip_bytes"]))]
    rows += [
        ("RSS / VmHWM after scrapes (MiB)", "%s / %s" % (fmt(r["rss_after_scrapes_mib"]), fmt(r["hwm_after_scrapes_mib"]))),
        ("collection errors (during / total)", "%s / %s" % (fmt(int(r["errors_during"])),
                                                           fmt(int(r["errors_total_end"] or 0)))),
    ]
    print()
    for label, v in rows:
        print("  %-44s %s" % (label, v))
    print("  requests per collection by API (mean of %d; broker seconds per collection):" % k)
    for name, n in sorted(r["requests_per_collection"].items(), key=lambda kv: -kv[1]):
        print("    %-26s %10s   %s s" % (name, fmt_n(n), fmt(r["broker_s_per_api"].get(name, 0.0))))
    ok_p = r["check_partition_series"] == r["partitions"]
    ok_g = r["check_groups"] == r["groups"]
    print("  check: kafka_topic_partition_current_offset series on bench-* %s (want %s) %s, %s in all "
          "(with __consumer_offsets); groups in kafka_consumergroup_members %s (want %s) %s; "
          "kafka_consumergroup_current_offset series %s"
          % (fmt(r["check_partition_series"]), fmt(r["partitions"]), "ok" if ok_p else "MISMATCH",
             fmt(r["check_all_partition_series"]),
             fmt(r["check_groups"]), fmt(r["groups"]), "ok" if ok_g else "MISMATCH",
             fmt(r["check_group_offset_series"])))
    if r["failed_collections"] or r["up_end"] != 1.0:
        print("  !!! failed collections: %d, kafka_up at the end: %s" % (r["failed_collections"], r["up_end"]))
    if r["exporter_log_lines"]:
        print("  !!! the exporter logged %d lines (warn and above), first: %s" % (
            r["exporter_log_lines"], " | ".join(r["exporter_log_sample"][:2])[:300]))
    sys.stdout.flush()


def upstream_requests(r):
    """danielqsj/kafka_exporter 1.9's requests for one collection (it collects on every scrape),
    from its code: per partition one ListOffsets for the newest and one for the oldest offset
    (sarama client.GetOffset); per broker one ListGroups and one DescribeGroups (a connection
    opened and closed each time); one OffsetFetch per group naming every partition of every
    topic; a Metadata refresh once per --refresh.metadata."""
    p, b, g = r["partitions"], r["brokers"], r["groups"]
    return {"ListOffsets": 2 * p, "ListGroups": b, "DescribeGroups": b, "OffsetFetch": g,
            "Metadata": 1, "total": 2 * p + 2 * b + g + 1, "offset_fetch_partition_entries": g * p}


def verdict(ok):
    return "meets" if ok else "MISSES"


def summary(results):
    print()
    print("== requests per collection (measured) beside upstream's (computed from its design, not measured)")
    names = sorted({n for r in results for n in r["requests_per_collection"]})
    hdr = "  %-26s" % "" + "".join("%14s %14s" % (r["size"], "upstream*") for r in results)
    print(hdr)
    ups = [upstream_requests(r) for r in results]
    for n in names + ["total"]:
        line = "  %-26s" % n
        for r, u in zip(results, ups):
            v = r["requests_total_per_collection"] if n == "total" else r["requests_per_collection"].get(n)
            line += "%14s %14s" % (fmt_n(v), fmt_n(u.get(n, 0)))
        print(line)
    line = "  %-26s" % "OffsetFetch partitions"
    for r, u in zip(results, ups):
        line += "%14s %14s" % ("(null topics)", fmt(u["offset_fetch_partition_entries"]))
    print(line)
    print("  * upstream: danielqsj/kafka_exporter cannot be run here (no Go module proxy, no GitHub, no")
    print("    Debian package), so no measured comparison. Computed from its code (kafka_exporter.go):")
    print("    per partition one ListOffsets for the newest and one for the oldest offset (2 x partitions),")
    print("    per broker one ListGroups + one DescribeGroups, one OffsetFetch per group naming every")
    print("    partition of the cluster (groups x partitions entries), Metadata once per refresh; and it")
    print("    does all that on every scrape, not in the background.")
    if len(results) >= 2:
        a, b = results[0], results[-1]
        lo_a = a["requests_per_collection"].get("ListOffsets")
        lo_b = b["requests_per_collection"].get("ListOffsets")
        print("  ours, %s -> %s: partitions x%.0f, groups x%.0f; ListOffsets %s -> %s (%s), total %s -> %s"
              % (a["size"], b["size"], b["partitions"] / a["partitions"], b["groups"] / a["groups"],
                 fmt_n(lo_a), fmt_n(lo_b), "same: grows with leader brokers, not partitions" if lo_a == lo_b else "DIFFERENT",
                 fmt_n(a["requests_total_per_collection"]), fmt_n(b["requests_total_per_collection"])))
        print("  (the rest is about one OffsetFetch per group, plus coordinator lookups: it grows with groups)")

    print("  Broker time is measured at the proxy (request forwarded -> response read), so it includes")
    print("  the proxy's own latency; collection durations are the exporter's, through the proxy too.")
    large = [r for r in results if r["size"] == "large"]
    if not large:
        print()
        print("(the issue's targets are for the large size, not run)")
    if large:
        r = large[0]
        coll = max(v for v in r["collection_s"] if v is not None)
        broker = max(r["broker_in_flight_wall_s"])
        own = max((c or 0.0) - b for c, b in zip(r["collection_s"], r["broker_in_flight_wall_s"]))
        print()
        print("== the issue's targets at the large size (%s partitions, %s groups)" % (fmt(r["partitions"]), fmt(r["groups"])))
        gz = r.get("gzip_p99_ms")
        print("  scrape p99 <= %.0f ms:   %8s ms   %s with gzip, as Prometheus scrapes (%s bytes); "
              "without gzip %s ms for a %s-byte body, which this client alone needs p99 %s ms for" % (
                  TARGET_P99_MS, fmt(gz), verdict(gz is not None and gz <= TARGET_P99_MS),
                  fmt(r.get("gzip_bytes")), fmt(r["scrape_p99_ms"]), fmt(r["response_bytes"]),
                  fmt(r["floor_p99_ms"])))
        print("  collection <= %.0f s:     %8s s (worst of %d)   %s; the broker was busy %s s of it "
              "(summed request time %s s); without the broker at most %s s   %s"
              % (TARGET_COLLECTION_S, fmt(coll), r["collections"], verdict(coll <= TARGET_COLLECTION_S),
                 fmt(broker), fmt(max(r["broker_summed_s"])), fmt(own), verdict(own <= TARGET_COLLECTION_S)))
        rss = max(r["rss_mib"], r["rss_after_scrapes_mib"])
        print("  RSS <= %.0f MiB:        %8s MiB (peak VmHWM %s MiB)   %s" % (
            TARGET_RSS_MIB, fmt(rss), fmt(r["hwm_after_scrapes_mib"]), verdict(rss <= TARGET_RSS_MIB)))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exporter", required=True, help="our release kafka-exporter")
    ap.add_argument("--workload-python", required=True,
                    help="a python with confluent-kafka, for scripts/kafka/workload.py (scripts/install-pydeps.sh prints it)")
    ap.add_argument("--sizes", default="small,large", help="comma-separated: %s" % ",".join(SIZES))
    ap.add_argument("--messages", type=int, default=4, help="records per partition (the workload's --messages)")
    ap.add_argument("--collections", type=int, default=3, help="K: collections measured")
    ap.add_argument("--interval", type=int, help="--refresh.metadata in seconds (default 10 small, 30 large)")
    ap.add_argument("--scrapes", type=int, default=200, help="plain (no gzip) scrapes")
    ap.add_argument("--scrape-budget", type=float, default=120.0, help="at most this many seconds of scrapes")
    ap.add_argument("--gzip-scrapes", type=int, default=1000, help="then this many with Accept-Encoding: gzip, as Prometheus sends")
    ap.add_argument("--setup-timeout", type=int, default=1800, help="seconds allowed for the workload setup")
    ap.add_argument("--first-timeout", type=float, default=600.0, help="seconds allowed for the first collection")
    ap.add_argument("--exporter-env", action="append", metavar="NAME=VALUE",
                    help="environment for the exporter (repeatable), e.g. GLIBC_TUNABLES=... to try allocator settings")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()

    sizes = [s for s in a.sizes.split(",") if s]
    for s in sizes:
        if s not in SIZES:
            print("bench: unknown size %r (known: %s)" % (s, ", ".join(SIZES)), file=sys.stderr)
            sys.exit(64)
    for b in (a.exporter, a.workload_python):
        if not os.access(b, os.X_OK):
            print("bench: %s is not an executable" % b, file=sys.stderr)
            sys.exit(64)

    atexit.register(stop_all)
    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so the finally blocks stop Kafka and the exporter.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(143))

    work = tempfile.mkdtemp(prefix="bench-kafka.")
    print("kafka-exporter benchmark, %s, %d CPUs, kernel %s; broker Apache Kafka %s (one KRaft "
          "node, heap 512 MiB, data on tmpfs)" % (
              time.strftime("%Y-%m-%d %H:%M:%S"), os.cpu_count(), os.uname().release,
              cluster.kafka_version()))
    print("every client talks to the broker through a counting proxy in this process; logs in %s" % work)
    if a.exporter_env:
        print("exporter environment: %s" % " ".join(a.exporter_env))
    results = []
    try:
        for s in sizes:
            results.append(bench_size(s, a, work))
    finally:
        stop_all()
    summary(results)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"results": results, "upstream_computed": [upstream_requests(r) for r in results]},
                      f, indent=2)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
        sys.exit("bench: %s" % err)
