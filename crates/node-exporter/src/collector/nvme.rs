//! The `nvme` collector: `node_nvme_info` per controller in `/sys/class/nvme` and, per namespace
//! block device under it (`nvme<ctrl>n<nsid>`), the `node_nvme_namespace_*` families.
//!
//! As 1.12.1 (procfs 0.21's `nvme\d+n(\d+)`, unanchored), namespaces are found only under their
//! plain name (`nvme0n1`, a controller's child when native NVMe multipathing is off); the
//! controller-path name `nvme0c0n1` of a multipathing kernel does not match, so such hosts get
//! `node_nvme_info` alone, in 1.12.1 and here. Earlier procfs versions matched only `nvme0c0n1`.
//! Sizes are the sysfs block counts times the logical block size, as upstream computes them; a
//! count that does not parse reads as 0, as procfs ignores it.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

/// Flags of the `nvme` collector (none upstream).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Nvme {
        class: paths.sys("class/nvme"),
    }))
}

struct Nvme {
    class: PathBuf,
}

/// The namespace id of a namespace directory: `nvme1n2` -> `2`. Mirrors procfs' unanchored
/// `nvme\d+n(\d+)`: `nvme0c0n1` does not match, `ng1n1` (the char device) neither.
pub fn namespace_id(name: &str) -> Option<&str> {
    let mut rest = name;
    while let Some(pos) = rest.find("nvme") {
        let after = &rest[pos + 4..];
        if let Some(id) = parse_namespace(after) {
            return Some(id);
        }
        rest = after;
    }
    None
}

/// `<digits>n<digits>` at the start of `s`: the last digits.
fn parse_namespace(s: &str) -> Option<&str> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let a = digits(s);
    let s = s.get(a..)?.strip_prefix('n').filter(|_| a > 0)?;
    let c = digits(s);
    (c > 0).then(|| &s[..c])
}

fn read_attr(dir: &Path, name: &str) -> Result<String, CollectError> {
    let p = dir.join(name);
    crate::sys::read::trimmed(&p).map_err(|e| {
        CollectError::Other(anyhow::anyhow!(
            "failed to read file {:?}: {e}",
            p.display().to_string()
        ))
    })
}

/// A block count: a missing file fails the scrape, a value that does not parse reads as 0.
fn read_u64(dir: &Path, name: &str) -> Result<u64, CollectError> {
    Ok(read_attr(dir, name)?.parse().unwrap_or(0))
}

impl Collector for Nvme {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let devices = crate::sys::read::dir_names(&self.class)
            .map_err(|e| CollectError::from_io(&self.class, e))?;
        for device in &devices {
            let dir = self.class.join(device);
            let firmware = read_attr(&dir, "firmware_rev")?;
            let model = read_attr(&dir, "model")?;
            let serial = read_attr(&dir, "serial")?;
            let state = read_attr(&dir, "state")?;
            let cntlid = read_attr(&dir, "cntlid")?;
            out.gauge(
                "node_nvme_info",
                "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
                &[
                    ("device", device),
                    ("firmware_revision", &firmware),
                    ("model", &model),
                    ("serial", &serial),
                    ("state", &state),
                    ("cntlid", &cntlid),
                ],
                1.0,
            );

            let entries = crate::sys::read::dir_names(&dir).unwrap_or_default();
            for ns in &entries {
                let Some(nsid) = namespace_id(ns) else {
                    continue;
                };
                let ns_dir = dir.join(ns);
                if !ns_dir.is_dir() {
                    continue;
                }
                let ana_state = crate::sys::read::trimmed(&ns_dir.join("ana_state"))
                    .unwrap_or_else(|_| "unknown".into());
                let size = read_u64(&ns_dir, "size")?;
                let used = read_u64(&ns_dir, "nuse")?;
                let lbs = read_u64(&ns_dir, "queue/logical_block_size")?;
                let labels = [("device", device.as_str()), ("nsid", nsid)];
                out.gauge(
                    "node_nvme_namespace_info",
                    "Information about NVMe namespaces. Value is always 1",
                    &[
                        ("device", device),
                        ("nsid", nsid),
                        ("ana_state", &ana_state),
                    ],
                    1.0,
                );
                let bytes = (size as f64) * (lbs as f64);
                out.gauge(
                    "node_nvme_namespace_capacity_bytes",
                    "Capacity of the NVMe namespace in bytes. Computed as namespace_size * namespace_logical_block_size",
                    &labels,
                    bytes,
                );
                out.gauge(
                    "node_nvme_namespace_size_bytes",
                    "Size of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/size",
                    &labels,
                    bytes,
                );
                out.gauge(
                    "node_nvme_namespace_used_bytes",
                    "Used space of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/nuse",
                    &labels,
                    (used as f64) * (lbs as f64),
                );
                out.gauge(
                    "node_nvme_namespace_logical_block_size_bytes",
                    "Logical block size of the NVMe namespace in bytes. Usually 4Kb. Available in /sys/class/nvme/<device>/<namespace>/queue/logical_block_size",
                    &labels,
                    lbs as f64,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at};
    use std::fs;

    #[test]
    fn namespace_ids() {
        assert_eq!(namespace_id("nvme0n1"), Some("1"));
        assert_eq!(namespace_id("nvme12n45"), Some("45"));
        assert_eq!(namespace_id("nvme0c0n1"), None);
        assert_eq!(namespace_id("ng0n1"), None);
        assert_eq!(namespace_id("device"), None);
        assert_eq!(namespace_id("hwmon2"), None);
    }

    #[test]
    fn exposes_controller_and_namespaces() {
        // /sys/class/nvme/nvme0 as on a host with one Samsung 970 PRO, native multipath off:
        // attributes are space-padded by the kernel, the namespace lives in nvme0n1.
        let dir = tempfile::tempdir().unwrap();
        let ctrl = dir.path().join("class/nvme/nvme0");
        let ns = ctrl.join("nvme0n1");
        fs::create_dir_all(ns.join("queue")).unwrap();
        fs::create_dir_all(ctrl.join("power")).unwrap();
        for (f, v) in [
            ("firmware_rev", "1B2QEXP7\n"),
            ("model", "Samsung SSD 970 PRO 512GB               \n"),
            ("serial", "S680HF8N190894I     \n"),
            ("state", "live\n"),
            ("cntlid", "1997\n"),
        ] {
            fs::write(ctrl.join(f), v).unwrap();
        }
        fs::write(ns.join("ana_state"), "optimized\n").unwrap();
        fs::write(ns.join("size"), "1000\n").unwrap();
        fs::write(ns.join("nuse"), "500\n").unwrap();
        fs::write(ns.join("queue/logical_block_size"), "4096\n").unwrap();
        let paths = sys_at(dir.path());
        let c = build(&paths, &Args::default()).unwrap();
        let text = render(&*c).unwrap();
        for line in [
            "node_nvme_info{cntlid=\"1997\",device=\"nvme0\",firmware_revision=\"1B2QEXP7\",model=\"Samsung SSD 970 PRO 512GB\",serial=\"S680HF8N190894I\",state=\"live\"} 1",
            "node_nvme_namespace_info{ana_state=\"optimized\",device=\"nvme0\",nsid=\"1\"} 1",
            "node_nvme_namespace_capacity_bytes{device=\"nvme0\",nsid=\"1\"} 4.096e+06",
            "node_nvme_namespace_size_bytes{device=\"nvme0\",nsid=\"1\"} 4.096e+06",
            "node_nvme_namespace_used_bytes{device=\"nvme0\",nsid=\"1\"} 2.048e+06",
            "node_nvme_namespace_logical_block_size_bytes{device=\"nvme0\",nsid=\"1\"} 4096",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
        assert_eq!(text.matches("# TYPE").count(), 6);

        // Without ana_state (no ANA support) the label says "unknown".
        fs::remove_file(ns.join("ana_state")).unwrap();
        let text = render(&*c).unwrap();
        assert!(text.contains("ana_state=\"unknown\""));

        // A controller missing an attribute is an error for the collector, as upstream.
        fs::remove_file(ctrl.join("cntlid")).unwrap();
        let mut out = Exposition::new();
        assert!(c.update(&mut out).is_err());
    }

    #[test]
    fn no_nvme_class_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let paths = sys_at(dir.path());
        let c = build(&paths, &Args::default()).unwrap();
        let mut out = Exposition::new();
        assert!(matches!(c.update(&mut out), Err(CollectError::NoData(_))));
    }

    /// Hand-made (the recording host has no NVMe): tests/fixtures/collectors/nvme, a controller
    /// in multipath layout (nvme0c0n1, not matched) and one with two namespaces (one without
    /// ana_state, one whose nuse does not parse) and its ng1n1 char device; expected.prom is
    /// node_exporter 1.12.1's output on it.
    #[test]
    fn fixture_matches_upstream() {
        let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/collectors/nvme");
        let c = build(&sys_at(&fx.join("sys")), &Args::default()).unwrap();
        let got = render(&*c).unwrap();
        assert_eq!(
            got,
            fs::read_to_string(fx.join("expected.prom")).unwrap(),
            "got:\n{got}"
        );
    }
}
