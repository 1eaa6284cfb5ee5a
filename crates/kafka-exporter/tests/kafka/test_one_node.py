"""One Apache Kafka node at rest: every family, with exact values, against the broker's own view.

The module's cluster is set up once by a known sequence (`world`): records produced many per
batch (one topic gzip-compressed), records deleted from the head of two partitions, a classic
group with two live members, a group on the new consumer protocol (KIP-848) with two live
members, an empty group, a group that committed only some partitions, and a group on a topic
that a test deletes. Each test starts its own exporter and compares what it serves with a
fresh `groundtruth.state()`.
"""

import time

import pytest

import groundtruth as gt
from conftest import REFRESH, family, open_cluster, report, series, wait_until

ORDERS = {0: 1200, 1: 800, 2: 500, 3: 50}
GZ = {0: 2000, 1: 1500, 2: 1000}
EXTRA = {0: 30, 1: 20}
DOOMED = {0: 10, 1: 10}
IDLE = {0: 600, 1: 400, 2: 250, 3: 25}
PARTIAL = {0: 1000, 2: 999}
DELETED_TO = {("orders", 0): 200, ("extra", 1): 5}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = open_cluster(tmp_path_factory, 1)
    yield c
    c.close()


@pytest.fixture(scope="module")
def world(cluster, tmp_path_factory):
    """The known sequence; yields the bootstrap once both live groups have caught up."""
    b = cluster.bootstrap
    gt.create_topic(b, "orders", 4)
    gt.create_topic(b, "gz", 3, config={"compression.type": "gzip"})
    gt.create_topic(b, "extra", 2)
    gt.create_topic(b, "doomed", 2)
    gt.produce(b, "orders", ORDERS)
    gt.produce(b, "gz", GZ, compression="gzip")
    gt.produce(b, "extra", EXTRA)
    gt.produce(b, "doomed", DOOMED)
    gt.delete_records(b, [[t, p, o] for (t, p), o in DELETED_TO.items()])
    # Committed before `live` has members: offsets on a topic its members are not assigned.
    gt.commit(b, "live", [["extra", 0, 10]])
    gt.commit(b, "idle", [["orders", p, o] for p, o in IDLE.items()])
    gt.commit(b, "partial", [["gz", p, o] for p, o in PARTIAL.items()])
    gt.commit(b, "gone", [["doomed", 0, 4], ["doomed", 1, 10]])
    logs = tmp_path_factory.mktemp("members")
    members = [gt.Member(b, "live", ["orders"], str(logs / ("live-%d.log" % i))) for i in range(2)]
    members += [gt.Member(b, "modern", ["gz"], str(logs / ("modern-%d.log" % i)), protocol="consumer")
                for i in range(2)]
    try:
        def ready():
            s = gt.state(b)
            gt.settled(s, groups=("live", "modern"))
            for g in ("live", "modern"):
                assert s["groups"][g]["members"] == 2, "%s has %d members" % (g, s["groups"][g]["members"])
            return s
        wait_until(ready, 90, interval=1)
        yield b
    finally:
        for m in members:
            m.stop()


def assert_matches(exporter, bootstrap, show_all=True, only_group=None, but_group=None):
    """One scrape equals the broker's state in every compared family (the consumer-group
    series of `only_group` alone, or of every group but `but_group`); returns (scrape, state)."""
    s = gt.state(bootstrap)
    assert not s["errors"], s["errors"]
    scrape = exporter.scrape()
    assert series(scrape.samples, "kafka_up") == 1

    def keep(key):
        group = dict(key[1]).get("consumergroup")
        if only_group is not None:
            return group == only_group
        return group is None or group != but_group

    want = {k: v for k, v in gt.expected_samples(s, show_all=show_all).items() if keep(k)}
    got = {k: v for k, v in gt.compared(scrape.samples).items() if keep(k)}
    d = gt.diff(want, got)
    assert not d, "exporter differs from the broker:\n" + d
    return scrape, s


def test_the_known_sequence_is_what_the_broker_reports(world):
    """The broker itself confirms the sequence, so that the comparisons below mean something."""
    s = gt.state(world)
    for topic, counts in (("orders", ORDERS), ("gz", GZ), ("extra", EXTRA)):
        assert {p: i["high"] for p, i in s["topics"][topic].items()} == counts
    assert s["topics"]["orders"][0]["low"] == 200
    assert s["topics"]["extra"][1]["low"] == 5
    assert s["groups"]["idle"]["committed"] == {"orders": IDLE}
    assert s["groups"]["idle"]["members"] == 0
    assert s["groups"]["partial"]["committed"] == {"gz": PARTIAL}
    assert s["groups"]["live"]["committed"]["extra"] == {0: 10}
    assert s["groups"]["modern"]["type"] == "CONSUMER", s["groups"]["modern"]
    assert s["groups"]["live"]["type"] == "CLASSIC", s["groups"]["live"]


def test_every_family_equals_the_broker(world, start_exporter, cluster):
    e = start_exporter(world)
    e.wait_collected()
    # The KIP-848 group has a test of its own, below.
    scrape, s = wait_until(lambda: assert_matches(e, world, but_group="modern"), 20)
    m = scrape.samples

    # The same, spelled out for the cases the brief names.
    assert series(m, "kafka_brokers") == 1
    assert series(m, "kafka_broker_info", id="0", address="127.0.0.1:%d" % cluster.node_port(0)) == 1
    assert series(m, "kafka_topic_partitions", topic="gz") == 3
    for p, n in GZ.items():
        assert series(m, "kafka_topic_partition_current_offset", topic="gz", partition=str(p)) == n
        assert series(m, "kafka_topic_partition_oldest_offset", topic="gz", partition=str(p)) == 0
    assert series(m, "kafka_topic_partition_oldest_offset", topic="orders", partition="0") == 200
    assert series(m, "kafka_topic_partition_oldest_offset", topic="extra", partition="1") == 5
    for name, want in (("leader", 0), ("replicas", 1), ("in_sync_replica", 1),
                       ("leader_is_preferred", 1), ("under_replicated_partition", 0)):
        assert series(m, "kafka_topic_partition_" + name, topic="orders", partition="3") == want, name

    # Two live classic members, caught up: lag 0 on every partition of orders.
    assert series(m, "kafka_consumergroup_members", consumergroup="live") == 2
    assert series(m, "kafka_consumergroup_state", consumergroup="live", state="Stable") == 1
    for p, n in ORDERS.items():
        labels = dict(consumergroup="live", topic="orders", partition=str(p))
        assert series(m, "kafka_consumergroup_current_offset", **labels) == n
        assert series(m, "kafka_consumergroup_lag", **labels) == 0
    assert series(m, "kafka_consumergroup_current_offset_sum", consumergroup="live",
                  topic="orders") == sum(ORDERS.values())
    # Its offsets on a topic no member is assigned are still shown (--offset.show-all).
    assert series(m, "kafka_consumergroup_current_offset", consumergroup="live", topic="extra",
                  partition="0") == 10
    assert series(m, "kafka_consumergroup_current_offset", consumergroup="live", topic="extra",
                  partition="1") == -1

    # The empty group: committed, no members.
    assert series(m, "kafka_consumergroup_members", consumergroup="idle") == 0
    assert series(m, "kafka_consumergroup_state", consumergroup="idle", state="Empty") == 1
    for p, c in IDLE.items():
        assert series(m, "kafka_consumergroup_lag", consumergroup="idle", topic="orders",
                      partition=str(p)) == ORDERS[p] - c

    # Some partitions committed: -1 for the others, left out of the sums.
    assert series(m, "kafka_consumergroup_current_offset", consumergroup="partial", topic="gz",
                  partition="1") == -1
    assert series(m, "kafka_consumergroup_lag", consumergroup="partial", topic="gz",
                  partition="1") == -1
    assert series(m, "kafka_consumergroup_current_offset_sum", consumergroup="partial",
                  topic="gz") == sum(PARTIAL.values())
    assert series(m, "kafka_consumergroup_lag_sum", consumergroup="partial",
                  topic="gz") == sum(GZ[p] - c for p, c in PARTIAL.items())
    e.assert_alive()


@pytest.mark.parametrize("show_all", [True, False], ids=["show-all", "no-show-all"])
def test_group_on_the_new_consumer_protocol(world, start_exporter, show_all):
    """A KIP-848 group (group.protocol=consumer), which DescribeGroups does not describe:
    members, state and offsets as the broker reports them (ConsumerGroupDescribe)."""
    e = start_exporter(world, *([] if show_all else ["--no-offset.show-all"]))
    e.wait_collected()
    scrape, s = wait_until(
        lambda: assert_matches(e, world, show_all=show_all, only_group="modern"), 20)
    m = scrape.samples
    assert s["groups"]["modern"]["type"] == "CONSUMER"
    assert series(m, "kafka_consumergroup_members", consumergroup="modern") == 2
    assert series(m, "kafka_consumergroup_state", consumergroup="modern", state="Stable") == 1
    assert series(m, "kafka_consumergroup_lag_sum", consumergroup="modern", topic="gz") == 0
    assert series(m, "kafka_consumergroup_current_offset_sum", consumergroup="modern",
                  topic="gz") == sum(GZ.values())


def test_offsets_of_assigned_partitions_only(world, start_exporter):
    """--no-offset.show-all: a group's offsets only on the partitions assigned to its members."""
    e = start_exporter(world, "--no-offset.show-all")
    e.wait_collected()
    scrape, s = wait_until(
        lambda: assert_matches(e, world, show_all=False, but_group="modern"), 20)
    m = scrape.samples
    live = {(dict(l)["topic"], int(dict(l)["partition"]))
            for l in family(m, "kafka_consumergroup_current_offset")
            if dict(l)["consumergroup"] == "live"}
    assert live == set(s["groups"]["live"]["assigned"]) == {("orders", p) for p in ORDERS}
    assert series(m, "kafka_consumergroup_members", consumergroup="live") == 2
    # No members, nothing assigned: no offsets, but the group is still there.
    assert series(m, "kafka_consumergroup_members", consumergroup="idle") == 0
    assert not [l for l in family(m, "kafka_consumergroup_current_offset")
                if dict(l)["consumergroup"] in ("idle", "partial")]


def test_topic_created_and_deleted_between_collections(world, start_exporter):
    e = start_exporter(world)
    e.wait_collected()
    wait_until(lambda: assert_matches(e, world, but_group="modern"), 20)
    gt.create_topic(world, "fresh", 3)
    gt.produce(world, "fresh", {0: 7, 1: 0, 2: 3})
    gt.delete_topic(world, "doomed")
    t0 = time.monotonic()

    def changed():
        scrape, s = assert_matches(e, world, but_group="modern")
        assert "doomed" not in s["topics"] and "fresh" in s["topics"], "broker not there yet"
        return scrape

    m = wait_until(changed, 30).samples
    report("topic created and deleted: shown after %.1f s" % (time.monotonic() - t0))
    assert series(m, "kafka_topic_partitions", topic="fresh") == 3
    assert series(m, "kafka_topic_partition_current_offset", topic="fresh", partition="0") == 7
    assert not [k for k in m if dict(k[1]).get("topic") == "doomed"], "doomed still shown"
    e.assert_alive()


def test_lag_in_seconds(world, start_exporter):
    """A group that stops at the head while the head moves on: lag in seconds grows with the
    time since the head was at its committed offset; where lag is 0, so is lag in seconds."""
    gt.create_topic(world, "ticks", 1)
    gt.produce(world, "ticks", {0: 10})
    gt.commit(world, "slow", [["ticks", 0, 10]])
    e = start_exporter(world)
    e.wait_collected()
    time.sleep(3 * REFRESH)  # a history of watermarks at 10
    t1 = time.monotonic()
    gt.produce(world, "ticks", {0: 5})
    t2 = time.monotonic()

    def lagging():
        m = e.scrape().samples
        labels = dict(consumergroup="slow", topic="ticks", partition="0")
        assert series(m, "kafka_consumergroup_lag", **labels) == 5
        secs = series(m, "kafka_consumergroup_lag_seconds", **labels)
        assert secs is not None and secs > 2, "lag seconds %s" % secs
        return m, secs

    m, secs = wait_until(lagging, 20)
    now = time.monotonic()
    # The head was last seen at offset 10 by a collection between t1 - REFRESH and t2, and
    # the value was computed by a collection at most REFRESH before now.
    assert now - t2 - REFRESH - 1 <= secs <= now - t1 + REFRESH + 1, (secs, now - t1, now - t2)
    assert series(m, "kafka_consumergroup_max_lag_seconds", consumergroup="slow") == secs
    for labels, v in family(m, "kafka_consumergroup_lag_seconds").items():
        lag = m.get(("kafka_consumergroup_lag", labels))
        if lag == 0:
            assert v == 0, (labels, v)
