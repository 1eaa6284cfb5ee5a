//! What every exporter daemon in this workspace shares.
//!
//! - [`cli`]: the exporter-toolkit and promslog flags (`--web.*`, `--log.*`), kingpin-style `--no-`
//!   negations, and the rule that a bad flag is one line and exit code 64.
//! - [`server`]: the metrics HTTP server (landing page, `/healthz`, gzip, `--web.max-requests`,
//!   graceful shutdown) and the exporter's own `promhttp_*` metrics.
//! - [`web_config`]: `--web.config.file` (TLS, mutual TLS, basic auth, headers).
//! - [`text`]: a fast writer of the Prometheus text format, and text compressed once and served
//!   to many scrapes.
//! - [`process`]: `process_*` metrics about the daemon itself.
//! - [`logging`]: logfmt or JSON logs.
//! - [`shutdown`]: SIGTERM and SIGINT end the daemon within its grace period whatever is stuck;
//!   [`Busy`] names what a drain abandons.
//!
//! A daemon's `main` parses its flags with [`cli::parse`], calls [`logging::init`], builds its
//! [`server::Settings`] (which loads the web config), binds, hands an [`server::App`] to
//! [`server::serve`] with [`shutdown::signal`], and ends with [`shutdown::finish`].

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod busy;
pub mod civil;
pub mod cli;
mod in_flight;
pub(crate) mod logging;
pub mod process;
pub mod server;
pub mod shutdown;
pub mod text;
pub(crate) mod web_config;

/// Entry points for the fuzz targets in `fuzz/` (not an API): the parsers of untrusted input
/// that are otherwise private.
#[doc(hidden)]
pub mod fuzzing {
    /// `--web.config.file` text, as [`web_config::WebConfig::from_yaml`] reads it (relative
    /// paths resolve under a directory that does not exist, so nothing is read from disk).
    pub fn web_config_yaml(text: &str) -> bool {
        crate::web_config::WebConfig::from_yaml(text, std::path::Path::new("/nonexistent-fuzz"))
            .is_ok()
    }

    /// An `Authorization` header value, as basic auth reads it: (user, password) if Basic.
    pub fn basic_auth_header(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        let value = hyper::header::HeaderValue::from_bytes(value).ok()?;
        let mut headers = hyper::HeaderMap::new();
        headers.insert(hyper::header::AUTHORIZATION, value);
        crate::web_config::basic_credentials(&headers)
    }
}

pub use busy::Busy;
pub use in_flight::InFlight;
pub use text::{Exposition, MetricType, SharedText, SharedTextWriter};

use std::process::ExitCode;

use cli::{LogArgs, UsageError, EX_USAGE};

/// Why a daemon's `run` stopped: a usage problem (exit 64) or a failure while running (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Fatal(#[from] anyhow::Error),
}

/// A daemon's `main`: parse its flags, start logging, run it, and turn the outcome into an exit
/// code, printing a problem as one line prefixed with the daemon's name.
pub fn run_main<C>(
    name: &str,
    parse: impl FnOnce() -> Result<C, UsageError>,
    log: impl FnOnce(&C) -> &LogArgs,
    run: impl FnOnce(C) -> Result<(), RunError>,
) -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(EX_USAGE as u8);
        }
    };
    logging::init(log(&cli));
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(RunError::Usage(e)) => {
            eprintln!("{name}: {e}");
            ExitCode::from(EX_USAGE as u8)
        }
        Err(RunError::Fatal(e)) => {
            eprintln!("{name}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Version facts for `<daemon>_build_info`, with client_golang's label names.
pub struct BuildInfo {
    pub version: &'static str,
    pub revision: &'static str,
    pub branch: &'static str,
}

/// Adds `<namespace>_build_info` with the labels the Go exporters use. `goversion` carries the
/// Rust compiler that built us, so a dashboard's "version" table still has something to show.
pub fn build_info(out: &mut Exposition, namespace: &str, info: &BuildInfo) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    out.gauge(
        &format!("{namespace}_build_info"),
        &format!(
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which {namespace} was built, and the goos and goarch for the build."
        ),
        &[
            ("version", info.version),
            ("revision", info.revision),
            ("branch", info.branch),
            ("goversion", "rust"),
            ("goos", std::env::consts::OS),
            ("goarch", arch),
            ("tags", "unknown"),
        ],
        1.0,
    );
}

/// Caps glibc's malloc arenas at `arenas` and, with `trim_threshold`, returns freed memory at the
/// top of the heap to the kernel once that many bytes sit unused there (glibc's default starts at
/// 128 KiB and grows with use). Each thread would otherwise get an arena of its own that keeps
/// what it freed resident, which shows up on every node of a fleet. Call it first in `main`,
/// before any other thread exists. A no-op on other C libraries.
pub fn limit_malloc_arenas(arenas: i32, trim_threshold: Option<i32>) {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
        if let Some(t) = trim_threshold {
            libc::mallopt(libc::M_TRIM_THRESHOLD, t);
        }
    }
    #[cfg(not(target_env = "gnu"))]
    let _ = (arenas, trim_threshold);
}

/// Returns the free pages of the heap to the kernel (glibc's `malloc_trim`), after a burst of
/// short-lived allocations (a large collection) that would otherwise stay resident.
pub fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
