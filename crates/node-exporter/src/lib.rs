//! A drop-in replacement for prometheus/node_exporter on Linux.
//!
//! Same metric names, types, labels and units, same flags, same self-metrics. Each collector is
//! one file under `collector/`, named like node_exporter's; every file it reads goes through the
//! configured `--path.*` roots (`collector::Paths`), and what collectors share is under `sys/`.
//! `scrape` runs the enabled collectors
//! concurrently under a deadline, so a hung mount or a slow file cannot hang a scrape, nor the
//! shutdown after it (`exporter_core::shutdown`).

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod cli;
mod collector;
mod filter;
mod scrape;
mod sys;
mod threads;

use std::sync::Arc;

pub use cli::Cli;
use exporter_core::server::{self, Landing, Settings};
use exporter_core::{shutdown, Busy};

pub use exporter_core::RunError;

/// Builds the collectors, binds the listen addresses and serves until SIGTERM or SIGINT; then
/// drains for 5 s and exits, leaving behind any collector stuck in the kernel.
pub fn run(cli: Cli) -> Result<(), RunError> {
    // The web settings first: a bad --web.config.file is then the only line on stderr, before
    // the collectors log anything.
    let settings = Settings::from_args(&cli.web, landing())?;
    let busy = Busy::new();
    let app = scrape::NodeApp::from_cli(&cli, &busy)?;
    let listeners = settings.bind()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Collectors and statfs calls run on the blocking pool (see `threads`). Idle threads are
        // kept across scrapes; the cap leaves room for threads stuck in the kernel.
        .max_blocking_threads(64)
        .thread_keep_alive(std::time::Duration::from_secs(300))
        // Collectors parse flat files; they need far less than the 2 MiB default stack.
        .thread_stack_size(256 * 1024)
        .build()
        .map_err(anyhow::Error::from)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "Starting node-exporter"
    );
    tracing::info!(collectors = %cli.enabled.join(","), "Enabled collectors");
    let served = rt.block_on(server::serve(
        listeners,
        settings,
        Arc::new(app),
        busy.clone(),
        shutdown::signal(busy.clone()),
    ));
    // Never a plain drop of the runtime: it would wait for a collector blocked on a FIFO or a
    // hung mount, forever.
    shutdown::finish(rt, &busy, served)?;
    Ok(())
}

/// Adds `node_exporter_build_info`.
pub fn build_info(out: &mut exporter_core::Exposition) {
    exporter_core::build_info(out, "node_exporter", &scrape::build_facts());
}

/// The landing page text.
pub fn landing() -> Landing {
    Landing {
        name: "Node Exporter",
        description: "Prometheus Node Exporter (Rust, drop-in for prometheus/node_exporter)",
        version: env!("CARGO_PKG_VERSION"),
    }
}
