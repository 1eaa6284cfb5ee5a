//! End to end: the real binary against librdkafka's in-process mock cluster.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{dechunk, free_port, get, has, start_exporter as start, wait_for};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

#[test]
fn reports_offsets_and_lag_from_mock_cluster() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("orders", 2, 1).unwrap();
    let servers = cluster.bootstrap_servers();

    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .create()
        .unwrap();
    for (partition, n) in [(0, 5), (1, 3)] {
        for i in 0..n {
            let payload = format!("m{i}");
            producer
                .send(
                    BaseRecord::<(), _>::to("orders")
                        .partition(partition)
                        .payload(&payload),
                )
                .map_err(|(e, _)| e)
                .unwrap();
        }
    }
    producer.flush(Duration::from_secs(10)).unwrap();

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .set("group.id", "billing")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("orders", 0, Offset::Offset(3))
        .unwrap();
    consumer.commit(&tpl, CommitMode::Sync).unwrap();

    // The committed-offset path the collector uses for each group: the admin API on a client
    // without a group.id, one OffsetFetch.
    let plain: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .create()
        .unwrap();
    let got = kafka_exporter::admin::list_group_offsets(
        &plain,
        "billing",
        Some(&[("orders".to_string(), 1), ("orders".to_string(), 0)]),
        Duration::from_secs(10),
    )
    .unwrap();
    let got: Vec<(String, i32, i64)> = got
        .into_iter()
        .map(|o| (o.topic, o.partition, o.committed))
        .collect();
    assert_eq!(
        got,
        vec![("orders".to_string(), 0, 3), ("orders".to_string(), 1, -1)]
    );

    // Watermarks in one ListOffsets per leader.
    let parts = [("orders".to_string(), 0), ("orders".to_string(), 1)];
    let high = kafka_exporter::collector::batched_offsets(&plain, &parts, Offset::End).unwrap();
    assert_eq!(high.get(&parts[0]), Some(&5));
    assert_eq!(high.get(&parts[1]), Some(&3));
    let low =
        kafka_exporter::collector::batched_offsets(&plain, &parts, Offset::Beginning).unwrap();
    assert_eq!(low.get(&parts[0]), Some(&0));
    assert_eq!(low.get(&parts[1]), Some(&0));

    let exp = start(&servers, &["--kafka.labels=cluster=mock"]);
    let body = wait_for(exp.port, |b| {
        has(b, "kafka_up{cluster=\"mock\"} 1")
            && b.contains("kafka_topic_partition_current_offset{")
    });
    if let Some(path) = std::env::var_os("KAFKA_EXPORTER_TEST_DUMP") {
        std::fs::write(path, dechunk(&body) + "\n").unwrap();
    }
    for line in [
        "kafka_brokers{cluster=\"mock\"} 1",
        "kafka_topic_partitions{cluster=\"mock\",topic=\"orders\"} 2",
        "kafka_topic_partition_current_offset{cluster=\"mock\",partition=\"0\",topic=\"orders\"} 5",
        "kafka_topic_partition_current_offset{cluster=\"mock\",partition=\"1\",topic=\"orders\"} 3",
        "kafka_topic_partition_oldest_offset{cluster=\"mock\",partition=\"0\",topic=\"orders\"} 0",
        "kafka_topic_partition_leader{cluster=\"mock\",partition=\"0\",topic=\"orders\"} 1",
        "kafka_topic_partition_replicas{cluster=\"mock\",partition=\"0\",topic=\"orders\"} 1",
        "kafka_topic_partition_in_sync_replica{cluster=\"mock\",partition=\"0\",topic=\"orders\"} 1",
        "kafka_topic_partition_leader_is_preferred{cluster=\"mock\",partition=\"0\",topic=\"orders\"} 1",
        "kafka_topic_partition_under_replicated_partition{cluster=\"mock\",partition=\"0\",topic=\"orders\"} 0",
    ] {
        assert!(has(&body, line), "missing {line:?} in:\n{body}");
    }
    // librdkafka's mock cluster does not implement ListGroups: that failure is counted, the
    // rest of the snapshot is still served and the cluster still counts as up.
    assert!(
        !has(
            &body,
            "kafka_exporter_collection_errors_total{cluster=\"mock\"} 0"
        ),
        "{body}"
    );
    let (status, _) = get(exp.port, "/healthz").unwrap();
    assert_eq!(status, 200);
}

#[test]
fn starts_without_brokers_and_stays_up() {
    // A port nothing listens on.
    let port = free_port();
    let mut exp = start(&format!("127.0.0.1:{port}"), &[]);
    let body = wait_for(exp.port, |b| {
        has(b, "kafka_up 0") && b.contains("kafka_exporter_collection_errors_total 1\n")
    });
    assert!(!body.contains("kafka_brokers"), "{body}");
    let (status, _) = get(exp.port, "/healthz").unwrap();
    assert_eq!(status, 503);
    assert!(exp.child.try_wait().unwrap().is_none(), "exporter exited");
}

#[test]
fn bad_flags_exit_64() {
    for args in [
        &["--topic.filter=("][..],
        &["--sasl.enabled", "--sasl.mechanism=md5"],
        &["--tls.enabled", "--tls.ca-file=/nonexistent/ca.pem"],
        // Rejected by librdkafka when the client is created: no Cyrus SASL in this build.
        &["--sasl.enabled", "--sasl.mechanism=gssapi"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_kafka-exporter"))
            .args(args)
            .arg("--web.listen-address=127.0.0.1:0")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn keeps_last_snapshot_while_cluster_is_down_and_recovers() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("events", 3, 1).unwrap();
    let exp = start(&cluster.bootstrap_servers(), &[]);
    wait_for(exp.port, |b| {
        has(b, "kafka_up 1") && has(b, "kafka_topic_partitions{topic=\"events\"} 3")
    });

    cluster.broker_down(-1).unwrap();
    let body = wait_for(exp.port, |b| has(b, "kafka_up 0"));
    // The last snapshot is still served, marked stale by kafka_up 0.
    assert!(
        has(&body, "kafka_topic_partitions{topic=\"events\"} 3"),
        "{body}"
    );
    let (status, _) = get(exp.port, "/healthz").unwrap();
    assert_eq!(status, 503);

    cluster.broker_up(-1).unwrap();
    wait_for(exp.port, |b| has(b, "kafka_up 1"));
    let (status, _) = get(exp.port, "/healthz").unwrap();
    assert_eq!(status, 200);
}

#[test]
fn one_broker_down_costs_only_its_partitions() {
    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic("spread", 3, 1).unwrap();
    for (partition, broker) in [(0, 1), (1, 2), (2, 3)] {
        cluster
            .partition_leader("spread", partition, Some(broker))
            .unwrap();
    }
    let exp = start(&cluster.bootstrap_servers(), &[]);
    wait_for(exp.port, |b| {
        (0..3).all(|p| {
            has(
                b,
                &format!(
                    "kafka_topic_partition_current_offset{{partition=\"{p}\",topic=\"spread\"}} 0"
                ),
            )
        })
    });

    cluster.broker_down(2).unwrap();
    let body = wait_for(exp.port, |b| {
        !b.contains("kafka_topic_partition_current_offset{partition=\"1\",topic=\"spread\"}")
    });
    assert!(has(&body, "kafka_up 1"), "{body}");
    for p in [0, 2] {
        let line =
            format!("kafka_topic_partition_current_offset{{partition=\"{p}\",topic=\"spread\"}} 0");
        assert!(has(&body, &line), "missing {line:?} in:\n{body}");
    }
    assert!(
        has(
            &body,
            "kafka_topic_partition_leader{partition=\"1\",topic=\"spread\"} 2"
        ),
        "{body}"
    );
}

#[test]
fn scrapes_do_not_wait_on_a_slow_cluster() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("slow", 1, 1).unwrap();
    let exp = start(&cluster.bootstrap_servers(), &[]);
    wait_for(exp.port, |b| {
        has(b, "kafka_topic_partitions{topic=\"slow\"} 1")
    });

    // Every request now takes 3 s; collections slow down, scrapes must not.
    cluster
        .broker_round_trip_time(1, Duration::from_secs(3))
        .unwrap();
    for _ in 0..10 {
        let t = Instant::now();
        let (status, body) = get(exp.port, "/metrics").unwrap();
        assert_eq!(status, 200);
        assert!(
            has(&body, "kafka_topic_partitions{topic=\"slow\"} 1"),
            "{body}"
        );
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let body = wait_for(exp.port, |b| {
        dechunk(b).lines().any(|l| {
            l.strip_prefix("kafka_exporter_collection_duration_seconds ")
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|v| v >= 3.0)
        })
    });
    assert!(has(&body, "kafka_up 1"), "{body}");
}

#[test]
fn leader_moved_off_its_preferred_replica() {
    let cluster = MockCluster::new(3).unwrap();
    // Three replicas per partition; the preferred leader is the first replica.
    cluster.create_topic("moved", 2, 3).unwrap();
    let md_client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    let md = md_client
        .fetch_metadata(Some("moved"), Duration::from_secs(10))
        .unwrap();
    let replicas: Vec<Vec<i32>> = md.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.replicas().to_vec())
        .collect();
    // Both partitions led by their preferred replica first.
    for (p, r) in replicas.iter().enumerate() {
        cluster
            .partition_leader("moved", p as i32, Some(r[0]))
            .unwrap();
    }
    let leader_line = |p: usize, id: i32| {
        format!("kafka_topic_partition_leader{{partition=\"{p}\",topic=\"moved\"}} {id}")
    };
    let preferred_line = |p: usize, v: u8| {
        format!(
            "kafka_topic_partition_leader_is_preferred{{partition=\"{p}\",topic=\"moved\"}} {v}"
        )
    };
    let exp = start(&cluster.bootstrap_servers(), &[]);
    let body = wait_for(exp.port, |b| {
        has(b, &leader_line(0, replicas[0][0])) && has(b, &leader_line(1, replicas[1][0]))
    });
    assert!(has(&body, &preferred_line(0, 1)), "{body}");
    assert!(has(&body, "kafka_brokers 3"), "{body}");

    // Partition 0's leadership moves to its second replica.
    cluster
        .partition_leader("moved", 0, Some(replicas[0][1]))
        .unwrap();
    let body = wait_for(exp.port, |b| has(b, &leader_line(0, replicas[0][1])));
    assert!(has(&body, &preferred_line(0, 0)), "{body}");
    assert!(has(&body, &preferred_line(1, 1)), "{body}");
}
