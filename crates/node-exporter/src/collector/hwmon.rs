//! The `hwmon` collector: every sensor under `/sys/class/hwmon` (what lm-sensors shows), as
//! node_exporter's `node_hwmon_*` families.
//!
//! A chip is named, as upstream does, after the device it hangs off (`platform_coretemp_0`,
//! `pci0000:00_0000:00:18_3`), else its `name` file, else its `hwmonN` directory. Sensor files are
//! `<type><n>_<property>` (`temp1_input`, `fan2_min`, `in0_alarm`); values get upstream's units:
//! millidegrees, millivolts, milliamps and milliseconds are divided by 1000, microwatts,
//! microjoules and milli-percent humidity by 10^6, fan RPM stays as is.
//!
//! The bottom of this file holds small sysfs helpers that the other sysfs-class collectors
//! (thermal_zone, powersupplyclass, watchdog, dmi, fibrechannel) share.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::BothFilter;
use crate::sys::go::{go_parse_float, to_valid_utf8};
use crate::sys::read::sys_read_file;

/// Flags of the `hwmon` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    #[arg(
        long = "collector.hwmon.chip-include",
        value_name = "COLLECTOR.HWMON.CHIP-INCLUDE",
        help = "Regexp of hwmon chip to include (mutually exclusive to device-exclude)."
    )]
    pub chip_include: Option<String>,

    #[arg(
        long = "collector.hwmon.chip-exclude",
        value_name = "COLLECTOR.HWMON.CHIP-EXCLUDE",
        help = "Regexp of hwmon chip to exclude (mutually exclusive to device-include)."
    )]
    pub chip_exclude: Option<String>,

    #[arg(
        long = "collector.hwmon.sensor-include",
        value_name = "COLLECTOR.HWMON.SENSOR-INCLUDE",
        help = "Regexp of hwmon sensor to include (mutually exclusive to sensor-exclude)."
    )]
    pub sensor_include: Option<String>,

    #[arg(
        long = "collector.hwmon.sensor-exclude",
        value_name = "COLLECTOR.HWMON.SENSOR-EXCLUDE",
        help = "Regexp of hwmon sensor to exclude (mutually exclusive to sensor-include)."
    )]
    pub sensor_exclude: Option<String>,
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Hwmon {
        class_dir: paths.sys("class/hwmon"),
        chips: BothFilter::new(
            "collector.hwmon.chip",
            args.chip_include.as_deref(),
            args.chip_exclude.as_deref(),
        )?,
        sensors: BothFilter::new(
            "collector.hwmon.sensor",
            args.sensor_include.as_deref(),
            args.sensor_exclude.as_deref(),
        )?,
    }))
}

struct Hwmon {
    class_dir: PathBuf,
    chips: BothFilter,
    sensors: BothFilter,
}

/// The sensor types upstream reads; files of other types (`name`, `uevent`, ...) are skipped.
const SENSOR_TYPES: &[&str] = &[
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
    "freq",
];

/// Sensor (`temp1`) to property (`input`, `max`, `label`, `""` for a bare `pwm1`) to raw value.
type SensorData = BTreeMap<String, BTreeMap<String, String>>;

impl Collector for Hwmon {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let names = crate::sys::read::dir_names(&self.class_dir)
            .map_err(|e| CollectError::from_io(&self.class_dir, e))?;
        // The same series can only come twice from two chips resolving to one name; the Go
        // registry keeps the first and drops the rest, so do we.
        let mut seen = HashSet::new();
        let mut last_err = None;
        for name in names {
            let dir = self.class_dir.join(&name);
            // Entries are symlinks into /sys/devices; follow them and keep directories.
            match fs::metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                _ => continue,
            }
            if let Err(e) = self.update_chip(&dir, out, &mut seen) {
                tracing::debug!(dir = %dir.display(), err = %e, "hwmon chip failed");
                last_err = Some(e);
            }
        }
        match last_err {
            // Like upstream, one broken chip fails the collector (node_exporter still exposes
            // the other chips' samples; our framework cannot report both).
            Some(e) => Err(CollectError::Other(e)),
            None => Ok(()),
        }
    }
}

impl Hwmon {
    fn update_chip(
        &self,
        dir: &Path,
        out: &mut Exposition,
        seen: &mut HashSet<String>,
    ) -> anyhow::Result<()> {
        // The `name` file serves both the chip label fallback and node_hwmon_chip_names.
        let human = human_chip_name(dir);
        let chip = chip_name(dir, human.as_deref())?;
        if self.chips.ignored(&chip) {
            tracing::debug!(chip, "ignoring hwmon chip");
            return Ok(());
        }
        let mut data = SensorData::new();
        collect_sensor_data(dir, &mut data)?;
        let device = dir.join("device");
        if fs::metadata(&device).is_ok() {
            collect_sensor_data(&device, &mut data)?;
        }
        let mut emit = Emitter {
            out,
            seen,
            chip: &chip,
        };
        if let Some(human) = human {
            emit.sample(
                "node_hwmon_chip_names",
                "Annotation metric for human-readable chip names",
                MetricType::Gauge,
                &[("chip", &chip), ("chip_name", &human)],
                1.0,
            );
        }
        for (sensor, props) in &data {
            // Sensor filters see "<chip>;<sensor>", e.g. "platform_coretemp_0;temp3".
            if self.sensors.ignored(&format!("{chip};{sensor}")) {
                tracing::debug!(sensor, "ignoring sensor");
                continue;
            }
            emit_sensor(&mut emit, sensor, props);
        }
        Ok(())
    }
}

struct Emitter<'a> {
    out: &'a mut Exposition,
    seen: &'a mut HashSet<String>,
    chip: &'a str,
}

impl Emitter<'_> {
    fn sample(
        &mut self,
        name: &str,
        help: &str,
        kind: MetricType,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let mut key = String::with_capacity(64);
        key.push_str(name);
        for (_, v) in labels {
            key.push('\0');
            key.push_str(v);
        }
        if self.seen.insert(key) {
            self.out.family(name, help, kind).sample(labels, value);
        }
    }

    fn gauge(&mut self, name: &str, help: &str, sensor: &str, value: f64) {
        let chip = self.chip;
        self.sample(
            name,
            help,
            MetricType::Gauge,
            &[("chip", chip), ("sensor", sensor)],
            value,
        );
    }
}

/// The samples of one sensor, with upstream's names, help texts and units.
fn emit_sensor(emit: &mut Emitter<'_>, sensor: &str, props: &BTreeMap<String, String>) {
    let sensor_type = explode_sensor_filename(sensor)
        .map(|(t, _, _)| t)
        .unwrap_or_default();
    if let Some(label) = props.get("label") {
        let chip = emit.chip;
        emit.sample(
            "node_hwmon_sensor_label",
            "Label for given chip and sensor",
            MetricType::Gauge,
            &[("chip", chip), ("sensor", sensor), ("label", label)],
            1.0,
        );
    }
    let bare = props.get("");
    match sensor_type {
        "beep_enable" => {
            let on = if bare.map(String::as_str) == Some("1") {
                1.0
            } else {
                0.0
            };
            emit.gauge(
                "node_hwmon_beep_enabled",
                "Hardware beep enabled",
                sensor,
                on,
            );
            return;
        }
        "vrm" => {
            if let Some(v) = bare.and_then(|v| go_parse_float(v)) {
                emit.gauge(
                    "node_hwmon_voltage_regulator_version",
                    "Hardware voltage regulator",
                    sensor,
                    v,
                );
            }
            return;
        }
        "update_interval" => {
            if let Some(v) = bare.and_then(|v| go_parse_float(v)) {
                emit.gauge(
                    "node_hwmon_update_interval_seconds",
                    "Hardware monitor update interval",
                    sensor,
                    v * 0.001,
                );
            }
            return;
        }
        _ => {}
    }

    let prefix = format!("node_hwmon_{sensor_type}");
    for (element, value) in props {
        if element == "label" {
            continue;
        }
        let mut name = prefix.clone();
        if element == "input" {
            // `temp1_input` is the value; only when a bare `temp1` exists too does it get a
            // name of its own.
            if bare.is_some() {
                name.push_str("_input");
            }
        } else if !element.is_empty() {
            name.push('_');
            name.push_str(&clean_metric_name(element));
        }
        let Some(v) = go_parse_float(value) else {
            continue;
        };
        let el = element.as_str();
        let t = sensor_type;
        let (name, help, kind, v) = match (t, el) {
            (_, "fault" | "alarm") => (
                name,
                format!("Hardware sensor {el} status ({t})"),
                MetricType::Gauge,
                v,
            ),
            (_, "beep") => (
                name + "_enabled",
                "Hardware monitor sensor has beeping enabled".to_string(),
                MetricType::Gauge,
                v,
            ),
            ("in" | "cpu", _) => (
                name + "_volts",
                format!("Hardware monitor for voltage ({el})"),
                MetricType::Gauge,
                v * 0.001,
            ),
            ("temp", _) if el != "type" => {
                let shown = if el.is_empty() { "input" } else { el };
                (
                    name + "_celsius",
                    format!("Hardware monitor for temperature ({shown})"),
                    MetricType::Gauge,
                    v * 0.001,
                )
            }
            ("curr", _) => (
                name + "_amps",
                format!("Hardware monitor for current ({el})"),
                MetricType::Gauge,
                v * 0.001,
            ),
            ("energy", _) => (
                name + "_joule_total",
                format!("Hardware monitor for joules used so far ({el})"),
                MetricType::Counter,
                v / 1_000_000.0,
            ),
            ("power", "accuracy") => (
                name,
                "Hardware monitor power meter accuracy, as a ratio".to_string(),
                MetricType::Gauge,
                v / 1_000_000.0,
            ),
            ("power", "average_interval" | "average_interval_min" | "average_interval_max") => (
                name + "_seconds",
                format!("Hardware monitor power usage update interval ({el})"),
                MetricType::Gauge,
                v * 0.001,
            ),
            ("power", _) => (
                name + "_watt",
                format!("Hardware monitor for power usage in watts ({el})"),
                MetricType::Gauge,
                v / 1_000_000.0,
            ),
            ("humidity", _) => (
                name,
                format!("Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({el})"),
                MetricType::Gauge,
                v / 1_000_000.0,
            ),
            ("fan", "input" | "min" | "max" | "target") => (
                name + "_rpm",
                format!("Hardware monitor for fan revolutions per minute ({el})"),
                MetricType::Gauge,
                v,
            ),
            ("freq", "input") => {
                // GPU clocks (amdgpu `freq1_input` in Hz, `freq1_label` "sclk"): the cleaned
                // label *replaces* the sensor label, and only labelled clocks are exposed.
                if let Some(label) = props.get("label") {
                    let chip = emit.chip;
                    emit.sample(
                        &(name + "_freq_mhz"),
                        "Hardware monitor for GPU frequency in MHz",
                        MetricType::Gauge,
                        &[("chip", chip), ("sensor", &clean_metric_name(label))],
                        v / 1_000_000.0,
                    );
                }
                continue;
            }
            _ => (
                name,
                format!("Hardware monitor {t} element {el}"),
                MetricType::Gauge,
                v,
            ),
        };
        let chip = emit.chip;
        emit.sample(&name, &help, kind, &[("chip", chip), ("sensor", sensor)], v);
    }
}

/// Reads every sensor file of the known types in `dir` into `data` (later reads of the same
/// sensor property win, so `device/` overrides the class directory, as upstream).
fn collect_sensor_data(dir: &Path, data: &mut SensorData) -> io::Result<()> {
    for file in crate::sys::read::dir_names(dir)? {
        let Some((sensor_type, num, prop)) = explode_sensor_filename(&file) else {
            continue;
        };
        if !SENSOR_TYPES.contains(&sensor_type) {
            continue;
        }
        // Broken drivers return EAGAIN or EIO; directories (`power/`) fail with EISDIR. All are
        // skipped.
        let Ok(raw) = sys_read_file(&dir.join(&file)) else {
            continue;
        };
        let value = to_valid_utf8(&raw);
        data.entry(format!("{sensor_type}{num}"))
            .or_default()
            .insert(prop.to_string(), value.trim_matches('\n').to_string());
    }
    Ok(())
}

/// Splits `temp1_crit_alarm` into `("temp", 1, "crit_alarm")`, `pwm2` into `("pwm", 2, "")` and
/// `beep_enable` into `("beep_enable", 0, "")`: the longest non-digit type, its number, and the
/// property after `_`. Same results as upstream's regex `^([^0-9]+)([0-9]*)?(_(.+))?$`.
pub fn explode_sensor_filename(name: &str) -> Option<(&str, i64, &str)> {
    let first_digit = name
        .bytes()
        .position(|b| b.is_ascii_digit())
        .unwrap_or(name.len());
    if first_digit > 0 {
        let rest = &name[first_digit..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let after = &rest[digits..];
        let prop = match after.strip_prefix('_') {
            _ if after.is_empty() => Some(""),
            Some(p) if !p.is_empty() => Some(p),
            _ => None,
        };
        if let Some(prop) = prop {
            let num = if digits == 0 {
                0
            } else {
                rest[..digits].parse::<i64>().ok()?
            };
            return Some((&name[..first_digit], num, prop));
        }
    }
    // A shorter type: no number, the property starts at an underscore inside the type part.
    let bytes = name.as_bytes();
    (1..first_digit)
        .rev()
        .find(|&i| bytes[i] == b'_' && i + 1 < name.len())
        .map(|i| (&name[..i], 0, &name[i + 1..]))
}

/// Lower-cases and replaces everything but `[a-z0-9:_]` with `_`, then trims `_`.
pub fn clean_metric_name(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    replaced.trim_matches('_').to_string()
}

/// The chip label: `<parent dir>_<device>` of the resolved `device` link, else the `name` file,
/// else the `hwmonN` directory name.
fn chip_name(dir: &Path, human: Option<&str>) -> anyhow::Result<String> {
    if let Ok(dev) = fs::canonicalize(dir.join("device")) {
        let dev_name = clean_metric_name(&file_name_of(&dev));
        let dev_type = clean_metric_name(&dev.parent().map(file_name_of).unwrap_or_default());
        if !dev_type.is_empty() && !dev_name.is_empty() {
            return Ok(format!("{dev_type}_{dev_name}"));
        }
        if !dev_name.is_empty() {
            return Ok(dev_name);
        }
    }
    if let Some(name) = human {
        return Ok(name.to_string());
    }
    let real = fs::canonicalize(dir)?;
    let name = clean_metric_name(&file_name_of(&real));
    if name.is_empty() {
        anyhow::bail!("Could not derive a monitoring name for {}", dir.display());
    }
    Ok(name)
}

/// The cleaned `name` file (`coretemp`, `nct6779`, `amdgpu`), which several chips may share.
fn human_chip_name(dir: &Path) -> Option<String> {
    let raw = fs::read(dir.join("name")).ok()?;
    let name = clean_metric_name(&to_valid_utf8(&raw));
    (!name.is_empty()).then_some(name)
}

fn file_name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_files};
    use std::os::unix::fs::symlink;

    fn collect(root: &Path, args: &Args) -> Result<String, CollectError> {
        render(&*build(&paths_in(root), args).unwrap())
    }

    #[test]
    fn explodes_like_upstream_regex() {
        assert_eq!(
            explode_sensor_filename("temp1_input"),
            Some(("temp", 1, "input"))
        );
        assert_eq!(
            explode_sensor_filename("temp1_crit_alarm"),
            Some(("temp", 1, "crit_alarm"))
        );
        assert_eq!(explode_sensor_filename("pwm2"), Some(("pwm", 2, "")));
        assert_eq!(
            explode_sensor_filename("beep_enable"),
            Some(("beep_enable", 0, ""))
        );
        assert_eq!(
            explode_sensor_filename("update_interval"),
            Some(("update_interval", 0, ""))
        );
        assert_eq!(
            explode_sensor_filename("update_interval0"),
            Some(("update_interval", 0, ""))
        );
        assert_eq!(explode_sensor_filename("name"), Some(("name", 0, "")));
        assert_eq!(
            explode_sensor_filename("pwm1_auto_point1_pwm"),
            Some(("pwm", 1, "auto_point1_pwm"))
        );
        assert_eq!(
            explode_sensor_filename("temp01_max"),
            Some(("temp", 1, "max"))
        );
        // A number that is not followed by `_` or the end: the type shrinks to an underscore.
        assert_eq!(explode_sensor_filename("in_x1y"), Some(("in", 0, "x1y")));
        assert_eq!(explode_sensor_filename("temp1x"), None);
        assert_eq!(explode_sensor_filename("temp1_"), None);
        assert_eq!(explode_sensor_filename("1temp"), None);
        assert_eq!(explode_sensor_filename(""), None);
        assert_eq!(
            explode_sensor_filename("temp99999999999999999999_input"),
            None
        );
    }

    #[test]
    fn cleans_names() {
        assert_eq!(clean_metric_name("Core 0"), "core_0");
        assert_eq!(clean_metric_name("Physical id 0"), "physical_id_0");
        assert_eq!(clean_metric_name("coretemp\n"), "coretemp");
        assert_eq!(clean_metric_name("applesmc.768"), "applesmc_768");
        assert_eq!(clean_metric_name("0000:00:18.3"), "0000:00:18_3");
        assert_eq!(clean_metric_name("__"), "");
    }

    /// coretemp on an Intel desktop (Linux 6.x): the sensors live in the hwmon directory, which
    /// links to the platform device `coretemp.0`.
    fn coretemp(root: &Path) {
        let dev = root.join("sys/devices/platform/coretemp.0");
        let hw = dev.join("hwmon/hwmon1");
        write_files(
            &hw,
            &[
                ("name", "coretemp\n"),
                ("temp1_input", "55000\n"),
                ("temp1_label", "Package id 0\n"),
                ("temp1_crit", "100000\n"),
                ("temp1_crit_alarm", "0\n"),
                ("temp1_max", "84000\n"),
                ("temp2_input", "54000\n"),
                ("temp2_label", "Core 0\n"),
                ("uevent", ""),
            ],
        );
        fs::create_dir_all(hw.join("power")).unwrap();
        symlink(&dev, hw.join("device")).unwrap();
        fs::create_dir_all(root.join("sys/class/hwmon")).unwrap();
        symlink(&hw, root.join("sys/class/hwmon/hwmon1")).unwrap();
    }

    /// nct6775-family Super-I/O with fans, voltages, pwm and intrusion, as on an ASUS board;
    /// its `device` link resolves to `/sys/devices/platform/nct6775.656`.
    fn nct6779(root: &Path) {
        let dev = root.join("sys/devices/platform/nct6775.656");
        let hw = dev.join("hwmon/hwmon2");
        write_files(
            &hw,
            &[
                ("name", "nct6779\n"),
                ("in0_input", "792\n"),
                ("in0_min", "0\n"),
                ("in0_max", "1744\n"),
                ("in0_alarm", "0\n"),
                ("in0_beep", "0\n"),
                ("fan2_input", "1098\n"),
                ("fan2_min", "0\n"),
                ("fan2_alarm", "0\n"),
                ("fan2_pulses", "2\n"),
                ("fan2_target", "27000\n"),
                ("pwm1", "153\n"),
                ("pwm1_enable", "5\n"),
                ("intrusion0_alarm", "1\n"),
                ("beep_enable", "0\n"),
                ("cpu0_vid", "1100\n"),
                ("vrm", "10.0\n"),
                ("temp7_type", "4\n"),
            ],
        );
        symlink(&dev, hw.join("device")).unwrap();
        fs::create_dir_all(root.join("sys/class/hwmon")).unwrap();
        symlink(&hw, root.join("sys/class/hwmon/hwmon2")).unwrap();
    }

    #[test]
    fn coretemp_desktop() {
        let dir = tempfile::tempdir().unwrap();
        coretemp(dir.path());
        let text = collect(dir.path(), &Args::default()).unwrap();
        assert_eq!(
            text,
            "# HELP node_hwmon_chip_names Annotation metric for human-readable chip names
# TYPE node_hwmon_chip_names gauge
node_hwmon_chip_names{chip=\"platform_coretemp_0\",chip_name=\"coretemp\"} 1
# HELP node_hwmon_sensor_label Label for given chip and sensor
# TYPE node_hwmon_sensor_label gauge
node_hwmon_sensor_label{chip=\"platform_coretemp_0\",label=\"Core 0\",sensor=\"temp2\"} 1
node_hwmon_sensor_label{chip=\"platform_coretemp_0\",label=\"Package id 0\",sensor=\"temp1\"} 1
# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)
# TYPE node_hwmon_temp_celsius gauge
node_hwmon_temp_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 55
node_hwmon_temp_celsius{chip=\"platform_coretemp_0\",sensor=\"temp2\"} 54
# HELP node_hwmon_temp_crit_alarm_celsius Hardware monitor for temperature (crit_alarm)
# TYPE node_hwmon_temp_crit_alarm_celsius gauge
node_hwmon_temp_crit_alarm_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 0
# HELP node_hwmon_temp_crit_celsius Hardware monitor for temperature (crit)
# TYPE node_hwmon_temp_crit_celsius gauge
node_hwmon_temp_crit_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 100
# HELP node_hwmon_temp_max_celsius Hardware monitor for temperature (max)
# TYPE node_hwmon_temp_max_celsius gauge
node_hwmon_temp_max_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 84
"
        );
    }

    #[test]
    fn nct6779_with_fans() {
        let dir = tempfile::tempdir().unwrap();
        nct6779(dir.path());
        let text = collect(dir.path(), &Args::default()).unwrap();
        let c = "chip=\"platform_nct6775_656\"";
        for line in [
            format!("node_hwmon_chip_names{{{c},chip_name=\"nct6779\"}} 1"),
            format!("node_hwmon_in_volts{{{c},sensor=\"in0\"}} 0.792"),
            format!("node_hwmon_in_max_volts{{{c},sensor=\"in0\"}} 1.744"),
            format!("node_hwmon_in_min_volts{{{c},sensor=\"in0\"}} 0"),
            format!("node_hwmon_in_alarm{{{c},sensor=\"in0\"}} 0"),
            format!("node_hwmon_in_beep_enabled{{{c},sensor=\"in0\"}} 0"),
            format!("node_hwmon_fan_rpm{{{c},sensor=\"fan2\"}} 1098"),
            format!("node_hwmon_fan_min_rpm{{{c},sensor=\"fan2\"}} 0"),
            format!("node_hwmon_fan_target_rpm{{{c},sensor=\"fan2\"}} 27000"),
            format!("node_hwmon_fan_alarm{{{c},sensor=\"fan2\"}} 0"),
            format!("node_hwmon_fan_pulses{{{c},sensor=\"fan2\"}} 2"),
            format!("node_hwmon_pwm{{{c},sensor=\"pwm1\"}} 153"),
            format!("node_hwmon_pwm_enable{{{c},sensor=\"pwm1\"}} 5"),
            format!("node_hwmon_intrusion_alarm{{{c},sensor=\"intrusion0\"}} 1"),
            format!("node_hwmon_beep_enabled{{{c},sensor=\"beep_enable0\"}} 0"),
            format!("node_hwmon_cpu_vid_volts{{{c},sensor=\"cpu0\"}} 1.1"),
            format!("node_hwmon_voltage_regulator_version{{{c},sensor=\"vrm0\"}} 10"),
            format!("node_hwmon_temp_type{{{c},sensor=\"temp7\"}} 4"),
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "missing {line} in\n{text}"
            );
        }
        for help in [
            "# HELP node_hwmon_in_volts Hardware monitor for voltage (input)",
            "# HELP node_hwmon_in_alarm Hardware sensor alarm status (in)",
            "# HELP node_hwmon_in_beep_enabled Hardware monitor sensor has beeping enabled",
            "# HELP node_hwmon_fan_pulses Hardware monitor fan element pulses",
            "# HELP node_hwmon_pwm Hardware monitor pwm element \n",
            "# HELP node_hwmon_beep_enabled Hardware beep enabled",
            "# HELP node_hwmon_voltage_regulator_version Hardware voltage regulator",
            "# HELP node_hwmon_temp_type Hardware monitor temp element type",
        ] {
            assert!(text.contains(help), "missing {help:?} in\n{text}");
        }
    }

    /// An amdgpu card: power in microwatts, energy in microjoules, clocks in Hz with labels.
    #[test]
    fn amdgpu_power_energy_and_clocks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let dev = root.join("sys/devices/pci0000:00/0000:00:01.1/0000:0b:00.0");
        let hw = dev.join("hwmon/hwmon3");
        write_files(
            &hw,
            &[
                ("name", "amdgpu\n"),
                ("power1_average", "25000000\n"),
                ("power1_cap", "180000000\n"),
                ("power1_accuracy", "950000\n"),
                ("power1_average_interval", "1000\n"),
                ("energy1_input", "123456789\n"),
                ("curr1_input", "1500\n"),
                ("humidity1_input", "45500\n"),
                ("freq1_input", "1500000000\n"),
                ("freq1_label", "sclk\n"),
                ("freq2_input", "96000000\n"),
                ("update_interval", "500\n"),
            ],
        );
        symlink(&dev, hw.join("device")).unwrap();
        fs::create_dir_all(root.join("sys/class/hwmon")).unwrap();
        symlink(&hw, root.join("sys/class/hwmon/hwmon3")).unwrap();
        let text = collect(root, &Args::default()).unwrap();
        let c = "chip=\"0000:00:01_1_0000:0b:00_0\"";
        for line in [
            format!("node_hwmon_power_average_watt{{{c},sensor=\"power1\"}} 25"),
            format!("node_hwmon_power_cap_watt{{{c},sensor=\"power1\"}} 180"),
            format!("node_hwmon_power_accuracy{{{c},sensor=\"power1\"}} 0.95"),
            format!("node_hwmon_power_average_interval_seconds{{{c},sensor=\"power1\"}} 1"),
            format!("node_hwmon_energy_joule_total{{{c},sensor=\"energy1\"}} 123.456789"),
            format!("node_hwmon_curr_amps{{{c},sensor=\"curr1\"}} 1.5"),
            format!("node_hwmon_humidity{{{c},sensor=\"humidity1\"}} 0.0455"),
            format!("node_hwmon_freq_freq_mhz{{{c},sensor=\"sclk\"}} 1500"),
            format!("node_hwmon_update_interval_seconds{{{c},sensor=\"update_interval0\"}} 0.5"),
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "missing {line} in\n{text}"
            );
        }
        assert!(text.contains("# TYPE node_hwmon_energy_joule_total counter\n"));
        // An unlabelled clock is not exposed.
        assert!(!text.contains("freq2"), "{text}");
    }

    /// A chip without a device link (e.g. `acpitz`) is named after its `name` file; one without
    /// either after its directory.
    #[test]
    fn chip_naming_fallbacks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_files(
            &root.join("sys/class/hwmon/hwmon0"),
            &[("name", "acpitz\n"), ("temp1_input", "27800\n")],
        );
        write_files(
            &root.join("sys/class/hwmon/hwmon4"),
            &[("temp1_input", "55000\n"), ("temp1_label", "foosensor\n")],
        );
        write_files(&root.join("sys/class/hwmon/not_a_dir_parent"), &[]);
        fs::write(root.join("sys/class/hwmon/stray"), "x").unwrap();
        let text = collect(root, &Args::default()).unwrap();
        assert!(text.contains("node_hwmon_temp_celsius{chip=\"acpitz\",sensor=\"temp1\"} 27.8\n"));
        assert!(text.contains("node_hwmon_temp_celsius{chip=\"hwmon4\",sensor=\"temp1\"} 55\n"));
        assert!(text.contains("node_hwmon_chip_names{chip=\"acpitz\",chip_name=\"acpitz\"} 1\n"));
        assert!(!text.contains("chip_name=\"hwmon4\""));
    }

    #[test]
    fn chip_and_sensor_filters() {
        let dir = tempfile::tempdir().unwrap();
        coretemp(dir.path());
        nct6779(dir.path());
        let args = Args {
            chip_include: Some("^platform_coretemp".into()),
            ..Args::default()
        };
        let text = collect(dir.path(), &args).unwrap();
        assert!(text.contains("platform_coretemp_0") && !text.contains("nct"));
        let args = Args {
            chip_exclude: Some("coretemp".into()),
            ..Args::default()
        };
        let text = collect(dir.path(), &args).unwrap();
        assert!(!text.contains("platform_coretemp_0") && text.contains("nct6779"));
        // Sensor filters see "<chip>;<sensor>".
        let args = Args {
            sensor_exclude: Some("^platform_coretemp_0;temp1$".into()),
            ..Args::default()
        };
        let text = collect(dir.path(), &args).unwrap();
        assert!(!text.contains("sensor=\"temp1\""), "{text}");
        assert!(text.contains("sensor=\"temp2\""));
        // Both patterns apply, as upstream's deviceFilter: excluded even when included.
        let args = Args {
            sensor_include: Some("coretemp".into()),
            sensor_exclude: Some("temp2$".into()),
            ..Args::default()
        };
        let text = collect(dir.path(), &args).unwrap();
        assert!(text.contains("sensor=\"temp1\"") && !text.contains("sensor=\"temp2\""));
        assert!(!text.contains("node_hwmon_fan"));
        // A bad pattern is a usage error naming the flag.
        let bad = Args {
            chip_include: Some("(".into()),
            ..Args::default()
        };
        let e = build(&paths_in(dir.path()), &bad).err().unwrap();
        assert!(
            e.to_string().contains("--collector.hwmon.chip-include"),
            "{e}"
        );
    }

    #[test]
    fn missing_class_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            collect(dir.path(), &Args::default()),
            Err(CollectError::NoData(_))
        ));
    }

    #[test]
    fn device_directory_overrides() {
        // Old kernels (coretemp before 5.x) kept the sensor files in the device directory.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let dev = root.join("sys/devices/platform/coretemp.1");
        write_files(&dev, &[("temp1_input", "41000\n"), ("name", "coretemp\n")]);
        let hw = root.join("sys/class/hwmon/hwmon7");
        write_files(&hw, &[("temp1_input", "1\n")]);
        symlink(&dev, hw.join("device")).unwrap();
        let text = collect(root, &Args::default()).unwrap();
        assert!(text.contains(
            "node_hwmon_temp_celsius{chip=\"platform_coretemp_1\",sensor=\"temp1\"} 41\n"
        ));
    }
}
