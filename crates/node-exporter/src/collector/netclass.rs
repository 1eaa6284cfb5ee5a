//! The `netclass` collector: properties of every network interface from
//! `<sysfs>/class/net/<iface>/*` (`node_network_info`, `_up`, `_mtu_bytes`, `_speed_bytes`,
//! `_carrier`, ...).
//!
//! node_exporter's procfs library reads 26 attribute files per interface; we read only the 22
//! whose values are exposed. Attributes the kernel refuses for the device's state (`carrier`
//! and `speed` of a down link answer EINVAL, some drivers EOPNOTSUPP) are left out, as upstream
//! does, and so is a value that is not a number.
//!
//! `--collector.netclass.netlink` switches to upstream's rtnetlink variant (see
//! [`LinkInfo`]), with `--collector.netclass_rtnl.with-stats` adding the link counters.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;
use regex_lite::Regex;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::compile_regex;
use crate::sys::netlink as rtnl;
use crate::sys::read::{read_failed, sys_read_file, SysReadError};

/// Flags of the `netclass` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Regexp of net devices to ignore for netclass collector.
    #[arg(
        long = "collector.netclass.ignored-devices",
        default_value = "^$",
        value_name = "REGEX"
    )]
    pub netclass_ignored_devices: String,

    /// Ignore devices where the speed is invalid. This will be the default behavior in 2.x.
    #[arg(long = "collector.netclass.ignore-invalid-speed")]
    pub netclass_ignore_invalid_speed: bool,

    /// Use netlink to gather stats instead of /proc/net/dev.
    #[arg(long = "collector.netclass.netlink")]
    pub netclass_netlink: bool,

    /// Expose the statistics for each network device, replacing netdev collector.
    #[arg(long = "collector.netclass_rtnl.with-stats")]
    pub netclass_rtnl_with_stats: bool,
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let ignored = compile_regex(
        "collector.netclass.ignored-devices",
        &args.netclass_ignored_devices,
    )?;
    Ok(Box::new(NetClass {
        dir: paths.sys("class/net"),
        ignored,
        ignore_invalid_speed: args.netclass_ignore_invalid_speed,
        netlink: args.netclass_netlink,
        with_stats: args.netclass_rtnl_with_stats,
    }))
}

struct NetClass {
    dir: PathBuf,
    ignored: Regex,
    ignore_invalid_speed: bool,
    netlink: bool,
    with_stats: bool,
}

/// The numeric attributes exposed as `node_network_<name>`, with whether they are counters.
const NUMERIC: [(&str, &str, bool); 15] = [
    ("addr_assign_type", "address_assign_type", false),
    ("carrier", "carrier", false),
    ("carrier_changes", "carrier_changes_total", true),
    ("carrier_up_count", "carrier_up_changes_total", true),
    ("carrier_down_count", "carrier_down_changes_total", true),
    ("dev_id", "device_id", false),
    ("dormant", "dormant", false),
    ("flags", "flags", false),
    ("ifindex", "iface_id", false),
    ("iflink", "iface_link", false),
    ("link_mode", "iface_link_mode", false),
    ("mtu", "mtu_bytes", false),
    ("name_assign_type", "name_assign_type", false),
    ("netdev_group", "net_dev_group", false),
    ("tx_queue_len", "transmit_queue_length", false),
];

/// One interface's attributes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Iface {
    pub name: String,
    pub address: String,
    pub broadcast: String,
    pub duplex: String,
    pub operstate: String,
    pub ifalias: String,
    /// `(metric suffix, counter?, value)` for the numeric attributes present.
    pub numeric: Vec<(&'static str, bool, i64)>,
    pub flags: Option<i64>,
    pub speed: Option<i64>,
    pub protocol_type: Option<i64>,
}

impl Collector for NetClass {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        if self.netlink {
            return self.update_netlink(out);
        }
        let names = match list_devices(&self.dir) {
            Ok(n) => n,
            Err(e) if is_absent(&e) => {
                return Err(CollectError::NoData(format!("{}: {e}", self.dir.display())))
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "could not get net class info: {}: {e}",
                    self.dir.display()
                )
                .into())
            }
        };
        for name in names {
            if self.ignored.is_match(&name) {
                continue;
            }
            let iface = match read_iface(&self.dir.join(&name), &name) {
                Ok(i) => i,
                Err(e) if is_absent(&e) => {
                    return Err(CollectError::NoData(format!("{name}: {e}")))
                }
                Err(e) => {
                    return Err(anyhow::anyhow!("could not get net class info: {name}: {e}").into())
                }
            };
            self.emit(out, &iface);
        }
        Ok(())
    }
}

impl NetClass {
    fn emit(&self, out: &mut Exposition, i: &Iface) {
        let dev = [("device", i.name.as_str())];
        out.gauge(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
            &dev,
            if i.operstate == "up" { 1.0 } else { 0.0 },
        );
        out.gauge(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            &[
                ("device", &i.name),
                ("address", &i.address),
                ("broadcast", &i.broadcast),
                ("duplex", &i.duplex),
                ("operstate", &i.operstate),
                ("adminstate", admin_state(i.flags)),
                ("ifalias", &i.ifalias),
            ],
            1.0,
        );
        for &(name, counter, value) in &i.numeric {
            let metric = format!("node_network_{name}");
            let help = format!("Network device property: {name}");
            if counter {
                out.counter(&metric, &help, &dev, value as f64);
            } else {
                out.gauge(&metric, &help, &dev, value as f64);
            }
        }
        if let Some(speed) = i.speed {
            // Virtual and down devices report -1 (unknown); upstream still exposes that unless
            // told to ignore it.
            if speed >= 0 || !self.ignore_invalid_speed {
                out.gauge(
                    "node_network_speed_bytes",
                    "Network device property: speed_bytes",
                    &dev,
                    (speed * 1000 * 1000 / 8) as f64,
                );
            }
        }
        if let Some(t) = i.protocol_type {
            out.gauge(
                "node_network_protocol_type",
                "Network device property: protocol_type",
                &dev,
                t as f64,
            );
        }
    }
}

/// node_exporter's `getAdminState`: "up" when IFF_UP is set in `flags`.
fn admin_state(flags: Option<i64>) -> &'static str {
    match flags {
        None => "unknown",
        Some(f) if f & 1 == 1 => "up",
        Some(_) => "down",
    }
}

/// Errors node_exporter treats as "no data" for the whole collector.
fn is_absent(e: &std::io::Error) -> bool {
    crate::sys::read::is_missing(e) || e.kind() == std::io::ErrorKind::PermissionDenied
}

/// The entries of `class/net` that are not regular files (so not `bonding_masters`), sorted.
fn list_devices(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            continue;
        }
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Reads a sysfs attribute as node_exporter's procfs does: one read of at most 128 bytes,
/// trimmed. `None` when the kernel has no value for this device (missing, EINVAL, EOPNOTSUPP,
/// EPERM). Not [`crate::sys::read::sys_read_string`]: this collector has always replaced each
/// invalid UTF-8 sequence (not each run) and trimmed Unicode (not only ASCII) whitespace, which
/// matters for user-set attributes such as `ifalias`.
fn read_attr(path: &Path) -> std::io::Result<Option<String>> {
    match sys_read_file(path).map_err(SysReadError::into_io) {
        Ok(raw) => Ok(Some(String::from_utf8_lossy(&raw).trim().to_string())),
        Err(e)
            if crate::sys::read::is_missing(&e)
                || e.kind() == std::io::ErrorKind::PermissionDenied
                || matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV)
                ) =>
        {
            Ok(None)
        }
        Err(e) => Err(std::io::Error::new(e.kind(), read_failed(path, &e))),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, or `0x`/`0o`/`0b`/leading-0 prefixed.
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = crate::sys::go::go_base_prefix(digits);
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let v = i64::from_str_radix(&digits.replace('_', ""), radix).ok()?;
    Some(if neg { -v } else { v })
}

/// Reads the attributes of one interface directory.
pub fn read_iface(dir: &Path, name: &str) -> std::io::Result<Iface> {
    let mut iface = Iface {
        name: name.to_string(),
        ..Iface::default()
    };
    let text =
        |f: &str| -> std::io::Result<String> { Ok(read_attr(&dir.join(f))?.unwrap_or_default()) };
    iface.address = text("address")?;
    iface.broadcast = text("broadcast")?;
    iface.duplex = text("duplex")?;
    iface.ifalias = text("ifalias")?;
    iface.operstate = text("operstate")?;
    let num = |f: &str| -> std::io::Result<Option<i64>> {
        Ok(read_attr(&dir.join(f))?.and_then(|v| parse_int(&v)))
    };
    for (file, metric, counter) in NUMERIC {
        if let Some(v) = num(file)? {
            if file == "flags" {
                iface.flags = Some(v);
            }
            iface.numeric.push((metric, counter, v));
        }
    }
    iface.speed = num("speed")?;
    iface.protocol_type = num("type")?;
    Ok(iface)
}

/// `--collector.netclass.netlink`: most properties from one `RTM_GETLINK` dump, as
/// node_exporter's `netclass_rtnl` variant does. Its quirks are kept: `dormant` carries the
/// link mode, `node_network_info` has no `adminstate`, attributes netlink always sends (MTU,
/// queue length, group, link mode) are exposed for every device, the carrier ones only when
/// sent. `addr_assign_type`, `dev_id` and `name_assign_type` still come from sysfs.
///
/// Upstream takes duplex and speed from ethtool's netlink family; we read the same kernel
/// values from sysfs (`duplex`, `speed`) and print them as ethtool's names would, which differs
/// only for down links (sysfs refuses to answer there, ethtool still reports).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LinkInfo {
    pub name: String,
    /// `ifi_type`.
    pub kind: u16,
    pub index: u32,
    pub flags: u32,
    pub address: String,
    pub broadcast: String,
    pub mtu: u32,
    /// `IFLA_LINK`, 0 when absent (the kernel omits it when it equals the index).
    pub link: u32,
    pub txqlen: u32,
    pub operstate: u8,
    pub linkmode: u8,
    pub ifalias: Option<String>,
    pub group: u32,
    pub carrier: Option<u8>,
    pub carrier_changes: Option<u32>,
    pub carrier_up: Option<u32>,
    pub carrier_down: Option<u32>,
    pub stats64: Option<[u64; 24]>,
}

/// Go's `net.HardwareAddr.String()`.
fn hw_addr(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn u32_attr(d: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(d.get(..4)?.try_into().ok()?))
}

/// One `RTM_NEWLINK` body: `ifinfomsg` (family, pad, type, index, flags, change) + attributes.
pub fn parse_link(body: &[u8]) -> Option<LinkInfo> {
    let mut l = LinkInfo {
        kind: u16::from_ne_bytes(body.get(2..4)?.try_into().ok()?),
        index: u32::from_ne_bytes(body.get(4..8)?.try_into().ok()?),
        flags: u32::from_ne_bytes(body.get(8..12)?.try_into().ok()?),
        ..LinkInfo::default()
    };
    let mut name = None;
    for (kind, d) in rtnl::attrs(body.get(16..)?) {
        match kind {
            libc::IFLA_ADDRESS => l.address = hw_addr(d),
            libc::IFLA_BROADCAST => l.broadcast = hw_addr(d),
            libc::IFLA_IFNAME => name = Some(rtnl::c_string(d)),
            libc::IFLA_MTU => l.mtu = u32_attr(d)?,
            libc::IFLA_LINK => l.link = u32_attr(d)?,
            libc::IFLA_TXQLEN => l.txqlen = u32_attr(d)?,
            libc::IFLA_OPERSTATE => l.operstate = *d.first()?,
            libc::IFLA_LINKMODE => l.linkmode = *d.first()?,
            libc::IFLA_IFALIAS => l.ifalias = Some(rtnl::c_string(d)),
            libc::IFLA_STATS64 => {
                let mut v = [0u64; 24];
                for (x, c) in v.iter_mut().zip(d.chunks_exact(8)) {
                    *x = u64::from_ne_bytes(c.try_into().ok()?);
                }
                l.stats64 = Some(v);
            }
            libc::IFLA_GROUP => l.group = u32_attr(d)?,
            libc::IFLA_CARRIER => l.carrier = d.first().copied(),
            libc::IFLA_CARRIER_CHANGES => l.carrier_changes = u32_attr(d),
            libc::IFLA_CARRIER_UP_COUNT => l.carrier_up = u32_attr(d),
            libc::IFLA_CARRIER_DOWN_COUNT => l.carrier_down = u32_attr(d),
            _ => {}
        }
    }
    l.name = name?;
    Some(l)
}

/// `IF_OPER_*` names, as node_exporter prints them.
const OPERSTATES: [&str; 7] = [
    "unknown",
    "notpresent",
    "down",
    "lowerlayerdown",
    "testing",
    "dormant",
    "up",
];

/// The `--collector.netclass_rtnl.with-stats` gauges, in `rtnl_link_stats64` order.
const RTNL_STATS: [&str; 24] = [
    "receive_packets_total",
    "transmit_packets_total",
    "receive_bytes_total",
    "transmit_bytes_total",
    "receive_errors_total",
    "transmit_errors_total",
    "receive_dropped_total",
    "transmit_dropped_total",
    "multicast_total",
    "collisions_total",
    "receive_length_errors_total",
    "receive_over_errors_total",
    "receive_crc_errors_total",
    "receive_frame_errors_total",
    "receive_fifo_errors_total",
    "receive_missed_errors_total",
    "transmit_aborted_errors_total",
    "transmit_carrier_errors_total",
    "transmit_fifo_errors_total",
    "transmit_heartbeat_errors_total",
    "transmit_window_errors_total",
    "receive_compressed_total",
    "transmit_compressed_total",
    "receive_nohandler_total",
];

impl NetClass {
    fn update_netlink(&self, out: &mut Exposition) -> CollectResult {
        let mut links = Vec::new();
        rtnl::dump(rtnl::RTM_GETLINK, &[0u8; 16], |kind, body| {
            if kind == rtnl::RTM_NEWLINK {
                if let Some(l) = parse_link(body) {
                    links.push(l);
                }
            }
        })
        .map_err(|e| anyhow::anyhow!("could not get net class info: {e}"))?;
        for l in links.iter().filter(|l| !self.ignored.is_match(&l.name)) {
            let dir = self.dir.join(&l.name);
            let attr = |f: &str| -> Result<Option<String>, CollectError> {
                read_attr(&dir.join(f))
                    .map_err(|e| anyhow::anyhow!("could not get sysfs device info: {e}").into())
            };
            self.emit_link(out, l, &attr)?;
        }
        Ok(())
    }

    fn emit_link(
        &self,
        out: &mut Exposition,
        l: &LinkInfo,
        attr: &dyn Fn(&str) -> Result<Option<String>, CollectError>,
    ) -> CollectResult {
        let dev = [("device", l.name.as_str())];
        let num = |f: &str| -> Result<Option<i64>, CollectError> {
            Ok(attr(f)?.and_then(|v| parse_int(&v)))
        };
        let gauge = |out: &mut Exposition, name: &str, v: f64| {
            out.gauge(
                &format!("node_network_{name}"),
                &format!("Network device property: {name}"),
                &dev,
                v,
            )
        };
        if let Some(speed) = num("speed")? {
            // ethtool reports an unknown speed as 0xffffffff, which upstream turns into a Go
            // int (no longer negative) and exposes as such: 536870911875000 (checked against
            // node_exporter 1.5.0 on a virtio NIC). sysfs prints the same u32 as -1.
            let mbit = u64::from(speed as u32);
            gauge(out, "speed_bytes", (mbit * 1000 * 1000 / 8) as f64);
        }
        out.gauge(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
            &dev,
            if l.operstate == 6 { 1.0 } else { 0.0 },
        );
        // ethtool's duplex names are capitalised.
        let duplex = match attr("duplex")?.as_deref() {
            Some("full") => "Full".to_string(),
            Some("half") => "Half".to_string(),
            Some("unknown") => "Unknown".to_string(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        out.gauge(
            "node_network_info",
            "Non-numeric data of <iface>, value is always 1.",
            &[
                ("device", &l.name),
                ("address", &l.address),
                ("broadcast", &l.broadcast),
                ("duplex", &duplex),
                (
                    "operstate",
                    OPERSTATES
                        .get(usize::from(l.operstate))
                        .unwrap_or(&"unknown"),
                ),
                ("ifalias", l.ifalias.as_deref().unwrap_or("")),
            ],
            1.0,
        );
        if let Some(v) = num("addr_assign_type")? {
            gauge(out, "address_assign_type", v as f64);
        }
        if let Some(v) = l.carrier {
            gauge(out, "carrier", f64::from(v));
        }
        for (name, v) in [
            ("carrier_changes_total", l.carrier_changes),
            ("carrier_up_changes_total", l.carrier_up),
            ("carrier_down_changes_total", l.carrier_down),
        ] {
            if let Some(v) = v {
                out.counter(
                    &format!("node_network_{name}"),
                    &format!("Network device property: {name}"),
                    &dev,
                    f64::from(v),
                );
            }
        }
        if let Some(v) = num("dev_id")? {
            gauge(out, "device_id", v as f64);
        }
        gauge(out, "flags", f64::from(l.flags));
        gauge(out, "iface_id", f64::from(l.index));
        gauge(out, "iface_link_mode", f64::from(l.linkmode));
        // Upstream exposes the link mode as `dormant` too.
        gauge(out, "dormant", f64::from(l.linkmode));
        gauge(
            out,
            "iface_link",
            f64::from(if l.link > 0 { l.link } else { l.index }),
        );
        gauge(out, "mtu_bytes", f64::from(l.mtu));
        if let Some(v) = num("name_assign_type")? {
            gauge(out, "name_assign_type", v as f64);
        }
        gauge(out, "net_dev_group", f64::from(l.group));
        gauge(out, "transmit_queue_length", f64::from(l.txqlen));
        gauge(out, "protocol_type", f64::from(l.kind));
        if let (true, Some(stats)) = (self.with_stats, &l.stats64) {
            for (name, v) in RTNL_STATS.iter().zip(stats.iter()) {
                gauge(out, name, *v as f64);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, text, write_files};

    #[test]
    fn parses_go_style_integers() {
        assert_eq!(parse_int("0x1003"), Some(4099));
        assert_eq!(parse_int("1500"), Some(1500));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("up"), None);
        assert_eq!(parse_int(""), None);
    }

    #[test]
    fn admin_state_from_flags() {
        assert_eq!(admin_state(Some(0x1003)), "up");
        assert_eq!(admin_state(Some(0x1002)), "down");
        assert_eq!(admin_state(None), "unknown");
    }

    /// A fake class/net: eth0 shaped like a virtio NIC on Linux 6.18 (this host), a down dummy
    /// device without carrier/speed (the kernel answers EINVAL, which a plain file cannot do,
    /// so those files are simply absent), `bonding_masters`, and an ignored device.
    fn fake_sysfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let net = dir.path().join("class/net");
        write_files(
            &net.join("eth0"),
            &[
                ("addr_assign_type", "0\n"),
                ("address", "02:fc:00:00:00:01\n"),
                ("broadcast", "ff:ff:ff:ff:ff:ff\n"),
                ("carrier", "1\n"),
                ("carrier_changes", "2\n"),
                ("carrier_up_count", "1\n"),
                ("carrier_down_count", "1\n"),
                ("dev_id", "0x0\n"),
                ("dormant", "0\n"),
                ("duplex", "full\n"),
                ("flags", "0x1003\n"),
                ("ifalias", "\n"),
                ("ifindex", "4\n"),
                ("iflink", "4\n"),
                ("link_mode", "0\n"),
                ("mtu", "1400\n"),
                ("name_assign_type", "1\n"),
                ("netdev_group", "0\n"),
                ("operstate", "up\n"),
                ("speed", "10000\n"),
                ("tx_queue_len", "1000\n"),
                ("type", "1\n"),
            ],
        );
        write_files(
            &net.join("dummy0"),
            &[
                ("address", "ae:c4:49:5c:c9:d5\n"),
                ("broadcast", "ff:ff:ff:ff:ff:ff\n"),
                ("flags", "0x82\n"),
                ("ifalias", "spare port\n"),
                ("mtu", "1500\n"),
                ("operstate", "down\n"),
                ("speed", "-1\n"),
                ("type", "1\n"),
            ],
        );
        write_files(&net.join("veth9"), &[("mtu", "1500\n")]);
        std::fs::write(net.join("bonding_masters"), "bond0\n").unwrap();
        dir
    }

    fn run(args: &Args, sys: &Path) -> Result<String, CollectError> {
        render(&*build(&sys_at(sys), args).unwrap())
    }

    fn default_args() -> Args {
        Args {
            netclass_ignored_devices: "^veth".into(),
            ..Args::default()
        }
    }

    #[test]
    fn exposes_sysfs_properties() {
        let dir = fake_sysfs();
        let text = run(&default_args(), dir.path()).unwrap();
        for line in [
            "node_network_info{address=\"02:fc:00:00:00:01\",adminstate=\"up\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"eth0\",duplex=\"full\",ifalias=\"\",operstate=\"up\"} 1\n",
            "node_network_info{address=\"ae:c4:49:5c:c9:d5\",adminstate=\"down\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"dummy0\",duplex=\"\",ifalias=\"spare port\",operstate=\"down\"} 1\n",
            "# HELP node_network_up Value is 1 if operstate is 'up', 0 otherwise.\n# TYPE node_network_up gauge\nnode_network_up{device=\"dummy0\"} 0\nnode_network_up{device=\"eth0\"} 1\n",
            "# HELP node_network_flags Network device property: flags\n# TYPE node_network_flags gauge\nnode_network_flags{device=\"dummy0\"} 130\nnode_network_flags{device=\"eth0\"} 4099\n",
            "# TYPE node_network_carrier_changes_total counter\nnode_network_carrier_changes_total{device=\"eth0\"} 2\n",
            "# HELP node_network_carrier Network device property: carrier\n# TYPE node_network_carrier gauge\nnode_network_carrier{device=\"eth0\"} 1\n#",
            "node_network_speed_bytes{device=\"dummy0\"} -125000\nnode_network_speed_bytes{device=\"eth0\"} 1.25e+09\n",
            "node_network_iface_id{device=\"eth0\"} 4\n",
            "node_network_mtu_bytes{device=\"dummy0\"} 1500\nnode_network_mtu_bytes{device=\"eth0\"} 1400\n",
            "node_network_protocol_type{device=\"eth0\"} 1\n",
            "node_network_transmit_queue_length{device=\"eth0\"} 1000\n",
            "node_network_name_assign_type{device=\"eth0\"} 1\n",
            "node_network_device_id{device=\"eth0\"} 0\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("veth9"));
        assert!(!text.contains("bonding_masters"));
    }

    #[test]
    fn ignore_invalid_speed() {
        let dir = fake_sysfs();
        let args = Args {
            netclass_ignore_invalid_speed: true,
            ..default_args()
        };
        let text = run(&args, dir.path()).unwrap();
        assert!(text.contains("node_network_speed_bytes{device=\"eth0\"}"));
        assert!(!text.contains("node_network_speed_bytes{device=\"dummy0\"}"));
    }

    #[test]
    fn missing_class_net_is_no_data_and_bad_regex_is_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            run(&default_args(), dir.path()),
            Err(CollectError::NoData(_))
        ));
        let bad = Args {
            netclass_ignored_devices: "(".into(),
            ..Args::default()
        };
        assert!(build(&Paths::default(), &bad).is_err());
    }

    #[test]
    fn reads_this_hosts_loopback() {
        let i = read_iface(Path::new("/sys/class/net/lo"), "lo").unwrap();
        assert_eq!(i.operstate, "unknown");
        assert!(i
            .numeric
            .iter()
            .any(|&(n, _, v)| n == "mtu_bytes" && v == 65536));
    }
    fn link_body(name: &str) -> Vec<u8> {
        use super::rtnl::attr;
        let mut b = vec![0u8, 0];
        b.extend_from_slice(&1u16.to_ne_bytes()); // ARPHRD_ETHER
        b.extend_from_slice(&4i32.to_ne_bytes());
        b.extend_from_slice(&0x1003u32.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend(attr(libc::IFLA_ADDRESS, &[2, 0xfc, 0, 0, 0, 1]));
        b.extend(attr(libc::IFLA_BROADCAST, &[0xff; 6]));
        b.extend(attr(libc::IFLA_IFNAME, format!("{name}\0").as_bytes()));
        b.extend(attr(libc::IFLA_MTU, &1400u32.to_ne_bytes()));
        b.extend(attr(libc::IFLA_TXQLEN, &1000u32.to_ne_bytes()));
        b.extend(attr(libc::IFLA_OPERSTATE, &[6]));
        b.extend(attr(libc::IFLA_LINKMODE, &[0]));
        b.extend(attr(libc::IFLA_GROUP, &0u32.to_ne_bytes()));
        b.extend(attr(libc::IFLA_CARRIER, &[1]));
        b.extend(attr(libc::IFLA_CARRIER_CHANGES, &2u32.to_ne_bytes()));
        let stats: Vec<u8> = (1..=24u64).flat_map(|v| v.to_ne_bytes()).collect();
        b.extend(attr(libc::IFLA_STATS64, &stats));
        b
    }

    #[test]
    fn parses_link_messages() {
        let l = parse_link(&link_body("eth0")).unwrap();
        assert_eq!(l.name, "eth0");
        assert_eq!(l.kind, 1);
        assert_eq!(l.index, 4);
        assert_eq!(l.flags, 0x1003);
        assert_eq!(l.address, "02:fc:00:00:00:01");
        assert_eq!(l.broadcast, "ff:ff:ff:ff:ff:ff");
        assert_eq!(l.mtu, 1400);
        assert_eq!(l.operstate, 6);
        assert_eq!(l.carrier, Some(1));
        assert_eq!(l.carrier_up, None);
        assert_eq!(l.link, 0);
        assert_eq!(l.stats64.unwrap()[23], 24);
        assert_eq!(parse_link(&[0u8; 8]), None);
    }

    #[test]
    fn netlink_mode_output() {
        let l = parse_link(&link_body("eth0")).unwrap();
        let c = NetClass {
            dir: PathBuf::from("/nonexistent"),
            ignored: Regex::new("^$").unwrap(),
            ignore_invalid_speed: false,
            netlink: true,
            with_stats: true,
        };
        let sysfs = |f: &str| -> Result<Option<String>, CollectError> {
            Ok(match f {
                "speed" => Some("-1".into()),
                "duplex" => Some("unknown".into()),
                "addr_assign_type" => Some("0".into()),
                _ => None,
            })
        };
        let mut out = Exposition::new();
        c.emit_link(&mut out, &l, &sysfs).unwrap();
        let text = text(out);
        for line in [
            "# HELP node_network_info Non-numeric data of <iface>, value is always 1.\n# TYPE node_network_info gauge\nnode_network_info{address=\"02:fc:00:00:00:01\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"eth0\",duplex=\"Unknown\",ifalias=\"\",operstate=\"up\"} 1\n",
            "node_network_up{device=\"eth0\"} 1\n",
            "node_network_speed_bytes{device=\"eth0\"} 5.36870911875e+14\n",
            "node_network_iface_link{device=\"eth0\"} 4\n",
            "node_network_dormant{device=\"eth0\"} 0\n",
            "# TYPE node_network_carrier_changes_total counter\nnode_network_carrier_changes_total{device=\"eth0\"} 2\n",
            "node_network_address_assign_type{device=\"eth0\"} 0\n",
            "node_network_flags{device=\"eth0\"} 4099\n",
            "# HELP node_network_receive_nohandler_total Network device property: receive_nohandler_total\n# TYPE node_network_receive_nohandler_total gauge\nnode_network_receive_nohandler_total{device=\"eth0\"} 24\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("carrier_up_changes_total"));
        assert!(!text.contains("name_assign_type"));
    }

    #[test]
    fn netlink_mode_on_this_host() {
        let c = build(
            &Paths::default(),
            &Args {
                netclass_ignored_devices: "^$".into(),
                netclass_netlink: true,
                ..Args::default()
            },
        )
        .unwrap();
        let text = render(&*c).unwrap();
        assert!(
            text.contains("node_network_mtu_bytes{device=\"lo\"} 65536\n"),
            "{text}"
        );
    }
}
