//! `node-exporter`: parse flags, set up logging, bind, serve until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    // One malloc arena: each collector thread of the blocking pool would otherwise get its own,
    // which shows up as resident memory on every node of a fleet.
    node_exporter::limit_malloc_arenas();
    exporter_core::run_main(
        "node-exporter",
        node_exporter::Cli::parse_from_env,
        |c| &c.log,
        node_exporter::run,
    )
}
