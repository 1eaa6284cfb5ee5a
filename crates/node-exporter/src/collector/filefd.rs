//! The `filefd` collector: `node_filefd_allocated` and `node_filefd_maximum` from
//! `/proc/sys/fs/file-nr`.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(FileFd {
        path: paths.proc("sys/fs/file-nr"),
    }))
}

struct FileFd {
    path: PathBuf,
}

impl Collector for FileFd {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let (allocated, maximum) = parse_file_nr(&text).ok_or_else(|| {
            anyhow::anyhow!("couldn't get file-nr: unexpected content {:?}", text.trim())
        })?;
        out.gauge(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            &[],
            allocated,
        );
        out.gauge(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            &[],
            maximum,
        );
        Ok(())
    }
}

/// `(allocated, maximum)` from `allocated\tfree\tmaximum`. The middle value has been 0 since
/// Linux 2.6 and is not exported.
pub fn parse_file_nr(text: &str) -> Option<(f64, f64)> {
    let mut it = text.split_whitespace();
    let allocated = it.next()?.parse::<f64>().ok()?;
    let _unused = it.next()?;
    let maximum = it.next()?.parse::<f64>().ok()?;
    Some((allocated, maximum))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_file};

    #[test]
    fn parses() {
        // As on Linux 6.18.
        assert_eq!(parse_file_nr("704\t0\t2466165\n"), Some((704.0, 2466165.0)));
        // fs.file-max at its 64-bit maximum.
        assert_eq!(
            parse_file_nr("1024\t0\t9223372036854775807\n"),
            Some((1024.0, 9223372036854775807.0))
        );
        assert_eq!(parse_file_nr("704\t0\n"), None);
        assert_eq!(parse_file_nr("x\t0\t1\n"), None);
    }

    #[test]
    fn reads_a_fake_proc() {
        let dir = tempfile::tempdir().unwrap();
        write_file(&dir.path().join("sys/fs/file-nr"), "1024\t0\t1631329\n");
        let text = render(&*build(&proc_at(dir.path()), &Args::default()).unwrap()).unwrap();
        assert!(text.contains("# TYPE node_filefd_allocated gauge\nnode_filefd_allocated 1024\n"));
        assert!(text.contains("# HELP node_filefd_maximum File descriptor statistics: maximum.\n"));
        assert!(text.contains("node_filefd_maximum 1.631329e+06\n"));
    }
}
