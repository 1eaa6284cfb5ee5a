//! The `entropy` collector: `node_entropy_available_bits` and `node_entropy_pool_size_bits`
//! from `/proc/sys/kernel/random/{entropy_avail,poolsize}`.
//!
//! Since Linux 5.18 both files read a constant 256, but dashboards still graph them.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Entropy {
        avail: paths.proc("sys/kernel/random/entropy_avail"),
        pool_size: paths.proc("sys/kernel/random/poolsize"),
    }))
}

struct Entropy {
    avail: PathBuf,
    pool_size: PathBuf,
}

impl Collector for Entropy {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        // node_exporter reports a missing file here as a failure, not as "no data": every Linux
        // kernel has both.
        let avail = read_bits(&self.avail)
            .map_err(|e| anyhow::anyhow!("couldn't get entropy_avail: {e}"))?;
        out.gauge(
            "node_entropy_available_bits",
            "Bits of available entropy.",
            &[],
            avail,
        );
        let pool = read_bits(&self.pool_size)
            .map_err(|e| anyhow::anyhow!("couldn't get entropy poolsize: {e}"))?;
        out.gauge(
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
            &[],
            pool,
        );
        Ok(())
    }
}

fn read_bits(path: &std::path::Path) -> Result<f64, String> {
    let text = crate::sys::read::string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_bits(&text).ok_or_else(|| format!("{}: not a number: {:?}", path.display(), text.trim()))
}

/// One unsigned number, as the sysctl files hold: `"256\n"`.
pub fn parse_bits(text: &str) -> Option<f64> {
    text.trim().parse::<u64>().ok().map(|v| v as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    #[test]
    fn parses() {
        assert_eq!(parse_bits("256\n"), Some(256.0));
        assert_eq!(parse_bits("4096"), Some(4096.0));
        assert_eq!(parse_bits(""), None);
        assert_eq!(parse_bits("-1"), None);
    }

    #[test]
    fn reads_a_fake_proc() {
        let dir = tempfile::tempdir().unwrap();
        let random = dir.path().join("sys/kernel/random");
        write_files(
            &random,
            &[("entropy_avail", "3943\n"), ("poolsize", "4096\n")],
        );
        let c = build(&proc_at(dir.path()), &Args::default()).unwrap();
        let text = render(&*c).unwrap();
        assert_eq!(
            text,
            "# HELP node_entropy_available_bits Bits of available entropy.\n\
             # TYPE node_entropy_available_bits gauge\nnode_entropy_available_bits 3943\n\
             # HELP node_entropy_pool_size_bits Bits of entropy pool.\n\
             # TYPE node_entropy_pool_size_bits gauge\nnode_entropy_pool_size_bits 4096\n"
        );
        std::fs::remove_file(random.join("poolsize")).unwrap();
        assert!(c.update(&mut Exposition::new()).is_err());
    }
}
