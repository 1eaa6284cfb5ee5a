//! The `btrfs` collector: per-filesystem Btrfs statistics from `/sys/fs/btrfs/<uuid>`
//! (allocation per block group type and profile, global reserve, commit statistics, member
//! devices), as node_exporter 1.12 exposes them.
//!
//! Not done (yet): node_exporter also asks the filesystem through `BTRFS_IOC_FS_INFO`,
//! `BTRFS_IOC_DEV_INFO` and `BTRFS_IOC_GET_DEV_STATS` on each btrfs mount point, which adds the
//! `btrfs_dev_uuid` label to `node_btrfs_device_size_bytes` and the
//! `node_btrfs_device_unused_bytes` and `node_btrfs_device_errors_total` families. Upstream falls
//! back to the sysfs-only output below whenever those ioctls fail (e.g. when not permitted), and
//! so do we, always.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};

/// Flags of the `btrfs` collector (none upstream).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Btrfs {
        dir: paths.sys("fs/btrfs"),
    }))
}

struct Btrfs {
    dir: PathBuf,
}

/// Linux counts these sizes in 512-byte sectors whatever the device's block size.
const SECTOR: u64 = 512;

/// A file's trimmed content; a missing file is empty, as procfs' btrfs reader treats it.
fn text(path: &Path) -> Result<String, CollectError> {
    match crate::sys::read::trimmed(path) {
        Ok(s) => Ok(s),
        Err(e) if crate::sys::read::is_missing(&e) => Ok(String::new()),
        Err(e) => Err(CollectError::from_io(path, e)),
    }
}

/// A numeric file; missing or unparsable counts as 0 (procfs ignores the parse error).
fn number(path: &Path) -> Result<u64, CollectError> {
    Ok(text(path)?.parse().unwrap_or(0))
}

/// `commit_stats` (Linux 6.0+): `commits 70649\nlast_commit_ms 2\nmax_commit_ms 131\n...`.
pub fn parse_commit_stats(text: &str) -> CommitStats {
    let mut c = CommitStats::default();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        let Ok(v) = v.parse::<u64>() else { continue };
        match k {
            "commits" => c.commits = v,
            "last_commit_ms" => c.last_ms = v,
            "max_commit_ms" => c.max_ms = v,
            "total_commit_ms" => c.total_ms = v,
            _ => {}
        }
    }
    c
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CommitStats {
    pub commits: u64,
    pub last_ms: u64,
    pub max_ms: u64,
    pub total_ms: u64,
}

/// procfs' data allocation ratio of a profile, given the number of member devices.
pub fn allocation_ratio(profile: &str, devices: usize) -> f64 {
    let n = devices as f64;
    match profile {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid5" => n / (n - 1.0),
        "raid6" => n / (n - 2.0),
        _ => 0.0,
    }
}

impl Btrfs {
    fn filesystem(&self, out: &mut Exposition, name: &str) -> CollectResult {
        let dir = self.dir.join(name);
        let devices = crate::sys::read::dir_names(&dir.join("devices"))
            .map_err(|e| CollectError::from_io(&dir.join("devices"), e))?;
        let mut uuid = text(&dir.join("metadata_uuid"))?;
        if uuid.is_empty() {
            uuid = name.to_string();
        }
        let uuid = uuid.as_str();
        let label = text(&dir.join("label"))?;
        let commit = parse_commit_stats(&text(&dir.join("commit_stats"))?);
        let g = |out: &mut Exposition,
                 n: &str,
                 help: &str,
                 kind: MetricType,
                 labels: &[(&str, &str)],
                 v: f64| {
            out.family(&format!("node_btrfs_{n}"), help, kind)
                .sample(labels, v);
        };
        use MetricType::{Counter, Gauge};
        g(
            out,
            "info",
            "Filesystem information",
            Gauge,
            &[("uuid", uuid), ("label", &label)],
            1.0,
        );
        g(
            out,
            "global_rsv_size_bytes",
            "Size of global reserve.",
            Gauge,
            &[("uuid", uuid)],
            number(&dir.join("allocation/global_rsv_size"))? as f64,
        );
        g(
            out,
            "commits_total",
            "The total number of commits that have occurred.",
            Counter,
            &[("uuid", uuid)],
            commit.commits as f64,
        );
        g(
            out,
            "last_commit_seconds",
            "Duration of the most recent commit, in seconds.",
            Gauge,
            &[("uuid", uuid)],
            commit.last_ms as f64 / 1000.0,
        );
        g(
            out,
            "max_commit_seconds",
            "Duration of the slowest commit, in seconds.",
            Gauge,
            &[("uuid", uuid)],
            commit.max_ms as f64 / 1000.0,
        );
        g(
            out,
            "commit_seconds_total",
            "Sum of the duration of all commits, in seconds.",
            Counter,
            &[("uuid", uuid)],
            commit.total_ms as f64 / 1000.0,
        );

        for kind in ["data", "metadata", "system"] {
            let adir = dir.join("allocation").join(kind);
            g(
                out,
                "reserved_bytes",
                "Amount of space reserved for a data type",
                Gauge,
                &[("uuid", uuid), ("block_group_type", kind)],
                number(&adir.join("bytes_reserved"))? as f64,
            );
            // Every subdirectory is a profile (single, dup, raid1, ...).
            let Ok(entries) = std::fs::read_dir(&adir) else {
                continue;
            };
            let mut profiles: Vec<String> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            profiles.sort();
            for p in &profiles {
                let labels = [
                    ("uuid", uuid),
                    ("block_group_type", kind),
                    ("mode", p.as_str()),
                ];
                let pdir = adir.join(p);
                g(
                    out,
                    "used_bytes",
                    "Amount of used space by a layout/data type",
                    Gauge,
                    &labels,
                    number(&pdir.join("used_bytes"))? as f64,
                );
                g(
                    out,
                    "size_bytes",
                    "Amount of space allocated for a layout/data type",
                    Gauge,
                    &labels,
                    number(&pdir.join("total_bytes"))? as f64,
                );
                g(
                    out,
                    "allocation_ratio",
                    "Data allocation ratio for a layout/data type",
                    Gauge,
                    &labels,
                    allocation_ratio(p, devices.len()),
                );
            }
        }

        for dev in &devices {
            let size = number(&dir.join("devices").join(dev).join("size"))? * SECTOR;
            g(
                out,
                "device_size_bytes",
                "Size of a device that is part of the filesystem.",
                Gauge,
                &[("uuid", uuid), ("device", dev)],
                size as f64,
            );
        }
        Ok(())
    }
}

impl Collector for Btrfs {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        // Upstream globs /sys/fs/btrfs/*-*: no mounted btrfs (only `features`) is no output.
        let names: Vec<String> = crate::sys::read::dir_names(&self.dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n.contains('-'))
            .collect();
        for name in &names {
            self.filesystem(out, name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_file};
    use std::fs;

    /// Writes a sysfs attribute, ending in a newline as the kernel prints it.
    fn write(path: &Path, v: &str) {
        write_file(path, &format!("{v}\n"));
    }

    #[test]
    fn parses_commit_stats_and_ratios() {
        let c = parse_commit_stats(
            "commits 70649\nlast_commit_ms 2\nmax_commit_ms 131\ntotal_commit_ms 8458\n",
        );
        assert_eq!(
            c,
            CommitStats {
                commits: 70649,
                last_ms: 2,
                max_ms: 131,
                total_ms: 8458
            }
        );
        assert_eq!(allocation_ratio("raid1", 2), 2.0);
        assert_eq!(allocation_ratio("raid5", 4), 4.0 / 3.0);
        assert_eq!(allocation_ratio("raid1c3", 3), 0.0);
    }

    #[test]
    fn exposes_filesystem() {
        // /sys/fs/btrfs/<uuid> as Linux 6.x lays it out for a two-disk raid1 filesystem.
        let dir = tempfile::tempdir().unwrap();
        let fsdir = dir
            .path()
            .join("fs/btrfs/0abb23a9-579b-43e6-ad30-227ef47fcb9d");
        fs::create_dir_all(dir.path().join("fs/btrfs/features")).unwrap();
        write(&fsdir.join("label"), "fixture");
        write(
            &fsdir.join("metadata_uuid"),
            "0abb23a9-579b-43e6-ad30-227ef47fcb9d",
        );
        write(
            &fsdir.join("commit_stats"),
            "commits 258051\nlast_commit_ms 1000\nmax_commit_ms 51462\ntotal_commit_ms 47836090",
        );
        write(&fsdir.join("devices/loop25/size"), "20971520");
        write(&fsdir.join("devices/loop26/size"), "20971520");
        write(&fsdir.join("allocation/global_rsv_size"), "16777216");
        for (kind, reserved, used, total) in [
            ("data", "0", "808189952", "2147483648"),
            ("metadata", "0", "933888", "1073741824"),
            ("system", "0", "16384", "8388608"),
        ] {
            write(
                &fsdir.join(format!("allocation/{kind}/bytes_reserved")),
                reserved,
            );
            write(
                &fsdir.join(format!("allocation/{kind}/raid1/used_bytes")),
                used,
            );
            write(
                &fsdir.join(format!("allocation/{kind}/raid1/total_bytes")),
                total,
            );
        }
        let paths = sys_at(dir.path());
        let text = render(&*build(&paths, &Args::default()).unwrap()).unwrap();
        let u = "uuid=\"0abb23a9-579b-43e6-ad30-227ef47fcb9d\"";
        for line in [
            format!("# HELP node_btrfs_info Filesystem information\n# TYPE node_btrfs_info gauge\nnode_btrfs_info{{label=\"fixture\",{u}}} 1\n"),
            format!("node_btrfs_global_rsv_size_bytes{{{u}}} 1.6777216e+07\n"),
            format!("# TYPE node_btrfs_commits_total counter\nnode_btrfs_commits_total{{{u}}} 258051\n"),
            format!("node_btrfs_last_commit_seconds{{{u}}} 1\n"),
            format!("node_btrfs_max_commit_seconds{{{u}}} 51.462\n"),
            format!("node_btrfs_commit_seconds_total{{{u}}} 47836.09\n"),
            format!("node_btrfs_reserved_bytes{{block_group_type=\"data\",{u}}} 0\n"),
            format!("node_btrfs_used_bytes{{block_group_type=\"data\",mode=\"raid1\",{u}}} 8.08189952e+08\n"),
            format!("node_btrfs_size_bytes{{block_group_type=\"system\",mode=\"raid1\",{u}}} 8.388608e+06\n"),
            format!("node_btrfs_allocation_ratio{{block_group_type=\"metadata\",mode=\"raid1\",{u}}} 2\n"),
            format!("node_btrfs_device_size_bytes{{device=\"loop25\",{u}}} 1.073741824e+10\n"),
        ] {
            assert!(text.contains(&line), "missing {line}\n{text}");
        }
        assert!(!text.contains("features"));
    }

    #[test]
    fn no_btrfs_is_empty_success() {
        let dir = tempfile::tempdir().unwrap();
        let paths = sys_at(dir.path());
        let c = build(&paths, &Args::default()).unwrap();
        let mut out = Exposition::new();
        c.update(&mut out).unwrap();
        assert!(out.to_bytes().is_empty());
    }
}
