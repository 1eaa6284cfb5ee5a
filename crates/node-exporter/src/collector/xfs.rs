//! The `xfs` collector: per-filesystem XFS runtime statistics from
//! `/sys/fs/xfs/<device>/stats/stats` (the same counters as the global `/proc/fs/xfs/stat`, see
//! the XFS wiki's Runtime_Stats page). Like upstream only the per-device files are read, so each
//! series carries the `device` label; a host without mounted XFS exposes nothing.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

/// Flags of the `xfs` collector (none upstream).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Xfs {
        dir: paths.sys("fs/xfs"),
    }))
}

struct Xfs {
    dir: PathBuf,
}

/// (metric suffix, help, stats line, field index)
const METRICS: &[(&str, &str, &str, usize)] = &[
    ("extent_allocation_extents_allocated_total", "Number of extents allocated for a filesystem.", "extent_alloc", 0),
    ("extent_allocation_blocks_allocated_total", "Number of blocks allocated for a filesystem.", "extent_alloc", 1),
    ("extent_allocation_extents_freed_total", "Number of extents freed for a filesystem.", "extent_alloc", 2),
    ("extent_allocation_blocks_freed_total", "Number of blocks freed for a filesystem.", "extent_alloc", 3),
    ("allocation_btree_lookups_total", "Number of allocation B-tree lookups for a filesystem.", "abt", 0),
    ("allocation_btree_compares_total", "Number of allocation B-tree compares for a filesystem.", "abt", 1),
    ("allocation_btree_records_inserted_total", "Number of allocation B-tree records inserted for a filesystem.", "abt", 2),
    ("allocation_btree_records_deleted_total", "Number of allocation B-tree records deleted for a filesystem.", "abt", 3),
    ("block_mapping_reads_total", "Number of block map for read operations for a filesystem.", "blk_map", 0),
    ("block_mapping_writes_total", "Number of block map for write operations for a filesystem.", "blk_map", 1),
    ("block_mapping_unmaps_total", "Number of block unmaps (deletes) for a filesystem.", "blk_map", 2),
    ("block_mapping_extent_list_insertions_total", "Number of extent list insertions for a filesystem.", "blk_map", 3),
    ("block_mapping_extent_list_deletions_total", "Number of extent list deletions for a filesystem.", "blk_map", 4),
    ("block_mapping_extent_list_lookups_total", "Number of extent list lookups for a filesystem.", "blk_map", 5),
    ("block_mapping_extent_list_compares_total", "Number of extent list compares for a filesystem.", "blk_map", 6),
    ("block_map_btree_lookups_total", "Number of block map B-tree lookups for a filesystem.", "bmbt", 0),
    ("block_map_btree_compares_total", "Number of block map B-tree compares for a filesystem.", "bmbt", 1),
    ("block_map_btree_records_inserted_total", "Number of block map B-tree records inserted for a filesystem.", "bmbt", 2),
    ("block_map_btree_records_deleted_total", "Number of block map B-tree records deleted for a filesystem.", "bmbt", 3),
    ("directory_operation_lookup_total", "Number of file name directory lookups which miss the operating systems directory name lookup cache.", "dir", 0),
    ("directory_operation_create_total", "Number of times a new directory entry was created for a filesystem.", "dir", 1),
    // Upstream's HELP says "created" for removals too; kept word for word.
    ("directory_operation_remove_total", "Number of times an existing directory entry was created for a filesystem.", "dir", 2),
    ("directory_operation_getdents_total", "Number of times the directory getdents operation was performed for a filesystem.", "dir", 3),
    ("inode_operation_attempts_total", "Number of times the OS looked for an XFS inode in the inode cache.", "ig", 0),
    ("inode_operation_found_total", "Number of times the OS looked for and found an XFS inode in the inode cache.", "ig", 1),
    ("inode_operation_recycled_total", "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled.", "ig", 2),
    ("inode_operation_missed_total", "Number of times the OS looked for an XFS inode in the cache, but did not find it.", "ig", 3),
    ("inode_operation_duplicates_total", "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process.", "ig", 4),
    ("inode_operation_reclaims_total", "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose.", "ig", 5),
    ("inode_operation_attribute_changes_total", "Number of times the OS explicitly changed the attributes of an XFS inode.", "ig", 6),
    ("read_calls_total", "Number of read(2) system calls made to files in a filesystem.", "rw", 0),
    ("write_calls_total", "Number of write(2) system calls made to files in a filesystem.", "rw", 1),
    ("vnode_active_total", "Number of vnodes not on free lists for a filesystem.", "vnodes", 0),
    ("vnode_allocate_total", "Number of times vn_alloc called for a filesystem.", "vnodes", 1),
    ("vnode_get_total", "Number of times vn_get called for a filesystem.", "vnodes", 2),
    ("vnode_hold_total", "Number of times vn_hold called for a filesystem.", "vnodes", 3),
    ("vnode_release_total", "Number of times vn_rele called for a filesystem.", "vnodes", 4),
    ("vnode_reclaim_total", "Number of times vn_reclaim called for a filesystem.", "vnodes", 5),
    ("vnode_remove_total", "Number of times vn_remove called for a filesystem.", "vnodes", 6),
];

/// The field counts procfs insists on per line (vnodes: 7, or 8 with `vn_free`).
fn expected_fields(section: &str, n: usize) -> bool {
    match section {
        "extent_alloc" | "abt" | "bmbt" | "dir" => n == 4,
        "blk_map" | "ig" => n == 7,
        "rw" => n == 2,
        "vnodes" => n == 7 || n == 8,
        _ => true,
    }
}

/// The lines of an XFS stats file: `extent_alloc 92447 97589 92448 93751` -> name, values.
/// Lines with a wrong number of fields for a known section, or garbage, are dropped.
pub fn parse_xfs_stats(text: &str) -> Vec<(String, Vec<u64>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(name) = it.next() else { continue };
        let Ok(values) = it.map(str::parse::<u64>).collect::<Result<Vec<_>, _>>() else {
            tracing::debug!(line, "malformed XFS stats line");
            continue;
        };
        if !expected_fields(name, values.len()) {
            tracing::debug!(line, "unexpected number of fields in XFS stats line");
            continue;
        }
        out.push((name.to_string(), values));
    }
    out
}

impl Collector for Xfs {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        // Upstream globs /sys/fs/xfs/*/stats/stats: no XFS (or no module) is simply no output.
        let Ok(names) = crate::sys::read::dir_names(&self.dir) else {
            return Ok(());
        };
        for device in &names {
            let path = self.dir.join(device).join("stats/stats");
            let text = match crate::sys::read::string(&path) {
                Ok(t) => t,
                Err(e) if crate::sys::read::is_missing(&e) => continue,
                Err(e) => return Err(CollectError::from_io(&path, e)),
            };
            let stats = parse_xfs_stats(&text);
            for (suffix, help, section, idx) in METRICS {
                // A section the kernel did not print counts as zero, as procfs' zero values.
                let v = stats
                    .iter()
                    .find(|(n, _)| n == section)
                    .and_then(|(_, v)| v.get(*idx))
                    .copied()
                    .unwrap_or(0);
                out.counter(
                    &format!("node_xfs_{suffix}"),
                    help,
                    &[("device", device)],
                    v as f64,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_file};

    // /sys/fs/xfs/sda1/stats/stats as Linux 6.x prints it (trimmed of sections not exported).
    const STATS: &str = "extent_alloc 1 872 0 0
abt 0 0 0 0
blk_map 61 29 1 1 1 91 0
bmbt 0 0 0 0
dir 3 2 1 52
trans 4 40 0
ig 5 1 0 4 0 0 1
log 8 21 0 5821 4
push_ail 44 0 1156 463 0 0 0 0 0 0
xstrat 29 0
rw 28 2
attr 0 0 0 0
icluster 8 5 43
vnodes 4 0 0 0 3 3 3 0
buf 111 2 110 0 0 1 0 0 0
abtb2 184 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0
xpc 399724544 92823103 86219234
debug 0
";

    #[test]
    fn parses_and_checks_field_counts() {
        let s = parse_xfs_stats(
            "extent_alloc 1 2 3 4\nabt 1 2 3\nrw 5 6\nvnodes 1 2 3 4 5 6 7\nbad x y\n",
        );
        let names: Vec<_> = s.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["extent_alloc", "rw", "vnodes"]);
        assert_eq!(s[1].1, vec![5, 6]);
    }

    #[test]
    fn exposes_per_device_counters() {
        let dir = tempfile::tempdir().unwrap();
        let xfs = dir.path().join("fs/xfs");
        write_file(&xfs.join("sda1/stats/stats"), STATS);
        // The global stats directory has no per-device stats file and is not a device.
        write_file(&xfs.join("stats/stats"), STATS);
        let paths = sys_at(dir.path());
        let c = build(&paths, &Args::default()).unwrap();
        let text = render(&*c).unwrap();
        assert_eq!(text.matches("# TYPE node_xfs_").count(), METRICS.len());
        assert_eq!(text.matches("{device=\"sda1\"}").count(), METRICS.len());
        assert!(!text.contains("device=\"stats\""));
        for line in [
            "# HELP node_xfs_extent_allocation_blocks_allocated_total Number of blocks allocated for a filesystem.\n# TYPE node_xfs_extent_allocation_blocks_allocated_total counter\nnode_xfs_extent_allocation_blocks_allocated_total{device=\"sda1\"} 872\n",
            "node_xfs_block_mapping_extent_list_lookups_total{device=\"sda1\"} 91\n",
            "node_xfs_directory_operation_getdents_total{device=\"sda1\"} 52\n",
            "node_xfs_inode_operation_missed_total{device=\"sda1\"} 4\n",
            "node_xfs_inode_operation_attribute_changes_total{device=\"sda1\"} 1\n",
            "node_xfs_read_calls_total{device=\"sda1\"} 28\n",
            "node_xfs_write_calls_total{device=\"sda1\"} 2\n",
            "node_xfs_vnode_active_total{device=\"sda1\"} 4\n",
            "node_xfs_vnode_remove_total{device=\"sda1\"} 3\n",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn no_xfs_is_empty_success() {
        let dir = tempfile::tempdir().unwrap();
        let paths = sys_at(dir.path());
        let c = build(&paths, &Args::default()).unwrap();
        let mut out = Exposition::new();
        c.update(&mut out).unwrap();
        assert!(out.to_bytes().is_empty());
    }
}
