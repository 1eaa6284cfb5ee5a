//! `kafka-exporter`: parse flags, set up logging, collect in the background, serve until SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match kafka_exporter::Cli::parse_from_env() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("kafka-exporter: {e}");
            return ExitCode::from(exporter_core::cli::EX_USAGE as u8);
        }
    };
    exporter_core::logging::init(&cli.log);
    match kafka_exporter::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(kafka_exporter::RunError::Usage(e)) => {
            eprintln!("kafka-exporter: {e}");
            ExitCode::from(exporter_core::cli::EX_USAGE as u8)
        }
        Err(kafka_exporter::RunError::Fatal(e)) => {
            eprintln!("kafka-exporter: {e:#}");
            ExitCode::FAILURE
        }
    }
}
