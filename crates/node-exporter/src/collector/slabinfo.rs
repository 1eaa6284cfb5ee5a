//! The `slabinfo` collector (off by default, as upstream): the kernel's slab caches from
//! `/proc/slabinfo` (root-only on most kernels), five gauges per cache labelled `slab`, filtered
//! by `--collector.slabinfo.slabs-include` / `-exclude` (both apply, as upstream's
//! `deviceFilter`). As upstream's `slabinfo_linux.go` over procfs' `SlabInfo` (format 2.1).

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};
use crate::filter::BothFilter;

#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
pub struct Args {
    /// Regexp of slabs to include in slabinfo collector.
    #[arg(long = "collector.slabinfo.slabs-include", default_value = ".*")]
    pub slabs_include: String,

    /// Regexp of slabs to exclude in slabinfo collector.
    #[arg(long = "collector.slabinfo.slabs-exclude", default_value = "")]
    pub slabs_exclude: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            slabs_include: ".*".into(),
            slabs_exclude: String::new(),
        }
    }
}

pub fn build(paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Slabinfo {
        path: paths.proc("slabinfo"),
        filter: BothFilter::new(
            "collector.slabinfo.slabs",
            Some(&args.slabs_include),
            Some(&args.slabs_exclude),
        )?,
    }))
}

struct Slabinfo {
    path: std::path::PathBuf,
    filter: BothFilter,
}

impl Collector for Slabinfo {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let slabs =
            parse_slabinfo(&text).map_err(|e| anyhow::anyhow!("couldn't get slabinfo: {e}"))?;
        for s in slabs.iter().filter(|s| !self.filter.ignored(&s.name)) {
            let l = [("slab", s.name.as_str())];
            out.gauge(
                "node_slabinfo_active_objects",
                "The number of objects that are currently active (i.e., in use).",
                &l,
                s.active_objects as f64,
            );
            out.gauge(
                "node_slabinfo_objects",
                "The total number of allocated objects (i.e., objects that are both in use and not in use).",
                &l,
                s.objects as f64,
            );
            out.gauge(
                "node_slabinfo_object_size_bytes",
                "The size of objects in this slab, in bytes.",
                &l,
                s.object_size as f64,
            );
            out.gauge(
                "node_slabinfo_objects_per_slab",
                "The number of objects stored in each slab.",
                &l,
                s.objects_per_slab as f64,
            );
            out.gauge(
                "node_slabinfo_pages_per_slab",
                "The number of pages allocated for each slab.",
                &l,
                s.pages_per_slab as f64,
            );
        }
        Ok(())
    }
}

/// The columns of a slab line this collector exports.
#[derive(Debug, PartialEq)]
pub struct Slab {
    pub name: String,
    pub active_objects: i64,
    pub objects: i64,
    pub object_size: i64,
    pub objects_per_slab: i64,
    pub pages_per_slab: i64,
}

/// The slab lines of a version 2.1 `/proc/slabinfo`: `name active num size perslab pages :
/// tunables limit batch shared : slabdata active num sharedavail` (16 fields). The version and
/// `# name` header lines are skipped; any other line that is not 16 numeric fields fails the
/// file, as in procfs.
pub fn parse_slabinfo(text: &str) -> Result<Vec<Slab>, String> {
    let mut slabs = Vec::new();
    for line in text.lines() {
        if line.contains("slabinfo -") || line.contains("# name") {
            continue;
        }
        // procfs splits on every run of whitespace, so a leading blank gives an empty first
        // field and a wrong count; `split_whitespace` would accept it. Keep procfs' strictness.
        let f: Vec<&str> = split_runs(line);
        if f.len() != 16 {
            return Err(format!("unable to parse: {line:?}"));
        }
        let n = |i: usize| {
            f[i].parse::<i64>()
                .map_err(|e| format!("{:?} in {line:?}: {e}", f[i]))
        };
        // procfs also checks the tunables and slabdata numbers.
        for i in [8, 9, 10, 13, 14, 15] {
            n(i)?;
        }
        slabs.push(Slab {
            name: f[0].to_string(),
            active_objects: n(1)?,
            objects: n(2)?,
            object_size: n(3)?,
            objects_per_slab: n(4)?,
            pages_per_slab: n(5)?,
        });
    }
    Ok(slabs)
}

/// The line split at each run of whitespace, empty ends kept (Go's `\s+` replaced by one space,
/// then split on spaces).
fn split_runs(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_ws = false;
    for (i, c) in line.char_indices() {
        if c.is_ascii_whitespace() {
            if !in_ws {
                out.push(&line[start..i]);
                in_ws = true;
            }
        } else if in_ws {
            start = i;
            in_ws = false;
        }
    }
    out.push(if in_ws { "" } else { &line[start..] });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // As on Linux 6.18.
    const SLABINFO: &str = "slabinfo - version: 2.1\n\
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n\
ext4_inode_cache    3712   3712   1080   30    8 : tunables    0    0    0 : slabdata    124    124      0\n\
kmalloc-8           5120   5120      8  512    1 : tunables    0    0    0 : slabdata     10     10      0\n";

    #[test]
    fn parses() {
        let s = parse_slabinfo(SLABINFO).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            Slab {
                name: "ext4_inode_cache".into(),
                active_objects: 3712,
                objects: 3712,
                object_size: 1080,
                objects_per_slab: 30,
                pages_per_slab: 8
            }
        );
        // Truncated line, huge number, leading blank.
        assert!(
            parse_slabinfo("kmalloc-8 5120 5120 8 512 1 : tunables 0 0 0 : slabdata 10 10\n")
                .is_err()
        );
        assert!(parse_slabinfo(
            "k 99999999999999999999 1 8 512 1 : tunables 0 0 0 : slabdata 10 10 0\n"
        )
        .is_err());
        assert!(parse_slabinfo(" k 1 1 8 512 1 : tunables 0 0 0 : slabdata 10 10 0\n").is_err());
        assert_eq!(split_runs("a  b\tc "), vec!["a", "b", "c", ""]);
    }

    #[test]
    fn filters_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &[("slabinfo", SLABINFO)]);
        let scrape = |include: &str, exclude: &str| {
            let args = Args {
                slabs_include: include.into(),
                slabs_exclude: exclude.into(),
            };
            render(&*build(&proc_at(dir.path()), &args).unwrap()).unwrap()
        };
        let all = scrape(".*", "");
        assert_eq!(all.matches("node_slabinfo_objects{").count(), 2);
        assert!(all.contains("# HELP node_slabinfo_object_size_bytes The size of objects in this slab, in bytes.\n# TYPE node_slabinfo_object_size_bytes gauge\nnode_slabinfo_object_size_bytes{slab=\"ext4_inode_cache\"} 1080\n"));
        let some = scrape("^kmalloc", "");
        assert_eq!(some.matches("node_slabinfo_objects{").count(), 1);
        let none = scrape("^kmalloc", "-8$");
        assert_eq!(none, "");
    }
}
