//! The `fibrechannel` collector: Fibre Channel HBA ports of `/sys/class/fc_host`, a
//! `node_fibrechannel_info` with the port's identity and state, and its error and traffic
//! counters from `statistics/`.
//!
//! HBA firmware reports counters it does not implement as all ones (`0xffffffffffffffff`);
//! those are left out, as upstream.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::read::{parse_sysfs_u64, read_failed, sys_read_string, SysReadError};

/// Flags of the `fibrechannel` collector (none).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(FibreChannel {
        class_dir: paths.sys("class/fc_host"),
    }))
}

struct FibreChannel {
    class_dir: PathBuf,
}

/// Info labels in upstream's order: `(sysfs file, label, strip the "0x" prefix)`.
const INFO: &[(&str, &str, bool)] = &[
    ("speed", "speed", false),
    ("port_state", "port_state", false),
    ("port_type", "port_type", false),
    ("port_id", "port_id", true),
    ("port_name", "port_name", true),
    ("fabric_name", "fabric_name", true),
    ("symbolic_name", "symbolic_name", false),
    ("supported_classes", "supported_classes", false),
    ("supported_speeds", "supported_speeds", false),
    ("dev_loss_tmo", "dev_loss_tmo", false),
];

/// `(statistics file, metric suffix, help)`.
const COUNTERS: &[(&str, &str, &str)] = &[
    (
        "dumped_frames",
        "dumped_frames_total",
        "Number of dumped frames",
    ),
    (
        "error_frames",
        "error_frames_total",
        "Number of errors in frames",
    ),
    (
        "invalid_crc_count",
        "invalid_crc_total",
        "Invalid Cyclic Redundancy Check count",
    ),
    ("rx_frames", "rx_frames_total", "Number of frames received"),
    (
        "rx_words",
        "rx_words_total",
        "Number of words received by host port",
    ),
    (
        "tx_frames",
        "tx_frames_total",
        "Number of frames transmitted by host port",
    ),
    (
        "tx_words",
        "tx_words_total",
        "Number of words transmitted by host port",
    ),
    (
        "seconds_since_last_reset",
        "seconds_since_last_reset_total",
        "Number of seconds since last host port reset",
    ),
    (
        "invalid_tx_word_count",
        "invalid_tx_words_total",
        "Number of invalid words transmitted by host port",
    ),
    (
        "link_failure_count",
        "link_failure_total",
        "Number of times the host port link has failed",
    ),
    (
        "loss_of_sync_count",
        "loss_of_sync_total",
        "Number of failures on either bit or transmission word boundaries",
    ),
    (
        "loss_of_signal_count",
        "loss_of_signal_total",
        "Number of times signal has been lost",
    ),
    (
        "nos_count",
        "nos_total",
        "Number Not_Operational Primitive Sequence received by host port",
    ),
    (
        "fcp_packet_aborts",
        "fcp_packet_aborts_total",
        "Number of aborted packets",
    ),
];

/// One HBA port: info label values in [`INFO`] order, and the counters present.
#[derive(Debug, PartialEq)]
pub struct Host {
    pub info: Vec<String>,
    pub counters: Vec<(&'static str, &'static str, u64)>,
}

impl Collector for FibreChannel {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let names = crate::sys::read::dir_names(&self.class_dir).map_err(|e| {
            if crate::sys::read::is_missing(&e) {
                CollectError::NoData("fibrechannel statistics not found, skipping".into())
            } else {
                CollectError::Other(anyhow::anyhow!(
                    "error obtaining FibreChannel class info: {e}"
                ))
            }
        })?;
        let mut hosts = Vec::with_capacity(names.len());
        for name in names {
            let host = read_host(&self.class_dir.join(&name)).map_err(|e| match e {
                HostError::NoStatistics(e) => CollectError::NoData(format!(
                    "fibrechannel statistics not found, skipping: {e}"
                )),
                other => CollectError::Other(anyhow::anyhow!(
                    "error obtaining FibreChannel class info: {other}"
                )),
            })?;
            hosts.push((name, host));
        }
        for (name, host) in &hosts {
            let mut labels: Vec<(&str, &str)> = vec![("fc_host", name)];
            labels.extend(
                INFO.iter()
                    .zip(&host.info)
                    .map(|((_, label, _), v)| (*label, v.as_str())),
            );
            out.gauge(
                "node_fibrechannel_info",
                "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
                &labels,
                1.0,
            );
            for (suffix, help, value) in &host.counters {
                out.family(
                    &format!("node_fibrechannel_{suffix}"),
                    help,
                    MetricType::Counter,
                )
                .sample(&[("fc_host", name)], *value as f64);
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
pub enum HostError {
    /// The `statistics` directory is missing (upstream: no data).
    NoStatistics(std::io::Error),
    Read(String),
    Parse(String),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::NoStatistics(e) => write!(f, "{e}"),
            HostError::Read(s) | HostError::Parse(s) => f.write_str(s),
        }
    }
}

/// Reads one `host<N>`. Attributes a driver does not expose are empty labels or missing
/// counters; statistics it refuses to read (EOPNOTSUPP) are skipped.
pub fn read_host(dir: &Path) -> Result<Host, HostError> {
    let mut info = Vec::with_capacity(INFO.len());
    for (file, _, strip) in INFO {
        let path = dir.join(file);
        let value = match sys_read_string(&path) {
            Ok(v) => v,
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => return Err(HostError::Read(read_failed(&path, e))),
        };
        // "0x21000024ff7d0e42" is labelled without the prefix.
        let value = if *strip && value.len() > 2 {
            value.get(2..).unwrap_or_default().to_string()
        } else {
            value
        };
        info.push(value);
    }

    let stats = dir.join("statistics");
    let present = crate::sys::read::dir_names(&stats).map_err(|e| {
        if crate::sys::read::is_missing(&e) {
            HostError::NoStatistics(e)
        } else {
            HostError::Read(format!("{}: {e}", stats.display()))
        }
    })?;
    let mut counters = Vec::new();
    for (file, suffix, help) in COUNTERS {
        if !present.iter().any(|p| p == file) {
            continue;
        }
        let path = stats.join(file);
        let raw = match sys_read_string(&path) {
            Ok(v) => v,
            Err(e) if skippable(&e) => continue,
            Err(e) => return Err(HostError::Read(read_failed(&path, e))),
        };
        let v = parse_sysfs_u64(&raw).ok_or_else(|| {
            HostError::Parse(format!("{}: invalid value {raw:?}", path.display()))
        })?;
        if v != u64::MAX {
            counters.push((*suffix, *help, v));
        }
    }
    Ok(Host { info, counters })
}

fn skippable(e: &SysReadError) -> bool {
    e.is_not_found() || e.errno() == Some(libc::EOPNOTSUPP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_files};

    fn collect(root: &Path) -> Result<String, CollectError> {
        render(&*build(&paths_in(root), &Args::default()).unwrap())
    }

    /// A QLogic qla2xxx port (Linux 5.x): statistics in hex, one unimplemented counter.
    #[test]
    fn qlogic_port() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("sys/class/fc_host/host0");
        write_files(
            &host,
            &[
                ("dev_loss_tmo", "30\n"),
                ("fabric_name", "0x0\n"),
                ("node_name", "0x2000e0071bce95f2\n"),
                ("port_id", "0x000002\n"),
                ("port_name", "0x1000e0071bce95f2\n"),
                ("port_state", "Online\n"),
                ("port_type", "Point-To-Point (direct nport connection)\n"),
                ("speed", "16 Gbit\n"),
                ("supported_classes", "Class 3\n"),
                ("supported_speeds", "4 Gbit, 8 Gbit, 16 Gbit\n"),
                (
                    "symbolic_name",
                    "Emulex SN1100E2P FV12.4.270.3 DV12.4.0.0. HN:gotest. OS:Linux\n",
                ),
            ],
        );
        write_files(
            &host.join("statistics"),
            &[
                ("dumped_frames", "0xffffffffffffffff\n"),
                ("error_frames", "0x0\n"),
                ("fcp_packet_aborts", "0x13\n"),
                ("invalid_crc_count", "0x2\n"),
                ("invalid_tx_word_count", "0x8\n"),
                ("link_failure_count", "0x9\n"),
                ("loss_of_signal_count", "0x11\n"),
                ("loss_of_sync_count", "0x10\n"),
                ("nos_count", "0x12\n"),
                ("rx_frames", "0x3\n"),
                ("rx_words", "0x4\n"),
                ("seconds_since_last_reset", "0x7\n"),
                ("tx_frames", "0x5\n"),
                ("tx_words", "0x6\n"),
                ("reset_statistics", ""),
                ("lip_count", "0x1\n"),
            ],
        );
        let text = collect(dir.path()).unwrap();
        assert!(text.contains(
            "node_fibrechannel_info{dev_loss_tmo=\"30\",fabric_name=\"0\",fc_host=\"host0\",port_id=\"000002\",port_name=\"1000e0071bce95f2\",port_state=\"Online\",port_type=\"Point-To-Point (direct nport connection)\",speed=\"16 Gbit\",supported_classes=\"Class 3\",supported_speeds=\"4 Gbit, 8 Gbit, 16 Gbit\",symbolic_name=\"Emulex SN1100E2P FV12.4.270.3 DV12.4.0.0. HN:gotest. OS:Linux\"} 1\n"
        ), "{text}");
        for line in [
            "# HELP node_fibrechannel_fcp_packet_aborts_total Number of aborted packets\n# TYPE node_fibrechannel_fcp_packet_aborts_total counter\nnode_fibrechannel_fcp_packet_aborts_total{fc_host=\"host0\"} 19\n",
            "node_fibrechannel_error_frames_total{fc_host=\"host0\"} 0\n",
            "node_fibrechannel_invalid_crc_total{fc_host=\"host0\"} 2\n",
            "node_fibrechannel_invalid_tx_words_total{fc_host=\"host0\"} 8\n",
            "node_fibrechannel_link_failure_total{fc_host=\"host0\"} 9\n",
            "node_fibrechannel_loss_of_signal_total{fc_host=\"host0\"} 17\n",
            "node_fibrechannel_loss_of_sync_total{fc_host=\"host0\"} 16\n",
            "node_fibrechannel_nos_total{fc_host=\"host0\"} 18\n",
            "node_fibrechannel_rx_frames_total{fc_host=\"host0\"} 3\n",
            "node_fibrechannel_rx_words_total{fc_host=\"host0\"} 4\n",
            "node_fibrechannel_seconds_since_last_reset_total{fc_host=\"host0\"} 7\n",
            "node_fibrechannel_tx_frames_total{fc_host=\"host0\"} 5\n",
            "node_fibrechannel_tx_words_total{fc_host=\"host0\"} 6\n",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(!text.contains("dumped_frames"), "{text}");
        assert_eq!(text.matches("# TYPE").count(), 14);
    }

    #[test]
    fn missing_attributes_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(collect(dir.path()), Err(CollectError::NoData(_))));
        let host = dir.path().join("sys/class/fc_host/host1");
        write_files(&host, &[("port_state", "Linkdown\n")]);
        // No statistics directory: no data, as upstream.
        assert!(matches!(collect(dir.path()), Err(CollectError::NoData(_))));
        write_files(&host.join("statistics"), &[("rx_frames", "0x10\n")]);
        assert_eq!(
            collect(dir.path()).unwrap(),
            "# HELP node_fibrechannel_info Non-numeric data from /sys/class/fc_host/<host>, value is always 1.
# TYPE node_fibrechannel_info gauge
node_fibrechannel_info{dev_loss_tmo=\"\",fabric_name=\"\",fc_host=\"host1\",port_id=\"\",port_name=\"\",port_state=\"Linkdown\",port_type=\"\",speed=\"\",supported_classes=\"\",supported_speeds=\"\",symbolic_name=\"\"} 1
# HELP node_fibrechannel_rx_frames_total Number of frames received
# TYPE node_fibrechannel_rx_frames_total counter
node_fibrechannel_rx_frames_total{fc_host=\"host1\"} 16
"
        );
        write_files(&host.join("statistics"), &[("rx_frames", "lots\n")]);
        assert!(matches!(collect(dir.path()), Err(CollectError::Other(_))));
    }
}
