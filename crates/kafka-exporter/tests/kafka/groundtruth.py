"""Ground truth from the broker, and what the exporter must show for it.

Every call to the cluster runs clients.py in a child process with a timeout (see its docstring
for why). `expected_samples(state)` turns one `state()` into the series the exporter must
serve, family by family, as kafka_exporter 1.9 defines them plus this exporter's documented
differences (lag never negative, -1 left out of the sums).
"""

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "clients.py")

# The families compared in full with the broker's view (scraped == expected, no more, no less).
# kafka_up, kafka_exporter_* and the lag-in-seconds families have no broker-side truth and are
# checked on their own.
COMPARED = (
    "kafka_brokers",
    "kafka_broker_info",
    "kafka_topic_partitions",
    "kafka_topic_partition_current_offset",
    "kafka_topic_partition_oldest_offset",
    "kafka_topic_partition_leader",
    "kafka_topic_partition_replicas",
    "kafka_topic_partition_in_sync_replica",
    "kafka_topic_partition_leader_is_preferred",
    "kafka_topic_partition_under_replicated_partition",
    "kafka_consumergroup_current_offset",
    "kafka_consumergroup_current_offset_sum",
    "kafka_consumergroup_lag",
    "kafka_consumergroup_lag_sum",
    "kafka_consumergroup_members",
    "kafka_consumergroup_state",
)


class ClientError(AssertionError):
    """A clients.py call failed or timed out. An AssertionError, so that wait_until retries
    it while the cluster is settling."""


def run_client(cmd, bootstrap, *args, conf=None, timeout=30):
    argv = [sys.executable, CLIENTS, cmd, bootstrap, *[str(a) for a in args]]
    if conf:
        argv += ["--conf", json.dumps(conf)]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ClientError("clients.py %s timed out after %s s" % (cmd, timeout)) from None
    if r.returncode != 0:
        raise ClientError("clients.py %s exited %d: %s" % (cmd, r.returncode,
                                                           (r.stderr or r.stdout).strip()[-1500:]))
    return json.loads(r.stdout.strip().splitlines()[-1])


def state(bootstrap, conf=None, timeout=30):
    """The whole cluster as the broker reports it (see clients.cluster_state); partition and
    broker keys turned back into ints."""
    s = run_client("state", bootstrap, conf=conf, timeout=timeout)
    s["brokers"] = {int(k): v for k, v in s["brokers"].items()}
    s["topics"] = {t: {int(p): info for p, info in parts.items()}
                   for t, parts in s["topics"].items()}
    for g in s["groups"].values():
        if g["committed"] is not None:
            g["committed"] = {t: {int(p): o for p, o in parts.items()}
                              for t, parts in g["committed"].items()}
        g["assigned"] = [tuple(x) for x in g["assigned"]]
    return s


def nodes(bootstrap, conf=None, timeout=15):
    """(node ids DescribeCluster lists, broker ids Metadata lists)."""
    s = run_client("nodes", bootstrap, conf=conf, timeout=timeout)
    return s["cluster_nodes"], sorted(int(b) for b in s["brokers"])


def produce(bootstrap, topic, counts, compression="none", conf=None, timeout=60):
    """counts: {partition: records}."""
    return run_client("produce", bootstrap, topic, json.dumps({str(p): n for p, n in counts.items()}),
                      "--compression", compression, conf=conf, timeout=timeout)


def commit(bootstrap, group, offsets, conf=None):
    """offsets: [(topic, partition, offset)], committed for `group` by the admin API (the group
    must have no members)."""
    # The first commit of a cluster creates __consumer_offsets (50 partitions): NOT_COORDINATOR,
    # COORDINATOR_LOAD_IN_PROGRESS or a timeout for a while. Committing again is harmless.
    deadline = time.monotonic() + 90
    while True:
        try:
            return run_client("commit", bootstrap, group, json.dumps(offsets), conf=conf)
        except ClientError as e:
            if ("COORDINATOR" not in str(e) and "TIMED_OUT" not in str(e)) \
                    or time.monotonic() > deadline:
                raise
            time.sleep(1)


def create_topic(bootstrap, topic, partitions, rf=1, config=None, conf=None):
    return run_client("create", bootstrap, topic, partitions, rf, "--config",
                      json.dumps(config or {}), conf=conf)


def delete_topic(bootstrap, topic, conf=None):
    return run_client("delete", bootstrap, topic, conf=conf)


def delete_records(bootstrap, offsets, conf=None):
    return run_client("delete-records", bootstrap, json.dumps(offsets), conf=conf)


def elect_preferred(bootstrap, conf=None):
    return run_client("elect-preferred", bootstrap, conf=conf)


class Member:
    """A live consumer-group member in a child process (clients.py consume)."""

    def __init__(self, bootstrap, group, topics, log_path, protocol="classic", conf=None):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        argv = [sys.executable, CLIENTS, "consume", bootstrap, group, ",".join(topics),
                "--protocol", protocol]
        if conf:
            argv += ["--conf", json.dumps(conf)]
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def expected_samples(s, show_all=True):
    """{(name, frozenset(labels)): value} of every COMPARED family for state `s`.

    show_all (--offset.show-all, the default): a group's offsets on every partition of each
    existing topic it committed to (-1 where it did not); otherwise only on the partitions
    assigned to its members. Either way a topic where every one of those is -1 is left out,
    as upstream does."""
    out = {}

    def put(name, value, **labels):
        key = (name, frozenset(labels.items()))
        assert key not in out, key
        out[key] = float(value)

    put("kafka_brokers", len(s["brokers"]))
    for bid, addr in s["brokers"].items():
        put("kafka_broker_info", 1, id=str(bid), address=addr)
    for topic, parts in s["topics"].items():
        put("kafka_topic_partitions", len(parts), topic=topic)
        for p, info in parts.items():
            labels = {"topic": topic, "partition": str(p)}
            if info["high"] is not None:
                put("kafka_topic_partition_current_offset", info["high"], **labels)
            if info["low"] is not None:
                put("kafka_topic_partition_oldest_offset", info["low"], **labels)
            if info["leader"] >= 0:
                put("kafka_topic_partition_leader", info["leader"], **labels)
            put("kafka_topic_partition_replicas", len(info["replicas"]), **labels)
            put("kafka_topic_partition_in_sync_replica", len(info["isr"]), **labels)
            preferred = info["leader"] >= 0 and info["replicas"][:1] == [info["leader"]]
            put("kafka_topic_partition_leader_is_preferred", int(preferred), **labels)
            put("kafka_topic_partition_under_replicated_partition",
                int(len(info["isr"]) < len(info["replicas"])), **labels)

    for group, g in s["groups"].items():
        put("kafka_consumergroup_members", g["members"], consumergroup=group)
        put("kafka_consumergroup_state", 1, consumergroup=group, state=g["state"])
        committed = g["committed"] or {}
        if show_all:
            wanted = [(t, p) for t in committed if t in s["topics"] for p in s["topics"][t]]
        else:
            wanted = [(t, p) for t, p in g["assigned"] if t in s["topics"]]
        by_topic = {}
        for t, p in sorted(set(wanted)):
            by_topic.setdefault(t, []).append((p, committed.get(t, {}).get(p, -1)))
        for topic, offsets in by_topic.items():
            if all(c < 0 for _, c in offsets):
                continue
            offset_sum = lag_sum = 0
            for p, c in offsets:
                labels = {"consumergroup": group, "topic": topic, "partition": str(p)}
                put("kafka_consumergroup_current_offset", c, **labels)
                high = s["topics"][topic][p]["high"]
                if c >= 0:
                    offset_sum += c
                if high is not None:
                    lag = max(0, high - c) if c >= 0 else -1
                    if c >= 0:
                        lag_sum += lag
                    put("kafka_consumergroup_lag", lag, **labels)
            put("kafka_consumergroup_current_offset_sum", offset_sum, consumergroup=group,
                topic=topic)
            put("kafka_consumergroup_lag_sum", lag_sum, consumergroup=group, topic=topic)
    return out


def compared(samples):
    """The COMPARED families of a parsed scrape."""
    return {k: v for k, v in samples.items() if k[0] in COMPARED}


def show(key):
    name, labels = key
    return "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in sorted(labels)))


def diff(expected, got, limit=25):
    """'' when equal, else the differences, one series a line (at most `limit` of them)."""
    lines = []
    for k in sorted(set(expected) | set(got), key=show):
        e, g = expected.get(k), got.get(k)
        if e == g:
            continue
        if g is None:
            lines.append("missing  %s (broker: %g)" % (show(k), e))
        elif e is None:
            lines.append("extra    %s %g" % (show(k), g))
        else:
            lines.append("wrong    %s %g (broker: %g)" % (show(k), g, e))
    more = len(lines) - limit
    lines = lines[:limit] + (["... and %d more" % more] if more > 0 else [])
    return "\n".join(lines)


def settled(s, groups=()):
    """Raises AssertionError unless `s` is a quiet cluster: every node listed, every partition
    led and fully in sync with its watermarks read, and each group in `groups` Stable with
    everything committed on the partitions assigned to it."""
    assert not s["errors"], "broker answered with errors: %s" % s["errors"][:3]
    for topic, parts in s["topics"].items():
        for p, info in parts.items():
            assert info["leader"] >= 0, "%s[%d] has no leader" % (topic, p)
            assert sorted(info["isr"]) == sorted(info["replicas"]), \
                "%s[%d] isr %s of %s" % (topic, p, info["isr"], info["replicas"])
            assert info["high"] is not None and info["low"] is not None, \
                "%s[%d] watermarks unread" % (topic, p)
    for group in groups:
        caught_up(s, group)


def caught_up(s, group):
    g = s["groups"].get(group)
    assert g is not None, "group %s not listed" % group
    assert g["state"] == "Stable", "group %s is %s" % (group, g["state"])
    assert g["assigned"], "group %s has no assignment yet" % group
    assert g["committed"] is not None, "offsets of group %s unread" % group
    for t, p in g["assigned"]:
        c = g["committed"].get(t, {}).get(p)
        assert c == s["topics"][t][p]["high"], "group %s at %s on %s[%d] of %s" % (
            group, c, t, p, s["topics"][t][p]["high"])
