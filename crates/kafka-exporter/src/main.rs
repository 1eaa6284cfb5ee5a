//! `kafka-exporter`: parse flags, set up logging, collect in the background, serve until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    exporter_core::run_main(
        "kafka-exporter",
        kafka_exporter::Cli::parse_from_env,
        |c| &c.log,
        kafka_exporter::run,
    )
}
