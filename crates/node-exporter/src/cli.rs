//! node_exporter's command line, flag for flag.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgMatches, Parser};
use exporter_core::cli::{parse_duration, LogArgs, UsageError, WebArgs};

use crate::collector::{self, CollectorArgs, Paths};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "node-exporter",
    version,
    about = "Prometheus exporter for machine metrics (drop-in for node_exporter)."
)]
pub struct Cli {
    /// procfs mountpoint.
    #[arg(long = "path.procfs", default_value = "/proc", value_name = "PATH")]
    pub procfs: PathBuf,

    /// sysfs mountpoint.
    #[arg(long = "path.sysfs", default_value = "/sys", value_name = "PATH")]
    pub sysfs: PathBuf,

    /// rootfs mountpoint.
    #[arg(long = "path.rootfs", default_value = "/", value_name = "PATH")]
    pub rootfs: PathBuf,

    /// udev data path.
    #[arg(
        long = "path.udev.data",
        default_value = "/run/udev/data",
        value_name = "PATH"
    )]
    pub udev_data: PathBuf,

    /// Set all collectors to disabled by default.
    #[arg(long = "collector.disable-defaults")]
    pub disable_defaults: bool,

    /// Deadline for one collector in a scrape (ours; node_exporter has none). A collector still
    /// running then reports `node_scrape_collector_success 0` and the scrape answers without it.
    /// Prometheus' own scrape timeout header shortens it further.
    #[arg(long = "collector.timeout", default_value = "9s", value_parser = parse_duration, value_name = "DURATION")]
    pub collector_timeout: Duration,

    /// The number of threads that run collectors at once, as node_exporter's GOMAXPROCS cap
    /// (default 1). A collector that stalls for 500 ms gets another thread to take the queue.
    #[arg(long = "runtime.gomaxprocs", default_value_t = 1, value_name = "N")]
    pub gomaxprocs: i64,

    #[command(flatten)]
    pub web: WebArgs,

    #[command(flatten)]
    pub log: LogArgs,

    #[command(flatten)]
    pub collectors: CollectorArgs,

    /// The collectors to run, in name order; filled from the `--[no-]collector.<name>` flags.
    #[arg(skip)]
    pub enabled: Vec<String>,
}

impl Cli {
    pub fn parse_from_env() -> Result<Self, UsageError> {
        Self::parse_from(std::env::args_os())
    }

    pub fn parse_from<I>(argv: I) -> Result<Self, UsageError>
    where
        I: IntoIterator,
        I::Item: Into<OsString> + Clone,
    {
        let (mut cli, matches) =
            exporter_core::cli::parse::<Cli, _>(argv, ":9100", collector::enable_flags)?;
        cli.enabled = enabled_collectors(&matches, cli.disable_defaults);
        // Upstream's cpu collector adds cpuinfo frequencies under --collector.cpu.info only
        // while the cpufreq collector is enabled.
        cli.collectors.cpu.cpufreq_disabled = !cli.enabled.iter().any(|e| e == "cpufreq");
        Ok(cli)
    }

    pub fn paths(&self) -> Paths {
        Paths {
            procfs: self.procfs.clone(),
            sysfs: self.sysfs.clone(),
            rootfs: self.rootfs.clone(),
            udev_data: self.udev_data.clone(),
        }
    }
}

/// Kingpin semantics: the last of `--collector.X` / `--no-collector.X` wins; without either, the
/// collector's default, or off under `--collector.disable-defaults`.
fn enabled_collectors(m: &ArgMatches, disable_defaults: bool) -> Vec<String> {
    let last_index = |id: &str| -> Option<usize> {
        if m.get_flag(id) {
            m.indices_of(id).and_then(|mut i| i.next_back())
        } else {
            None
        }
    };
    collector::ALL
        .iter()
        .filter(|(name, default)| {
            let on = last_index(&format!("collector.{name}"));
            let off = last_index(&format!("no-collector.{name}"));
            match (on, off) {
                (Some(a), Some(b)) => a > b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => *default && !disable_defaults,
            }
        })
        .map(|(name, _)| name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_node_exporter() {
        let cli = Cli::parse_from(["node-exporter"]).unwrap();
        assert_eq!(cli.web.listen_addresses, vec![":9100"]);
        assert_eq!(cli.procfs, PathBuf::from("/proc"));
        assert!(cli.enabled.contains(&"cpu".to_string()));
        assert!(cli.enabled.contains(&"kernel_hung".to_string()));
    }

    #[test]
    fn collector_flags_last_wins() {
        let cli =
            Cli::parse_from(["n", "--no-collector.cpu", "--no-collector.kernel_hung"]).unwrap();
        assert!(!cli.enabled.contains(&"cpu".to_string()));
        assert!(!cli.enabled.contains(&"kernel_hung".to_string()));
        let cli = Cli::parse_from(["n", "--no-collector.cpu", "--collector.cpu"]).unwrap();
        assert!(cli.enabled.contains(&"cpu".to_string()));
        let cli =
            Cli::parse_from(["n", "--collector.disable-defaults", "--collector.meminfo"]).unwrap();
        assert_eq!(cli.enabled, vec!["meminfo".to_string()]);
    }

    #[test]
    fn unknown_flag_is_a_usage_error() {
        let e = Cli::parse_from(["n", "--collector.nonexistent"]).unwrap_err();
        assert!(e.to_string().contains("--collector.nonexistent"), "{e}");
    }
}
