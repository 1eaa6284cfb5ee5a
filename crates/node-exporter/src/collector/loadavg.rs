//! The `loadavg` collector: `node_load1`, `node_load5`, `node_load15` from `/proc/loadavg`.

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Loadavg {
        path: paths.proc("loadavg"),
    }))
}

struct Loadavg {
    path: std::path::PathBuf,
}

impl Collector for Loadavg {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let text = crate::sys::read::string(&self.path)
            .map_err(|e| CollectError::from_io(&self.path, e))?;
        let loads = parse_loadavg(&text)
            .ok_or_else(|| anyhow::anyhow!("unexpected content in {}", self.path.display()))?;
        for (name, help, value) in [
            ("node_load1", "1m load average.", loads[0]),
            ("node_load5", "5m load average.", loads[1]),
            ("node_load15", "15m load average.", loads[2]),
        ] {
            out.gauge(name, help, &[], value);
        }
        Ok(())
    }
}

/// The three load averages: `0.13 0.04 0.01 3/82 1784`.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    Some([it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse_loadavg("0.13 0.04 0.01 3/82 1784\n"),
            Some([0.13, 0.04, 0.01])
        );
        assert_eq!(parse_loadavg("0.13 0.04"), None);
        assert_eq!(parse_loadavg(""), None);
    }
}
