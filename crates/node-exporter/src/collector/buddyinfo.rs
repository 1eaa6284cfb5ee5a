//! The `buddyinfo` collector (off by default, as upstream): free blocks per NUMA node, zone and
//! order, `node_buddyinfo_blocks{node,zone,size}`, from `/proc/buddyinfo`. As upstream's
//! `buddyinfo.go` over procfs' `BuddyInfo`.

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Buddyinfo {
        path: paths.proc("buddyinfo"),
    }))
}

struct Buddyinfo {
    path: std::path::PathBuf,
}

impl Collector for Buddyinfo {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let zones =
            parse_buddyinfo(&text).map_err(|e| anyhow::anyhow!("couldn't get buddyinfo: {e}"))?;
        for z in &zones {
            for (size, v) in z.sizes.iter().enumerate() {
                out.gauge(
                    "node_buddyinfo_blocks",
                    "Count of free blocks according to size.",
                    &[
                        ("node", &z.node),
                        ("zone", &z.zone),
                        ("size", &size.to_string()),
                    ],
                    *v,
                );
            }
        }
        Ok(())
    }
}

/// One line of `/proc/buddyinfo`: `Node 0, zone   Normal   12  5  3 ...`.
#[derive(Debug, PartialEq)]
pub struct Zone {
    pub node: String,
    pub zone: String,
    /// Free blocks of order 0, 1, 2, ...
    pub sizes: Vec<f64>,
}

/// The zones, or why the file is malformed: a line with fewer than four fields, a count that is
/// not a number, or lines with different numbers of orders (procfs refuses all three).
pub fn parse_buddyinfo(text: &str) -> Result<Vec<Zone>, String> {
    let mut zones = Vec::new();
    let mut orders: Option<usize> = None;
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 4 {
            return Err(format!("invalid number of fields, found: {parts:?}"));
        }
        let sizes = parts[4..]
            .iter()
            .map(|v| {
                crate::sys::go::go_parse_float(v)
                    .ok_or_else(|| format!("invalid value in buddyinfo: {v:?}"))
            })
            .collect::<Result<Vec<f64>, _>>()?;
        match orders {
            None => orders = Some(sizes.len()),
            Some(n) if n != sizes.len() => {
                return Err(format!(
                    "mismatch in number of buddyinfo buckets, previous count {n}, new count {}",
                    sizes.len()
                ))
            }
            Some(_) => {}
        }
        zones.push(Zone {
            node: parts[1].trim_end_matches(',').to_string(),
            zone: parts[3].trim_end_matches(',').to_string(),
            sizes,
        });
    }
    Ok(zones)
}

#[cfg(test)]
mod tests {
    use super::*;

    // As on Linux 6.18 (x86_64, one node).
    const BUDDYINFO: &str = "Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      2 \n\
Node 0, zone    DMA32      5      3      4      3      4      5      3      4      3      5    701 \n\
Node 0, zone   Normal   1020    545    337    151     74     31     19     10      5      6   4385 \n";

    #[test]
    fn parses() {
        let z = parse_buddyinfo(BUDDYINFO).unwrap();
        assert_eq!(z.len(), 3);
        assert_eq!(z[2].node, "0");
        assert_eq!(z[2].zone, "Normal");
        assert_eq!(z[2].sizes.len(), 11);
        assert_eq!(z[2].sizes[10], 4385.0);
        assert_eq!(parse_buddyinfo("").unwrap(), vec![]);
    }

    #[test]
    fn refuses_what_procfs_refuses() {
        assert!(parse_buddyinfo("Node 0, zone\n").is_err());
        assert!(parse_buddyinfo("Node 0, zone DMA 1 x\n").is_err());
        assert!(
            parse_buddyinfo("Node 0, zone DMA 1 2\nNode 0, zone Normal 1\n")
                .unwrap_err()
                .contains("mismatch")
        );
        // Huge counts stay floats, as procfs' ParseFloat.
        let z = parse_buddyinfo("Node 0, zone DMA 18446744073709551616\n").unwrap();
        assert_eq!(z[0].sizes, vec![18446744073709551616.0]);
    }
}
