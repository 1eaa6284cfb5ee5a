//! The `bcache` collector: statistics of each bcache cache set in `/sys/fs/bcache/<uuid>`
//! (Documentation/admin-guide/bcache.rst), its backing devices (`bdev<N>`) and cache devices
//! (`cache<N>`). `priority_stats` walks every bucket in the kernel, so like upstream it is only
//! read with `--collector.bcache.priorityStats`.
//!
//! bcache prints many values "humanized" by `bch_hprint` (`1.2M`, `-84.2k`); they are turned back
//! into numbers with procfs' rules, including its odd fraction scaling.

use std::path::{Path, PathBuf};

use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectResult, Collector, Paths};

/// Flags of the `bcache` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// Expose expensive priority stats.
    #[arg(
        long = "collector.bcache.priorityStats",
        id = "collector.bcache.priorityStats"
    )]
    pub priority_stats: bool,
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Bcache {
        dir: paths.sys("fs/bcache"),
        priority_stats: args.priority_stats,
    }))
}

struct Bcache {
    dir: PathBuf,
    priority_stats: bool,
}

/// procfs' `parsePseudoFloat`: bch_hprint prints the fraction as tenths of 1/1024ths, so `.5`
/// means 5/10.24.
fn pseudo_float(s: &str) -> Option<f64> {
    match s.split_once('.') {
        None => s.parse().ok(),
        Some((int, frac)) => {
            let int: f64 = int.parse().ok()?;
            let frac: f64 = frac.parse().ok()?;
            Some(int + frac / 10.24)
        }
    }
}

/// Turns a bch_hprint value (`1.1M`, `512`, `-84.2k`, `2.4k/sec`) back into a number. The
/// result is truncated towards zero, as procfs' conversion to an integer does.
pub fn dehumanize(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches("/sec");
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    // Only an ASCII last character can be a digit or a unit, and only then is `s.len() - 1` a
    // character boundary (found by the proc_sys fuzz target).
    let last = *s.as_bytes().last()?;
    if !last.is_ascii() {
        return None;
    }
    let value = if last.is_ascii_digit() {
        s.parse::<f64>().ok()?
    } else {
        let mul = match last {
            b'k' => 1u64 << 10,
            b'M' => 1 << 20,
            b'G' => 1 << 30,
            b'T' => 1 << 40,
            b'P' => 1 << 50,
            b'E' => 1 << 60,
            // Z and Y overflow u64; procfs multiplies floats, so do we.
            b'Z' => {
                return pseudo_float(&s[..s.len() - 1])
                    .map(|m| sign(neg, (m * 2f64.powi(70)).trunc()))
            }
            b'Y' => {
                return pseudo_float(&s[..s.len() - 1])
                    .map(|m| sign(neg, (m * 2f64.powi(80)).trunc()))
            }
            _ => 0,
        } as f64;
        pseudo_float(&s[..s.len() - 1])? * mul
    };
    Some(sign(neg, value.trunc()))
}

fn sign(neg: bool, v: f64) -> f64 {
    if neg {
        -v
    } else {
        v
    }
}

/// `writeback_rate_debug` of a backing device:
/// `rate:\t\t1.1M/sec`, `target:\t\t20.4G`, `proportional:\t-125k`, `change:\t\t-2.4k/sec`, ...
pub fn parse_writeback_rate_debug(text: &str) -> WritebackRate {
    let mut w = WritebackRate::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let v = dehumanize(value).unwrap_or(0.0);
        match key.trim() {
            "rate" => w.rate = v,
            "target" => w.target = v,
            "proportional" => w.proportional = v,
            "integral" => w.integral = v,
            "change" => w.change = v,
            _ => {}
        }
    }
    w
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct WritebackRate {
    pub rate: f64,
    pub target: f64,
    pub proportional: f64,
    pub integral: f64,
    pub change: f64,
}

/// `priority_stats`: the `Unused:` and `Metadata:` percentages.
pub fn parse_priority_stats(text: &str) -> (f64, f64) {
    let mut unused = 0.0;
    let mut metadata = 0.0;
    for line in text.lines() {
        let pct = || {
            line.split_whitespace()
                .last()
                .and_then(|v| v.trim_end_matches('%').parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        if line.starts_with("Unused:") {
            unused = pct();
        } else if line.starts_with("Metadata:") {
            metadata = pct();
        }
    }
    (unused, metadata)
}

/// A humanized sysfs value; a missing or unreadable file counts as 0 (logged).
fn value(dir: &Path, name: &str) -> f64 {
    let p = dir.join(name);
    match crate::sys::read::trimmed(&p) {
        Ok(s) => dehumanize(&s).unwrap_or_else(|| {
            tracing::debug!(path = %p.display(), value = s, "unparsable bcache value");
            0.0
        }),
        Err(e) => {
            tracing::debug!(path = %p.display(), err = %e, "cannot read bcache value");
            0.0
        }
    }
}

impl Bcache {
    fn set(&self, out: &mut Exposition, uuid: &str) {
        let dir = self.dir.join(uuid);
        let internal = dir.join("internal");
        let m = |out: &mut Exposition,
                 name: &str,
                 help: &str,
                 kind: MetricType,
                 labels: &[(&str, &str)],
                 v: f64| {
            out.family(&format!("node_bcache_{name}"), help, kind)
                .sample(labels, v);
        };
        let set = [("uuid", uuid)];
        use MetricType::{Counter, Gauge};
        for (name, help, kind, v) in [
            ("average_key_size_sectors", "Average data per key in the btree (sectors).", Gauge, value(&dir, "average_key_size")),
            ("btree_cache_size_bytes", "Amount of memory currently used by the btree cache.", Gauge, value(&dir, "btree_cache_size")),
            ("cache_available_percent", "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).", Gauge, value(&dir, "cache_available_percent")),
            ("congested", "Congestion.", Gauge, value(&dir, "congested")),
            ("root_usage_percent", "Percentage of the root btree node in use (tree depth increases if too high).", Gauge, value(&dir, "root_usage_percent")),
            ("tree_depth", "Depth of the btree.", Gauge, value(&dir, "tree_depth")),
            ("active_journal_entries", "Number of journal entries that are newer than the index.", Gauge, value(&internal, "active_journal_entries")),
            ("btree_nodes", "Total nodes in the btree.", Gauge, value(&internal, "btree_nodes")),
            // Upstream scales this file (in microseconds) by 1e-9; kept for compatibility.
            ("btree_read_average_duration_seconds", "Average btree read duration.", Gauge, value(&internal, "btree_read_average_duration_us") * 1e-9),
            ("cache_read_races_total", "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.", Counter, value(&internal, "cache_read_races")),
        ] {
            m(out, name, help, kind, &set, v);
        }

        for bdev in crate::sys::read::numbered_entries(&dir, "bdev") {
            let bdir = dir.join(&bdev);
            let labels = [("uuid", uuid), ("backing_device", bdev.as_str())];
            let wb = crate::sys::read::string(&bdir.join("writeback_rate_debug"))
                .map(|t| parse_writeback_rate_debug(&t))
                .unwrap_or_default();
            for (name, help, v) in [
                (
                    "dirty_data_bytes",
                    "Amount of dirty data for this backing device in the cache.",
                    value(&bdir, "dirty_data"),
                ),
                (
                    "dirty_target_bytes",
                    "Current dirty data target threshold for this backing device in bytes.",
                    wb.target,
                ),
                (
                    "writeback_rate",
                    "Current writeback rate for this backing device in bytes.",
                    wb.rate,
                ),
                (
                    "writeback_rate_proportional_term",
                    "Current result of proportional controller, part of writeback rate",
                    wb.proportional,
                ),
                (
                    "writeback_rate_integral_term",
                    "Current result of integral controller, part of writeback rate",
                    wb.integral,
                ),
                (
                    "writeback_change",
                    "Last writeback rate change step for this backing device.",
                    wb.change,
                ),
            ] {
                m(out, name, help, Gauge, &labels, v);
            }
            // This device's own totals (procfs reads the cache set's stats_total here by mistake).
            let total = bdir.join("stats_total");
            for (name, file, help) in [
                ("bypassed_bytes_total", "bypassed", "Amount of IO (both reads and writes) that has bypassed the cache."),
                ("cache_hits_total", "cache_hits", "Hits counted per individual IO as bcache sees them."),
                ("cache_misses_total", "cache_misses", "Misses counted per individual IO as bcache sees them."),
                ("cache_bypass_hits_total", "cache_bypass_hits", "Hits for IO intended to skip the cache."),
                ("cache_bypass_misses_total", "cache_bypass_misses", "Misses for IO intended to skip the cache."),
                ("cache_miss_collisions_total", "cache_miss_collisions", "Instances where data insertion from cache miss raced with write (data already present)."),
            ] {
                m(out, name, help, Counter, &labels, value(&total, file));
            }
            // Upstream only exposes readaheads when non-zero (newer kernels dropped the counter).
            let readaheads = value(&total, "cache_readaheads");
            if readaheads != 0.0 {
                m(
                    out,
                    "cache_readaheads_total",
                    "Count of times readahead occurred.",
                    Counter,
                    &labels,
                    readaheads,
                );
            }
        }

        for cache in crate::sys::read::numbered_entries(&dir, "cache") {
            let cdir = dir.join(&cache);
            let labels = [("uuid", uuid), ("cache_device", cache.as_str())];
            m(
                out,
                "io_errors",
                "Number of errors that have occurred, decayed by io_error_halflife.",
                Gauge,
                &labels,
                value(&cdir, "io_errors"),
            );
            m(
                out,
                "metadata_written_bytes_total",
                "Sum of all non data writes (btree writes and all other metadata).",
                Counter,
                &labels,
                value(&cdir, "metadata_written"),
            );
            m(
                out,
                "written_bytes_total",
                "Sum of all data that has been written to the cache.",
                Counter,
                &labels,
                value(&cdir, "written"),
            );
            if self.priority_stats {
                let (unused, metadata) = crate::sys::read::string(&cdir.join("priority_stats"))
                    .map(|t| parse_priority_stats(&t))
                    .unwrap_or_default();
                m(
                    out,
                    "priority_stats_unused_percent",
                    "The percentage of the cache that doesn't contain any data.",
                    Gauge,
                    &labels,
                    unused,
                );
                m(
                    out,
                    "priority_stats_metadata_percent",
                    "Bcache's metadata overhead.",
                    Gauge,
                    &labels,
                    metadata,
                );
            }
        }
    }
}

impl Collector for Bcache {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        // Upstream globs /sys/fs/bcache/*-*: no bcache is no output, not an error.
        let sets: Vec<String> = crate::sys::read::dir_names(&self.dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| n.contains('-'))
            .collect();
        for uuid in &sets {
            self.set(out, uuid);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_file};

    #[test]
    fn a_non_ascii_last_character_is_no_number_not_a_panic() {
        // From fuzz/corpus/proc_sys/bcache_non_ascii.
        assert_eq!(dehumanize("1.5\u{e9}"), None);
        assert_eq!(dehumanize("-\u{2028}"), None);
        assert_eq!(dehumanize("1.5k"), Some(1524.0));
    }

    #[test]
    fn dehumanizes_like_procfs() {
        assert_eq!(dehumanize("512"), Some(512.0));
        assert_eq!(
            dehumanize("1.5k"),
            Some(1024.0 + (5.0 / 10.24 * 1024.0f64).trunc())
        );
        assert_eq!(dehumanize("2.0M"), Some(2.0 * 1048576.0));
        assert_eq!(
            dehumanize("1.1M/sec"),
            Some(((1.0 + 1.0 / 10.24) * 1048576.0f64).trunc())
        );
        assert_eq!(dehumanize("-125k"), Some(-128000.0));
        assert_eq!(
            dehumanize("-2.4k/sec"),
            Some(-((2.0 + 4.0 / 10.24) * 1024.0f64).trunc())
        );
        assert_eq!(dehumanize("0"), Some(0.0));
        assert_eq!(dehumanize(""), None);
        assert_eq!(dehumanize("x.yk"), None);
    }

    #[test]
    fn parses_writeback_and_priority() {
        // As bcache prints them (drivers/md/bcache/sysfs.c).
        let w = parse_writeback_rate_debug("rate:\t\t1.1M/sec\ndirty:\t\t20.4G\ntarget:\t\t20.4G\nproportional:\t-125k\nintegral:\t-84.2k\nchange:\t\t-2.4k/sec\nnext io:\t63ms\n");
        assert_eq!(w.target, ((20.0 + 4.0 / 10.24) * 1073741824.0f64).trunc());
        assert_eq!(w.proportional, -128000.0);
        assert_eq!(w.change, -((2.0 + 4.0 / 10.24) * 1024.0f64).trunc());
        let (u, m) = parse_priority_stats("Unused:\t\t99%\nClean:\t\t0%\nDirty:\t\t0%\nMetadata:\t0%\nAverage:\t10473\nSectors per Q:\t16\nQuantiles:\t[0 0]\n");
        assert_eq!((u, m), (99.0, 0.0));
    }

    /// Writes sysfs attributes, each ending in a newline as the kernel prints them.
    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (f, v) in files {
            write_file(&dir.join(f), &format!("{v}\n"));
        }
    }

    #[test]
    fn exposes_cache_set_bdev_and_cache() {
        let dir = tempfile::tempdir().unwrap();
        let set = dir
            .path()
            .join("fs/bcache/deaddd54-c735-46d5-868e-f331c5fd7c74");
        write(
            &set,
            &[
                ("average_key_size", "0"),
                ("btree_cache_size", "0"),
                ("cache_available_percent", "100"),
                ("congested", "0"),
                ("root_usage_percent", "0"),
                ("tree_depth", "0"),
            ],
        );
        write(
            &set.join("internal"),
            &[
                ("active_journal_entries", "1"),
                ("btree_nodes", "2"),
                ("btree_read_average_duration_us", "1305"),
                ("cache_read_races", "0"),
            ],
        );
        write(&set.join("bdev0"), &[("dirty_data", "1.5k"), ("writeback_rate_debug", "rate:\t\t1.1M/sec\ndirty:\t\t1.5k\ntarget:\t\t20.4G\nproportional:\t-125k\nintegral:\t-84.2k\nchange:\t\t-2.4k/sec\nnext io:\t63ms")]);
        write(
            &set.join("bdev0/stats_total"),
            &[
                ("bypassed", "1.2M"),
                ("cache_bypass_hits", "0"),
                ("cache_bypass_misses", "0"),
                ("cache_hits", "546"),
                ("cache_miss_collisions", "0"),
                ("cache_misses", "0"),
                ("cache_readaheads", "0"),
            ],
        );
        write(
            &set.join("cache0"),
            &[
                ("io_errors", "0"),
                ("metadata_written", "512"),
                ("written", "0"),
                ("priority_stats", "Unused:\t\t99%\nMetadata:\t0%"),
            ],
        );
        let paths = sys_at(dir.path());
        let render = |args: &Args| render(&*build(&paths, args).unwrap()).unwrap();
        let text = render(&Args::default());
        let u = "uuid=\"deaddd54-c735-46d5-868e-f331c5fd7c74\"";
        for line in [
            format!("node_bcache_cache_available_percent{{{u}}} 100"),
            format!("node_bcache_btree_nodes{{{u}}} 2"),
            format!("node_bcache_btree_read_average_duration_seconds{{{u}}} 1.305e-06"),
            format!("# TYPE node_bcache_cache_read_races_total counter\nnode_bcache_cache_read_races_total{{{u}}} 0"),
            format!("node_bcache_dirty_data_bytes{{backing_device=\"bdev0\",{u}}} 1524"),
            format!("node_bcache_writeback_rate_proportional_term{{backing_device=\"bdev0\",{u}}} -128000"),
            format!("node_bcache_writeback_change{{backing_device=\"bdev0\",{u}}} -2448"),
            format!("node_bcache_bypassed_bytes_total{{backing_device=\"bdev0\",{u}}} 1.253376e+06"),
            format!("node_bcache_cache_hits_total{{backing_device=\"bdev0\",{u}}} 546"),
            format!("node_bcache_metadata_written_bytes_total{{cache_device=\"cache0\",{u}}} 512"),
            format!("node_bcache_io_errors{{cache_device=\"cache0\",{u}}} 0"),
        ] {
            assert!(text.contains(&line), "missing {line}\n{text}");
        }
        assert!(!text.contains("readaheads") && !text.contains("priority_stats"));
        let text = render(&Args {
            priority_stats: true,
        });
        assert!(text.contains(&format!(
            "node_bcache_priority_stats_unused_percent{{cache_device=\"cache0\",{u}}} 99"
        )));
    }

    #[test]
    fn no_bcache_is_empty_success() {
        let dir = tempfile::tempdir().unwrap();
        let paths = sys_at(dir.path());
        let c = build(&paths, &Args::default()).unwrap();
        let mut out = Exposition::new();
        c.update(&mut out).unwrap();
        assert!(out.to_bytes().is_empty());
    }

    /// Hand-made (the recording host has no bcache): tests/fixtures/collectors/bcache, one cache
    /// set with two backing devices (distinct totals from the set's own stats_total, readaheads
    /// on) and a cache device; expected-*.prom are node_exporter 1.12.1's output on it without
    /// and with --collector.bcache.priorityStats.
    #[test]
    fn fixture_matches_upstream() {
        let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/collectors/bcache");
        for (priority_stats, want) in [(false, "expected-plain.prom"), (true, "expected-prio.prom")]
        {
            let c = build(&sys_at(&fx.join("sys")), &Args { priority_stats }).unwrap();
            let got = render(&*c).unwrap();
            let want = std::fs::read_to_string(fx.join(want)).unwrap();
            assert_eq!(got, want, "priority_stats {priority_stats}, got:\n{got}");
        }
    }
}
