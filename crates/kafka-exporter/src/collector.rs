//! The background collector: every `--refresh.metadata` it reads the cluster into a new
//! [`View`] and swaps it in. Scrapes only ever read the last view, so a slow or absent cluster
//! never slows a scrape; a failed collection keeps the last snapshot (with `kafka_up` 0), and a
//! broker that fails keeps the last values of its own partitions and groups, never removing
//! those of the others.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use exporter_core::InFlight;
use futures_util::future::join_all;

use crate::cli::{Config, Mechanism};
use crate::client::cluster::{Metadata, Settings};
use crate::client::token::Tokens;
use crate::client::{ClientError, Cluster};
use crate::groups;
use crate::lag::History;
use crate::snapshot::{Broker, GroupOffset, Partition, Snapshot, Topic, View};

/// Time allowed for one request to the cluster (and for connecting to a broker).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// High-watermark samples kept per partition for lag in seconds.
const HISTORY_POINTS: usize = 60;

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
        let old = match self.view.lock() {
            Ok(mut g) => std::mem::replace(&mut *g, v),
            Err(p) => std::mem::replace(&mut *p.into_inner(), v),
        };
        // Dropped here, not under the lock: the old view is usually the last owner of the
        // previous snapshot, and freeing one of 10,000 partitions and 1,000 groups on a loaded
        // machine can hold up a scrape waiting in `get` (one scrape of 2.0 s in bench-kafka).
        drop(old);
    }
}

/// How the client reaches the brokers, from the flags. TLS files are read here, so a bad
/// certificate or key is a usage error at start rather than a collection error forever.
pub fn client_settings(cfg: &Config) -> Result<Settings, String> {
    let tls = match &cfg.tls {
        Some(t) => Some((crate::client::auth::tls_config(t)?, t.clone())),
        None => None,
    };
    Ok(Settings {
        bootstrap: cfg.servers.clone(),
        client_id: "kafka_exporter".into(),
        tls,
        sasl: cfg.sasl.clone(),
        tokens: token_source(cfg)?.map(Arc::new),
        gssapi: gssapi(cfg)?.map(Arc::new),
        request_timeout: REQUEST_TIMEOUT,
        allow_auto_topic_creation: cfg.allow_auto_topic_creation,
    })
}

/// GSSAPI's library, opened now so that a host without it stops at start with one line.
fn gssapi(cfg: &Config) -> Result<Option<crate::client::gssapi::Gssapi>, String> {
    use crate::client::gssapi::{Gssapi, LIBRARY};
    let Some((sasl, kerberos)) = cfg
        .sasl
        .as_ref()
        .and_then(|s| s.kerberos.as_ref().map(|k| (s, k)))
    else {
        return Ok(None);
    };
    // KAFKA_EXPORTER_GSSAPI_LIBRARY: another path or name of MIT's library (a non-standard
    // install; the test of a missing library).
    let library = std::env::var("KAFKA_EXPORTER_GSSAPI_LIBRARY").unwrap_or_else(|_| LIBRARY.into());
    Gssapi::load(kerberos, &sasl.password, &library).map(Some)
}

/// Where OAUTHBEARER tokens come from, when the mechanism needs them: the OIDC token endpoint,
/// or AWS MSK IAM signing. Nothing is fetched here: the first connection asks.
fn token_source(cfg: &Config) -> Result<Option<Tokens>, String> {
    use crate::client::{aws_iam::MskIam, oidc::ClientCredentials};
    let Some(sasl) = cfg.sasl.as_ref() else {
        return Ok(None);
    };
    Ok(match sasl.mechanism {
        Mechanism::OAuthBearer => Some(Tokens::new(Box::new(ClientCredentials::new(
            &sasl.token_url,
            sasl.username.clone(),
            sasl.password.clone(),
            sasl.scopes.clone(),
        )?))),
        Mechanism::AwsIam => Some(Tokens::new(Box::new(MskIam::new(sasl.aws_region.clone())))),
        _ => None,
    })
}

/// Runs collections forever on the calling thread (its own single-threaded runtime: every
/// request of a collection is concurrent on it, so no thread pool is needed).
/// `collecting` is 1 while a collection runs (what a shutdown reports as left behind).
pub fn run(cfg: Config, settings: Settings, shared: Arc<Shared>, collecting: Arc<AtomicI64>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(err = %e, "cannot start the collector's runtime");
            return;
        }
    };
    let mut c = Collector {
        cluster: Cluster::new(settings),
        cfg,
        shared,
        histories: HashMap::new(),
        errors: 0,
        last: View::default(),
        memory: groups::Memory::default(),
        last_error: None,
    };
    rt.block_on(async move {
        loop {
            let start = Instant::now();
            let guard = InFlight::enter(&collecting);
            // A bug in one collection must not stop the next ones (the view would go stale and
            // /healthz would say so, but nothing would recover).
            let once = std::panic::AssertUnwindSafe(c.collect_once());
            if futures_util::FutureExt::catch_unwind(once).await.is_err() {
                tracing::error!("collection panicked; retrying at the next interval");
                c.errors += 1;
            }
            drop(guard);
            tokio::time::sleep_until((start + c.cfg.interval).into()).await;
        }
    });
}

struct Collector {
    cluster: Cluster,
    cfg: Config,
    shared: Arc<Shared>,
    histories: Histories,
    errors: u64,
    last: View,
    memory: groups::Memory,
    /// The last collection failure logged, so a broker that stays down is one line, not one
    /// per interval.
    last_error: Option<String>,
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Collector {
    async fn collect_once(&mut self) {
        let started = Instant::now();
        let now = now_unix();
        let result = self.collect(now).await;
        let mut view = self.last.clone();
        view.last_duration = Some(started.elapsed().as_secs_f64());
        match result {
            Ok(snapshot) => {
                view.snapshot = Arc::new(snapshot);
                view.up = true;
                view.last_success = Some(now);
                if self.last_error.take().is_some() {
                    tracing::info!("collection succeeded again");
                }
            }
            Err(e) => {
                self.errors += 1;
                let msg = e.to_string();
                if self.last_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!(err = %msg, "collection failed; serving the last snapshot");
                    self.last_error = Some(msg);
                } else {
                    tracing::debug!(err = %msg, "collection failed again");
                }
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

    async fn collect(&mut self, now: f64) -> Result<Snapshot, ClientError> {
        let md = self.cluster.metadata().await?;
        let brokers: Vec<Broker> = md
            .brokers
            .iter()
            .map(|(id, address)| Broker {
                id: *id,
                address: address.clone(),
            })
            .collect();
        let topic_ids: HashMap<uuid::Uuid, String> =
            md.topics.iter().map(|t| (t.id, t.name.clone())).collect();
        let mut topics = self.topics(&md);
        let mut errors = self.watermarks(&mut topics).await;

        let broker_ids: Vec<i32> = md.brokers.iter().map(|(id, _)| *id).collect();
        let outcome = groups::collect(
            &self.cluster,
            &self.cfg,
            &broker_ids,
            &topics,
            &topic_ids,
            &self.last.snapshot.groups,
            &mut self.memory,
        )
        .await;
        errors += outcome.errors;
        let mut out_groups = outcome.groups;

        // History only for partitions some group has committed to: that bounds its memory by
        // what is consumed, not by the size of the cluster.
        let consumed: std::collections::HashSet<(&str, i32)> = out_groups
            .iter()
            .flat_map(|g| &g.offsets)
            .filter(|o| o.committed >= 0)
            .map(|o| (o.topic.as_str(), o.partition))
            .collect();
        record_watermarks(
            &mut self.histories,
            &topics,
            |t, p| consumed.contains(&(t, p)),
            now,
        );
        for g in &mut out_groups {
            annotate_lag_seconds(&mut g.offsets, &self.histories, now);
        }
        self.errors += errors;
        Ok(Snapshot {
            brokers,
            topics,
            groups: out_groups,
        })
    }

    /// The topics that pass the filters, sorted, without offsets yet.
    fn topics(&self, md: &Metadata) -> Vec<Topic> {
        let mut topics: Vec<Topic> = md
            .topics
            .iter()
            .filter(|t| {
                self.cfg.topic_filter.is_match(&t.name) && !self.cfg.topic_exclude.is_match(&t.name)
            })
            .map(|t| Topic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| Partition {
                        id: p.id,
                        leader: p.leader,
                        replicas: p.replicas.clone(),
                        isr: p.isr.len(),
                        oldest: None,
                        newest: None,
                    })
                    .collect(),
            })
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        topics
    }

    /// Earliest and latest offsets: one ListOffsets of each kind per leader, leaders
    /// concurrently, so requests grow with brokers, not partitions. A leader that does not
    /// answer keeps the last values of its partitions (the others are unaffected). Returns the
    /// number of failed requests.
    async fn watermarks(&self, topics: &mut [Topic]) -> u64 {
        let mut by_leader: BTreeMap<i32, Vec<(String, i32)>> = BTreeMap::new();
        for t in topics.iter() {
            for p in &t.partitions {
                if p.leader >= 0 {
                    by_leader
                        .entry(p.leader)
                        .or_default()
                        .push((t.name.clone(), p.id));
                }
            }
        }
        let results = join_all(by_leader.iter().map(|(&leader, parts)| async move {
            let (newest, oldest) = tokio::join!(
                self.cluster.list_offsets(leader, parts, -1),
                self.cluster.list_offsets(leader, parts, -2)
            );
            (leader, newest, oldest)
        }))
        .await;
        let mut errors = 0;
        let mut newest = HashMap::new();
        let mut oldest = HashMap::new();
        for (leader, n, o) in results {
            match (n, o) {
                (Ok(n), Ok(o)) => {
                    newest.extend(n);
                    oldest.extend(o);
                }
                (Err(e), _) | (_, Err(e)) => {
                    errors += 1;
                    tracing::debug!(leader, err = %e, "watermarks");
                }
            }
        }
        let last = &self.last.snapshot;
        for t in topics.iter_mut() {
            let before = last
                .topics
                .binary_search_by(|x| x.name.cmp(&t.name))
                .ok()
                .map(|i| &last.topics[i]);
            for p in &mut t.partitions {
                let k = (t.name.clone(), p.id);
                let prev = before.and_then(|b| b.partitions.iter().find(|x| x.id == p.id));
                p.newest = newest.get(&k).copied().or(prev.and_then(|x| x.newest));
                p.oldest = oldest.get(&k).copied().or(prev.and_then(|x| x.oldest));
            }
        }
        errors
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
