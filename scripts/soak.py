#!/usr/bin/env python3
"""Soak run of the three daemons (`make soak`; not part of `make test`).

Starts node-exporter, kafka-exporter (against no broker: a port nobody listens on, so it serves
`kafka_up 0` and keeps retrying; a one-node Kafka is too heavy beside the other work on a
shared 2-core machine) and gateway-sidecar in front of a stub upstream, all with a web config
serving TLS. For SOAK_SECONDS (default 600) it then:

- scrapes each daemon over HTTPS a few times a second;
- sends proxy traffic with a random bearer token per request, on paths the stub answers 200,
  404 and 401, plus upgrade requests that are refused;
- sends the sidecar a SIGHUP every minute (it reloads its rules, whose session table is kept
  small so that it is full after the warm-up; node-exporter and
  kafka-exporter, like their Go originals, have no SIGHUP reload and are not sent one);
- rotates the TLS certificate and key every minute (the daemons pick up new files on the next
  handshake);
- prints the RSS and open file descriptors of each daemon every SAMPLE_SECONDS (10).

It fails (exit 1) when a daemon exits, a log line mentions a panic, or RSS or fd counts grow:
the last sample against the highest of the samples in the first third of the run (the warm-up),
beyond RSS_SLACK_KIB (8 MiB) + 10 %, or FD_SLACK (16) descriptors.
Everything listens on 127.0.0.1 and is stopped on exit, whatever happens.
"""

import http.client
import http.server
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

SOAK_SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
SAMPLE_SECONDS = int(os.environ.get("SAMPLE_SECONDS", "10"))
RSS_SLACK_KIB = int(os.environ.get("RSS_SLACK_KIB", str(8 * 1024)))
FD_SLACK = int(os.environ.get("FD_SLACK", "16"))
ROTATE_SECONDS = 60
TARGET = os.environ.get("SOAK_TARGET_DIR", "target/debug")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, within=30):
    end = time.time() + within
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"soak: nothing listening on port {port}")


def make_cert(work, n):
    cert, key = f"{work}/cert-{n}.pem", f"{work}/key-{n}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def install_cert(work, n):
    """Puts a new certificate and key in place, each by an atomic rename."""
    cert, key = make_cert(work, n)
    os.replace(key, f"{work}/server.key")
    os.replace(cert, f"{work}/server.pem")


class Stub(http.server.BaseHTTPRequestHandler):
    """The app behind the sidecar: 200, 404, or 401 for a token it 'rejects'."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/missing"):
            code, body = 404, b"not found"
        elif self.path.startswith("/users") and self.headers.get("authorization", "").endswith("0"):
            code, body = 401, b"no"
        else:
            code, body = 200, b'{"ok":true}'
        self.send_response(code)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *a):
        pass


def rss_fds(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (OSError, StopIteration):
        return None, None


def main():
    work = tempfile.mkdtemp(prefix="soak.")
    install_cert(work, 0)
    with open(f"{work}/web.yml", "w") as f:
        f.write("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n")
    # A small session table, so the random tokens the stub answers 200 (each one a session, by
    # design) fill it within the warm-up: past that, the sidecar's memory must stay flat.
    with open(f"{work}/rules.yml", "w") as f:
        f.write("sessions: {cookies: [refresh_token], idle_timeout: 30m, max_entries: 2000}\n"
                "rules:\n  - {methods: POST, path: /auth/login, auth: login}\n"
                "  - {path: /users/:id}\n  - {path: /users}\n")
    stub_port = free_port()
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", stub_port), Stub)
    stub.daemon_threads = True
    threading.Thread(target=stub.serve_forever, daemon=True).start()

    ports = {n: free_port() for n in ["node", "kafka", "sidecar", "proxy", "nobroker"]}
    web = f"--web.config.file={work}/web.yml"
    cmds = {
        "node-exporter": [f"{TARGET}/node-exporter", f"--web.listen-address=127.0.0.1:{ports['node']}", web],
        "kafka-exporter": [f"{TARGET}/kafka-exporter", f"--web.listen-address=127.0.0.1:{ports['kafka']}",
                           f"--kafka.server=127.0.0.1:{ports['nobroker']}", web],
        "gateway-sidecar": [f"{TARGET}/gateway-sidecar", f"--web.listen-address=127.0.0.1:{ports['sidecar']}",
                            f"--proxy.listen-address=127.0.0.1:{ports['proxy']}",
                            f"--upstream=http://127.0.0.1:{stub_port}", "--proxy.tunnel-idle-timeout=5s",
                            "--proxy.send-timeout=5s", f"--config.file={work}/rules.yml", web],
    }
    scrape_ports = {"node-exporter": ports["node"], "kafka-exporter": ports["kafka"],
                    "gateway-sidecar": ports["sidecar"]}
    procs, logs = {}, {}
    failures = []
    stop = threading.Event()
    try:
        for name, cmd in cmds.items():
            logs[name] = open(f"{work}/{name}.log", "w+")
            procs[name] = subprocess.Popen(cmd, stdout=logs[name], stderr=subprocess.STDOUT)
        for p in list(scrape_ports.values()) + [ports["proxy"]]:
            wait_port(p)

        counts = {"scrapes": 0, "scrape_errors": 0, "requests": 0, "request_errors": 0}
        lock = threading.Lock()

        def bump(k):
            with lock:
                counts[k] += 1

        def scraper():
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            while not stop.is_set():
                for name, port in scrape_ports.items():
                    try:
                        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
                        c.request("GET", "/metrics")
                        r = c.getresponse()
                        r.read()
                        c.close()
                        bump("scrapes" if r.status == 200 else "scrape_errors")
                    except (OSError, http.client.HTTPException):
                        bump("scrape_errors")
                stop.wait(0.3)

        def proxy_load(seed):
            rnd = random.Random(seed)
            c = None
            while not stop.is_set():
                try:
                    if c is None:
                        c = http.client.HTTPConnection("127.0.0.1", ports["proxy"], timeout=10)
                    path = rnd.choice(["/users/1", "/missing/x", "/auth/login", "/Auth/Login", "/users"])
                    headers = {"authorization": f"Bearer {rnd.getrandbits(64):x}"}
                    if rnd.random() < 0.05:
                        headers.update({"connection": "upgrade, host", "upgrade": "websocket"})
                    c.request(rnd.choice(["GET", "POST"]), path, body=b"x" if rnd.random() < 0.3 else None,
                              headers=headers)
                    r = c.getresponse()
                    r.read()
                    bump("requests")
                    if r.getheader("connection", "").lower() == "close":
                        c.close()
                        c = None
                except (OSError, http.client.HTTPException):
                    bump("request_errors")
                    c = None
                    stop.wait(0.05)

        threads = [threading.Thread(target=scraper, daemon=True)]
        threads += [threading.Thread(target=proxy_load, args=(i,), daemon=True) for i in range(4)]
        for t in threads:
            t.start()

        start = time.time()
        samples = []  # (t, {name: (rss, fds)})
        next_rotate = start + ROTATE_SECONDS
        rotation = 0
        header = "  t(s) " + " ".join(f"| {n:>15} rss KiB  fds" for n in procs)
        print(f"soak: {SOAK_SECONDS}s; kafka-exporter against no broker; logs in {work}")
        print(header)
        while time.time() - start < SOAK_SECONDS:
            time.sleep(min(SAMPLE_SECONDS, max(0.1, SOAK_SECONDS - (time.time() - start))))
            now = time.time()
            for name, p in procs.items():
                if p.poll() is not None:
                    failures.append(f"{name} exited with {p.returncode}")
            if failures:
                break
            if now >= next_rotate:
                rotation += 1
                install_cert(work, rotation)
                procs["gateway-sidecar"].send_signal(signal.SIGHUP)
                next_rotate += ROTATE_SECONDS
                print(f"  -- minute {rotation}: certificate rotated, SIGHUP sent to gateway-sidecar")
            row = {n: rss_fds(p.pid) for n, p in procs.items()}
            samples.append((now - start, row))
            print(f"{now - start:6.0f} " + " ".join(
                f"| {str(row[n][0]):>24} {str(row[n][1]):>4}" for n in procs), flush=True)
        stop.set()
        print(f"soak: {counts['scrapes']} scrapes ({counts['scrape_errors']} failed), "
              f"{counts['requests']} proxied requests ({counts['request_errors']} failed), "
              f"{rotation} rotations")

        for name, f in logs.items():
            f.flush()
            f.seek(0)
            text = f.read()
            if "panicked" in text:
                failures.append(f"{name} logged a panic")
        if len(samples) >= 3 and not failures:
            warm = samples[: max(1, len(samples) // 3)]
            last = samples[-1][1]
            for name in procs:
                rss0 = max(s[1][name][0] for s in warm)
                fd0 = max(s[1][name][1] for s in warm)
                rss1, fd1 = last[name]
                print(f"soak: {name}: rss {rss0} -> {rss1} KiB, fds {fd0} -> {fd1}")
                if rss1 > rss0 * 1.10 + RSS_SLACK_KIB:
                    failures.append(f"{name}: RSS grew from {rss0} to {rss1} KiB")
                if fd1 > fd0 + FD_SLACK:
                    failures.append(f"{name}: fds grew from {fd0} to {fd1}")
        if counts["scrapes"] == 0 or counts["requests"] == 0:
            failures.append("no traffic got through")
    finally:
        stop.set()
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        stub.shutdown()
    if failures:
        for f in failures:
            print(f"soak: FAIL: {f}")
        print(f"soak: logs kept in {work}")
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print("soak: ok")


if __name__ == "__main__":
    main()
