//! The `meminfo` collector: every field of `/proc/meminfo` as `node_memory_<Field>[_bytes]`.
//!
//! Like node_exporter, fields are exposed by name as the kernel lists them, so a newer kernel's
//! new fields appear without a code change. `Active(anon)` becomes `Active_anon`; values in kB
//! become bytes and get `_bytes`; unitless counts (HugePages_*) keep their name.

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Meminfo { path: paths.proc("meminfo") }))
}

struct Meminfo {
    path: std::path::PathBuf,
}

impl Collector for Meminfo {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::read::string(&self.path).map_err(|e| CollectError::from_io(&self.path, e))?;
        let fields = parse_meminfo(&text);
        if fields.is_empty() {
            return Err(anyhow::anyhow!("no fields in {}", self.path.display()).into());
        }
        for (key, value) in fields {
            out.gauge(&format!("node_memory_{key}"), &format!("Memory information field {key}."), &[], value);
        }
        Ok(())
    }
}

/// `(metric suffix, value)` per line; malformed lines are skipped.
pub fn parse_meminfo(text: &str) -> Vec<(String, f64)> {
    let mut fields = Vec::with_capacity(64);
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else { continue };
        let Some(key) = key.strip_suffix(':') else { continue };
        let Ok(mut value) = value.parse::<f64>() else { continue };
        let mut name = key.replace('(', "_").replace(')', "");
        if parts.next().is_some() {
            // The kernel only ever writes "kB" here.
            value *= 1024.0;
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
    fn parses_units_and_parentheses() {
        // Lines as on Linux 6.18 (Debian 12 guest).
        let text = "MemTotal:       24576000 kB\nActive(anon):      12345 kB\nHugePages_Total:       0\nbroken line\n";
        assert_eq!(
            parse_meminfo(text),
            vec![
                ("MemTotal_bytes".to_string(), 24576000.0 * 1024.0),
                ("Active_anon_bytes".to_string(), 12345.0 * 1024.0),
                ("HugePages_Total".to_string(), 0.0),
            ]
        );
    }
}
