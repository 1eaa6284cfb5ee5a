//! End to end against a real Kafka-compatible broker: Tansu 0.6 (scripts/install-tansu.sh),
//! in-memory storage, on a free loopback port per test.
//!
//! Written within Tansu 0.6's limits: producers send one record per batch (its high watermark
//! counts batches), groups appear once they have committed offsets, and group members carry no
//! details (so `kafka_consumergroup_members` is 0 and the state `Empty`). What Tansu cannot do
//! (several brokers, a moved leader, a slow broker) is covered against librdkafka's mock
//! cluster in `mock_cluster.rs`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{free_port, get, has, samples, start_exporter, start_tansu, value, wait_for};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

fn servers(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

fn create_topics(port: u16, topics: &[(&str, i32)]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", servers(port))
        .create()
        .unwrap();
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|(name, n)| NewTopic::new(name, *n, TopicReplication::Fixed(1)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for r in rt
        .block_on(admin.create_topics(&new, &AdminOptions::new()))
        .unwrap()
    {
        r.unwrap();
    }
}

/// Produces `n` records to each (topic, partition), one record per batch.
fn produce(port: u16, counts: &[(&str, i32, usize)]) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", servers(port))
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .create()
        .unwrap();
    for &(topic, partition, n) in counts {
        for i in 0..n {
            let payload = format!("m{i}");
            producer
                .send(
                    BaseRecord::<(), _>::to(topic)
                        .partition(partition)
                        .payload(&payload),
                )
                .map_err(|(e, _)| e)
                .unwrap();
        }
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// Commits offsets for `group` without joining it (as `kafka-consumer-groups --reset-offsets`).
fn commit(port: u16, group: &str, offsets: &[(&str, i32, i64)]) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers(port))
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for &(topic, partition, offset) in offsets {
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
            .unwrap();
    }
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
}

fn client(port: u16) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", servers(port))
        .create()
        .unwrap()
}

#[test]
fn every_family_has_the_exact_values_after_a_known_sequence() {
    let broker = start_tansu(free_port());
    let port = broker.port;
    create_topics(port, &[("orders", 3), ("audit", 1)]);
    produce(port, &[("orders", 0, 5), ("orders", 1, 3), ("audit", 0, 2)]);
    commit(port, "billing", &[("orders", 0, 3), ("orders", 1, 1)]);
    commit(port, "auditors", &[("audit", 0, 2)]);
    let md = client(port)
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    let id = md.brokers()[0].id();

    // Asking for every committed offset of a group (null topics) works on a real broker.
    let committed = kafka_exporter::admin::list_group_offsets(
        &client(port),
        "billing",
        None,
        Duration::from_secs(10),
    )
    .unwrap();
    let committed: Vec<(String, i32, i64)> = committed
        .into_iter()
        .map(|o| (o.topic, o.partition, o.committed))
        .collect();
    assert_eq!(
        committed,
        vec![("orders".into(), 0, 3), ("orders".into(), 1, 1)]
    );

    let exp = start_exporter(&servers(port), &[]);
    let body = wait_for(exp.port, |b| {
        has(b, "kafka_up 1") && b.contains("kafka_consumergroup_lag_sum{consumergroup=\"billing\"")
    });
    let mut expected = vec![
        "kafka_up 1".to_string(),
        "kafka_exporter_collection_errors_total 0".to_string(),
        "kafka_brokers 1".to_string(),
        format!("kafka_broker_info{{address=\"127.0.0.1:{port}\",id=\"{id}\"}} 1"),
        "kafka_topic_partitions{topic=\"orders\"} 3".to_string(),
        "kafka_topic_partitions{topic=\"audit\"} 1".to_string(),
    ];
    let per_partition = |family: &str, topic: &str, p: i32, v: i64| {
        format!("{family}{{partition=\"{p}\",topic=\"{topic}\"}} {v}")
    };
    for (topic, p, high) in [
        ("orders", 0, 5),
        ("orders", 1, 3),
        ("orders", 2, 0),
        ("audit", 0, 2),
    ] {
        expected.push(per_partition(
            "kafka_topic_partition_current_offset",
            topic,
            p,
            high,
        ));
        expected.push(per_partition(
            "kafka_topic_partition_oldest_offset",
            topic,
            p,
            0,
        ));
        expected.push(per_partition(
            "kafka_topic_partition_leader",
            topic,
            p,
            id.into(),
        ));
        expected.push(per_partition("kafka_topic_partition_replicas", topic, p, 1));
        expected.push(per_partition(
            "kafka_topic_partition_in_sync_replica",
            topic,
            p,
            1,
        ));
        expected.push(per_partition(
            "kafka_topic_partition_leader_is_preferred",
            topic,
            p,
            1,
        ));
        expected.push(per_partition(
            "kafka_topic_partition_under_replicated_partition",
            topic,
            p,
            0,
        ));
    }
    let group = |family: &str, g: &str, topic: &str, p: i32, v: i64| {
        format!("{family}{{consumergroup=\"{g}\",partition=\"{p}\",topic=\"{topic}\"}} {v}")
    };
    // billing: 3 of 5 and 1 of 3 consumed, nothing committed on partition 2 (-1, as upstream).
    for (p, off, lag) in [(0, 3, 2), (1, 1, 2), (2, -1, -1)] {
        expected.push(group(
            "kafka_consumergroup_current_offset",
            "billing",
            "orders",
            p,
            off,
        ));
        expected.push(group(
            "kafka_consumergroup_lag",
            "billing",
            "orders",
            p,
            lag,
        ));
    }
    expected.push(group(
        "kafka_consumergroup_current_offset",
        "auditors",
        "audit",
        0,
        2,
    ));
    expected.push(group("kafka_consumergroup_lag", "auditors", "audit", 0, 0));
    for line in [
        // The -1 of partition 2 is not added into the sums (upstream adds it).
        "kafka_consumergroup_current_offset_sum{consumergroup=\"billing\",topic=\"orders\"} 4",
        "kafka_consumergroup_lag_sum{consumergroup=\"billing\",topic=\"orders\"} 4",
        "kafka_consumergroup_current_offset_sum{consumergroup=\"auditors\",topic=\"audit\"} 2",
        "kafka_consumergroup_lag_sum{consumergroup=\"auditors\",topic=\"audit\"} 0",
        // Tansu 0.6 reports no members for a group that only commits.
        "kafka_consumergroup_members{consumergroup=\"billing\"} 0",
        "kafka_consumergroup_state{consumergroup=\"billing\",state=\"Empty\"} 1",
    ] {
        expected.push(line.to_string());
    }
    for line in &expected {
        assert!(has(&body, line), "missing {line:?} in:\n{body}");
    }
    let build = samples(&body, "kafka_exporter_build_info");
    assert!(
        build.len() == 1 && build[0].contains("version=\"") && build[0].ends_with("} 1"),
        "{build:?}"
    );
    // The same through a real client asking for gzip, as Prometheus does (the snapshot part of
    // that body is compressed once per collection, see exporter_core::shared).
    let out = std::process::Command::new("curl")
        .args([
            "-sf",
            "--compressed",
            &format!("http://127.0.0.1:{}/metrics", exp.port),
        ])
        .output()
        .expect("curl (scripts/install-deps.sh installs it)");
    assert!(out.status.success(), "{out:?}");
    let gz = String::from_utf8(out.stdout).unwrap();
    for line in &expected {
        assert!(has(&gz, line), "gzip scrape: missing {line:?} in:\n{gz}");
    }
    assert!(
        gz.contains("# TYPE process_cpu_seconds_total counter"),
        "{gz}"
    );
    // A group shows only the topics it consumes.
    assert!(
        !body.contains("consumergroup=\"billing\",partition=\"0\",topic=\"audit\""),
        "{body}"
    );
    assert_eq!(
        samples(&body, "kafka_consumergroup_current_offset").len(),
        4,
        "{body}"
    );
    assert_eq!(
        samples(&body, "kafka_topic_partition_current_offset").len(),
        4
    );
    let (status, health) = get(exp.port, "/healthz").unwrap();
    assert_eq!(status, 200, "{health}");
}

#[test]
fn lag_in_seconds_follows_the_head() {
    let broker = start_tansu(free_port());
    let port = broker.port;
    create_topics(port, &[("clicks", 1)]);
    produce(port, &[("clicks", 0, 2)]);
    commit(port, "reader", &[("clicks", 0, 2)]);
    let exp = start_exporter(&servers(port), &[]);
    wait_for(exp.port, |b| {
        has(
            b,
            "kafka_consumergroup_lag{consumergroup=\"reader\",partition=\"0\",topic=\"clicks\"} 0",
        )
    });
    // The group stops at offset 2 while the head moves on, one record every 250 ms.
    let stopped = Instant::now();
    for _ in 0..16 {
        produce(port, &[("clicks", 0, 1)]);
        std::thread::sleep(Duration::from_millis(250));
    }
    let series = "kafka_consumergroup_lag_seconds{consumergroup=\"reader\",partition=\"0\",topic=\"clicks\"}";
    let body = wait_for(exp.port, |b| value(b, series).is_some_and(|v| v > 0.0));
    let got = value(&body, series).unwrap();
    eprintln!("lag_seconds {got:.2}");
    // The record at offset 2 arrived right after `stopped`; the head was last seen at 2 by the
    // collection before (at most a refresh earlier), and the value is from the last collection
    // (at most a refresh before this scrape): within about a collection of the truth.
    let truth = stopped.elapsed().as_secs_f64();
    assert!(
        got > truth - 3.0 && got <= truth + 1.5,
        "lag {got} s, expected about {truth} s"
    );
    let max = value(
        &body,
        "kafka_consumergroup_max_lag_seconds{consumergroup=\"reader\"}",
    )
    .unwrap();
    assert!(max >= got - 1.0, "{body}");
}

#[test]
fn filters_select_topics_and_groups() {
    let broker = start_tansu(free_port());
    let port = broker.port;
    create_topics(
        port,
        &[("app-orders", 1), ("app-orders-dlq", 1), ("sys-audit", 1)],
    );
    produce(
        port,
        &[
            ("app-orders", 0, 1),
            ("app-orders-dlq", 0, 1),
            ("sys-audit", 0, 1),
        ],
    );
    for g in ["svc-billing", "svc-billing-test", "ops-audit"] {
        commit(
            port,
            g,
            &[
                ("app-orders", 0, 1),
                ("app-orders-dlq", 0, 1),
                ("sys-audit", 0, 1),
            ],
        );
    }
    let exp = start_exporter(
        &servers(port),
        &[
            "--topic.filter=^app-",
            "--topic.exclude=-dlq$",
            "--group.filter=^svc-",
            "--group.exclude=-test$",
        ],
    );
    let body = wait_for(exp.port, |b| b.contains("kafka_consumergroup_lag{"));
    assert_eq!(
        samples(&body, "kafka_topic_partitions"),
        vec!["kafka_topic_partitions{topic=\"app-orders\"} 1"]
    );
    assert_eq!(
        samples(&body, "kafka_consumergroup_lag"),
        vec!["kafka_consumergroup_lag{consumergroup=\"svc-billing\",partition=\"0\",topic=\"app-orders\"} 0"]
    );
    assert_eq!(
        samples(&body, "kafka_consumergroup_members"),
        vec!["kafka_consumergroup_members{consumergroup=\"svc-billing\"} 0"]
    );
}

#[test]
fn broker_absent_at_start_killed_and_restarted() {
    let port = free_port();
    // No broker yet: the exporter starts, serves kafka_up 0 and says so on /healthz.
    let mut exp = start_exporter(&servers(port), &[]);
    wait_for(exp.port, |b| has(b, "kafka_up 0"));
    assert_eq!(get(exp.port, "/healthz").unwrap().0, 503);

    let broker = start_tansu(port);
    create_topics(port, &[("late", 2)]);
    let up = Instant::now();
    wait_for(exp.port, |b| {
        has(b, "kafka_up 1") && has(b, "kafka_topic_partitions{topic=\"late\"} 2")
    });
    eprintln!("up again {:?} after the broker started", up.elapsed());
    assert_eq!(get(exp.port, "/healthz").unwrap().0, 200);

    // Killed mid-run: the last snapshot stays, marked by kafka_up 0.
    drop(broker);
    let body = wait_for(exp.port, |b| has(b, "kafka_up 0"));
    assert!(
        has(&body, "kafka_topic_partitions{topic=\"late\"} 2"),
        "{body}"
    );
    assert_eq!(get(exp.port, "/healthz").unwrap().0, 503);
    assert!(exp.running(), "exporter exited");

    // Restarted (empty: in-memory storage): back within a few refreshes.
    let _broker = start_tansu(port);
    create_topics(port, &[("again", 1)]);
    let back = Instant::now();
    let body = wait_for(exp.port, |b| {
        has(b, "kafka_up 1") && has(b, "kafka_topic_partitions{topic=\"again\"} 1")
    });
    let took = back.elapsed();
    eprintln!("recovered {took:?} after the restart");
    // Within a few refreshes (1 s each here), not librdkafka's 10 s reconnect backoff.
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(!body.contains("topic=\"late\""), "{body}");
    assert_eq!(get(exp.port, "/healthz").unwrap().0, 200);
    assert!(exp.running(), "exporter exited");
}
