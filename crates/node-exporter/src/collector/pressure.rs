//! The `pressure` collector: pressure stall information from `/proc/pressure/{cpu,io,memory,irq}`
//! as `node_pressure_*_{waiting,stalled}_seconds_total` (the kernel counts microseconds).
//!
//! Kernels before 4.20 or without CONFIG_PSI have no `/proc/pressure`: no data. `irq` needs 6.1
//! (and CONFIG_IRQ_TIME_ACCOUNTING); without it the other three are still reported. With
//! CONFIG_PSI but `psi=0` on the command line, reads fail with EOPNOTSUPP: no data.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Pressure {
        dir: paths.proc("pressure"),
    }))
}

struct Pressure {
    dir: PathBuf,
}

/// The `total=` values of one pressure file, in microseconds.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Psi {
    pub some: Option<u64>,
    pub full: Option<u64>,
}

impl Collector for Pressure {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let mut found = 0;
        for (res, waiting, stalled) in RESOURCES {
            let path = self.dir.join(res);
            let text = match crate::sys::read::string(&path) {
                Ok(t) => t,
                Err(e) if crate::sys::read::is_missing(&e) => {
                    tracing::debug!(
                        resource = res,
                        "pressure information is unavailable for this kernel"
                    );
                    continue;
                }
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                    return Err(CollectError::NoData(
                        "pressure information is disabled, add psi=1 kernel command line to enable it".into(),
                    ));
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!(
                            "failed to retrieve pressure stats: {}",
                            path.display()
                        ))
                        .into())
                }
            };
            let psi = parse_psi(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            // irq has no "some" line, and cpu's "full" line (Linux 5.13+) is not exported: a
            // line is required exactly when it has a metric. Check both before writing either.
            let some = waiting
                .map(|d| psi.some.map(|v| (d, v)).ok_or_else(no_some))
                .transpose()?;
            let full = stalled
                .map(|d| psi.full.map(|v| (d, v)).ok_or_else(no_full))
                .transpose()?;
            for ((name, help), v) in some.into_iter().chain(full) {
                out.counter(name, help, &[], seconds(v));
            }
            found += 1;
        }
        if found == 0 {
            return Err(CollectError::NoData(
                "pressure information is unavailable, you need a Linux kernel >= 4.20 and/or CONFIG_PSI enabled".into(),
            ));
        }
        Ok(())
    }
}

type Desc = Option<(&'static str, &'static str)>;

/// Per resource file: the metric for its `some` line and for its `full` line.
const RESOURCES: [(&str, Desc, Desc); 4] = [
    (
        "cpu",
        Some((
            "node_pressure_cpu_waiting_seconds_total",
            "Total time in seconds that processes have waited for CPU time",
        )),
        None,
    ),
    (
        "io",
        Some((
            "node_pressure_io_waiting_seconds_total",
            "Total time in seconds that processes have waited due to IO congestion",
        )),
        Some((
            "node_pressure_io_stalled_seconds_total",
            "Total time in seconds no process could make progress due to IO congestion",
        )),
    ),
    (
        "memory",
        Some((
            "node_pressure_memory_waiting_seconds_total",
            "Total time in seconds that processes have waited for memory",
        )),
        Some((
            "node_pressure_memory_stalled_seconds_total",
            "Total time in seconds no process could make progress due to memory congestion",
        )),
    ),
    (
        "irq",
        None,
        Some((
            "node_pressure_irq_stalled_seconds_total",
            "Total time in seconds no process could make progress due to IRQ congestion",
        )),
    ),
];

fn no_some() -> CollectError {
    CollectError::NoData("pressure information returned no 'some' data".into())
}

fn no_full() -> CollectError {
    CollectError::NoData("pressure information returned no 'full' data".into())
}

/// Microseconds to seconds, divided in the same two steps as node_exporter so the floats agree.
fn seconds(us: u64) -> f64 {
    us as f64 / 1000.0 / 1000.0
}

/// Parses `some avg10=0.00 avg60=0.00 avg300=0.00 total=13088555` and the `full` line; lines
/// with other prefixes are ignored, as future kernels may add some.
pub fn parse_psi(text: &str) -> Result<Psi, String> {
    let mut psi = Psi::default();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let slot = match it.next() {
            Some("some") => &mut psi.some,
            Some("full") => &mut psi.full,
            _ => continue,
        };
        let total = it
            .find_map(|t| t.strip_prefix("total="))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("malformed PSI line {line:?}"))?;
        *slot = Some(total);
    }
    Ok(psi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    #[test]
    fn parses() {
        // As on Linux 6.18.
        let cpu = "some avg10=2.82 avg60=1.52 avg300=1.65 total=13088555\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(
            parse_psi(cpu),
            Ok(Psi {
                some: Some(13088555),
                full: Some(0)
            })
        );
        let irq = "full avg10=0.00 avg60=0.00 avg300=0.00 total=4711\n";
        assert_eq!(
            parse_psi(irq),
            Ok(Psi {
                some: None,
                full: Some(4711)
            })
        );
        assert!(parse_psi("some avg10=1 total=x\n").is_err());
        assert_eq!(parse_psi("future avg10=1\n"), Ok(Psi::default()));
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_files(&dir.path().join("pressure"), files);
        dir
    }

    fn scrape(dir: &tempfile::TempDir) -> Result<String, CollectError> {
        render(&*build(&proc_at(dir.path()), &Args::default()).unwrap())
    }

    const BOTH: &str = "some avg10=0.00 avg60=0.00 avg300=0.00 total=5147356\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=4901866\n";

    #[test]
    fn without_irq_as_on_older_kernels() {
        let dir = tree(&[
            (
                "cpu",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=13088555\n",
            ),
            ("io", BOTH),
            ("memory", BOTH),
        ]);
        let text = scrape(&dir).unwrap();
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        // 5147356 / 1000 / 1000 is 5.147355999999999 in float64, in Go as here.
        assert_eq!(
            samples,
            [
                "node_pressure_cpu_waiting_seconds_total 13.088555",
                "node_pressure_io_stalled_seconds_total 4.901866",
                "node_pressure_io_waiting_seconds_total 5.147355999999999",
                "node_pressure_memory_stalled_seconds_total 4.901866",
                "node_pressure_memory_waiting_seconds_total 5.147355999999999",
            ]
        );
        assert!(text.contains(
            "# HELP node_pressure_cpu_waiting_seconds_total Total time in seconds that processes have waited for CPU time\n\
             # TYPE node_pressure_cpu_waiting_seconds_total counter\n"
        ));
    }

    #[test]
    fn with_irq() {
        let dir = tree(&[
            ("cpu", BOTH),
            ("io", BOTH),
            ("memory", BOTH),
            (
                "irq",
                "full avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\n",
            ),
        ]);
        let text = scrape(&dir).unwrap();
        assert!(text.contains("node_pressure_irq_stalled_seconds_total 1.5\n"));
        assert!(!text.contains("cpu_stalled"));
    }

    #[test]
    fn missing_directory_or_lines_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(scrape(&dir), Err(CollectError::NoData(_))));
        let dir = tree(&[
            ("cpu", BOTH),
            ("io", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n"),
        ]);
        assert!(matches!(scrape(&dir), Err(CollectError::NoData(_))));
    }
}
