//! The command line.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use exporter_core::cli::{LogArgs, UsageError, WebArgs};

use crate::routes::parse_duration;

/// The metrics listener's default port (the Prometheus exporter port of OpenTelemetry SDKs,
/// free in the platform's layout).
pub const DEFAULT_METRICS_LISTEN: &str = ":9464";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "gateway-sidecar",
    version,
    about = "Reverse-proxy sidecar that derives HTTP, auth and session metrics from a service's traffic."
)]
pub struct Cli {
    /// Address the proxy listens on (clients connect here instead of to the app).
    #[arg(
        long = "proxy.listen-address",
        default_value = ":8000",
        value_name = "ADDRESS"
    )]
    pub proxy_listen: String,

    /// The app behind the sidecar (http://host:port).
    #[arg(
        long = "upstream",
        default_value = "http://127.0.0.1:3000",
        value_name = "URL"
    )]
    pub upstream: String,

    /// Route rules file (YAML). Without it, the built-in platform rules are used.
    #[arg(long = "config.file", value_name = "FILE")]
    pub rules_file: Option<PathBuf>,

    /// Global path prefix (NestJS setGlobalPrefix, e.g. /api); overrides the file's `prefix`.
    #[arg(long = "config.prefix", value_name = "PATH")]
    pub prefix: Option<String>,

    /// Also answer this path on the proxy port with the metrics (e.g. /metrics), for setups
    /// that scrape the gateway's public port. Off by default: the path is then proxied.
    #[arg(long = "proxy.metrics-path", value_name = "PATH")]
    pub proxy_metrics_path: Option<String>,

    /// Fetch the app's own metrics from this upstream path at scrape time and append them
    /// after ours (families we also expose are dropped from the app's). A failed fetch leaves
    /// them out and sets gateway_sidecar_app_metrics_up to 0; the scrape still succeeds.
    #[arg(long = "upstream.metrics-path", value_name = "PATH")]
    pub app_metrics_path: Option<String>,

    /// Time allowed for fetching the app's metrics.
    #[arg(long = "upstream.metrics-timeout", default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub app_metrics_timeout: Duration,

    /// Time for the upstream to send response headers; then 504.
    #[arg(long = "upstream.timeout", default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub upstream_timeout: Duration,

    /// Time to connect to the upstream; then 504.
    #[arg(long = "upstream.connect-timeout", default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,

    /// How long idle upstream connections stay pooled. Keep it below the app's keep-alive
    /// timeout (Node's default is 5s) so the app never closes a connection we are about to use.
    #[arg(long = "upstream.pool-idle-timeout", default_value = "4s", value_parser = parse_duration, value_name = "DURATION")]
    pub pool_idle_timeout: Duration,

    /// Most idle upstream connections kept.
    #[arg(
        long = "upstream.pool-max-idle",
        default_value_t = 256,
        value_name = "N"
    )]
    pub pool_max_idle: usize,

    /// Time for a client to send a request's headers (slowloris); then 408 and close.
    #[arg(long = "proxy.header-timeout", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub header_timeout: Duration,

    /// Time a keep-alive client connection may sit idle between requests.
    #[arg(long = "proxy.idle-timeout", default_value = "75s", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,

    /// Longest pause allowed inside a request body; then 408.
    #[arg(long = "proxy.body-timeout", default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub body_timeout: Duration,

    /// Largest request head (request line and headers) in bytes; then 431.
    #[arg(
        long = "proxy.max-header-bytes",
        default_value_t = 16384,
        value_name = "BYTES"
    )]
    pub max_header_bytes: usize,

    /// Most request headers; then 431.
    #[arg(long = "proxy.max-headers", default_value_t = 100, value_name = "N")]
    pub max_headers: usize,

    /// Most client connections at once; further ones wait in the listen backlog.
    #[arg(
        long = "proxy.max-connections",
        default_value_t = 10000,
        value_name = "N"
    )]
    pub max_connections: usize,

    /// Longest a client may leave a response unread (no byte accepted by its socket); then the
    /// connection is closed, and with it the upstream connection feeding it. nginx's
    /// send_timeout.
    #[arg(long = "proxy.send-timeout", default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub send_timeout: Duration,

    /// Longest a WebSocket (or other upgraded) tunnel may pass no byte either way; then it is
    /// closed. Tunnels count under --proxy.max-connections like any connection.
    #[arg(long = "proxy.tunnel-idle-timeout", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub tunnel_idle_timeout: Duration,

    /// Peers (comma-separated addresses and CIDR blocks, e.g. 10.0.0.0/8) whose
    /// X-Forwarded-For, -Proto and -Host are believed: the load balancer or ingress in front.
    /// From any other peer they are replaced with what the sidecar sees. Default: none.
    #[arg(
        long = "proxy.trusted-proxies",
        default_value = "",
        value_name = "CIDRS"
    )]
    pub trusted_proxies: String,

    /// How long in-flight requests get to finish after SIGTERM.
    #[arg(long = "proxy.shutdown-grace", default_value = "15s", value_parser = parse_duration, value_name = "DURATION")]
    pub shutdown_grace: Duration,

    /// Worker threads (0: one per CPU).
    #[arg(long = "runtime.worker-threads", default_value_t = 0, value_name = "N")]
    pub worker_threads: usize,

    #[command(flatten)]
    pub web: WebArgs,

    #[command(flatten)]
    pub log: LogArgs,
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
        let (cli, _) = exporter_core::cli::parse::<Cli, _>(argv, DEFAULT_METRICS_LISTEN, |c| c)?;
        Ok(cli)
    }

    /// Checks what clap cannot.
    pub fn validate(&self) -> Result<(), UsageError> {
        if !self.proxy_listen.contains(':') {
            return Err(UsageError::new(format!(
                "--proxy.listen-address {:?}: missing port (want host:port or :port)",
                self.proxy_listen
            )));
        }
        for (flag, p) in [
            ("--proxy.metrics-path", &self.proxy_metrics_path),
            ("--upstream.metrics-path", &self.app_metrics_path),
        ] {
            if let Some(p) = p {
                if !p.starts_with('/') || p.contains(char::is_whitespace) {
                    return Err(UsageError::new(format!(
                        "{flag} must be a path starting with '/', got {p:?}"
                    )));
                }
            }
        }
        for (flag, d) in [
            ("--upstream.timeout", self.upstream_timeout),
            ("--upstream.connect-timeout", self.connect_timeout),
            ("--upstream.metrics-timeout", self.app_metrics_timeout),
            ("--proxy.header-timeout", self.header_timeout),
            ("--proxy.idle-timeout", self.idle_timeout),
            ("--proxy.body-timeout", self.body_timeout),
            ("--proxy.send-timeout", self.send_timeout),
            ("--proxy.tunnel-idle-timeout", self.tunnel_idle_timeout),
        ] {
            if d.is_zero() {
                return Err(UsageError::new(format!("{flag} must be above zero")));
            }
        }
        crate::headers::TrustedHops::parse(&self.trusted_proxies)
            .map_err(|e| UsageError::new(format!("--proxy.trusted-proxies: {e}")))?;
        if self.max_header_bytes < 1024 {
            return Err(UsageError::new(
                "--proxy.max-header-bytes must be at least 1024",
            ));
        }
        if self.max_headers == 0 || self.max_connections == 0 {
            return Err(UsageError::new(
                "--proxy.max-headers and --proxy.max-connections must be above zero",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Cli::parse_from(["gateway-sidecar"]).unwrap();
        assert_eq!(c.proxy_listen, ":8000");
        assert_eq!(c.web.listen_addresses, vec![DEFAULT_METRICS_LISTEN]);
        assert_eq!(c.upstream, "http://127.0.0.1:3000");
        assert_eq!(c.upstream_timeout, Duration::from_secs(60));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_values_are_one_line() {
        let e = Cli::parse_from(["g", "--upstream.timeout=soon"]).unwrap_err();
        assert!(e.0.contains("soon") && !e.0.contains('\n'), "{e}");
        let c = Cli::parse_from(["g", "--proxy.metrics-path=metrics"]).unwrap();
        assert!(c.validate().is_err());
        let c = Cli::parse_from(["g", "--proxy.listen-address=8000"]).unwrap();
        assert!(c.validate().is_err());
        let c = Cli::parse_from(["g", "--proxy.trusted-proxies=10.0.0.0/99"]).unwrap();
        assert!(c.validate().is_err());
    }
}
