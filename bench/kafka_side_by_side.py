#!/usr/bin/env python3
"""Our kafka-exporter beside danielqsj/kafka_exporter on the same Apache Kafka, scraped as
Prometheus scrapes (issue 18; `make bench-kafka`).

One 3-node Apache Kafka cluster (scripts/kafka/cluster.py, optimising JIT on, data on tmpfs) per
size; a counting proxy (kafka_bench.CountingProxy) in front of each node, which each node
advertises, so every request of every client goes through one. The proxy tells the exporters'
connections apart by the process that owns the client socket (/proc/net/tcp -> inode ->
/proc/<pid>/fd), so each exporter's broker requests are counted on their own although both use
the same brokers (both also send the same client id, "kafka_exporter").

For each size: scripts/kafka/workload.py creates the topics (100 partitions each), records and
group commits (each group on every partition of one topic), and a few live members keep
consuming (a classic and a KIP-848 group); then both exporters start with the same
--refresh.metadata and, once each has served a scrape with every group, each is scraped every
--interval seconds for --duration seconds, as Prometheus does (Accept-Encoding: gzip, its Accept
header, X-Prometheus-Scrape-Timeout-Seconds, a scrape given up after --timeout seconds), the
exporters' scrapes spread over the interval as Prometheus spreads targets. Measured per exporter
over that window: scrape p50/p99/max, failed and timed-out scrapes, CPU seconds per minute
(utime+stime), RSS sampled every second (peak of the window, and at its end), broker requests
per minute by API. After the first size, one node (not the one bootstrapping the workload) is
killed with SIGKILL and the same window is measured again on the two that are left.

Without --theirs (KAFKA_EXPORTER_BIN) only our column is measured, said in one line. Every
duration and size is also an environment variable (BENCH_KAFKA_*), so a quick smoke run is:

    BENCH_KAFKA_SIZES=200/20 BENCH_KAFKA_DURATION=30 make bench-kafka

Prints figures and ratios; never fails on a figure (exit 0 unless something could not run).
"""

import argparse
import atexit
import collections
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import kafka_bench
from benchlib import free_port, percentile
from kafka_bench import KAFKA_TOOLS, RUNNING, CountingProxy, Proc, api_name, cluster, stop_all

# What Prometheus 2 sends (scrape_config defaults, no native histograms).
PROM_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
               "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")

TARGET_P99_MS = 10.0
TARGET_RATIO = 0.25

NODES = 3
# The node killed in the broker-down run: not node 0, which the workload's live members and
# the exporters name first.
KILLED = 1


def env(name, default):
    return os.environ.get("BENCH_KAFKA_" + name, default)


def parse_sizes(text):
    """'1000/200,10000/1000' -> [(partitions, groups)]."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)/(\d+)", part)
        if not m or int(m.group(1)) < 1:
            raise ValueError("a size is PARTITIONS/GROUPS, e.g. 1000/200; got %r" % part)
        out.append((int(m.group(1)), int(m.group(2))))
    if not out:
        raise ValueError("no size given")
    return out


# ---------------------------------------------------------------------------------------------
# Which process owns a connection


def _tcp_inode(local_port, remote_port):
    """The inode of the IPv4 loopback socket 127.0.0.1:local_port -> 127.0.0.1:remote_port,
    from /proc/net/tcp, or None."""
    want_l = "0100007F:%04X" % local_port
    want_r = "0100007F:%04X" % remote_port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want_l and fields[2] == want_r:
                return fields[9]
    return None


class Owners:
    """Maps an accepted proxy connection to the tag of the process that opened it: register(pid,
    tag) for each exporter; anything else (the workload) is None."""

    def __init__(self):
        self.pids = {}

    def register(self, pid, tag):
        self.pids[pid] = tag

    def __call__(self, sock):
        peer_port = sock.getpeername()[1]
        inode = _tcp_inode(peer_port, sock.getsockname()[1])
        if inode is None or inode == "0":
            return None
        link = "socket:[%s]" % inode
        for pid, tag in list(self.pids.items()):
            fd_dir = "/proc/%d/fd" % pid
            try:
                fds = os.listdir(fd_dir)
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(os.path.join(fd_dir, fd)) == link:
                        return tag
                except OSError:
                    continue
        return None


# ---------------------------------------------------------------------------------------------
# The cluster and the exporters


class ProxiedCluster:
    """A 3-node cluster.py cluster with a CountingProxy in front of each node, which the node
    advertises. stop() is idempotent (it is on RUNNING)."""

    def __init__(self, workdir, classify):
        broker_ports = cluster.free_ports(NODES)
        self.proxies = [CountingProxy(p, classify) for p in broker_ports]
        self.cluster = cluster.Cluster(nodes=NODES, workdir=workdir, ports=broker_ports,
                                       advertised_ports=[p.port for p in self.proxies],
                                       fast_start=False)
        RUNNING.append(self)
        self.cluster.start(timeout=240)

    @property
    def bootstrap(self):
        return ",".join("127.0.0.1:%d" % p.port for p in self.proxies)

    def counters_by(self):
        """{tag: Counter(api_key)} summed over the proxies."""
        total = {}
        for p in self.proxies:
            for tag, c in p.counters_by().items():
                total.setdefault(tag, collections.Counter()).update(c)
        return total

    def stop(self):
        self.cluster.close()
        for p in self.proxies:
            p.close()


class Exporter(Proc):
    """An exporter (ours or theirs: the same flags) on a free 127.0.0.1 port."""

    def __init__(self, tag, binary, bootstrap, refresh, workdir, owners):
        self.tag = tag
        self.port = free_port()
        argv = [binary, *["--kafka.server=%s" % s for s in bootstrap.split(",")],
                "--refresh.metadata=%ds" % refresh,
                "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"]
        super().__init__("exporter-" + tag, argv, workdir)
        RUNNING.append(self)
        owners.register(self.pid, tag)

    def scrape(self, timeout, conn=None):
        """One scrape as Prometheus makes it: (ok, seconds, body or None, error). `conn` is a
        keep-alive connection to reuse (None: a new one); returns it (None after a failure)."""
        t0 = time.perf_counter()
        own = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            own.timeout = timeout
            if own.sock is not None:
                own.sock.settimeout(timeout)
            own.request("GET", "/metrics", headers={
                "Accept": PROM_ACCEPT, "Accept-Encoding": "gzip",
                "X-Prometheus-Scrape-Timeout-Seconds": "%g" % timeout,
                "User-Agent": "Prometheus/2.53.0"})
            r = own.getresponse()
            raw = r.read()
            seconds = time.perf_counter() - t0
            if seconds > timeout:
                own.close()
                return (False, seconds, None, "timeout"), None
            if r.status != 200:
                return (False, seconds, None, "status %d" % r.status), own
            if r.getheader("Content-Encoding", "") == "gzip":
                raw = gzip.decompress(raw)
            return (True, seconds, raw, None), own
        except (OSError, http.client.HTTPException) as e:
            own.close()
            seconds = time.perf_counter() - t0
            kind = "timeout" if isinstance(e, TimeoutError) or seconds >= timeout else "error: %s" % e
            return (False, seconds, None, kind), None


def groups_in(body):
    return len(set(re.findall(rb'^kafka_consumergroup_members\{(?:[^}]*,)?consumergroup="([^"]*)"',
                              body, re.M)))


def partitions_in(body):
    return len(re.findall(rb'^kafka_topic_partition_current_offset\{(?:[^}]*,)?topic="bench-', body, re.M))


def wait_complete(exp, groups, partitions, timeout):
    """Scrapes (up to 60 s each: theirs collects on the scrape) until a body shows every group
    and partition of the workload; returns the seconds it took."""
    t0 = time.monotonic()
    last = "no answer"
    while time.monotonic() - t0 < timeout:
        if not exp.alive():
            raise RuntimeError("%s exited; its log:\n%s" % (exp.tag, exp.log()))
        (ok, _, body, err), _ = exp.scrape(60.0)
        if ok:
            g, p = groups_in(body), partitions_in(body)
            if g >= groups and p >= partitions:
                return time.monotonic() - t0
            last = "%d of %d groups, %d of %d partitions" % (g, groups, p, partitions)
        else:
            last = err
        time.sleep(1.0)
    raise RuntimeError("%s did not serve the whole cluster within %.0f s (last: %s); its log:\n%s"
                       % (exp.tag, timeout, last, exp.log()))


# ---------------------------------------------------------------------------------------------
# The measured window


def measure(exporters, pc, a):
    """Scrapes every exporter every a.interval s for a.duration s (each on its own schedule,
    spread over the interval) while sampling RSS; returns {tag: figures}."""
    n = len(exporters)
    t_start = time.monotonic() + 1.0
    t_end = t_start + a.duration
    lat = {e.tag: [] for e in exporters}
    fails = {e.tag: [] for e in exporters}
    rss = {e.tag: [] for e in exporters}
    log = {e.tag: [] for e in exporters}
    stop = threading.Event()

    def scraper(exp, offset):
        conn = None
        k = 0
        while True:
            at = t_start + offset + k * a.interval
            if at >= t_end:
                return
            if stop.wait(max(at - time.monotonic(), 0)):
                return
            started = time.time()
            (ok, seconds, body, err), conn = exp.scrape(a.timeout, conn)
            lat[exp.tag].append(seconds)
            # Each scrape, for the JSON: when, how long, and (ours) when the collection it
            # served started and how long that took, to place a slow scrape against them.
            log[exp.tag].append((started, seconds, err,
                                 kafka_bench.sample(body, "kafka_exporter_last_collection_timestamp_seconds") if body else None,
                                 kafka_bench.sample(body, "kafka_exporter_collection_duration_seconds") if body else None))
            if not ok:
                fails[exp.tag].append(err)
            k += 1

    def sampler():
        while not stop.wait(1.0):
            for e in exporters:
                try:
                    rss[e.tag].append(e.status().get("VmRSS", 0) / 1024.0)
                except OSError:
                    pass

    before = pc.counters_by()
    cpu0 = {e.tag: e.cpu_seconds() for e in exporters}
    threads = [threading.Thread(target=scraper, args=(e, i * a.interval / n), daemon=True)
               for i, e in enumerate(exporters)]
    st = threading.Thread(target=sampler, daemon=True)
    for t in threads + [st]:
        t.start()
    for t in threads:
        t.join(a.duration + a.interval + a.timeout + 30)
    wall = time.monotonic() - t_start
    stop.set()
    st.join(5)
    after = pc.counters_by()
    out = {}
    minutes = wall / 60.0
    for e in exporters:
        alive = e.alive()
        cpu = (e.cpu_seconds() - cpu0[e.tag]) if alive else None
        mem = e.status() if alive else {}
        req = after.get(e.tag, {})
        req0 = before.get(e.tag, {})
        per_api = {api_name(k): (req[k] - req0.get(k, 0)) / minutes for k in req if req[k] - req0.get(k, 0)}
        ls = sorted(lat[e.tag])
        out[e.tag] = {
            "scrapes": len(ls),
            "p50_ms": percentile(ls, 0.5) * 1000.0 if ls else None,
            "p99_ms": percentile(ls, 0.99) * 1000.0 if ls else None,
            "max_ms": ls[-1] * 1000.0 if ls else None,
            "failed": len([f for f in fails[e.tag] if f != "timeout"]),
            "timed_out": len([f for f in fails[e.tag] if f == "timeout"]),
            "fail_sample": fails[e.tag][:3],
            "cpu_s_per_min": cpu / minutes if cpu is not None else None,
            "rss_peak_mib": max(rss[e.tag]) if rss[e.tag] else None,
            "rss_end_mib": mem.get("VmRSS", 0) / 1024.0 if mem else None,
            "requests_per_min": sum(per_api.values()),
            "requests_per_min_by_api": per_api,
            "alive": alive,
            "window_s": wall,
            "scrape_log": log[e.tag],
        }
    return out


# ---------------------------------------------------------------------------------------------
# Output


def fmt(v, digits=None):
    if v is None:
        return "-"
    if isinstance(v, int):
        return "{:,}".format(v)
    if digits is not None:
        return "{:,.{}f}".format(v, digits)
    if abs(v) >= 100:
        return "{:,.0f}".format(v)
    if abs(v) >= 10:
        return "{:.1f}".format(v)
    return "{:.2f}".format(v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    r = a / b
    return "%.3f" % r if r < 10 else "%.1f" % r


ROWS = [
    ("scrapes", "scrapes", None),
    ("scrape p50 (ms)", "p50_ms", "ratio"),
    ("scrape p99 (ms)", "p99_ms", "ratio"),
    ("scrape max (ms)", "max_ms", "ratio"),
    ("failed scrapes", "failed", None),
    ("timed-out scrapes (> timeout)", "timed_out", None),
    ("CPU (s per minute)", "cpu_s_per_min", "ratio"),
    ("RSS peak in the window (MiB)", "rss_peak_mib", "ratio"),
    ("RSS at the end (MiB)", "rss_end_mib", "ratio"),
    ("broker requests per minute", "requests_per_min", "ratio"),
]


def print_run(title, tags, res, a, notes=()):
    print()
    print("== %s" % title)
    for n in notes:
        print("   %s" % n)
    ours = tags[0]
    theirs = "theirs" if "theirs" in tags else None
    head = "  %-32s" % "" + "".join("%16s" % t for t in tags)
    if theirs:
        head += "%16s" % "ours/theirs"
    print(head)
    for label, key, kind in ROWS:
        line = "  %-32s" % label + "".join("%16s" % fmt(res[t][key]) for t in tags)
        if theirs and kind == "ratio":
            line += "%16s" % ratio(res[ours][key], res[theirs][key])
        print(line)
    apis = sorted({k for t in tags for k in res[t]["requests_per_min_by_api"]},
                  key=lambda k: -max(res[t]["requests_per_min_by_api"].get(k, 0) for t in tags))
    for api in apis:
        print("  %-32s" % ("  " + api + " /min") +
              "".join("%16s" % fmt(res[t]["requests_per_min_by_api"].get(api)) for t in tags))
    # Per collection: ours collects every --refresh.metadata; theirs on every scrape.
    line = "  %-32s" % "requests per collection (*)"
    for t in tags:
        per_min = 60.0 / a.refresh if t != "theirs" else res[t]["scrapes"] / (res[t]["window_s"] / 60.0)
        line += "%16s" % fmt(res[t]["requests_per_min"] / per_min if per_min else None)
    print(line)
    slow = [(st, sec, ts, dur) for st, sec, _, ts, dur in res[ours]["scrape_log"] if sec > 0.1]
    for st, sec, ts, dur in slow:
        print("  ours: a %s ms scrape at %s; it served the collection that started %s s before it and took %s s"
              % (fmt(sec * 1000.0), time.strftime("%H:%M:%S", time.localtime(st)),
                 fmt(st - ts) if ts else "-", fmt(dur)))
    for t in tags:
        if res[t]["failed"] or res[t]["timed_out"]:
            print("  %s: failures %s" % (t, res[t]["fail_sample"]))
        if not res[t]["alive"]:
            print("  !!! %s exited during the window" % t)
    print("  (*) ours collects every --refresh.metadata (%d s): per minute / %.0f; theirs collects on "
          "every scrape: per minute / scrapes per minute" % (a.refresh, 60.0 / a.refresh))
    if theirs:
        r = res[ours]
        t = res[theirs]
        checks = [
            ("our p99 <= %.0f ms" % TARGET_P99_MS, r["p99_ms"] is not None and r["p99_ms"] <= TARGET_P99_MS,
             "%s ms" % fmt(r["p99_ms"])),
            ("our CPU <= %.2f of theirs" % TARGET_RATIO, _le_ratio(r["cpu_s_per_min"], t["cpu_s_per_min"]),
             ratio(r["cpu_s_per_min"], t["cpu_s_per_min"])),
            ("our RSS peak <= %.2f of theirs" % TARGET_RATIO, _le_ratio(r["rss_peak_mib"], t["rss_peak_mib"]),
             ratio(r["rss_peak_mib"], t["rss_peak_mib"])),
            ("our RSS end <= %.2f of theirs" % TARGET_RATIO, _le_ratio(r["rss_end_mib"], t["rss_end_mib"]),
             ratio(r["rss_end_mib"], t["rss_end_mib"])),
            ("fewer broker requests", r["requests_per_min"] < t["requests_per_min"],
             ratio(r["requests_per_min"], t["requests_per_min"])),
            ("no failed scrape of ours", r["failed"] + r["timed_out"] == 0,
             "%d failed, %d timed out" % (r["failed"], r["timed_out"])),
        ]
        print("  targets: " + "; ".join("%s: %s %s" % (name, val, "met" if ok else "MISSED")
                                        for name, ok, val in checks))
    sys.stdout.flush()


def _le_ratio(a, b):
    return a is not None and b not in (None, 0) and a / b <= TARGET_RATIO


# ---------------------------------------------------------------------------------------------
# One size


def run_size(partitions, groups, a, work, kill, results):
    per_topic = min(100, partitions)
    topics = max(1, partitions // per_topic)
    partitions = topics * per_topic
    name = "%d/%d" % (partitions, groups)
    print()
    print("=== %s partitions/groups: %d topics x %d partitions, %d groups, %d records per partition, "
          "%d live members; 3 nodes" % (name, topics, per_topic, groups, a.messages, 2))
    sys.stdout.flush()
    owners = Owners()
    pc = ProxiedCluster(os.path.join(work, "kafka-%d" % partitions), owners)
    try:
        t0 = time.monotonic()
        wl = [a.workload_python, os.path.join(KAFKA_TOOLS, "workload.py"), "--brokers", pc.bootstrap]
        try:
            r = subprocess.run(wl + ["setup", "--topics", str(topics), "--partitions", str(per_topic),
                                     "--messages", str(a.messages), "--groups", str(groups)],
                               capture_output=True, text=True, timeout=a.setup_timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError("workload setup did not finish in %d s" % a.setup_timeout)
        if r.returncode != 0:
            raise RuntimeError("workload setup failed (%d):\n%s\n%s" % (r.returncode, r.stdout[-2000:],
                                                                         r.stderr[-3000:]))
        print("setup: %.0f s; %s" % (time.monotonic() - t0, (r.stdout.strip().splitlines() or [""])[-1]))
        # Live members: a classic group and a KIP-848 one, consuming and committing every second.
        for proto in ("classic", "consumer"):
            RUNNING.append(Proc("live-" + proto, wl + [
                "run", "--topic", "live-" + proto, "--partitions", "6", "--group", "live-" + proto,
                "--rate", "5", "--group-protocol", proto], work))
        groups_all = groups + 2

        exporters = [Exporter("ours", a.ours, pc.bootstrap, a.refresh, work, owners)]
        for tag, path in a.extra:
            exporters.append(Exporter(tag, path, pc.bootstrap, a.refresh, work, owners))
        if a.theirs:
            exporters.append(Exporter("theirs", a.theirs, pc.bootstrap, a.refresh, work, owners))
        tags = [e.tag for e in exporters]
        for e in exporters:
            s = wait_complete(e, groups_all, partitions, a.ready_timeout)
            print("%s: serves every group and partition after %.1f s" % (e.tag, s))
        sys.stdout.flush()

        res = measure(exporters, pc, a)
        results.append({"run": name, "killed": False, "figures": res})
        print_run("%s, all 3 nodes up, %d s window" % (name, a.duration), tags, res, a)

        if kill:
            t_kill = time.time()
            pc.cluster.kill9(KILLED)
            print()
            print("killed node %d (kill -9) at %s; measuring at once" % (KILLED, time.strftime("%H:%M:%S", time.localtime(t_kill))))
            res = measure(exporters, pc, a)
            results.append({"run": name, "killed": True, "figures": res})
            print_run("%s, node %d of 3 killed (kill -9) at the start of the %d s window" % (name, KILLED, a.duration),
                      tags, res, a, notes=["its partitions (replication factor 1) have no leader for the "
                                           "whole window; its groups move to another coordinator"])
        for e in exporters:
            warn = [l for l in e.log(20000).splitlines() if l.strip()]
            if warn:
                print("  %s logged %d lines, e.g. %s" % (e.tag, len(warn), warn[0][:200]))
    finally:
        stop_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", required=True, help="our release kafka-exporter")
    ap.add_argument("--theirs", default=os.environ.get("KAFKA_EXPORTER_BIN", ""),
                    help="danielqsj/kafka_exporter's binary (env KAFKA_EXPORTER_BIN)")
    ap.add_argument("--extra", action="append", default=[], metavar="TAG=PATH",
                    help="another exporter with our flags, as a further column (e.g. an older build)")
    ap.add_argument("--workload-python", required=True, help="a python with confluent-kafka")
    ap.add_argument("--sizes", default=env("SIZES", "1000/200,10000/1000"),
                    help="PARTITIONS/GROUPS,... (env BENCH_KAFKA_SIZES)")
    ap.add_argument("--duration", type=float, default=float(env("DURATION", "180")),
                    help="seconds of scraping per run (env BENCH_KAFKA_DURATION)")
    ap.add_argument("--interval", type=float, default=float(env("INTERVAL", "15")),
                    help="scrape interval, s (env BENCH_KAFKA_INTERVAL)")
    ap.add_argument("--timeout", type=float, default=float(env("TIMEOUT", "10")),
                    help="scrape timeout, s (env BENCH_KAFKA_TIMEOUT)")
    ap.add_argument("--refresh", type=int, default=int(env("REFRESH", "15")),
                    help="--refresh.metadata of both exporters, s (env BENCH_KAFKA_REFRESH)")
    ap.add_argument("--kill", default=env("KILL", "1"), choices=("0", "1"),
                    help="1: after the first size, kill one node of 3 and measure again (env BENCH_KAFKA_KILL)")
    ap.add_argument("--messages", type=int, default=int(env("MESSAGES", "4")), help="records per partition")
    ap.add_argument("--setup-timeout", type=int, default=int(env("SETUP_TIMEOUT", "1800")))
    ap.add_argument("--ready-timeout", type=float, default=float(env("READY_TIMEOUT", "600")),
                    help="seconds for each exporter to serve the whole cluster once")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    try:
        sizes = parse_sizes(a.sizes)
        a.extra = [tuple(x.split("=", 1)) for x in a.extra]
        if any(len(x) != 2 for x in a.extra):
            raise ValueError("--extra wants TAG=PATH")
    except ValueError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 64
    for b in [a.ours, a.workload_python] + ([a.theirs] if a.theirs else []) + [p for _, p in a.extra]:
        if not os.access(b, os.X_OK):
            print("bench: %s is not an executable" % b, file=sys.stderr)
            return 64

    atexit.register(stop_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(143))

    work = tempfile.mkdtemp(prefix="bench-kafka-sbs.")
    load = os.getloadavg()
    print("kafka-exporter beside kafka_exporter, %s, %d CPUs, load average %.2f %.2f %.2f at the start, "
          "kernel %s; Apache Kafka %s, 3 KRaft nodes (heap 512 MiB each, data on tmpfs)" % (
              time.strftime("%Y-%m-%d %H:%M:%S %Z"), os.cpu_count(), *load, os.uname().release,
              cluster.kafka_version()))
    print("scraped as Prometheus: every %g s, timeout %g s, gzip, %g s per run; --refresh.metadata=%ds for both"
          % (a.interval, a.timeout, a.duration, a.refresh))
    if not a.theirs:
        print("bench: kafka_exporter not measured (skipped): KAFKA_EXPORTER_BIN is unset; our column only")
    else:
        print("theirs: %s" % a.theirs)
    sys.stdout.flush()
    results = []
    try:
        for i, (p, g) in enumerate(sizes):
            run_size(p, g, a, work, a.kill == "1" and i == 0, results)
    finally:
        stop_all()
    print()
    print("load average at the end: %.2f %.2f %.2f (the machine is shared: other builds and tests ran meanwhile)"
          % os.getloadavg())
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"results": results, "args": {k: v for k, v in vars(a).items()}}, f, indent=2)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
        sys.exit("bench: %s" % err)
