//! The `dmmultipath` collector (default on, as upstream's `collector/dmmultipath_linux.go` with
//! prometheus/procfs' `blockdevice.DMMultipathDevices`): every device-mapper device in
//! `/sys/block/dm-*` whose `dm/uuid` starts with `mpath-`, its state and size, and the state of
//! each of its paths (`slaves/<dev>` -> `/sys/block/<dev>/device/state`).

use std::io;
use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::read::{sys_read_string, SysReadError};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(DmMultipath {
        block: paths.sys("block"),
    }))
}

struct DmMultipath {
    block: PathBuf,
}

#[derive(Debug, PartialEq)]
pub struct MultipathDevice {
    /// `dm/name`, e.g. `mpatha`.
    pub name: String,
    /// The kernel's name, `dm-5`.
    pub sysfs_name: String,
    pub uuid: String,
    pub suspended: bool,
    pub size_bytes: u64,
    /// (path device, its `device/state`).
    pub paths: Vec<(String, String)>,
}

/// Why the devices could not be read: a missing file or a permission error (the host has no
/// multipath, or we may not look: upstream reports no data), or anything else.
enum ReadError {
    NoData(String),
    Other(String),
}

fn sys_err(what: &str, dev: &str, e: SysReadError) -> ReadError {
    let msg = format!("failed to read {what} for {dev}: {e}");
    if e.is_not_found() || e.is_permission() {
        ReadError::NoData(msg)
    } else {
        ReadError::Other(msg)
    }
}

fn io_err(e: io::Error, path: &Path) -> ReadError {
    let msg = format!("{}: {e}", path.display());
    if crate::sys::read::is_missing(&e) || e.kind() == io::ErrorKind::PermissionDenied {
        ReadError::NoData(msg)
    } else {
        ReadError::Other(msg)
    }
}

/// A number file read as procfs' `ReadUintFromFile`.
fn read_u64(path: &Path, what: &str, dev: &str) -> Result<u64, ReadError> {
    let s = std::fs::read_to_string(path).map_err(|e| io_err(e, path))?;
    crate::sys::go::parse_go_u64(&s)
        .ok_or_else(|| ReadError::Other(format!("failed to read {what} for {dev}: {s:?}")))
}

fn read_devices(block: &Path) -> Result<Vec<MultipathDevice>, ReadError> {
    let names = crate::sys::read::dir_names(block).map_err(|e| io_err(e, block))?;
    let mut out = Vec::new();
    for dm in names.iter().filter(|n| n.starts_with("dm-")) {
        let dir = block.join(dm);
        let uuid = match sys_read_string(&dir.join("dm/uuid")) {
            Ok(u) => u,
            // A dm device without a uuid file is not multipath's.
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(sys_err("dm/uuid", dm, e)),
        };
        if !uuid.starts_with("mpath-") {
            continue;
        }
        let name = sys_read_string(&dir.join("dm/name")).map_err(|e| sys_err("dm/name", dm, e))?;
        let suspended = read_u64(&dir.join("dm/suspended"), "dm/suspended", dm)?;
        // /sys/block/<dev>/size counts 512-byte sectors whatever the device's block size.
        let sectors = read_u64(&dir.join("size"), "size", dm)?;
        let mut paths = Vec::new();
        let slaves = dir.join("slaves");
        match crate::sys::read::dir_names(&slaves) {
            Ok(devs) => {
                for dev in devs {
                    let state = sys_read_string(&block.join(&dev).join("device/state"))
                        .map_err(|e| sys_err("device/state", &dev, e))?;
                    paths.push((dev, state));
                }
            }
            Err(e) if crate::sys::read::is_missing(&e) => {}
            Err(e) => return Err(io_err(e, &slaves)),
        }
        out.push(MultipathDevice {
            name,
            sysfs_name: dm.clone(),
            uuid,
            suspended: suspended == 1,
            size_bytes: sectors * 512,
            paths,
        });
    }
    Ok(out)
}

/// SCSI paths say `running`, NVMe ones `live` when they carry IO.
fn path_active(state: &str) -> bool {
    state == "running" || state == "live"
}

impl Collector for DmMultipath {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let devices = match read_devices(&self.block) {
            Ok(d) => d,
            Err(ReadError::NoData(m)) => return Err(CollectError::NoData(m)),
            Err(ReadError::Other(m)) => {
                return Err(anyhow::anyhow!("failed to scan DM-multipath devices: {m}").into())
            }
        };
        for d in &devices {
            let l = [
                ("device", d.name.as_str()),
                ("sysfs_name", d.sysfs_name.as_str()),
            ];
            out.gauge(
                "node_dmmultipath_device_info",
                "Non-numeric information about a DM-multipath device.",
                &[
                    ("device", &d.name),
                    ("sysfs_name", &d.sysfs_name),
                    ("uuid", &d.uuid),
                ],
                1.0,
            );
            out.gauge(
                "node_dmmultipath_device_active",
                "Whether the multipath device-mapper device is active (1) or suspended (0).",
                &l,
                if d.suspended { 0.0 } else { 1.0 },
            );
            out.gauge(
                "node_dmmultipath_device_size_bytes",
                "Size of the multipath device in bytes, read from /sys/block/<dm>/size.",
                &l,
                d.size_bytes as f64,
            );
            let active = d.paths.iter().filter(|(_, s)| path_active(s)).count();
            for (dev, state) in &d.paths {
                out.gauge(
                    "node_dmmultipath_path_state",
                    "Reports the underlying device state for a multipath path, as read from /sys/block/<dev>/device/state.",
                    &[("device", &d.name), ("path", dev), ("state", state)],
                    1.0,
                );
            }
            out.gauge(
                "node_dmmultipath_device_paths",
                "Number of paths for a multipath device.",
                &l,
                d.paths.len() as f64,
            );
            out.gauge(
                "node_dmmultipath_device_paths_active",
                "Number of paths in active state (SCSI running or NVMe live) for a multipath device.",
                &l,
                active as f64,
            );
            out.gauge(
                "node_dmmultipath_device_paths_failed",
                "Number of paths not in active state for a multipath device.",
                &l,
                (d.paths.len() - active) as f64,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_files};

    /// Hand-made: the recording host has no multipath. The tree under
    /// tests/fixtures/collectors/dmmultipath/sys has two multipath maps (one suspended, one
    /// with an offline SCSI path and an NVMe path), an LVM dm device that is not multipath, and
    /// a plain disk, shaped like /sys/block on a host running multipathd.
    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/collectors/dmmultipath/sys")
    }

    #[test]
    fn fixture_tree_matches_upstream() {
        // expected.prom: node_exporter 1.12.1's output on the same tree.
        let text = render(build(&sys_at(&fixture()), &Args {}).unwrap().as_ref()).unwrap();
        let want = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/collectors/dmmultipath/expected.prom"),
        )
        .unwrap();
        assert_eq!(text, want, "got:\n{text}");
    }

    #[test]
    fn no_dm_devices_is_success_without_series() {
        // As on the recording host: /sys/block with vda, loop*, zram0 only.
        let dir = tempfile::tempdir().unwrap();
        write_files(&dir.path().join("block/vda"), &[("size", "100\n")]);
        let text = render(build(&sys_at(dir.path()), &Args {}).unwrap().as_ref()).unwrap();
        assert_eq!(text, "");
    }

    #[test]
    fn no_sys_block_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let c = build(&sys_at(dir.path()), &Args {}).unwrap();
        assert!(matches!(render(c.as_ref()), Err(CollectError::NoData(_))));
    }
}
