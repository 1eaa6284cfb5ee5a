//! The `meminfo_numa` collector (off by default, as upstream): per NUMA node, the fields of
//! `/sys/devices/system/node/node<N>/meminfo` as gauges `node_memory_numa_<Field>{node}` and the
//! counters of its `numastat` as `node_memory_numa_<counter>_total{node}`. As upstream's
//! `meminfo_numa_linux.go`: sizes in kB become bytes but, unlike `meminfo`, the names get no
//! `_bytes` suffix; `Active(anon)` becomes `Active_anon`; a malformed line fails the collector.

use std::path::PathBuf;

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(MeminfoNuma {
        dir: paths.sys("devices/system/node"),
    }))
}

struct MeminfoNuma {
    dir: PathBuf,
}

impl Collector for MeminfoNuma {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        // Upstream globs node[0-9]*: no directory, no nodes, nothing exported.
        for name in crate::sys::read::numbered_entries(&self.dir, "node") {
            let node_dir = self.dir.join(&name);
            let read = |file: &str| {
                let path = node_dir.join(file);
                crate::sys::read::string(&path).map_err(|e| {
                    anyhow::anyhow!("couldn't get NUMA meminfo: {}: {e}", path.display())
                })
            };
            let meminfo = parse_meminfo_numa(&read("meminfo")?)
                .map_err(|e| anyhow::anyhow!("couldn't get NUMA meminfo: {e}"))?;
            for (field, node, v) in &meminfo {
                out.gauge(
                    &format!("node_memory_numa_{field}"),
                    &format!("Memory information field {field}."),
                    &[("node", node)],
                    *v,
                );
            }
            // The node label of numastat comes from the directory name (the leading digits
            // after "node"), as upstream's regexp takes it.
            let number: String = name["node".len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let numastat = parse_numastat(&read("numastat")?)
                .map_err(|e| anyhow::anyhow!("couldn't get NUMA meminfo: {e}"))?;
            for (counter, v) in &numastat {
                let name = format!("node_memory_numa_{counter}_total");
                out.counter(
                    &name,
                    &format!("Memory information field {counter}_total."),
                    &[("node", &number)],
                    *v,
                );
            }
        }
        Ok(())
    }
}

/// `Node 0 Active(anon):  12345 kB` lines: `(field, node, value in bytes)`. Blank lines are
/// skipped; a line of other than 4 fields (or 5 ending in `kB`) or a bad number fails.
pub fn parse_meminfo_numa(text: &str) -> Result<Vec<(String, String, f64)>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        if parts.len() < 4 {
            // Upstream would index out of range here (a panic); a clean error instead.
            return Err(format!("invalid line in meminfo: {}", line.trim()));
        }
        let mut v = crate::sys::go::go_parse_float(parts[3])
            .ok_or_else(|| format!("invalid value in meminfo: {:?}", parts[3]))?;
        match parts.len() {
            4 => {}
            5 if parts[4] == "kB" => v *= 1024.0,
            _ => return Err(format!("invalid line in meminfo: {}", line.trim())),
        }
        let field = paren_to_underscore(parts[2].trim_end_matches(':'));
        out.push((field, parts[1].to_string(), v));
    }
    Ok(out)
}

/// Upstream's `\((.*)\)` -> `_$1`: from the first `(` to the last `)`.
fn paren_to_underscore(s: &str) -> String {
    match (s.find('('), s.rfind(')')) {
        (Some(a), Some(b)) if a < b => format!("{}_{}{}", &s[..a], &s[a + 1..b], &s[b + 1..]),
        _ => s.to_string(),
    }
}

/// `numa_hit 285560495` lines: `(counter, value)`; anything but two fields fails.
pub fn parse_numastat(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [] => continue,
            [name, value] => {
                let v = crate::sys::go::go_parse_float(value)
                    .ok_or_else(|| format!("invalid value in numastat: {value:?}"))?;
                out.push((name.to_string(), v));
            }
            _ => {
                return Err(format!(
                    "line scan did not return 2 fields: {}",
                    line.trim()
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render, sys_at, write_files};

    // As on Linux 6.18 (one node), shortened.
    const MEMINFO: &str =
        "Node 0 MemTotal:       24683772 kB\nNode 0 Active(anon):        252 kB\n\
Node 0 HugePages_Total:     0\n\nNode 0 Unaccepted:            0 kB\n";
    const NUMASTAT: &str = "numa_hit 285560495\nnuma_miss 0\ninterleave_hit 1098\n";

    #[test]
    fn parses() {
        let m = parse_meminfo_numa(MEMINFO).unwrap();
        assert_eq!(
            m[0],
            ("MemTotal".to_string(), "0".to_string(), 24683772.0 * 1024.0)
        );
        assert_eq!(m[1].0, "Active_anon");
        assert_eq!(m[2], ("HugePages_Total".to_string(), "0".to_string(), 0.0));
        assert!(parse_meminfo_numa("Node 0 MemTotal: 1 MB\n").is_err());
        assert!(parse_meminfo_numa("Node 0 MemTotal:\n").is_err());
        assert!(parse_meminfo_numa("Node 0 MemTotal: x kB\n").is_err());
        assert_eq!(
            parse_numastat(NUMASTAT).unwrap()[0],
            ("numa_hit".to_string(), 285560495.0)
        );
        assert!(parse_numastat("numa_hit\n").is_err());
        assert!(parse_numastat("numa_hit 1 2\n").is_err());
        assert_eq!(paren_to_underscore("Inactive(file)"), "Inactive_file");
    }

    #[test]
    fn renders_per_node() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[
                ("devices/system/node/node0/meminfo", MEMINFO),
                ("devices/system/node/node0/numastat", NUMASTAT),
                (
                    "devices/system/node/node1/meminfo",
                    "Node 1 MemTotal: 1 kB\n",
                ),
                ("devices/system/node/node1/numastat", "numa_hit 7\n"),
                ("devices/system/node/possible", "0-1\n"),
            ],
        );
        let text = render(&*build(&sys_at(dir.path()), &Args {}).unwrap()).unwrap();
        assert!(text.contains("# HELP node_memory_numa_MemTotal Memory information field MemTotal.\n# TYPE node_memory_numa_MemTotal gauge\nnode_memory_numa_MemTotal{node=\"0\"} 2.5276182528e+10\nnode_memory_numa_MemTotal{node=\"1\"} 1024\n"), "{text}");
        assert!(text.contains("# HELP node_memory_numa_numa_hit_total Memory information field numa_hit_total.\n# TYPE node_memory_numa_numa_hit_total counter\nnode_memory_numa_numa_hit_total{node=\"0\"} 2.85560495e+08\nnode_memory_numa_numa_hit_total{node=\"1\"} 7\n"));
        assert!(text.contains("node_memory_numa_Active_anon{node=\"0\"} 258048\n"));
    }
}
