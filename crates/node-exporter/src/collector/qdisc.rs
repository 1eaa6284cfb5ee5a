//! The `qdisc` collector (off by default): per-device statistics of the root queueing
//! disciplines, `node_qdisc_*{device,kind}`, from one `RTM_GETQDISC` dump, as node_exporter's
//! `qdisc_linux.go` does through ema/qdisc. With `--collector.qdisc.fixtures=<dir>` the
//! qdiscs come from `<dir>/results.json` instead (ema/qdisc's `QdiscInfo` as JSON), the hook
//! upstream's end-to-end test uses.
//!
//! Like ema/qdisc: the legacy `TCA_STATS` block, which the kernel writes after `TCA_STATS2`,
//! wins for the fields it has; requeues come from `TCA_STATS2` only.

use std::collections::HashMap;
use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectResult, Collector, Paths};
use crate::filter::Filter;
use crate::sys::netlink as rtnl;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// test fixtures to use for qdisc collector end-to-end testing
    #[arg(long = "collector.qdisc.fixtures", default_value = "")]
    pub qdisc_fixtures: String,

    /// Regexp of qdisc devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.qdisc.device-include", value_name = "REGEX")]
    pub qdisc_device_include: Option<String>,

    /// DEPRECATED: Use collector.qdisc.device-include
    #[arg(long = "collector.qdisk.device-include", hide = true)]
    pub qdisk_device_include: Option<String>,

    /// Regexp of qdisc devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.qdisc.device-exclude", value_name = "REGEX")]
    pub qdisc_device_exclude: Option<String>,

    /// DEPRECATED: Use collector.qdisc.device-exclude
    #[arg(long = "collector.qdisk.device-exclude", hide = true)]
    pub qdisk_device_exclude: Option<String>,
}

fn merge(
    new: &Option<String>,
    old: &Option<String>,
    what: &str,
) -> Result<Option<String>, UsageError> {
    let new = new.clone().filter(|s| !s.is_empty());
    match (new, old.clone().filter(|s| !s.is_empty())) {
        (Some(_), Some(_)) => Err(UsageError::new(format!(
            "--collector.qdisk.{what} and --collector.qdisc.{what} are mutually exclusive"
        ))),
        (None, Some(o)) => {
            tracing::warn!("--collector.qdisk.{what} is DEPRECATED and will be removed in 2.0.0, use --collector.qdisc.{what}");
            Ok(Some(o))
        }
        (n, None) => Ok(n),
    }
}

pub fn build(_paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let include = merge(
        &args.qdisc_device_include,
        &args.qdisk_device_include,
        "device-include",
    )?;
    let exclude = merge(
        &args.qdisc_device_exclude,
        &args.qdisk_device_exclude,
        "device-exclude",
    )?;
    if include.is_some() && exclude.is_some() {
        return Err(UsageError::new(
            "collector.qdisc.device-include and collector.qdisc.device-exclude are mutaly exclusive",
        ));
    }
    Ok(Box::new(Qdisc {
        fixtures: (!args.qdisc_fixtures.is_empty()).then(|| PathBuf::from(&args.qdisc_fixtures)),
        filter: Filter::new(
            "collector.qdisc.device",
            include.as_deref(),
            exclude.as_deref(),
        )?,
    }))
}

/// `linux/gen_stats.h`'s nested attributes of `TCA_STATS2` (not in libc).
const TCA_STATS_BASIC: u16 = 1;
const TCA_STATS_QUEUE: u16 = 3;

struct Qdisc {
    fixtures: Option<PathBuf>,
    filter: Filter,
}

/// What the metrics need of one qdisc.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Info {
    pub device: String,
    pub kind: String,
    pub parent: u32,
    pub bytes: u64,
    pub packets: u64,
    pub drops: u64,
    pub requeues: u64,
    pub overlimits: u64,
    pub qlen: u64,
    pub backlog: u64,
}

impl Collector for Qdisc {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let infos = match &self.fixtures {
            Some(dir) => read_fixtures(&dir.join("results.json"))?,
            None => read_kernel()?,
        };
        render(&infos, &self.filter, out);
        Ok(())
    }
}

fn read_kernel() -> anyhow::Result<Vec<Info>> {
    let names = rtnl::link_names().map_err(|e| anyhow::anyhow!("failed to get interfaces: {e}"))?;
    let mut infos = Vec::new();
    // An all-zero tcmsg (20 bytes): every qdisc of every device.
    rtnl::dump(libc::RTM_GETQDISC, &[0u8; 20], |kind, body| {
        if kind == libc::RTM_NEWQDISC {
            if let Some(i) = parse_qdisc(body, &names) {
                infos.push(i);
            }
        }
    })
    .map_err(|e| anyhow::anyhow!("failed to execute request: {e}"))?;
    Ok(infos)
}

/// ema/qdisc's JSON: Go field names, absent fields zero.
pub fn read_fixtures(path: &std::path::Path) -> anyhow::Result<Vec<Info>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let arr = v
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("{}: not a JSON array", path.display()))?;
    let num =
        |o: &serde_json::Value, k: &str| o.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let string = |o: &serde_json::Value, k: &str| {
        o.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Ok(arr
        .iter()
        .map(|o| Info {
            device: string(o, "IfaceName"),
            kind: string(o, "Kind"),
            parent: num(o, "Parent") as u32,
            bytes: num(o, "Bytes"),
            packets: num(o, "Packets"),
            drops: num(o, "Drops"),
            requeues: num(o, "Requeues"),
            overlimits: num(o, "Overlimits"),
            qlen: num(o, "Qlen"),
            backlog: num(o, "Backlog"),
        })
        .collect())
}

/// One `RTM_NEWQDISC` body: `tcmsg` (family, pads, ifindex, handle, parent, info) + attributes.
pub fn parse_qdisc(body: &[u8], names: &HashMap<i32, String>) -> Option<Info> {
    if body.len() < 20 {
        return None;
    }
    let u32_at = |d: &[u8], i: usize| {
        d.get(i..i + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0)
    };
    let u64_at = |d: &[u8], i: usize| {
        d.get(i..i + 8)
            .map(|b| u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .unwrap_or(0)
    };
    let ifindex = u32_at(body, 4) as i32;
    let parent = u32_at(body, 12);
    let mut i = Info {
        device: names.get(&ifindex).cloned().unwrap_or_default(),
        // TC_H_ROOT (all ones) is the root: upstream treats it as parent 0.
        parent: if parent == u32::MAX { 0 } else { parent },
        ..Info::default()
    };
    for (t, d) in rtnl::attrs(&body[20..]) {
        match t {
            libc::TCA_KIND => i.kind = rtnl::c_string(d),
            libc::TCA_STATS2 => {
                for (nt, nd) in rtnl::attrs(d) {
                    match nt {
                        // gnet_stats_basic: bytes (u64), packets (u32).
                        TCA_STATS_BASIC => {
                            i.bytes = u64_at(nd, 0);
                            i.packets = u64::from(u32_at(nd, 8));
                        }
                        // gnet_stats_queue: qlen, backlog, drops, requeues, overlimits.
                        TCA_STATS_QUEUE => {
                            i.qlen = u64::from(u32_at(nd, 0));
                            i.backlog = u64::from(u32_at(nd, 4));
                            i.drops = u64::from(u32_at(nd, 8));
                            i.requeues = u64::from(u32_at(nd, 12));
                            i.overlimits = u64::from(u32_at(nd, 16));
                        }
                        _ => {}
                    }
                }
            }
            // struct tc_stats: bytes (u64), packets, drops, overlimits, bps, pps, qlen, backlog.
            libc::TCA_STATS if d.len() >= 36 => {
                i.bytes = u64_at(d, 0);
                i.packets = u64::from(u32_at(d, 8));
                i.drops = u64::from(u32_at(d, 12));
                i.overlimits = u64::from(u32_at(d, 16));
                i.qlen = u64::from(u32_at(d, 28));
                i.backlog = u64::from(u32_at(d, 32));
            }
            _ => {}
        }
    }
    Some(i)
}

fn render(infos: &[Info], filter: &Filter, out: &mut Exposition) {
    use MetricType::{Counter, Gauge};
    for i in infos
        .iter()
        .filter(|i| i.parent == 0 && !filter.ignored(&i.device))
    {
        let labels = [("device", i.device.as_str()), ("kind", i.kind.as_str())];
        for (name, help, kind, v) in [
            (
                "node_qdisc_bytes_total",
                "Number of bytes sent.",
                Counter,
                i.bytes,
            ),
            (
                "node_qdisc_packets_total",
                "Number of packets sent.",
                Counter,
                i.packets,
            ),
            (
                "node_qdisc_drops_total",
                "Number of packets dropped.",
                Counter,
                i.drops,
            ),
            (
                "node_qdisc_requeues_total",
                "Number of packets dequeued, not transmitted, and requeued.",
                Counter,
                i.requeues,
            ),
            (
                "node_qdisc_overlimits_total",
                "Number of overlimit packets.",
                Counter,
                i.overlimits,
            ),
            (
                "node_qdisc_current_queue_length",
                "Number of packets currently in queue to be sent.",
                Gauge,
                i.qlen,
            ),
            (
                "node_qdisc_backlog",
                "Number of bytes currently in queue to be sent.",
                Gauge,
                i.backlog,
            ),
        ] {
            out.family(name, help, kind).sample(&labels, v as f64);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use super::{TCA_STATS_BASIC, TCA_STATS_QUEUE};
    use crate::collector::testutil::render as render_collector;
    use crate::sys::netlink::attr;

    /// Upstream's fixture (collector/fixtures/qdisc/results.json in node_exporter 1.12.1).
    const FIXTURE: &str = r#"[
    {"IfaceName": "wlan0", "Bytes": 42, "Packets": 42, "Requeues": 1, "Kind": "fq", "Drops": 1},
    {"IfaceName": "eth0", "Bytes": 83, "Packets": 83, "Requeues": 2, "Kind": "pfifo_fast"}
]"#;

    #[test]
    fn fixtures_flag() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("results.json"), FIXTURE).unwrap();
        let args = Args {
            qdisc_fixtures: dir.path().display().to_string(),
            ..Args::default()
        };
        let t = render_collector(build(&Paths::default(), &args).unwrap().as_ref()).unwrap();
        assert!(
            t.contains("node_qdisc_bytes_total{device=\"wlan0\",kind=\"fq\"} 42\n"),
            "{t}"
        );
        assert!(
            t.contains("node_qdisc_requeues_total{device=\"eth0\",kind=\"pfifo_fast\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("node_qdisc_drops_total{device=\"eth0\",kind=\"pfifo_fast\"} 0\n"),
            "{t}"
        );
        assert!(t.contains("# TYPE node_qdisc_backlog gauge\n"), "{t}");
        let args = Args {
            qdisc_device_exclude: Some("wlan.*".into()),
            ..args
        };
        let t = render_collector(build(&Paths::default(), &args).unwrap().as_ref()).unwrap();
        assert!(!t.contains("wlan0"), "{t}");
    }

    #[test]
    fn flags() {
        let both = Args {
            qdisc_device_include: Some("a".into()),
            qdisc_device_exclude: Some("b".into()),
            ..Args::default()
        };
        assert!(build(&Paths::default(), &both).is_err());
        let old_and_new = Args {
            qdisc_device_include: Some("a".into()),
            qdisk_device_include: Some("b".into()),
            ..Args::default()
        };
        assert!(build(&Paths::default(), &old_and_new).is_err());
    }

    #[test]
    fn parses_a_netlink_message() {
        let mut b = vec![0u8; 20];
        b[4..8].copy_from_slice(&2i32.to_ne_bytes());
        b[12..16].copy_from_slice(&u32::MAX.to_ne_bytes());
        b.extend(attr(libc::TCA_KIND, b"fq_codel\0"));
        let mut basic = 1000u64.to_ne_bytes().to_vec();
        basic.extend(10u32.to_ne_bytes());
        basic.extend([0u8; 4]);
        let mut queue = Vec::new();
        for v in [1u32, 2, 3, 4, 5] {
            queue.extend(v.to_ne_bytes());
        }
        let mut stats2 = attr(TCA_STATS_BASIC, &basic);
        stats2.extend(attr(TCA_STATS_QUEUE, &queue));
        b.extend(attr(libc::TCA_STATS2, &stats2));
        let names = HashMap::from([(2, "eth0".to_string())]);
        let i = parse_qdisc(&b, &names).unwrap();
        assert_eq!(
            i,
            Info {
                device: "eth0".into(),
                kind: "fq_codel".into(),
                parent: 0,
                bytes: 1000,
                packets: 10,
                drops: 3,
                requeues: 4,
                overlimits: 5,
                qlen: 1,
                backlog: 2
            }
        );
    }

    /// Against this host's kernel: lo has a root qdisc (noqueue) on every Linux.
    #[test]
    fn reads_this_hosts_qdiscs() {
        let c = build(&Paths::default(), &Args::default()).unwrap();
        match render_collector(c.as_ref()) {
            Ok(t) => assert!(t.contains("node_qdisc_packets_total{device=\"lo\""), "{t}"),
            Err(e) => eprintln!("skipped: rtnetlink refused here: {e}"),
        }
    }
}
