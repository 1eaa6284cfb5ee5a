//! The `meminfo` collector: the fields of `/proc/meminfo` as `node_memory_<Field>[_bytes]`.
//!
//! Since 1.9 node_exporter takes these through the procfs library and exports a fixed list of
//! fields (see [`FIELDS`]); fields it does not know, such as `KReclaimable`, `SecPageTables`,
//! `FileHugePages` or `Hugetlb`, are not exported, and neither are they here. `Active(anon)`
//! becomes `Active_anon`; values in kB become bytes and get `_bytes`; the unitless HugePages
//! counts keep their name.

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Meminfo {
        path: paths.proc("meminfo"),
    }))
}

struct Meminfo {
    path: std::path::PathBuf,
}

/// The `/proc/meminfo` keys node_exporter 1.12 exports, and whether each is a count (exported
/// as is) rather than a size (exported in bytes, with `_bytes`).
pub const FIELDS: [(&str, bool); 51] = [
    ("Active", false),
    ("Active(anon)", false),
    ("Active(file)", false),
    ("AnonHugePages", false),
    ("AnonPages", false),
    ("Bounce", false),
    ("Buffers", false),
    ("Cached", false),
    ("CmaFree", false),
    ("CmaTotal", false),
    ("CommitLimit", false),
    ("Committed_AS", false),
    ("DirectMap1G", false),
    ("DirectMap2M", false),
    ("DirectMap4k", false),
    ("Dirty", false),
    ("HardwareCorrupted", false),
    ("Hugepagesize", false),
    ("Inactive", false),
    ("Inactive(anon)", false),
    ("Inactive(file)", false),
    ("KernelStack", false),
    ("Mapped", false),
    ("MemAvailable", false),
    ("MemFree", false),
    ("MemTotal", false),
    ("Mlocked", false),
    ("NFS_Unstable", false),
    ("PageTables", false),
    ("Percpu", false),
    ("SReclaimable", false),
    ("SUnreclaim", false),
    ("Shmem", false),
    ("ShmemHugePages", false),
    ("ShmemPmdMapped", false),
    ("Slab", false),
    ("SwapCached", false),
    ("SwapFree", false),
    ("SwapTotal", false),
    ("Unevictable", false),
    ("VmallocChunk", false),
    ("VmallocTotal", false),
    ("VmallocUsed", false),
    ("Writeback", false),
    ("WritebackTmp", false),
    ("Zswap", false),
    ("Zswapped", false),
    ("HugePages_Free", true),
    ("HugePages_Rsvd", true),
    ("HugePages_Surp", true),
    ("HugePages_Total", true),
];

impl Collector for Meminfo {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let fields = parse_meminfo(&text);
        if fields.is_empty() {
            return Err(anyhow::anyhow!("no fields in {}", self.path.display()).into());
        }
        for (key, value) in fields {
            out.gauge(
                &format!("node_memory_{key}"),
                &format!("Memory information field {key}."),
                &[],
                value,
            );
        }
        Ok(())
    }
}

/// `(metric suffix, value)` for each line whose key is in [`FIELDS`]; malformed lines are
/// skipped.
pub fn parse_meminfo(text: &str) -> Vec<(String, f64)> {
    let mut fields = Vec::with_capacity(FIELDS.len());
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(key) = key.strip_suffix(':') else {
            continue;
        };
        let Some(&(_, is_count)) = FIELDS.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        let Ok(mut value) = value.parse::<f64>() else {
            continue;
        };
        let mut name = key.replace('(', "_").replace(')', "");
        if !is_count {
            // The kernel only ever writes "kB"; a size without a unit is bytes already.
            if parts.next().is_some() {
                value *= 1024.0;
            }
            name.push_str("_bytes");
        }
        fields.push((name, value));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_parentheses_and_known_fields_only() {
        // Lines as on Linux 6.18 (Debian 12 guest).
        let text = "MemTotal:       24576000 kB\nActive(anon):      12345 kB\nKReclaimable:      61284 kB\n\
                    HugePages_Total:       0\nHugepagesize:       2048 kB\nHugetlb:               0 kB\n\
                    Zswapped:              0 kB\nbroken line\n";
        assert_eq!(
            parse_meminfo(text),
            vec![
                ("MemTotal_bytes".to_string(), 24576000.0 * 1024.0),
                ("Active_anon_bytes".to_string(), 12345.0 * 1024.0),
                ("HugePages_Total".to_string(), 0.0),
                ("Hugepagesize_bytes".to_string(), 2048.0 * 1024.0),
                ("Zswapped_bytes".to_string(), 0.0),
            ]
        );
    }

    #[test]
    fn field_names_are_distinct() {
        for (i, (a, _)) in FIELDS.iter().enumerate() {
            assert!(FIELDS[i + 1..].iter().all(|(b, _)| a != b), "{a} twice");
        }
    }
}
