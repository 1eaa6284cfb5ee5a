//! The `pcidevice` collector (off by default, as upstream): every device under
//! `/sys/bus/pci/devices`, an info sample with its ids and parent, and its link speed and
//! width, power state, SR-IOV and NUMA attributes, `node_pcidevice_*`. As upstream's
//! `pcidevice_linux.go` over procfs' `PciDevices`:
//!
//! - the location labels come from the device link's target, the parent's from the directory
//!   above it (`*` under a root bus `pci<segment>:<bus>`);
//! - the id files must be readable; optional attributes that are missing are left out (or read
//!   0, or -1 for link speeds and widths, as upstream); a missing directory or id file means no
//!   data, and an attribute that does not parse fails the collector;
//! - with `--collector.pcidevice.names`, the ids are looked up in a pci.ids file
//!   (`--collector.pcidevice.idsfile`, else `/usr/share/misc/pci.ids` or
//!   `/usr/share/hwdata/pci.ids`), read once at start-up and then read as given, not below
//!   `--path.rootfs`, as upstream. An id not found gives the id itself.

mod ids;

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::read::{read_failed, sys_read_string};

pub use ids::PciIds;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Path to pci.ids file to use for PCI device identification.
    #[arg(long = "collector.pcidevice.idsfile", value_name = "PATH")]
    pub pcidevice_idsfile: Option<PathBuf>,

    /// Enable PCI device name resolution (requires pci.ids file).
    #[arg(
        long = "collector.pcidevice.names",
        overrides_with = "pcidevice_no_names"
    )]
    pub pcidevice_names: bool,

    #[arg(
        long = "no-collector.pcidevice.names",
        hide = true,
        overrides_with = "pcidevice_names"
    )]
    pub pcidevice_no_names: bool,
}

/// Where upstream looks for pci.ids without `--collector.pcidevice.idsfile`.
const DEFAULT_IDS: [&str; 2] = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let names = (args.pcidevice_names && !args.pcidevice_no_names).then(|| {
        let candidates: Vec<PathBuf> = match &args.pcidevice_idsfile {
            Some(p) if !p.as_os_str().is_empty() => vec![p.clone()],
            _ => DEFAULT_IDS.iter().map(PathBuf::from).collect(),
        };
        // An unreadable file leaves every name unresolved (the ids themselves), as upstream.
        candidates
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|text| PciIds::parse(&text))
            .unwrap_or_else(|| {
                tracing::debug!("Failed to open any PCI IDs file");
                PciIds::default()
            })
    });
    Ok(Box::new(Pcidevice {
        dir: paths.sys("bus/pci/devices"),
        names,
    }))
}

struct Pcidevice {
    dir: PathBuf,
    names: Option<PciIds>,
}

/// A PCI address `segment:bus:device.function`, kept as the label strings upstream prints.
#[derive(Debug, PartialEq, Clone)]
pub struct Location([String; 4]);

impl Location {
    /// `0000:00:1f.3`; each part is hexadecimal (and must fit an i32, as procfs parses it).
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let [seg, bus, rest] = parts.as_slice() else {
            return None;
        };
        let (dev, func) = rest.split_once('.')?;
        if func.contains('.') {
            return None;
        }
        let hex = |x: &str| -> Option<i64> {
            let (neg, d) = match x.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, x.strip_prefix('+').unwrap_or(x)),
            };
            let v = i64::from_str_radix(d, 16)
                .ok()
                .filter(|_| !d.starts_with(['+', '-']))?;
            let v = if neg { -v } else { v };
            (i64::from(i32::MIN)..=i64::from(i32::MAX))
                .contains(&v)
                .then_some(v)
        };
        let (seg, bus, dev, func) = (hex(seg)?, hex(bus)?, hex(dev)?, hex(func)?);
        Some(Self([
            go_hex(seg, 4),
            go_hex(bus, 2),
            go_hex(dev, 2),
            go_hex(func, 1),
        ]))
    }

    fn labels(&self) -> [(&'static str, &str); 4] {
        [
            ("segment", self.0[0].as_str()),
            ("bus", self.0[1].as_str()),
            ("device", self.0[2].as_str()),
            ("function", self.0[3].as_str()),
        ]
    }
}

/// Go's `%0<width>x` of a signed value (a minus sign before the digits).
fn go_hex(v: i64, width: usize) -> String {
    if v < 0 {
        format!("-{:0w$x}", -v, w = width.saturating_sub(1))
    } else {
        format!("{v:0width$x}")
    }
}

/// What procfs reads of one device.
#[derive(Debug, PartialEq, Default)]
pub struct Device {
    pub location: Option<Location>,
    pub parent: Option<Location>,
    /// class, vendor, device, subsystem_vendor, subsystem_device, revision
    pub ids: [u32; 6],
    pub max_link_speed: Option<f64>,
    pub max_link_width: Option<f64>,
    pub current_link_speed: Option<f64>,
    pub current_link_width: Option<f64>,
    pub numa_node: Option<i32>,
    pub sriov_drivers_autoprobe: Option<bool>,
    pub sriov_numvfs: Option<u32>,
    pub sriov_totalvfs: Option<u32>,
    pub sriov_vf_total_msix: Option<u64>,
    pub d3cold_allowed: Option<bool>,
    pub power_state: Option<String>,
}

const ID_FILES: [&str; 6] = [
    "class",
    "vendor",
    "device",
    "subsystem_vendor",
    "subsystem_device",
    "revision",
];

/// Reads an optional attribute: `Ok(None)` when it does not exist, or is empty.
fn optional(dir: &Path, name: &str) -> Result<Option<String>, CollectError> {
    let path = dir.join(name);
    match sys_read_string(&path) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(anyhow::anyhow!(
            "error obtaining PCI device info: {}",
            read_failed(&path, e)
        )
        .into()),
    }
}

fn bad(what: &str, value: &str, loc: &str) -> CollectError {
    anyhow::anyhow!("error obtaining PCI device info: failed to parse {what} {value:?} {loc}")
        .into()
}

/// Reads the device whose class link is `dir/name`.
pub fn read_device(dir: &Path, name: &str) -> Result<Device, CollectError> {
    let path = dir.join(name);
    let target = std::fs::read_link(&path).map_err(|e| no_data_or(&path, e))?;
    let target = target.to_string_lossy();
    let mut parts = target.trim_end_matches('/').rsplit('/');
    let own = parts.next().unwrap_or("");
    let parent = parts.next().unwrap_or(".");
    let location = Location::parse(own).ok_or_else(|| bad("device location", own, ""))?;
    let parent = if parent.starts_with("pci") {
        None
    } else {
        Some(Location::parse(parent).ok_or_else(|| bad("parent device location", parent, ""))?)
    };
    let loc = location.0.join(":");
    let mut d = Device {
        location: Some(location),
        parent,
        ..Device::default()
    };
    for (i, f) in ID_FILES.iter().enumerate() {
        let p = path.join(f);
        let v = sys_read_string(&p).map_err(|e| no_data_or(&p, e.into_io()))?;
        let n = crate::sys::go::parse_go_int(&v)
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| bad(f, &v, &loc))?;
        d.ids[i] = n as u32;
    }
    for f in [
        "max_link_speed",
        "max_link_width",
        "current_link_speed",
        "current_link_width",
        "numa_node",
    ] {
        let Some(v) = optional(&path, f)? else {
            continue;
        };
        if v.starts_with("Unknown") {
            continue;
        }
        match f {
            "max_link_speed" | "current_link_speed" => {
                // "8.0 GT/s PCIe"
                let (num, unit) = v.split_once(' ').ok_or_else(|| bad(f, &v, &loc))?;
                if unit != "GT/s PCIe" {
                    return Err(anyhow::anyhow!(
                        "error obtaining PCI device info: unknown unit for {f} {v:?} {loc}"
                    )
                    .into());
                }
                let speed =
                    crate::sys::go::go_parse_float(num.trim()).ok_or_else(|| bad(f, &v, &loc))?;
                if f == "max_link_speed" {
                    d.max_link_speed = Some(speed);
                } else {
                    d.current_link_speed = Some(speed);
                }
            }
            "max_link_width" | "current_link_width" => {
                let w = v.parse::<i64>().map_err(|_| bad(f, &v, &loc))? as f64;
                if f == "max_link_width" {
                    d.max_link_width = Some(w);
                } else {
                    d.current_link_width = Some(w);
                }
            }
            _ => d.numa_node = Some(v.parse::<i32>().map_err(|_| bad(f, &v, &loc))?),
        }
    }
    // Read (and validated) by procfs even where not exported.
    for f in [
        "sriov_drivers_autoprobe",
        "sriov_numvfs",
        "sriov_offset",
        "sriov_stride",
        "sriov_totalvfs",
        "sriov_vf_device",
        "sriov_vf_total_msix",
    ] {
        let Some(v) = optional(&path, f)? else {
            continue;
        };
        let u32_of = |v: &str| v.parse::<u32>().map_err(|_| bad(f, v, &loc));
        match f {
            "sriov_drivers_autoprobe" => {
                d.sriov_drivers_autoprobe =
                    Some(v.parse::<i32>().map_err(|_| bad(f, &v, &loc))? != 0)
            }
            "sriov_numvfs" => d.sriov_numvfs = Some(u32_of(&v)?),
            "sriov_totalvfs" => d.sriov_totalvfs = Some(u32_of(&v)?),
            "sriov_vf_device" => {
                u32::from_str_radix(&v, 16).map_err(|_| bad(f, &v, &loc))?;
            }
            "sriov_vf_total_msix" => {
                d.sriov_vf_total_msix = Some(v.parse::<u64>().map_err(|_| bad(f, &v, &loc))?)
            }
            _ => {
                u32_of(&v)?;
            }
        }
    }
    if let Some(v) = optional(&path, "d3cold_allowed")? {
        d.d3cold_allowed = Some(
            v.parse::<i32>()
                .map_err(|_| bad("d3cold_allowed boolean", &v, &loc))?
                != 0,
        );
    }
    d.power_state = optional(&path, "power_state")?;
    Ok(d)
}

fn no_data_or(path: &Path, e: std::io::Error) -> CollectError {
    if crate::sys::read::is_missing(&e) {
        CollectError::NoData(format!("PCI device not found: {}", path.display()))
    } else {
        anyhow::anyhow!("error obtaining PCI device info: {}: {e}", path.display()).into()
    }
}

const POWER_STATES: [&str; 7] = ["D0", "D1", "D2", "D3hot", "D3cold", "unknown", "error"];

impl Collector for Pcidevice {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let names = crate::sys::read::dir_names(&self.dir).map_err(|e| no_data_or(&self.dir, e))?;
        let mut devices = Vec::with_capacity(names.len());
        for name in &names {
            devices.push(read_device(&self.dir, name)?);
        }
        for d in &devices {
            self.write_device(d, out);
        }
        Ok(())
    }
}

impl Pcidevice {
    fn write_device(&self, d: &Device, out: &mut Exposition) {
        let Some(location) = &d.location else { return };
        let loc = location.labels();
        let star = "*".to_string();
        let parent: [&str; 4] = match &d.parent {
            Some(p) => [&p.0[0], &p.0[1], &p.0[2], &p.0[3]],
            None => [&star, &star, &star, &star],
        };
        let [class, vendor, device, sub_vendor, sub_device, revision] = d.ids;
        let class_id = format!("0x{class:06x}");
        let vendor_id = format!("0x{vendor:04x}");
        let device_id = format!("0x{device:04x}");
        let sub_vendor_id = format!("0x{sub_vendor:04x}");
        let sub_device_id = format!("0x{sub_device:04x}");
        let revision = format!("0x{revision:02x}");
        let mut labels: Vec<(&str, &str)> = loc.to_vec();
        labels.extend([
            ("parent_segment", parent[0]),
            ("parent_bus", parent[1]),
            ("parent_device", parent[2]),
            ("parent_function", parent[3]),
            ("class_id", &class_id),
            ("vendor_id", &vendor_id),
            ("device_id", &device_id),
            ("subsystem_vendor_id", &sub_vendor_id),
            ("subsystem_device_id", &sub_device_id),
            ("revision", &revision),
        ]);
        let resolved;
        if let Some(ids) = &self.names {
            resolved = [
                ids.vendor(&vendor_id),
                ids.device(&vendor_id, &device_id),
                ids.vendor(&sub_vendor_id),
                ids.subsystem(&vendor_id, &device_id, &sub_vendor_id, &sub_device_id),
                ids.class(&class_id),
            ];
            labels.extend([
                ("vendor_name", resolved[0].as_str()),
                ("device_name", resolved[1].as_str()),
                ("subsystem_vendor_name", resolved[2].as_str()),
                ("subsystem_device_name", resolved[3].as_str()),
                ("class_name", resolved[4].as_str()),
            ]);
        }
        out.gauge(
            "node_pcidevice_info",
            "Non-numeric data from /sys/bus/pci/devices/<location>, value is always 1.",
            &labels,
            1.0,
        );
        let flag = |b: Option<bool>| if b == Some(true) { 1.0 } else { 0.0 };
        let gauges: [(&str, &str, f64); 9] = [
            (
                "max_link_transfers_per_second",
                "Value of maximum link's transfers per second (T/s)",
                d.max_link_speed.map_or(-1.0, |s| s * 1e9),
            ),
            (
                "max_link_width",
                "Value of maximum link's width (number of lanes)",
                d.max_link_width.unwrap_or(-1.0),
            ),
            (
                "current_link_transfers_per_second",
                "Value of current link's transfers per second (T/s)",
                d.current_link_speed.map_or(-1.0, |s| s * 1e9),
            ),
            (
                "current_link_width",
                "Value of current link's width (number of lanes)",
                d.current_link_width.unwrap_or(-1.0),
            ),
            (
                "d3cold_allowed",
                "Whether the PCIe device supports D3cold power state (0/1).",
                flag(d.d3cold_allowed),
            ),
            (
                "sriov_drivers_autoprobe",
                "Whether SR-IOV drivers autoprobe is enabled for the device (0/1).",
                flag(d.sriov_drivers_autoprobe),
            ),
            (
                "sriov_numvfs",
                "Number of Virtual Functions (VFs) currently enabled for SR-IOV.",
                d.sriov_numvfs.map_or(0.0, f64::from),
            ),
            (
                "sriov_totalvfs",
                "Total number of Virtual Functions (VFs) supported by the device.",
                d.sriov_totalvfs.map_or(0.0, f64::from),
            ),
            (
                "sriov_vf_total_msix",
                "Total number of MSI-X vectors for Virtual Functions.",
                d.sriov_vf_total_msix.map_or(0.0, |v| v as f64),
            ),
        ];
        for (suffix, help, v) in gauges {
            out.gauge(&format!("node_pcidevice_{suffix}"), help, &loc, v);
        }
        if let Some(state) = &d.power_state {
            for s in POWER_STATES {
                let mut l = loc.to_vec();
                l.push(("state", s));
                out.gauge(
                    "node_pcidevice_power_state",
                    "PCIe device power state, one of: D0, D1, D2, D3hot, D3cold, unknown or error.",
                    &l,
                    if s == state { 1.0 } else { 0.0 },
                );
            }
        }
        // -1 is the kernel's "no NUMA affinity", left out as upstream does.
        if let Some(n) = d.numa_node.filter(|n| *n != -1) {
            out.gauge(
                "node_pcidevice_numa_node",
                "NUMA node number for the PCI device. -1 indicates unknown or not available.",
                &loc,
                f64::from(n),
            );
        }
    }
}

#[cfg(test)]
mod tests;
