//! The `zoneinfo` collector (off by default, as upstream): per NUMA node and memory zone, the
//! page counts and watermarks of `/proc/zoneinfo`, `node_zoneinfo_*{node,zone}`. As upstream's
//! `zoneinfo_linux.go` over procfs' `Zoneinfo`, including its quirks:
//!
//! - the node-wide counters (`per-node stats`) appear only in the first zone of each node, so
//!   only that zone has them;
//! - a field that does not parse as an integer is left out, not an error;
//! - `protection: (a, b, ...)` gives `node_zoneinfo_protection_<i>`, and is left out entirely
//!   when any of its values does not parse.

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::go::parse_go_int;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Zoneinfo {
        path: paths.proc("zoneinfo"),
    }))
}

struct Zoneinfo {
    path: std::path::PathBuf,
}

/// The keys procfs reads: `(key in /proc/zoneinfo, metric suffix, HELP, counter)`.
pub const FIELDS: [(&str, &str, &str, bool); 34] = [
    (
        "nr_free_pages",
        "nr_free_pages",
        "Total number of free pages in the zone",
        false,
    ),
    ("min", "min_pages", "Zone watermark pages_min", false),
    ("low", "low_pages", "Zone watermark pages_low", false),
    ("high", "high_pages", "Zone watermark pages_high", false),
    (
        "scanned",
        "scanned_pages",
        "Pages scanned since last reclaim",
        false,
    ),
    (
        "spanned",
        "spanned_pages",
        "Total pages spanned by the zone, including holes",
        false,
    ),
    (
        "present",
        "present_pages",
        "Physical pages existing within the zone",
        false,
    ),
    (
        "managed",
        "managed_pages",
        "Present pages managed by the buddy system",
        false,
    ),
    (
        "nr_active_anon",
        "nr_active_anon_pages",
        "Number of anonymous pages recently more used",
        false,
    ),
    (
        "nr_inactive_anon",
        "nr_inactive_anon_pages",
        "Number of anonymous pages recently less used",
        false,
    ),
    (
        "nr_isolated_anon",
        "nr_isolated_anon_pages",
        "Temporary isolated pages from anon lru",
        false,
    ),
    (
        "nr_anon_pages",
        "nr_anon_pages",
        "Number of anonymous pages currently used by the system",
        false,
    ),
    (
        "nr_anon_transparent_hugepages",
        "nr_anon_transparent_hugepages",
        "Number of anonymous transparent huge pages currently used by the system",
        false,
    ),
    (
        "nr_active_file",
        "nr_active_file_pages",
        "Number of active pages with file-backing",
        false,
    ),
    (
        "nr_inactive_file",
        "nr_inactive_file_pages",
        "Number of inactive pages with file-backing",
        false,
    ),
    (
        "nr_isolated_file",
        "nr_isolated_file_pages",
        "Temporary isolated pages from file lru",
        false,
    ),
    (
        "nr_file_pages",
        "nr_file_pages",
        "Number of file pages",
        false,
    ),
    (
        "nr_slab_reclaimable",
        "nr_slab_reclaimable_pages",
        "Number of reclaimable slab pages",
        false,
    ),
    (
        "nr_slab_unreclaimable",
        "nr_slab_unreclaimable_pages",
        "Number of unreclaimable slab pages",
        false,
    ),
    (
        "nr_mlock_stack",
        "nr_mlock_stack_pages",
        "mlock()ed pages found and moved off LRU",
        false,
    ),
    (
        "nr_kernel_stack",
        "nr_kernel_stacks",
        "Number of kernel stacks",
        false,
    ),
    (
        "nr_mapped",
        "nr_mapped_pages",
        "Number of mapped pages",
        false,
    ),
    ("nr_dirty", "nr_dirty_pages", "Number of dirty pages", false),
    (
        "nr_writeback",
        "nr_writeback_pages",
        "Number of writeback pages",
        false,
    ),
    (
        "nr_unevictable",
        "nr_unevictable_pages",
        "Number of unevictable pages",
        false,
    ),
    (
        "nr_shmem",
        "nr_shmem_pages",
        "Number of shmem pages (included tmpfs/GEM pages)",
        false,
    ),
    (
        "nr_dirtied",
        "nr_dirtied_total",
        "Page dirtyings since bootup",
        true,
    ),
    (
        "nr_written",
        "nr_written_total",
        "Page writings since bootup",
        true,
    ),
    (
        "numa_hit",
        "numa_hit_total",
        "Allocated in intended node",
        true,
    ),
    (
        "numa_miss",
        "numa_miss_total",
        "Allocated in non intended node",
        true,
    ),
    (
        "numa_foreign",
        "numa_foreign_total",
        "Was intended here, hit elsewhere",
        true,
    ),
    (
        "numa_interleave",
        "numa_interleave_total",
        "Interleaver preferred this zone",
        true,
    ),
    (
        "numa_local",
        "numa_local_total",
        "Allocation from local node",
        true,
    ),
    (
        "numa_other",
        "numa_other_total",
        "Allocation from other node",
        true,
    ),
];

impl Collector for Zoneinfo {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        for z in parse_zoneinfo(&text) {
            let labels = [("node", z.node.as_str()), ("zone", z.zone.as_str())];
            for (i, value) in z.values.iter().enumerate() {
                let Some(v) = value else { continue };
                let (_, suffix, help, counter) = FIELDS[i];
                let name = format!("node_zoneinfo_{suffix}");
                if counter {
                    out.counter(&name, help, &labels, *v as f64);
                } else {
                    out.gauge(&name, help, &labels, *v as f64);
                }
            }
            for (i, v) in z.protection.iter().enumerate() {
                out.gauge(
                    &format!("node_zoneinfo_protection_{i}"),
                    &format!("Protection array {i}. field"),
                    &labels,
                    *v as f64,
                );
            }
        }
        Ok(())
    }
}

/// One zone: its node, its name, the [`FIELDS`] values found (by index) and its protection
/// array.
#[derive(Debug, Default, PartialEq)]
pub struct Zone {
    pub node: String,
    pub zone: String,
    pub values: Vec<Option<i64>>,
    pub protection: Vec<i64>,
}

/// The zones of `/proc/zoneinfo`. Blocks start at each line beginning with `Node`; within a
/// block the last value of a key wins.
pub fn parse_zoneinfo(text: &str) -> Vec<Zone> {
    // procfs splits the file at "\nNode", so the first block is whatever precedes the second
    // "Node" line, even if the file does not start with one.
    let mut zones = Vec::new();
    for block in text.split("\nNode") {
        let mut z = Zone {
            values: vec![None; FIELDS.len()],
            ..Zone::default()
        };
        for line in block.split('\n') {
            if let Some((node, zone)) = node_zone(line) {
                z.node = node.to_string();
                z.zone = zone.to_string();
                continue;
            }
            let trimmed = line.trim();
            if trimmed.starts_with("per-node stats") {
                continue;
            }
            let parts: Vec<&str> = trimmed.split_whitespace().collect();
            if parts.len() < 2 {
                continue;
            }
            if parts[0] == "protection:" {
                if let Some(p) = parse_protection(line) {
                    z.protection = p;
                }
                continue;
            }
            if let Some(i) = FIELDS.iter().position(|f| f.0 == parts[0]) {
                z.values[i] = parse_go_int(parts[1]);
            }
        }
        zones.push(z);
    }
    zones
}

/// The `(\d+), zone\s+(\w+)` match in a line: `Node 0, zone   Normal` gives `("0", "Normal")`.
fn node_zone(line: &str) -> Option<(&str, &str)> {
    let idx = line.find(", zone")?;
    let digits_start = line[..idx]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let node = &line[digits_start..idx];
    let rest = &line[idx + ", zone".len()..];
    let name = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if node.is_empty() || name.len() == rest.len() {
        return None;
    }
    let end = name
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    (end > 0).then(|| (node, &name[..end]))
}

/// `        protection: (0, 3018, 19274)`: the values, or none if any does not parse.
fn parse_protection(line: &str) -> Option<Vec<i64>> {
    let inner = line.split(':').nth(1)?;
    let inner = inner.replacen('(', "", 1).replacen(')', "", 1);
    inner.trim().split(", ").map(parse_go_int).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // Shortened from Linux 6.18 (x86_64, one node).
    const ZONEINFO: &str = "Node 0, zone      DMA\n  per-node stats\n      nr_inactive_anon 899094\n\
      nr_dirtied   15542331\n  pages free     3840\n        boost    0\n        min      13\n\
        low      16\n        high     19\n        spanned  4095\n        present  3998\n\
        managed  3840\n        protection: (0, 3018, 19274, 19274, 19274)\n      nr_free_pages 3840\n\
      numa_hit     3\n  pagesets\n    cpu: 0\n              count: 0\n  node_unreclaimable:  0\n\
  start_pfn:           1\nNode 0, zone    DMA32\n  pages free     440000\n        min      2053\n\
        protection: (0, x, 1)\n      nr_free_pages 99999999999999999999\n      nr_free_pages 440000\n\
Node 0, zone   Normal\n        min      oops\n";

    #[test]
    fn parses_like_procfs() {
        let z = parse_zoneinfo(ZONEINFO);
        assert_eq!(z.len(), 3);
        let idx = |k: &str| FIELDS.iter().position(|f| f.0 == k).unwrap();
        assert_eq!((z[0].node.as_str(), z[0].zone.as_str()), ("0", "DMA"));
        assert_eq!(z[0].values[idx("nr_inactive_anon")], Some(899094));
        assert_eq!(z[0].values[idx("min")], Some(13));
        assert_eq!(z[0].values[idx("numa_hit")], Some(3));
        assert_eq!(z[0].protection, vec![0, 3018, 19274, 19274, 19274]);
        assert_eq!(z[1].zone, "DMA32");
        // The last line of a key wins; a bad protection array is dropped.
        assert_eq!(z[1].values[idx("nr_free_pages")], Some(440000));
        assert!(z[1].protection.is_empty());
        assert_eq!(z[1].values[idx("nr_inactive_anon")], None);
        // Unparsable: left out.
        assert_eq!(z[2].values[idx("min")], None);
        assert_eq!(parse_zoneinfo("").len(), 1);
        assert_eq!(node_zone("Node 12, zone Movable"), Some(("12", "Movable")));
        assert_eq!(node_zone("Node x, zone Movable"), None);
    }

    #[test]
    fn renders() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &[("zoneinfo", ZONEINFO)]);
        let text = render(&*build(&proc_at(dir.path()), &Args {}).unwrap()).unwrap();
        assert!(text.contains("# HELP node_zoneinfo_nr_dirtied_total Page dirtyings since bootup\n# TYPE node_zoneinfo_nr_dirtied_total counter\nnode_zoneinfo_nr_dirtied_total{node=\"0\",zone=\"DMA\"} 1.5542331e+07\n"), "{text}");
        assert!(text.contains("# HELP node_zoneinfo_protection_4 Protection array 4. field\n# TYPE node_zoneinfo_protection_4 gauge\nnode_zoneinfo_protection_4{node=\"0\",zone=\"DMA\"} 19274\n"));
        assert!(text.contains("node_zoneinfo_min_pages{node=\"0\",zone=\"DMA32\"} 2053\n"));
        assert!(!text.contains("zone=\"Normal\""));
    }
}
