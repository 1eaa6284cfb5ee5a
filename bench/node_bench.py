#!/usr/bin/env python3
"""Benchmark our node-exporter beside the real node_exporter on this host.

Both run on free 127.0.0.1 ports with the same collectors (the default collectors both
implement). For each: resident memory after start and after N sequential keep-alive scrapes,
CPU time per scrape (utime+stime from /proc/<pid>/stat over the N scrapes), scrape latency p50
and p99, response size, binary size; then the floor: the CPU of only opening and reading the
files one node_exporter scrape opens (listed with strace, read by examples/read_floor.rs).

Prints figures and ratios beside the targets; never fails on a figure (exit 0 unless something
could not run). Standard library only. Usually run through scripts/bench-node.sh.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import CLK_TCK, free_port, percentile

# The targets: ours <= factor x theirs (or x floor for CPU).
TARGET_RSS = 0.25
TARGET_CPU_FLOOR = 1.3
TARGET_P99 = 0.33
TARGET_BINARY = 0.5

class Exporter:
    """A running exporter, stopped by stop() (also on error, through the caller's finally)."""

    def __init__(self, name, binary, args, workdir):
        self.name, self.binary = name, binary
        self.log_path = os.path.join(workdir, name + ".log")
        for _ in range(3):
            self.port = free_port()
            log = open(self.log_path, "w")
            self.proc = subprocess.Popen(
                [binary, "--web.listen-address=127.0.0.1:%d" % self.port] + args,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            if self._wait_ready():
                return
            self.stop()
            if "address already in use" not in self.log():
                break
        raise RuntimeError("%s did not start; its log:\n%s" % (name, self.log()))

    def _wait_ready(self, timeout=20.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/")
                c.getresponse().read()
                c.close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def get(self, path="/metrics"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status != 200:
            raise RuntimeError("%s: GET %s: %d" % (self.name, path, r.status))
        return body

    def rss_kib(self):
        return benchlib.memory_kib(self.pid, ("VmRSS:",)).get("VmRSS", 0)

    def cpu_seconds(self):
        return benchlib.cpu_seconds(self.pid)

    def stop(self):
        benchlib.stop(self.proc)

def collector_success(text):
    out = {}
    for m in re.finditer(r'^node_scrape_collector_success\{collector="([^"]+)"\} (\S+)$', text, re.M):
        out[m.group(1)] = float(m.group(2)) == 1.0
    return out


def default_collectors(name, binary, workdir):
    e = Exporter(name + "-defaults", binary, [], workdir)
    try:
        return collector_success(e.get().decode("utf-8", "replace"))
    finally:
        e.stop()


def scrape_loop(exporters, n):
    """n sequential scrapes of each over one keep-alive connection each, interleaved so both
    see the same background load. Returns per exporter: latencies (s), cpu seconds, last body."""
    conns = {e.name: http.client.HTTPConnection("127.0.0.1", e.port, timeout=60) for e in exporters}
    lat = {e.name: [] for e in exporters}
    body = {}
    cpu0 = {e.name: e.cpu_seconds() for e in exporters}
    for _ in range(n):
        for e in exporters:
            c = conns[e.name]
            t0 = time.perf_counter()
            c.request("GET", "/metrics")
            r = c.getresponse()
            b = r.read()
            t1 = time.perf_counter()
            if r.status != 200:
                raise RuntimeError("%s: status %d" % (e.name, r.status))
            if r.getheader("Connection", "").lower() == "close":
                raise RuntimeError("%s closed the keep-alive connection" % e.name)
            lat[e.name].append(t1 - t0)
            body[e.name] = b
    cpu = {e.name: e.cpu_seconds() - cpu0[e.name] for e in exporters}
    for c in conns.values():
        c.close()
    return lat, cpu, body


LIB_RE = re.compile(r"^/(lib|lib64|usr/lib|usr/lib64)/|\.so(\.\d+)*$|^/etc/ld\.so|^/dev/")
OPEN_RE = re.compile(r'^(\d+)\s+(?:openat|open)\((?:AT_FDCWD, )?"([^"]+)"([^)]*)\)\s+=\s+(-?\d+)')
UNFINISHED_RE = re.compile(r'^(\d+)\s+(?:openat|open)\((?:AT_FDCWD, )?"([^"]+)"(.*)<unfinished \.\.\.>')
RESUMED_RE = re.compile(r'^(\d+)\s+<\.\.\. (?:openat|open) resumed>.*\)\s+=\s+(-?\d+)')


def traced_opens(e, workdir):
    """Files one scrape of `e` opens (strace -f -p, one scrape), without its own /proc/<pid>
    and /proc/self reads (its process metrics) and without libraries. Returns (all opens in
    order, unique paths)."""
    out = os.path.join(workdir, "strace-%s.txt" % e.name)
    st = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=openat,open", "-o", out, "-p", str(e.pid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # strace attaches to every thread before tracing; give it a moment.
    time.sleep(1.0)
    if st.poll() is not None:
        raise RuntimeError("strace failed: %s" % st.stderr.read().decode(errors="replace"))
    e.get()
    time.sleep(0.3)
    st.send_signal(signal.SIGINT)  # detaches from the tracee and exits
    st.wait(10)
    own = re.compile(r"^/proc/(self|thread-self|%d)(/|$)" % e.pid)
    opens, pending = [], {}
    with open(out, errors="replace") as f:
        for line in f:
            m = UNFINISHED_RE.match(line)
            if m:
                pending[m.group(1)] = m.group(2)
                continue
            m = OPEN_RE.match(line)
            if m:
                path, ok = m.group(2), int(m.group(4)) >= 0
            else:
                m = RESUMED_RE.match(line)
                if not m or m.group(1) not in pending:
                    continue
                path, ok = pending.pop(m.group(1)), int(m.group(2)) >= 0
            if ok and path.startswith("/") and not own.match(path) and not LIB_RE.search(path):
                opens.append(path)
    return opens, sorted(set(opens))


def read_floor(binary, paths, passes, workdir, label):
    lst = os.path.join(workdir, "floor-%s.txt" % label)
    with open(lst, "w") as f:
        f.write("\n".join(paths) + "\n")
    r = subprocess.run([binary, lst, str(passes)], capture_output=True, text=True, check=True)
    return dict(kv.split("=", 1) for kv in r.stdout.split())


def mib(kib):
    return kib / 1024.0


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, int):
        return "{:,}{}".format(v, unit)
    if v >= 100:
        return "{:.0f}{}".format(v, unit)
    if v >= 10:
        return "{:.1f}{}".format(v, unit)
    return "{:.3f}{}".format(v, unit)


def verdict(ratio, target):
    if ratio is None or target is None:
        return ""
    return "meets" if ratio <= target else "MISSES"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", required=True, help="our release binary")
    ap.add_argument("--theirs", default="/usr/bin/prometheus-node-exporter", help="node_exporter")
    ap.add_argument("--read-floor", required=True, help="the read_floor example binary")
    ap.add_argument("--scrapes", type=int, default=1000)
    ap.add_argument("--floor-passes", type=int, default=1000)
    ap.add_argument("--collectors", help="comma-separated list instead of the common defaults")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds between start and the first RSS reading")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()

    for b in (a.ours, a.theirs, a.read_floor):
        if not os.access(b, os.X_OK):
            sys.exit("bench: %s is not an executable" % b)
    have_strace = shutil.which("strace") is not None

    work = tempfile.mkdtemp(prefix="bench-node.")
    started = []
    try:
        ours_def = default_collectors("ours", a.ours, work)
        theirs_def = default_collectors("theirs", a.theirs, work)
        if a.collectors:
            collectors = sorted(c for c in a.collectors.split(",") if c)
        else:
            collectors = sorted(set(ours_def) & set(theirs_def))
        print("node-exporter benchmark, %s, %d CPUs, kernel %s" % (
            time.strftime("%Y-%m-%d %H:%M:%S"), os.cpu_count(), os.uname().release))
        print("collectors (%d, on both): %s" % (len(collectors), ",".join(collectors)))
        left_out = sorted(set(ours_def) ^ set(theirs_def))
        if left_out and not a.collectors:
            print("left out (default in only one of them): %s" % ",".join(left_out))

        args = ["--collector.disable-defaults"] + ["--collector." + c for c in collectors]
        ours = Exporter("ours", a.ours, args, work)
        started.append(ours)
        theirs = Exporter("theirs", a.theirs, args, work)
        started.append(theirs)
        time.sleep(a.settle)
        rss0 = {e.name: e.rss_kib() for e in started}

        # Both must report the same collectors as working, or the comparison is not like for like.
        ok_ours = collector_success(ours.get().decode("utf-8", "replace"))
        ok_theirs = collector_success(theirs.get().decode("utf-8", "replace"))
        unequal = sorted(c for c in collectors if ok_ours.get(c) != ok_theirs.get(c))
        if unequal:
            print("!!! collectors succeeding in only one of them: %s" % ", ".join(
                "%s (ours %s, theirs %s)" % (c, int(bool(ok_ours.get(c))), int(bool(ok_theirs.get(c)))) for c in unequal))

        lat, cpu, body = scrape_loop(started, a.scrapes)
        rss1 = {e.name: e.rss_kib() for e in started}

        floor = {}
        traced = {}
        if have_strace:
            for e in (theirs, ours):
                traced[e.name] = traced_opens(e, work)
            floor["theirs"] = read_floor(a.read_floor, traced["theirs"][1], a.floor_passes, work, "theirs")
            floor["ours"] = read_floor(a.read_floor, traced["ours"][1], a.floor_passes, work, "ours")
        else:
            print("!!! strace not found: no floor")
    finally:
        for e in started:
            e.stop()

    n = a.scrapes
    res = {}
    for e in ("ours", "theirs"):
        ls = sorted(lat[e])
        res[e] = {
            "rss_start_mib": mib(rss0[e]),
            "rss_after_mib": mib(rss1[e]),
            "cpu_ms_per_scrape": cpu[e] * 1000.0 / n,
            "p50_ms": percentile(ls, 0.50) * 1000.0,
            "p99_ms": percentile(ls, 0.99) * 1000.0,
            "response_bytes": len(body[e]),
            "binary_mib": os.path.getsize(a.ours if e == "ours" else a.theirs) / 1048576.0,
        }

    def ratio(k):
        t = res["theirs"][k]
        return res["ours"][k] / t if t else None

    rows = [
        ("RSS after start (MiB)", "rss_start_mib", None),
        ("RSS after %d scrapes (MiB)" % n, "rss_after_mib", TARGET_RSS),
        ("CPU per scrape (ms)", "cpu_ms_per_scrape", None),
        ("scrape latency p50 (ms)", "p50_ms", None),
        ("scrape latency p99 (ms)", "p99_ms", TARGET_P99),
        ("response size (bytes)", "response_bytes", None),
        ("binary size (MiB)", "binary_mib", TARGET_BINARY),
    ]
    print()
    hdr = "%-30s %12s %12s %12s   %s" % ("", "ours", "theirs", "ours/theirs", "target")
    print(hdr)
    print("-" * len(hdr))
    for label, k, target in rows:
        r = ratio(k)
        tgt = "<= %.2f  %s" % (target, verdict(r, target)) if target else ""
        print("%-30s %12s %12s %12s   %s" % (label, fmt(res["ours"][k]), fmt(res["theirs"][k]),
                                             "-" if r is None else "%.3f" % r, tgt))
    print()
    print("CPU is utime+stime of the whole process over %d scrapes (clock ticks of %.0f ms), per scrape;"
          % (n, 1000.0 / CLK_TCK))
    print("latency is request to last byte over one keep-alive connection, uncompressed.")

    out = {"scrapes": n, "collectors": collectors, "ours": res["ours"], "theirs": res["theirs"]}
    if floor:
        ft = float(floor["theirs"]["cpu_ms_per_pass"])
        fo = float(floor["ours"]["cpu_ms_per_pass"])
        print()
        print("Floor: opening and reading only the files one scrape opens (read_floor, %d passes)" % a.floor_passes)
        print("  theirs opens %d files per scrape (%d distinct); ours %d (%d distinct)" % (
            len(traced["theirs"][0]), len(traced["theirs"][1]), len(traced["ours"][0]), len(traced["ours"][1])))
        print("  floor, node_exporter's files: %s ms/scrape (%s bytes)" % (fmt(ft), floor["theirs"]["bytes_per_pass"]))
        print("  floor, our files:             %s ms/scrape (%s bytes)" % (fmt(fo), floor["ours"]["bytes_per_pass"]))
        co, ct = res["ours"]["cpu_ms_per_scrape"], res["theirs"]["cpu_ms_per_scrape"]
        ro = co / ft if ft else None
        print("  ours/floor:   %s   (target <= %.2f  %s)" % ("-" if ro is None else "%.2f" % ro, TARGET_CPU_FLOOR,
                                                            verdict(ro, TARGET_CPU_FLOOR)))
        print("  theirs/floor: %s" % ("-" if not ft else "%.2f" % (ct / ft)))
        out["floor"] = {"theirs_files": traced["theirs"][1], "ours_files": traced["ours"][1],
                        "theirs_ms": ft, "ours_files_ms": fo,
                        "ours_over_floor": ro, "theirs_over_floor": ct / ft if ft else None}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
        sys.exit("bench: %s" % err)
