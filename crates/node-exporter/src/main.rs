//! `node-exporter`: parse flags, set up logging, bind, serve until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    // One malloc arena: each collector thread of the blocking pool would otherwise get its own.
    // A scrape's buffers are short-lived: give them back once 64 KiB sit unused.
    exporter_core::limit_malloc_arenas(1, Some(64 * 1024));
    exporter_core::run_main(
        "node-exporter",
        node_exporter::Cli::parse_from_env,
        |c| &c.log,
        node_exporter::run,
    )
}
