#!/usr/bin/env python3
"""A stand-in for kafka-exporter that serves the ground truth itself, to check this suite rather
than the exporter: that a collector that stays right after a broker dies passes every test
within its time limits. It is no model of how to collect (a fresh client in a child process per
collection) and has no lag in seconds, so test_lag_in_seconds fails against it.

    KAFKA_EXPORTER=crates/kafka-exporter/tests/kafka/reference_exporter.py \\
        ~/.cache/observability-venv/bin/python -m pytest crates/kafka-exporter/tests/kafka

Understands the flags the tests pass: --kafka.server, --refresh.metadata, --web.listen-address,
--no-offset.show-all, --sasl.*, --tls.* (SASL_USER_PASSWORD too); ignores any other.
"""

import gzip
import http.server
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import groundtruth as gt  # noqa: E402

MECHANISMS = {"scram-sha512": "SCRAM-SHA-512", "scram-sha256": "SCRAM-SHA-256", "plain": "PLAIN",
              "": "PLAIN"}


def parse(argv):
    flags = {"servers": [], "show_all": True, "refresh": 30.0, "listen": "127.0.0.1:9308"}
    opts = {}
    for a in argv:
        name, _, value = a.partition("=")
        if name == "--kafka.server":
            flags["servers"] += value.split(",")
        elif name == "--refresh.metadata":
            flags["refresh"] = float(value.rstrip("s"))
        elif name == "--web.listen-address":
            flags["listen"] = value
        elif name == "--no-offset.show-all":
            flags["show_all"] = False
        else:
            opts[name] = value
    conf = {}
    sasl = "--sasl.enabled" in opts
    tls = "--tls.enabled" in opts
    conf["security.protocol"] = {(False, False): "PLAINTEXT", (False, True): "SSL",
                                 (True, False): "SASL_PLAINTEXT", (True, True): "SASL_SSL"}[(sasl, tls)]
    if sasl:
        conf["sasl.mechanism"] = MECHANISMS[opts.get("--sasl.mechanism", "").lower()]
        conf["sasl.username"] = opts.get("--sasl.username", "")
        conf["sasl.password"] = opts.get("--sasl.password", os.environ.get("SASL_USER_PASSWORD", ""))
    for flag, key in (("--tls.ca-file", "ssl.ca.location"), ("--tls.cert-file", "ssl.certificate.location"),
                      ("--tls.key-file", "ssl.key.location")):
        if opts.get(flag):
            conf[key] = opts[flag]
    return flags, conf


def render(state, show_all, up, errors):
    lines = ["kafka_up %d" % up, "kafka_exporter_collection_errors_total %d" % errors]
    if state is not None:
        for (name, labels), value in sorted(gt.expected_samples(state, show_all).items(), key=str):
            inner = ",".join('%s="%s"' % kv for kv in sorted(labels))
            lines.append("%s{%s} %g" % (name, inner, value) if inner else "%s %g" % (name, value))
    return ("\n".join(lines) + "\n").encode()


def main():
    flags, conf = parse(sys.argv[1:])
    bootstrap = ",".join(flags["servers"])
    current = {"body": render(None, True, 0, 0)}

    def collect():
        state, errors = None, 0
        while True:
            t = time.monotonic()
            try:
                state = gt.state(bootstrap, conf=conf, timeout=max(5, 3 * flags["refresh"]))
                up = 1
            except AssertionError as e:
                up, errors = 0, errors + 1
                print("collection failed: %s" % str(e).splitlines()[-1][:300], file=sys.stderr,
                      flush=True)
            current["body"] = render(state, flags["show_all"], up, errors)
            time.sleep(max(0.0, flags["refresh"] - (time.monotonic() - t)))

    threading.Thread(target=collect, daemon=True).start()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = current["body"] if self.path == "/metrics" else b"reference exporter\n"
            self.send_response(200)
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                body = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    host, _, port = flags["listen"].rpartition(":")
    http.server.ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
