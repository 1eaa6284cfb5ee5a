//! The `powersupplyclass` collector: batteries, AC adapters and USB supplies under
//! `/sys/class/power_supply`, as `node_power_supply_*` gauges and one `node_power_supply_info`.
//!
//! Units as upstream: the kernel's µA, µV, µWh, µAh and µW are divided by 10^6 (so
//! `energy_watthour`, `voltage_volt`, ...), tenths of a degree by 10; capacity, cycle count
//! and times stay as they are.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;
use regex_lite::Regex;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::compile_regex;
use crate::sys::read::{parse_sysfs_i64, read_failed, sys_read_string, SysReadError};

/// Flags of the `powersupplyclass` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    #[arg(
        long = "collector.powersupply.ignored-supplies",
        default_value = "^$",
        help = "Regexp of power supplies to ignore for powersupplyclass collector."
    )]
    pub ignored_supplies: String,
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let ignored = compile_regex(
        "collector.powersupply.ignored-supplies",
        &args.ignored_supplies,
    )?;
    Ok(Box::new(PowerSupplyClass {
        class_dir: paths.sys("class/power_supply"),
        ignored,
    }))
}

struct PowerSupplyClass {
    class_dir: PathBuf,
    ignored: Regex,
}

/// How a numeric attribute is scaled.
#[derive(Clone, Copy)]
enum Scale {
    One,
    Micro,
    Deci,
}

/// `(sysfs file, metric suffix, scale)`, as upstream maps them.
const NUMERIC: &[(&str, &str, Scale)] = &[
    ("authentic", "authentic", Scale::One),
    ("calibrate", "calibrate", Scale::One),
    ("capacity", "capacity", Scale::One),
    ("capacity_alert_max", "capacity_alert_max", Scale::One),
    ("capacity_alert_min", "capacity_alert_min", Scale::One),
    ("cycle_count", "cyclecount", Scale::One),
    ("online", "online", Scale::One),
    ("present", "present", Scale::One),
    ("time_to_empty_now", "time_to_empty_seconds", Scale::One),
    ("time_to_full_now", "time_to_full_seconds", Scale::One),
    ("current_boot", "current_boot", Scale::Micro),
    ("current_max", "current_max", Scale::Micro),
    ("current_now", "current_ampere", Scale::Micro),
    ("energy_empty", "energy_empty", Scale::Micro),
    ("energy_empty_design", "energy_empty_design", Scale::Micro),
    ("energy_full", "energy_full", Scale::Micro),
    ("energy_full_design", "energy_full_design", Scale::Micro),
    ("energy_now", "energy_watthour", Scale::Micro),
    ("voltage_boot", "voltage_boot", Scale::Micro),
    ("voltage_max", "voltage_max", Scale::Micro),
    ("voltage_max_design", "voltage_max_design", Scale::Micro),
    ("voltage_min", "voltage_min", Scale::Micro),
    ("voltage_min_design", "voltage_min_design", Scale::Micro),
    ("voltage_now", "voltage_volt", Scale::Micro),
    ("voltage_ocv", "voltage_ocv", Scale::Micro),
    ("charge_control_limit", "charge_control_limit", Scale::Micro),
    (
        "charge_control_limit_max",
        "charge_control_limit_max",
        Scale::Micro,
    ),
    ("charge_counter", "charge_counter", Scale::Micro),
    ("charge_empty", "charge_empty", Scale::Micro),
    ("charge_empty_design", "charge_empty_design", Scale::Micro),
    ("charge_full", "charge_full", Scale::Micro),
    ("charge_full_design", "charge_full_design", Scale::Micro),
    ("charge_now", "charge_ampere", Scale::Micro),
    ("charge_term_current", "charge_term_current", Scale::Micro),
    (
        "constant_charge_current",
        "constant_charge_current",
        Scale::Micro,
    ),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        Scale::Micro,
    ),
    (
        "constant_charge_voltage",
        "constant_charge_voltage",
        Scale::Micro,
    ),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        Scale::Micro,
    ),
    ("precharge_current", "precharge_current", Scale::Micro),
    ("input_current_limit", "input_current_limit", Scale::Micro),
    ("power_now", "power_watt", Scale::Micro),
    ("temp", "temp_celsius", Scale::Deci),
    ("temp_alert_max", "temp_alert_max_celsius", Scale::Deci),
    ("temp_alert_min", "temp_alert_min_celsius", Scale::Deci),
    ("temp_ambient", "temp_ambient_celsius", Scale::Deci),
    ("temp_ambient_max", "temp_ambient_max_celsius", Scale::Deci),
    ("temp_ambient_min", "temp_ambient_min_celsius", Scale::Deci),
    ("temp_max", "temp_max_celsius", Scale::Deci),
    ("temp_min", "temp_min_celsius", Scale::Deci),
];

/// `(sysfs file, info label)`; empty values are left out of the info metric.
const INFO: &[(&str, &str)] = &[
    ("capacity_level", "capacity_level"),
    ("charge_type", "charge_type"),
    ("health", "health"),
    ("manufacturer", "manufacturer"),
    ("model_name", "model_name"),
    ("serial_number", "serial_number"),
    ("status", "status"),
    ("technology", "technology"),
    ("type", "type"),
    ("usb_type", "usb_type"),
    ("scope", "scope"),
];

/// What one supply exposes: `(metric suffix, scaled value)` and `(info label, value)`.
#[derive(Debug, Default, PartialEq)]
pub struct Supply {
    pub values: Vec<(&'static str, f64)>,
    pub info: Vec<(&'static str, String)>,
}

impl Collector for PowerSupplyClass {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let names = crate::sys::read::dir_names(&self.class_dir)
            .map_err(|e| CollectError::from_io(&self.class_dir, e))?;
        let mut supplies = Vec::with_capacity(names.len());
        for name in names {
            // Filtered before reading (upstream reads every supply first, so a broken ignored
            // supply still fails the collector there).
            if self.ignored.is_match(&name) {
                continue;
            }
            let supply = read_supply(&self.class_dir.join(&name)).map_err(|e| {
                anyhow::anyhow!(
                    "could not get power_supply class info: error obtaining power_supply class info: {e}"
                )
            })?;
            supplies.push((name, supply));
        }
        for (name, supply) in &supplies {
            for (suffix, value) in &supply.values {
                out.gauge(
                    &format!("node_power_supply_{suffix}"),
                    &format!("{suffix} value of /sys/class/power_supply/<power_supply>."),
                    &[("power_supply", name)],
                    *value,
                );
            }
            let mut labels: Vec<(&str, &str)> = vec![("power_supply", name)];
            labels.extend(supply.info.iter().map(|(k, v)| (*k, v.as_str())));
            out.gauge(
                "node_power_supply_info",
                "info of /sys/class/power_supply/<power_supply>.",
                &labels,
                1.0,
            );
        }
        Ok(())
    }
}

/// Reads the attributes of one supply directory. Attributes the driver does not have, or that
/// it refuses with EOPNOTSUPP/ENODEV (a battery that was just removed), are left out; other read
/// errors and unparsable numbers fail, as in procfs.
pub fn read_supply(dir: &Path) -> Result<Supply, String> {
    let mut supply = Supply::default();
    let read = |file: &str| -> Result<Option<String>, String> {
        let path = dir.join(file);
        match sys_read_string(&path) {
            Ok(v) => Ok(Some(v)),
            Err(e) if skippable(&e) => Ok(None),
            Err(e) => Err(read_failed(&path, e)),
        }
    };
    for (file, suffix, scale) in NUMERIC {
        let Some(raw) = read(file)? else { continue };
        let v = parse_sysfs_i64(&raw)
            .ok_or_else(|| format!("{}: invalid integer {raw:?}", dir.join(file).display()))?
            as f64;
        let v = match scale {
            Scale::One => v,
            Scale::Micro => v / 1e6,
            Scale::Deci => v / 10.0,
        };
        supply.values.push((suffix, v));
    }
    for (file, label) in INFO {
        if let Some(v) = read(file)? {
            if !v.is_empty() {
                supply.info.push((label, v));
            }
        }
    }
    Ok(supply)
}

fn skippable(e: &SysReadError) -> bool {
    e.is_not_found()
        || matches!(
            e,
            SysReadError::Read(io) if matches!(io.raw_os_error(), Some(libc::EOPNOTSUPP) | Some(libc::ENODEV))
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_files};
    use std::fs;

    fn collect(root: &Path, ignored: &str) -> Result<String, CollectError> {
        let args = Args {
            ignored_supplies: ignored.to_string(),
        };
        render(&*build(&paths_in(root), &args).unwrap())
    }

    /// A ThinkPad (Linux 6.x): BAT0 reporting energy in µWh, and the AC adapter.
    fn thinkpad(root: &Path) {
        let class = root.join("sys/class/power_supply");
        write_files(
            &class.join("AC"),
            &[
                ("online", "1\n"),
                ("type", "Mains\n"),
                ("uevent", "POWER_SUPPLY_NAME=AC\n"),
            ],
        );
        write_files(
            &class.join("BAT0"),
            &[
                ("capacity", "81\n"),
                ("capacity_level", "Normal\n"),
                ("cycle_count", "0\n"),
                ("energy_full", "45070000\n"),
                ("energy_full_design", "47520000\n"),
                ("energy_now", "36360000\n"),
                ("manufacturer", "LGC\n"),
                ("model_name", "LNV-45N1\n"),
                ("power_now", "4830000\n"),
                ("present", "1\n"),
                ("serial_number", "38109\n"),
                ("status", "Discharging\n"),
                ("technology", "Li-ion\n"),
                ("type", "Battery\n"),
                ("voltage_min_design", "10800000\n"),
                ("voltage_now", "12229000\n"),
                ("temp", "0x12c\n"),
                ("charge_type", "\n"),
            ],
        );
    }

    #[test]
    fn thinkpad_battery_and_ac() {
        let dir = tempfile::tempdir().unwrap();
        thinkpad(dir.path());
        assert_eq!(
            collect(dir.path(), "^$").unwrap(),
            "# HELP node_power_supply_capacity capacity value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_capacity gauge
node_power_supply_capacity{power_supply=\"BAT0\"} 81
# HELP node_power_supply_cyclecount cyclecount value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_cyclecount gauge
node_power_supply_cyclecount{power_supply=\"BAT0\"} 0
# HELP node_power_supply_energy_full energy_full value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_energy_full gauge
node_power_supply_energy_full{power_supply=\"BAT0\"} 45.07
# HELP node_power_supply_energy_full_design energy_full_design value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_energy_full_design gauge
node_power_supply_energy_full_design{power_supply=\"BAT0\"} 47.52
# HELP node_power_supply_energy_watthour energy_watthour value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_energy_watthour gauge
node_power_supply_energy_watthour{power_supply=\"BAT0\"} 36.36
# HELP node_power_supply_info info of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_info gauge
node_power_supply_info{power_supply=\"AC\",type=\"Mains\"} 1
node_power_supply_info{capacity_level=\"Normal\",manufacturer=\"LGC\",model_name=\"LNV-45N1\",power_supply=\"BAT0\",serial_number=\"38109\",status=\"Discharging\",technology=\"Li-ion\",type=\"Battery\"} 1
# HELP node_power_supply_online online value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_online gauge
node_power_supply_online{power_supply=\"AC\"} 1
# HELP node_power_supply_power_watt power_watt value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_power_watt gauge
node_power_supply_power_watt{power_supply=\"BAT0\"} 4.83
# HELP node_power_supply_present present value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_present gauge
node_power_supply_present{power_supply=\"BAT0\"} 1
# HELP node_power_supply_temp_celsius temp_celsius value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_temp_celsius gauge
node_power_supply_temp_celsius{power_supply=\"BAT0\"} 30
# HELP node_power_supply_voltage_min_design voltage_min_design value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_voltage_min_design gauge
node_power_supply_voltage_min_design{power_supply=\"BAT0\"} 10.8
# HELP node_power_supply_voltage_volt voltage_volt value of /sys/class/power_supply/<power_supply>.
# TYPE node_power_supply_voltage_volt gauge
node_power_supply_voltage_volt{power_supply=\"BAT0\"} 12.229
"
        );
    }

    #[test]
    fn ignored_supplies_flag() {
        let dir = tempfile::tempdir().unwrap();
        thinkpad(dir.path());
        let text = collect(dir.path(), "^BAT").unwrap();
        assert!(
            text.contains("power_supply=\"AC\"") && !text.contains("BAT0"),
            "{text}"
        );
        let bad = Args {
            ignored_supplies: "(".into(),
        };
        let e = build(&Paths::default(), &bad).err().unwrap();
        assert!(e
            .to_string()
            .starts_with("--collector.powersupply.ignored-supplies: bad regular expression"));
    }

    #[test]
    fn garbage_number_fails_and_missing_class_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            collect(dir.path(), "^$"),
            Err(CollectError::NoData(_))
        ));
        write_files(
            &dir.path().join("sys/class/power_supply/BAT1"),
            &[("capacity", "full\n")],
        );
        assert!(matches!(
            collect(dir.path(), "^$"),
            Err(CollectError::Other(_))
        ));
        // An empty class directory (a desktop or VM) is success without samples.
        fs::remove_dir_all(dir.path().join("sys/class/power_supply/BAT1")).unwrap();
        assert_eq!(collect(dir.path(), "^$").unwrap(), "");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let bat = dir.path().join("sys/class/power_supply/BAT0");
        fs::create_dir_all(&bat).unwrap();
        fs::write(bat.join("model_name"), b"5B10\xff\xfeW51\n").unwrap();
        let text = collect(dir.path(), "^$").unwrap();
        assert!(text.contains("model_name=\"5B10\u{FFFD}W51\""), "{text}");
    }
}
