//! The `zfs` collector: OpenZFS kstats from `/proc/spl/kstat/zfs` as node_exporter exposes them
//! on Linux: every 64-bit counter of `arcstats`, `zil`, `dmu_tx`, ... as an untyped
//! `node_zfs_<subsystem>_<name>` whose HELP is the kstat's dotted name, per pool the `io` kstat
//! (`node_zfs_zpool_*`), per dataset the `objset-*` kstats (`node_zfs_zpool_dataset_*`) and the
//! pool state (`node_zfs_zpool_state`).
//!
//! kstat files look like (module/os/linux/spl/spl-kstat.c):
//! ```text
//! 6 1 0x01 123 33456 5270138924 8473958223093
//! name                            type data
//! hits                            4    8772612
//! memory_available_bytes          3    -5664982784
//! ```
//! Type 4 is an unsigned and type 3 a signed 64-bit value (signed ones do go negative, as
//! `memory_available_bytes` does under memory pressure; node_exporter 1.9 fixed parsing them).

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};

/// Flags of the `zfs` collector (none upstream on Linux).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Zfs {
        base: paths.proc("spl/kstat/zfs"),
    }))
}

struct Zfs {
    base: PathBuf,
}

/// (metric subsystem, kstat file) as upstream's `linuxPathMap`.
const SUBSYSTEMS: [(&str, &str); 11] = [
    ("zfs_abd", "abdstats"),
    ("zfs_arc", "arcstats"),
    ("zfs_dbuf", "dbufstats"),
    ("zfs_dmu_tx", "dmu_tx"),
    ("zfs_dnode", "dnodestats"),
    ("zfs_fm", "fm"),
    ("zfs_vdev_cache", "vdev_cache_stats"),
    ("zfs_vdev_mirror", "vdev_mirror_stats"),
    ("zfs_xuio", "xuio_stats"),
    ("zfs_zfetch", "zfetchstats"),
    ("zfs_zil", "zil"),
];

/// The pool states node_exporter reports, one series each.
const POOL_STATES: [&str; 7] = [
    "online",
    "degraded",
    "faulted",
    "offline",
    "removed",
    "unavail",
    "suspended",
];

/// The named 64-bit values of a kstat file (after its `name type data` header). `None` when the
/// header is missing, which upstream reports as an error.
pub fn parse_kstat(text: &str) -> Option<Vec<(String, f64)>> {
    let mut out = Vec::new();
    for (line, f) in kstat_rows(text)? {
        let v = match f[1] {
            "4" => f[2].parse::<u64>().map(|v| v as f64).ok(),
            "3" => f[2].parse::<i64>().map(|v| v as f64).ok(),
            _ => continue,
        };
        match v {
            Some(v) => out.push((f[0].to_string(), v)),
            None => tracing::debug!(line, "could not parse expected integer value"),
        }
    }
    Some(out)
}

/// The rows after a kstat file's `name type data` header that have at least those three
/// fields, with their line; `None` when the header is missing.
fn kstat_rows(text: &str) -> Option<impl Iterator<Item = (&str, Vec<&str>)>> {
    let mut lines = text.lines();
    lines
        .by_ref()
        .find(|line| line.split_whitespace().eq(["name", "type", "data"]))?;
    Some(
        lines
            .map(|line| (line, line.split_whitespace().collect::<Vec<_>>()))
            .filter(|(_, f)| f.len() >= 3),
    )
}

/// A pool's `io` kstat (KSTAT_TYPE_IO): a header line of names starting with `nread`, then one
/// line of values.
pub fn parse_pool_io(text: &str) -> Vec<(String, f64)> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let names: Vec<&str> = line.split_whitespace().collect();
        if names.len() >= 12 && names[0] == "nread" {
            let Some(values) = lines.next() else { break };
            return names
                .iter()
                .zip(values.split_whitespace())
                .filter_map(|(n, v)| {
                    // Counters have been seen negative after kernel bugs (node_exporter #1158).
                    let v = v
                        .parse::<u64>()
                        .map(|v| v as f64)
                        .or_else(|_| v.parse::<i64>().map(|v| v as f64))
                        .ok()?;
                    Some((n.to_string(), v))
                })
                .collect();
        }
    }
    Vec::new()
}

/// A dataset's `objset-0x..` kstat: its name and unsigned counters.
pub fn parse_objset(text: &str) -> Option<(String, Vec<(String, f64)>)> {
    let mut dataset = None;
    let mut out = Vec::new();
    for (_, f) in kstat_rows(text)? {
        if f[0] == "dataset_name" {
            dataset = Some(f[2].to_string());
            continue;
        }
        if f[1] == "4" {
            if let Ok(v) = f[2].parse::<u64>() {
                out.push((f[0].to_string(), v as f64));
            }
        }
    }
    Some((dataset.unwrap_or_default(), out))
}

fn metric_name(kstat: &str) -> String {
    kstat.replace('-', "_")
}

impl Zfs {
    fn pool(&self, out: &mut Exposition, pool: &str) -> CollectResult {
        let dir = self.base.join(pool);
        // A pool being exported can lose its files between listing and reading: skip quietly.
        if let Ok(text) = crate::sys::read::string(&dir.join("io")) {
            for (name, v) in parse_pool_io(&text) {
                out.untyped(
                    &format!("node_zfs_zpool_{}", metric_name(&name)),
                    &format!("kstat.zfs.misc.io.{name}"),
                    &[("zpool", pool)],
                    v,
                );
            }
        }
        let mut objsets: Vec<String> = crate::sys::read::dir_names(&dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n.starts_with("objset-"))
            .collect();
        objsets.sort();
        for objset in &objsets {
            let path = dir.join(objset);
            let Ok(text) = crate::sys::read::string(&path) else {
                continue;
            };
            let Some((dataset, values)) = parse_objset(&text) else {
                return Err(anyhow::anyhow!(
                    "did not parse a single {pool} metric in {}",
                    path.display()
                )
                .into());
            };
            for (name, v) in values {
                out.untyped(
                    &format!("node_zfs_zpool_dataset_{}", metric_name(&name)),
                    &format!("kstat.zfs.misc.objset.{name}"),
                    &[("zpool", pool), ("dataset", &dataset)],
                    v,
                );
            }
        }
        if let Ok(text) = crate::sys::read::string(&dir.join("state")) {
            let actual = text.lines().next().unwrap_or("").trim().to_lowercase();
            for state in POOL_STATES {
                out.family(
                    "node_zfs_zpool_state",
                    "kstat.zfs.misc.state",
                    MetricType::Gauge,
                )
                .sample(
                    &[("zpool", pool), ("state", state)],
                    if actual == state { 1.0 } else { 0.0 },
                );
            }
        }
        Ok(())
    }
}

fn is_dir(p: &Path) -> bool {
    p.is_dir()
}

impl Collector for Zfs {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let entries = crate::sys::read::dir_names(&self.base)
            .map_err(|e| CollectError::from_io(&self.base, e))?;
        for (subsystem, file) in SUBSYSTEMS {
            let path = self.base.join(file);
            // Files come and go with ZFS versions and features: a missing one is fine.
            let Ok(text) = crate::sys::read::string(&path) else {
                continue;
            };
            let Some(values) = parse_kstat(&text) else {
                return Err(anyhow::anyhow!("did not parse a single {file:?} metric").into());
            };
            for (name, v) in values {
                out.untyped(
                    &format!("node_{subsystem}_{}", metric_name(&name)),
                    &format!("kstat.zfs.misc.{file}.{name}"),
                    &[],
                    v,
                );
            }
        }
        for pool in entries.iter().filter(|e| is_dir(&self.base.join(e))) {
            self.pool(out, pool)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_file};
    use std::fs;

    // Shapes as OpenZFS 2.x on Linux prints them.
    const ARCSTATS: &str = "13 1 0x01 123 33456 5270138924 8473958223093
name                            type data
hits                            4    8772612
misses                          4    604635
c_max                           4    33685504000
memory_available_bytes          3    -5664982784
arc_no_grow                     2    0
";

    #[test]
    fn parses_kstat_types() {
        let v = parse_kstat(ARCSTATS).unwrap();
        assert_eq!(
            v,
            vec![
                ("hits".to_string(), 8772612.0),
                ("misses".to_string(), 604635.0),
                ("c_max".to_string(), 33685504000.0),
                ("memory_available_bytes".to_string(), -5664982784.0),
            ]
        );
        assert!(parse_kstat("no header\nhits 4 1\n").is_none());
    }

    #[test]
    fn parses_pool_io_and_objset() {
        let io = parse_pool_io("12 3 0x00 1 80 2225326830828 32953476980628\nnread    nwritten reads    writes   wtime    wlentime wupdate  rtime    rlentime rupdate  wcnt     rcnt\n1884160  3206144  22       132      7155162  104112268 1 4 5 6 0        0\n");
        assert_eq!(io.len(), 12);
        assert_eq!(io[1], ("nwritten".to_string(), 3206144.0));
        let (ds, v) = parse_objset("49 1 0x01 7 2160 5214787391 74985931356512\nname                            type data\ndataset_name                    7    pool1/dataset1\nwrites                          4    4\nnwritten                        4    12302\n").unwrap();
        assert_eq!(ds, "pool1/dataset1");
        assert_eq!(
            v,
            vec![
                ("writes".to_string(), 4.0),
                ("nwritten".to_string(), 12302.0)
            ]
        );
    }

    #[test]
    fn exposes_kstats_pools_and_datasets() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("spl/kstat/zfs");
        fs::create_dir_all(base.join("pool1")).unwrap();
        fs::write(base.join("arcstats"), ARCSTATS).unwrap();
        fs::write(base.join("zil"), "7 1 0x01 13 624 4775476226 38217279394\nname                            type data\nzil_commit_count                4    10\nzil_itx-metaslab_normal_count   4    3\n").unwrap();
        fs::write(base.join("pool1/io"), "12 3 0x00 1 80 2225326830828 32953476980628\nnread    nwritten reads    writes   wtime    wlentime wupdate  rtime    rlentime rupdate  wcnt     rcnt\n1884160  3206144  22       132      7155162  104112268 1 4 5 6 0        0\n").unwrap();
        fs::write(base.join("pool1/objset-0x36"), "49 1 0x01 7 2160 5214787391 74985931356512\nname                            type data\ndataset_name                    7    pool1/dataset1\nwrites                          4    4\nnread                           4    28\n").unwrap();
        fs::write(base.join("pool1/state"), "ONLINE\n").unwrap();
        let paths = proc_at(dir.path());
        let c = build(&paths, &Args::default()).unwrap();
        let text = render(&*c).unwrap();
        for line in [
            "# HELP node_zfs_arc_hits kstat.zfs.misc.arcstats.hits\n# TYPE node_zfs_arc_hits untyped\nnode_zfs_arc_hits 8.772612e+06\n",
            "node_zfs_arc_memory_available_bytes -5.664982784e+09\n",
            "# HELP node_zfs_zil_zil_itx_metaslab_normal_count kstat.zfs.misc.zil.zil_itx-metaslab_normal_count\n",
            "node_zfs_zil_zil_commit_count 10\n",
            "# HELP node_zfs_zpool_nread kstat.zfs.misc.io.nread\n# TYPE node_zfs_zpool_nread untyped\nnode_zfs_zpool_nread{zpool=\"pool1\"} 1.88416e+06\n",
            "node_zfs_zpool_rcnt{zpool=\"pool1\"} 0\n",
            "# HELP node_zfs_zpool_dataset_nread kstat.zfs.misc.objset.nread\n# TYPE node_zfs_zpool_dataset_nread untyped\nnode_zfs_zpool_dataset_nread{dataset=\"pool1/dataset1\",zpool=\"pool1\"} 28\n",
            "# HELP node_zfs_zpool_state kstat.zfs.misc.state\n# TYPE node_zfs_zpool_state gauge\n",
            "node_zfs_zpool_state{state=\"online\",zpool=\"pool1\"} 1\n",
            "node_zfs_zpool_state{state=\"suspended\",zpool=\"pool1\"} 0\n",
        ] {
            assert!(text.contains(line), "missing {line}\n{text}");
        }
        assert_eq!(text.matches("node_zfs_zpool_state{").count(), 7);
        assert!(!text.contains("arc_no_grow"));
    }

    #[test]
    fn missing_zfs_is_no_data_and_bad_file_is_error() {
        let dir = tempfile::tempdir().unwrap();
        let paths = proc_at(dir.path());
        let c = build(&paths, &Args::default()).unwrap();
        let mut out = Exposition::new();
        assert!(matches!(c.update(&mut out), Err(CollectError::NoData(_))));
        write_file(&dir.path().join("spl/kstat/zfs/arcstats"), "garbage\n");
        assert!(c.update(&mut out).is_err());
    }
}
