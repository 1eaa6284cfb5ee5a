//! The `swap` collector (default off, as upstream's `collector/swap_linux.go`): per swap device
//! or file in `/proc/swaps`, its size, use and priority.

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Swap {
        path: paths.proc("swaps"),
    }))
}

struct Swap {
    path: std::path::PathBuf,
}

/// One line of `/proc/swaps`; sizes in KiB as the kernel prints them.
#[derive(Debug, PartialEq)]
pub struct SwapEntry {
    pub filename: String,
    pub kind: String,
    pub size_kib: i64,
    pub used_kib: i64,
    pub priority: i64,
}

impl Collector for Swap {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let swaps = parse_swaps(&text)
            .map_err(|e| anyhow::anyhow!("couldn't get swap information: {e}"))?;
        for s in &swaps {
            let labels = [
                ("device", s.filename.as_str()),
                ("swap_type", s.kind.as_str()),
            ];
            // mm/swapfile.c prints Size and Used in KiB.
            out.gauge(
                "node_swap_size_bytes",
                "Swap device size in bytes.",
                &labels,
                (s.size_kib * 1024) as f64,
            );
            out.gauge(
                "node_swap_used_bytes",
                "Swap device used in bytes.",
                &labels,
                (s.used_kib * 1024) as f64,
            );
            out.gauge(
                "node_swap_priority",
                "Swap device priority.",
                &labels,
                s.priority as f64,
            );
        }
        Ok(())
    }
}

/// `/proc/swaps`: a header line, then `Filename Type Size Used Priority` per device. A line with
/// fewer fields or a number that does not parse fails the whole file, as procfs' `parseSwaps`.
pub fn parse_swaps(text: &str) -> Result<Vec<SwapEntry>, String> {
    let mut swaps = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 {
            return Err(format!("too few fields in swap string: {line}"));
        }
        let num = |i: usize, what: &str| {
            f[i].parse::<i64>()
                .map_err(|e| format!("invalid swap {what}: {}: {e}", f[i]))
        };
        swaps.push(SwapEntry {
            filename: f[0].to_string(),
            kind: f[1].to_string(),
            size_kib: num(2, "size")?,
            used_kib: num(3, "used")?,
            priority: num(4, "priority")?,
        });
    }
    Ok(swaps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{proc_at, render, write_files};

    // Hand-made: the recording host (Debian 12, Linux 6.18) has no swap active, so its
    // /proc/swaps is the header alone; the rows follow the kernel's format (mm/swapfile.c).
    const SWAPS: &str = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
        /dev/zram0                              partition\t8388604\t\t1024\t\t100\n\
        /swapfile                               file\t\t1048572\t\t0\t\t-2\n";

    #[test]
    fn parses_devices_and_files() {
        let s = parse_swaps(SWAPS).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[1],
            SwapEntry {
                filename: "/swapfile".into(),
                kind: "file".into(),
                size_kib: 1048572,
                used_kib: 0,
                priority: -2,
            }
        );
        assert_eq!(s[0].used_kib, 1024);
    }

    #[test]
    fn header_alone_is_no_swap() {
        // As recorded on the host above.
        let rec = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        assert!(parse_swaps(rec).unwrap().is_empty());
    }

    #[test]
    fn rejects_short_lines_and_bad_numbers() {
        assert!(parse_swaps("h\n/dev/sda2 partition 10 0\n").is_err());
        assert!(parse_swaps("h\n/dev/sda2 partition x 0 1\n").is_err());
    }

    #[test]
    fn exposes_bytes() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &[("swaps", SWAPS)]);
        let c = build(&proc_at(dir.path()), &Args {}).unwrap();
        let text = render(c.as_ref()).unwrap();
        assert!(text.contains(
            "node_swap_size_bytes{device=\"/dev/zram0\",swap_type=\"partition\"} 8.589930496e+09\n"
        ));
        assert!(text.contains("node_swap_priority{device=\"/swapfile\",swap_type=\"file\"} -2\n"));
    }
}
