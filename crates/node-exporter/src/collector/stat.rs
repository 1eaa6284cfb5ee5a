//! The `stat` collector: boot time, context switches, forks, interrupts and process counts from
//! `/proc/stat`, plus per-vector softirq counts with `--collector.stat.softirq`.
//!
//! The `cpu` collector reads the same file for its own metrics; each reads it once per scrape,
//! as node_exporter does. This one skips the per-CPU lines and takes only the total from the
//! `intr` line, which on large hosts holds thousands of per-IRQ numbers.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Export softirq calls per vector
    #[arg(long = "collector.stat.softirq")]
    pub softirq: bool,
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Stat {
        path: paths.proc("stat"),
        softirq: args.softirq,
    }))
}

struct Stat {
    path: PathBuf,
    softirq: bool,
}

/// The softirq vectors in the order the kernel prints them on the `softirq` line.
pub const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

/// What this collector needs from `/proc/stat`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcStat {
    pub boot_time: f64,
    pub interrupts: f64,
    pub context_switches: f64,
    pub forks: f64,
    pub procs_running: f64,
    pub procs_blocked: f64,
    /// Per vector, in [`SOFTIRQ_VECTORS`] order; `None` without a full `softirq` line.
    pub softirq: Option<[f64; 10]>,
}

impl Collector for Stat {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let s = parse_stat(&text).map_err(|e| anyhow::anyhow!("{}: {e}", self.path.display()))?;
        out.counter(
            "node_intr_total",
            "Total number of interrupts serviced.",
            &[],
            s.interrupts,
        );
        out.counter(
            "node_context_switches_total",
            "Total number of context switches.",
            &[],
            s.context_switches,
        );
        out.counter("node_forks_total", "Total number of forks.", &[], s.forks);
        out.gauge(
            "node_boot_time_seconds",
            "Node boot time, in unixtime.",
            &[],
            s.boot_time,
        );
        out.gauge(
            "node_procs_running",
            "Number of processes in runnable state.",
            &[],
            s.procs_running,
        );
        out.gauge(
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            &[],
            s.procs_blocked,
        );
        if self.softirq {
            // node_exporter reports zeros when the kernel has no softirq line (pre-2.6.31).
            let values = s.softirq.unwrap_or([0.0; 10]);
            let fam = out.family(
                "node_softirqs_total",
                "Number of softirq calls.",
                exporter_core::MetricType::Counter,
            );
            for (name, v) in SOFTIRQ_VECTORS.iter().zip(values) {
                fam.sample(&[("vector", name)], v);
            }
        }
        Ok(())
    }
}

/// Parses the lines of `/proc/stat` this collector uses. A value that is not a number is an
/// error, as in node_exporter; unknown lines are ignored.
pub fn parse_stat(text: &str) -> Result<ProcStat, String> {
    let mut s = ProcStat::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(' ') else {
            continue;
        };
        let field = match key {
            "btime" => &mut s.boot_time,
            "intr" => &mut s.interrupts,
            "ctxt" => &mut s.context_switches,
            "processes" => &mut s.forks,
            "procs_running" => &mut s.procs_running,
            "procs_blocked" => &mut s.procs_blocked,
            "softirq" => {
                // `softirq <total> <hi> <timer> ...`
                let mut it = rest.split_whitespace().skip(1);
                let mut v = [0.0; 10];
                for slot in v.iter_mut() {
                    let tok = it
                        .next()
                        .ok_or_else(|| format!("short softirq line {line:?}"))?;
                    *slot = parse_u64(tok, key)?;
                }
                s.softirq = Some(v);
                continue;
            }
            _ => continue,
        };
        let first = rest
            .split_whitespace()
            .next()
            .ok_or_else(|| format!("no value in {line:?}"))?;
        *field = parse_u64(first, key)?;
    }
    Ok(s)
}

fn parse_u64(tok: &str, key: &str) -> Result<f64, String> {
    tok.parse::<u64>()
        .map(|v| v as f64)
        .map_err(|_| format!("couldn't parse {tok:?} ({key})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render};

    // Shaped like Linux 6.18 on a 2-vCPU guest (the intr line shortened).
    const STAT: &str = "cpu  13154 0 3582 114995 499 0 49 13 0 0\n\
cpu0 6302 0 1584 58171 77 0 11 5 0 0\n\
cpu1 6851 0 1998 56824 422 0 38 7 0 0\n\
intr 220682 0 0 14 0 0 132 80 0 23\n\
ctxt 390234\n\
btime 1795485869\n\
processes 12734\n\
procs_running 3\n\
procs_blocked 1\n\
softirq 129627 0 17381 4 2871 39500 0 86 30140 0 39645\n";

    #[test]
    fn parses() {
        let s = parse_stat(STAT).unwrap();
        assert_eq!(s.boot_time, 1795485869.0);
        assert_eq!(s.interrupts, 220682.0);
        assert_eq!(s.context_switches, 390234.0);
        assert_eq!(s.forks, 12734.0);
        assert_eq!(s.procs_running, 3.0);
        assert_eq!(s.procs_blocked, 1.0);
        assert_eq!(
            s.softirq,
            Some([0.0, 17381.0, 4.0, 2871.0, 39500.0, 0.0, 86.0, 30140.0, 0.0, 39645.0])
        );
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(parse_stat("ctxt abc\n").is_err());
        assert!(parse_stat("softirq 1 2 3\n").is_err());
        assert_eq!(parse_stat("\nweird\n").unwrap(), ProcStat::default());
    }

    fn scrape(softirq: bool) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stat"), STAT).unwrap();
        render(&*build(&proc_at(dir.path()), &Args { softirq }).unwrap()).unwrap()
    }

    #[test]
    fn softirq_flag() {
        let text = scrape(false);
        assert!(!text.contains("softirqs"));
        assert!(text.contains("# TYPE node_intr_total counter\nnode_intr_total 220682\n"));
        assert!(text.contains("node_boot_time_seconds 1.795485869e+09\n"));
        let text = scrape(true);
        assert!(text.contains(
            "# HELP node_softirqs_total Number of softirq calls.\n# TYPE node_softirqs_total counter\n\
             node_softirqs_total{vector=\"block\"} 39500\n"
        ));
        assert!(text.contains("node_softirqs_total{vector=\"rcu\"} 39645\n"));
        assert_eq!(text.matches("node_softirqs_total{").count(), 10);
    }

    #[test]
    fn flag_parses() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: Args,
        }
        assert!(!T::parse_from(["t"]).a.softirq);
        assert!(T::parse_from(["t", "--collector.stat.softirq"]).a.softirq);
    }
}
