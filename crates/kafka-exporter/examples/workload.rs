//! A Kafka workload for the tests, the benchmark, the end-to-end run and `make run`.
//!
//! ```text
//! workload --brokers HOST:PORT setup --topics N --partitions P --messages M --groups G
//!     creates N topics (bench-0000 ...) of P partitions, produces M records to each partition,
//!     and commits offsets for G groups (bench-group-0000 ...), group g on topic g % N,
//!     at M/2 on every partition of it; prints what it did and exits
//! workload --brokers HOST:PORT run --topic T --partitions P --group G --rate R
//!     creates T if needed, then forever: produces R records per second round-robin over its
//!     partitions, and consumes them as group G, committing every second `--behind` records
//!     (spread over the partitions) short of what it read, so that the group shows a steady lag
//! ```
//!
//! Every record is sent in its own batch (`batch.num.messages=1`): Tansu 0.6 counts a batch as
//! one offset when it computes the high watermark.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message, Offset, TopicPartitionList};

fn usage() -> ! {
    eprintln!(
        "usage: workload --brokers HOST:PORT setup [--topics N] [--partitions P] [--messages M] [--groups G]\n       \
         workload --brokers HOST:PORT run [--topic T] [--partitions P] [--group G] [--rate R] [--behind B]"
    );
    std::process::exit(64)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut brokers = "127.0.0.1:9092".to_string();
    let mut mode = None;
    let mut opts: HashMap<String, String> = HashMap::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--brokers" => brokers = args.next().unwrap_or_else(|| usage()),
            "setup" | "run" if mode.is_none() => mode = Some(a),
            s if s.starts_with("--") => {
                let v = args.next().unwrap_or_else(|| usage());
                opts.insert(s[2..].to_string(), v);
            }
            _ => usage(),
        }
    }
    let num = |k: &str, d: usize| -> usize {
        opts.get(k)
            .map_or(d, |v| v.parse().unwrap_or_else(|_| usage()))
    };
    match mode.as_deref() {
        Some("setup") => setup(
            &brokers,
            num("topics", 10),
            num("partitions", 100),
            num("messages", 4),
            num("groups", 200),
        ),
        Some("run") => run(
            &brokers,
            opts.get("topic").map_or("orders", String::as_str),
            num("partitions", 3),
            opts.get("group").map_or("billing", String::as_str),
            num("rate", 10),
            num("behind", 20),
        ),
        _ => usage(),
    }
}

fn config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers).set("log_level", "3");
    c
}

/// Creates the topics that do not exist yet; waits until metadata shows all of them.
fn create_topics(brokers: &str, names: &[String], partitions: usize) {
    let admin: AdminClient<DefaultClientContext> = config(brokers).create().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for chunk in names.chunks(100) {
        let topics: Vec<NewTopic> = chunk
            .iter()
            .map(|n| NewTopic::new(n, partitions as i32, TopicReplication::Fixed(1)))
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        for r in rt.block_on(admin.create_topics(&topics, &opts)).unwrap() {
            match r {
                Ok(_) => {}
                Err((t, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {
                    let _ = t;
                }
                Err((t, e)) => panic!("creating {t}: {e}"),
            }
        }
    }
    let probe: BaseConsumer = config(brokers).create().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let md = probe.fetch_metadata(None, Duration::from_secs(10)).unwrap();
        let ready = names.iter().all(|n| {
            md.topics()
                .iter()
                .any(|t| t.name() == n && t.partitions().len() == partitions)
        });
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "topics not in metadata after 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn producer(brokers: &str) -> ThreadedProducer<DefaultProducerContext> {
    config(brokers)
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap()
}

fn send(p: &ThreadedProducer<DefaultProducerContext>, topic: &str, partition: i32, payload: &str) {
    let mut record = BaseRecord::<(), _>::to(topic)
        .partition(partition)
        .payload(payload);
    loop {
        match p.send(record) {
            Ok(()) => return,
            Err((e, r)) => {
                // Queue full: let it drain.
                if !matches!(
                    e.rdkafka_error_code(),
                    Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                ) {
                    panic!("producing to {topic}/{partition}: {e}");
                }
                record = r;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

fn commit(brokers: &str, group: &str, tpl: &TopicPartitionList) {
    let c: BaseConsumer = config(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    c.commit(tpl, CommitMode::Sync)
        .unwrap_or_else(|e| panic!("committing for {group}: {e}"));
}

fn setup(brokers: &str, topics: usize, partitions: usize, messages: usize, groups: usize) {
    let start = Instant::now();
    let names: Vec<String> = (0..topics).map(|i| format!("bench-{i:04}")).collect();
    create_topics(brokers, &names, partitions);
    let created = start.elapsed();

    let p = producer(brokers);
    for name in &names {
        for partition in 0..partitions {
            for m in 0..messages {
                send(&p, name, partition as i32, &format!("m{m}"));
            }
        }
    }
    p.flush(Duration::from_secs(300)).unwrap();
    let produced = start.elapsed();

    for g in 0..groups {
        let topic = &names[g % topics];
        let mut tpl = TopicPartitionList::new();
        for partition in 0..partitions {
            tpl.add_partition_offset(
                topic,
                partition as i32,
                Offset::Offset((messages / 2) as i64),
            )
            .unwrap();
        }
        commit(brokers, &format!("bench-group-{g:04}"), &tpl);
    }
    println!(
        "workload: {topics} topics x {partitions} partitions ({} in all), {messages} records each, \
         {groups} groups committed; topics {:.1}s, produce {:.1}s, commits {:.1}s",
        topics * partitions,
        created.as_secs_f64(),
        (produced - created).as_secs_f64(),
        (start.elapsed() - produced).as_secs_f64()
    );
}

fn run(brokers: &str, topic: &str, partitions: usize, group: &str, rate: usize, behind: usize) {
    create_topics(brokers, &[topic.to_string()], partitions);
    let p = producer(brokers);
    let c: BaseConsumer = config(brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    let mut assigned = TopicPartitionList::new();
    for partition in 0..partitions {
        assigned
            .add_partition_offset(topic, partition as i32, Offset::Stored)
            .unwrap();
    }
    c.assign(&assigned).unwrap();
    eprintln!(
        "workload: producing {rate}/s to {topic} ({partitions} partitions), consuming as {group}"
    );
    let tick = Duration::from_secs(1);
    let mut next = Instant::now();
    let mut sent = 0usize;
    let mut consumed: HashMap<i32, i64> = HashMap::new();
    loop {
        for _ in 0..rate {
            send(&p, topic, (sent % partitions) as i32, &format!("m{sent}"));
            sent += 1;
        }
        p.flush(Duration::from_secs(5)).ok();
        // Consume until about `behind` records remain unread in all.
        let mut read_budget = rate;
        while read_budget > 0 {
            match c.poll(Duration::from_millis(50)) {
                Some(Ok(m)) => {
                    consumed.insert(m.partition(), m.offset() + 1);
                    read_budget -= 1;
                }
                Some(Err(e)) => eprintln!("workload: consume: {e}"),
                None => break,
            }
        }
        if !consumed.is_empty() {
            // Commit `behind` records short of what was read, spread over the partitions.
            let hold = (behind / partitions) as i64;
            let mut tpl = TopicPartitionList::new();
            for (partition, offset) in &consumed {
                let at = (*offset - hold).max(0);
                tpl.add_partition_offset(topic, *partition, Offset::Offset(at))
                    .unwrap();
            }
            if let Err(e) = c.commit(&tpl, CommitMode::Sync) {
                eprintln!("workload: commit: {e}");
            }
        }
        next += tick;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}
