//! `node-exporter`: parse flags, set up logging, bind, serve until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Fewer malloc arenas: the collector threads are short-lived and would otherwise each leave
    // an arena behind, which shows up as resident memory on every node of a fleet.
    node_exporter::limit_malloc_arenas();
    exporter_core::run_main(
        "node-exporter",
        node_exporter::Cli::parse_from_env,
        |c| &c.log,
        node_exporter::run,
    )
}
