//! The `thermal_zone` collector: `node_thermal_zone_temp` per `/sys/class/thermal/thermal_zone*`
//! and `node_cooling_device_{cur,max}_state` per `cooling_device*`.
//!
//! Error handling follows procfs: a zone that is disabled, or whose files cannot be opened, or
//! whose driver answers a read with ENODATA/EAGAIN (iwlwifi with the interface down, some ACPI
//! zones) is skipped; garbage in `temp` fails the collector. A host without the class directory
//! succeeds with no samples, as upstream's glob does.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::read::glob_numbered;
use crate::sys::read::{sys_read_string, SysReadError};

/// Flags of the `thermal_zone` collector (none).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(ThermalZone {
        class_dir: paths.sys("class/thermal"),
    }))
}

struct ThermalZone {
    class_dir: PathBuf,
}

/// One `thermal_zoneN`.
#[derive(Debug, PartialEq)]
pub struct Zone {
    pub name: String,
    pub kind: String,
    pub temp_millicelsius: i64,
}

/// One `cooling_deviceN`.
#[derive(Debug, PartialEq)]
pub struct CoolingDevice {
    pub name: String,
    pub kind: String,
    pub max_state: i64,
    pub cur_state: i64,
}

impl Collector for ThermalZone {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let entries = numbered_entries(&self.class_dir);
        let zones = read_zones(&self.class_dir, &entries).map_err(|e| match e {
            // Upstream turns these into ErrNoData (debug log, success 0).
            ZoneError::Io(e)
                if e.is_not_found() || e.is_permission() || e.errno() == Some(libc::EINVAL) =>
            {
                CollectError::NoData(format!("could not read thermal zone stats: {e}"))
            }
            other => CollectError::Other(anyhow::anyhow!("{other}")),
        })?;
        let fam = out.family(
            "node_thermal_zone_temp",
            "Zone temperature in Celsius",
            exporter_core::MetricType::Gauge,
        );
        for z in &zones {
            fam.sample(
                &[("zone", &z.name), ("type", &z.kind)],
                z.temp_millicelsius as f64 / 1000.0,
            );
        }
        let devices = read_cooling_devices(&self.class_dir, &entries)
            .map_err(|e| CollectError::Other(anyhow::anyhow!("{e}")))?;
        for d in &devices {
            let labels = [("name", d.name.as_str()), ("type", d.kind.as_str())];
            out.gauge(
                "node_cooling_device_cur_state",
                "Current throttle state of the cooling device",
                &labels,
                d.cur_state as f64,
            );
            out.gauge(
                "node_cooling_device_max_state",
                "Maximum throttle state of the cooling device",
                &labels,
                d.max_state as f64,
            );
        }
        Ok(())
    }
}

/// The names in the class directory, sorted; none when it cannot be listed (a glob that matches
/// nothing is no error upstream).
fn numbered_entries(dir: &Path) -> Vec<String> {
    crate::sys::read::dir_names(dir).unwrap_or_default()
}

#[derive(Debug)]
pub enum ZoneError {
    Io(SysReadError),
    Parse(String),
}

impl std::fmt::Display for ZoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZoneError::Io(e) => write!(f, "{e}"),
            ZoneError::Parse(s) => f.write_str(s),
        }
    }
}

/// Whether procfs skips the zone for this read error: it could not be opened at all, or the
/// driver answered ENODATA or EAGAIN.
fn skips_zone(e: &SysReadError) -> bool {
    match e {
        SysReadError::Open(_) => true,
        SysReadError::Read(io) => {
            matches!(io.raw_os_error(), Some(libc::ENODATA) | Some(libc::EAGAIN))
        }
    }
}

/// The enabled zones. `Err` only for what procfs treats as fatal.
pub fn read_zones(class_dir: &Path, entries: &[String]) -> Result<Vec<Zone>, ZoneError> {
    let mut zones = Vec::new();
    for entry in entries {
        let Some(number) = glob_numbered(entry, "thermal_zone") else {
            continue;
        };
        let dir = class_dir.join(entry);
        match read_zone(&dir) {
            Ok(Some((kind, temp))) => zones.push(Zone {
                name: number.to_string(),
                kind,
                temp_millicelsius: temp,
            }),
            Ok(None) => {}
            Err(ZoneError::Io(e)) if skips_zone(&e) => {
                tracing::debug!(zone = %dir.display(), err = %e, "skipping thermal zone");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(zones)
}

/// `(type, temp)` of one zone, `None` when its `mode` is `disabled`.
fn read_zone(dir: &Path) -> Result<Option<(String, i64)>, ZoneError> {
    // `mode` is optional; a missing or unreadable one does not matter.
    let mode = match sys_read_string(&dir.join("mode")) {
        Ok(m) => m,
        Err(e) if e.is_not_found() || e.is_permission() => String::new(),
        Err(e) => return Err(ZoneError::Io(e)),
    };
    if mode == "disabled" {
        return Ok(None);
    }
    let kind = sys_read_string(&dir.join("type")).map_err(ZoneError::Io)?;
    // `policy` is not exposed, but a zone without one is skipped upstream.
    sys_read_string(&dir.join("policy")).map_err(ZoneError::Io)?;
    let temp = sys_read_string(&dir.join("temp")).map_err(ZoneError::Io)?;
    let temp = temp
        .parse::<i64>()
        .map_err(|e| ZoneError::Parse(format!("{}: {e}", dir.join("temp").display())))?;
    Ok(Some((kind, temp)))
}

/// Whether procfs' `canIgnoreError` skips the device for this error.
fn ignorable(e: &SysReadError) -> bool {
    e.is_not_found()
        || e.is_permission()
        || matches!(e.errno(), Some(libc::EOPNOTSUPP) | Some(libc::EINVAL))
}

pub fn read_cooling_devices(
    class_dir: &Path,
    entries: &[String],
) -> Result<Vec<CoolingDevice>, String> {
    let mut devices = Vec::new();
    for entry in entries {
        let Some(number) = glob_numbered(entry, "cooling_device") else {
            continue;
        };
        let dir = class_dir.join(entry);
        let read = |file: &str| sys_read_string(&dir.join(file));
        let parse = |file: &str, s: String| {
            s.parse::<i64>()
                .map_err(|e| format!("{}: {e}", dir.join(file).display()))
        };
        let fields = (|| -> Result<Result<(String, i64, i64), String>, SysReadError> {
            let kind = read("type")?;
            let max = read("max_state")?;
            let max = match parse("max_state", max) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            // cur_state is -1 for intel_powerclamp when idle injection is off.
            let cur = read("cur_state")?;
            Ok(parse("cur_state", cur).map(|cur| (kind, max, cur)))
        })();
        match fields {
            Ok(Ok((kind, max_state, cur_state))) => devices.push(CoolingDevice {
                name: number.to_string(),
                kind,
                max_state,
                cur_state,
            }),
            Ok(Err(parse_err)) => return Err(parse_err),
            Err(e) if ignorable(&e) => {
                tracing::debug!(device = %dir.display(), err = %e, "skipping cooling device");
            }
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_files};
    use crate::sys::read::glob_numbered as glob_suffix;
    use std::fs;

    fn collect(root: &Path) -> Result<String, CollectError> {
        render(&*build(&paths_in(root), &Args::default()).unwrap())
    }

    /// A laptop (Linux 6.x): an ACPI zone, the x86 package sensor, an iwlwifi zone whose `temp`
    /// read fails with ENODATA while the interface is down (emulated by a missing file, which
    /// procfs also skips), a disabled zone; cooling devices for CPU frequency, a fan and
    /// intel_powerclamp (cur_state -1).
    #[test]
    fn laptop_zones_and_cooling_devices() {
        let dir = tempfile::tempdir().unwrap();
        let class = dir.path().join("sys/class/thermal");
        write_files(
            &class.join("thermal_zone0"),
            &[
                ("type", "acpitz\n"),
                ("policy", "step_wise\n"),
                ("temp", "27800\n"),
                ("mode", "enabled\n"),
            ],
        );
        write_files(
            &class.join("thermal_zone1"),
            &[
                ("type", "x86_pkg_temp\n"),
                ("policy", "step_wise\n"),
                ("temp", "-1500\n"),
            ],
        );
        write_files(
            &class.join("thermal_zone2"),
            &[("type", "iwlwifi_1\n"), ("policy", "step_wise\n")],
        );
        write_files(
            &class.join("thermal_zone3"),
            &[
                ("type", "pch_skylake\n"),
                ("policy", "step_wise\n"),
                ("temp", "40000\n"),
                ("mode", "disabled\n"),
            ],
        );
        write_files(
            &class.join("thermal_zone10"),
            &[
                ("type", "INT3400 Thermal\n"),
                ("policy", "user_space\n"),
                ("temp", "20000\n"),
            ],
        );
        write_files(
            &class.join("cooling_device0"),
            &[
                ("type", "Processor\n"),
                ("max_state", "3\n"),
                ("cur_state", "0\n"),
            ],
        );
        write_files(
            &class.join("cooling_device1"),
            &[
                ("type", "intel_powerclamp\n"),
                ("max_state", "50\n"),
                ("cur_state", "-1\n"),
            ],
        );
        // No cur_state: skipped, like an unreadable attribute.
        write_files(
            &class.join("cooling_device2"),
            &[("type", "Fan\n"), ("max_state", "1\n")],
        );
        fs::create_dir_all(class.join("thermal_zone_extra")).unwrap();
        assert_eq!(
            collect(dir.path()).unwrap(),
            "# HELP node_cooling_device_cur_state Current throttle state of the cooling device
# TYPE node_cooling_device_cur_state gauge
node_cooling_device_cur_state{name=\"0\",type=\"Processor\"} 0
node_cooling_device_cur_state{name=\"1\",type=\"intel_powerclamp\"} -1
# HELP node_cooling_device_max_state Maximum throttle state of the cooling device
# TYPE node_cooling_device_max_state gauge
node_cooling_device_max_state{name=\"0\",type=\"Processor\"} 3
node_cooling_device_max_state{name=\"1\",type=\"intel_powerclamp\"} 50
# HELP node_thermal_zone_temp Zone temperature in Celsius
# TYPE node_thermal_zone_temp gauge
node_thermal_zone_temp{type=\"INT3400 Thermal\",zone=\"10\"} 20
node_thermal_zone_temp{type=\"acpitz\",zone=\"0\"} 27.8
node_thermal_zone_temp{type=\"x86_pkg_temp\",zone=\"1\"} -1.5
"
        );
    }

    #[test]
    fn garbage_temperature_fails_the_collector() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            &dir.path().join("sys/class/thermal/thermal_zone0"),
            &[
                ("type", "acpitz\n"),
                ("policy", "step_wise\n"),
                ("temp", "hot\n"),
            ],
        );
        assert!(matches!(collect(dir.path()), Err(CollectError::Other(_))));
    }

    #[test]
    fn garbage_cooling_state_fails_the_collector() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            &dir.path().join("sys/class/thermal/cooling_device0"),
            &[
                ("type", "Fan\n"),
                ("max_state", "x\n"),
                ("cur_state", "0\n"),
            ],
        );
        assert!(matches!(collect(dir.path()), Err(CollectError::Other(_))));
    }

    #[test]
    fn empty_or_missing_class_succeeds_empty() {
        // As in a VM: /sys/class/thermal exists and is empty, or does not exist at all.
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(collect(dir.path()).unwrap(), "");
        fs::create_dir_all(dir.path().join("sys/class/thermal")).unwrap();
        assert_eq!(collect(dir.path()).unwrap(), "");
    }

    #[test]
    fn glob_suffixes() {
        assert_eq!(glob_suffix("thermal_zone12", "thermal_zone"), Some("12"));
        assert_eq!(glob_suffix("thermal_zone", "thermal_zone"), None);
        assert_eq!(glob_suffix("thermal_zonex", "thermal_zone"), None);
        assert_eq!(glob_suffix("cooling_device3", "cooling_device"), Some("3"));
    }
}
