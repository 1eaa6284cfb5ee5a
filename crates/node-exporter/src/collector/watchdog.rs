//! The `watchdog` collector: the hardware watchdogs of `/sys/class/watchdog` (timeouts, time
//! left, boot status) and a `node_watchdog_info` with their identity and state.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::read::{parse_sysfs_i64, read_failed, sys_read_string};

/// Flags of the `watchdog` collector (none).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Watchdog {
        class_dir: paths.sys("class/watchdog"),
    }))
}

struct Watchdog {
    class_dir: PathBuf,
}

/// The numeric attributes: `(file, metric, help)`.
const NUMERIC: &[(&str, &str, &str)] = &[
    (
        "bootstatus",
        "node_watchdog_bootstatus",
        "Value of /sys/class/watchdog/<watchdog>/bootstatus",
    ),
    (
        "fw_version",
        "node_watchdog_fw_version",
        "Value of /sys/class/watchdog/<watchdog>/fw_version",
    ),
    (
        "nowayout",
        "node_watchdog_nowayout",
        "Value of /sys/class/watchdog/<watchdog>/nowayout",
    ),
    (
        "timeleft",
        "node_watchdog_timeleft_seconds",
        "Value of /sys/class/watchdog/<watchdog>/timeleft",
    ),
    (
        "timeout",
        "node_watchdog_timeout_seconds",
        "Value of /sys/class/watchdog/<watchdog>/timeout",
    ),
    (
        "pretimeout",
        "node_watchdog_pretimeout_seconds",
        "Value of /sys/class/watchdog/<watchdog>/pretimeout",
    ),
    (
        "access_cs0",
        "node_watchdog_access_cs0",
        "Value of /sys/class/watchdog/<watchdog>/access_cs0",
    ),
];

/// The string attributes of the info metric; a missing one is an empty label.
const INFO: &[&str] = &[
    "options",
    "identity",
    "state",
    "status",
    "pretimeout_governor",
];

/// One watchdog: `(metric, help, value)` for the numeric attributes present, and the info
/// label values in [`INFO`] order.
#[derive(Debug, PartialEq)]
pub struct Device {
    pub numeric: Vec<(&'static str, &'static str, i64)>,
    pub info: Vec<String>,
}

impl Collector for Watchdog {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let names = crate::sys::read::dir_names(&self.class_dir)
            .map_err(|e| CollectError::from_io(&self.class_dir, e))?;
        let mut devices = Vec::with_capacity(names.len());
        for name in names {
            let dev = read_device(&self.class_dir.join(&name)).map_err(|e| match e {
                DeviceError::Io(e)
                    if crate::sys::read::is_missing(&e)
                        || e.kind() == std::io::ErrorKind::PermissionDenied =>
                {
                    CollectError::NoData(format!("could not read watchdog stats: {e}"))
                }
                other => CollectError::Other(anyhow::anyhow!("{other}")),
            })?;
            devices.push((name, dev));
        }
        for (name, dev) in &devices {
            for (metric, help, value) in &dev.numeric {
                out.gauge(metric, help, &[("name", name)], *value as f64);
            }
            let mut labels: Vec<(&str, &str)> = vec![("name", name)];
            labels.extend(INFO.iter().zip(&dev.info).map(|(k, v)| (*k, v.as_str())));
            out.gauge(
                "node_watchdog_info",
                "Info of /sys/class/watchdog/<watchdog>",
                &labels,
                1.0,
            );
        }
        Ok(())
    }
}

#[derive(Debug)]
pub enum DeviceError {
    Io(std::io::Error),
    Parse(String),
}

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceError::Io(e) => write!(f, "{e}"),
            DeviceError::Parse(s) => f.write_str(s),
        }
    }
}

/// Reads one watchdog. Attributes the driver lacks are skipped; any other read error or an
/// unparsable number fails, as in procfs.
pub fn read_device(dir: &Path) -> Result<Device, DeviceError> {
    let read = |file: &str| -> Result<Option<String>, DeviceError> {
        let path = dir.join(file);
        match sys_read_string(&path) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => {
                let kind = e.io().kind();
                Err(DeviceError::Io(std::io::Error::new(
                    kind,
                    read_failed(&path, e),
                )))
            }
        }
    };
    let mut numeric = Vec::new();
    for (file, metric, help) in NUMERIC {
        if let Some(raw) = read(file)? {
            let v = parse_sysfs_i64(&raw).ok_or_else(|| {
                DeviceError::Parse(format!(
                    "{}: invalid integer {raw:?}",
                    dir.join(file).display()
                ))
            })?;
            numeric.push((*metric, *help, v));
        }
    }
    let mut info = Vec::with_capacity(INFO.len());
    for file in INFO {
        info.push(read(file)?.unwrap_or_default());
    }
    Ok(Device { numeric, info })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_files};
    use std::fs;

    fn collect(root: &Path) -> Result<String, CollectError> {
        render(&*build(&paths_in(root), &Args::default()).unwrap())
    }

    /// An iTCO_wdt on an Intel server (Linux 6.x) and a softdog with few attributes.
    #[test]
    fn itco_and_softdog() {
        let dir = tempfile::tempdir().unwrap();
        let class = dir.path().join("sys/class/watchdog");
        write_files(
            &class.join("watchdog0"),
            &[
                ("bootstatus", "1\n"),
                ("fw_version", "2\n"),
                ("identity", "iTCO_wdt\n"),
                ("nowayout", "0\n"),
                ("options", "0x8380\n"),
                ("state", "active\n"),
                ("status", "0x8000\n"),
                ("timeleft", "300\n"),
                ("timeout", "60\n"),
                ("pretimeout", "120\n"),
                ("pretimeout_governor", "noop\n"),
                ("access_cs0", "0\n"),
            ],
        );
        write_files(
            &class.join("watchdog1"),
            &[("identity", "Software Watchdog\n"), ("timeout", "0x3c\n")],
        );
        assert_eq!(
            collect(dir.path()).unwrap(),
            "# HELP node_watchdog_access_cs0 Value of /sys/class/watchdog/<watchdog>/access_cs0
# TYPE node_watchdog_access_cs0 gauge
node_watchdog_access_cs0{name=\"watchdog0\"} 0
# HELP node_watchdog_bootstatus Value of /sys/class/watchdog/<watchdog>/bootstatus
# TYPE node_watchdog_bootstatus gauge
node_watchdog_bootstatus{name=\"watchdog0\"} 1
# HELP node_watchdog_fw_version Value of /sys/class/watchdog/<watchdog>/fw_version
# TYPE node_watchdog_fw_version gauge
node_watchdog_fw_version{name=\"watchdog0\"} 2
# HELP node_watchdog_info Info of /sys/class/watchdog/<watchdog>
# TYPE node_watchdog_info gauge
node_watchdog_info{identity=\"Software Watchdog\",name=\"watchdog1\",options=\"\",pretimeout_governor=\"\",state=\"\",status=\"\"} 1
node_watchdog_info{identity=\"iTCO_wdt\",name=\"watchdog0\",options=\"0x8380\",pretimeout_governor=\"noop\",state=\"active\",status=\"0x8000\"} 1
# HELP node_watchdog_nowayout Value of /sys/class/watchdog/<watchdog>/nowayout
# TYPE node_watchdog_nowayout gauge
node_watchdog_nowayout{name=\"watchdog0\"} 0
# HELP node_watchdog_pretimeout_seconds Value of /sys/class/watchdog/<watchdog>/pretimeout
# TYPE node_watchdog_pretimeout_seconds gauge
node_watchdog_pretimeout_seconds{name=\"watchdog0\"} 120
# HELP node_watchdog_timeleft_seconds Value of /sys/class/watchdog/<watchdog>/timeleft
# TYPE node_watchdog_timeleft_seconds gauge
node_watchdog_timeleft_seconds{name=\"watchdog0\"} 300
# HELP node_watchdog_timeout_seconds Value of /sys/class/watchdog/<watchdog>/timeout
# TYPE node_watchdog_timeout_seconds gauge
node_watchdog_timeout_seconds{name=\"watchdog0\"} 60
node_watchdog_timeout_seconds{name=\"watchdog1\"} 60
"
        );
    }

    #[test]
    fn errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(collect(dir.path()), Err(CollectError::NoData(_))));
        let class = dir.path().join("sys/class/watchdog");
        fs::create_dir_all(&class).unwrap();
        // The empty class directory of a VM without a watchdog: success, no samples.
        assert_eq!(collect(dir.path()).unwrap(), "");
        write_files(&class.join("watchdog0"), &[("timeout", "soon\n")]);
        assert!(matches!(collect(dir.path()), Err(CollectError::Other(_))));
    }
}
