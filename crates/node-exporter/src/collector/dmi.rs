//! The `dmi` collector: `node_dmi_info`, labelled with the firmware strings of
//! `/sys/class/dmi/id`.
//!
//! As upstream, the files are read once at start-up (they change only with a reboot or a
//! firmware update) and the same sample is served on every scrape. Files only root may read
//! (`board_serial`, `chassis_serial`, `product_serial`, `product_uuid`) are left out for an
//! unprivileged exporter rather than failing it. Hosts without DMI (ARM boards, some VMs)
//! report no data.

use std::path::Path;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::read::{sys_read_string, SysReadError};

/// Flags of the `dmi` collector (none).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let dir = paths.sys("class/dmi/id");
    let state = match read_dmi(&dir) {
        Ok(labels) => Ok(labels),
        Err(e) if crate::sys::read::is_missing(&e) => {
            tracing::debug!(err = %e, "Platform does not support Desktop Management Interface (DMI) information");
            Ok(Vec::new())
        }
        // node_exporter refuses to start here; we log it and fail every scrape instead.
        Err(e) => {
            let msg = format!("failed to read Desktop Management Interface (DMI) information: {e}");
            tracing::error!(err = %msg, "dmi collector");
            Err(msg)
        }
    };
    Ok(Box::new(Dmi { state }))
}

struct Dmi {
    /// The info labels, or why they could not be read.
    state: Result<Vec<(&'static str, String)>, String>,
}

const HELP: &str = "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.";

impl Collector for Dmi {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let labels = self
            .state
            .as_ref()
            .map_err(|e| CollectError::Other(anyhow::anyhow!("{e}")))?;
        if labels.is_empty() {
            return Err(CollectError::NoData("no DMI information".into()));
        }
        let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.gauge("node_dmi_info", HELP, &pairs, 1.0);
        Ok(())
    }
}

/// `(sysfs file, label)`. `chassis_type`, `modalias` and `uevent` are not exposed.
const FILES: &[(&str, &str)] = &[
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

/// The labels of the files present. Permission denied skips a file; other errors fail.
fn read_dmi(dir: &Path) -> std::io::Result<Vec<(&'static str, String)>> {
    let entries = std::fs::read_dir(dir)?;
    let mut present = Vec::new();
    for entry in entries.flatten() {
        // Only regular files, as procfs (the directory also holds `power/` and symlinks).
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            present.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    let read = |file: &str| sys_read_string(&dir.join(file));
    dmi_labels(&present, read)
}

/// Builds the labels from the file names present and a reader, kept apart to test the
/// permission rule without being unprivileged.
pub fn dmi_labels(
    present: &[String],
    read: impl Fn(&str) -> Result<String, SysReadError>,
) -> std::io::Result<Vec<(&'static str, String)>> {
    let mut labels = Vec::new();
    for (file, label) in FILES {
        if !present.iter().any(|p| p == file) {
            continue;
        }
        match read(file) {
            Ok(v) => labels.push((*label, v)),
            Err(e) if e.is_permission() => {}
            Err(e) => {
                let path = format!("{file}: {e}");
                return Err(std::io::Error::new(e.into_io().kind(), path));
            }
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render};
    use std::fs;
    use std::io;

    fn collector(root: &Path) -> Box<dyn Collector> {
        build(&paths_in(root), &Args::default()).unwrap()
    }

    /// A Lenovo ThinkPad (Linux 6.x), with an empty asset tag.
    #[test]
    fn thinkpad_info() {
        let dir = tempfile::tempdir().unwrap();
        let id = dir.path().join("sys/class/dmi/id");
        fs::create_dir_all(id.join("power")).unwrap();
        for (f, v) in [
            ("bios_date", "04/12/2023\n"),
            ("bios_release", "1.52\n"),
            ("bios_vendor", "LENOVO\n"),
            ("bios_version", "N2HET72W (1.55 )\n"),
            ("board_asset_tag", "Not Available\n"),
            ("board_name", "20QDCTO1WW\n"),
            ("board_vendor", "LENOVO\n"),
            ("board_version", "SDK0J40697 WIN\n"),
            ("chassis_asset_tag", "\n"),
            ("chassis_type", "10\n"),
            ("chassis_vendor", "LENOVO\n"),
            ("chassis_version", "None\n"),
            ("modalias", "dmi:bvnLENOVO:...\n"),
            ("product_family", "ThinkPad X1 Carbon 7th\n"),
            ("product_name", "20QDCTO1WW\n"),
            (
                "product_sku",
                "LENOVO_MT_20QD_BU_Think_FM_ThinkPad X1 Carbon 7th\n",
            ),
            ("product_version", "ThinkPad X1 Carbon 7th\n"),
            ("sys_vendor", "LENOVO\n"),
            ("uevent", "MODALIAS=dmi:bvnLENOVO\n"),
        ] {
            fs::write(id.join(f), v).unwrap();
        }
        let c = collector(dir.path());
        // Read once: later changes are not seen.
        fs::write(id.join("bios_vendor"), "CHANGED\n").unwrap();
        assert_eq!(
            render(&*c).unwrap(),
            format!(
                "# HELP node_dmi_info {HELP}\n# TYPE node_dmi_info gauge\n\
                 node_dmi_info{{bios_date=\"04/12/2023\",bios_release=\"1.52\",bios_vendor=\"LENOVO\",bios_version=\"N2HET72W (1.55 )\",board_asset_tag=\"Not Available\",board_name=\"20QDCTO1WW\",board_vendor=\"LENOVO\",board_version=\"SDK0J40697 WIN\",chassis_asset_tag=\"\",chassis_vendor=\"LENOVO\",chassis_version=\"None\",product_family=\"ThinkPad X1 Carbon 7th\",product_name=\"20QDCTO1WW\",product_sku=\"LENOVO_MT_20QD_BU_Think_FM_ThinkPad X1 Carbon 7th\",product_version=\"ThinkPad X1 Carbon 7th\",system_vendor=\"LENOVO\"}} 1\n"
            )
        );
    }

    #[test]
    fn root_only_files_are_skipped() {
        let present: Vec<String> = ["product_uuid", "product_name", "board_serial"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let labels = dmi_labels(&present, |f| match f {
            "product_name" => Ok("KVM".into()),
            _ => Err(SysReadError::Open(io::Error::from(
                io::ErrorKind::PermissionDenied,
            ))),
        })
        .unwrap();
        assert_eq!(labels, vec![("product_name", "KVM".to_string())]);
        let e = dmi_labels(&present, |_| {
            Err(SysReadError::Read(io::Error::from_raw_os_error(libc::EIO)))
        });
        assert!(e.is_err());
    }

    #[test]
    fn no_dmi_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Exposition::new();
        assert!(matches!(
            collector(dir.path()).update(&mut out),
            Err(CollectError::NoData(_))
        ));
    }
}
