//! The `infiniband` collector: per-port state, rate and counters of InfiniBand (and RoCE)
//! devices from `<sysfs>/class/infiniband/<device>/ports/<port>/{state,phys_state,rate,
//! counters/*,counters_ext/*,hw_counters/*}`, plus `node_infiniband_info` per device.
//!
//! As in node_exporter's procfs library, the data counters (`port_rcv_data`, `port_xmit_data`
//! and their `_64` legacy forms) count 4-byte words and are multiplied by 4; counters the
//! driver cannot read (`N/A (no PMA)`, EINVAL, ...) are left out; `hw_counters/lifespan` is in
//! milliseconds and exposed in whole seconds. Without `class/infiniband`: no data.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

/// Flags of the `infiniband` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(InfiniBand {
        dir: paths.sys("class/infiniband"),
    }))
}

struct InfiniBand {
    dir: PathBuf,
}

/// `(directory, file, metric, help)` of every counter, in node_exporter's order.
const COUNTERS: &[(&str, &str, &str, &str)] = &[
    ("counters_ext", "port_multicast_rcv_packets", "legacy_multicast_packets_received_total", "Number of multicast packets received"),
    ("counters_ext", "port_multicast_xmit_packets", "legacy_multicast_packets_transmitted_total", "Number of multicast packets transmitted"),
    ("counters_ext", "port_rcv_data_64", "legacy_data_received_bytes_total", "Number of data octets received on all links"),
    ("counters_ext", "port_rcv_packets_64", "legacy_packets_received_total", "Number of data packets received on all links"),
    ("counters_ext", "port_unicast_rcv_packets", "legacy_unicast_packets_received_total", "Number of unicast packets received"),
    ("counters_ext", "port_unicast_xmit_packets", "legacy_unicast_packets_transmitted_total", "Number of unicast packets transmitted"),
    ("counters_ext", "port_xmit_data_64", "legacy_data_transmitted_bytes_total", "Number of data octets transmitted on all links"),
    ("counters_ext", "port_xmit_packets_64", "legacy_packets_transmitted_total", "Number of data packets received on all links"),
    ("counters", "excessive_buffer_overrun_errors", "excessive_buffer_overrun_errors_total", "Number of times that OverrunErrors consecutive flow control update periods occurred, each having at least one overrun error."),
    ("counters", "link_downed", "link_downed_total", "Number of times the link failed to recover from an error state and went down"),
    ("counters", "link_error_recovery", "link_error_recovery_total", "Number of times the link successfully recovered from an error state"),
    ("counters", "local_link_integrity_errors", "local_link_integrity_errors_total", "Number of times that the count of local physical errors exceeded the threshold specified by LocalPhyErrors."),
    ("counters", "multicast_rcv_packets", "multicast_packets_received_total", "Number of multicast packets received (including errors)"),
    ("counters", "multicast_xmit_packets", "multicast_packets_transmitted_total", "Number of multicast packets transmitted (including errors)"),
    ("counters", "port_rcv_constraint_errors", "port_constraint_errors_received_total", "Number of packets received on the switch physical port that are discarded"),
    ("counters", "port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", "Number of packets not transmitted from the switch physical port"),
    ("counters", "port_rcv_data", "port_data_received_bytes_total", "Number of data octets received on all links"),
    ("counters", "port_xmit_data", "port_data_transmitted_bytes_total", "Number of data octets transmitted on all links"),
    ("counters", "port_rcv_discards", "port_discards_received_total", "Number of inbound packets discarded by the port because the port is down or congested"),
    ("counters", "port_xmit_discards", "port_discards_transmitted_total", "Number of outbound packets discarded by the port because the port is down or congested"),
    ("counters", "port_rcv_errors", "port_errors_received_total", "Number of packets containing an error that were received on this port"),
    ("counters", "port_rcv_packets", "port_packets_received_total", "Number of packets received on all VLs by this port (including errors)"),
    ("counters", "port_xmit_packets", "port_packets_transmitted_total", "Number of packets transmitted on all VLs from this port (including errors)"),
    ("counters", "port_xmit_wait", "port_transmit_wait_total", "Number of ticks during which the port had data to transmit but no data was sent during the entire tick"),
    ("counters", "unicast_rcv_packets", "unicast_packets_received_total", "Number of unicast packets received (including errors)"),
    ("counters", "unicast_xmit_packets", "unicast_packets_transmitted_total", "Number of unicast packets transmitted (including errors)"),
    ("counters", "port_rcv_remote_physical_errors", "port_receive_remote_physical_errors_total", "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port."),
    ("counters", "port_rcv_switch_relay_errors", "port_receive_switch_relay_errors_total", "Number of packets that could not be forwarded by the switch."),
    ("counters", "symbol_error", "symbol_error_total", "Number of minor link errors detected on one or more physical lanes."),
    ("counters", "VL15_dropped", "vl15_dropped_total", "Number of incoming VL15 packets dropped due to resource limitations."),
    ("hw_counters", "duplicate_request", "duplicate_requests_packets_total", "The number of received packets. A duplicate request is a request that had been previously executed."),
    ("hw_counters", "implied_nak_seq_err", "implied_nak_seq_errors_total", "The number of time the requested decided an ACK. with a PSN larger than the expected PSN for an RDMA read or response."),
    ("hw_counters", "local_ack_timeout_err", "local_ack_timeout_errors_total", "The number of times QP's ack timer expired for RC, XRC, DCT QPs at the sender side. The QP retry limit was not exceed, therefore it is still recoverable error."),
    ("hw_counters", "np_cnp_sent", "np_cnp_packets_sent_total", "The number of CNP packets sent by the Notification Point when it noticed congestion experienced in the RoCEv2 IP header (ECN bits). The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "np_ecn_marked_roce_packets", "np_ecn_marked_roce_packets_received_total", "The number of RoCEv2 packets received by the notification point which were marked for experiencing the congestion (ECN bits where '11' on the ingress RoCE traffic) . The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "out_of_buffer", "out_of_buffer_drops_total", "The number of drops occurred due to lack of WQE for the associated QPs."),
    ("hw_counters", "out_of_sequence", "out_of_sequence_packets_received_total", "The number of out of sequence packets received."),
    ("hw_counters", "packet_seq_err", "packet_sequence_errors_total", "The number of received NAK sequence error packets. The QP retry limit was not exceeded."),
    ("hw_counters", "req_cqe_error", "req_cqes_errors_total", "The number of times requester detected CQEs completed with errors. The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "req_cqe_flush_error", "req_cqes_flush_errors_total", "The number of times requester detected CQEs completed with flushed errors. The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "req_remote_access_errors", "req_remote_access_errors_total", "The number of times requester detected remote access errors. The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "req_remote_invalid_request", "req_remote_invalid_request_errors_total", "The number of times requester detected remote invalid request errors. The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "resp_cqe_error", "resp_cqes_errors_total", "The number of times responder detected CQEs completed with errors. The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "resp_cqe_flush_error", "resp_cqes_flush_errors_total", "The number of times responder detected CQEs completed with flushed errors. The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "resp_local_length_error", "resp_local_length_errors_total", "The number of times responder detected local length errors. The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "resp_remote_access_errors", "resp_remote_access_errors_total", "The number of times responder detected remote access errors. The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "rnr_nak_retry_err", "rnr_nak_retry_packets_received_total", "The number of received RNR NAK packets. The QP retry limit was not exceeded."),
    ("hw_counters", "roce_adp_retrans", "roce_adp_retransmits_total", "The number of adaptive retransmissions for RoCE traffic. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0"),
    ("hw_counters", "roce_adp_retrans_to", "roce_adp_retransmits_timeout_total", "The number of times RoCE traffic reached timeout due to adaptive retransmission. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0"),
    ("hw_counters", "roce_slow_restart", "roce_slow_restart_used_total", "The number of times RoCE slow restart was used. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0"),
    ("hw_counters", "roce_slow_restart_cnps", "roce_slow_restart_cnps_total", "The number of times RoCE slow restart generated CNP packets. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0"),
    ("hw_counters", "roce_slow_restart_trans", "roce_slow_restart_total", "The number of times RoCE slow restart changed state to slow restart. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0"),
    ("hw_counters", "rp_cnp_handled", "rp_cnp_packets_handled_total", "The number of CNP packets handled by the Reaction Point HCA to throttle the transmission rate. The counters was added in MLNX_OFED 4.1"),
    ("hw_counters", "rp_cnp_ignored", "rp_cnp_ignored_packets_received_total", "The number of CNP packets received and ignored by the Reaction Point HCA. This counter should not raise if RoCE Congestion Control was enabled in the network. If this counter raise, verify that ECN was enabled on the adapter."),
    ("hw_counters", "rx_atomic_requests", "rx_atomic_requests_total", "The number of received ATOMIC request for the associated QPs."),
    ("hw_counters", "rx_dct_connect", "rx_dct_connect_requests_total", "The number of received connection requests for the associated DCTs."),
    ("hw_counters", "rx_read_requests", "rx_read_requests_total", "The number of received READ requests for the associated QPs."),
    ("hw_counters", "rx_write_requests", "rx_write_requests_total", "The number of received WRITE requests for the associated QPs."),
    ("hw_counters", "rx_icrc_encapsulated", "rx_icrc_encapsulated_errors_total", "The number of RoCE packets with ICRC errors. This counter was added in MLNX_OFED 4.4 and kernel 4.19"),
];

/// Files counting 4-byte words (per lane), exposed in bytes.
const TIMES_FOUR: [&str; 4] = [
    "port_rcv_data",
    "port_xmit_data",
    "port_rcv_data_64",
    "port_xmit_data_64",
];

/// One port.
#[derive(Debug, Default, PartialEq)]
pub struct Port {
    pub port: u32,
    pub state_id: u64,
    pub phys_state_id: u64,
    pub rate: u64,
    /// `(metric, help, value)` for the counters present.
    pub counters: Vec<(&'static str, &'static str, u64)>,
    /// `hw_counters/lifespan` in milliseconds.
    pub lifespan_ms: Option<u64>,
}

/// One device.
#[derive(Debug, Default, PartialEq)]
pub struct Device {
    pub name: String,
    pub board_id: String,
    pub firmware_version: String,
    pub hca_type: String,
    pub ports: Vec<Port>,
}

/// `"4: ACTIVE"` → 4.
pub fn parse_state(s: &str) -> Result<u64, String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 2 {
        return Err(format!("failed to split {s:?} into 'ID: NAME'"));
    }
    parts[0]
        .trim()
        .parse()
        .map_err(|_| format!("failed to convert {} into uint", parts[0].trim()))
}

/// `"100 Gb/sec (4X EDR)"` → bytes per second (the number is parsed as a 32-bit float, as
/// upstream does).
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let Some((num, _)) = s.split_once(' ') else {
        return Err(format!("failed to split {s:?}"));
    };
    let v: f32 = num
        .trim()
        .parse()
        .map_err(|_| format!("failed to convert {} into uint", num.trim()))?;
    Ok((f64::from(v) * 125_000_000.0) as u64)
}

/// Go's `strconv.ParseUint(s, 0, 64)`: decimal, or `0x`/`0b`/`0o`/leading-0 prefixed. Unlike
/// netclass' `parse_int` it takes no `_` digit separators (sysfs counters never have them).
fn parse_uint(s: &str) -> Option<u64> {
    let (radix, digits) = crate::sys::go::go_base_prefix(s);
    if digits.is_empty() || digits.starts_with('+') {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Reads a small sysfs file, trimmed; `Ok(None)` when the driver refuses it. Kept apart from
/// netclass' `read_attr` (one 128-byte read via [`crate::sys::read::sys_read_file`]): this reads the
/// whole file, fails on invalid UTF-8 and skips only the errors procfs' infiniband reader skips
/// (not ENODEV).
fn read_value(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e)
            if crate::sys::read::is_missing(&e)
                || e.kind() == std::io::ErrorKind::PermissionDenied
                || matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL) | Some(libc::EOPNOTSUPP)
                ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{}: {e}", path.display()))
}

/// Reads one port directory.
pub fn read_port(dir: &Path, port: u32) -> std::io::Result<Port> {
    let mut p = Port {
        port,
        ..Port::default()
    };
    let text = |f: &str| -> std::io::Result<String> {
        std::fs::read_to_string(dir.join(f))
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.join(f).display())))
    };
    p.state_id = parse_state(&text("state")?).map_err(|e| io_err(dir, e))?;
    p.phys_state_id = parse_state(&text("phys_state")?).map_err(|e| io_err(dir, e))?;
    p.rate = parse_rate(&text("rate")?).map_err(|e| io_err(dir, e))?;
    for sub in ["counters", "counters_ext", "hw_counters"] {
        let subdir = dir.join(sub);
        // node_exporter reads counters_ext only when counters exists.
        if sub == "counters_ext" && !dir.join("counters").is_dir() {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&subdir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let known = COUNTERS.iter().find(|(d, f, _, _)| *d == sub && *f == name);
            let is_lifespan = sub == "hw_counters" && name == "lifespan";
            if known.is_none() && !is_lifespan {
                continue;
            }
            let path = subdir.join(&name);
            let Some(value) = read_value(&path)? else {
                continue;
            };
            let Some(mut v) = parse_uint(&value) else {
                // Unreadable performance counters print "N/A (no PMA)".
                if value.contains("N/A (no PMA)") {
                    continue;
                }
                return Err(io_err(&path, format!("invalid value {value:?}")));
            };
            if is_lifespan {
                p.lifespan_ms = Some(v);
                continue;
            }
            if TIMES_FOUR.contains(&name.as_str()) {
                v = v.wrapping_mul(4);
            }
            if let Some((_, _, metric, help)) = known {
                p.counters.push((metric, help, v));
            }
        }
    }
    // Keep node_exporter's metric order (it does not matter for the output, which is sorted).
    p.counters
        .sort_by_key(|(m, _, _)| COUNTERS.iter().position(|c| c.2 == *m));
    Ok(p)
}

/// Reads one device directory.
pub fn read_device(dir: &Path, name: &str) -> std::io::Result<Device> {
    let mut d = Device {
        name: name.to_string(),
        ..Device::default()
    };
    // fw_ver is exposed by every driver since Linux 4.10; board_id and hca_type are optional.
    d.firmware_version = std::fs::read_to_string(dir.join("fw_ver"))
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("failed to read HCA firmware version: {e}"),
            )
        })?
        .trim()
        .to_string();
    for (f, slot) in [("board_id", &mut d.board_id), ("hca_type", &mut d.hca_type)] {
        match std::fs::read_to_string(dir.join(f)) {
            Ok(s) => *slot = s.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&dir.join(f), e)),
        }
    }
    let ports_dir = dir.join("ports");
    let mut ports = Vec::new();
    for entry in std::fs::read_dir(&ports_dir).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "failed to list InfiniBand ports at {:?}: {e}",
                ports_dir.display()
            ),
        )
    })? {
        let entry = entry?;
        let pname = entry.file_name().to_string_lossy().into_owned();
        let num: u32 = pname
            .parse()
            .map_err(|_| io_err(&ports_dir, format!("failed to convert {pname} into uint")))?;
        ports.push(read_port(&entry.path(), num)?);
    }
    ports.sort_by_key(|p| p.port);
    d.ports = ports;
    Ok(d)
}

impl Collector for InfiniBand {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let names = crate::sys::read::dir_names(&self.dir)
            .map_err(|e| CollectError::from_io(&self.dir, e))?;
        for name in names {
            let dev = read_device(&self.dir.join(&name), &name).map_err(|e| {
                if crate::sys::read::is_missing(&e) {
                    CollectError::NoData(format!("infiniband statistics not found: {e}"))
                } else {
                    anyhow::anyhow!("error obtaining InfiniBand class info: {e}").into()
                }
            })?;
            out.gauge(
                "node_infiniband_info",
                "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
                &[
                    ("device", &dev.name),
                    ("board_id", &dev.board_id),
                    ("firmware_version", &dev.firmware_version),
                    ("hca_type", &dev.hca_type),
                ],
                1.0,
            );
            for p in &dev.ports {
                let port = p.port.to_string();
                let labels = [("device", dev.name.as_str()), ("port", port.as_str())];
                out.gauge(
                    "node_infiniband_state_id",
                    "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)",
                    &labels,
                    p.state_id as f64,
                );
                out.gauge(
                    "node_infiniband_physical_state_id",
                    "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)",
                    &labels,
                    p.phys_state_id as f64,
                );
                out.gauge(
                    "node_infiniband_rate_bytes_per_second",
                    "Maximum signal transfer rate",
                    &labels,
                    p.rate as f64,
                );
                if let Some(ms) = p.lifespan_ms {
                    out.gauge(
                        "node_infiniband_lifespan_seconds",
                        "The maximum period in ms which defines the aging of the counter reads. Two consecutive reads within this period might return the same values.",
                        &labels,
                        (ms / 1000) as f64,
                    );
                }
                for &(metric, help, v) in &p.counters {
                    out.counter(
                        &format!("node_infiniband_{metric}"),
                        help,
                        &labels,
                        v as f64,
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_file};

    #[test]
    fn parses_state_and_rate() {
        assert_eq!(parse_state("4: ACTIVE\n"), Ok(4));
        assert_eq!(parse_state("5: LinkUp"), Ok(5));
        assert!(parse_state("ACTIVE").is_err());
        assert_eq!(parse_rate("100 Gb/sec (4X EDR)"), Ok(12_500_000_000));
        assert_eq!(parse_rate("2.5 Gb/sec (1X SDR)"), Ok(312_500_000));
        assert!(parse_rate("fast").is_err());
        assert_eq!(parse_uint("0x10"), Some(16));
        assert_eq!(parse_uint("0"), Some(0));
        assert_eq!(parse_uint("42"), Some(42));
        assert_eq!(parse_uint("N/A (no PMA)"), None);
    }

    /// Two devices shaped like a Mellanox ConnectX-5 (mlx5_0, with hw_counters) and an old
    /// mthca with counters_ext and an unreadable counter, as Linux 6.x / 4.x lay them out.
    fn fake_sysfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let ib = dir.path().join("class/infiniband");
        write_file(&ib.join("mlx5_0/fw_ver"), "16.35.2000\n");
        write_file(&ib.join("mlx5_0/board_id"), "MT_0000000008\n");
        write_file(&ib.join("mlx5_0/hca_type"), "MT4119\n");
        write_file(&ib.join("mlx5_0/ports/1/state"), "4: ACTIVE\n");
        write_file(&ib.join("mlx5_0/ports/1/phys_state"), "5: LinkUp\n");
        write_file(&ib.join("mlx5_0/ports/1/rate"), "100 Gb/sec (4X EDR)\n");
        write_file(&ib.join("mlx5_0/ports/1/counters/port_rcv_data"), "1000\n");
        write_file(&ib.join("mlx5_0/ports/1/counters/port_xmit_wait"), "3\n");
        write_file(&ib.join("mlx5_0/ports/1/counters/VL15_dropped"), "0\n");
        write_file(
            &ib.join("mlx5_0/ports/1/counters/unknown_new_counter"),
            "9\n",
        );
        write_file(&ib.join("mlx5_0/ports/1/hw_counters/out_of_buffer"), "7\n");
        write_file(&ib.join("mlx5_0/ports/1/hw_counters/lifespan"), "12\n");
        write_file(&ib.join("mthca0/fw_ver"), "1.2.0\n");
        write_file(&ib.join("mthca0/ports/1/state"), "1: DOWN\n");
        write_file(&ib.join("mthca0/ports/1/phys_state"), "2: Polling\n");
        write_file(&ib.join("mthca0/ports/1/rate"), "10 Gb/sec (4X)\n");
        write_file(
            &ib.join("mthca0/ports/1/counters/link_downed"),
            "N/A (no PMA)\n",
        );
        write_file(&ib.join("mthca0/ports/1/counters/symbol_error"), "2\n");
        write_file(
            &ib.join("mthca0/ports/1/counters_ext/port_xmit_data_64"),
            "5\n",
        );
        dir
    }

    #[test]
    fn output() {
        let dir = fake_sysfs();
        let paths = sys_at(dir.path());
        let text = render(&*build(&paths, &Args {}).unwrap()).unwrap();
        for l in [
            "# HELP node_infiniband_info Non-numeric data from /sys/class/infiniband/<device>, value is always 1.\n# TYPE node_infiniband_info gauge\nnode_infiniband_info{board_id=\"\",device=\"mthca0\",firmware_version=\"1.2.0\",hca_type=\"\"} 1\nnode_infiniband_info{board_id=\"MT_0000000008\",device=\"mlx5_0\",firmware_version=\"16.35.2000\",hca_type=\"MT4119\"} 1\n",
            "# TYPE node_infiniband_port_data_received_bytes_total counter\nnode_infiniband_port_data_received_bytes_total{device=\"mlx5_0\",port=\"1\"} 4000\n",
            "node_infiniband_legacy_data_transmitted_bytes_total{device=\"mthca0\",port=\"1\"} 20\n",
            "node_infiniband_state_id{device=\"mlx5_0\",port=\"1\"} 4\nnode_infiniband_state_id{device=\"mthca0\",port=\"1\"} 1\n",
            "node_infiniband_physical_state_id{device=\"mthca0\",port=\"1\"} 2\n",
            "node_infiniband_rate_bytes_per_second{device=\"mlx5_0\",port=\"1\"} 1.25e+10\n",
            "node_infiniband_out_of_buffer_drops_total{device=\"mlx5_0\",port=\"1\"} 7\n",
            "# TYPE node_infiniband_lifespan_seconds gauge\nnode_infiniband_lifespan_seconds{device=\"mlx5_0\",port=\"1\"} 0\n",
            "node_infiniband_symbol_error_total{device=\"mthca0\",port=\"1\"} 2\n",
            "node_infiniband_vl15_dropped_total{device=\"mlx5_0\",port=\"1\"} 0\n",
            "# HELP node_infiniband_port_transmit_wait_total Number of ticks during which the port had data to transmit but no data was sent during the entire tick\n",
        ] {
            assert!(text.contains(l), "missing {l:?} in\n{text}");
        }
        assert!(!text.contains("link_downed"));
        assert!(!text.contains("unknown_new_counter"));
    }

    #[test]
    fn absent_class_is_no_data_and_garbage_is_an_error() {
        let empty = tempfile::tempdir().unwrap();
        let paths = sys_at(empty.path());
        let err = build(&paths, &Args {})
            .unwrap()
            .update(&mut Exposition::new())
            .unwrap_err();
        assert!(matches!(err, CollectError::NoData(_)));
        let dir = fake_sysfs();
        write_file(
            &dir.path()
                .join("class/infiniband/mlx5_0/ports/1/counters/symbol_error"),
            "lots\n",
        );
        let paths = sys_at(dir.path());
        let err = build(&paths, &Args {})
            .unwrap()
            .update(&mut Exposition::new())
            .unwrap_err();
        assert!(matches!(err, CollectError::Other(_)), "{err}");
    }
}
