//! The cluster as the client sees it: brokers from metadata, one connection per broker, the
//! group-coordinator cache, and the batched requests the collector makes.
//!
//! Like sarama's client (which is why kafka_exporter stays right when a coordinator dies):
//! coordinators are cached by group and forgotten on NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
//! a lost connection or a timeout; the caller then asks FindCoordinator again in the same
//! collection. A dead broker costs one deadline per collection, not one per group.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup as NewGroup;
use kafka_protocol::messages::describe_groups_response::DescribedGroup as ClassicGroup;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    BrokerId, ConsumerGroupDescribeRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    ListGroupsRequest, ListOffsetsRequest, MetadataRequest, MetadataResponse, OffsetFetchRequest,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rustls::ClientConfig;
use tokio::net::TcpStream;

use super::connection::Connection;
use super::token::Tokens;
use super::{auth, ClientError};
use crate::cli::{Sasl, TlsConfig};

/// How to reach and authenticate to the brokers.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bootstrap: Vec<String>,
    pub client_id: String,
    pub tls: Option<(Arc<ClientConfig>, TlsConfig)>,
    pub sasl: Option<Sasl>,
    /// Bearer tokens for OAUTHBEARER and AWS MSK IAM.
    pub tokens: Option<Arc<Tokens>>,
    /// MIT's GSSAPI library and the Kerberos credentials, for GSSAPI.
    pub gssapi: Option<Arc<super::gssapi::Gssapi>>,
    /// The deadline of one request (and of connecting plus authenticating).
    pub request_timeout: Duration,
    pub allow_auto_topic_creation: bool,
}

/// One partition as metadata describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionMeta {
    pub id: i32,
    /// -1 without a leader.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopicMeta {
    pub name: String,
    pub id: uuid::Uuid,
    pub partitions: Vec<PartitionMeta>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// (id, "host:port"), by id.
    pub brokers: Vec<(i32, String)>,
    pub controller: i32,
    pub topics: Vec<TopicMeta>,
}

/// A group listed by the broker that coordinates it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub name: String,
    pub protocol_type: String,
    pub state: String,
    /// "classic" or "consumer" (KIP-848); empty from brokers before Kafka 3.8.
    pub group_type: String,
}

/// What a describe says of a group, whichever protocol it uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Described {
    pub state: String,
    pub members: usize,
    /// Topic-partitions assigned to its members (consumer protocol or KIP-848 groups only).
    pub assigned: Vec<(String, i32)>,
}

/// The committed offsets of one group: (topic, partition, offset), -1 where none.
pub type Committed = Vec<(String, i32, i64)>;

/// A group and the partitions to ask its offsets of (`None`: all it committed).
pub type OffsetQuery = (String, Option<Vec<(String, i32)>>);

/// Per group: the answer, or the error code the coordinator gave for it.
pub type PerGroup<T> = HashMap<String, Result<T, i16>>;

pub struct Cluster {
    settings: Settings,
    /// Connections by address.
    conns: Mutex<HashMap<String, Slot>>,
    /// Broker addresses by id, from the last metadata.
    brokers: Mutex<BTreeMap<i32, String>>,
    /// Group coordinators by group name.
    coordinators: Mutex<HashMap<String, i32>>,
    /// Rotates the broker asked for metadata, so a dead first broker is not always tried first.
    next: std::sync::atomic::AtomicUsize,
}

/// One broker address: its connection, the lock that makes concurrent requests share one
/// attempt to open it, and the last failed attempt.
#[derive(Default)]
struct Slot {
    conn: Option<Arc<Connection>>,
    opening: Arc<tokio::sync::Mutex<()>>,
    failed: Option<(std::time::Instant, ClientError)>,
}

/// How long a failed attempt to open a connection answers for the address. A collection sends
/// several requests to each broker at once; without this, a broker that does not answer (a
/// blackholed address) would cost each of them its own connect deadline.
const FAILED_FOR: Duration = Duration::from_secs(1);

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn name(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

impl Cluster {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            conns: Mutex::new(HashMap::new()),
            brokers: Mutex::new(BTreeMap::new()),
            coordinators: Mutex::new(HashMap::new()),
            next: Default::default(),
        }
    }

    fn timeout(&self) -> Duration {
        self.settings.request_timeout
    }

    /// The address of broker `id`, as the last metadata gave it.
    pub fn address(&self, id: i32) -> Option<String> {
        locked(&self.brokers).get(&id).cloned()
    }

    /// A usable connection to `addr`, opened (and authenticated) if needed. Concurrent callers
    /// share one attempt; a failed attempt answers for the address for [`FAILED_FOR`].
    pub async fn connection(&self, addr: &str) -> Result<Arc<Connection>, ClientError> {
        let opening = {
            let mut conns = locked(&self.conns);
            let slot = conns.entry(addr.to_string()).or_default();
            if let Some(c) = slot.conn.as_ref().filter(|c| c.is_usable()) {
                return Ok(Arc::clone(c));
            }
            Arc::clone(&slot.opening)
        };
        let _turn = opening.lock().await;
        // Whoever held the lock before us may have opened it, or just failed.
        {
            let conns = locked(&self.conns);
            if let Some(slot) = conns.get(addr) {
                if let Some(c) = slot.conn.as_ref().filter(|c| c.is_usable()) {
                    return Ok(Arc::clone(c));
                }
                if let Some((at, e)) = &slot.failed {
                    if at.elapsed() < FAILED_FOR {
                        return Err(e.clone());
                    }
                }
            }
        }
        let result = match tokio::time::timeout(self.timeout(), self.open(addr)).await {
            Ok(r) => r.map(Arc::new),
            Err(_) => Err(ClientError::Connect {
                broker: addr.to_string(),
                cause: format!("no connection within {:?}", self.timeout()),
            }),
        };
        let mut conns = locked(&self.conns);
        let slot = conns.entry(addr.to_string()).or_default();
        match &result {
            Ok(c) => {
                slot.conn = Some(Arc::clone(c));
                slot.failed = None;
            }
            Err(e) => {
                slot.conn = None;
                slot.failed = Some((std::time::Instant::now(), e.clone()));
            }
        }
        result
    }

    async fn open(&self, addr: &str) -> Result<Connection, ClientError> {
        let connect_err = |e: std::io::Error| ClientError::Connect {
            broker: addr.to_string(),
            cause: e.to_string(),
        };
        let tcp = TcpStream::connect(addr).await.map_err(connect_err)?;
        tcp.set_nodelay(true).map_err(connect_err)?;
        let client_id = &self.settings.client_id;
        let mut conn = match &self.settings.tls {
            None => Connection::start(tcp, addr.to_string(), client_id),
            Some((config, flags)) => {
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let sni = auth::server_name(flags, host)?;
                let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(sni, tcp)
                    .await
                    .map_err(|e| ClientError::Tls {
                        broker: addr.to_string(),
                        cause: e.to_string(),
                    })?;
                Connection::start(tls, addr.to_string(), client_id)
            }
        };
        conn.handshake(self.timeout()).await?;
        if let Some(sasl) = &self.settings.sasl {
            let tokens = self.settings.tokens.as_deref();
            let gssapi = self.settings.gssapi.as_deref();
            let lifetime = auth::authenticate(&conn, sasl, tokens, gssapi, self.timeout()).await?;
            conn.set_session_lifetime(lifetime);
        }
        Ok(conn)
    }

    /// A connection to broker `id`.
    pub async fn broker(&self, id: i32) -> Result<Arc<Connection>, ClientError> {
        let addr = self.address(id).ok_or_else(|| ClientError::NoBroker {
            tried: format!("broker {id} is not in the metadata"),
        })?;
        self.connection(&addr).await
    }

    /// Cluster metadata for every topic, from the first broker that answers: known brokers
    /// first (in turn), then the bootstrap servers.
    pub async fn metadata(&self) -> Result<Metadata, ClientError> {
        let mut candidates: Vec<String> = locked(&self.brokers).values().cloned().collect();
        if !candidates.is_empty() {
            let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let len = candidates.len();
            candidates.rotate_left(n % len);
        }
        for b in &self.settings.bootstrap {
            if !candidates.contains(b) {
                candidates.push(b.clone());
            }
        }
        let mut errors = Vec::new();
        for addr in &candidates {
            match self.metadata_from(addr).await {
                Ok(md) => {
                    *locked(&self.brokers) = md.brokers.iter().cloned().collect();
                    return Ok(md);
                }
                Err(e) => {
                    if matches!(e, ClientError::Auth { .. } | ClientError::Tls { .. }) {
                        // Wrong credentials or certificates: every broker will say the same.
                        return Err(e);
                    }
                    errors.push(e.to_string());
                }
            }
        }
        // In address order, so that the same outage reads the same (and is logged once).
        errors.sort();
        Err(ClientError::NoBroker {
            tried: errors.join("; "),
        })
    }

    async fn metadata_from(&self, addr: &str) -> Result<Metadata, ClientError> {
        let conn = self.connection(addr).await?;
        let req = MetadataRequest::default()
            .with_topics(None)
            .with_allow_auto_topic_creation(self.settings.allow_auto_topic_creation);
        let (resp, _) = conn.call(&req, 12, self.timeout()).await?;
        // A broker always knows at least itself; an answer without brokers is a refusal shaped
        // like a response (Kafka's answer to a request on a connection whose SASL is unfinished,
        // or a top-level error), not an empty cluster.
        if resp.error_code != 0 || resp.brokers.is_empty() {
            return Err(ClientError::Protocol {
                broker: addr.to_string(),
                request: "Metadata",
                cause: format!(
                    "no brokers in the answer (error code {})",
                    super::error_name(resp.error_code)
                ),
            });
        }
        Ok(metadata_from_response(resp))
    }

    /// Offsets of `parts` at `timestamp` (-1 latest, -2 earliest) from their leader `leader`,
    /// in one ListOffsets. Partitions the broker answered with an error are left out.
    pub async fn list_offsets(
        &self,
        leader: i32,
        parts: &[(String, i32)],
        timestamp: i64,
    ) -> Result<HashMap<(String, i32), i64>, ClientError> {
        let conn = self.broker(leader).await?;
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (t, p) in parts {
            by_topic.entry(t).or_default().push(*p);
        }
        let topics = by_topic
            .into_iter()
            .map(|(t, ps)| {
                ListOffsetsTopic::default()
                    .with_name(TopicName(name(t)))
                    .with_partitions(
                        ps.into_iter()
                            .map(|p| {
                                ListOffsetsPartition::default()
                                    .with_partition_index(p)
                                    .with_timestamp(timestamp)
                                    .with_current_leader_epoch(-1)
                            })
                            .collect(),
                    )
            })
            .collect();
        // High watermarks as sarama reads them (read_uncommitted), not the last stable offset.
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(0)
            .with_topics(topics);
        let (resp, _) = conn.call(&req, 7, self.timeout()).await?;
        let mut out = HashMap::new();
        for t in resp.topics {
            for p in t.partitions {
                if p.error_code == 0 && p.offset >= 0 {
                    out.insert((t.name.0.to_string(), p.partition_index), p.offset);
                }
            }
        }
        Ok(out)
    }

    /// The groups broker `id` coordinates (ListGroups goes to each broker: a broker lists only
    /// its own groups). Records `id` as their coordinator.
    pub async fn list_groups(&self, id: i32) -> Result<Vec<Listed>, ClientError> {
        let conn = self.broker(id).await?;
        let (resp, _) = conn
            .call(&ListGroupsRequest::default(), 5, self.timeout())
            .await?;
        if resp.error_code != 0 {
            return Err(ClientError::Broker {
                broker: conn.broker().to_string(),
                request: "ListGroups",
                code: resp.error_code,
            });
        }
        let listed: Vec<Listed> = resp.groups.into_iter().map(listed).collect();
        let mut c = locked(&self.coordinators);
        for g in &listed {
            c.insert(g.name.clone(), id);
        }
        Ok(listed)
    }

    /// The cached coordinator of `group`.
    pub fn coordinator(&self, group: &str) -> Option<i32> {
        locked(&self.coordinators).get(group).copied()
    }

    /// Forgets the coordinators of `groups`.
    pub fn forget_coordinators<'a>(&self, groups: impl IntoIterator<Item = &'a String>) {
        let mut c = locked(&self.coordinators);
        for g in groups {
            c.remove(g);
        }
    }

    /// Keeps only the cached coordinators of `groups`.
    pub fn retain_coordinators(&self, keep: impl Fn(&str) -> bool) {
        locked(&self.coordinators).retain(|g, _| keep(g));
    }

    /// Asks any live broker for the coordinators of `groups` (FindCoordinator v4 carries them
    /// all; older brokers get one request per group) and caches what it answers.
    pub async fn find_coordinators(&self, groups: &[String]) -> Result<(), ClientError> {
        if groups.is_empty() {
            return Ok(());
        }
        let ids: Vec<i32> = locked(&self.brokers).keys().copied().collect();
        let mut last = ClientError::NoBroker {
            tried: "no broker known".into(),
        };
        for id in ids {
            let conn = match self.broker(id).await {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            match self.find_on(&conn, groups).await {
                Ok(found) => {
                    let mut c = locked(&self.coordinators);
                    for (g, id) in found {
                        c.insert(g, id);
                    }
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn find_on(
        &self,
        conn: &Connection,
        groups: &[String],
    ) -> Result<Vec<(String, i32)>, ClientError> {
        let v = conn.version::<FindCoordinatorRequest>(4)?;
        let mut found = Vec::new();
        if v >= 4 {
            let req = FindCoordinatorRequest::default()
                .with_key_type(0)
                .with_coordinator_keys(groups.iter().map(|g| name(g)).collect());
            let resp = conn.send(&req, v, self.timeout()).await?;
            for c in resp.coordinators {
                if c.error_code == 0 && c.node_id.0 >= 0 {
                    found.push((c.key.to_string(), c.node_id.0));
                }
            }
        } else {
            for g in groups {
                let mut req = FindCoordinatorRequest::default().with_key(name(g));
                if v >= 1 {
                    req = req.with_key_type(0);
                }
                let resp = conn.send(&req, v, self.timeout()).await?;
                if resp.error_code == 0 && resp.node_id.0 >= 0 {
                    found.push((g.clone(), resp.node_id.0));
                }
            }
        }
        Ok(found)
    }

    /// DescribeGroups for classic-protocol groups coordinated by broker `id`, in one request.
    pub async fn describe_classic(
        &self,
        id: i32,
        groups: &[String],
    ) -> Result<PerGroup<Described>, ClientError> {
        let conn = self.broker(id).await?;
        let req = DescribeGroupsRequest::default()
            .with_groups(groups.iter().map(|g| GroupId(name(g))).collect());
        let (resp, _) = conn.call(&req, 5, self.timeout()).await?;
        Ok(resp
            .groups
            .into_iter()
            .map(|g| {
                let key = g.group_id.0.to_string();
                if g.error_code != 0 {
                    (key, Err(g.error_code))
                } else {
                    (key, Ok(classic(g)))
                }
            })
            .collect())
    }

    /// ConsumerGroupDescribe for KIP-848 groups coordinated by broker `id`, in one request;
    /// topic ids are named from `topic_names`.
    pub async fn describe_consumer(
        &self,
        id: i32,
        groups: &[String],
        topic_names: &HashMap<uuid::Uuid, String>,
    ) -> Result<PerGroup<Described>, ClientError> {
        let conn = self.broker(id).await?;
        let req = ConsumerGroupDescribeRequest::default()
            .with_group_ids(groups.iter().map(|g| GroupId(name(g))).collect());
        let (resp, _) = conn.call(&req, 1, self.timeout()).await?;
        Ok(resp
            .groups
            .into_iter()
            .map(|g| {
                let key = g.group_id.0.to_string();
                if g.error_code != 0 {
                    (key, Err(g.error_code))
                } else {
                    (key, Ok(consumer(g, topic_names)))
                }
            })
            .collect())
    }

    /// Committed offsets of `groups` (each with the partitions to ask, or `None` for all it
    /// committed) from their coordinator `id`: one OffsetFetch for all of them (v8+), one per
    /// group from older brokers.
    pub async fn offset_fetch(
        &self,
        id: i32,
        groups: &[OffsetQuery],
    ) -> Result<PerGroup<Committed>, ClientError> {
        let conn = self.broker(id).await?;
        let v = conn.version::<OffsetFetchRequest>(9)?;
        let mut out = HashMap::new();
        if v >= 8 {
            let req = OffsetFetchRequest::default().with_groups(
                groups
                    .iter()
                    .map(|(g, parts)| {
                        OffsetFetchRequestGroup::default()
                            .with_group_id(GroupId(name(g)))
                            .with_member_epoch(-1)
                            .with_topics(by_topic(parts).map(|m| {
                                m.into_iter()
                                    .map(|(t, ps)| {
                                        OffsetFetchRequestTopics::default()
                                            .with_name(TopicName(name(t)))
                                            .with_partition_indexes(ps)
                                    })
                                    .collect()
                            }))
                    })
                    .collect(),
            );
            let resp = conn.send(&req, v, self.timeout()).await?;
            for g in resp.groups {
                let key = g.group_id.0.to_string();
                if g.error_code != 0 {
                    out.insert(key, Err(g.error_code));
                    continue;
                }
                let mut offsets = Vec::new();
                for t in g.topics {
                    for p in t.partitions {
                        if p.error_code == 0 {
                            offsets.push((
                                t.name.0.to_string(),
                                p.partition_index,
                                p.committed_offset.max(-1),
                            ));
                        }
                    }
                }
                out.insert(key, Ok(offsets));
            }
        } else {
            use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
            for (g, parts) in groups {
                let req = OffsetFetchRequest::default()
                    .with_group_id(GroupId(name(g)))
                    .with_topics(by_topic(parts).map(|m| {
                        m.into_iter()
                            .map(|(t, ps)| {
                                OffsetFetchRequestTopic::default()
                                    .with_name(TopicName(name(t)))
                                    .with_partition_indexes(ps)
                            })
                            .collect()
                    }));
                let resp = conn.send(&req, v, self.timeout()).await?;
                if resp.error_code != 0 {
                    out.insert(g.clone(), Err(resp.error_code));
                    continue;
                }
                let mut offsets = Vec::new();
                for t in resp.topics {
                    for p in t.partitions {
                        if is_coordinator_code(p.error_code) {
                            out.insert(g.clone(), Err(p.error_code));
                        }
                        if p.error_code == 0 {
                            offsets.push((
                                t.name.0.to_string(),
                                p.partition_index,
                                p.committed_offset.max(-1),
                            ));
                        }
                    }
                }
                out.entry(g.clone()).or_insert(Ok(offsets));
            }
        }
        Ok(out)
    }
}

/// Partitions grouped by topic, as requests carry them.
fn by_topic(parts: &Option<Vec<(String, i32)>>) -> Option<BTreeMap<&str, Vec<i32>>> {
    parts.as_ref().map(|parts| {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (t, p) in parts {
            by_topic.entry(t).or_default().push(*p);
        }
        by_topic
    })
}

fn is_coordinator_code(code: i16) -> bool {
    super::is_coordinator_error(code)
}

fn metadata_from_response(resp: MetadataResponse) -> Metadata {
    let mut brokers: Vec<(i32, String)> = resp
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
        .collect();
    brokers.sort();
    let topics = resp
        .topics
        .into_iter()
        // A topic being created or deleted may come back with an error and no partitions.
        .filter_map(|t| {
            let name = t.name?.0.to_string();
            let mut partitions: Vec<PartitionMeta> = t
                .partitions
                .into_iter()
                .map(|p| PartitionMeta {
                    id: p.partition_index,
                    leader: p.leader_id.0,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                })
                .collect();
            partitions.sort_by_key(|p| p.id);
            Some(TopicMeta {
                name,
                id: t.topic_id,
                partitions,
            })
        })
        .collect();
    Metadata {
        brokers,
        controller: resp.controller_id.0,
        topics,
    }
}

fn listed(g: ListedGroup) -> Listed {
    Listed {
        name: g.group_id.0.to_string(),
        protocol_type: g.protocol_type.to_string(),
        state: g.group_state.to_string(),
        group_type: g.group_type.to_string(),
    }
}

fn classic(g: ClassicGroup) -> Described {
    // Members of the consumer protocol carry their assignment; other protocols (Connect
    // workers, say) assign something else.
    let assigned = if g.protocol_type.as_str() == "consumer" {
        g.members
            .iter()
            .flat_map(|m| crate::groups::parse_assignment(&m.member_assignment))
            .collect()
    } else {
        Vec::new()
    };
    Described {
        state: g.group_state.to_string(),
        members: g.members.len(),
        assigned,
    }
}

fn consumer(g: NewGroup, topic_names: &HashMap<uuid::Uuid, String>) -> Described {
    let assigned = g
        .members
        .iter()
        .flat_map(|m| m.assignment.topic_partitions.iter())
        .flat_map(|tp| {
            let topic = topic_names
                .get(&tp.topic_id)
                .cloned()
                .unwrap_or_else(|| tp.topic_name.0.to_string());
            tp.partitions.iter().map(move |p| (topic.clone(), *p))
        })
        .collect();
    Described {
        state: g.group_state.to_string(),
        members: g.members.len(),
        assigned,
    }
}
