//! A drop-in replacement for danielqsj/kafka_exporter.
//!
//! Same families, labels and flags as kafka_exporter 1.9, but collection runs in the background
//! every `--refresh.metadata` ([`collector`]) and a scrape serves the last complete snapshot
//! ([`snapshot`]), so scrapes never wait on Kafka and a lost cluster never stops the exporter.

// Tests may unwrap: a panic there is a failed assertion.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cli;
pub mod client;
pub mod collector;
pub mod groups;
pub mod lag;
pub mod snapshot;

use std::sync::Arc;

pub use cli::Cli;
use exporter_core::cli::UsageError;
use exporter_core::server::{
    self, App, HttpError, Landing, Scrape, ScrapeFuture, ScrapeRequest, Settings,
};
use exporter_core::{shutdown, BuildInfo, Busy, Exposition};

pub use exporter_core::RunError;

/// The HTTP side: renders the last view.
pub struct KafkaApp {
    shared: Arc<collector::Shared>,
    labels: Vec<(String, String)>,
    interval: std::time::Duration,
}

impl App for KafkaApp {
    fn scrape(&self, _req: ScrapeRequest) -> ScrapeFuture {
        let view = self.shared.get();
        let mut out = Exposition::new();
        // Rendered and compressed once per collection; the server appends it to the body.
        let tail = view.rendered.clone();
        if tail.is_none() {
            // Before the first collection: only the health families.
            snapshot::render(&view, &self.labels, &mut out);
        }
        exporter_core::build_info(
            &mut out,
            "kafka_exporter",
            &BuildInfo {
                version: env!("CARGO_PKG_VERSION"),
                // Set at build time by whoever builds a release (as node-exporter reads them).
                revision: option_env!("GIT_REVISION").unwrap_or("unknown"),
                branch: option_env!("GIT_BRANCH").unwrap_or("unknown"),
            },
        );
        Box::pin(async move { Ok::<_, HttpError>(Scrape { head: out, tail }) })
    }

    /// 200 when the last collection reached the cluster and is recent (within three
    /// intervals), 503 with the reason otherwise.
    fn health(&self) -> (u16, String) {
        let view = self.shared.get();
        if view.last_duration.is_none() {
            return (503, "no collection yet\n".to_string());
        }
        if !view.up {
            return (
                503,
                "Kafka unreachable: last collection failed\n".to_string(),
            );
        }
        let age = view.last_success.map(|t| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
                - t
        });
        match age {
            Some(a) if a <= 3.0 * self.interval.as_secs_f64() + 30.0 => {
                (200, format!("OK: last collection {a:.1}s ago\n"))
            }
            Some(a) => (503, format!("stale: last collection {a:.1}s ago\n")),
            None => (503, "no collection yet\n".to_string()),
        }
    }
}

/// Validates the flags, starts the collector, binds and serves until SIGTERM or SIGINT; then
/// drains for 5 s and exits, leaving the collector behind.
pub fn run(cli: Cli) -> Result<(), RunError> {
    let settings = Settings::from_args(&cli.web, landing())?;
    let cfg = cli.config()?;
    let client = collector::client_settings(&cfg)
        .map_err(|e| UsageError::new(format!("Kafka client settings: {e}")))?;
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let listeners = settings.bind()?;
    let busy = Busy::new();
    // The collector's thread is never joined: a collection waiting on a broker that does not
    // answer (up to its request deadline) ends with the process rather than holding it up; a
    // shutdown names it only when one is under way.
    let collecting = busy.counter("kafka collection");
    let shared = Arc::new(collector::Shared::default());
    let app = KafkaApp {
        shared: Arc::clone(&shared),
        labels: cfg.labels.clone(),
        interval: cfg.interval,
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        servers = %cfg.servers.join(","),
        "Starting kafka-exporter"
    );
    std::thread::Builder::new()
        .name("collector".into())
        .spawn(move || collector::run(cfg, client, shared, collecting))
        .map_err(anyhow::Error::from)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    let served = rt.block_on(server::serve(
        listeners,
        settings,
        Arc::new(app),
        busy.clone(),
        shutdown::signal(busy.clone()),
    ));
    shutdown::finish(rt, &busy, served)?;
    Ok(())
}

/// The landing page text.
pub fn landing() -> Landing {
    Landing {
        name: "Kafka Exporter",
        description: "Prometheus Kafka Exporter (Rust, drop-in for danielqsj/kafka_exporter)",
        version: env!("CARGO_PKG_VERSION"),
    }
}
