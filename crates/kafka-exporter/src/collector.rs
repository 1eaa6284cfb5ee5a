//! The background collector: every `--refresh.metadata` it reads the cluster into a new
//! [`View`] and swaps it in. Scrapes only ever read the last view, so a slow or absent cluster
//! never slows a scrape; a failed collection keeps the last snapshot (with `kafka_up` 0).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::cli::Config;
use crate::lag::History;
use crate::snapshot::{Broker, Group, GroupOffset, Partition, Snapshot, Topic, View};

/// Time allowed for one request to the cluster.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// High-watermark samples kept per partition for lag in seconds.
const HISTORY_POINTS: usize = 60;
/// Most threads used for concurrent requests, whatever --topic.workers says.
const MAX_THREADS: usize = 32;

/// The last view, shared with the HTTP side.
#[derive(Default)]
pub struct Shared {
    view: Mutex<Arc<View>>,
}

impl Shared {
    pub fn get(&self) -> Arc<View> {
        match self.view.lock() {
            Ok(v) => Arc::clone(&v),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn set(&self, v: View) {
        let v = Arc::new(v);
        match self.view.lock() {
            Ok(mut g) => *g = v,
            Err(p) => *p.into_inner() = v,
        }
    }
}

/// librdkafka settings from the flags.
pub fn client_config(cfg: &Config) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cfg.servers.join(","))
        .set("client.id", "kafka_exporter")
        .set("enable.auto.commit", "false")
        .set("socket.timeout.ms", "10000")
        .set(
            "allow.auto.create.topics",
            if cfg.allow_auto_topic_creation {
                "true"
            } else {
                "false"
            },
        )
        // High watermarks as upstream (sarama) reads them, not the last stable offset.
        .set("isolation.level", "read_uncommitted")
        // librdkafka would otherwise ask every broker for client-telemetry subscriptions
        // (KIP-714) every few seconds: requests that tell the exporter nothing.
        .set("enable.metrics.push", "false")
        .set("log_level", "3");
    let protocol = match (cfg.sasl.is_some(), cfg.tls.is_some()) {
        (false, false) => "plaintext",
        (false, true) => "ssl",
        (true, false) => "sasl_plaintext",
        (true, true) => "sasl_ssl",
    };
    c.set("security.protocol", protocol);
    if let Some((mech, user, pass)) = &cfg.sasl {
        c.set("sasl.mechanism", mech.librdkafka_name());
        if !user.is_empty() {
            c.set("sasl.username", user);
        }
        if !pass.is_empty() {
            c.set("sasl.password", pass);
        }
        if !cfg.sasl_service_name.is_empty() {
            c.set("sasl.kerberos.service.name", &cfg.sasl_service_name);
        }
    }
    if let Some(tls) = &cfg.tls {
        if let Some(f) = &tls.ca_file {
            c.set("ssl.ca.location", f);
        }
        if let Some(f) = &tls.cert_file {
            c.set("ssl.certificate.location", f);
        }
        if let Some(f) = &tls.key_file {
            c.set("ssl.key.location", f);
        }
        if tls.insecure_skip_verify {
            c.set("enable.ssl.certificate.verification", "false")
                .set("ssl.endpoint.identification.algorithm", "none");
        }
    }
    c
}

/// Creates (and drops) a client with the flags' settings, so that settings librdkafka rejects
/// (a mechanism this build cannot speak, an unreadable CA or key) are a usage error at start
/// rather than a collection error forever. Nothing is connected yet.
pub fn check_client_config(cfg: &Config) -> Result<(), String> {
    client_config(cfg)
        .create::<BaseConsumer>()
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Runs collections forever on the calling thread.
pub fn run(cfg: Config, shared: Arc<Shared>) {
    let mut c = Collector {
        cfg,
        shared,
        main: None,
        histories: HashMap::new(),
        errors: 0,
        last: View::default(),
    };
    loop {
        let start = Instant::now();
        // A bug in one collection must not stop the next ones (the view would go stale and
        // /healthz would say so, but nothing would recover).
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.collect_once())).is_err() {
            tracing::error!("collection panicked; retrying at the next interval");
            c.errors += 1;
        }
        let next = start + c.cfg.interval;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

struct Collector {
    cfg: Config,
    shared: Arc<Shared>,
    main: Option<Arc<BaseConsumer>>,
    histories: Histories,
    errors: u64,
    last: View,
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Collector {
    fn collect_once(&mut self) {
        let started = Instant::now();
        let now = now_unix();
        let result = self.collect(now);
        let mut view = self.last.clone();
        view.last_duration = Some(started.elapsed().as_secs_f64());
        match result {
            Ok(snapshot) => {
                view.snapshot = Arc::new(snapshot);
                view.up = true;
                view.last_success = Some(now);
            }
            Err(e) => {
                self.errors += 1;
                tracing::warn!(err = %e, "collection failed; serving the last snapshot");
                view.up = false;
            }
        }
        view.errors_total = self.errors;
        view.rendered = Some(crate::snapshot::render_shared(&view, &self.cfg.labels));
        self.last = view.clone();
        self.shared.set(view);
        // The collection's requests and the rendering freed far more than the snapshot keeps.
        exporter_core::release_free_memory();
    }

    fn main_client(&mut self) -> Result<Arc<BaseConsumer>, String> {
        if let Some(c) = &self.main {
            return Ok(Arc::clone(c));
        }
        let c: Arc<BaseConsumer> = Arc::new(
            client_config(&self.cfg)
                .create()
                .map_err(|e| format!("creating the Kafka client: {e}"))?,
        );
        self.main = Some(Arc::clone(&c));
        Ok(c)
    }

    fn collect(&mut self, now: f64) -> Result<Snapshot, String> {
        let client = self.main_client()?;
        let md = client
            .fetch_metadata(None, REQUEST_TIMEOUT)
            .map_err(|e| format!("metadata: {e}"))?;
        let mut brokers: Vec<Broker> = md
            .brokers()
            .iter()
            .map(|b| Broker {
                id: b.id(),
                address: format!("{}:{}", b.host(), b.port()),
            })
            .collect();
        brokers.sort_by_key(|b| b.id);
        let mut topics: Vec<Topic> = md
            .topics()
            .iter()
            .filter(|t| {
                self.cfg.topic_filter.is_match(t.name())
                    && !self.cfg.topic_exclude.is_match(t.name())
            })
            .map(|t| {
                let mut partitions: Vec<Partition> = t
                    .partitions()
                    .iter()
                    .map(|p| Partition {
                        id: p.id(),
                        leader: p.leader(),
                        replicas: p.replicas().to_vec(),
                        isr: p.isr().len(),
                        oldest: None,
                        newest: None,
                    })
                    .collect();
                partitions.sort_by_key(|p| p.id);
                Topic {
                    name: t.name().to_string(),
                    partitions,
                }
            })
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));

        // Watermarks, batched per leader broker (one ListOffsets each for earliest and latest),
        // leaders concurrently: the number of requests grows with brokers, not partitions, and
        // a broker that is down only costs its own partitions. Partitions a batch answered with
        // an error are retried one by one.
        let mut by_leader: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
        for t in &topics {
            for p in &t.partitions {
                if p.leader >= 0 {
                    by_leader
                        .entry(p.leader)
                        .or_default()
                        .push((t.name.clone(), p.id));
                }
            }
        }
        let batches: Vec<Vec<(String, i32)>> = by_leader.into_values().collect();
        let batch_results = parallel(&batches, self.cfg.workers, |parts| {
            let newest = batched_offsets(&client, parts, Offset::End);
            // A leader that did not answer the first request is not asked again.
            let oldest = match &newest {
                Ok(_) => batched_offsets(&client, parts, Offset::Beginning),
                Err(_) => Err("skipped".to_string()),
            };
            (newest, oldest)
        });
        let mut errors = 0u64;
        let mut newest = HashMap::new();
        let mut oldest = HashMap::new();
        let mut retry: Vec<(String, i32)> = Vec::new();
        for (parts, (n, o)) in batches.iter().zip(batch_results) {
            match (n, o) {
                (Ok(n), Ok(o)) => {
                    retry.extend(
                        parts
                            .iter()
                            .filter(|k| !n.contains_key(*k) || !o.contains_key(*k))
                            .cloned(),
                    );
                    newest.extend(n);
                    oldest.extend(o);
                }
                (n, o) => {
                    // The leader did not answer (down, or timed out): its partitions keep no
                    // offsets in this snapshot.
                    errors += 1;
                    let e = n.err().or(o.err()).unwrap_or_default();
                    tracing::debug!(err = %e, partitions = parts.len(), "watermarks of a leader");
                }
            }
        }
        let results = parallel(&retry, self.cfg.workers, |(t, p)| {
            client.fetch_watermarks(t, *p, REQUEST_TIMEOUT)
        });
        for (k, r) in retry.into_iter().zip(results) {
            match r {
                Ok((low, high)) => {
                    newest.insert(k.clone(), high);
                    oldest.insert(k, low);
                }
                Err(e) => {
                    errors += 1;
                    tracing::debug!(topic = %k.0, partition = k.1, err = %e, "watermarks");
                }
            }
        }
        for t in &mut topics {
            for p in &mut t.partitions {
                let k = (t.name.clone(), p.id);
                p.newest = newest.get(&k).copied();
                p.oldest = oldest.get(&k).copied();
            }
        }

        // Groups: list and describe (state, members, assignments) in one call.
        let mut groups = Vec::new();
        let mut groups_failed = false;
        match client.fetch_group_list(None, REQUEST_TIMEOUT) {
            Ok(list) => {
                for g in list.groups() {
                    if !self.cfg.group_filter.is_match(g.name())
                        || self.cfg.group_exclude.is_match(g.name())
                    {
                        continue;
                    }
                    let assigned: Vec<(String, i32)> = if self.cfg.offset_show_all {
                        Vec::new()
                    } else if g.protocol_type() == "consumer" {
                        g.members()
                            .iter()
                            .filter_map(|m| m.assignment())
                            .flat_map(parse_assignment)
                            .collect()
                    } else {
                        // Connect workers and other protocols assign something else.
                        Vec::new()
                    };
                    groups.push((
                        Group {
                            name: g.name().to_string(),
                            state: g.state().to_string(),
                            members: g.members().len(),
                            offsets: Vec::new(),
                        },
                        assigned,
                    ));
                }
            }
            Err(e) => {
                errors += 1;
                tracing::warn!(err = %e, "listing consumer groups");
                groups_failed = true;
            }
        }
        groups.sort_by(|a, b| a.0.name.cmp(&b.0.name));

        // Committed offsets: one OffsetFetch per group (admin API on the shared client),
        // groups concurrently with a bound. With --offset.show-all (the default) the request
        // names no partitions, so the broker answers with what the group committed: its size
        // grows with the group, not with the cluster. Upstream asks for every partition of
        // every topic and drops the topics where all are -1; `fill_consumed_topics` gives the
        // same output.
        let offset_results = parallel(&groups, self.cfg.workers.min(16), |(g, assigned)| {
            if self.cfg.offset_show_all {
                crate::admin::list_group_offsets(&client, &g.name, None, REQUEST_TIMEOUT)
                    .map(|got| fill_consumed_topics(got, &topics))
            } else {
                let cfg = &self.cfg;
                let parts: Vec<(String, i32)> = assigned
                    .iter()
                    .filter(|(t, _)| cfg.topic_filter.is_match(t) && !cfg.topic_exclude.is_match(t))
                    .cloned()
                    .collect();
                crate::admin::list_group_offsets(&client, &g.name, Some(&parts), REQUEST_TIMEOUT)
            }
        });

        // History only for partitions some group has committed to: that bounds its memory by
        // what is consumed, not by the size of the cluster. When listing groups failed, keep
        // every history we have.
        let consumed: std::collections::HashSet<(&str, i32)> = offset_results
            .iter()
            .flatten()
            .flatten()
            .filter(|o| o.committed >= 0)
            .map(|o| (o.topic.as_str(), o.partition))
            .collect();
        let histories = &mut self.histories;
        let known: std::collections::HashSet<(String, i32)> = if groups_failed {
            histories.keys().cloned().collect()
        } else {
            Default::default()
        };
        record_watermarks(
            histories,
            &topics,
            |t, p| consumed.contains(&(t, p)) || known.contains(&(t.to_string(), p)),
            now,
        );

        let mut out_groups = Vec::with_capacity(groups.len());
        for ((mut g, _), r) in groups.into_iter().zip(offset_results) {
            match r {
                Ok(mut offsets) => {
                    annotate_lag_seconds(&mut offsets, &self.histories, now);
                    g.offsets = offsets;
                }
                Err(e) => {
                    errors += 1;
                    tracing::warn!(group = %g.name, err = %e, "committed offsets");
                }
            }
            out_groups.push(g);
        }
        if groups_failed {
            // Keep the groups of the last snapshot rather than dropping them from the output.
            out_groups = self.last.snapshot.groups.clone();
        }
        self.errors += errors;
        Ok(Snapshot {
            brokers,
            topics,
            groups: out_groups,
        })
    }
}

/// The earliest (`Offset::Beginning`) or latest (`Offset::End`) offset of every partition in
/// `parts`, in one ListOffsets request per leader broker. Partitions that failed are absent.
pub fn batched_offsets(
    client: &BaseConsumer,
    parts: &[(String, i32)],
    which: Offset,
) -> Result<HashMap<(String, i32), i64>, String> {
    let mut tpl = TopicPartitionList::new();
    for (t, p) in parts {
        tpl.add_partition_offset(t, *p, which)
            .map_err(|e| e.to_string())?;
    }
    if tpl.count() == 0 {
        return Ok(HashMap::new());
    }
    let got = client
        .offsets_for_times(tpl, REQUEST_TIMEOUT)
        .map_err(|e| e.to_string())?;
    Ok(got
        .elements()
        .iter()
        .filter(|e| e.error().is_ok())
        .filter_map(|e| match e.offset() {
            Offset::Offset(n) if n >= 0 => Some(((e.topic().to_string(), e.partition()), n)),
            _ => None,
        })
        .collect())
}

/// The committed offsets `got` of a group (only partitions it committed to), completed as
/// upstream reports them: every partition of each topic the group consumes, -1 where it has
/// committed nothing; topics not in `topics` (filtered out, or deleted) are left out. Sorted by
/// topic and partition.
pub fn fill_consumed_topics(got: Vec<GroupOffset>, topics: &[Topic]) -> Vec<GroupOffset> {
    let mut committed: HashMap<(String, i32), GroupOffset> = got
        .into_iter()
        .filter(|o| o.committed >= 0)
        .map(|o| ((o.topic.clone(), o.partition), o))
        .collect();
    let consumed: std::collections::HashSet<String> =
        committed.keys().map(|(t, _)| t.clone()).collect();
    let mut out = Vec::new();
    for t in topics.iter().filter(|t| consumed.contains(&t.name)) {
        for p in &t.partitions {
            out.push(
                committed
                    .remove(&(t.name.clone(), p.id))
                    .unwrap_or_else(|| GroupOffset {
                        topic: t.name.clone(),
                        partition: p.id,
                        committed: -1,
                        lag_seconds: None,
                    }),
            );
        }
    }
    out
}

type Histories = HashMap<(String, i32), History>;

/// Adds this collection's high watermarks to the histories of the partitions `keep` selects;
/// other partitions (gone, filtered out, not consumed) lose theirs.
pub fn record_watermarks(
    histories: &mut Histories,
    topics: &[Topic],
    keep: impl Fn(&str, i32) -> bool,
    now: f64,
) {
    let mut seen = BTreeMap::new();
    for t in topics {
        for p in &t.partitions {
            if !keep(&t.name, p.id) {
                continue;
            }
            if let Some(high) = p.newest {
                seen.insert((t.name.clone(), p.id), high);
            }
        }
    }
    histories.retain(|k, _| seen.contains_key(k));
    for (k, high) in seen {
        histories
            .entry(k)
            .or_insert_with(|| History::new(HISTORY_POINTS))
            .push(now, high);
    }
}

/// Sets each offset's lag in seconds from its partition's history.
pub fn annotate_lag_seconds(offsets: &mut [GroupOffset], histories: &Histories, now: f64) {
    for o in offsets {
        o.lag_seconds = histories
            .get(&(o.topic.clone(), o.partition))
            .and_then(|h| h.lag_seconds(o.committed, now));
    }
}

/// Runs `f` over `items` on up to `workers` threads, results in input order.
fn parallel<T: Sync, R: Send>(items: &[T], workers: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = workers.clamp(1, MAX_THREADS).min(items.len());
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The topic-partitions of a consumer-protocol member assignment (version, then an array of
/// topic name + partition array, then user data). Garbled input yields what was read so far.
pub fn parse_assignment(b: &[u8]) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    let mut pos = 2usize; // version
    let i32_at = |pos: usize| -> Option<i32> {
        Some(i32::from_be_bytes(b.get(pos..pos + 4)?.try_into().ok()?))
    };
    let Some(topics) = i32_at(pos) else {
        return out;
    };
    pos += 4;
    for _ in 0..topics.max(0) {
        let Some(len) = b
            .get(pos..pos + 2)
            .map(|s| i16::from_be_bytes([s[0], s[1]]))
        else {
            return out;
        };
        pos += 2;
        let Some(name) = b.get(pos..pos + len.max(0) as usize) else {
            return out;
        };
        let name = String::from_utf8_lossy(name).into_owned();
        pos += len.max(0) as usize;
        let Some(n) = i32_at(pos) else { return out };
        pos += 4;
        for _ in 0..n.max(0) {
            let Some(p) = i32_at(pos) else { return out };
            pos += 4;
            out.push((name.clone(), p));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_bytes() {
        // version 0, 1 topic "ab" with partitions 0 and 3, empty user data.
        let b = [
            0, 0, 0, 0, 0, 1, 0, 2, b'a', b'b', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0,
        ];
        assert_eq!(
            parse_assignment(&b),
            vec![("ab".to_string(), 0), ("ab".to_string(), 3)]
        );
        assert_eq!(parse_assignment(&b[..9]), vec![]);
        assert_eq!(parse_assignment(&[]), vec![]);
    }

    #[test]
    fn lag_seconds_from_collections() {
        let topic = |high: Option<i64>| {
            vec![Topic {
                name: "t".into(),
                partitions: vec![Partition {
                    id: 0,
                    newest: high,
                    ..Partition::default()
                }],
            }]
        };
        let mut h = Histories::new();
        // Collections every 30 s; the head moves 0 -> 300 -> 600.
        record_watermarks(&mut h, &topic(Some(0)), |_, _| true, 1000.0);
        record_watermarks(&mut h, &topic(Some(300)), |_, _| true, 1030.0);
        record_watermarks(&mut h, &topic(Some(600)), |_, _| true, 1060.0);
        let off = |committed| GroupOffset {
            topic: "t".into(),
            partition: 0,
            committed,
            lag_seconds: None,
        };
        let mut offsets = vec![off(450), off(600), off(-1), off(100)];
        annotate_lag_seconds(&mut offsets, &h, 1060.0);
        let got: Vec<Option<f64>> = offsets.iter().map(|o| o.lag_seconds).collect();
        // 450 was the head at 1045 (halfway from 300 to 600); 100 at 1010.
        assert_eq!(got, vec![Some(15.0), Some(0.0), None, Some(50.0)]);

        // A partition without a watermark this time loses its history.
        record_watermarks(&mut h, &topic(None), |_, _| true, 1090.0);
        assert!(h.is_empty());
        // Nor does a partition no group consumes.
        record_watermarks(&mut h, &topic(Some(5)), |_, _| true, 1100.0);
        assert_eq!(h.len(), 1);
        record_watermarks(&mut h, &topic(Some(6)), |_, _| false, 1110.0);
        assert!(h.is_empty());
    }

    fn cfg(args: &[&str]) -> Config {
        let mut argv = vec!["kafka-exporter"];
        argv.extend_from_slice(args);
        crate::Cli::parse_from(argv).unwrap().config().unwrap()
    }

    #[test]
    fn librdkafka_accepts_the_security_settings() {
        check_client_config(&cfg(&[])).unwrap();
        check_client_config(&cfg(&[
            "--sasl.enabled",
            "--sasl.mechanism=scram-sha512",
            "--sasl.username=u",
            "--sasl.password=p",
            "--tls.enabled",
            "--tls.insecure-skip-tls-verify",
        ]))
        .unwrap();
        check_client_config(&cfg(&[
            "--sasl.enabled",
            "--sasl.mechanism=plain",
            "--sasl.username=u",
            "--sasl.password=p",
        ]))
        .unwrap();
        // librdkafka wants both for PLAIN and SCRAM.
        let e =
            check_client_config(&cfg(&["--sasl.enabled", "--sasl.mechanism=plain"])).unwrap_err();
        assert!(e.contains("sasl.username"), "{e}");
        // No Cyrus SASL in this build.
        let e =
            check_client_config(&cfg(&["--sasl.enabled", "--sasl.mechanism=gssapi"])).unwrap_err();
        assert!(e.contains("GSSAPI"), "{e}");
        // A CA file that is not PEM.
        let dir = std::env::temp_dir().join(format!("kx-ca-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate").unwrap();
        let ca = format!("--tls.ca-file={}", dir.display());
        let r = check_client_config(&cfg(&["--tls.enabled", &ca]));
        std::fs::remove_file(&dir).unwrap();
        assert!(r.is_err());
    }

    #[test]
    fn consumed_topics_are_filled_with_minus_one() {
        let topic = |name: &str, n: i32| Topic {
            name: name.into(),
            partitions: (0..n)
                .map(|id| Partition {
                    id,
                    ..Partition::default()
                })
                .collect(),
        };
        let off = |t: &str, partition, committed| GroupOffset {
            topic: t.into(),
            partition,
            committed,
            lag_seconds: None,
        };
        let topics = [topic("a", 3), topic("b", 1), topic("c", 2)];
        // "gone" was deleted (or filtered out); "c" has only a -1.
        let got = vec![
            off("gone", 0, 7),
            off("a", 1, 4),
            off("c", 0, -1),
            off("b", 0, 9),
        ];
        assert_eq!(
            fill_consumed_topics(got, &topics),
            vec![
                off("a", 0, -1),
                off("a", 1, 4),
                off("a", 2, -1),
                off("b", 0, 9)
            ]
        );
    }

    #[test]
    fn parallel_keeps_order() {
        let items: Vec<u32> = (0..100).collect();
        let out = parallel(&items, 8, |x| x * 2);
        assert_eq!(out, (0..100).map(|x| x * 2).collect::<Vec<_>>());
    }
}
