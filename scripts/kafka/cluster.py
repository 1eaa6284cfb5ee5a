#!/usr/bin/env python3
"""A throwaway Apache Kafka cluster on 127.0.0.1 for tests, `make e2e`, `make run` and the
benchmark: N combined broker+controller KRaft nodes, each a JVM of its own (no shell between:
`kill -9 <pid>` kills the broker), each in its own directory, on free loopback ports.

As a module (standard library only; tests add scripts/kafka to sys.path):

    from cluster import Cluster
    with Cluster(nodes=3) as c:          # or c = Cluster(...); c.start(); ...; c.close()
        c.start(timeout=90)
        c.bootstrap                      # "127.0.0.1:p0,127.0.0.1:p1,127.0.0.1:p2" (PLAINTEXT)
        c.node_port(1), c.pid(1)         # node ids are 0-based indexes
        c.kill9(1); c.restart(1)         # restart: same directories and ports, waits until ready
        c.stop(2); c.alive(2)            # stop: SIGTERM (controlled shutdown), then waits
        c.java_tool("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", c.bootstrap,
                    "--list")            # -> subprocess.CompletedProcess (text)

Options: scram_users={"alice": "secret"} adds a SASL_PLAINTEXT listener (SCRAM-SHA-256 and
SCRAM-SHA-512, the users created at format time) at c.sasl_bootstrap; tls=True adds an SSL
listener at c.tls_bootstrap with a CA and a server certificate made at start (c.ca_file), and a
client certificate signed by the same CA (c.client_cert, c.client_key) for mutual TLS (the
listener asks for a client certificate but does not require one). oauth={"jwks_url": URL} adds a
SASL_PLAINTEXT listener named OAUTH at c.oauth_bootstrap whose only mechanism is OAUTHBEARER,
checked by Kafka's own JWT validator (OAuthBearerValidatorCallbackHandler) against that JWKS
(served before start(): the broker reads it at startup; the URL is also passed in the JVM
property Kafka 4 wants, org.apache.kafka.sasl.oauthbearer.allowed.urls); optional keys
"audience" and "issuer" make it check those claims too. gssapi={"keytab": PATH, "principal":
"kafka/localhost@REALM", "krb5_conf": PATH} adds a SASL_PLAINTEXT listener named GSSAPI at
c.gssapi_bootstrap whose only mechanism is GSSAPI (Kerberos, service name "kafka"), with the
broker's key from that keytab (Krb5LoginModule) and the KDC that krb5_conf names; it binds
127.0.0.1 and advertises the host of the principal ("localhost"), the host a client's service
principal is made from. Inter-broker and controller
traffic stays PLAINTEXT. ports=[p0, ...] fixes the PLAINTEXT ports; advertised_ports=[a0, ...]
makes node i advertise 127.0.0.1:a_i instead (a proxy in front of it). overrides={...} adds or
replaces broker properties. fast_start=False runs the JVMs with the optimising (C2) JIT compiler
too: slower to start, faster under load (the benchmark).

Partition data lives on tmpfs (/dev/shm) when there is one: creating thousands of partitions is
much faster there (KAFKA_CLUSTER_DATA_ROOT names another parent, "" keeps it in the node dirs).
Each node's log is <workdir>/node-<i>/logs/server.log (c.log_path(i), c.log_tail(i)), the JVM's
own output beside it in jvm.out; KAFKA_CLUSTER_KEEP=1 keeps the directories at close. The nodes
are killed if the thread that started them dies (PR_SET_PDEATHSIG): start them from the main
thread, or one that outlives them.

The new consumer group protocol (KIP-848, group.protocol=consumer) is on, as by default in
Kafka 4 (group.version 1 at format time).

"Ready" is checked over the Kafka protocol itself: each node answers an ApiVersions request on
its PLAINTEXT port, and a Metadata request shows every node of the cluster.

As a command:

    python3 scripts/kafka/cluster.py --nodes 1 --port 9092 [--heap-mb 512] [--workdir DIR]

starts the cluster, prints its bootstrap on stdout, and runs until SIGTERM or SIGINT, then stops
the nodes and exits.

The jars come from scripts/install-kafka.sh (run here once per process; instant once
installed); KAFKA_VERSION picks the version, as there.
"""

import argparse
import atexit
import base64
import ctypes
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
INSTALL = os.path.join(REPO, "scripts", "install-kafka.sh")
LOG4J_NODE = os.path.join(HERE, "log4j2.yaml")
LOG4J_TOOLS = os.path.join(HERE, "tools-log4j2.yaml")

SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
# Short-lived tool JVMs: the quick (C1) compiler only and the serial collector start sooner.
TOOL_JVM = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")

_libs_lock = threading.Lock()
_libs = None


def kafka_libs():
    """The directory of Kafka's jars: scripts/install-kafka.sh's answer (it installs once)."""
    global _libs
    with _libs_lock:
        if _libs is None:
            r = subprocess.run([INSTALL, "--quiet"], stdout=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise RuntimeError("scripts/install-kafka.sh failed (exit %d)" % r.returncode)
            _libs = r.stdout.strip().splitlines()[-1]
        return _libs


def kafka_version():
    """The version of the installed jars (the name of the directory above libs/)."""
    return os.path.basename(os.path.dirname(kafka_libs()))


def java_binary():
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    found = shutil.which("java")
    if not found:
        raise RuntimeError("java not found (scripts/install-kafka.sh installs a JRE)")
    return found


def free_ports(n):
    """n distinct free loopback ports (held together, so that they differ, then released)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


_libc = None


def _die_with_parent():
    """preexec_fn: the JVM is killed if the process (thread) that started it dies, even by
    SIGKILL, so that no broker outlives a test run."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgid(0, 0)  # a terminal's Ctrl-C reaches only us, and we stop the nodes in order


def _data_root():
    """Where the nodes' partition data goes: a fresh directory on tmpfs (/dev/shm) when there is
    one, else None (then each node directory holds its data). The broker fsyncs a new log's
    directory and metadata file; on a disk that made creating 1,000 partitions take 15 s, on
    tmpfs 4 s. KAFKA_CLUSTER_DATA_ROOT names another parent directory ("" turns this off)."""
    parent = os.environ.get("KAFKA_CLUSTER_DATA_ROOT", "/dev/shm")
    if not parent or not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        return None
    return tempfile.mkdtemp(prefix="kafka-cluster-data.", dir=parent)


# --------------------------------------------------------------------------- Kafka protocol probes
# Hand-built frames, just enough to tell that a node serves requests: request header v1
# (api_key, api_version, correlation_id, client_id), response header v0 (correlation_id).


def _request(api_key, version, corr, body):
    client = b"cluster.py"
    header = struct.pack(">hhih", api_key, version, corr, len(client)) + client
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def _read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


def _call(port, api_key, version, body, timeout=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        corr = 7
        s.sendall(_request(api_key, version, corr, body))
        size, = struct.unpack(">i", _read_exact(s, 4))
        if size < 4 or size > 64 << 20:
            raise OSError("bad response size %d" % size)
        data = _read_exact(s, size)
        got, = struct.unpack(">i", data[:4])
        if got != corr:
            raise OSError("correlation id %d, want %d" % (got, corr))
        return data[4:]


def api_versions_ok(port, timeout=2.0):
    """True if the node on `port` answers ApiVersions v0 with error 0 (or 35, a version it does
    not speak: it still served the request)."""
    try:
        body = _call(port, 18, 0, b"", timeout)
    except (OSError, struct.error):
        return False
    err, = struct.unpack(">h", body[:2])
    return err in (0, 35)


def metadata_brokers(port, timeout=2.0):
    """The broker ids that node `port` lists in a Metadata v4 response (no topics asked), or
    None if it does not answer."""
    try:
        # topics: an empty array (not null: null means all topics); allow_auto_topic_creation false
        body = _call(port, 3, 4, struct.pack(">i?", 0, False), timeout)
    except (OSError, struct.error):
        return None
    try:
        pos = 4  # throttle_time_ms
        n, = struct.unpack_from(">i", body, pos)
        pos += 4
        ids = []
        for _ in range(n):
            node_id, = struct.unpack_from(">i", body, pos)
            pos += 4
            hlen, = struct.unpack_from(">h", body, pos)
            pos += 2 + hlen + 4  # host, port
            rlen, = struct.unpack_from(">h", body, pos)
            pos += 2 + max(rlen, 0)  # rack (nullable)
            ids.append(node_id)
        return sorted(ids)
    except struct.error:
        return None


# --------------------------------------------------------------------------- certificates


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.strip()[-500:]))


def make_certificates(d):
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all PEM,
    keys in PKCS#8 without a password (Kafka's PEM key store wants PKCS#8)."""
    if not shutil.which("openssl"):
        raise RuntimeError("openssl not found: tls=True needs the openssl command")
    os.makedirs(d, exist_ok=True)
    days = "2"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", days, "-subj", "/CN=cluster.py test CA", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext + "\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".rsa.key",
                 "-out", name + ".csr", "-subj", "/CN=%s" % ("localhost" if name == "server" else "client"),
                 cwd=d)
        _openssl("pkcs8", "-topk8", "-nocrypt", "-in", name + ".rsa.key", "-out", name + ".key", cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", name + ".pem", "-days", days, "-extfile", name + ".ext",
                 cwd=d)
    # The server's PEM key store: its key, then its certificate chain.
    with open(os.path.join(d, "server-keystore.pem"), "w") as out:
        for part in ("server.key", "server.pem"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())
    return {"ca": os.path.join(d, "ca.pem"), "keystore": os.path.join(d, "server-keystore.pem"),
            "client_cert": os.path.join(d, "client.pem"), "client_key": os.path.join(d, "client.key")}


# --------------------------------------------------------------------------- the cluster


class Cluster:
    def __init__(self, nodes=1, workdir=None, heap_mb=512, scram_users=None, tls=False, ports=None,
                 advertised_ports=None, overrides=None, fast_start=True, oauth=None, gssapi=None):
        if nodes < 1:
            raise ValueError("nodes must be at least 1")
        if heap_mb > 512 or heap_mb < 64:
            raise ValueError("heap_mb must be within 64..512")
        for name, lst in (("ports", ports), ("advertised_ports", advertised_ports)):
            if lst is not None and len(lst) != nodes:
                raise ValueError("%s must name one port per node" % name)
        self.nodes = nodes
        self.heap_mb = heap_mb
        self.scram_users = dict(scram_users or {})
        self.tls = tls
        self.oauth = dict(oauth or {})
        if self.oauth and not self.oauth.get("jwks_url"):
            raise ValueError("oauth needs a jwks_url")
        self.gssapi = dict(gssapi or {})
        if self.gssapi and not all(self.gssapi.get(k) for k in ("keytab", "principal", "krb5_conf")):
            raise ValueError("gssapi needs keytab, principal and krb5_conf")
        self.overrides = dict(overrides or {})
        self.fast_start = fast_start
        self._fixed_ports = list(ports) if ports else None
        self._advertised = list(advertised_ports) if advertised_ports else None
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="kafka-cluster.")
        os.makedirs(self.workdir, exist_ok=True)
        self._data_root = _data_root()
        self._procs = [None] * nodes
        self._ports = None  # per node: {"plain", "controller", "sasl", "ssl", "oauth", "gssapi"}
        self._certs = None
        self._closed = False
        self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        atexit.register(self.close)

    # ----------------------------------------------------------------- addresses

    def _bootstrap(self, kind):
        if self._ports is None:
            raise RuntimeError("the cluster is not started")
        return ",".join("127.0.0.1:%d" % p[kind] for p in self._ports)

    @property
    def bootstrap(self):
        return self._bootstrap("plain")

    @property
    def sasl_bootstrap(self):
        if not self.scram_users:
            raise RuntimeError("no SASL listener: pass scram_users")
        return self._bootstrap("sasl")

    @property
    def tls_bootstrap(self):
        if not self.tls:
            raise RuntimeError("no SSL listener: pass tls=True")
        return self._bootstrap("ssl")

    @property
    def oauth_bootstrap(self):
        if not self.oauth:
            raise RuntimeError("no OAUTHBEARER listener: pass oauth")
        return self._bootstrap("oauth")

    @property
    def gssapi_bootstrap(self):
        if not self.gssapi:
            raise RuntimeError("no GSSAPI listener: pass gssapi")
        host = self._gssapi_host()
        return ",".join("%s:%d" % (host, p["gssapi"]) for p in self._ports)

    def _gssapi_host(self):
        # kafka/localhost@REALM -> localhost
        return self.gssapi["principal"].split("@")[0].split("/")[-1]

    @property
    def ca_file(self):
        return self._certs["ca"] if self._certs else None

    @property
    def client_cert(self):
        return self._certs["client_cert"] if self._certs else None

    @property
    def client_key(self):
        return self._certs["client_key"] if self._certs else None

    def node_port(self, i):
        return self._ports[i]["plain"]

    def node_dir(self, i):
        return os.path.join(self.workdir, "node-%d" % i)

    def data_dir(self, i):
        """Node i's log.dirs: on tmpfs when there is one (see _data_root), else in its node dir."""
        if self._data_root:
            return os.path.join(self._data_root, "node-%d" % i)
        return os.path.join(self.node_dir(i), "data")

    def log_path(self, i):
        return os.path.join(self.node_dir(i), "logs", "server.log")

    def log_tail(self, i, lines=30):
        out = []
        for path in (self.log_path(i), os.path.join(self.node_dir(i), "jvm.out")):
            try:
                with open(path, errors="replace") as f:
                    tail = f.readlines()[-lines:]
            except OSError:
                continue
            if tail:
                out.append("--- %s\n%s" % (path, "".join(tail)))
        return "\n".join(out)

    def pid(self, i):
        p = self._procs[i]
        return p.pid if p else None

    def alive(self, i):
        p = self._procs[i]
        return p is not None and p.poll() is None

    # ----------------------------------------------------------------- configuration

    def _properties(self, i):
        n = self.nodes
        p = self._ports[i]
        listeners = ["PLAINTEXT://127.0.0.1:%d" % p["plain"], "CONTROLLER://127.0.0.1:%d" % p["controller"]]
        advertised = ["PLAINTEXT://127.0.0.1:%d" % (self._advertised[i] if self._advertised else p["plain"])]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        if self.scram_users:
            listeners.append("SASL_PLAINTEXT://127.0.0.1:%d" % p["sasl"])
            advertised.append("SASL_PLAINTEXT://127.0.0.1:%d" % p["sasl"])
            protocols.append("SASL_PLAINTEXT:SASL_PLAINTEXT")
        if self.tls:
            listeners.append("SSL://127.0.0.1:%d" % p["ssl"])
            advertised.append("SSL://127.0.0.1:%d" % p["ssl"])
            protocols.append("SSL:SSL")
        if self.oauth:
            listeners.append("OAUTH://127.0.0.1:%d" % p["oauth"])
            advertised.append("OAUTH://127.0.0.1:%d" % p["oauth"])
            protocols.append("OAUTH:SASL_PLAINTEXT")
        if self.gssapi:
            listeners.append("GSSAPI://127.0.0.1:%d" % p["gssapi"])
            advertised.append("GSSAPI://%s:%d" % (self._gssapi_host(), p["gssapi"]))
            protocols.append("GSSAPI:SASL_PLAINTEXT")
        voters = ",".join("%d@127.0.0.1:%d" % (j, self._ports[j]["controller"]) for j in range(n))
        d = self.node_dir(i)
        props = {
            "process.roles": "broker,controller",
            "node.id": str(i),
            "controller.quorum.voters": voters,
            "listeners": ",".join(listeners),
            "advertised.listeners": ",".join(advertised),
            "listener.security.protocol.map": ",".join(protocols),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": self.data_dir(i),
            # Small and fast: one partition by default, internal topics replicated at most 3
            # ways, no rebalance delay, fewer threads than a production broker.
            "num.partitions": "1",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": str(min(3, n)),
            "transaction.state.log.replication.factor": str(min(3, n)),
            "transaction.state.log.min.isr": str(min(2, n)),
            "share.coordinator.state.topic.replication.factor": str(min(3, n)),
            "share.coordinator.state.topic.min.isr": str(min(2, n)),
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": str(16 << 20),
            # A 3-node quorum elects and unfences its brokers sooner; a killed node is fenced
            # after 3 s rather than 9, and a node restarted after kill -9 waits that long for
            # its old registration to expire.
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
            "controller.quorum.election.timeout.ms": "500",
            "controller.quorum.fetch.timeout.ms": "1000",
            "controller.quorum.election.backoff.max.ms": "500",
            # Offsets of short test runs: keep the defaults' semantics but check often.
            "offsets.retention.check.interval.ms": "60000",
        }
        if self.scram_users:
            props["sasl.enabled.mechanisms"] = ",".join(SCRAM_MECHANISMS)
            for mech in SCRAM_MECHANISMS:
                props["listener.name.sasl_plaintext.%s.sasl.jaas.config" % mech.lower()] = \
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        if self.tls:
            props.update({
                "listener.name.ssl.ssl.keystore.type": "PEM",
                "listener.name.ssl.ssl.keystore.location": self._certs["keystore"],
                "listener.name.ssl.ssl.truststore.type": "PEM",
                "listener.name.ssl.ssl.truststore.location": self._certs["ca"],
                "listener.name.ssl.ssl.client.auth": "requested",
            })
        if self.oauth:
            pre = "listener.name.oauth."
            props.update({
                pre + "sasl.enabled.mechanisms": "OAUTHBEARER",
                pre + "oauthbearer.sasl.jaas.config":
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
                pre + "oauthbearer.sasl.server.callback.handler.class":
                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
                "sasl.oauthbearer.jwks.endpoint.url": self.oauth["jwks_url"],
            })
            if self.oauth.get("audience"):
                props["sasl.oauthbearer.expected.audience"] = self.oauth["audience"]
            if self.oauth.get("issuer"):
                props["sasl.oauthbearer.expected.issuer"] = self.oauth["issuer"]
        if self.gssapi:
            pre = "listener.name.gssapi."
            props.update({
                pre + "sasl.enabled.mechanisms": "GSSAPI",
                pre + "gssapi.sasl.jaas.config":
                    'com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true '
                    'storeKey=true isInitiator=false keyTab="%s" principal="%s";'
                    % (self.gssapi["keytab"], self.gssapi["principal"]),
                "sasl.kerberos.service.name": "kafka",
            })
        props.update({k: str(v) for k, v in self.overrides.items()})
        return props

    def _write_properties(self, i):
        d = self.node_dir(i)
        os.makedirs(os.path.join(d, "logs"), exist_ok=True)
        path = os.path.join(d, "server.properties")
        with open(path, "w") as f:
            for k, v in self._properties(i).items():
                # Properties-file escaping for the few characters our values may carry.
                v = v.replace("\\", "\\\\").replace("\n", "\\n")
                f.write("%s=%s\n" % (k, v))
        return path

    def _java(self, main_class, log4j, jvm_opts=()):
        libs = kafka_libs()
        return [java_binary(), *jvm_opts, "-Djava.awt.headless=true",
                "-Dlog4j2.configurationFile=" + log4j, "-cp", os.path.join(libs, "*"), main_class]

    def _format_all(self):
        """kafka.tools.StorageTool format on every node at once (a JVM each: in parallel, the
        wall time of one)."""
        procs = []
        for i in range(self.nodes):
            args = ["format", "--config", self._write_properties(i), "--cluster-id", self.cluster_id,
                    "--ignore-formatted"]
            for user, password in self.scram_users.items():
                for mech in SCRAM_MECHANISMS:
                    args += ["--add-scram", "%s=[name=%s,password=%s]" % (mech, user, password)]
            procs.append(subprocess.Popen(self._java("kafka.tools.StorageTool", LOG4J_TOOLS, TOOL_JVM) + args,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, text=True))
        failed = []
        for i, p in enumerate(procs):
            try:
                out, _ = p.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            if p.returncode != 0:
                # The arguments carry the SCRAM passwords: report the tool's output only.
                failed.append("node %d: %s" % (i, out.strip()[-2000:]))
        if failed:
            raise RuntimeError("formatting failed: " + "; ".join(failed))

    def _spawn(self, i):
        d = self.node_dir(i)
        props = os.path.join(d, "server.properties")
        opts = ["-Xmx%dm" % self.heap_mb, "-Xms%dm" % self.heap_mb, "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20", "-Dkafka.logs.dir=" + os.path.join(d, "logs")]
        if self.fast_start:
            # Only the quick (C1) JIT compiler: on 2 cores, C2 compiling the broker's startup
            # paths competes with the startup itself (measured: 1 node 9 s -> 3 s, 3 nodes
            # 22 s -> 7 s). Hot paths run slower, so the benchmark turns it off.
            opts.append("-XX:TieredStopAtLevel=1")
        if self.oauth:
            # Kafka 4 fetches no OAuth URL that this property does not list.
            opts.append("-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=" + self.oauth["jwks_url"])
        if self.gssapi:
            opts.append("-Djava.security.krb5.conf=" + self.gssapi["krb5_conf"])
        argv = self._java("kafka.Kafka", LOG4J_NODE, opts) + [props]
        out = open(os.path.join(d, "jvm.out"), "ab")
        try:
            self._procs[i] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                              stderr=subprocess.STDOUT, cwd=d,
                                              preexec_fn=_die_with_parent)
        finally:
            out.close()

    # ----------------------------------------------------------------- lifecycle

    def start(self, timeout=90):
        """Formats each node's storage, starts every node, and waits until each answers
        ApiVersions and Metadata lists the whole cluster. Raises RuntimeError (with the logs'
        tails) if that does not happen within `timeout` seconds."""
        if self._closed:
            raise RuntimeError("the cluster is closed")
        if self._ports is not None:
            raise RuntimeError("the cluster is already started")
        deadline = time.monotonic() + timeout
        if self.tls:
            self._certs = make_certificates(os.path.join(self.workdir, "tls"))
        # Free ports are chosen before the JVMs bind them: another process may take one in
        # between; then (and only with ports we chose) start over on new ports, once.
        attempts = 1 if self._fixed_ports else 2
        for attempt in range(attempts):
            self._choose_ports()
            for i in range(self.nodes):
                shutil.rmtree(self.data_dir(i), ignore_errors=True)
            self._format_all()
            for i in range(self.nodes):
                self._spawn(i)
            try:
                self._wait_ready(range(self.nodes), deadline)
                return self
            except RuntimeError:
                bind_failed = any("Address already in use" in self.log_tail(i, 200)
                                  for i in range(self.nodes))
                if attempt + 1 < attempts and bind_failed:
                    for i in range(self.nodes):
                        self._kill(i)
                    continue
                for i in range(self.nodes):
                    self._kill(i)
                raise

    def _choose_ports(self):
        kinds = (["controller"] + (["sasl"] if self.scram_users else []) + (["ssl"] if self.tls else [])
                 + (["oauth"] if self.oauth else []) + (["gssapi"] if self.gssapi else []))
        fresh = free_ports(self.nodes * (len(kinds) + (0 if self._fixed_ports else 1)))
        self._ports = []
        for i in range(self.nodes):
            p = {"plain": self._fixed_ports[i] if self._fixed_ports else fresh.pop()}
            for k in kinds:
                p[k] = fresh.pop()
            self._ports.append(p)

    def _wait_ready(self, which, deadline):
        """Waits until each node of `which` answers ApiVersions and its Metadata lists every
        node whose JVM runs (after a kill9 of another node, that one is not waited for)."""
        pending = set(which)
        while True:
            want = {j for j in range(self.nodes) if self.alive(j)}
            for i in sorted(pending):
                if not self.alive(i):
                    raise RuntimeError("kafka node %d exited (%s) while starting\n%s" % (
                        i, self._procs[i].returncode, self.log_tail(i)))
                if api_versions_ok(self.node_port(i)) and want <= set(metadata_brokers(self.node_port(i)) or ()):
                    pending.discard(i)
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise RuntimeError("kafka nodes %s not ready in time\n%s" % (
                    sorted(pending), "\n".join(self.log_tail(i) for i in sorted(pending))))
            time.sleep(0.2)

    def wait_ready(self, timeout=60):
        """Waits until every running node answers and lists every running node (after a
        restart of several nodes, say)."""
        self._wait_ready([i for i in range(self.nodes) if self.alive(i)], time.monotonic() + timeout)

    def kill9(self, i):
        """SIGKILL to node i's JVM; returns once it is gone."""
        self._kill(i)

    def _kill(self, i):
        p = self._procs[i]
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()

    def stop(self, i, timeout=30):
        """SIGTERM (a controlled shutdown), waits up to `timeout` s, then SIGKILL."""
        p = self._procs[i]
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def restart(self, i, timeout=60):
        """Starts node i again on the same directory and ports (stopping it first if it runs)
        and waits until it answers and lists every running node."""
        self.stop(i)
        self._spawn(i)
        self._wait_ready([i], time.monotonic() + timeout)

    def java_tool(self, main_class, *args, timeout=120, input=None):
        """Runs a Kafka command-line class (e.g. org.apache.kafka.tools.TopicCommand) on the
        cluster's classpath; returns the CompletedProcess (text, stdout and stderr captured)."""
        return subprocess.run(self._java(main_class, LOG4J_TOOLS, TOOL_JVM) + list(args),
                              capture_output=True, text=True, timeout=timeout, input=input)

    def close(self):
        """Kills every node and removes the directories this object made (unless
        KAFKA_CLUSTER_KEEP=1). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._unregister()
        for i in range(self.nodes):
            try:
                self._kill(i)
            except OSError:
                pass
        if os.environ.get("KAFKA_CLUSTER_KEEP") == "1":
            print("cluster.py: kept %s" % " and ".join(filter(None, [self.workdir, self._data_root])),
                  file=sys.stderr)
            return
        if self._data_root:
            shutil.rmtree(self._data_root, ignore_errors=True)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            for i in range(self.nodes):
                shutil.rmtree(self.node_dir(i), ignore_errors=True)
            shutil.rmtree(os.path.join(self.workdir, "tls"), ignore_errors=True)

    def _unregister(self):
        try:
            atexit.unregister(self.close)
        except Exception:  # noqa: BLE001 -- interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# --------------------------------------------------------------------------- command line


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Runs an Apache Kafka cluster on 127.0.0.1 until SIGTERM or SIGINT; prints its "
                    "bootstrap servers on stdout once it is ready.")
    ap.add_argument("--nodes", type=int, default=1, choices=(1, 2, 3, 4, 5))
    ap.add_argument("--port", type=int, action="append",
                    help="the PLAINTEXT port of a node (repeat once per node; default: free ports)")
    ap.add_argument("--advertised-port", type=int, action="append",
                    help="the port node i advertises instead (a proxy in front of it; once per node)")
    ap.add_argument("--heap-mb", type=int, default=512)
    ap.add_argument("--workdir", help="where the node directories go (default: a temporary one)")
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a broker property (repeatable)")
    ap.add_argument("--full-jit", action="store_true",
                    help="the optimising JIT compiler too (fast_start=False): slower start, faster under load")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:
        sys.exit(64 if e.code else 0)
    overrides = {}
    for kv in a.set:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            print("cluster.py: --set wants KEY=VALUE, got %r" % kv, file=sys.stderr)
            return 64
        overrides[k] = v
    try:
        c = Cluster(nodes=a.nodes, workdir=a.workdir, heap_mb=a.heap_mb, ports=a.port,
                    advertised_ports=a.advertised_port, overrides=overrides,
                    fast_start=not a.full_jit)
    except ValueError as e:
        print("cluster.py: %s" % e, file=sys.stderr)
        return 64

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        t0 = time.monotonic()
        c.start(timeout=a.timeout)
        print(c.bootstrap, flush=True)
        print("cluster.py: %d node(s) ready in %.1f s; pids %s; logs under %s" % (
            a.nodes, time.monotonic() - t0, " ".join(str(c.pid(i)) for i in range(a.nodes)),
            c.workdir), file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            dead = [i for i in range(a.nodes) if not c.alive(i)]
            if dead:
                print("cluster.py: node(s) %s exited\n%s" % (dead, c.log_tail(dead[0])),
                      file=sys.stderr)
                return 1
        for i in reversed(range(a.nodes)):
            c.stop(i, timeout=15)
        return 0
    except RuntimeError as e:
        print("cluster.py: %s" % e, file=sys.stderr)
        return 1
    finally:
        c.close()


if __name__ == "__main__":
    sys.exit(main())
