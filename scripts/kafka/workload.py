#!/usr/bin/env python3
"""A Kafka workload for the tests, the benchmark, the end-to-end run and `make run`, on
confluent-kafka (run it with the venv's python: scripts/install-pydeps.sh prints its path).

    workload.py [--brokers HOST:PORT] setup [--topics N] [--partitions P] [--messages M] [--groups G]
        creates N topics (bench-0000 ...) of P partitions (those that exist are kept), produces M
        records to each partition, and commits offsets for G groups (bench-group-0000 ...),
        group g on topic g % N, at M/2 on every partition of it, without joining the group (an
        offset commit by the admin client, as a tool would); prints one line of what it did and
        how long each part took, and exits
    workload.py [--brokers HOST:PORT] run [--topic T] [--partitions P] [--group G] [--rate R]
                [--behind B] [--group-protocol classic|consumer]
        creates T if needed, then until SIGTERM or SIGINT: produces R records per second
        round-robin over its partitions, and consumes them as a member of group G (subscribed:
        the group is Stable with one member), committing every second B records (spread over
        the partitions) short of what it read, so that the group shows a steady lag.
        --group-protocol consumer joins with the new consumer group protocol (KIP-848) instead
        of the classic one.

Defaults: --brokers 127.0.0.1:9092; setup 10 topics x 100 partitions, 4 records, 200 groups;
run orders, 3 partitions, billing, 10/s, 20 behind. A bad option prints the usage and exits 64.
"""

import signal
import sys
import threading
import time

try:
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover - a setup error, said in one line
    sys.exit("workload: confluent-kafka is missing; run it with the python that scripts/install-pydeps.sh prints")

USAGE = ("usage: workload.py [--brokers HOST:PORT] setup [--topics N] [--partitions P] [--messages M] [--groups G]\n"
         "       workload.py [--brokers HOST:PORT] run [--topic T] [--partitions P] [--group G] [--rate R] [--behind B]"
         " [--group-protocol classic|consumer]")

OPTIONS = {
    "setup": {"topics": 10, "partitions": 100, "messages": 4, "groups": 200},
    "run": {"topic": "orders", "partitions": 3, "group": "billing", "rate": 10, "behind": 20,
            "group-protocol": "classic"},
}


def usage(msg=None):
    if msg:
        print("workload: %s" % msg, file=sys.stderr)
    print(USAGE, file=sys.stderr)
    sys.exit(64)


def parse(argv):
    brokers, mode, opts = "127.0.0.1:9092", None, {}
    it = iter(argv)
    for a in it:
        if a == "--brokers":
            brokers = next(it, None) or usage("--brokers wants a value")
        elif a in OPTIONS and mode is None:
            mode = a
        elif a.startswith("--") and mode is not None and a[2:] in OPTIONS[mode]:
            v = next(it, None)
            if v is None:
                usage("%s wants a value" % a)
            default = OPTIONS[mode][a[2:]]
            if isinstance(default, int):
                try:
                    v = int(v)
                except ValueError:
                    usage("%s wants a number, got %r" % (a, v))
                if v < (0 if a in ("--messages", "--groups", "--behind") else 1):
                    usage("%s is too small: %d" % (a, v))
            opts[a[2:]] = v
        else:
            usage("unexpected %r" % a)
    if mode is None:
        usage()
    merged = dict(OPTIONS[mode])
    merged.update(opts)
    if mode == "run" and merged["group-protocol"] not in ("classic", "consumer"):
        usage("--group-protocol is classic or consumer")
    return brokers, mode, merged


def base_config(brokers):
    # log_level 3: errors only (librdkafka logs to stderr); the admin, producer and consumer of
    # one run each open their own connections.
    return {"bootstrap.servers": brokers, "log_level": 3}


def create_topics(brokers, names, partitions, timeout=120.0):
    """Creates the topics that do not exist yet, 100 per request; waits until metadata shows
    each with `partitions` partitions, every one with a leader."""
    admin = AdminClient(base_config(brokers))
    for i in range(0, len(names), 100):
        chunk = [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names[i:i + 100]]
        futures = admin.create_topics(chunk, operation_timeout=60, request_timeout=90)
        for name, f in futures.items():
            try:
                f.result()
            except KafkaException as e:
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise RuntimeError("creating %s: %s" % (name, e.args[0].str()))
    deadline = time.monotonic() + timeout
    want = set(names)
    while True:
        md = admin.list_topics(timeout=30)
        ready = {n for n in want if n in md.topics and md.topics[n].error is None
                 and len(md.topics[n].partitions) == partitions
                 and all(p.leader >= 0 for p in md.topics[n].partitions.values())}
        if ready == want:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("topics not in metadata after %.0f s: %d of %d ready"
                               % (timeout, len(ready), len(want)))
        time.sleep(0.2)


def producer(brokers):
    conf = base_config(brokers)
    # Batches of many records (a real broker counts records, not batches, in its offsets).
    conf.update({"linger.ms": 20, "queue.buffering.max.messages": 1000000,
                 "queue.buffering.max.kbytes": 1048576, "acks": "all"})
    return Producer(conf)


class Delivery:
    """Counts delivery failures; the first is kept for the error message."""

    def __init__(self):
        self.failed = 0
        self.first = None

    def __call__(self, err, msg):
        if err is not None:
            self.failed += 1
            if self.first is None:
                self.first = "%s/%s: %s" % (msg.topic(), msg.partition(), err.str())


def send(p, topic, partition, payload, on_delivery):
    while True:
        try:
            p.produce(topic, payload, partition=partition, on_delivery=on_delivery)
            return
        except BufferError:
            p.poll(0.05)  # queue full: let it drain


def setup(brokers, topics, partitions, messages, groups):
    start = time.monotonic()
    names = ["bench-%04d" % i for i in range(topics)]
    create_topics(brokers, names, partitions)
    created = time.monotonic()

    p = producer(brokers)
    delivery = Delivery()
    for name in names:
        for partition in range(partitions):
            for m in range(messages):
                send(p, name, partition, b"m%d" % m, delivery)
            p.poll(0)
    left = p.flush(300)
    if left or delivery.failed:
        raise RuntimeError("producing: %d undelivered, %d failed (first: %s)"
                           % (left, delivery.failed, delivery.first))
    produced = time.monotonic()

    # Commits without joining: the admin client's OffsetCommit for an empty group (one group
    # per call; the calls run concurrently).
    commit_groups(brokers, [("bench-group-%04d" % g,
                             [TopicPartition(names[g % topics], partition, messages // 2)
                              for partition in range(partitions)]) for g in range(groups)])
    print("workload: %d topics x %d partitions (%d in all), %d records each, %d groups committed; "
          "topics %.1fs, produce %.1fs, commits %.1fs"
          % (topics, partitions, topics * partitions, messages, groups, created - start,
             produced - created, time.monotonic() - produced), flush=True)


RETRIABLE = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
             KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.REQUEST_TIMED_OUT,
             KafkaError._TIMED_OUT, KafkaError._TRANSPORT}


def commit_groups(brokers, commits, window=64, rounds=20):
    """Commits each (group, [TopicPartition]) with the admin client, `window` calls in flight.
    The coordinator of a group may not be ready yet (the first commit creates
    __consumer_offsets, and the admin client does not retry NOT_COORDINATOR): such commits are
    sent again, for at most `rounds` rounds."""
    admin = AdminClient(base_config(brokers))
    todo = list(commits)
    for attempt in range(rounds):
        retry, last = [], None
        for i in range(0, len(todo), window):
            pending = [(g, tps, admin.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(g, tps)], request_timeout=60)[g])
                for g, tps in todo[i:i + window]]
            for g, tps, f in pending:
                err = None
                try:
                    res = f.result()
                    bad = [tp for tp in res.topic_partitions if tp.error is not None]
                    if bad:
                        err = bad[0].error
                except KafkaException as e:
                    err = e.args[0]
                if err is None:
                    continue
                if err.code() not in RETRIABLE and not err.retriable():
                    raise RuntimeError("committing for %s: %s" % (g, err.str()))
                retry.append((g, tps))
                last = "%s: %s" % (g, err.str())
        if not retry:
            return
        todo = retry
        time.sleep(min(0.2 * (attempt + 1), 2.0))
    raise RuntimeError("committing: %d groups still failing after %d rounds (last %s)"
                       % (len(todo), rounds, last))


def run(brokers, topic, partitions, group, rate, behind, protocol, stop):
    create_topics(brokers, [topic], partitions)
    p = producer(brokers)
    delivery = Delivery()
    conf = base_config(brokers)
    conf.update({"group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest",
                 "group.protocol": protocol})
    if protocol == "classic":
        conf["session.timeout.ms"] = 10000
    c = Consumer(conf)
    c.subscribe([topic])
    print("workload: producing %d/s to %s (%d partitions), consuming as %s (%s protocol)"
          % (rate, topic, partitions, group, protocol), file=sys.stderr, flush=True)
    hold = behind // partitions
    consumed = {}  # partition -> next offset to read
    sent = 0
    next_tick = time.monotonic()
    try:
        while not stop.is_set():
            for _ in range(rate):
                send(p, topic, sent % partitions, b"m%d" % sent, delivery)
                sent += 1
            p.flush(5)
            if delivery.failed:
                print("workload: produce: %d failed (first: %s)" % (delivery.failed, delivery.first),
                      file=sys.stderr, flush=True)
                delivery.failed, delivery.first = 0, None
            # Consume up to two seconds' worth: one second's, and as much again to catch up on
            # a backlog (the group's join at the start, a slow broker), so that the lag settles
            # at about `behind`.
            budget, until = 2 * rate, time.monotonic() + 0.5
            while budget > 0 and time.monotonic() < until:
                for m in c.consume(num_messages=budget, timeout=0.1):
                    if m.error():
                        print("workload: consume: %s" % m.error().str(), file=sys.stderr, flush=True)
                        continue
                    consumed[m.partition()] = m.offset() + 1
                    budget -= 1
            if consumed:
                # Commit `behind` records short of what was read, spread over the partitions.
                tps = [TopicPartition(topic, part, max(off - hold, 0)) for part, off in consumed.items()]
                try:
                    c.commit(offsets=tps, asynchronous=False)
                except KafkaException as e:
                    # e.g. a rebalance in progress, or the broker gone: the next tick retries.
                    print("workload: commit: %s" % e.args[0].str(), file=sys.stderr, flush=True)
            next_tick += 1.0
            stop.wait(max(next_tick - time.monotonic(), 0))
    finally:
        c.close()  # leaves the group at once rather than after its session timeout
        p.flush(5)


def main(argv):
    brokers, mode, o = parse(argv)
    stop = threading.Event()
    # SIGTERM: stop after the current tick, leaving the group cleanly.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        if mode == "setup":
            setup(brokers, o["topics"], o["partitions"], o["messages"], o["groups"])
        else:
            run(brokers, o["topic"], o["partitions"], o["group"], o["rate"], o["behind"],
                o["group-protocol"], stop)
    except (RuntimeError, KafkaException) as e:
        print("workload: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
