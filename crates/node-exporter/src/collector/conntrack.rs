//! The `conntrack` collector: connection tracking table size, limit and per-CPU statistics
//! (`node_nf_conntrack_entries`, `_entries_limit`, `_stat_*`).
//!
//! node_exporter reads `/proc/sys/net/netfilter/nf_conntrack_count`, `nf_conntrack_max` and
//! `/proc/net/stat/nf_conntrack`. Every `/proc/sys` read is expensive (the sysctl machinery),
//! and the first column of each line of the stat file is the very same counter
//! (`nf_conntrack_count(net)`, printed once per CPU), so we read the stat file and the limit
//! only: two files instead of three, same values.
//!
//! Without conntrack loaded none of the files exist: no data. A kernel built without
//! `CONFIG_NF_CONNTRACK_PROCFS` has the sysctls but no stat file; there node_exporter exports
//! the count and the limit and then fails the collector. We export the two and succeed (this
//! framework keeps no partial output of a failed collector, and the table-full alert on
//! `entries / entries_limit` matters more than the success flag).

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

/// Flags of the `conntrack` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Conntrack {
        stat: paths.proc("net/stat/nf_conntrack"),
        count: paths.proc("sys/net/netfilter/nf_conntrack_count"),
        max: paths.proc("sys/net/netfilter/nf_conntrack_max"),
    }))
}

struct Conntrack {
    stat: PathBuf,
    count: PathBuf,
    max: PathBuf,
}

/// The stat file summed over CPUs.
#[derive(Debug, Default, PartialEq)]
pub struct ConntrackStat {
    pub entries: u64,
    pub found: u64,
    pub invalid: u64,
    pub ignore: u64,
    pub insert: u64,
    pub insert_failed: u64,
    pub drop: u64,
    pub early_drop: u64,
    pub search_restart: u64,
}

/// Parses `/proc/net/stat/nf_conntrack`: a header, then one line of hex counters per CPU
/// (`entries clashres found new invalid ignore delete chainlength insert insert_failed drop
/// early_drop icmp_error expect_new expect_create expect_delete search_restart`; before 2.6.35
/// without `search_restart`). The columns are taken by position, as node_exporter's procfs
/// library does.
pub fn parse_stat(text: &str) -> Result<ConntrackStat, String> {
    let mut s = ConntrackStat::default();
    for (i, line) in text.lines().skip(1).enumerate() {
        let cols: Vec<u64> = line
            .split_whitespace()
            .map(|c| u64::from_str_radix(c, 16))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("invalid conntrackstat entry {line:?}: {e}"))?;
        if cols.is_empty() {
            continue;
        }
        if cols.len() < 16 || cols.len() > 17 {
            return Err(format!(
                "invalid conntrackstat entry, invalid number of fields: {}",
                cols.len()
            ));
        }
        if i == 0 {
            s.entries = cols[0];
        }
        s.found += cols[2];
        s.invalid += cols[4];
        s.ignore += cols[5];
        s.insert += cols[8];
        s.insert_failed += cols[9];
        s.drop += cols[10];
        s.early_drop += cols[11];
        if cols.len() == 17 {
            s.search_restart += cols[16];
        }
    }
    Ok(s)
}

fn read_uint(path: &std::path::Path) -> Result<u64, CollectError> {
    let text = crate::sys::read::trimmed(path).map_err(|e| CollectError::from_io(path, e))?;
    text.parse().map_err(|e| {
        anyhow::anyhow!(
            "failed to retrieve conntrack stats: {}: {e}",
            path.display()
        )
        .into()
    })
}

impl Collector for Conntrack {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let stat = match crate::sys::read::string(&self.stat) {
            Ok(text) => Some(
                parse_stat(&text)
                    .map_err(|e| anyhow::anyhow!("failed to retrieve conntrack stats: {e}"))?,
            ),
            Err(e) if crate::sys::read::is_missing(&e) => None,
            Err(e) => return Err(CollectError::from_io(&self.stat, e)),
        };
        let entries = match &stat {
            Some(s) => s.entries,
            None => read_uint(&self.count)?,
        };
        let limit = read_uint(&self.max)?;
        let g = |out: &mut Exposition, name: &str, help: &str, v: u64| {
            out.gauge(name, help, &[], v as f64)
        };
        g(
            out,
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            entries,
        );
        g(
            out,
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            limit,
        );
        let Some(s) = stat else { return Ok(()) };
        for (name, help, v) in [
            ("found", "Number of searched entries which were successful.", s.found),
            ("invalid", "Number of packets seen which can not be tracked.", s.invalid),
            ("ignore", "Number of packets seen which are already connected to a conntrack entry.", s.ignore),
            ("insert", "Number of entries inserted into the list.", s.insert),
            ("insert_failed", "Number of entries for which list insertion was attempted but failed.", s.insert_failed),
            ("drop", "Number of packets dropped due to conntrack failure.", s.drop),
            ("early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.", s.early_drop),
            ("search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes.", s.search_restart),
        ] {
            g(out, &format!("node_nf_conntrack_stat_{name}"), help, v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // As on a 2-CPU Linux 6.x host with some traffic.
    const STAT: &str = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000021  00000000 00000001 00000000 00000002 00000003 00000000 00000000 00000004 00000005 00000006 00000007 00000000  00000000 00000000 00000000 00000008
00000021  00000000 00000010 00000000 00000020 00000030 00000000 00000000 00000040 00000050 00000060 00000070 00000000  00000000 00000000 00000000 00000080
";

    #[test]
    fn parses_stat() {
        let s = parse_stat(STAT).unwrap();
        assert_eq!(
            s,
            ConntrackStat {
                entries: 0x21,
                found: 0x11,
                invalid: 0x22,
                ignore: 0x33,
                insert: 0x44,
                insert_failed: 0x55,
                drop: 0x66,
                early_drop: 0x77,
                search_restart: 0x88,
            }
        );
        // 16 columns (Linux < 2.6.35): no search_restart.
        let old = "h\n00000001 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        assert_eq!(parse_stat(old).unwrap().search_restart, 0);
        assert!(parse_stat("h\n1 2 3\n").is_err());
        assert!(parse_stat("h\nzz 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n").is_err());
    }

    fn run(files: &[(&str, &str)]) -> Result<String, CollectError> {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), files);
        render(&*build(&proc_at(dir.path()), &Args {}).unwrap())
    }

    #[test]
    fn output_from_stat_and_max() {
        let text = run(&[
            ("net/stat/nf_conntrack", STAT),
            ("sys/net/netfilter/nf_conntrack_max", "262144\n"),
            // Not read when the stat file is there.
            ("sys/net/netfilter/nf_conntrack_count", "999\n"),
        ])
        .unwrap();
        for l in [
            "# HELP node_nf_conntrack_entries Number of currently allocated flow entries for connection tracking.\n# TYPE node_nf_conntrack_entries gauge\nnode_nf_conntrack_entries 33\n",
            "# HELP node_nf_conntrack_entries_limit Maximum size of connection tracking table.\n# TYPE node_nf_conntrack_entries_limit gauge\nnode_nf_conntrack_entries_limit 262144\n",
            "node_nf_conntrack_stat_found 17\n",
            "node_nf_conntrack_stat_early_drop 119\n",
            "# HELP node_nf_conntrack_stat_search_restart Number of conntrack table lookups which had to be restarted due to hashtable resizes.\n# TYPE node_nf_conntrack_stat_search_restart gauge\nnode_nf_conntrack_stat_search_restart 136\n",
        ] {
            assert!(text.contains(l), "missing {l:?} in\n{text}");
        }
        assert_eq!(text.matches("# TYPE").count(), 10);
    }

    #[test]
    fn without_stat_file_count_and_limit_from_sysctls() {
        let text = run(&[
            ("sys/net/netfilter/nf_conntrack_max", "65536\n"),
            ("sys/net/netfilter/nf_conntrack_count", "12\n"),
        ])
        .unwrap();
        assert!(text.contains("node_nf_conntrack_entries 12\n"));
        assert!(text.contains("node_nf_conntrack_entries_limit 65536\n"));
        assert!(!text.contains("stat_"));
    }

    #[test]
    fn not_loaded_is_no_data() {
        assert!(matches!(run(&[]), Err(CollectError::NoData(_))));
        assert!(matches!(
            run(&[("net/stat/nf_conntrack", STAT)]),
            Err(CollectError::NoData(_))
        ));
    }
}
