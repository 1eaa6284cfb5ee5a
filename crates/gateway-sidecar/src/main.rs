//! `gateway-sidecar`: parse flags, set up logging, bind, proxy until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Two arenas for the per-CPU worker runtimes: the sidecar's budget is a few MiB beside the app.
    exporter_core::limit_malloc_arenas(2, None);
    exporter_core::run_main(
        "gateway-sidecar",
        gateway_sidecar::Cli::parse_from_env,
        |c| &c.log,
        gateway_sidecar::run,
    )
}
