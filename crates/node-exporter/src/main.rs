//! `node-exporter`: parse flags, set up logging, bind, serve until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Fewer malloc arenas: the collector threads are short-lived and would otherwise each leave
    // an arena behind, which shows up as resident memory on every node of a fleet.
    node_exporter::limit_malloc_arenas();
    let cli = match node_exporter::Cli::parse_from_env() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("node-exporter: {e}");
            return ExitCode::from(exporter_core::cli::EX_USAGE as u8);
        }
    };
    exporter_core::logging::init(&cli.log);
    match node_exporter::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(node_exporter::RunError::Usage(e)) => {
            eprintln!("node-exporter: {e}");
            ExitCode::from(exporter_core::cli::EX_USAGE as u8)
        }
        Err(node_exporter::RunError::Fatal(e)) => {
            eprintln!("node-exporter: {e:#}");
            ExitCode::FAILURE
        }
    }
}
