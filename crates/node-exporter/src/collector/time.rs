//! The `time` collector: the system clock (`node_time_seconds`), the local time zone's offset
//! (`node_time_zone_offset_seconds{time_zone}`) and the kernel's clocksources from
//! `/sys/devices/system/clocksource/clocksource*/{available,current}_clocksource`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    // Go reads TZ and /etc/localtime once, when the process starts. glibc's localtime_r loads
    // them on its first call and keeps them, so one call here does that load at start-up rather
    // than in the first scrape (what a tzset() would do, which the libc crate does not bind).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let _ = local_zone(now.as_secs() as i64);
    Ok(Box::new(Time {
        clocksource: paths.sys("devices/system/clocksource"),
    }))
}

struct Time {
    clocksource: PathBuf,
}

impl Collector for Time {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // As Go: float64(now.UnixNano()) / 1e9.
        let nanos = now.as_secs() as i64 * 1_000_000_000 + i64::from(now.subsec_nanos());
        out.gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            &[],
            nanos as f64 / 1e9,
        );
        let (zone, offset) = local_zone(now.as_secs() as i64);
        out.gauge(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            &[("time_zone", &zone)],
            offset as f64,
        );
        let sources = read_clocksources(&self.clocksource)
            .map_err(|e| anyhow::anyhow!("couldn't get clocksources: {e}"))?;
        for (i, (available, current)) in sources.iter().enumerate() {
            let device = i.to_string();
            let fam = out.family(
                "node_time_clocksource_available_info",
                "Available clocksources read from '/sys/devices/system/clocksource'.",
                MetricType::Gauge,
            );
            for cs in available {
                fam.sample(&[("device", &device), ("clocksource", cs)], 1.0);
            }
            out.gauge(
                "node_time_clocksource_current_info",
                "Current clocksource read from '/sys/devices/system/clocksource'.",
                &[("device", &device), ("clocksource", current)],
                1.0,
            );
        }
        Ok(())
    }
}

/// The abbreviation (`UTC`, `CEST`) and offset east of UTC of the local zone at `secs`.
fn local_zone(secs: i64) -> (String, i64) {
    let t = secs as libc::time_t;
    // SAFETY: tm is plain data, valid when zeroed; localtime_r fills it from `t` and writes
    // nothing else. tm_zone then points into libc's static zone data, valid for reading here.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return ("UTC".into(), 0);
        }
        let zone = if tm.tm_zone.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(tm.tm_zone)
                .to_string_lossy()
                .into_owned()
        };
        (zone, tm.tm_gmtoff)
    }
}

/// Per `clocksourceN` directory, in the order of their names (as Go's Glob sorts them): the
/// available clocksources and the current one. No directory at all is no clocksource.
fn read_clocksources(dir: &Path) -> std::io::Result<Vec<(Vec<String>, String)>> {
    let names = match crate::sys::read::dir_names(dir) {
        Ok(n) => n,
        Err(e) if crate::sys::read::is_missing(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names.iter().filter(|n| is_numbered(n, "clocksource")) {
        let base = dir.join(name);
        let available = crate::sys::read::trimmed(&base.join("available_clocksource"))?;
        let current = crate::sys::read::trimmed(&base.join("current_clocksource"))?;
        out.push((parse_available(&available), current));
    }
    Ok(out)
}

/// Whether the glob `<prefix>[0-9]*` matches `name`.
fn is_numbered(name: &str, prefix: &str) -> bool {
    crate::sys::read::glob_numbered(name, prefix).is_some()
}

/// `tsc kvm-clock acpi_pm ` into its names.
pub fn parse_available(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_files};

    #[test]
    fn parses_available() {
        assert_eq!(
            parse_available("tsc kvm-clock acpi_pm \n"),
            ["tsc", "kvm-clock", "acpi_pm"]
        );
        assert!(parse_available("\n").is_empty());
        assert!(is_numbered("clocksource0", "clocksource"));
        assert!(!is_numbered("clocksourcex", "clocksource"));
        assert!(!is_numbered("power", "clocksource"));
    }

    #[test]
    fn scrapes_a_fake_sysfs() {
        let dir = tempfile::tempdir().unwrap();
        let cs = dir.path().join("devices/system/clocksource");
        for (n, avail, cur) in [
            ("clocksource0", "tsc kvm-clock \n", "tsc\n"),
            ("clocksource1", "hpet\n", "hpet\n"),
        ] {
            write_files(
                &cs.join(n),
                &[
                    ("available_clocksource", avail),
                    ("current_clocksource", cur),
                ],
            );
        }
        std::fs::create_dir_all(cs.join("power")).unwrap();
        let text = render(&*build(&sys_at(dir.path()), &Args::default()).unwrap()).unwrap();
        assert!(text.contains(
            "# HELP node_time_clocksource_available_info Available clocksources read from '/sys/devices/system/clocksource'.\n\
             # TYPE node_time_clocksource_available_info gauge\n\
             node_time_clocksource_available_info{clocksource=\"hpet\",device=\"1\"} 1\n\
             node_time_clocksource_available_info{clocksource=\"kvm-clock\",device=\"0\"} 1\n\
             node_time_clocksource_available_info{clocksource=\"tsc\",device=\"0\"} 1\n"
        ));
        assert!(text
            .contains("node_time_clocksource_current_info{clocksource=\"hpet\",device=\"1\"} 1\n"));
        assert!(text.contains("# TYPE node_time_seconds gauge\nnode_time_seconds 1."));
        assert!(text.contains(
            "# HELP node_time_zone_offset_seconds System time zone offset in seconds.\n"
        ));
        assert!(text.contains("node_time_zone_offset_seconds{time_zone=\""));
    }

    #[test]
    fn no_clocksource_directory_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let paths = sys_at(dir.path());
        let mut out = Exposition::new();
        build(&paths, &Args::default())
            .unwrap()
            .update(&mut out)
            .unwrap();
        assert!(!out.contains("node_time_clocksource_current_info"));
        assert!(out.contains("node_time_seconds"));
    }
}
