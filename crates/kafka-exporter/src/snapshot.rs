//! What one background collection saw, and how it is rendered: kafka_exporter 1.9's families
//! (names, HELP, labels) plus ours (`kafka_up`, collection timing and errors, group state, lag in
//! seconds).

use std::collections::BTreeSet;
use std::sync::Arc;

use exporter_core::{Exposition, SharedText, SharedTextWriter};

use crate::lag::lag;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Broker {
    pub id: i32,
    pub address: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Partition {
    pub id: i32,
    /// -1 when the partition has no leader.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: usize,
    /// Low and high watermarks, when they could be read.
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Topic {
    pub name: String,
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupOffset {
    pub topic: String,
    pub partition: i32,
    /// -1 when the group has no committed offset there.
    pub committed: i64,
    pub lag_seconds: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub name: String,
    pub state: String,
    pub members: usize,
    /// Sorted by topic, then partition.
    pub offsets: Vec<GroupOffset>,
}

/// The cluster as of the last complete collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub brokers: Vec<Broker>,
    /// Sorted by name, partitions by id; only topics that pass the filters.
    pub topics: Vec<Topic>,
    pub groups: Vec<Group>,
}

impl Snapshot {
    fn newest(&self, topic: &str, partition: i32) -> Option<i64> {
        let t = self
            .topics
            .binary_search_by(|t| t.name.as_str().cmp(topic))
            .ok()?;
        self.topics[t]
            .partitions
            .iter()
            .find(|p| p.id == partition)?
            .newest
    }
}

/// The snapshot plus the health of the collector, swapped in whole after each collection.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Shared between successive views, so a failed collection does not copy it.
    pub snapshot: std::sync::Arc<Snapshot>,
    /// Whether the last collection reached the cluster.
    pub up: bool,
    pub errors_total: u64,
    /// Unix time of the last collection that reached the cluster.
    pub last_success: Option<f64>,
    /// Seconds the last collection took.
    pub last_duration: Option<f64>,
    /// This view in the text format, rendered and compressed once per collection so that a
    /// scrape only appends it (`None` before the first collection).
    pub rendered: Option<Arc<SharedText>>,
}

/// The constant labels plus a series' own.
fn with<'a>(
    base: &[(&'a str, &'a str)],
    extra: &[(&'static str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut l = base.to_vec();
    l.extend_from_slice(extra);
    l
}

/// Where [`render`] puts samples.
pub trait Sink {
    fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64);
    fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64);
    /// The samples of one consumer group are all in: none that follows sorts before them.
    fn group_done(&mut self) {}
}

impl Sink for Exposition {
    fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        Exposition::gauge(self, name, help, labels, value);
    }
    fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        Exposition::counter(self, name, help, labels, value);
    }
}

/// Records only the names of the families.
#[derive(Default)]
struct Names(BTreeSet<String>);

impl Sink for Names {
    fn gauge(&mut self, name: &str, _: &str, _: &[(&str, &str)], _: f64) {
        if !self.0.contains(name) {
            self.0.insert(name.to_string());
        }
    }
    fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.gauge(name, help, labels, value);
    }
}

/// Keeps only the samples of one family, and writes them to `to` group by group (or all at
/// the end), so that a family of 100,000 consumer-group series is never held whole.
struct OneFamily<'a> {
    name: &'a str,
    out: Exposition,
    buf: Vec<u8>,
    to: &'a mut SharedTextWriter,
}

impl OneFamily<'_> {
    fn flush(&mut self) {
        self.buf.clear();
        self.out.drain(&mut self.buf);
        self.to.push(&self.buf);
    }
}

impl Sink for OneFamily<'_> {
    fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        if name == self.name {
            self.out.gauge(name, help, labels, value);
        }
    }
    fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        if name == self.name {
            self.out.counter(name, help, labels, value);
        }
    }
    fn group_done(&mut self) {
        self.flush();
    }
}

/// `view` in the text format, with `labels` (see [`render`]), compressed.
///
/// Rendered one family at a time, in name order (the order a whole [`Exposition`] writes),
/// consumer-group families one group at a time, compressed as it goes: a cluster with 10,000
/// partitions and 1,000 groups has tens of MiB of text, of which only one group's part of a
/// family (or one topic-level family) is held at once.
pub fn render_shared(view: &View, labels: &[(String, String)]) -> Arc<SharedText> {
    let mut names = Names::default();
    render(view, labels, &mut names);
    let mut w = SharedTextWriter::new();
    for name in &names.0 {
        let mut one = OneFamily {
            name,
            out: Exposition::new(),
            buf: Vec::new(),
            to: &mut w,
        };
        render(view, labels, &mut one);
        one.flush();
    }
    Arc::new(w.finish())
}

/// Adds every family of `view` to `out`; `labels` are `--kafka.labels`, added to every kafka_*
/// series as upstream does.
pub fn render(view: &View, labels: &[(String, String)], out: &mut impl Sink) {
    let base: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();

    out.gauge(
        "kafka_up",
        "1 if the last background collection reached the Kafka cluster, 0 if not (the other kafka_* series are then from the last successful collection).",
        &base,
        if view.up { 1.0 } else { 0.0 },
    );
    out.counter(
        "kafka_exporter_collection_errors_total",
        "Errors in background collections (failed requests to the cluster).",
        &base,
        view.errors_total as f64,
    );
    if let Some(t) = view.last_success {
        out.gauge(
            "kafka_exporter_last_collection_timestamp_seconds",
            "Unix time of the last background collection that reached the cluster; scrapes serve its snapshot.",
            &base,
            t,
        );
    }
    if let Some(d) = view.last_duration {
        out.gauge(
            "kafka_exporter_collection_duration_seconds",
            "Seconds the last background collection took.",
            &base,
            d,
        );
    }

    let s = &view.snapshot;
    if view.last_success.is_none() {
        return;
    }
    out.gauge(
        "kafka_brokers",
        "Number of Brokers in the Kafka Cluster.",
        &base,
        s.brokers.len() as f64,
    );
    for b in &s.brokers {
        let id = b.id.to_string();
        out.gauge(
            "kafka_broker_info",
            "Information about the Kafka Broker.",
            &with(&base, &[("id", &id), ("address", &b.address)]),
            1.0,
        );
    }

    for t in &s.topics {
        out.gauge(
            "kafka_topic_partitions",
            "Number of partitions for this Topic",
            &with(&base, &[("topic", &t.name)]),
            t.partitions.len() as f64,
        );
        for p in &t.partitions {
            let pid = p.id.to_string();
            let l = with(&base, &[("topic", &t.name), ("partition", &pid)]);
            if let Some(v) = p.newest {
                out.gauge(
                    "kafka_topic_partition_current_offset",
                    "Current Offset of a Broker at Topic/Partition",
                    &l,
                    v as f64,
                );
            }
            if let Some(v) = p.oldest {
                out.gauge(
                    "kafka_topic_partition_oldest_offset",
                    "Oldest Offset of a Broker at Topic/Partition",
                    &l,
                    v as f64,
                );
            }
            if p.leader >= 0 {
                out.gauge(
                    "kafka_topic_partition_leader",
                    "Leader Broker ID of this Topic/Partition",
                    &l,
                    f64::from(p.leader),
                );
            }
            out.gauge(
                "kafka_topic_partition_replicas",
                "Number of Replicas for this Topic/Partition",
                &l,
                p.replicas.len() as f64,
            );
            out.gauge(
                "kafka_topic_partition_in_sync_replica",
                "Number of In-Sync Replicas for this Topic/Partition",
                &l,
                p.isr as f64,
            );
            let preferred = p.leader >= 0 && p.replicas.first() == Some(&p.leader);
            out.gauge(
                "kafka_topic_partition_leader_is_preferred",
                "1 if Topic/Partition is using the Preferred Broker",
                &l,
                if preferred { 1.0 } else { 0.0 },
            );
            out.gauge(
                "kafka_topic_partition_under_replicated_partition",
                "1 if Topic/Partition is under Replicated",
                &l,
                if p.isr < p.replicas.len() { 1.0 } else { 0.0 },
            );
        }
    }

    for g in &s.groups {
        let gl = with(&base, &[("consumergroup", &g.name)]);
        out.gauge(
            "kafka_consumergroup_members",
            "Amount of members in a consumer group",
            &gl,
            g.members as f64,
        );
        out.gauge(
            "kafka_consumergroup_state",
            "1 for the consumer group's current state (Stable, Empty, PreparingRebalance, CompletingRebalance, Dead, ...).",
            &with(&base, &[("consumergroup", &g.name), ("state", &g.state)]),
            1.0,
        );
        let mut max_lag_seconds: Option<f64> = None;
        for topic_offsets in g.offsets.chunk_by(|a, b| a.topic == b.topic) {
            let topic = &topic_offsets[0].topic;
            // As upstream: a topic where the group has no committed offset at all is not
            // consumed by it and is left out.
            if topic_offsets.iter().all(|o| o.committed < 0) {
                continue;
            }
            let mut offset_sum = 0i64;
            let mut lag_sum = 0i64;
            for o in topic_offsets {
                let pid = o.partition.to_string();
                let l = with(
                    &base,
                    &[
                        ("consumergroup", &g.name),
                        ("topic", topic),
                        ("partition", &pid),
                    ],
                );
                out.gauge(
                    "kafka_consumergroup_current_offset",
                    "Current Offset of a ConsumerGroup at Topic/Partition",
                    &l,
                    o.committed as f64,
                );
                // Unlike upstream, -1 ("nothing committed") is not added into the sums.
                if o.committed >= 0 {
                    offset_sum += o.committed;
                }
                if let Some(high) = s.newest(topic, o.partition) {
                    // -1 stays -1 as upstream, to alert on; otherwise never negative.
                    let v = match lag(high, o.committed) {
                        Some(v) => {
                            lag_sum += v;
                            v
                        }
                        None => -1,
                    };
                    out.gauge(
                        "kafka_consumergroup_lag",
                        "Current Approximate Lag of a ConsumerGroup at Topic/Partition",
                        &l,
                        v as f64,
                    );
                }
                if let Some(secs) = o.lag_seconds {
                    out.gauge(
                        "kafka_consumergroup_lag_seconds",
                        "Estimated seconds the ConsumerGroup is behind at Topic/Partition: how long ago the partition's head was at the committed offset (interpolated from high-watermark history).",
                        &l,
                        secs,
                    );
                    max_lag_seconds = Some(max_lag_seconds.map_or(secs, |m: f64| m.max(secs)));
                }
            }
            let tl = with(&base, &[("consumergroup", &g.name), ("topic", topic)]);
            out.gauge(
                "kafka_consumergroup_current_offset_sum",
                "Current Offset of a ConsumerGroup at Topic for all partitions",
                &tl,
                offset_sum as f64,
            );
            out.gauge(
                "kafka_consumergroup_lag_sum",
                "Current Approximate Lag of a ConsumerGroup at Topic for all partitions",
                &tl,
                lag_sum as f64,
            );
        }
        if let Some(m) = max_lag_seconds {
            out.gauge(
                "kafka_consumergroup_max_lag_seconds",
                "Largest kafka_consumergroup_lag_seconds of the ConsumerGroup over its partitions.",
                &gl,
                m,
            );
        }
        // Every series after this one sorts after this group's (consumergroup is the first
        // label that varies in each of these families, and groups are sorted by name).
        out.group_done();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        View {
            snapshot: std::sync::Arc::new(Snapshot {
                brokers: vec![Broker {
                    id: 1,
                    address: "b1:9092".into(),
                }],
                topics: vec![Topic {
                    name: "orders".into(),
                    partitions: vec![
                        Partition {
                            id: 0,
                            leader: 1,
                            replicas: vec![1, 2],
                            isr: 1,
                            oldest: Some(5),
                            newest: Some(100),
                        },
                        Partition {
                            id: 1,
                            leader: 2,
                            replicas: vec![1, 2],
                            isr: 2,
                            oldest: Some(0),
                            newest: Some(50),
                        },
                    ],
                }],
                groups: vec![Group {
                    name: "billing".into(),
                    state: "Stable".into(),
                    members: 2,
                    offsets: vec![
                        GroupOffset {
                            topic: "orders".into(),
                            partition: 0,
                            committed: 110,
                            lag_seconds: Some(0.0),
                        },
                        GroupOffset {
                            topic: "orders".into(),
                            partition: 1,
                            committed: -1,
                            lag_seconds: None,
                        },
                    ],
                }],
            }),
            up: true,
            errors_total: 3,
            last_success: Some(1_700_000_000.5),
            last_duration: Some(0.25),
            ..View::default()
        }
    }

    fn text(view: &View, labels: &[(String, String)]) -> String {
        let mut out = Exposition::new();
        render(view, labels, &mut out);
        String::from_utf8(out.to_bytes()).unwrap()
    }

    #[test]
    fn renders_upstream_families_exactly() {
        let got = text(&view(), &[]);
        let want = r#"# HELP kafka_broker_info Information about the Kafka Broker.
# TYPE kafka_broker_info gauge
kafka_broker_info{address="b1:9092",id="1"} 1
# HELP kafka_brokers Number of Brokers in the Kafka Cluster.
# TYPE kafka_brokers gauge
kafka_brokers 1
# HELP kafka_consumergroup_current_offset Current Offset of a ConsumerGroup at Topic/Partition
# TYPE kafka_consumergroup_current_offset gauge
kafka_consumergroup_current_offset{consumergroup="billing",partition="0",topic="orders"} 110
kafka_consumergroup_current_offset{consumergroup="billing",partition="1",topic="orders"} -1
# HELP kafka_consumergroup_current_offset_sum Current Offset of a ConsumerGroup at Topic for all partitions
# TYPE kafka_consumergroup_current_offset_sum gauge
kafka_consumergroup_current_offset_sum{consumergroup="billing",topic="orders"} 110
# HELP kafka_consumergroup_lag Current Approximate Lag of a ConsumerGroup at Topic/Partition
# TYPE kafka_consumergroup_lag gauge
kafka_consumergroup_lag{consumergroup="billing",partition="0",topic="orders"} 0
kafka_consumergroup_lag{consumergroup="billing",partition="1",topic="orders"} -1
# HELP kafka_consumergroup_lag_seconds Estimated seconds the ConsumerGroup is behind at Topic/Partition: how long ago the partition's head was at the committed offset (interpolated from high-watermark history).
# TYPE kafka_consumergroup_lag_seconds gauge
kafka_consumergroup_lag_seconds{consumergroup="billing",partition="0",topic="orders"} 0
# HELP kafka_consumergroup_lag_sum Current Approximate Lag of a ConsumerGroup at Topic for all partitions
# TYPE kafka_consumergroup_lag_sum gauge
kafka_consumergroup_lag_sum{consumergroup="billing",topic="orders"} 0
# HELP kafka_consumergroup_max_lag_seconds Largest kafka_consumergroup_lag_seconds of the ConsumerGroup over its partitions.
# TYPE kafka_consumergroup_max_lag_seconds gauge
kafka_consumergroup_max_lag_seconds{consumergroup="billing"} 0
# HELP kafka_consumergroup_members Amount of members in a consumer group
# TYPE kafka_consumergroup_members gauge
kafka_consumergroup_members{consumergroup="billing"} 2
# HELP kafka_consumergroup_state 1 for the consumer group's current state (Stable, Empty, PreparingRebalance, CompletingRebalance, Dead, ...).
# TYPE kafka_consumergroup_state gauge
kafka_consumergroup_state{consumergroup="billing",state="Stable"} 1
# HELP kafka_exporter_collection_duration_seconds Seconds the last background collection took.
# TYPE kafka_exporter_collection_duration_seconds gauge
kafka_exporter_collection_duration_seconds 0.25
# HELP kafka_exporter_collection_errors_total Errors in background collections (failed requests to the cluster).
# TYPE kafka_exporter_collection_errors_total counter
kafka_exporter_collection_errors_total 3
# HELP kafka_exporter_last_collection_timestamp_seconds Unix time of the last background collection that reached the cluster; scrapes serve its snapshot.
# TYPE kafka_exporter_last_collection_timestamp_seconds gauge
kafka_exporter_last_collection_timestamp_seconds 1.7000000005e+09
# HELP kafka_topic_partition_current_offset Current Offset of a Broker at Topic/Partition
# TYPE kafka_topic_partition_current_offset gauge
kafka_topic_partition_current_offset{partition="0",topic="orders"} 100
kafka_topic_partition_current_offset{partition="1",topic="orders"} 50
# HELP kafka_topic_partition_in_sync_replica Number of In-Sync Replicas for this Topic/Partition
# TYPE kafka_topic_partition_in_sync_replica gauge
kafka_topic_partition_in_sync_replica{partition="0",topic="orders"} 1
kafka_topic_partition_in_sync_replica{partition="1",topic="orders"} 2
# HELP kafka_topic_partition_leader Leader Broker ID of this Topic/Partition
# TYPE kafka_topic_partition_leader gauge
kafka_topic_partition_leader{partition="0",topic="orders"} 1
kafka_topic_partition_leader{partition="1",topic="orders"} 2
# HELP kafka_topic_partition_leader_is_preferred 1 if Topic/Partition is using the Preferred Broker
# TYPE kafka_topic_partition_leader_is_preferred gauge
kafka_topic_partition_leader_is_preferred{partition="0",topic="orders"} 1
kafka_topic_partition_leader_is_preferred{partition="1",topic="orders"} 0
# HELP kafka_topic_partition_oldest_offset Oldest Offset of a Broker at Topic/Partition
# TYPE kafka_topic_partition_oldest_offset gauge
kafka_topic_partition_oldest_offset{partition="0",topic="orders"} 5
kafka_topic_partition_oldest_offset{partition="1",topic="orders"} 0
# HELP kafka_topic_partition_replicas Number of Replicas for this Topic/Partition
# TYPE kafka_topic_partition_replicas gauge
kafka_topic_partition_replicas{partition="0",topic="orders"} 2
kafka_topic_partition_replicas{partition="1",topic="orders"} 2
# HELP kafka_topic_partition_under_replicated_partition 1 if Topic/Partition is under Replicated
# TYPE kafka_topic_partition_under_replicated_partition gauge
kafka_topic_partition_under_replicated_partition{partition="0",topic="orders"} 1
kafka_topic_partition_under_replicated_partition{partition="1",topic="orders"} 0
# HELP kafka_topic_partitions Number of partitions for this Topic
# TYPE kafka_topic_partitions gauge
kafka_topic_partitions{topic="orders"} 2
# HELP kafka_up 1 if the last background collection reached the Kafka cluster, 0 if not (the other kafka_* series are then from the last successful collection).
# TYPE kafka_up gauge
kafka_up 1
"#;
        assert_eq!(got, want);
    }

    #[test]
    fn constant_labels_and_unconsumed_topics() {
        let mut v = view();
        let s = std::sync::Arc::make_mut(&mut v.snapshot);
        s.groups[0].offsets[0].committed = -1;
        s.groups[0].offsets[0].lag_seconds = None;
        let got = text(&v, &[("cluster".into(), "prod".into())]);
        assert!(got.contains("kafka_brokers{cluster=\"prod\"} 1\n"), "{got}");
        assert!(got.contains(
            "kafka_consumergroup_members{cluster=\"prod\",consumergroup=\"billing\"} 2\n"
        ));
        assert!(!got.contains("kafka_consumergroup_lag"), "{got}");
        assert!(!got.contains("kafka_consumergroup_current_offset"), "{got}");
    }

    #[test]
    fn before_first_success_only_health() {
        let v = View {
            errors_total: 1,
            ..View::default()
        };
        let got = text(&v, &[]);
        assert!(got.contains("kafka_up 0\n"));
        assert!(got.contains("kafka_exporter_collection_errors_total 1\n"));
        assert!(!got.contains("kafka_brokers"));
    }

    #[test]
    fn family_at_a_time_matches_the_whole_exposition() {
        // A bigger cluster than view()'s, with partition ids that sort differently as strings.
        let mut v = view();
        let s = std::sync::Arc::make_mut(&mut v.snapshot);
        // Group names that are prefixes of each other ("g1" < "g10" < "g2"), sorted as the
        // collector sorts them.
        for (t, group) in ["g1", "g10", "g2"].into_iter().enumerate() {
            let name = format!("t{t}");
            s.topics.push(Topic {
                name: name.clone(),
                partitions: (0..12)
                    .map(|id| Partition {
                        id,
                        leader: 1,
                        replicas: vec![1],
                        isr: 1,
                        oldest: Some(0),
                        newest: Some(i64::from(id) * 7),
                    })
                    .collect(),
            });
            s.groups.push(Group {
                name: group.to_string(),
                state: "Empty".into(),
                members: 0,
                offsets: (0..12)
                    .map(|partition| GroupOffset {
                        topic: name.clone(),
                        partition,
                        committed: i64::from(partition),
                        lag_seconds: Some(f64::from(partition) / 3.0),
                    })
                    .collect(),
            });
        }
        let labels = vec![("cluster".to_string(), "a".to_string())];
        let shared = render_shared(&v, &labels);
        let mut got = Vec::new();
        shared.inflate_into(&mut got).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), text(&v, &labels));
    }
}
