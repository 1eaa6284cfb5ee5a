//! The `schedstat` collector: per-CPU run time, run-queue wait time and timeslices from
//! `/proc/schedstat` (kernels built with CONFIG_SCHEDSTATS; without it: no data).
//!
//! A `cpuN` line holds nine numbers; the last three are the time spent running and waiting, in
//! nanoseconds since CFS (2.6.23) whatever the kernel docs say about jiffies, and the number of
//! timeslices run. The `domainN` lines are not exported.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Schedstat {
        path: paths.proc("schedstat"),
    }))
}

struct Schedstat {
    path: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CpuSchedstat<'a> {
    pub cpu: &'a str,
    pub running_ns: u64,
    pub waiting_ns: u64,
    pub timeslices: u64,
}

impl Collector for Schedstat {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let cpus = parse_schedstat(&text);
        let fam = out.family(
            "node_schedstat_running_seconds_total",
            "Number of seconds CPU spent running a process.",
            MetricType::Counter,
        );
        for c in &cpus {
            fam.sample(&[("cpu", c.cpu)], c.running_ns as f64 / 1e9);
        }
        let fam = out.family(
            "node_schedstat_waiting_seconds_total",
            "Number of seconds spent by processing waiting for this CPU.",
            MetricType::Counter,
        );
        for c in &cpus {
            fam.sample(&[("cpu", c.cpu)], c.waiting_ns as f64 / 1e9);
        }
        let fam = out.family(
            "node_schedstat_timeslices_total",
            "Number of timeslices executed by CPU.",
            MetricType::Counter,
        );
        for c in &cpus {
            fam.sample(&[("cpu", c.cpu)], c.timeslices as f64);
        }
        Ok(())
    }
}

/// The `cpuN` lines with all nine numbers; other and malformed lines are skipped.
pub fn parse_schedstat(text: &str) -> Vec<CpuSchedstat<'_>> {
    let mut cpus = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(cpu) = it.next().and_then(|t| t.strip_prefix("cpu")) else {
            continue;
        };
        if cpu.is_empty() || !cpu.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut v = [0u64; 9];
        let mut ok = true;
        for slot in v.iter_mut() {
            match it.next().map(str::parse::<u64>) {
                Some(Ok(n)) => *slot = n,
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            cpus.push(CpuSchedstat {
                cpu,
                running_ns: v[6],
                waiting_ns: v[7],
                timeslices: v[8],
            });
        }
    }
    cpus
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render};

    // Version 15 format, as on Linux 6.x with CONFIG_SCHEDSTATS.
    const SCHEDSTAT: &str = "version 15\ntimestamp 15819019232\n\
cpu0 498494191 0 3533438552 2553969831 3853684107 2465731542 2045936778163039 343796328169361 4767485306\n\
domain0 00000000,00000003 212499247 210112015 1861015 1860405436 536440 369895 32599 210079416 25368550 24241256 384652 927363878 807233 6366 1647 4\n\
cpu1 518377256 0 4155211005 2778589869 10466382 2867629021 1904686152592476 364107263788241 5145567945\n\
cpu2 1 2 3\n";

    #[test]
    fn parses() {
        let cpus = parse_schedstat(SCHEDSTAT);
        assert_eq!(
            cpus,
            vec![
                CpuSchedstat {
                    cpu: "0",
                    running_ns: 2045936778163039,
                    waiting_ns: 343796328169361,
                    timeslices: 4767485306
                },
                CpuSchedstat {
                    cpu: "1",
                    running_ns: 1904686152592476,
                    waiting_ns: 364107263788241,
                    timeslices: 5145567945
                },
            ]
        );
    }

    #[test]
    fn scrapes_and_missing_file_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let c = build(&proc_at(dir.path()), &Args::default()).unwrap();
        assert!(matches!(
            c.update(&mut Exposition::new()),
            Err(CollectError::NoData(_))
        ));
        std::fs::write(dir.path().join("schedstat"), SCHEDSTAT).unwrap();
        let text = render(&*c).unwrap();
        assert!(text.contains(
            "# HELP node_schedstat_running_seconds_total Number of seconds CPU spent running a process.\n\
             # TYPE node_schedstat_running_seconds_total counter\n\
             node_schedstat_running_seconds_total{cpu=\"0\"} 2.045936778163039e+06\n"
        ));
        assert!(text.contains("node_schedstat_waiting_seconds_total{cpu=\"1\"} 364107.263788241\n"));
        assert!(text.contains("node_schedstat_timeslices_total{cpu=\"1\"} 5.145567945e+09\n"));
    }
}
