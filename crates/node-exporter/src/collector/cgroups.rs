//! The `cgroups` collector (off by default, as upstream): per controller, how many cgroups it
//! has and whether it is enabled, from `/proc/cgroups`. As upstream's `cgroups_linux.go` over
//! procfs' `CgroupSummarys` (upstream gives both families the same HELP; so do we).

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Cgroups {
        path: paths.proc("cgroups"),
    }))
}

struct Cgroups {
    path: std::path::PathBuf,
}

const HELP: &str = "Current cgroup number of the subsystem.";

impl Collector for Cgroups {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        for s in parse_cgroups(&text).map_err(anyhow::Error::msg)? {
            out.gauge(
                "node_cgroups_cgroups",
                HELP,
                &[("subsys_name", &s.name)],
                s.cgroups as f64,
            );
            out.gauge(
                "node_cgroups_enabled",
                HELP,
                &[("subsys_name", &s.name)],
                s.enabled as f64,
            );
        }
        Ok(())
    }
}

/// One controller line: `#subsys_name hierarchy num_cgroups enabled`.
#[derive(Debug, PartialEq)]
pub struct Subsys {
    pub name: String,
    pub hierarchy: i64,
    pub cgroups: i64,
    pub enabled: i64,
}

/// The controllers; the `#` header is skipped, and any short or non-numeric line fails the
/// whole file, as in procfs.
pub fn parse_cgroups(text: &str) -> Result<Vec<Subsys>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            return Err(format!(
                "4+ fields required, found {} fields in cgroup info string: {line}",
                f.len()
            ));
        }
        let num = |i: usize, what: &str| {
            f[i].parse::<i64>()
                .map_err(|_| format!("unable to parse {what} from {:?}", f[i]))
        };
        out.push(Subsys {
            name: f[0].to_string(),
            hierarchy: num(1, "hierarchy ID")?,
            cgroups: num(2, "cgroup num")?,
            enabled: num(3, "enabled")?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // As on Linux 6.18 with cgroups v2 (every controller on hierarchy 0).
    const CGROUPS: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t77\t1\ncpu\t0\t77\t1\nmemory\t0\t77\t0\n";

    #[test]
    fn parses_and_renders() {
        let s = parse_cgroups(CGROUPS).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[2],
            Subsys {
                name: "memory".into(),
                hierarchy: 0,
                cgroups: 77,
                enabled: 0
            }
        );
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &[("cgroups", CGROUPS)]);
        let text = render(&*build(&proc_at(dir.path()), &Args {}).unwrap()).unwrap();
        assert!(text.contains("# HELP node_cgroups_enabled Current cgroup number of the subsystem.\n# TYPE node_cgroups_enabled gauge\nnode_cgroups_enabled{subsys_name=\"cpu\"} 1\n"), "{text}");
        assert!(text.contains("node_cgroups_cgroups{subsys_name=\"memory\"} 77\n"));
    }

    #[test]
    fn malformed_lines_fail() {
        assert!(parse_cgroups("cpu\t0\t77\n").is_err());
        assert!(parse_cgroups("cpu\t0\t99999999999999999999\t1\n").is_err());
        assert_eq!(parse_cgroups("").unwrap(), vec![]);
    }
}
