#!/usr/bin/env python3
"""Everything the tests ask of or do to the cluster, through confluent-kafka, always in a child
process of its own (run by kafka.py's functions with a timeout).

Why a child process: confluent-kafka bundles librdkafka, whose coordinator path has the very
bug these tests are about (after a group's coordinator is killed it may hang or abort the whole
process). A fresh client per call, in a process that may be killed, keeps pytest itself safe and
never reuses a client that saw the broker die.

    clients.py state     BOOTSTRAP [--conf JSON]   ground truth of the whole cluster, as JSON
    clients.py nodes     BOOTSTRAP                 only the nodes (DescribeCluster, Metadata)
    clients.py produce   BOOTSTRAP TOPIC COUNTS_JSON [--compression gzip]
    clients.py commit    BOOTSTRAP GROUP OFFSETS_JSON     (admin AlterConsumerGroupOffsets)
    clients.py create    BOOTSTRAP TOPIC PARTITIONS RF [--config JSON]
    clients.py delete    BOOTSTRAP TOPIC
    clients.py delete-records BOOTSTRAP OFFSETS_JSON
    clients.py elect-preferred BOOTSTRAP
    clients.py consume   BOOTSTRAP GROUP TOPIC[,TOPIC] [--protocol classic|consumer] [--max-seconds N]

Each one-shot command prints one JSON line on stdout and exits 0, or prints its error on
stderr and exits 1. `consume` runs until SIGTERM (or --max-seconds), committing what it reads.
"""

import argparse
import json
import signal
import sys
import time

from confluent_kafka import (Consumer, ConsumerGroupTopicPartitions, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

# Each request's own deadline, well inside the caller's timeout for the whole process: a request
# to a node that was just killed fails after this, and the caller looks again.
REQUEST_TIMEOUT = 5.0


def admin(bootstrap, conf):
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 3, **conf})


def kafka_state_name(state):
    """ConsumerGroupState.PREPARING_REBALANCE -> "PreparingRebalance", as Kafka spells it."""
    name = getattr(state, "name", str(state))
    return "".join(w.capitalize() for w in name.lower().split("_"))


def cluster_state(bootstrap, conf):
    """The cluster as the broker reports it. Partitions whose watermarks could not be read have
    low/high None; groups whose description or offsets failed are reported in "errors"."""
    a = admin(bootstrap, conf)
    errors = []
    desc = a.describe_cluster(request_timeout=REQUEST_TIMEOUT).result()
    md = a.list_topics(timeout=REQUEST_TIMEOUT)
    brokers = {str(b.id): "%s:%d" % (b.host, b.port) for b in md.brokers.values()}
    topics = {}
    specs = {}
    for t in md.topics.values():
        if t.error is not None:
            errors.append("topic %s: %s" % (t.topic, t.error))
            continue
        parts = {}
        for p in t.partitions.values():
            parts[str(p.id)] = {"leader": p.leader, "replicas": list(p.replicas),
                                "isr": list(p.isrs), "low": None, "high": None,
                                "error": str(p.error) if p.error is not None else None}
            specs[TopicPartition(t.topic, p.id)] = None
        topics[t.topic] = parts
    for which, spec in (("low", OffsetSpec.earliest()), ("high", OffsetSpec.latest())):
        if not specs:
            break
        futures = a.list_offsets({tp: spec for tp in specs}, request_timeout=REQUEST_TIMEOUT)
        for tp, f in futures.items():
            try:
                topics[tp.topic][str(tp.partition)][which] = f.result().offset
            except KafkaException as e:
                errors.append("%s offset %s[%d]: %s" % (which, tp.topic, tp.partition, e))

    groups = {}
    listed = a.list_consumer_groups(request_timeout=REQUEST_TIMEOUT).result()
    for e in listed.errors:
        errors.append("listing groups: %s" % e)
    ids = sorted(g.group_id for g in listed.valid)
    described = a.describe_consumer_groups(ids, request_timeout=REQUEST_TIMEOUT) if ids else {}
    for gid in ids:
        try:
            d = described[gid].result()
        except KafkaException as e:
            errors.append("describe %s: %s" % (gid, e))
            continue
        assigned = sorted([tp.topic, tp.partition] for m in d.members
                          for tp in (m.assignment.topic_partitions if m.assignment else []))
        gtype = getattr(d, "type", None)
        groups[gid] = {
            "state": kafka_state_name(d.state),
            "type": getattr(gtype, "name", str(gtype)),
            "members": len(d.members),
            "simple": d.is_simple_consumer_group,
            "coordinator": d.coordinator.id if d.coordinator is not None else None,
            "assigned": assigned,
            "committed": {},
        }
    for gid in groups:
        # librdkafka takes one group per ListConsumerGroupOffsets request.
        f = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(gid)],
                                          request_timeout=REQUEST_TIMEOUT)[gid]
        try:
            got = f.result()
        except KafkaException as e:
            errors.append("offsets of %s: %s" % (gid, e))
            groups[gid]["committed"] = None
            continue
        committed = {}
        for tp in got.topic_partitions:
            if tp.error is None and tp.offset >= 0:
                committed.setdefault(tp.topic, {})[str(tp.partition)] = tp.offset
        groups[gid]["committed"] = committed
    return {
        "cluster_nodes": sorted(n.id for n in desc.nodes),
        "brokers": brokers,
        "topics": topics,
        "groups": groups,
        "errors": errors,
    }


def nodes(bootstrap, conf):
    """Only who is in the cluster (DescribeCluster and Metadata): quick even while a node that
    was just killed still leads partitions, which state()'s ListOffsets would wait on."""
    a = admin(bootstrap, conf)
    desc = a.describe_cluster(request_timeout=REQUEST_TIMEOUT).result()
    md = a.list_topics(timeout=REQUEST_TIMEOUT)
    return {"cluster_nodes": sorted(n.id for n in desc.nodes),
            "brokers": {str(b.id): "%s:%d" % (b.host, b.port) for b in md.brokers.values()}}


def produce(bootstrap, conf, topic, counts, compression):
    """counts: {partition: n}. Many records per batch (linger), acks=all; exits 1 unless every
    record was acknowledged."""
    p = Producer({"bootstrap.servers": bootstrap, "log_level": 3, "linger.ms": 50,
                  "batch.num.messages": 10000, "acks": "all", "enable.idempotence": False,
                  "message.timeout.ms": 20000, "compression.type": compression, **conf})
    failed = []
    delivered = [0]

    def on_delivery(err, msg):
        if err is not None:
            failed.append(str(err))
        else:
            delivered[0] += 1

    total = 0
    for partition, n in counts.items():
        for i in range(n):
            payload = ("record %d of %s[%s] " % (i, topic, partition)).encode() * 4
            while True:
                try:
                    p.produce(topic, payload, key=str(i).encode(), partition=int(partition),
                              on_delivery=on_delivery)
                    break
                except BufferError:
                    p.poll(0.1)
            total += 1
        p.poll(0)
    left = p.flush(30)
    if failed or left or delivered[0] != total:
        raise RuntimeError("produced %d of %d (%d unflushed): %s" % (
            delivered[0], total, left, "; ".join(failed[:3])))
    return {"delivered": delivered[0]}


def commit(bootstrap, conf, group, offsets):
    tps = [TopicPartition(t, int(p), int(o)) for t, p, o in offsets]
    a = admin(bootstrap, conf)  # kept: the futures fail if the client is freed
    f = a.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, tps)], request_timeout=REQUEST_TIMEOUT)[group]
    got = f.result()
    bad = [str(tp.error) for tp in got.topic_partitions if tp.error is not None]
    if bad:
        raise RuntimeError("commit %s: %s" % (group, "; ".join(bad)))
    return {"committed": len(tps)}


def create(bootstrap, conf, topic, partitions, rf, config):
    a = admin(bootstrap, conf)
    f = a.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=rf, config=config)],
        request_timeout=REQUEST_TIMEOUT)[topic]
    f.result()
    return {"created": topic}


def delete(bootstrap, conf, topic):
    a = admin(bootstrap, conf)
    a.delete_topics([topic], request_timeout=REQUEST_TIMEOUT)[topic].result()
    return {"deleted": topic}


def delete_records(bootstrap, conf, offsets):
    tps = [TopicPartition(t, int(p), int(o)) for t, p, o in offsets]
    a = admin(bootstrap, conf)
    futures = a.delete_records(tps, request_timeout=REQUEST_TIMEOUT)
    return {"low": [[tp.topic, tp.partition, f.result().low_watermark]
                    for tp, f in futures.items()]}


def elect_preferred(bootstrap, conf):
    """Preferred leader election on every partition (Kafka checks only every 5 minutes on its
    own). ELECTION_NOT_NEEDED is success."""
    from confluent_kafka import ElectionType
    a = admin(bootstrap, conf)
    # (confluent-kafka 2.16's elect_leaders rejects keyword arguments: the default timeout.)
    got = a.elect_leaders(ElectionType.PREFERRED, None).result()
    bad = ["%s[%d]: %s" % (tp.topic, tp.partition, err) for tp, err in got.items()
           if err is not None and "ELECTION_NOT_NEEDED" not in str(err)]
    if bad:
        raise RuntimeError("preferred election: %s" % "; ".join(bad[:5]))
    return {"partitions": len(got)}


def consume(bootstrap, conf, group, topics, protocol, max_seconds):
    """A live group member: subscribes, reads everything, commits synchronously whenever it read
    something (and retries a commit that failed, e.g. while the coordinator moves). Prints its
    assignment on every change. Leaves the group on SIGTERM."""
    c = {"bootstrap.servers": bootstrap, "group.id": group, "log_level": 3,
         "enable.auto.commit": False, "auto.offset.reset": "earliest",
         "client.id": "kafka-exporter-test-%s" % group, **conf}
    if protocol == "consumer":
        c["group.protocol"] = "consumer"
    else:
        c["session.timeout.ms"] = 10000
        c["heartbeat.interval.ms"] = 1000
    consumer = Consumer(c)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    def on_assign(_, parts):
        print(json.dumps({"assigned": sorted([p.topic, p.partition] for p in parts)}), flush=True)

    consumer.subscribe(topics, on_assign=on_assign)
    deadline = time.monotonic() + max_seconds
    dirty = False
    last_try = 0.0
    while not stop and time.monotonic() < deadline:
        msgs = consumer.consume(num_messages=1000, timeout=0.5)
        if any(m.error() is None for m in msgs):
            dirty = True
        if dirty and time.monotonic() - last_try >= 0.5:
            last_try = time.monotonic()
            try:
                consumer.commit(asynchronous=False)
                dirty = False
            except KafkaException as e:
                # No offset to commit yet, a rebalance, or a coordinator that moved: next round.
                print(json.dumps({"commit_error": str(e)}), flush=True)
    consumer.close()
    return {"stopped": True}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("state", "nodes", "produce", "commit", "create", "delete", "delete-records",
                 "elect-preferred", "consume"):
        s = sub.add_parser(name)
        s.add_argument("bootstrap")
        s.add_argument("--conf", default="{}", help="extra librdkafka settings (JSON)")
        if name == "produce":
            s.add_argument("topic")
            s.add_argument("counts")
            s.add_argument("--compression", default="none")
        elif name == "commit":
            s.add_argument("group")
            s.add_argument("offsets")
        elif name == "create":
            s.add_argument("topic")
            s.add_argument("partitions", type=int)
            s.add_argument("rf", type=int)
            s.add_argument("--config", default="{}")
        elif name == "delete":
            s.add_argument("topic")
        elif name == "delete-records":
            s.add_argument("offsets")
        elif name == "consume":
            s.add_argument("group")
            s.add_argument("topics")
            s.add_argument("--protocol", choices=("classic", "consumer"), default="classic")
            s.add_argument("--max-seconds", type=float, default=1200)
    a = ap.parse_args(argv)
    conf = json.loads(a.conf)
    try:
        if a.cmd == "state":
            out = cluster_state(a.bootstrap, conf)
        elif a.cmd == "nodes":
            out = nodes(a.bootstrap, conf)
        elif a.cmd == "produce":
            out = produce(a.bootstrap, conf, a.topic, json.loads(a.counts), a.compression)
        elif a.cmd == "commit":
            out = commit(a.bootstrap, conf, a.group, json.loads(a.offsets))
        elif a.cmd == "create":
            out = create(a.bootstrap, conf, a.topic, a.partitions, a.rf, json.loads(a.config))
        elif a.cmd == "delete":
            out = delete(a.bootstrap, conf, a.topic)
        elif a.cmd == "delete-records":
            out = delete_records(a.bootstrap, conf, json.loads(a.offsets))
        elif a.cmd == "elect-preferred":
            out = elect_preferred(a.bootstrap, conf)
        else:
            out = consume(a.bootstrap, conf, a.group, a.topics.split(","), a.protocol,
                          a.max_seconds)
    except (KafkaException, RuntimeError) as e:
        print("clients.py %s: %s" % (a.cmd, e), file=sys.stderr)
        return 1
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
