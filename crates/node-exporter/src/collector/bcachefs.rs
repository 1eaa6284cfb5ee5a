//! The `bcachefs` collector (default on, as upstream's `collector/bcachefs_linux.go` with
//! prometheus/procfs' `bcachefs` package): per filesystem under `/sys/fs/bcachefs/<uuid>/`, its
//! btree cache, compression, error and btree-write statistics, every file of `counters/` as a
//! family of its own, and per member device (`dev-<n>/`) its geometry, IO and IO errors.
//!
//! bcachefs prints most sizes "human readable" (`1.5M`, `4.0k`): like procfs we read them as
//! binary multiples and truncate to whole bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::go::sanitize_metric_name;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Bcachefs {
        base: paths.sys("fs/bcachefs"),
    }))
}

struct Bcachefs {
    base: PathBuf,
}

#[derive(Debug, Default, PartialEq)]
pub struct FsStats {
    pub uuid: String,
    pub btree_cache_size: u64,
    /// algorithm -> (compressed, uncompressed) bytes.
    pub compression: BTreeMap<String, (u64, u64)>,
    /// error type -> count.
    pub errors: BTreeMap<String, u64>,
    /// counter file -> value since filesystem creation.
    pub counters: BTreeMap<String, u64>,
    /// write type -> (count, average size in bytes).
    pub btree_writes: BTreeMap<String, (u64, u64)>,
    pub devices: BTreeMap<String, DeviceStats>,
}

#[derive(Debug, Default, PartialEq)]
pub struct DeviceStats {
    pub label: String,
    pub state: String,
    pub bucket_size: u64,
    pub buckets: u64,
    pub durability: u64,
    /// operation (`read`, `write`) -> data type -> bytes.
    pub io_done: BTreeMap<String, BTreeMap<String, u64>>,
    /// error type -> count since filesystem creation.
    pub io_errors: BTreeMap<String, u64>,
}

impl Collector for Bcachefs {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let all = read_bcachefs(&self.base).map_err(|e| {
            if crate::sys::read::is_missing(&e) {
                CollectError::NoData(format!("{} does not exist", self.base.display()))
            } else {
                CollectError::Other(anyhow::anyhow!("failed to retrieve bcachefs stats: {e}"))
            }
        })?;
        if all.is_empty() {
            return Err(CollectError::NoData("no bcachefs filesystem".into()));
        }
        for s in &all {
            expose(s, out);
        }
        Ok(())
    }
}

fn expose(s: &FsStats, out: &mut Exposition) {
    let u = s.uuid.as_str();
    out.gauge(
        "node_bcachefs_info",
        "Filesystem information.",
        &[("uuid", u)],
        1.0,
    );
    out.gauge(
        "node_bcachefs_btree_cache_size_bytes",
        "Btree cache memory usage in bytes.",
        &[("uuid", u)],
        s.btree_cache_size as f64,
    );
    for (alg, (c, un)) in &s.compression {
        let l = [("uuid", u), ("algorithm", alg.as_str())];
        out.gauge(
            "node_bcachefs_compression_compressed_bytes",
            "Compressed size by algorithm.",
            &l,
            *c as f64,
        );
        out.gauge(
            "node_bcachefs_compression_uncompressed_bytes",
            "Uncompressed size by algorithm.",
            &l,
            *un as f64,
        );
    }
    for (t, n) in &s.errors {
        out.counter(
            "node_bcachefs_errors_total",
            "Error count by error type.",
            &[("uuid", u), ("error_type", t)],
            *n as f64,
        );
    }
    for (name, v) in &s.counters {
        out.counter(
            &format!("node_bcachefs_{}_total", sanitize_metric_name(name)),
            &format!("Bcachefs counter {name} since filesystem creation."),
            &[("uuid", u)],
            *v as f64,
        );
    }
    for (t, (n, size)) in &s.btree_writes {
        let l = [("uuid", u), ("type", t.as_str())];
        out.counter(
            "node_bcachefs_btree_writes_total",
            "Number of btree writes by type.",
            &l,
            *n as f64,
        );
        out.gauge(
            "node_bcachefs_btree_write_average_size_bytes",
            "Average btree write size by type.",
            &l,
            *size as f64,
        );
    }
    for (dev, d) in &s.devices {
        let l = [("uuid", u), ("device", dev.as_str())];
        out.gauge(
            "node_bcachefs_device_info",
            "Device information.",
            &[
                ("uuid", u),
                ("device", dev),
                ("label", &d.label),
                ("state", &d.state),
            ],
            1.0,
        );
        for (name, help, v) in [
            (
                "node_bcachefs_device_bucket_size_bytes",
                "Bucket size in bytes.",
                d.bucket_size,
            ),
            (
                "node_bcachefs_device_buckets",
                "Total number of buckets.",
                d.buckets,
            ),
            (
                "node_bcachefs_device_durability",
                "Device durability setting.",
                d.durability,
            ),
        ] {
            out.gauge(name, help, &l, v as f64);
        }
        let fam = out.family(
            "node_bcachefs_device_io_done_bytes_total",
            "IO bytes by operation type and data type.",
            MetricType::Counter,
        );
        for (op, types) in &d.io_done {
            for (dt, v) in types {
                fam.sample(
                    &[
                        ("uuid", u),
                        ("device", dev),
                        ("operation", op),
                        ("data_type", dt),
                    ],
                    *v as f64,
                );
            }
        }
        for (t, v) in &d.io_errors {
            out.counter(
                "node_bcachefs_device_io_errors_total",
                "IO errors by error type.",
                &[("uuid", u), ("device", dev), ("type", t)],
                *v as f64,
            );
        }
    }
}

fn invalid(path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("{}: {e}", path.display()),
    )
}

/// A file's content, or `None` when it does not exist (many files are optional, depending on
/// the kernel's bcachefs version); other errors fail.
fn optional(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if crate::sys::read::is_missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn dirs(path: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(path)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// Every filesystem below `base` (`/sys/fs/bcachefs`); an error of any fails them all, as in
/// procfs. The uuid directories and `dev-*` entries are sysfs directories, not symlinks.
pub fn read_bcachefs(base: &Path) -> std::io::Result<Vec<FsStats>> {
    dirs(base)?
        .into_iter()
        .map(|uuid| {
            let mut s = read_fs(&base.join(&uuid))?;
            s.uuid = uuid;
            Ok(s)
        })
        .collect()
}

fn read_fs(dir: &Path) -> std::io::Result<FsStats> {
    let mut s = FsStats::default();
    if let Some(t) = optional(&dir.join("btree_cache_size"))? {
        let t = t.trim();
        if !t.is_empty() {
            s.btree_cache_size =
                parse_human_bytes(t).ok_or_else(|| invalid(&dir.join("btree_cache_size"), t))?;
        }
    }
    let p = dir.join("compression_stats");
    if let Some(t) = optional(&p)? {
        s.compression = parse_compression_stats(&t).map_err(|e| invalid(&p, e))?;
    }
    let p = dir.join("errors");
    if let Some(t) = optional(&p)? {
        s.errors = parse_errors(&t).map_err(|e| invalid(&p, e))?;
    }
    let p = dir.join("counters");
    match std::fs::read_dir(&p) {
        Ok(rd) => {
            for e in rd {
                let e = e?;
                if e.file_type()?.is_dir() {
                    continue;
                }
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(t) = optional(&e.path())? {
                    let v = parse_counter(&t).map_err(|m| invalid(&e.path(), m))?;
                    s.counters.insert(name, v);
                } else {
                    s.counters.insert(name, 0);
                }
            }
        }
        Err(e) if crate::sys::read::is_missing(&e) => {}
        Err(e) => return Err(e),
    }
    let p = dir.join("btree_write_stats");
    if let Some(t) = optional(&p)? {
        s.btree_writes = parse_btree_write_stats(&t).map_err(|e| invalid(&p, e))?;
    }
    for entry in dirs(dir)? {
        let Some(dev) = entry.strip_prefix("dev-") else {
            continue;
        };
        s.devices
            .insert(dev.to_string(), read_device(&dir.join(&entry))?);
    }
    Ok(s)
}

fn read_device(dir: &Path) -> std::io::Result<DeviceStats> {
    // label and state: any read failure reads as empty, as procfs' readSysfsFile.
    let text = |n: &str| {
        std::fs::read_to_string(dir.join(n))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let uint = |n: &str| -> std::io::Result<u64> {
        let p = dir.join(n);
        match optional(&p)? {
            None => Ok(0),
            Some(t) => t.trim().parse().map_err(|e| invalid(&p, e)),
        }
    };
    let mut d = DeviceStats {
        label: text("label"),
        state: text("state"),
        ..DeviceStats::default()
    };
    let bs = text("bucket_size");
    if !bs.is_empty() {
        d.bucket_size =
            parse_human_bytes(&bs).ok_or_else(|| invalid(&dir.join("bucket_size"), &bs))?;
    }
    d.buckets = uint("nbuckets")?;
    d.durability = uint("durability")?;
    let p = dir.join("io_done");
    if let Some(t) = optional(&p)? {
        d.io_done = parse_io_done(&t).map_err(|e| invalid(&p, e))?;
    }
    let p = dir.join("io_errors");
    if let Some(t) = optional(&p)? {
        d.io_errors = parse_io_errors(&t).map_err(|e| invalid(&p, e))?;
    }
    Ok(d)
}

/// `4.0k`, `1.5M`, `512`: binary multiples k..E (either case), truncated to whole bytes.
pub fn parse_human_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let last = s.chars().last()?;
    let (num, mult) = match last.to_ascii_lowercase() {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        't' => (&s[..s.len() - 1], 1 << 40),
        'p' => (&s[..s.len() - 1], 1 << 50),
        'e' => (&s[..s.len() - 1], 1 << 60),
        _ => (s, 1),
    };
    let v: f64 = crate::sys::go::go_parse_float(num.trim())?;
    Some((v * mult as f64) as u64)
}

/// `compression_stats`: a header, then `algorithm: compressed uncompressed [average extent]`.
pub fn parse_compression_stats(t: &str) -> Result<BTreeMap<String, (u64, u64)>, String> {
    let mut out = BTreeMap::new();
    for line in t.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let h = |s: &str| parse_human_bytes(s).ok_or_else(|| format!("bad size {s:?}"));
        if f.len() >= 4 {
            h(f[3])?;
        }
        out.insert(f[0].trim_end_matches(':').to_string(), (h(f[1])?, h(f[2])?));
    }
    Ok(out)
}

/// `errors`: `name count [timestamp]` per line.
pub fn parse_errors(t: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    for line in t.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 2 {
            continue;
        }
        let n = f[1].parse().map_err(|e| format!("{line:?}: {e}"))?;
        if f.len() >= 3 {
            f[2].parse::<u64>().map_err(|e| format!("{line:?}: {e}"))?;
        }
        out.insert(f[0].to_string(), n);
    }
    Ok(out)
}

/// A `counters/<name>` file: `since mount: N` and `since filesystem creation: N` lines; the
/// latter is exported (0 when only the former is there).
pub fn parse_counter(t: &str) -> Result<u64, String> {
    let (mut creation, mut seen) = (0, false);
    for line in t.lines() {
        if let Some(v) = line.strip_prefix("since mount:") {
            parse_human_bytes(v).ok_or_else(|| format!("bad value {v:?}"))?;
            seen = true;
        } else if let Some(v) = line.strip_prefix("since filesystem creation:") {
            creation = parse_human_bytes(v).ok_or_else(|| format!("bad value {v:?}"))?;
            seen = true;
        }
    }
    if !seen {
        return Err("counter file format not recognized".into());
    }
    Ok(creation)
}

/// `btree_write_stats`: a header, then `type: count average-size`.
pub fn parse_btree_write_stats(t: &str) -> Result<BTreeMap<String, (u64, u64)>, String> {
    let mut out = BTreeMap::new();
    for line in t.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        let n = f[1].parse().map_err(|e| format!("{line:?}: {e}"))?;
        let size = parse_human_bytes(f[2]).ok_or_else(|| format!("bad size {:?}", f[2]))?;
        out.insert(f[0].trim_end_matches(':').to_string(), (n, size));
    }
    Ok(out)
}

/// `dev-N/io_done`: `read:` and `write:` sections of `data type : bytes` lines.
pub fn parse_io_done(t: &str) -> Result<BTreeMap<String, BTreeMap<String, u64>>, String> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut op: Option<String> = None;
    for line in t.lines().map(str::trim) {
        if line == "read:" || line == "write:" {
            let o = line.trim_end_matches(':').to_string();
            out.entry(o.clone()).or_default();
            op = Some(o);
            continue;
        }
        let (Some(op), Some((k, v))) = (&op, line.split_once(':')) else {
            continue;
        };
        let v = v.trim().parse().map_err(|e| format!("{line:?}: {e}"))?;
        out.entry(op.clone())
            .or_default()
            .insert(k.trim().to_string(), v);
    }
    Ok(out)
}

/// `dev-N/io_errors`: the "IO errors since filesystem creation" section's `type: count` lines
/// (the section "since mount" is not exported; procfs stops at the first other section).
pub fn parse_io_errors(t: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in t.lines() {
        if line.starts_with("IO errors since filesystem creation") {
            inside = true;
            continue;
        }
        if line.starts_with("IO errors since ") {
            break;
        }
        if !inside {
            continue;
        }
        let Some((k, v)) = line.trim().split_once(':') else {
            continue;
        };
        let v = v.trim().parse().map_err(|e| format!("{line:?}: {e}"))?;
        out.insert(k.trim().to_string(), v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at};

    /// Hand-made: the recording host has no bcachefs. The tree under
    /// tests/fixtures/collectors/bcachefs follows the files bcachefs (Linux 6.7+) writes below
    /// /sys/fs/bcachefs/<uuid>/ and prometheus/procfs' parser expects.
    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/collectors/bcachefs/sys")
    }

    #[test]
    fn human_bytes() {
        assert_eq!(parse_human_bytes("512"), Some(512));
        assert_eq!(parse_human_bytes("4.0k"), Some(4096));
        assert_eq!(parse_human_bytes("1.5M"), Some(1572864));
        assert_eq!(parse_human_bytes("x"), None);
        assert_eq!(parse_human_bytes(""), None);
    }

    #[test]
    fn sections() {
        let io = parse_io_errors(
            "IO errors since filesystem creation\n  read:    3\n  write:   0\nIO errors since mount\n  read: 1\n",
        )
        .unwrap();
        assert_eq!(io.get("read"), Some(&3));
        assert_eq!(io.len(), 2);
        assert_eq!(
            parse_counter("since mount: 2\nsince filesystem creation: 1.0k\n"),
            Ok(1024)
        );
        assert!(parse_counter("nonsense\n").is_err());
    }

    #[test]
    fn fixture_tree() {
        let c = build(&sys_at(&fixture()), &Args {}).unwrap();
        let text = render(c.as_ref()).unwrap();
        let want = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/collectors/bcachefs/expected.prom"),
        )
        .unwrap();
        assert_eq!(text, want, "got:\n{text}");
    }

    #[test]
    fn no_bcachefs_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let c = build(&sys_at(dir.path()), &Args {}).unwrap();
        assert!(matches!(render(c.as_ref()), Err(CollectError::NoData(_))));
    }
}
