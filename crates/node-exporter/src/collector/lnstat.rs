//! The `lnstat` collector (off by default, as upstream): the per-CPU network cache statistics of
//! `/proc/net/stat/*` (arp_cache, ndisc_cache, nf_conntrack, rt_cache, ...), each column as a
//! counter `node_lnstat_<column>_total{subsystem=<file>,cpu=<row>}`. As upstream's
//! `lnstat_linux.go` over procfs' `NetStat`: the values are hexadecimal, one row per possible
//! CPU, and a file that does not parse fails the collector.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Lnstat {
        dir: paths.proc("net/stat"),
    }))
}

struct Lnstat {
    dir: PathBuf,
}

impl Collector for Lnstat {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        // Upstream globs `net/stat/*`: a missing directory matches nothing, and nothing is
        // exported (success 1), as there.
        let names = match crate::sys::read::dir_names(&self.dir) {
            Ok(n) => n,
            Err(e) if crate::sys::read::is_missing(&e) => Vec::new(),
            Err(e) => return Err(CollectError::from_io(&self.dir, e)),
        };
        for name in names {
            let path = self.dir.join(&name);
            let text = crate::sys::read::string(&path)
                .map_err(|e| anyhow::anyhow!("lnstat error: {}: {e}", path.display()))?;
            let table = parse_lnstat(&text)
                .map_err(|e| anyhow::anyhow!("lnstat error: {}: {e}", path.display()))?;
            for (header, per_cpu) in &table {
                let metric = format!("node_lnstat_{header}_total");
                for (cpu, v) in per_cpu.iter().enumerate() {
                    out.counter(
                        &metric,
                        "linux network cache stats",
                        &[("subsystem", &name), ("cpu", &cpu.to_string())],
                        *v as f64,
                    );
                }
            }
        }
        Ok(())
    }
}

/// The columns of one `/proc/net/stat` file: the header line names them, each further line
/// holds one CPU's values in hexadecimal. Returns `(column, values by CPU)`.
pub fn parse_lnstat(text: &str) -> Result<Vec<(String, Vec<u64>)>, String> {
    let mut lines = text.lines();
    let mut table: Vec<(String, Vec<u64>)> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(|h| (h.to_string(), Vec::new()))
        .collect();
    for line in lines {
        for (i, field) in line.split_whitespace().enumerate() {
            let v =
                u64::from_str_radix(field, 16).map_err(|e| format!("parsing {field:?}: {e}"))?;
            // procfs would panic on a row longer than the header; we refuse the file.
            let (_, col) = table
                .get_mut(i)
                .ok_or_else(|| format!("more values than columns in {line:?}"))?;
            col.push(v);
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // As on Linux 6.18, 2 CPUs.
    const ARP: &str = "entries  allocs   destroys\n00000002 00000001 00000000\n00000002 0000001a ffffffffffffffff\n";

    #[test]
    fn parses_hex_per_cpu() {
        let t = parse_lnstat(ARP).unwrap();
        assert_eq!(t[0], ("entries".to_string(), vec![2, 2]));
        assert_eq!(t[1], ("allocs".to_string(), vec![1, 26]));
        assert_eq!(t[2].1[1], u64::MAX);
        assert_eq!(parse_lnstat("").unwrap(), vec![]);
        assert!(parse_lnstat("a\n1 2\n").is_err());
        assert!(parse_lnstat("a\nxyz\n").is_err());
        assert!(parse_lnstat("a\n10000000000000000\n").is_err());
    }

    #[test]
    fn renders() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[
                ("net/stat/arp_cache", ARP),
                ("net/stat/rt_cache", "entries\n00000005\n"),
            ],
        );
        let text = render(&*build(&proc_at(dir.path()), &Args {}).unwrap()).unwrap();
        assert!(text.contains(
            "# HELP node_lnstat_entries_total linux network cache stats\n# TYPE node_lnstat_entries_total counter\n\
node_lnstat_entries_total{cpu=\"0\",subsystem=\"arp_cache\"} 2\n\
node_lnstat_entries_total{cpu=\"0\",subsystem=\"rt_cache\"} 5\n\
node_lnstat_entries_total{cpu=\"1\",subsystem=\"arp_cache\"} 2\n"
        ), "{text}");
        // No directory: nothing, no error.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            render(&*build(&proc_at(empty.path()), &Args {}).unwrap()).unwrap(),
            ""
        );
    }
}
