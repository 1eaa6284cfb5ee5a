//! The `kernel_hung` collector: `node_kernel_hung_tasks_total` from
//! `/proc/sys/kernel/hung_task_detect_count` (Linux 6.7+, with CONFIG_DETECT_HUNG_TASK). Older
//! kernels have no such file: no data, as node_exporter reports it since 1.11.1.
//!
//! Early versions of node_exporter's collector named the metric
//! `node_kernel_hung_task_detect_count` (with a help text copied from the stat collector);
//! released versions (1.11.1 output checked) use the name and help here, with the collector
//! enabled by default.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(KernelHung {
        path: paths.proc("sys/kernel/hung_task_detect_count"),
    }))
}

struct KernelHung {
    path: PathBuf,
}

impl Collector for KernelHung {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let count = parse_count(&text).ok_or_else(|| {
            anyhow::anyhow!("{}: not a number: {:?}", self.path.display(), text.trim())
        })?;
        out.counter(
            "node_kernel_hung_tasks_total",
            "Total number of tasks that have been detected as hung since the system booted.",
            &[],
            count,
        );
        Ok(())
    }
}

pub fn parse_count(text: &str) -> Option<f64> {
    text.trim().parse::<u64>().ok().map(|v| v as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_file};

    #[test]
    fn parses() {
        assert_eq!(parse_count("0\n"), Some(0.0));
        assert_eq!(parse_count("17\n"), Some(17.0));
        assert_eq!(parse_count("x"), None);
    }

    #[test]
    fn missing_file_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let c = build(&proc_at(dir.path()), &Args::default()).unwrap();
        assert!(matches!(
            c.update(&mut Exposition::new()),
            Err(CollectError::NoData(_))
        ));

        write_file(&dir.path().join("sys/kernel/hung_task_detect_count"), "3\n");
        assert_eq!(
            render(&*c).unwrap(),
            "# HELP node_kernel_hung_tasks_total Total number of tasks that have been detected as hung since the system booted.\n\
             # TYPE node_kernel_hung_tasks_total counter\nnode_kernel_hung_tasks_total 3\n"
        );
    }
}
