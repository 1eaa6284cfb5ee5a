//! Consumer groups in one collection: list them on every broker, ask each coordinator for all
//! its groups at once (one describe, one OffsetFetch), and ask again, in the same collection,
//! for the groups whose coordinator moved or died.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::future::join_all;

use crate::cli::Config;
use crate::client::cluster::{Committed, Described, Listed};
use crate::client::{is_coordinator_error, ClientError, Cluster};
use crate::snapshot::{Group, GroupOffset, Topic};

/// What the collector keeps between collections about the groups.
#[derive(Debug, Default)]
pub struct Memory {
    /// "classic" or "consumer" by group, from the last listing.
    pub types: HashMap<String, String>,
}

/// The groups of this collection, and how many requests failed.
pub struct Outcome {
    pub groups: Vec<Group>,
    pub errors: u64,
}

/// Why a group has no answer yet.
enum Miss {
    /// Its coordinator is gone, moved or loading: find it again.
    Coordinator,
    /// Anything else (the group was deleted, say): leave it out.
    Gone,
}

type Answer = Result<(Described, Committed), Miss>;

/// Reads every group that passes the filters. A group whose coordinator cannot be reached even
/// after asking for it again keeps its entry of the last snapshot (`last`), so a dead broker
/// never empties the group families.
pub async fn collect(
    cluster: &Cluster,
    cfg: &Config,
    brokers: &[i32],
    topics: &[Topic],
    topic_ids: &HashMap<uuid::Uuid, String>,
    last: &[Group],
    memory: &mut Memory,
) -> Outcome {
    let mut errors = 0u64;
    let wanted = |g: &str| cfg.group_filter.is_match(g) && !cfg.group_exclude.is_match(g);

    // 1. ListGroups on every broker: each lists the groups it coordinates.
    let listings = join_all(brokers.iter().map(|&b| cluster.list_groups(b))).await;
    let mut listed: BTreeMap<String, Listed> = BTreeMap::new();
    let mut listing_failed = false;
    for (b, r) in brokers.iter().zip(listings) {
        match r {
            Ok(groups) => {
                for g in groups.into_iter().filter(|g| wanted(&g.name)) {
                    listed.insert(g.name.clone(), g);
                }
            }
            Err(e) => {
                errors += 1;
                listing_failed = true;
                tracing::debug!(broker = b, err = %e, "listing groups");
            }
        }
    }
    for (name, g) in &listed {
        memory.types.insert(name.clone(), g.group_type.clone());
    }
    // Groups of the last snapshot that a failed broker may still coordinate: look them up.
    let mut names: Vec<String> = listed.keys().cloned().collect();
    if listing_failed {
        let orphans: Vec<String> = last
            .iter()
            .map(|g| g.name.clone())
            .filter(|n| !listed.contains_key(n) && wanted(n))
            .collect();
        if !orphans.is_empty() {
            cluster.forget_coordinators(&orphans);
            if let Err(e) = cluster.find_coordinators(&orphans).await {
                tracing::debug!(err = %e, "finding coordinators");
            }
            names.extend(orphans);
        }
    } else {
        memory.types.retain(|n, _| listed.contains_key(n));
        cluster.retain_coordinators(|n| listed.contains_key(n));
    }

    // 2. Each coordinator, all its groups at once; 3. once more for those that moved.
    let mut answers: HashMap<String, Answer> = HashMap::new();
    let mut pending = names.clone();
    for attempt in 0..2 {
        let (routed, unknown) = route(cluster, &pending);
        for g in unknown {
            answers.insert(g, Err(Miss::Coordinator));
        }
        let results = join_all(routed.iter().map(|(&id, groups)| {
            ask_coordinator(cluster, cfg, id, groups, &memory.types, topic_ids)
        }))
        .await;
        for r in results {
            answers.extend(r);
        }
        pending = answers
            .iter()
            .filter(|(_, a)| matches!(a, Err(Miss::Coordinator)))
            .map(|(g, _)| g.clone())
            .collect();
        if pending.is_empty() || attempt == 1 {
            break;
        }
        pending.sort();
        cluster.forget_coordinators(&pending);
        if let Err(e) = cluster.find_coordinators(&pending).await {
            tracing::debug!(err = %e, "finding coordinators again");
        }
    }

    // 4. The groups, in name order; the unreachable ones as they were last seen.
    let last_by_name: HashMap<&str, &Group> = last.iter().map(|g| (g.name.as_str(), g)).collect();
    names.sort();
    names.dedup();
    let mut groups = Vec::with_capacity(names.len());
    for name in names {
        match answers.remove(&name) {
            Some(Ok((d, committed))) => groups.push(Group {
                offsets: offsets(cfg, committed, topics),
                name,
                state: d.state,
                members: d.members,
            }),
            Some(Err(Miss::Gone)) => {}
            Some(Err(Miss::Coordinator)) | None => {
                errors += 1;
                tracing::debug!(group = %name, "coordinator unreachable; keeping the last values");
                if let Some(g) = last_by_name.get(name.as_str()) {
                    groups.push((*g).clone());
                }
            }
        }
    }
    Outcome { groups, errors }
}

/// Groups by cached coordinator, and those without one.
fn route(cluster: &Cluster, groups: &[String]) -> (BTreeMap<i32, Vec<String>>, Vec<String>) {
    let mut routed: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for g in groups {
        match cluster.coordinator(g) {
            Some(id) => routed.entry(id).or_default().push(g.clone()),
            None => unknown.push(g.clone()),
        }
    }
    (routed, unknown)
}

/// One coordinator: describe its groups (DescribeGroups for classic groups,
/// ConsumerGroupDescribe for KIP-848 ones), then their committed offsets in one OffsetFetch.
async fn ask_coordinator(
    cluster: &Cluster,
    cfg: &Config,
    id: i32,
    groups: &[String],
    types: &HashMap<String, String>,
    topic_ids: &HashMap<uuid::Uuid, String>,
) -> Vec<(String, Answer)> {
    let all_lost = |e: &ClientError| {
        tracing::debug!(coordinator = id, err = %e, "coordinator request failed");
        groups
            .iter()
            .map(|g| (g.clone(), Err(Miss::Coordinator)))
            .collect::<Vec<_>>()
    };
    let (new, classic): (Vec<String>, Vec<String>) = groups
        .iter()
        .cloned()
        .partition(|g| types.get(g).is_some_and(|t| t == "consumer"));
    let (c, n) = tokio::join!(
        async {
            if classic.is_empty() {
                Ok(HashMap::new())
            } else {
                cluster.describe_classic(id, &classic).await
            }
        },
        async {
            if new.is_empty() {
                Ok(HashMap::new())
            } else {
                cluster.describe_consumer(id, &new, topic_ids).await
            }
        }
    );
    let mut described = match (c, n) {
        (Ok(mut c), Ok(n)) => {
            c.extend(n);
            c
        }
        (Err(e), _) | (_, Err(e)) => return all_lost(&e),
    };
    let mut out = Vec::new();
    let mut fetch = Vec::new();
    let mut ready: HashMap<String, Described> = HashMap::new();
    for g in groups {
        match described.remove(g) {
            Some(Ok(d)) => {
                let parts = if cfg.offset_show_all {
                    None
                } else {
                    let parts: Vec<(String, i32)> = d
                        .assigned
                        .iter()
                        .filter(|(t, _)| {
                            cfg.topic_filter.is_match(t) && !cfg.topic_exclude.is_match(t)
                        })
                        .cloned()
                        .collect();
                    if parts.is_empty() {
                        out.push((g.clone(), Ok((d, Vec::new()))));
                        continue;
                    }
                    Some(parts)
                };
                fetch.push((g.clone(), parts));
                ready.insert(g.clone(), d);
            }
            Some(Err(code)) if is_coordinator_error(code) => {
                out.push((g.clone(), Err(Miss::Coordinator)))
            }
            Some(Err(code)) => {
                tracing::debug!(group = %g, code, "describe");
                out.push((g.clone(), Err(Miss::Gone)))
            }
            None => out.push((g.clone(), Err(Miss::Coordinator))),
        }
    }
    if fetch.is_empty() {
        return out;
    }
    let mut committed = match cluster.offset_fetch(id, &fetch).await {
        Ok(c) => c,
        Err(e) => {
            out.extend(
                all_lost(&e)
                    .into_iter()
                    .filter(|(g, _)| ready.contains_key(g)),
            );
            return out;
        }
    };
    for (g, d) in ready {
        let a = match committed.remove(&g) {
            Some(Ok(c)) => Ok((d, c)),
            Some(Err(code)) if is_coordinator_error(code) => Err(Miss::Coordinator),
            Some(Err(code)) => {
                tracing::debug!(group = %g, code, "offset fetch");
                Err(Miss::Gone)
            }
            None => Err(Miss::Coordinator),
        };
        out.push((g, a));
    }
    out
}

/// A group's offsets as kafka_exporter reports them.
fn offsets(cfg: &Config, committed: Committed, topics: &[Topic]) -> Vec<GroupOffset> {
    let got: Vec<GroupOffset> = committed
        .into_iter()
        .map(|(topic, partition, committed)| GroupOffset {
            topic,
            partition,
            committed,
            lag_seconds: None,
        })
        .collect();
    if cfg.offset_show_all {
        fill_consumed_topics(got, topics)
    } else {
        let known: HashSet<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        let mut got: Vec<GroupOffset> = got
            .into_iter()
            .filter(|o| known.contains(o.topic.as_str()))
            .collect();
        got.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        got.dedup_by(|a, b| a.topic == b.topic && a.partition == b.partition);
        got
    }
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
    let consumed: HashSet<String> = committed.keys().map(|(t, _)| t.clone()).collect();
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
    use crate::snapshot::Partition;

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
}
