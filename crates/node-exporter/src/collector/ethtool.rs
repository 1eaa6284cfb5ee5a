//! The `ethtool` collector (off by default): per-device driver information
//! (`node_ethtool_info`), driver statistics (`node_ethtool_*`, untyped) and link modes
//! (`node_network_*_supported`/`_advertised`, `node_network_autonegotiate`), from the
//! `SIOCETHTOOL` ioctl, as node_exporter's `ethtool_linux.go` does through safchain/ethtool.
//! Devices are the entries of `<sysfs>/class/net`.
//!
//! Hand-written: three fixed-layout ioctl structs (`ethtool_drvinfo`, `ethtool_gstrings` /
//! `ethtool_stats`, the legacy `ethtool_cmd` that upstream's library still uses); no kept crate
//! wraps them without pulling in a netlink stack.
//!
//! A device without an ethtool operation (EOPNOTSUPP: `lo` has none of them, `ifb` no link
//! settings) is skipped for that operation and logged at debug, as upstream does.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};
use regex_lite::Regex;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::{compile_regex, BothFilter};
use crate::sys::go::sanitize_metric_name;

#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
pub struct Args {
    /// Regexp of ethtool devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.ethtool.device-include", value_name = "REGEX")]
    pub ethtool_device_include: Option<String>,

    /// Regexp of ethtool devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.ethtool.device-exclude", value_name = "REGEX")]
    pub ethtool_device_exclude: Option<String>,

    /// Regexp of ethtool stats to include.
    #[arg(long = "collector.ethtool.metrics-include", default_value = ".*")]
    pub ethtool_metrics_include: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            ethtool_device_include: None,
            ethtool_device_exclude: None,
            ethtool_metrics_include: ".*".into(),
        }
    }
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Ethtool::new(paths, args)?))
}

impl Ethtool {
    fn new(paths: &Paths, args: &Args) -> Result<Self, UsageError> {
        let include = args
            .ethtool_device_include
            .as_deref()
            .filter(|s| !s.is_empty());
        let exclude = args
            .ethtool_device_exclude
            .as_deref()
            .filter(|s| !s.is_empty());
        for (flag, v) in [
            ("device-include", include),
            ("device-exclude", exclude),
            (
                "metrics-include",
                Some(args.ethtool_metrics_include.as_str()),
            ),
        ] {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                tracing::info!(flag = v, "Parsed flag --collector.ethtool.{flag}");
            }
        }
        Ok(Ethtool {
            paths: paths.clone(),
            devices: BothFilter::new("collector.ethtool.device", include, exclude)?,
            metrics: compile_regex(
                "collector.ethtool.metrics-include",
                &args.ethtool_metrics_include,
            )?,
            received: Regex::new("(^|_)rx(_|$)").map_err(|e| UsageError::new(e.to_string()))?,
            transmitted: Regex::new("(^|_)tx(_|$)").map_err(|e| UsageError::new(e.to_string()))?,
        })
    }
}

struct Ethtool {
    paths: Paths,
    devices: BothFilter,
    metrics: Regex,
    received: Regex,
    transmitted: Regex,
}

impl Collector for Ethtool {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let dir = self.paths.sys("class/net");
        let mut devices: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) => return Err(CollectError::from_io(&dir, e)),
        };
        if devices.is_empty() {
            return Err(anyhow::anyhow!("no network devices found").into());
        }
        devices.sort();
        let sock = Socket::open()?;
        for device in devices.iter().filter(|d| !self.devices.ignored(d)) {
            match sock.link_settings(device) {
                Ok(l) => render_link(out, device, &l),
                Err(e) => log_error("ethtool link info error", device, &e),
            }
            match sock.driver_info(device) {
                Ok(d) => {
                    out.family(
                        "node_ethtool_info",
                        "A metric with a constant '1' value labeled by bus_info, device, driver, expansion_rom_version, firmware_version, version.",
                        MetricType::Gauge,
                    )
                    .sample(
                        &[
                            ("bus_info", d.bus_info.as_str()),
                            ("device", device.as_str()),
                            ("driver", d.driver.as_str()),
                            ("expansion_rom_version", d.erom_version.as_str()),
                            ("firmware_version", d.fw_version.as_str()),
                            ("version", d.version.as_str()),
                        ],
                        1.0,
                    );
                }
                Err(e) => log_error("ethtool driver info error", device, &e),
            }
            match sock.stats(device) {
                Ok(stats) => self.render_stats(out, device, &stats),
                Err(e) => log_error("ethtool stats error", device, &e),
            }
        }
        Ok(())
    }
}

/// EOPNOTSUPP (the driver lacks the operation) at debug, anything else at error, as upstream.
fn log_error(what: &str, device: &str, e: &io::Error) {
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) => {
            tracing::debug!(err = %e, device, errno = libc::EOPNOTSUPP, "{what}")
        }
        Some(0) => {}
        Some(errno) => tracing::error!(err = %e, device, errno, "{what}"),
        None => tracing::error!(err = %e, device, "{what}"),
    }
}

/// The names upstream registers up front for the commonest statistics; any other statistic
/// gets `node_ethtool_<name>` and "Network interface <stat>" as help.
fn known_stat(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        "rx_bytes" => (
            "node_ethtool_received_bytes_total",
            "Network interface bytes received",
        ),
        "rx_dropped" => (
            "node_ethtool_received_dropped_total",
            "Number of received frames dropped",
        ),
        "rx_errors" => (
            "node_ethtool_received_errors_total",
            "Number of received frames with errors",
        ),
        "rx_packets" => (
            "node_ethtool_received_packets_total",
            "Network interface packets received",
        ),
        "tx_bytes" => (
            "node_ethtool_transmitted_bytes_total",
            "Network interface bytes sent",
        ),
        "tx_errors" => (
            "node_ethtool_transmitted_errors_total",
            "Number of sent frames with errors",
        ),
        "tx_packets" => (
            "node_ethtool_transmitted_packets_total",
            "Network interface packets sent",
        ),
        _ => return None,
    })
}

impl Ethtool {
    /// upstream's `buildEthtoolFQName`: sanitised, lowercased, leading underscores dropped, and
    /// `rx`/`tx` words spelt out (left to right, without overlap, as Go's `ReplaceAllString`:
    /// `tx_tx_timeouts` becomes `transmitted_tx_timeouts`).
    fn fq_name(&self, stat: &str) -> String {
        let name = sanitize_metric_name(stat).to_lowercase();
        let name = name.trim_start_matches('_');
        let name = self.received.replace_all(name, "${1}received${2}");
        let name = self.transmitted.replace_all(&name, "${1}transmitted${2}");
        format!("node_ethtool_{name}")
    }

    fn render_stats(&self, out: &mut Exposition, device: &str, stats: &HashMap<String, u64>) {
        // Sanitised names can clash: a name two statistics map to is dropped altogether.
        let mut by_name: BTreeMap<String, Option<(String, u64)>> = BTreeMap::new();
        for (stat, v) in stats {
            let key = sanitize_metric_name(stat);
            if !self.metrics.is_match(&key) {
                continue;
            }
            let fq = self.fq_name(&key);
            match by_name.get_mut(&fq) {
                Some(slot) => {
                    tracing::debug!(device, metric_fq_name = %fq, metric = %key, "dropping duplicate metric name");
                    *slot = None;
                }
                None => {
                    by_name.insert(fq, Some((key, *v)));
                }
            }
        }
        for (fq, entry) in by_name {
            let Some((key, v)) = entry else { continue };
            let (name, help) = match known_stat(&key) {
                Some((n, h)) => (n.to_string(), h.to_string()),
                None => (fq, format!("Network interface {key}")),
            };
            out.family(&name, &help, MetricType::Untyped)
                .sample(&[("device", device)], v as f64);
        }
    }
}

// linux/ethtool.h
const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GSET: u32 = 0x1;
const ETHTOOL_GDRVINFO: u32 = 0x3;
const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSTATS: u32 = 0x1d;
const ETH_SS_STATS: u32 = 1;
const ETH_GSTRING_LEN: usize = 32;
/// safchain/ethtool's limit on statistics per device.
const MAX_GSTRINGS: usize = 32768;

/// `ethtool_link_mode_bit_indices` below 32: upstream reads the legacy 32-bit masks.
const AUTONEG_BIT: u32 = 6;
const PAUSE_BIT: u32 = 13;
const ASYM_PAUSE_BIT: u32 = 14;
const PORTS: &[(&str, u32)] = &[
    ("TP", 7),
    ("AUI", 8),
    ("MII", 9),
    ("FIBRE", 10),
    ("BNC", 11),
    ("Backplane", 16),
];
/// (bit, speed in Mb/s, duplex, PHY), those of upstream's table below bit 32.
const SPEEDS: &[(u32, u64, &str, &str)] = &[
    (0, 10, "half", "T"),
    (1, 10, "full", "T"),
    (2, 100, "half", "T"),
    (3, 100, "full", "T"),
    (4, 1000, "half", "T"),
    (5, 1000, "full", "T"),
    (12, 10000, "full", "T"),
    (17, 1000, "full", "KX"),
    (18, 10000, "full", "KX4"),
    (19, 10000, "full", "KR"),
    (20, 10000, "full", "R_FEC"),
    (21, 20000, "full", "MLD2"),
    (22, 20000, "full", "KR2"),
    (23, 40000, "full", "KR4"),
    (24, 40000, "full", "CR4"),
    (25, 40000, "full", "SR4"),
    (26, 40000, "full", "LR4"),
    (27, 56000, "full", "KR4"),
    (28, 56000, "full", "CR4"),
    (29, 56000, "full", "SR4"),
    (30, 56000, "full", "LR4"),
    (31, 25000, "full", "CR"),
];

/// What the metrics use of `ethtool_cmd`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LinkSettings {
    pub supported: u32,
    pub advertising: u32,
    pub autoneg: u8,
}

fn render_link(out: &mut Exposition, device: &str, l: &LinkSettings) {
    let bit = |m: u32, b: u32| if m & (1 << b) != 0 { 1.0 } else { 0.0 };
    let speeds = |out: &mut Exposition, name: &str, help: &str, mask: u32| {
        for &(b, mbps, duplex, phy) in SPEEDS {
            if mask & (1 << b) != 0 {
                let mode = format!("{mbps}base{phy}");
                out.family(name, help, MetricType::Gauge).sample(
                    &[("device", device), ("duplex", duplex), ("mode", &mode)],
                    // Bytes per second, as netclass's speed.
                    mbps as f64 * 1_000_000.0 / 8.0,
                );
            }
        }
    };
    let caps = |out: &mut Exposition, names: [(&str, &str); 3], mask: u32| {
        for ((name, help), b) in names
            .into_iter()
            .zip([AUTONEG_BIT, PAUSE_BIT, ASYM_PAUSE_BIT])
        {
            out.family(name, help, MetricType::Gauge)
                .sample(&[("device", device)], bit(mask, b));
        }
    };
    speeds(
        out,
        "node_network_supported_speed_bytes",
        "Combination of speeds and features supported by network device",
        l.supported,
    );
    for &(port, b) in PORTS {
        if l.supported & (1 << b) != 0 {
            out.family(
                "node_network_supported_port_info",
                "Type of ports or PHYs supported by network device",
                MetricType::Gauge,
            )
            .sample(&[("device", device), ("type", port)], 1.0);
        }
    }
    caps(
        out,
        [
            (
                "node_network_autonegotiate_supported",
                "If this port device supports autonegotiate",
            ),
            (
                "node_network_pause_supported",
                "If this port device supports pause frames",
            ),
            (
                "node_network_asymmetricpause_supported",
                "If this port device supports asymmetric pause frames",
            ),
        ],
        l.supported,
    );
    speeds(
        out,
        "node_network_advertised_speed_bytes",
        "Combination of speeds and features offered by network device",
        l.advertising,
    );
    caps(
        out,
        [
            (
                "node_network_autonegotiate_advertised",
                "If this port device offers autonegotiate",
            ),
            (
                "node_network_pause_advertised",
                "If this port device offers pause capability",
            ),
            (
                "node_network_asymmetricpause_advertised",
                "If this port device offers asymmetric pause capability",
            ),
        ],
        l.advertising,
    );
    out.family(
        "node_network_autonegotiate",
        "If this port is using autonegotiate",
        MetricType::Gauge,
    )
    .sample(&[("device", device)], l.autoneg as f64);
}

/// What the metrics use of `ethtool_drvinfo`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DriverInfo {
    pub driver: String,
    pub version: String,
    pub fw_version: String,
    pub bus_info: String,
    pub erom_version: String,
    pub n_stats: u32,
}

/// `struct ethtool_drvinfo`: cmd, five 32-byte strings, 12 reserved bytes, then n_priv_flags,
/// n_stats, testinfo_len, eedump_len, regdump_len.
const DRVINFO_LEN: usize = 4 + 5 * 32 + 12 + 5 * 4;

pub fn parse_drvinfo(b: &[u8]) -> DriverInfo {
    let s = |i: usize| crate::sys::netlink::c_string(&b[4 + 32 * i..4 + 32 * (i + 1)]);
    let at = 4 + 5 * 32 + 12 + 4;
    DriverInfo {
        driver: s(0),
        version: s(1),
        fw_version: s(2),
        bus_info: s(3),
        erom_version: s(4),
        n_stats: u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]),
    }
}

/// An `AF_INET` datagram socket, the handle `SIOCETHTOOL` is issued on.
struct Socket(OwnedFd);

impl Socket {
    fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2); the fd is owned below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// One `SIOCETHTOOL` on `device` with `data` (which starts with the command word) as the
    /// request's buffer; the kernel writes its answer into it.
    fn ioctl(&self, device: &str, data: &mut [u8]) -> io::Result<()> {
        // SAFETY: all-zero ifreq is valid.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        let name = device.as_bytes();
        if name.len() >= ifr.ifr_name.len() {
            return Err(io::Error::from_raw_os_error(libc::ENODEV));
        }
        for (d, s) in ifr.ifr_name.iter_mut().zip(name) {
            *d = *s as libc::c_char;
        }
        ifr.ifr_ifru.ifru_data = data.as_mut_ptr().cast();
        // SAFETY: ifr points at `data`, which outlives the call and is as long as the command
        // the kernel reads from its first word expects.
        let r = unsafe { libc::ioctl(self.0.as_raw_fd(), SIOCETHTOOL as _, &mut ifr) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn driver_info(&self, device: &str) -> io::Result<DriverInfo> {
        let mut b = vec![0u8; DRVINFO_LEN];
        b[..4].copy_from_slice(&ETHTOOL_GDRVINFO.to_ne_bytes());
        self.ioctl(device, &mut b)?;
        Ok(parse_drvinfo(&b))
    }

    fn link_settings(&self, device: &str) -> io::Result<LinkSettings> {
        // struct ethtool_cmd: cmd, supported, advertising, speed (u16), duplex, port,
        // phy_address, transceiver, autoneg (byte 18), ... 44 bytes in all.
        let mut b = vec![0u8; 44];
        b[..4].copy_from_slice(&ETHTOOL_GSET.to_ne_bytes());
        self.ioctl(device, &mut b)?;
        Ok(LinkSettings {
            supported: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            advertising: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
            autoneg: b[18],
        })
    }

    /// Statistic names and values, as safchain/ethtool: the count from the driver info, then
    /// the names (`ETH_SS_STATS` strings) and the values; empty names are left out.
    fn stats(&self, device: &str) -> io::Result<HashMap<String, u64>> {
        let n = self.driver_info(device)?.n_stats as usize;
        if n > MAX_GSTRINGS {
            return Err(io::Error::other(format!(
                "ethtool currently doesn't support more than {MAX_GSTRINGS} entries, received {n}"
            )));
        }
        let mut strings = vec![0u8; 12 + n * ETH_GSTRING_LEN];
        strings[..4].copy_from_slice(&ETHTOOL_GSTRINGS.to_ne_bytes());
        strings[4..8].copy_from_slice(&ETH_SS_STATS.to_ne_bytes());
        strings[8..12].copy_from_slice(&(n as u32).to_ne_bytes());
        self.ioctl(device, &mut strings)?;
        let mut values = vec![0u8; 8 + n * 8];
        values[..4].copy_from_slice(&ETHTOOL_GSTATS.to_ne_bytes());
        values[4..8].copy_from_slice(&(n as u32).to_ne_bytes());
        self.ioctl(device, &mut values)?;
        Ok(parse_stats(&strings[12..], &values[8..], n))
    }
}

/// `n` names of 32 bytes each and `n` native-endian u64 values.
pub fn parse_stats(names: &[u8], values: &[u8], n: usize) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for i in 0..n {
        let (Some(name), Some(v)) = (
            names.get(i * ETH_GSTRING_LEN..(i + 1) * ETH_GSTRING_LEN),
            values.get(i * 8..i * 8 + 8),
        ) else {
            break;
        };
        let name = crate::sys::netlink::c_string(name);
        if !name.is_empty() {
            let mut b = [0u8; 8];
            b.copy_from_slice(v);
            out.insert(name, u64::from_ne_bytes(b));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render as render_collector, text};

    fn collector(args: &Args) -> Ethtool {
        Ethtool::new(&Paths::default(), args).unwrap()
    }

    /// Names as 1.12.1 printed them for this host's virtio_net and ifb devices.
    #[test]
    fn names_as_upstream() {
        let c = collector(&Args::default());
        for (stat, want) in [
            ("rx_kicks", "node_ethtool_received_kicks"),
            ("rx_xdp_tx", "node_ethtool_received_xdp_transmitted"),
            ("tx_tx_timeouts", "node_ethtool_transmitted_tx_timeouts"),
            ("tx0_tx_timeouts", "node_ethtool_tx0_transmitted_timeouts"),
            (
                "tx_xdp_tx_drops",
                "node_ethtool_transmitted_xdp_transmitted_drops",
            ),
            ("rx0_xdp_tx", "node_ethtool_rx0_xdp_transmitted"),
            ("rx_queue_0_bytes", "node_ethtool_received_queue_0_bytes"),
            ("__Port.RX-Bytes", "node_ethtool_port_received_bytes"),
        ] {
            assert_eq!(c.fq_name(&sanitize_metric_name(stat)), want, "{stat}");
        }
    }

    #[test]
    fn duplicates_dropped_and_known_names() {
        let c = collector(&Args::default());
        let stats = HashMap::from([
            ("rx_bytes".to_string(), 5u64),
            ("port rx".to_string(), 1),
            ("port.rx".to_string(), 2),
            ("tx-errors".to_string(), 3),
            ("align_errors".to_string(), 4),
        ]);
        let mut out = Exposition::new();
        c.render_stats(&mut out, "eth0", &stats);
        let t = text(out);
        assert!(t.contains("# HELP node_ethtool_received_bytes_total Network interface bytes received\n# TYPE node_ethtool_received_bytes_total untyped\nnode_ethtool_received_bytes_total{device=\"eth0\"} 5\n"), "{t}");
        assert!(!t.contains("port_received"), "{t}");
        assert!(
            t.contains("node_ethtool_transmitted_errors_total{device=\"eth0\"} 3\n"),
            "{t}"
        );
        assert!(
            t.contains("# HELP node_ethtool_align_errors Network interface align_errors\n"),
            "{t}"
        );

        let only = collector(&Args {
            ethtool_metrics_include: "^align".into(),
            ..Args::default()
        });
        let mut out = Exposition::new();
        only.render_stats(&mut out, "eth0", &stats);
        let t = text(out);
        assert!(t.contains("align_errors") && !t.contains("received"), "{t}");
    }

    #[test]
    fn link_modes() {
        let mut out = Exposition::new();
        // 1000baseT full, autoneg, TP, pause.
        let m = (1 << 5) | (1 << 6) | (1 << 7) | (1 << 13);
        render_link(
            &mut out,
            "eth0",
            &LinkSettings {
                supported: m,
                advertising: 1 << 5,
                autoneg: 1,
            },
        );
        let t = text(out);
        for l in [
            "node_network_supported_speed_bytes{device=\"eth0\",duplex=\"full\",mode=\"1000baseT\"} 1.25e+08",
            "node_network_supported_port_info{device=\"eth0\",type=\"TP\"} 1",
            "node_network_pause_supported{device=\"eth0\"} 1",
            "node_network_asymmetricpause_supported{device=\"eth0\"} 0",
            "node_network_autonegotiate_advertised{device=\"eth0\"} 0",
            "node_network_autonegotiate{device=\"eth0\"} 1",
        ] {
            assert!(t.contains(&format!("{l}\n")), "missing {l:?} in\n{t}");
        }
    }

    #[test]
    fn parses_structs() {
        let mut b = vec![0u8; DRVINFO_LEN];
        b[4..14].copy_from_slice(b"virtio_net");
        b[36..41].copy_from_slice(b"1.0.0");
        b[100..112].copy_from_slice(b"0000:00:03.0");
        b[4 + 160 + 12 + 4..4 + 160 + 12 + 8].copy_from_slice(&7u32.to_ne_bytes());
        let d = parse_drvinfo(&b);
        assert_eq!(d.driver, "virtio_net");
        assert_eq!(d.version, "1.0.0");
        assert_eq!(d.bus_info, "0000:00:03.0");
        assert_eq!(d.n_stats, 7);

        let mut names = vec![0u8; 64];
        names[..8].copy_from_slice(b"rx_kicks");
        let mut values = 9u64.to_ne_bytes().to_vec();
        values.extend(1u64.to_ne_bytes());
        let s = parse_stats(&names, &values, 2);
        assert_eq!(s, HashMap::from([("rx_kicks".to_string(), 9)]));
    }

    #[test]
    fn flags() {
        let bad = Args {
            ethtool_metrics_include: "(".into(),
            ..Args::default()
        };
        assert!(build(&Paths::default(), &bad).is_err());
    }

    /// Against this host: `lo` answers no ethtool operation (EOPNOTSUPP) and gets no samples;
    /// other devices (virtio_net here) have driver info.
    #[test]
    fn this_host() {
        let c = build(&Paths::default(), &Args::default()).unwrap();
        let t = render_collector(c.as_ref()).unwrap();
        assert!(!t.contains("device=\"lo\""), "{t}");
    }
}
