//! Flags every daemon shares, spelled as the Go exporters spell them (exporter-toolkit and
//! promslog), and the parsing rules around them: one line and exit code 64 on a bad flag.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};

/// The exit code for a bad flag or configuration file (EX_USAGE in sysexits.h).
pub const EX_USAGE: i32 = 64;

/// A problem with the command line or a configuration file, reported as one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// The web flags of exporter-toolkit.
#[derive(clap::Args, Debug, Clone)]
pub struct WebArgs {
    /// Addresses on which to expose metrics and web interface. Repeatable for multiple addresses.
    #[arg(long = "web.listen-address", value_name = "ADDRESS")]
    pub listen_addresses: Vec<String>,

    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        default_value = "/metrics",
        value_name = "PATH"
    )]
    pub telemetry_path: String,

    /// Maximum number of parallel scrape requests. Use 0 to disable.
    #[arg(long = "web.max-requests", default_value_t = 40, value_name = "N")]
    pub max_requests: usize,

    /// Exclude metrics about the exporter itself (process_*, promhttp_*).
    #[arg(long = "web.disable-exporter-metrics")]
    pub disable_exporter_metrics: bool,

    /// Path to configuration file that can enable TLS or authentication (exporter-toolkit format).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Use systemd socket activation listeners instead of port listeners (Linux only).
    #[arg(long = "web.systemd-socket")]
    pub systemd_socket: bool,
}

/// The logging flags of promslog.
#[derive(clap::Args, Debug, Clone)]
pub struct LogArgs {
    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub level: String,

    /// Output format of log messages.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub format: String,
}

/// Parses the command line of a daemon.
///
/// `default_listen` becomes the default of `--web.listen-address`; `extend` may add flags that
/// are only known at run time (node-exporter's `--collector.<name>`). Every boolean flag also gets
/// its kingpin `--no-` form. `--help` and `--version` print and exit 0; any other problem is one
/// line in a [`UsageError`].
pub fn parse<T, I>(
    argv: I,
    default_listen: &str,
    extend: impl FnOnce(Command) -> Command,
) -> Result<(T, ArgMatches), UsageError>
where
    T: clap::CommandFactory + FromArgMatches,
    I: IntoIterator,
    I::Item: Into<OsString> + Clone,
{
    let cmd = T::command().mut_arg("listen_addresses", |a| {
        a.default_value(default_listen.to_string())
    });
    let cmd = add_negations(extend(cmd));
    let matches = match cmd.try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                e.exit()
            }
            _ => return Err(UsageError(first_line(&e.to_string()))),
        },
    };
    let parsed =
        T::from_arg_matches(&matches).map_err(|e| UsageError(first_line(&e.to_string())))?;
    Ok((parsed, matches))
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments")
        .trim()
        .to_string()
}

/// Adds a hidden `--no-<flag>` for every boolean `--<flag>` that has none, as kingpin does.
fn add_negations(mut cmd: Command) -> Command {
    let existing: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let pairs: Vec<(clap::Id, String)> = cmd
        .get_arguments()
        .filter(|a| matches!(a.get_action(), ArgAction::SetTrue))
        .filter_map(|a| {
            let long = a.get_long()?;
            let neg = format!("no-{long}");
            (!long.starts_with("no-") && !existing.contains(&neg))
                .then(|| (a.get_id().clone(), neg))
        })
        .collect();
    for (pos_id, neg) in pairs {
        // Each overrides the other, so the last one given wins.
        cmd = cmd
            .arg(
                Arg::new(neg.clone())
                    .long(neg.clone())
                    .action(ArgAction::SetTrue)
                    .hide(true)
                    .overrides_with(pos_id.clone()),
            )
            .mut_arg(pos_id, |a| a.overrides_with(neg));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    #[command(name = "t")]
    struct Cli {
        #[command(flatten)]
        web: WebArgs,
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn defaults_and_negations() {
        let (c, _) = parse::<Cli, _>(["t"], ":9100", |c| c).unwrap();
        assert_eq!(c.web.listen_addresses, vec![":9100"]);
        assert_eq!(c.web.telemetry_path, "/metrics");
        assert!(!c.web.disable_exporter_metrics);
        let (c, _) = parse::<Cli, _>(
            [
                "t",
                "--web.disable-exporter-metrics",
                "--no-web.disable-exporter-metrics",
            ],
            ":1",
            |c| c,
        )
        .unwrap();
        assert!(!c.web.disable_exporter_metrics);
        let (c, _) = parse::<Cli, _>(
            [
                "t",
                "--no-web.disable-exporter-metrics",
                "--web.disable-exporter-metrics",
            ],
            ":1",
            |c| c,
        )
        .unwrap();
        assert!(c.web.disable_exporter_metrics);
    }

    #[test]
    fn bad_flags_are_one_line() {
        let e = parse::<Cli, _>(["t", "--bogus"], ":1", |c| c).unwrap_err();
        assert!(e.0.contains("--bogus"), "{e}");
        assert!(!e.0.contains('\n'));
        let e = parse::<Cli, _>(["t", "--log.level=loud"], ":1", |c| c).unwrap_err();
        assert!(e.0.contains("loud"), "{e}");
    }
}
