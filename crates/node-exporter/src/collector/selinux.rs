//! The `selinux` collector: `node_selinux_enabled`, and when SELinux is on, the configured and
//! current enforcement modes and the AVC cache statistics.
//!
//! Upstream asks go-selinux, which looks at the selinuxfs mount (`/sys/fs/selinux`, writable,
//! and the process label is not `kernel`), `<selinuxfs>/enforce` and `/etc/selinux/config`, and
//! reads the AVC files below `--path.sysfs`. We read all of it through the configured roots
//! (`--path.sysfs` for selinuxfs, `--path.rootfs` for the config), which is the same on a host
//! and right in a container that mounts the host at `/host`.

use std::fs;
use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::go::parse_go_u64;

/// Flags of the `selinux` collector (none).
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Selinux {
        selinuxfs: paths.sys("fs/selinux"),
        config: paths.root("etc/selinux/config"),
        current_label: paths.proc("thread-self/attr/current"),
    }))
}

struct Selinux {
    selinuxfs: PathBuf,
    config: PathBuf,
    current_label: PathBuf,
}

impl Collector for Selinux {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let enabled_help = "SELinux is enabled, 1 is true, 0 is false";
        if !self.enabled() {
            out.gauge("node_selinux_enabled", enabled_help, &[], 0.0);
            return Ok(());
        }
        // Read everything before adding samples: a failure drops the whole collector output.
        let config_mode = match fs::read_to_string(&self.config) {
            Ok(text) => parse_config_mode(&text),
            Err(_) => -1,
        };
        let current_mode = fs::read_to_string(self.selinuxfs.join("enforce"))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(-1);
        let cache_path = self.selinuxfs.join("avc/cache_stats");
        let cache =
            fs::read_to_string(&cache_path).map_err(|e| CollectError::from_io(&cache_path, e))?;
        let cache = parse_cache_stats(&cache).map_err(anyhow::Error::msg)?;
        let hash_path = self.selinuxfs.join("avc/hash_stats");
        let hash =
            fs::read_to_string(&hash_path).map_err(|e| CollectError::from_io(&hash_path, e))?;
        let hash = parse_hash_stats(&hash).map_err(anyhow::Error::msg)?;
        let threshold_path = self.selinuxfs.join("avc/cache_threshold");
        let threshold = fs::read_to_string(&threshold_path)
            .map_err(|e| CollectError::from_io(&threshold_path, e))?;
        let threshold = parse_go_u64(&threshold).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: invalid value {:?}",
                threshold_path.display(),
                threshold.trim()
            )
        })?;

        out.gauge("node_selinux_enabled", enabled_help, &[], 1.0);
        out.gauge(
            "node_selinux_config_mode",
            "Configured SELinux enforcement mode",
            &[],
            config_mode as f64,
        );
        out.gauge(
            "node_selinux_current_mode",
            "Current SELinux enforcement mode",
            &[],
            current_mode as f64,
        );
        for (name, help, value) in [
            (
                "node_selinux_avc_lookups_total",
                "SELinux AVC lookups",
                cache.lookups,
            ),
            (
                "node_selinux_avc_hits_total",
                "SELinux AVC hits",
                cache.hits,
            ),
            (
                "node_selinux_avc_misses_total",
                "SELinux AVC misses",
                cache.misses,
            ),
            (
                "node_selinux_avc_allocations_total",
                "SELinux AVC allocations",
                cache.allocations,
            ),
            (
                "node_selinux_avc_reclaims_total",
                "SELinux AVC reclaims",
                cache.reclaims,
            ),
            (
                "node_selinux_avc_frees_total",
                "SELinux AVC frees",
                cache.frees,
            ),
        ] {
            out.family(name, help, MetricType::Counter)
                .sample(&[], value as f64);
        }
        for (name, help, value) in [
            (
                "node_selinux_avc_hash_entries",
                "SELinux AVC hash entries",
                hash.entries,
            ),
            (
                "node_selinux_avc_hash_buckets_available",
                "SELinux AVC hash buckets available",
                hash.buckets_available,
            ),
            (
                "node_selinux_avc_hash_buckets_used",
                "SELinux AVC hash buckets used",
                hash.buckets_used,
            ),
            (
                "node_selinux_avc_hash_longest_chain",
                "SELinux AVC hash longest chain",
                hash.longest_chain,
            ),
            (
                "node_selinux_avc_threshold",
                "SELinux AVC threshold",
                threshold,
            ),
        ] {
            out.gauge(name, help, &[], value as f64);
        }
        Ok(())
    }
}

impl Selinux {
    /// go-selinux's test: selinuxfs is there and writable (a read-only one means SELinux is off
    /// for us, as in most containers), and we are not running with the pre-policy `kernel`
    /// label.
    fn enabled(&self) -> bool {
        if fs::metadata(self.selinuxfs.join("enforce")).is_err() {
            return false;
        }
        if is_read_only(&self.selinuxfs) {
            return false;
        }
        let label = fs::read(&self.current_label).unwrap_or_default();
        let label = String::from_utf8_lossy(&label);
        label.trim_end_matches(['\0', '\n']) != "kernel"
    }
}

fn is_read_only(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statvfs only writes into the zeroed struct we own; `c` is a valid C string.
    unsafe {
        let mut buf: libc::statvfs = std::mem::zeroed();
        libc::statvfs(c.as_ptr(), &mut buf) == 0 && buf.f_flag & libc::ST_RDONLY != 0
    }
}

/// `SELINUX=` of `/etc/selinux/config`: 1 enforcing, 0 permissive, -1 anything else.
pub fn parse_config_mode(text: &str) -> i64 {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "SELINUX" {
            return match value.trim().trim_matches('"') {
                "enforcing" => 1,
                "permissive" => 0,
                _ => -1,
            };
        }
    }
    -1
}

/// The per-CPU counters of `avc/cache_stats`, summed.
#[derive(Debug, Default, PartialEq)]
pub struct CacheStats {
    pub lookups: u64,
    pub hits: u64,
    pub misses: u64,
    pub allocations: u64,
    pub reclaims: u64,
    pub frees: u64,
}

/// `lookups hits misses allocations reclaims frees` header, then one line of six numbers per
/// CPU. A line without exactly six numbers is an error, as upstream.
pub fn parse_cache_stats(text: &str) -> Result<CacheStats, String> {
    let mut s = CacheStats::default();
    for line in text.lines().skip(1) {
        let nums: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse::<u64>()
                    .map_err(|e| format!("invalid AVC stat {t:?}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let [lookups, hits, misses, allocations, reclaims, frees] = nums[..] else {
            return Err(format!("invalid AVC stat line: {line}"));
        };
        s.lookups += lookups;
        s.hits += hits;
        s.misses += misses;
        s.allocations += allocations;
        s.reclaims += reclaims;
        s.frees += frees;
    }
    Ok(s)
}

#[derive(Debug, Default, PartialEq)]
pub struct HashStats {
    pub entries: u64,
    pub buckets_used: u64,
    pub buckets_available: u64,
    pub longest_chain: u64,
}

/// `entries: 503\nbuckets used: 433/512\nlongest chain: 5\n`.
pub fn parse_hash_stats(text: &str) -> Result<HashStats, String> {
    let mut lines = text.lines();
    let mut field = |prefix: &str, what: &str| -> Result<String, String> {
        lines
            .next()
            .and_then(|l| l.split_once(prefix).map(|(_, v)| v.to_string()))
            .ok_or_else(|| format!("could not parse expected integer value for {what}"))
    };
    let entries = field("entries: ", "hash entries")?;
    let buckets = field("buckets used: ", "hash buckets used")?;
    let chain = field("longest chain: ", "hash longest chain")?;
    let num = |s: &str, what: &str| {
        s.parse::<u64>()
            .map_err(|_| format!("could not parse expected integer value for {what}"))
    };
    let (used, available) = buckets
        .split_once('/')
        .ok_or("could not parse expected integer value for hash buckets available")?;
    Ok(HashStats {
        entries: num(&entries, "hash entries")?,
        buckets_used: num(used, "hash buckets used")?,
        buckets_available: num(available, "hash buckets available")?,
        longest_chain: num(&chain, "hash longest chain")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{paths_in, render, write_files};

    fn collect(root: &Path) -> Result<String, CollectError> {
        render(&*build(&paths_in(root), &Args::default()).unwrap())
    }

    #[test]
    fn disabled_without_selinuxfs() {
        // Debian/Ubuntu hosts: no selinuxfs mounted.
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            collect(dir.path()).unwrap(),
            "# HELP node_selinux_enabled SELinux is enabled, 1 is true, 0 is false\n# TYPE node_selinux_enabled gauge\nnode_selinux_enabled 0\n"
        );
    }

    /// A Fedora host in permissive mode with an enforcing config, two CPUs.
    #[test]
    fn fedora_permissive() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_files(&root.join("sys/fs/selinux"), &[("enforce", "0")]);
        write_files(
            &root.join("sys/fs/selinux/avc"),
            &[
                (
                    "cache_stats",
                    "lookups hits misses allocations reclaims frees\n\
                     1000 900 100 100 32 64\n\
                     2000 1900 100 105 0 70\n",
                ),
                (
                    "hash_stats",
                    "entries: 503\nbuckets used: 433/512\nlongest chain: 5\n",
                ),
                ("cache_threshold", "512\n"),
            ],
        );
        write_files(
            &root.join("etc/selinux"),
            &[(
                "config",
                "# This file controls the state of SELinux on the system.\n\
                 SELINUX=enforcing\nSELINUXTYPE=targeted\n",
            )],
        );
        write_files(
            &root.join("proc/thread-self/attr"),
            &[("current", "system_u:system_r:unconfined_service_t:s0\0")],
        );
        assert_eq!(
            collect(root).unwrap(),
            "# HELP node_selinux_avc_allocations_total SELinux AVC allocations
# TYPE node_selinux_avc_allocations_total counter
node_selinux_avc_allocations_total 205
# HELP node_selinux_avc_frees_total SELinux AVC frees
# TYPE node_selinux_avc_frees_total counter
node_selinux_avc_frees_total 134
# HELP node_selinux_avc_hash_buckets_available SELinux AVC hash buckets available
# TYPE node_selinux_avc_hash_buckets_available gauge
node_selinux_avc_hash_buckets_available 512
# HELP node_selinux_avc_hash_buckets_used SELinux AVC hash buckets used
# TYPE node_selinux_avc_hash_buckets_used gauge
node_selinux_avc_hash_buckets_used 433
# HELP node_selinux_avc_hash_entries SELinux AVC hash entries
# TYPE node_selinux_avc_hash_entries gauge
node_selinux_avc_hash_entries 503
# HELP node_selinux_avc_hash_longest_chain SELinux AVC hash longest chain
# TYPE node_selinux_avc_hash_longest_chain gauge
node_selinux_avc_hash_longest_chain 5
# HELP node_selinux_avc_hits_total SELinux AVC hits
# TYPE node_selinux_avc_hits_total counter
node_selinux_avc_hits_total 2800
# HELP node_selinux_avc_lookups_total SELinux AVC lookups
# TYPE node_selinux_avc_lookups_total counter
node_selinux_avc_lookups_total 3000
# HELP node_selinux_avc_misses_total SELinux AVC misses
# TYPE node_selinux_avc_misses_total counter
node_selinux_avc_misses_total 200
# HELP node_selinux_avc_reclaims_total SELinux AVC reclaims
# TYPE node_selinux_avc_reclaims_total counter
node_selinux_avc_reclaims_total 32
# HELP node_selinux_avc_threshold SELinux AVC threshold
# TYPE node_selinux_avc_threshold gauge
node_selinux_avc_threshold 512
# HELP node_selinux_config_mode Configured SELinux enforcement mode
# TYPE node_selinux_config_mode gauge
node_selinux_config_mode 1
# HELP node_selinux_current_mode Current SELinux enforcement mode
# TYPE node_selinux_current_mode gauge
node_selinux_current_mode 0
# HELP node_selinux_enabled SELinux is enabled, 1 is true, 0 is false
# TYPE node_selinux_enabled gauge
node_selinux_enabled 1
"
        );
        // Before a policy is loaded the process label is "kernel": SELinux counts as disabled.
        write_files(
            &root.join("proc/thread-self/attr"),
            &[("current", "kernel\0")],
        );
        assert!(collect(root).unwrap().contains("node_selinux_enabled 0\n"));
        // Without the AVC files the collector fails, as upstream.
        write_files(
            &root.join("proc/thread-self/attr"),
            &[("current", "unconfined\0")],
        );
        fs::remove_file(root.join("sys/fs/selinux/avc/hash_stats")).unwrap();
        assert!(collect(root).is_err());
    }

    #[test]
    fn config_modes() {
        assert_eq!(parse_config_mode("SELINUX=permissive\n"), 0);
        assert_eq!(parse_config_mode("SELINUX=\"enforcing\"\n"), 1);
        assert_eq!(parse_config_mode("  SELINUX = disabled\n"), -1);
        assert_eq!(
            parse_config_mode("#SELINUX=enforcing\nSELINUXTYPE=targeted\n"),
            -1
        );
        assert_eq!(parse_config_mode(""), -1);
    }

    #[test]
    fn avc_parsers() {
        assert!(parse_cache_stats("lookups hits\n1 2 3\n").is_err());
        assert_eq!(
            parse_cache_stats("header only\n").unwrap(),
            CacheStats::default()
        );
        assert!(parse_hash_stats("entries: x\nbuckets used: 1/2\nlongest chain: 3\n").is_err());
        assert!(parse_hash_stats("entries: 1\n").is_err());
    }
}
