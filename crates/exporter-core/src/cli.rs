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

    /// Maximum number of open connections; more wait to be accepted. Use 0 to disable.
    // The flag as the id: the sidecar's own `max_connections` (--proxy.max-connections) would
    // clash with the field name.
    #[arg(
        id = "web.max-connections",
        long = "web.max-connections",
        default_value_t = 512,
        value_name = "N"
    )]
    pub max_connections: usize,

    /// Close a connection whose client takes no part of the response for this long.
    #[arg(
        long = "web.write-timeout",
        default_value = "30s",
        value_name = "DURATION",
        value_parser = parse_duration
    )]
    pub write_timeout: std::time::Duration,

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

/// Parses a duration flag or setting: Go's `time.ParseDuration` spelling (`300ms`, `1h2m3.5s`,
/// `10us`, a bare `0`) as kingpin's duration flags take it, plus Prometheus' `d` and `w`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("invalid duration {s:?} (want e.g. 500ms, 5s, 1m30s)");
    let t = s.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if t.is_empty() {
        return Err(bad());
    }
    let mut rest = t;
    let mut nanos_total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&i| i > 0)
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 604_800e9,
            _ => return Err(bad()),
        };
        nanos_total += value * unit;
        rest = &rest[unit_end..];
    }
    Ok(std::time::Duration::from_nanos(nanos_total as u64))
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
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
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
