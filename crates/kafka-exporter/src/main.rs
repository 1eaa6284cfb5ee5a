//! `kafka-exporter`: parse flags, set up logging, collect in the background, serve until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    // The collector's thread and the server's would each get a malloc arena holding the
    // snapshot's freed buffers; one arena, trimmed, keeps RSS near the live data.
    exporter_core::limit_malloc_arenas(1, Some(256 * 1024));
    exporter_core::run_main(
        "kafka-exporter",
        kafka_exporter::Cli::parse_from_env,
        |c| &c.log,
        kafka_exporter::run,
    )
}
