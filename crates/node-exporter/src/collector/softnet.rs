//! The `softnet` collector: per-CPU packet processing statistics from `/proc/net/softnet_stat`.
//!
//! One line per online CPU, hexadecimal 32-bit columns. Their number grew with the kernel:
//! 9 (2.6.23: processed, dropped, time_squeeze, 5 unused, cpu_collision), 11 (4.17: + received_rps,
//! flow_limit_count), 13 (5.10: + backlog length, CPU index) and 15 (6.x: + input and process
//! queue lengths, not exported). Lines of other widths are skipped, as node_exporter does.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Softnet {
        path: paths.proc("net/softnet_stat"),
    }))
}

struct Softnet {
    path: PathBuf,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct SoftnetStat {
    pub cpu: u32,
    pub processed: u32,
    pub dropped: u32,
    pub time_squeezed: u32,
    pub cpu_collision: u32,
    pub received_rps: u32,
    pub flow_limit_count: u32,
    pub backlog_len: u32,
}

impl Collector for Softnet {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let stats = parse_softnet(&text)
            .map_err(|e| anyhow::anyhow!("could not get softnet statistics: {e}"))?;
        let cpus: Vec<String> = stats.iter().map(|s| s.cpu.to_string()).collect();
        type Field = fn(&SoftnetStat) -> u32;
        let families: [(&str, &str, MetricType, Field); 7] = [
            (
                "node_softnet_processed_total",
                "Number of processed packets",
                MetricType::Counter,
                |s| s.processed,
            ),
            (
                "node_softnet_dropped_total",
                "Number of dropped packets",
                MetricType::Counter,
                |s| s.dropped,
            ),
            (
                "node_softnet_times_squeezed_total",
                "Number of times processing packets ran out of quota",
                MetricType::Counter,
                |s| s.time_squeezed,
            ),
            (
                "node_softnet_cpu_collision_total",
                "Number of collision occur while obtaining device lock while transmitting",
                MetricType::Counter,
                |s| s.cpu_collision,
            ),
            (
                "node_softnet_received_rps_total",
                "Number of times cpu woken up received_rps",
                MetricType::Counter,
                |s| s.received_rps,
            ),
            (
                "node_softnet_flow_limit_count_total",
                "Number of times flow limit has been reached",
                MetricType::Counter,
                |s| s.flow_limit_count,
            ),
            (
                "node_softnet_backlog_len",
                "Softnet backlog status",
                MetricType::Gauge,
                |s| s.backlog_len,
            ),
        ];
        for (name, help, kind, field) in families {
            let fam = out.family(name, help, kind);
            for (s, cpu) in stats.iter().zip(&cpus) {
                fam.sample(&[("cpu", cpu)], f64::from(field(s)));
            }
        }
        Ok(())
    }
}

/// Parses the file. A line with fewer than 9 columns or a column that is not hexadecimal is an
/// error, as in node_exporter.
///
/// Before Linux 5.10 the lines carry no CPU index; node_exporter (procfs) then labels every line
/// `cpu="0"`, which makes duplicate series. We label them by line number instead, which is the
/// CPU number on hosts without offline CPUs.
pub fn parse_softnet(text: &str) -> Result<Vec<SoftnetStat>, String> {
    let mut stats = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 9 {
            return Err(format!(
                "{} columns were detected, but at least 9 were expected",
                cols.len()
            ));
        }
        let used = match cols.len() {
            9 => 9,
            11 => 11,
            n if n >= 13 => 13,
            _ => continue,
        };
        let mut v = [0u32; 13];
        for (slot, col) in v.iter_mut().zip(&cols[..used]) {
            *slot = u32::from_str_radix(col, 16).map_err(|e| format!("bad column {col:?}: {e}"))?;
        }
        stats.push(SoftnetStat {
            cpu: if used == 13 { v[12] } else { line_no as u32 },
            processed: v[0],
            dropped: v[1],
            time_squeezed: v[2],
            cpu_collision: v[8],
            received_rps: v[9],
            flow_limit_count: v[10],
            backlog_len: v[11],
        });
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_file};

    #[test]
    fn parses_linux_6_with_15_columns() {
        // As on Linux 6.18 (2 vCPUs).
        let text = "0000005d 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n\
                    00000be9 00000002 00000003 00000000 00000000 00000000 00000000 00000000 00000004 00000005 00000006 00000007 00000001 00000000 00000000\n";
        let s = parse_softnet(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            SoftnetStat {
                processed: 0x5d,
                ..Default::default()
            }
        );
        assert_eq!(
            s[1],
            SoftnetStat {
                cpu: 1,
                processed: 0xbe9,
                dropped: 2,
                time_squeezed: 3,
                cpu_collision: 4,
                received_rps: 5,
                flow_limit_count: 6,
                backlog_len: 7
            }
        );
    }

    #[test]
    fn older_widths() {
        // Linux 4.17 (11 columns): no index, so CPUs are numbered by line.
        let text = "00000010 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000003\n\
                    00000020 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n";
        let s = parse_softnet(text).unwrap();
        assert_eq!(
            (s[1].cpu, s[1].processed, s[0].flow_limit_count),
            (1, 0x20, 3)
        );
        // 2.6.23 (9 columns).
        let s = parse_softnet("00000001 00000002 00000003 0 0 0 0 0 00000004\n").unwrap();
        assert_eq!((s[0].processed, s[0].cpu_collision), (1, 4));
        // 10 or 12 columns are skipped; fewer than 9 or non-hex is an error.
        assert!(parse_softnet("1 2 3 4 5 6 7 8 9 a\n").unwrap().is_empty());
        assert!(parse_softnet("1 2 3\n").is_err());
        assert!(parse_softnet("1 2 3 4 5 6 7 8 zz\n").is_err());
    }

    #[test]
    fn scrapes() {
        let dir = tempfile::tempdir().unwrap();
        write_file(
            &dir.path().join("net/softnet_stat"),
            "00049279 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n",
        );
        let text = render(&*build(&proc_at(dir.path()), &Args::default()).unwrap()).unwrap();
        assert!(text.contains(
            "# HELP node_softnet_processed_total Number of processed packets\n\
             # TYPE node_softnet_processed_total counter\nnode_softnet_processed_total{cpu=\"0\"} 299641\n"
        ));
        assert!(text.contains(
            "# TYPE node_softnet_backlog_len gauge\nnode_softnet_backlog_len{cpu=\"0\"} 0\n"
        ));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 7);
    }
}
