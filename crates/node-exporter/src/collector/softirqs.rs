//! The `softirqs` collector (default off, as upstream's `collector/softirqs_linux.go`): per CPU,
//! how often each softirq vector ran, from `/proc/softirqs`.

use exporter_core::cli::UsageError;
use exporter_core::text::MetricType;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Softirqs {
        path: paths.proc("softirqs"),
    }))
}

struct Softirqs {
    path: std::path::PathBuf,
}

/// The vectors upstream exports (procfs' `Softirqs` struct), with the `type` label it gives each.
/// A vector a future kernel adds is skipped, as procfs skips it.
const VECTORS: &[&str] = &[
    "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU",
];

impl Collector for Softirqs {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let rows =
            parse_softirqs(&text).map_err(|e| anyhow::anyhow!("couldn't get softirqs: {e}"))?;
        let fam = out.family(
            "node_softirqs_functions_total",
            "Softirq counts per CPU.",
            MetricType::Counter,
        );
        for (vector, counts) in &rows {
            for (cpu, n) in counts.iter().enumerate() {
                fam.sample(&[("cpu", &cpu.to_string()), ("type", vector)], *n as f64);
            }
        }
        Ok(())
    }
}

/// `/proc/softirqs`: a header of CPU names, then `NAME: count count ...` per vector. Only the
/// known vectors are kept; a row without a single count is skipped and a bad count fails the
/// file, as procfs' `parseSoftirqs`.
pub fn parse_softirqs(text: &str) -> Result<Vec<(&'static str, Vec<u64>)>, String> {
    let mut lines = text.lines();
    if lines.next().is_none() {
        return Err("softirqs empty".into());
    }
    let mut rows = Vec::new();
    for line in lines {
        let mut parts = line.split_whitespace();
        let Some(name) = parts.next().and_then(|n| n.strip_suffix(':')) else {
            continue;
        };
        let counts: Vec<&str> = parts.collect();
        if counts.is_empty() {
            continue;
        }
        let Some(vector) = VECTORS.iter().find(|v| **v == name) else {
            continue;
        };
        let counts = counts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.parse::<u64>()
                    .map_err(|e| format!("couldn't parse {c:?} ({name}{i}): {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        rows.push((*vector, counts));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // Recorded from /proc/softirqs on the fixture host (Debian 12, Linux 6.18.44, 2 vCPUs), 2026-12-07.
    const RECORDED: &str = include_str!("../../tests/fixtures/collectors/softirqs");

    #[test]
    fn parses_recorded() {
        let rows = parse_softirqs(RECORDED).unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r.0).collect();
        assert_eq!(names, VECTORS);
        assert!(rows.iter().all(|r| r.1.len() == 2));
    }

    #[test]
    fn skips_unknown_and_empty_rows_and_rejects_bad_counts() {
        let t = "      CPU0\n  HI:  1\n  NEW_ONE:  5\n  RCU:\n";
        assert_eq!(parse_softirqs(t).unwrap(), vec![("HI", vec![1])]);
        assert!(parse_softirqs("CPU0\nHI: x\n").is_err());
        assert!(parse_softirqs("").is_err());
    }

    #[test]
    fn exposes_per_cpu() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &[("softirqs", "  CPU0 CPU1\n  TIMER:  3  4\n")]);
        let text = render(build(&proc_at(dir.path()), &Args {}).unwrap().as_ref()).unwrap();
        assert!(text.contains("# TYPE node_softirqs_functions_total counter\n"));
        assert!(text.contains("node_softirqs_functions_total{cpu=\"1\",type=\"TIMER\"} 4\n"));
    }
}
