"""kafka-exporter's acceptance tests against real Apache Kafka (KRaft), run by
scripts/test-kafka.sh (`make test-kafka`).

The exporter under test is the binary named by KAFKA_EXPORTER; the clusters come from
scripts/kafka/cluster.py (one per test module, on free loopback ports). Here: free ports, the
exporter process (its output in a log file per test), scraping and parsing the exposition, and
waiting for a condition. Ground truth always comes from the broker (groundtruth.py).
"""

import gzip
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "kafka"))
sys.path.insert(0, HERE)

from cluster import Cluster  # noqa: E402

# --refresh.metadata of every exporter under test, in seconds.
REFRESH = 1.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------ the exposition

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_ESCAPES = {"n": "\n", "\\": "\\", '"': '"'}


def parse_exposition(text):
    """The text format as {(name, frozenset(labels.items())): value}. A malformed line or a
    series given twice is an AssertionError."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _NAME.match(line)
        assert m, "malformed line %r" % line
        name, i = m.group(0), m.end()
        labels = {}
        if line[i:i + 1] == "{":
            i += 1
            while line[i] != "}":
                eq = line.index("=", i)
                key = line[i:eq].strip()
                assert line[eq + 1] == '"', "malformed labels in %r" % line
                i = eq + 2
                value = []
                while line[i] != '"':
                    if line[i] == "\\":
                        value.append(_ESCAPES.get(line[i + 1], line[i + 1]))
                        i += 2
                    else:
                        value.append(line[i])
                        i += 1
                labels[key] = "".join(value)
                i += 1
                if line[i] == ",":
                    i += 1
            i += 1
        fields = line[i:].split()
        assert fields, "no value in %r" % line
        key = (name, frozenset(labels.items()))
        assert key not in out, "series given twice: %r" % line
        out[key] = float(fields[0])
    return out


def series(samples, name, **labels):
    """The value of one series, or None."""
    return samples.get((name, frozenset(labels.items())))


def family(samples, name):
    """{frozenset(labels): value} of one family."""
    return {labels: v for (n, labels), v in samples.items() if n == name}


# ------------------------------------------------------------------------------ timings

_REPORT = []


def report(line):
    """A line for the end of the run (the timings the brief asks to print), shown whether the
    test passes or not."""
    _REPORT.append(line)


def pytest_terminal_summary(terminalreporter):
    if _REPORT:
        terminalreporter.section("kafka-exporter timings")
        for line in _REPORT:
            terminalreporter.write_line(line)


# ------------------------------------------------------------------------------ waiting


def wait_until(check, timeout, interval=0.5):
    """Calls check() until it returns without an AssertionError, and returns its value; after
    `timeout` seconds re-raises the last AssertionError, saying how long it waited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError as e:
            if time.monotonic() >= deadline:
                raise AssertionError("after %.1f s: %s" % (timeout, e)) from None
        time.sleep(interval)


# ------------------------------------------------------------------------------ the exporter


class ExporterExited(Exception):
    """The exporter under test is gone: a failure no waiting can mend."""


class Scrape:
    def __init__(self, text, seconds, status):
        self.text = text
        self.seconds = seconds
        self.status = status
        self.samples = parse_exposition(text)


class Exporter:
    """kafka-exporter on a free 127.0.0.1 port, refreshing every REFRESH seconds, with stdout
    and stderr in `log_path`. `env` adds to the environment."""

    def __init__(self, binary, servers, args, log_path, env=None):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = log_path
        # A .py stand-in (reference_exporter.py) runs on this interpreter, for its packages.
        runner = [sys.executable] if binary.endswith(".py") else []
        argv = [*runner, binary, *["--kafka.server=%s" % s for s in servers],
                "--refresh.metadata=%gs" % REFRESH,
                "--web.listen-address=127.0.0.1:%d" % self.port, *args]
        self.argv = argv
        with open(log_path, "ab") as log:
            # The command line heads the log, its password masked: the tests look for the
            # password in everything the exporter writes, and this line is ours.
            shown = [re.sub(r"^(--sasl\.password=).+", r"\1<masked>", a) for a in argv]
            log.write(("$ %s\n" % " ".join(shown)).encode())
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         env={**os.environ, **(env or {})})

    def alive(self):
        return self.proc.poll() is None

    def assert_alive(self):
        """Raises ExporterExited (which wait_until does not retry) if the process is gone."""
        code = self.proc.poll()
        if code is not None:
            raise ExporterExited("kafka-exporter exited with %s%s; its log:\n%s" % (
                code, " (signal %d)" % -code if code < 0 else "", self.log_tail()))

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_tail(self, lines=30):
        return "".join(self.log().splitlines(keepends=True)[-lines:])

    def get(self, path="/metrics", timeout=5.0, gzipped=False):
        """(status, body text, seconds)."""
        req = urllib.request.Request(self.url + path)
        if gzipped:
            req.add_header("Accept-Encoding", "gzip")
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                body = r.read()
                status = r.status
                if r.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
        except urllib.error.HTTPError as e:
            body, status = e.read(), e.code
        return status, body.decode("utf-8", "replace"), time.monotonic() - t0

    def everything_served(self):
        """All the exporter says, where a secret must never show: its log (not the harness's
        "$ argv" line at its top) and every page it serves, plain and gzipped."""
        out = [l for l in self.log().splitlines() if not l.startswith("$ ")]
        for path in ("/metrics", "/", "/healthz"):
            for gzipped in (False, True):
                out.append(self.get(path, gzipped=gzipped)[1])
        return "\n".join(out)

    def scrape(self, timeout=5.0):
        """The parsed /metrics (an AssertionError if it is not 200)."""
        self.assert_alive()
        try:
            status, text, seconds = self.get(timeout=timeout)
        except OSError as e:
            raise AssertionError("scrape failed: %s" % e) from None
        assert status == 200, "scrape answered %d: %s" % (status, text[:200])
        return Scrape(text, seconds, status)

    def wait_collected(self, timeout=30):
        """Waits for a first collection that reached the cluster (kafka_up 1); returns it."""
        def up():
            s = self.scrape()
            assert series(s.samples, "kafka_up") == 1, "kafka_up is %s" % series(s.samples, "kafka_up")
            return s
        return wait_until(up, timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def exporter_binary():
    path = os.environ.get("KAFKA_EXPORTER")
    if not path:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
        path = os.path.join(target, "debug", "kafka-exporter")
    if not os.access(path, os.X_OK):
        pytest.exit("kafka-exporter binary %s not found: set KAFKA_EXPORTER or run "
                    "scripts/test-kafka.sh" % path, returncode=2)
    return path


@pytest.fixture
def start_exporter(exporter_binary, tmp_path, request):
    """start_exporter(servers, *args, env=None) -> Exporter; every one is stopped after the
    test, and on failure the tail of each log is printed."""
    started = []

    def start(servers, *args, env=None):
        if isinstance(servers, str):
            servers = servers.split(",")
        log = tmp_path / ("exporter-%d.log" % len(started))
        e = Exporter(exporter_binary, servers, list(args), str(log), env=env)
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        for e in started:
            sys.stderr.write("--- %s (exit %s)\n%s\n" % (e.log_path, e.proc.returncode,
                                                       e.log_tail(40)))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether the test itself failed (to print the exporter's log).
    rep = (yield).get_result()
    setattr(item, "rep_" + rep.when, rep)


def open_cluster(tmp_path_factory, nodes, **kw):
    """A started cluster.py Cluster in a pytest temporary directory (closed by the caller)."""
    workdir = str(tmp_path_factory.mktemp("kafka-%dnode" % nodes))
    c = Cluster(nodes=nodes, workdir=workdir, heap_mb=kw.pop("heap_mb", 384), **kw)
    try:
        c.start(timeout=120)
    except BaseException:
        c.close()
        raise
    return c
