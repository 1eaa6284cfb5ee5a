//! `gateway-sidecar`: parse flags, set up logging, bind, proxy until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    gateway_sidecar::limit_malloc_arenas();
    let cli = match gateway_sidecar::Cli::parse_from_env() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("gateway-sidecar: {e}");
            return ExitCode::from(exporter_core::cli::EX_USAGE as u8);
        }
    };
    exporter_core::logging::init(&cli.log);
    match gateway_sidecar::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(gateway_sidecar::RunError::Usage(e)) => {
            eprintln!("gateway-sidecar: {e}");
            ExitCode::from(exporter_core::cli::EX_USAGE as u8)
        }
        Err(gateway_sidecar::RunError::Fatal(e)) => {
            eprintln!("gateway-sidecar: {e:#}");
            ExitCode::FAILURE
        }
    }
}
