//! The `netdev` collector: per-device traffic counters, `node_network_<stat>_total{device}`.
//!
//! Like node_exporter (since 1.4), the counters come from rtnetlink by default
//! (`--collector.netdev.netlink`, one `RTM_GETLINK` dump with each link's `IFLA_STATS64`), or from
//! `<procfs>/net/dev` with `--no-collector.netdev.netlink`. Without
//! `--collector.netdev.enable-detailed-metrics` both are folded into the names `/proc/net/dev`
//! has always had (`receive_errs`, `receive_drop`, ...), summing the detailed kernel counters the
//! way the kernel's `dev_seq_printf_stats` does, so the two sources give the same families;
//! netlink adds `receive_nohandler`, which `/proc/net/dev` does not carry.
//!
//! Both read the exporter's own network namespace, as node_exporter does: netlink by nature,
//! and `<procfs>/net/dev` because procfs resolves `net` through `self` (so with
//! `--path.procfs=/host/proc` it is still the exporter's namespace, not PID 1's; a container
//! needs the host network to see the host's devices, with either source).

use std::net::IpAddr;
use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::Filter;
use crate::sys::go::go_ip_string;
use crate::sys::netlink as rtnl;

/// Flags of the `netdev` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Regexp of net devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.netdev.device-include", value_name = "REGEX")]
    pub netdev_device_include: Option<String>,

    /// DEPRECATED: Use collector.netdev.device-include
    #[arg(long = "collector.netdev.device-whitelist", hide = true)]
    pub netdev_device_whitelist: Option<String>,

    /// Regexp of net devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.netdev.device-exclude", value_name = "REGEX")]
    pub netdev_device_exclude: Option<String>,

    /// DEPRECATED: Use collector.netdev.device-exclude
    #[arg(long = "collector.netdev.device-blacklist", hide = true)]
    pub netdev_device_blacklist: Option<String>,

    /// Collect address-info for every device
    #[arg(long = "collector.netdev.address-info")]
    pub netdev_address_info: bool,

    /// Use (incompatible) metric names that provide more detailed stats on Linux
    #[arg(long = "collector.netdev.enable-detailed-metrics")]
    pub netdev_detailed_metrics: bool,

    /// Use netlink to gather stats instead of /proc/net/dev. (default: true)
    #[arg(
        long = "collector.netdev.netlink",
        overrides_with = "netdev_no_netlink"
    )]
    pub netdev_netlink: bool,

    #[arg(
        long = "no-collector.netdev.netlink",
        hide = true,
        overrides_with = "netdev_netlink"
    )]
    pub netdev_no_netlink: bool,

    /// Add ifAlias label
    #[arg(long = "collector.netdev.label-ifalias")]
    pub netdev_label_ifalias: bool,
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let include = merge_deprecated(
        "collector.netdev.device-include",
        args.netdev_device_include.as_deref(),
        "collector.netdev.device-whitelist",
        args.netdev_device_whitelist.as_deref(),
    )?;
    let exclude = merge_deprecated(
        "collector.netdev.device-exclude",
        args.netdev_device_exclude.as_deref(),
        "collector.netdev.device-blacklist",
        args.netdev_device_blacklist.as_deref(),
    )?;
    if include.is_some() && exclude.is_some() {
        return Err(UsageError::new(
            "device-exclude & device-include are mutually exclusive",
        ));
    }
    Ok(Box::new(NetDev {
        proc_net_dev: paths.proc("net/dev"),
        sys_class_net: paths.sys("class/net"),
        filter: Filter::new("collector.netdev.device", include, exclude)?,
        netlink: !args.netdev_no_netlink,
        detailed: args.netdev_detailed_metrics,
        address_info: args.netdev_address_info,
        label_ifalias: args.netdev_label_ifalias,
    }))
}

/// node_exporter's handling of a deprecated filter flag: it stands in for the new one, unless
/// both are given.
fn merge_deprecated<'a>(
    new_name: &str,
    new: Option<&'a str>,
    old_name: &str,
    old: Option<&'a str>,
) -> Result<Option<&'a str>, UsageError> {
    let new = new.filter(|s| !s.is_empty());
    match (new, old.filter(|s| !s.is_empty())) {
        (Some(_), Some(_)) => Err(UsageError::new(format!(
            "--{old_name} and --{new_name} are mutually exclusive"
        ))),
        (None, Some(o)) => {
            tracing::warn!(
                "--{old_name} is DEPRECATED and will be removed in 2.0.0, use --{new_name}"
            );
            Ok(Some(o))
        }
        (n, None) => Ok(n),
    }
}

struct NetDev {
    proc_net_dev: PathBuf,
    sys_class_net: PathBuf,
    filter: Filter,
    netlink: bool,
    detailed: bool,
    address_info: bool,
    label_ifalias: bool,
}

impl Collector for NetDev {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let devices = if self.netlink {
            netlink_devices().map_err(|e| anyhow::anyhow!("couldn't get netstats: {e}"))?
        } else {
            let text = crate::sys::read::string(&self.proc_net_dev)
                .map_err(|e| CollectError::from_io(&self.proc_net_dev, e))?;
            parse_proc_net_dev(&text).map_err(|e| anyhow::anyhow!("couldn't get netstats: {e}"))?
        };
        for dev in &devices {
            if self.filter.ignored(&dev.name) {
                continue;
            }
            let alias;
            let mut labels: Vec<(&str, &str)> = vec![("device", dev.name.as_str())];
            if self.label_ifalias {
                // node_exporter takes the alias from sysfs; an unreadable file is an empty alias.
                alias =
                    crate::sys::read::trimmed(&self.sys_class_net.join(&dev.name).join("ifalias"))
                        .unwrap_or_default();
                labels.push(("ifalias", alias.as_str()));
            }
            for (key, value) in dev.metrics(self.detailed) {
                out.counter(
                    &format!("node_network_{key}_total"),
                    &format!("Network device statistic {key}."),
                    &labels,
                    value as f64,
                );
            }
        }
        if self.address_info {
            for a in address_info()? {
                out.gauge(
                    "node_network_address_info",
                    "node network address by device",
                    &[
                        ("device", &a.device),
                        ("address", &a.address),
                        ("netmask", &a.netmask),
                        ("scope", a.scope),
                    ],
                    1.0,
                );
            }
        }
        Ok(())
    }
}

/// The fields of the kernel's `struct rtnl_link_stats64`, in its order.
const LINK_STATS: [&str; 24] = [
    "receive_packets",
    "transmit_packets",
    "receive_bytes",
    "transmit_bytes",
    "receive_errors",
    "transmit_errors",
    "receive_dropped",
    "transmit_dropped",
    "multicast",
    "collisions",
    "receive_length_errors",
    "receive_over_errors",
    "receive_crc_errors",
    "receive_frame_errors",
    "receive_fifo_errors",
    "receive_missed_errors",
    "transmit_aborted_errors",
    "transmit_carrier_errors",
    "transmit_fifo_errors",
    "transmit_heartbeat_errors",
    "transmit_window_errors",
    "receive_compressed",
    "transmit_compressed",
    "receive_nohandler",
];

/// The columns of `/proc/net/dev`, named as node_exporter names them before folding.
const PROC_STATS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errors",
    "receive_dropped",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errors",
    "transmit_dropped",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// One device's counters from either source.
#[derive(Debug, Clone, PartialEq)]
pub struct DevStats {
    pub name: String,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `rtnl_link_stats64`, in [`LINK_STATS`] order.
    Netlink([u64; 24]),
    /// `/proc/net/dev` columns, in [`PROC_STATS`] order.
    Proc([u64; 16]),
}

impl DevStats {
    /// `(name, value)` as node_exporter exposes them, with or without its detailed names.
    pub fn metrics(&self, detailed: bool) -> Vec<(&'static str, u64)> {
        match (&self.source, detailed) {
            (Source::Netlink(s), true) => {
                LINK_STATS.iter().copied().zip(s.iter().copied()).collect()
            }
            (Source::Proc(s), true) => PROC_STATS.iter().copied().zip(s.iter().copied()).collect(),
            (Source::Proc(s), false) => {
                // Only the error and drop counters change name; the folding sums are the kernel's.
                PROC_STATS
                    .iter()
                    .zip(s.iter())
                    .map(|(&k, &v)| {
                        let k = match k {
                            "receive_errors" => "receive_errs",
                            "receive_dropped" => "receive_drop",
                            "transmit_errors" => "transmit_errs",
                            "transmit_dropped" => "transmit_drop",
                            k => k,
                        };
                        (k, v)
                    })
                    .collect()
            }
            (Source::Netlink(s), false) => {
                // node_exporter's `legacy()`: the sums /proc/net/dev prints (net-procfs.c).
                let [rx_packets, tx_packets, rx_bytes, tx_bytes, rx_errors, tx_errors, rx_dropped, tx_dropped, multicast, collisions, rx_length, rx_over, rx_crc, rx_frame, rx_fifo, rx_missed, tx_aborted, tx_carrier, tx_fifo, tx_heartbeat, tx_window, rx_compressed, tx_compressed, rx_nohandler] =
                    *s;
                vec![
                    ("receive_packets", rx_packets),
                    ("transmit_packets", tx_packets),
                    ("receive_bytes", rx_bytes),
                    ("transmit_bytes", tx_bytes),
                    ("receive_errs", rx_errors),
                    ("transmit_errs", tx_errors),
                    ("receive_drop", rx_dropped.wrapping_add(rx_missed)),
                    ("transmit_drop", tx_dropped),
                    ("receive_multicast", multicast),
                    ("transmit_colls", collisions),
                    (
                        "receive_frame",
                        rx_frame
                            .wrapping_add(rx_length)
                            .wrapping_add(rx_over)
                            .wrapping_add(rx_crc),
                    ),
                    ("receive_fifo", rx_fifo),
                    (
                        "transmit_carrier",
                        tx_carrier
                            .wrapping_add(tx_aborted)
                            .wrapping_add(tx_heartbeat)
                            .wrapping_add(tx_window),
                    ),
                    ("transmit_fifo", tx_fifo),
                    ("receive_compressed", rx_compressed),
                    ("transmit_compressed", tx_compressed),
                    ("receive_nohandler", rx_nohandler),
                ]
            }
        }
    }
}

/// Parses `/proc/net/dev`: two header lines, then `  name: 16 counters`. A line that does not
/// have 16 numbers fails the whole file, as in node_exporter's procfs library.
pub fn parse_proc_net_dev(text: &str) -> Result<Vec<DevStats>, String> {
    let mut devices = Vec::new();
    for line in text.lines().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        // Names may contain ':' (aliases like "eth0:1" are not listed, but be safe): the last
        // colon ends the name.
        let Some(idx) = line.rfind(':') else {
            return Err(format!("invalid line in net/dev: {line:?}"));
        };
        let name = line[..idx].trim();
        let mut values = [0u64; 16];
        let mut fields = line[idx + 1..].split_whitespace();
        for v in values.iter_mut() {
            *v = fields
                .next()
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| format!("invalid line in net/dev: {line:?}"))?;
        }
        devices.push(DevStats {
            name: name.to_string(),
            source: Source::Proc(values),
        });
    }
    Ok(devices)
}

/// Every link's counters from one `RTM_GETLINK` dump.
fn netlink_devices() -> std::io::Result<Vec<DevStats>> {
    let mut devices = Vec::new();
    rtnl::dump(rtnl::RTM_GETLINK, &[0u8; 16], |kind, body| {
        if kind == rtnl::RTM_NEWLINK {
            if let Some(d) = parse_link_message(body) {
                devices.push(d);
            }
        }
    })?;
    Ok(devices)
}

/// One `RTM_NEWLINK` message body (`ifinfomsg` + attributes): the name and the 64-bit
/// counters, or the 32-bit ones on kernels that send no `IFLA_STATS64`. A link without either
/// is skipped, as node_exporter does.
pub fn parse_link_message(body: &[u8]) -> Option<DevStats> {
    let attrs = body.get(16..)?;
    let mut name = None;
    let mut stats64 = None;
    let mut stats32 = None;
    for (kind, data) in rtnl::attrs(attrs) {
        match kind {
            libc::IFLA_IFNAME => name = Some(rtnl::c_string(data)),
            libc::IFLA_STATS64 => stats64 = Some(data),
            libc::IFLA_STATS => stats32 = Some(data),
            _ => {}
        }
    }
    let mut values = [0u64; 24];
    if let Some(data) = stats64 {
        // Older kernels send fewer fields (no rx_nohandler before 4.6); newer ones more.
        for (v, chunk) in values.iter_mut().zip(data.chunks_exact(8)) {
            *v = u64::from_ne_bytes(chunk.try_into().ok()?);
        }
    } else if let Some(data) = stats32 {
        for (v, chunk) in values.iter_mut().zip(data.chunks_exact(4)) {
            *v = u64::from(u32::from_ne_bytes(chunk.try_into().ok()?));
        }
    } else {
        return None;
    }
    Some(DevStats {
        name: name?,
        source: Source::Netlink(values),
    })
}

/// One address of `--collector.netdev.address-info`.
#[derive(Debug, Clone, PartialEq)]
pub struct AddrInfo {
    pub device: String,
    pub address: String,
    pub netmask: String,
    pub scope: &'static str,
}

/// Every IPv4/IPv6 address of every interface, from getifaddrs(3) (one netlink dump of links
/// and one of addresses, as Go's `net.Interfaces` + `Addrs` do).
fn address_info() -> Result<Vec<AddrInfo>, CollectError> {
    let mut res = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below and only read in between.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(anyhow::anyhow!(
            "could not get network interfaces: {}",
            std::io::Error::last_os_error()
        )
        .into());
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        // SAFETY: sockaddrs of the family they claim; names are NUL-terminated.
        let (Some(ip), Some(mask)) = (unsafe { sockaddr_ip(ifa.ifa_addr) }, unsafe {
            sockaddr_ip(ifa.ifa_netmask)
        }) else {
            continue;
        };
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let prefix = match mask {
            IpAddr::V4(m) => u32::from(m).count_ones(),
            IpAddr::V6(m) => u128::from(m).count_ones(),
        };
        res.push(AddrInfo {
            device: name,
            address: go_ip_string(ip),
            netmask: prefix.to_string(),
            scope: scope(ip),
        });
    }
    // SAFETY: `head` came from getifaddrs.
    unsafe { libc::freeifaddrs(head) };
    Ok(res)
}

/// # Safety
/// `sa` is null or points to a sockaddr of the family it names.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: per the function's contract.
    unsafe {
        match i32::from((*sa).sa_family) {
            libc::AF_INET => {
                let sin = &*(sa as *const libc::sockaddr_in);
                Some(IpAddr::V4(u32::from_be(sin.sin_addr.s_addr).into()))
            }
            libc::AF_INET6 => {
                let sin6 = &*(sa as *const libc::sockaddr_in6);
                Some(IpAddr::V6(sin6.sin6_addr.s6_addr.into()))
            }
            _ => None,
        }
    }
}

/// node_exporter's `scope()`, on Go's `net.IP` predicates.
pub fn scope(ip: IpAddr) -> &'static str {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            let link_local_unicast = o[0] == 169 && o[1] == 254;
            let link_local_multicast = o[0] == 224 && o[1] == 0 && o[2] == 0;
            if v4.is_loopback() || link_local_unicast || link_local_multicast {
                "link-local"
            } else if !v4.is_unspecified()
                && !v4.is_loopback()
                && !v4.is_multicast()
                && !link_local_unicast
                && !v4.is_broadcast()
            {
                "global"
            } else {
                ""
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let link_local_unicast = s[0] & 0xffc0 == 0xfe80;
            let link_local_multicast = s[0] & 0xff0f == 0xff02;
            let interface_local_multicast = s[0] & 0xff0f == 0xff01;
            if v6.is_loopback() || link_local_unicast || link_local_multicast {
                "link-local"
            } else if interface_local_multicast {
                "interface-local"
            } else if !v6.is_unspecified() && !v6.is_multicast() {
                "global"
            } else {
                ""
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_file};
    use std::collections::HashMap;

    // As on Linux 6.18 (this host, with two ifb devices), values edited.
    const PROC_NET_DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  209709     185    0    0    0     0          0         0   209709     185    0    0    0     0       0          0
  ifb0:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0: 96579440    2981    1    2    3     4          5         6   194229    1704    7    8    9    10      11         12
";

    #[test]
    fn parses_proc_net_dev() {
        let devs = parse_proc_net_dev(PROC_NET_DEV).unwrap();
        assert_eq!(devs.len(), 3);
        assert_eq!(devs[2].name, "eth0");
        assert_eq!(
            devs[2].source,
            Source::Proc([96579440, 2981, 1, 2, 3, 4, 5, 6, 194229, 1704, 7, 8, 9, 10, 11, 12])
        );
        assert!(parse_proc_net_dev("h\nh\n  eth0: 1 2 3\n").is_err());
        assert!(parse_proc_net_dev("h\nh\n").unwrap().is_empty());
    }

    #[test]
    fn proc_legacy_and_detailed_names() {
        let devs = parse_proc_net_dev(PROC_NET_DEV).unwrap();
        let legacy: Vec<_> = devs[2].metrics(false);
        assert!(legacy.contains(&("receive_errs", 1)));
        assert!(legacy.contains(&("receive_drop", 2)));
        assert!(legacy.contains(&("transmit_errs", 7)));
        assert!(legacy.contains(&("transmit_drop", 8)));
        assert!(legacy.contains(&("transmit_colls", 10)));
        assert_eq!(legacy.len(), 16);
        let detailed = devs[2].metrics(true);
        assert!(detailed.contains(&("receive_errors", 1)));
        assert!(detailed.contains(&("transmit_dropped", 8)));
    }

    fn link_message(name: &str, stats64: Option<&[u64]>, stats32: Option<&[u32]>) -> Vec<u8> {
        let mut body = vec![0u8; 16]; // ifinfomsg
        body.extend(rtnl::attr(libc::IFLA_MTU, &1500u32.to_ne_bytes())); // ignored
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        body.extend(rtnl::attr(libc::IFLA_IFNAME, &n));
        if let Some(s) = stats32 {
            let b: Vec<u8> = s.iter().flat_map(|v| v.to_ne_bytes()).collect();
            body.extend(rtnl::attr(libc::IFLA_STATS, &b));
        }
        if let Some(s) = stats64 {
            let b: Vec<u8> = s.iter().flat_map(|v| v.to_ne_bytes()).collect();
            body.extend(rtnl::attr(libc::IFLA_STATS64, &b));
        }
        body
    }

    #[test]
    fn netlink_legacy_folding_matches_proc_net_dev() {
        // 25 fields as on Linux >= 5.19 (rx_otherhost_dropped last).
        let s: Vec<u64> = (1..=25).collect();
        let d = parse_link_message(&link_message("eth0", Some(&s), None)).unwrap();
        let m: HashMap<_, _> = d.metrics(false).into_iter().collect();
        assert_eq!(m.len(), 17);
        assert_eq!(m["receive_packets"], 1);
        assert_eq!(m["transmit_bytes"], 4);
        assert_eq!(m["receive_errs"], 5);
        assert_eq!(m["receive_drop"], 7 + 16); // rx_dropped + rx_missed_errors
        assert_eq!(m["receive_multicast"], 9);
        assert_eq!(m["transmit_colls"], 10);
        assert_eq!(m["receive_frame"], 14 + 11 + 12 + 13);
        assert_eq!(m["receive_fifo"], 15);
        assert_eq!(m["transmit_carrier"], 18 + 17 + 20 + 21);
        assert_eq!(m["transmit_fifo"], 19);
        assert_eq!(m["receive_compressed"], 22);
        assert_eq!(m["transmit_compressed"], 23);
        assert_eq!(m["receive_nohandler"], 24);
        let detailed: HashMap<_, _> = d.metrics(true).into_iter().collect();
        assert_eq!(detailed.len(), 24);
        assert_eq!(detailed["receive_missed_errors"], 16);
        assert_eq!(detailed["collisions"], 10);
    }

    #[test]
    fn netlink_falls_back_to_32_bit_stats_and_skips_links_without() {
        // 23 fields as on Linux < 4.6 (no rx_nohandler).
        let s: Vec<u32> = (1..=23).collect();
        let d = parse_link_message(&link_message("old0", None, Some(&s))).unwrap();
        let m: HashMap<_, _> = d.metrics(true).into_iter().collect();
        assert_eq!(m["transmit_compressed"], 23);
        assert_eq!(m["receive_nohandler"], 0);
        assert_eq!(parse_link_message(&link_message("x", None, None)), None);
        assert_eq!(parse_link_message(&[0u8; 8]), None);
    }

    #[test]
    fn netlink_dump_of_this_host_has_loopback() {
        let devs = netlink_devices().unwrap();
        assert!(devs.iter().any(|d| d.name == "lo"), "{devs:?}");
    }

    #[test]
    fn proc_mode_output_filter_and_ifalias() {
        let dir = tempfile::tempdir().unwrap();
        write_file(&dir.path().join("proc/net/dev"), PROC_NET_DEV);
        write_file(&dir.path().join("sys/class/net/eth0/ifalias"), "uplink\n");
        let args = Args {
            netdev_no_netlink: true,
            netdev_device_exclude: Some("^lo$".into()),
            netdev_label_ifalias: true,
            ..Args::default()
        };
        let text = render(&*build(&paths_in(dir.path()), &args).unwrap()).unwrap();
        assert!(text.contains(
            "# HELP node_network_receive_bytes_total Network device statistic receive_bytes.\n# TYPE node_network_receive_bytes_total counter\nnode_network_receive_bytes_total{device=\"eth0\",ifalias=\"uplink\"} 9.657944e+07\nnode_network_receive_bytes_total{device=\"ifb0\",ifalias=\"\"} 0\n"
        ), "{text}");
        assert!(text.contains(
            "node_network_transmit_carrier_total{device=\"eth0\",ifalias=\"uplink\"} 11\n"
        ));
        assert!(!text.contains("\"lo\""));
        assert!(!text.contains("nohandler"));
    }

    #[test]
    fn missing_proc_net_dev_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let args = Args {
            netdev_no_netlink: true,
            ..Args::default()
        };
        let err = build(&paths_in(dir.path()), &args)
            .unwrap()
            .update(&mut Exposition::new())
            .unwrap_err();
        assert!(matches!(err, CollectError::NoData(_)), "{err}");
    }

    #[test]
    fn flag_validation() {
        let p = Paths::default();
        let both = Args {
            netdev_device_include: Some("a".into()),
            netdev_device_exclude: Some("b".into()),
            ..Args::default()
        };
        assert!(build(&p, &both).is_err());
        let old_and_new = Args {
            netdev_device_include: Some("a".into()),
            netdev_device_whitelist: Some("b".into()),
            ..Args::default()
        };
        assert!(build(&p, &old_and_new)
            .err()
            .unwrap()
            .to_string()
            .contains("mutually exclusive"));
        let bad = Args {
            netdev_device_exclude: Some("(".into()),
            ..Args::default()
        };
        assert!(build(&p, &bad).is_err());
        let old = Args {
            netdev_device_blacklist: Some("^lo$".into()),
            ..Args::default()
        };
        assert!(build(&p, &old).is_ok());
    }

    #[test]
    fn netlink_flag_negation_last_one_wins() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: Args,
        }
        let p = |argv: &[&str]| T::try_parse_from(argv).map(|t| !t.a.netdev_no_netlink);
        assert_eq!(p(&["t"]).ok(), Some(true));
        assert_eq!(p(&["t", "--no-collector.netdev.netlink"]).ok(), Some(false));
        assert_eq!(
            p(&[
                "t",
                "--no-collector.netdev.netlink",
                "--collector.netdev.netlink"
            ])
            .ok(),
            Some(true)
        );
        assert_eq!(
            p(&[
                "t",
                "--collector.netdev.netlink",
                "--no-collector.netdev.netlink"
            ])
            .ok(),
            Some(false)
        );
    }

    #[test]
    fn address_scopes_like_go() {
        let s = |a: &str| scope(a.parse().unwrap());
        assert_eq!(s("127.0.0.1"), "link-local");
        assert_eq!(s("169.254.1.1"), "link-local");
        assert_eq!(s("10.0.0.1"), "global");
        assert_eq!(s("0.0.0.0"), "");
        assert_eq!(s("255.255.255.255"), "");
        assert_eq!(s("::1"), "link-local");
        assert_eq!(s("fe80::1"), "link-local");
        assert_eq!(s("ff02::1"), "link-local");
        assert_eq!(s("ff01::1"), "interface-local");
        assert_eq!(s("2001:db8::1"), "global");
        assert_eq!(s("ff05::1"), "");
        assert_eq!(go_ip_string("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert_eq!(go_ip_string("2001:db8::1".parse().unwrap()), "2001:db8::1");
    }

    #[test]
    fn address_info_lists_loopback() {
        let infos = address_info().unwrap();
        assert!(infos.iter().any(|a| a.device == "lo"
            && a.address == "127.0.0.1"
            && a.netmask == "8"
            && a.scope == "link-local"));
    }
}
