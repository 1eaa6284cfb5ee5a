#!/usr/bin/env python3
"""Benchmark our node-exporter beside the real node_exporter on this host.

They run on free 127.0.0.1 ports with the same collectors, in two rounds: the default
collectors both enable, then every collector both know (from their --help), all enabled. Beside
node_exporter 1.12.1 ("theirs") a second, older one (Debian's 1.5.0, "old") runs when given. For each: resident memory after start and after N sequential keep-alive scrapes,
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


def help_collectors(binary):
    """Every collector `binary --help` lists (both word it "Enable the X collector (default: ...)")."""
    r = subprocess.run([binary, "--help"], capture_output=True, text=True)
    text = " ".join((r.stdout + r.stderr).split())
    return set(re.findall(r"Enable the ([A-Za-z0-9_]+) collector \(default: (?:enabled|disabled)\)", text))


def version(binary):
    r = subprocess.run([binary, "--version"], capture_output=True, text=True)
    m = re.search(r"version (\S+)", r.stdout + r.stderr)
    return m.group(1) if m else "?"


def run_round(a, title, collectors, binaries, work):
    """One side-by-side run: every binary in `binaries` (name -> (path, collectors it knows)) with
    `collectors` (those it knows). Prints the table and returns the figures."""
    print()
    print("=== %s: %d collectors: %s" % (title, len(collectors), ",".join(collectors)))
    started = []
    try:
        for name, (path, known) in binaries.items():
            mine = [c for c in collectors if c in known]
            if len(mine) != len(collectors):
                print("  %s lacks: %s" % (name, ",".join(c for c in collectors if c not in known)))
            args = ["--collector.disable-defaults"] + ["--collector." + c for c in mine]
            if "textfile" in mine:
                args.append("--collector.textfile.directory=" + work)
            started.append(Exporter(name, path, args, work))
        time.sleep(a.settle)
        rss0 = {e.name: e.rss_kib() for e in started}

        # The same collectors must work in each, or the comparison is not like for like.
        ok = {e.name: collector_success(e.get().decode("utf-8", "replace")) for e in started}
        unequal = sorted(c for c in collectors if ok["ours"].get(c) != ok["theirs"].get(c))
        if unequal:
            print("  !!! collectors succeeding in only one of ours and theirs: %s" % ", ".join(
                "%s (ours %s, theirs %s)" % (c, int(bool(ok["ours"].get(c))), int(bool(ok["theirs"].get(c))))
                for c in unequal))

        lat, cpu, body = scrape_loop(started, a.scrapes)
        rss1 = {e.name: e.rss_kib() for e in started}

        floor, traced = {}, {}
        if shutil.which("strace"):
            for e in started[:2]:  # ours and theirs
                traced[e.name] = traced_opens(e, work)
                floor[e.name] = read_floor(a.read_floor, traced[e.name][1], a.floor_passes, work, e.name)
        else:
            print("  !!! strace not found: no floor")
    finally:
        for e in started:
            e.stop()

    n = a.scrapes
    res = {}
    for e in started:
        ls = sorted(lat[e.name])
        res[e.name] = {
            "rss_start_mib": mib(rss0[e.name]),
            "rss_after_mib": mib(rss1[e.name]),
            "cpu_ms_per_scrape": cpu[e.name] * 1000.0 / n,
            "p50_ms": percentile(ls, 0.50) * 1000.0,
            "p99_ms": percentile(ls, 0.99) * 1000.0,
            "response_bytes": len(body[e.name]),
            "binary_mib": os.path.getsize(binaries[e.name][0]) / 1048576.0,
        }
    others = [e.name for e in started[1:]]

    def ratio(k, other):
        t = res[other][k]
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
    hdr = "%-28s %10s" % ("", "ours") + "".join(" %10s" % o for o in others) + \
        "".join(" %12s" % ("ours/" + o) for o in others) + "   target (vs theirs)"
    print(hdr)
    print("-" * len(hdr))
    for label, k, target in rows:
        rs = [ratio(k, o) for o in others]
        tgt = "<= %.2f  %s" % (target, verdict(rs[0], target)) if target else ""
        print("%-28s %10s" % (label, fmt(res["ours"][k])) + "".join(" %10s" % fmt(res[o][k]) for o in others) +
              "".join(" %12s" % ("-" if r is None else "%.3f" % r) for r in rs) + "   " + tgt)
    out = {"collectors": collectors, "results": res}
    if floor:
        ft = float(floor["theirs"]["cpu_ms_per_pass"])
        fo = float(floor["ours"]["cpu_ms_per_pass"])
        print()
        print("  floor (read_floor, %d passes of the files one scrape opens): theirs' files %s ms (%d distinct), ours' %s ms (%d distinct)"
              % (a.floor_passes, fmt(ft), len(traced["theirs"][1]), fmt(fo), len(traced["ours"][1])))
        co = res["ours"]["cpu_ms_per_scrape"]
        ro = co / ft if ft else None
        print("  CPU/floor: ours %s (target <= %.2f  %s)%s" % (
            "-" if ro is None else "%.2f" % ro, TARGET_CPU_FLOOR, verdict(ro, TARGET_CPU_FLOOR),
            "".join(", %s %.2f" % (o, res[o]["cpu_ms_per_scrape"] / ft) for o in others if ft)))
        out["floor"] = {"theirs_ms": ft, "ours_files_ms": fo, "ours_over_floor": ro}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", required=True, help="our release binary")
    ap.add_argument("--theirs", required=True, help="node_exporter (1.12.1)")
    ap.add_argument("--theirs-old", help="a second node_exporter beside it (Debian's 1.5.0)")
    ap.add_argument("--read-floor", required=True, help="the read_floor example binary")
    ap.add_argument("--scrapes", type=int, default=1000)
    ap.add_argument("--floor-passes", type=int, default=1000)
    ap.add_argument("--collectors", help="comma-separated list instead of the two rounds (defaults, all)")
    ap.add_argument("--rounds", default="default,all", help="default, all, or both (default,all)")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds between start and the first RSS reading")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()

    bins = [a.ours, a.theirs, a.read_floor] + ([a.theirs_old] if a.theirs_old else [])
    for b in bins:
        if not os.access(b, os.X_OK):
            sys.exit("bench: %s is not an executable" % b)

    work = tempfile.mkdtemp(prefix="bench-node.")
    binaries = {"ours": (a.ours, help_collectors(a.ours)), "theirs": (a.theirs, help_collectors(a.theirs))}
    names = {"ours": "ours", "theirs": "node_exporter " + version(a.theirs)}
    if a.theirs_old:
        binaries["old"] = (a.theirs_old, help_collectors(a.theirs_old))
        names["old"] = "node_exporter " + version(a.theirs_old)
    print("node-exporter benchmark, %s, %d CPUs, kernel %s" % (
        time.strftime("%Y-%m-%d %H:%M:%S"), os.cpu_count(), os.uname().release))
    print("columns: " + ", ".join("%s = %s (%s)" % (k, names[k], binaries[k][0]) for k in binaries))
    print("CPU is utime+stime of the whole process over %d scrapes (clock ticks of %.0f ms), per scrape;"
          % (a.scrapes, 1000.0 / CLK_TCK))
    print("latency is request to last byte over one keep-alive connection, uncompressed.")
    out = {"scrapes": a.scrapes, "binaries": names, "rounds": {}}
    try:
        if a.collectors:
            rounds = [("given collectors", sorted(c for c in a.collectors.split(",") if c))]
        else:
            both = binaries["ours"][1] & binaries["theirs"][1]
            rounds = []
            if "default" in a.rounds:
                d_ours = default_collectors("ours", a.ours, work)
                d_theirs = default_collectors("theirs", a.theirs, work)
                rounds.append(("default collectors (on by default in both)", sorted(set(d_ours) & set(d_theirs))))
                left = sorted(set(d_ours) ^ set(d_theirs))
                if left:
                    print("left out of the default round (default in only one of them): %s" % ",".join(left))
            if "all" in a.rounds:
                rounds.append(("every collector ours and theirs both know, all enabled", sorted(both)))
        for title, collectors in rounds:
            out["rounds"][title] = run_round(a, title, collectors, binaries, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, subprocess.CalledProcessError) as err:
        sys.exit("bench: %s" % err)
