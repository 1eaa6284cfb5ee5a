//! The `ksmd` collector (off by default, as upstream): the kernel samepage merging daemon's
//! counters from `/sys/kernel/mm/ksm/*`, `node_ksmd_<file>`. As upstream's `ksmd_linux.go`:
//! `full_scans` is a counter named `_total`, `sleep_millisecs` becomes seconds, and any file
//! missing fails the collector (a kernel without CONFIG_KSM has none: no data).

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Ksmd {
        dir: paths.sys("kernel/mm/ksm"),
    }))
}

struct Ksmd {
    dir: PathBuf,
}

/// The files upstream reads, in its order.
const FILES: [&str; 9] = [
    "full_scans",
    "merge_across_nodes",
    "pages_shared",
    "pages_sharing",
    "pages_to_scan",
    "pages_unshared",
    "pages_volatile",
    "run",
    "sleep_millisecs",
];

impl Collector for Ksmd {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        for file in FILES {
            let path = self.dir.join(file);
            let text =
                crate::sys::read::string(&path).map_err(|e| CollectError::from_io(&path, e))?;
            let v = crate::sys::go::parse_go_u64(&text).ok_or_else(|| {
                anyhow::anyhow!("{}: not a number: {:?}", path.display(), text.trim())
            })? as f64;
            let help = format!("ksmd '{file}' file.");
            match file {
                "full_scans" => out.counter("node_ksmd_full_scans_total", &help, &[], v),
                "sleep_millisecs" => out.gauge("node_ksmd_sleep_seconds", &help, &[], v / 1000.0),
                _ => out.gauge(&format!("node_ksmd_{file}"), &help, &[], v),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_files};

    #[test]
    fn reads_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<(String, &str)> = FILES
            .iter()
            .map(|f| {
                (
                    format!("kernel/mm/ksm/{f}"),
                    if *f == "sleep_millisecs" {
                        "20\n"
                    } else {
                        "18446744073709551615\n"
                    },
                )
            })
            .collect();
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        write_files(dir.path(), &refs);
        let text = render(&*build(&sys_at(dir.path()), &Args {}).unwrap()).unwrap();
        assert!(text.contains("# HELP node_ksmd_full_scans_total ksmd 'full_scans' file.\n# TYPE node_ksmd_full_scans_total counter\nnode_ksmd_full_scans_total 1.8446744073709552e+19\n"), "{text}");
        assert!(text.contains("# HELP node_ksmd_sleep_seconds ksmd 'sleep_millisecs' file.\n# TYPE node_ksmd_sleep_seconds gauge\nnode_ksmd_sleep_seconds 0.02\n"));
        assert!(text.contains("# TYPE node_ksmd_run gauge\n"));
        assert_eq!(text.matches("# TYPE").count(), 9);
    }

    #[test]
    fn missing_is_no_data_and_garbage_fails() {
        let dir = tempfile::tempdir().unwrap();
        let c = build(&sys_at(dir.path()), &Args {}).unwrap();
        assert!(matches!(render(&*c), Err(CollectError::NoData(_))));
        write_files(dir.path(), &[("kernel/mm/ksm/full_scans", "-1\n")]);
        assert!(matches!(render(&*c), Err(CollectError::Other(_))));
    }
}
