//! `gateway-sidecar`: parse flags, set up logging, bind, proxy until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    gateway_sidecar::limit_malloc_arenas();
    exporter_core::run_main(
        "gateway-sidecar",
        gateway_sidecar::Cli::parse_from_env,
        |c| &c.log,
        gateway_sidecar::run,
    )
}
