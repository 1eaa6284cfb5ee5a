//! The `netclass` collector: properties of every network interface from
//! `<sysfs>/class/net/<iface>/*` (`node_network_info`, `_up`, `_mtu_bytes`, `_speed_bytes`,
//! `_carrier`, ...).
//!
//! node_exporter's procfs library reads 26 attribute files per interface; we read only the 22
//! whose values are exposed. Attributes the kernel refuses for the device's state (`carrier`
//! and `speed` of a down link answer EINVAL, some drivers EOPNOTSUPP) are left out, as upstream
//! does, and so is a value that is not a number.

use std::io::Read;
use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;
use regex::Regex;

use super::{CollectError, CollectResult, Collector, Paths};

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
    let ignored = Regex::new(&args.netclass_ignored_devices).map_err(|e| {
        UsageError::new(format!(
            "--collector.netclass.ignored-devices: bad regular expression: {}",
            e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
        ))
    })?;
    if args.netclass_netlink {
        // Upstream's netlink variant reads the same properties from an RTM_GETLINK dump plus
        // ethtool; we serve them from sysfs, which gives the same families.
        tracing::info!("--collector.netclass.netlink: reading the interface properties from sysfs");
    }
    Ok(Box::new(NetClass {
        dir: paths.sys("class/net"),
        ignored,
        ignore_invalid_speed: args.netclass_ignore_invalid_speed,
    }))
}

struct NetClass {
    dir: PathBuf,
    ignored: Regex,
    ignore_invalid_speed: bool,
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
    crate::read::is_missing(e) || e.kind() == std::io::ErrorKind::PermissionDenied
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
/// EPERM).
fn read_attr(path: &Path) -> std::io::Result<Option<String>> {
    let mut buf = [0u8; 128];
    let res = std::fs::File::open(path).and_then(|mut f| f.read(&mut buf));
    match res {
        Ok(n) => Ok(Some(String::from_utf8_lossy(&buf[..n]).trim().to_string())),
        Err(e)
            if crate::read::is_missing(&e)
                || e.kind() == std::io::ErrorKind::PermissionDenied
                || matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV)
                ) =>
        {
            Ok(None)
        }
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("failed to read file {:?}: {e}", path.display()),
        )),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: decimal, or `0x`/`0o`/`0b`/leading-0 prefixed.
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, h)
    } else if let Some(b) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, b)
    } else if let Some(o) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, o)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
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
    let text = |f: &str| -> std::io::Result<String> {
        Ok(read_attr(&dir.join(f))?.unwrap_or_default())
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (f, v) in files {
            std::fs::write(dir.join(f), v).unwrap();
        }
    }

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
        write(
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
        write(
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
        write(&net.join("veth9"), &[("mtu", "1500\n")]);
        std::fs::write(net.join("bonding_masters"), "bond0\n").unwrap();
        dir
    }

    fn run(args: &Args, sys: &Path) -> Result<String, CollectError> {
        let paths = Paths {
            sysfs: sys.to_path_buf(),
            ..Paths::default()
        };
        let mut out = Exposition::new();
        build(&paths, args).unwrap().update(&mut out)?;
        Ok(String::from_utf8(out.to_bytes()).unwrap())
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
        assert!(i.numeric.iter().any(|&(n, _, v)| n == "mtu_bytes" && v == 65536));
    }
}
