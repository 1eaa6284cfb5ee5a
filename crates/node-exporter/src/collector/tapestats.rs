//! The `tapestats` collector: SCSI tape drive statistics from
//! `/sys/class/scsi_tape/st<N>/stats/*` (Documentation/scsi/st.rst). Only the `st<N>` names are
//! read; the `nst<N>` and mode variants (`st0a`, ...) are the same drive.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::Exposition;
use regex_lite::Regex;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::compile_regex;

/// Flags of the `tapestats` collector.
#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
pub struct Args {
    /// Regexp of devices to ignore for tapestats.
    #[arg(
        long = "collector.tapestats.ignored-devices",
        id = "collector.tapestats.ignored-devices",
        default_value = "^$",
        value_name = "REGEX"
    )]
    pub ignored_devices: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            ignored_devices: "^$".into(),
        }
    }
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let ignored = compile_regex("collector.tapestats.ignored-devices", &args.ignored_devices)?;
    Ok(Box::new(Tapestats {
        class: paths.sys("class/scsi_tape"),
        ignored,
    }))
}

struct Tapestats {
    class: PathBuf,
    ignored: Regex,
}

/// Whether a class entry is a tape drive's primary name, `st<digits>`.
pub fn is_tape_name(name: &str) -> bool {
    name.strip_prefix("st")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// (stats file, metric suffix, help, type is counter, scale)
const STATS: [(&str, &str, &str, bool, f64); 10] = [
    ("in_flight", "io_now", "The number of I/Os currently outstanding to this device.", false, 1.0),
    ("io_ns", "io_time_seconds_total", "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used.", true, 1e-9),
    ("other_cnt", "io_others_total", "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total", true, 1.0),
    ("read_byte_cnt", "read_bytes_total", "The number of bytes read from the tape drive.", true, 1.0),
    ("read_cnt", "reads_completed_total", "The number of read requests issued to the tape drive.", true, 1.0),
    ("read_ns", "read_time_seconds_total", "The amount of time spent waiting for read requests to complete.", true, 1e-9),
    // Upstream's HELP has the typo "thean"; kept.
    ("resid_cnt", "residual_total", "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape.", true, 1.0),
    ("write_byte_cnt", "written_bytes_total", "The number of bytes written to the tape drive.", true, 1.0),
    ("write_cnt", "writes_completed_total", "The number of write requests issued to the tape drive.", true, 1.0),
    ("write_ns", "write_time_seconds_total", "The amount of time spent waiting for write requests to complete.", true, 1e-9),
];

fn read_stats(dir: &Path) -> Result<[u64; 10], CollectError> {
    let mut values = [0u64; 10];
    for (i, (file, ..)) in STATS.iter().enumerate() {
        let p = dir.join(file);
        values[i] = match crate::sys::read::u64_value(&p) {
            Ok(v) => v,
            // An older kernel without one of the counters reports it as 0, as procfs does.
            Err(e) if crate::sys::read::is_missing(&e) => 0,
            Err(e) => return Err(CollectError::Other(anyhow::anyhow!("{}: {e}", p.display()))),
        };
    }
    Ok(values)
}

impl Collector for Tapestats {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let names = crate::sys::read::dir_names(&self.class)
            .map_err(|e| CollectError::from_io(&self.class, e))?;
        for name in names.iter().filter(|n| is_tape_name(n)) {
            if self.ignored.is_match(name) {
                tracing::debug!(device = %name, "Ignoring device");
                continue;
            }
            let values = read_stats(&self.class.join(name).join("stats"))?;
            for ((_, suffix, help, counter, scale), v) in STATS.iter().zip(values) {
                let metric = format!("node_tape_{suffix}");
                let labels = [("device", name.as_str())];
                if *counter {
                    out.counter(&metric, help, &labels, v as f64 * scale);
                } else {
                    out.gauge(&metric, help, &labels, v as f64 * scale);
                }
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
    fn tape_names() {
        assert!(is_tape_name("st0") && is_tape_name("st12"));
        assert!(!is_tape_name("nst0") && !is_tape_name("st0a") && !is_tape_name("st"));
    }

    #[test]
    fn exposes_tape_counters() {
        // /sys/class/scsi_tape as the st driver lays it out for one LTO drive (st0 with its
        // nst0/st0a.. aliases).
        let dir = tempfile::tempdir().unwrap();
        let class = dir.path().join("class/scsi_tape");
        for name in ["st0", "nst0", "st0a", "st1"] {
            let stats = class.join(name).join("stats");
            fs::create_dir_all(&stats).unwrap();
            for (i, (file, ..)) in STATS.iter().enumerate() {
                fs::write(stats.join(file), format!("{}\n", (i as u64 + 1) * 1000)).unwrap();
            }
        }
        // Go computes float64(ns) * 1e-9 too, so the same rounding shows.
        fs::write(class.join("st0/stats/io_ns"), "9950000000\n").unwrap();
        let paths = sys_at(dir.path());
        let args = Args {
            ignored_devices: "^st1$".into(),
        };
        let c = build(&paths, &args).unwrap();
        let text = render(&*c).unwrap();
        for line in [
            "# TYPE node_tape_io_now gauge\nnode_tape_io_now{device=\"st0\"} 1000\n",
            "# TYPE node_tape_io_time_seconds_total counter\nnode_tape_io_time_seconds_total{device=\"st0\"} 9.950000000000001\n",
            "node_tape_io_others_total{device=\"st0\"} 3000\n",
            "node_tape_read_bytes_total{device=\"st0\"} 4000\n",
            "node_tape_reads_completed_total{device=\"st0\"} 5000\n",
            "node_tape_read_time_seconds_total{device=\"st0\"} 6e-06\n",
            "node_tape_residual_total{device=\"st0\"} 7000\n",
            "node_tape_written_bytes_total{device=\"st0\"} 8000\n",
            "node_tape_writes_completed_total{device=\"st0\"} 9000\n",
            "node_tape_write_time_seconds_total{device=\"st0\"} 1e-05\n",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
        assert!(!text.contains("nst0") && !text.contains("st0a") && !text.contains("st1"));
        assert!(build(
            &paths,
            &Args {
                ignored_devices: "(".into()
            }
        )
        .is_err());
    }

    #[test]
    fn no_tape_class_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let paths = sys_at(dir.path());
        let c = build(&paths, &Args::default()).unwrap();
        let mut out = Exposition::new();
        assert!(matches!(c.update(&mut out), Err(CollectError::NoData(_))));
    }
}
