//! `gateway-sidecar`: a reverse proxy that sits in front of one service (same pod or compose
//! network) and derives from the traffic it passes the metrics the platform's monitoring design
//! asks of every service, with no change to the app:
//!
//! - `http_requests_total{method,route,status_code}` and
//!   `http_request_duration_seconds{method,route}` (prom-client's buckets by default);
//! - `auth_requests_total{type,status}` for login, logout, refresh and OIDC callback;
//! - `auth_active_sessions`, counted from cookies and tokens without keeping them
//!   (see [`sessions`]);
//! - `user_operations_total{operation}` for create, update, delete and authenticate.
//!
//! [`routes`] reads the rules file that names routes, [`proxy`] forwards requests, [`conn`]
//! guards client connections, [`metrics`] holds the counters. The metrics are served by
//! exporter-core on `--web.listen-address` (so `--web.config.file` TLS and basic auth apply),
//! and optionally on the proxy port too.

mod app_metrics;
mod body;
mod cli;
mod conn;
mod headers;
mod metrics;
mod proxy;
mod router;
mod routes;
mod sessions;
mod upstream;

/// Entry points for the fuzz targets in `fuzz/` (not an API): the sidecar's parsers of
/// untrusted input (JWT claims through [`Keyer::credential`], `Set-Cookie`, HTTP dates, route
/// rules and paths), re-exported as they are.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::routes::{normalize, Config as RoutesConfig};
    pub use crate::sessions::{parse_http_date, set_cookie, Keyer};
}

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use exporter_core::cli::UsageError;
use exporter_core::server::{self, App, Landing, ScrapeFuture, ScrapeRequest, Settings};
use exporter_core::{shutdown, BuildInfo, Busy};
use tokio::sync::{oneshot, watch};

pub use cli::Cli;
use proxy::{Options, Proxy};
use routes::Config;
use upstream::Upstream;

pub use exporter_core::RunError;

/// Where the rules come from, for reloads.
#[derive(Clone)]
struct RulesSource {
    file: Option<PathBuf>,
    prefix: Option<String>,
}

impl RulesSource {
    fn load(&self) -> Result<Config, UsageError> {
        match &self.file {
            Some(p) => Config::load(p, self.prefix.as_deref()),
            None => Config::builtin(self.prefix.as_deref()),
        }
    }
}

/// Checks everything, binds both ports, and proxies until SIGTERM or SIGINT; then drains both
/// ports for `--proxy.shutdown-grace` and exits, cutting what is still open.
pub fn run(cli: Cli) -> Result<(), RunError> {
    cli.validate()?;
    let source = RulesSource {
        file: cli.rules_file.clone(),
        prefix: cli.prefix.clone(),
    };
    let config = source.load()?;
    let upstream = Upstream::parse(&cli.upstream).map_err(UsageError::new)?;
    let mut settings = Settings::from_args(&cli.web, landing())?;
    // The metrics port drains on the proxy's grace period: one promise for the whole sidecar.
    settings.shutdown_grace = cli.shutdown_grace;
    let opts = Options {
        upstream_timeout: cli.upstream_timeout,
        connect_timeout: cli.connect_timeout,
        pool_idle_timeout: cli.pool_idle_timeout,
        pool_max_idle: cli.pool_max_idle,
        body_timeout: cli.body_timeout,
        header_timeout: cli.header_timeout,
        idle_timeout: cli.idle_timeout,
        max_headers: cli.max_headers,
        max_header_bytes: cli.max_header_bytes,
        max_connections: cli.max_connections,
        shutdown_grace: cli.shutdown_grace,
        metrics_path: cli.proxy_metrics_path.clone(),
        app_metrics_path: cli.app_metrics_path.clone(),
        app_metrics_timeout: cli.app_metrics_timeout,
        exporter_metrics: settings.exporter_metrics,
        send_timeout: cli.send_timeout,
        tunnel_idle_timeout: cli.tunnel_idle_timeout,
        trusted: headers::TrustedHops::parse(&cli.trusted_proxies).map_err(UsageError::new)?,
        // The proxy port's metrics path asks for the same basic auth (and rate limit) as the
        // metrics port: the web config is loaded a second time (it was checked a moment ago),
        // as the core's server takes its own by value.
        web: match &cli.web.config_file {
            Some(_) => Some(Arc::new(Settings::from_args(&cli.web, landing())?)),
            None => None,
        },
    };

    let web_listeners = settings.bind()?;
    let proxy_listener =
        exporter_core::server::bind_address(&cli.proxy_listen, "--proxy.listen-address")?;

    let workers = match cli.worker_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // The control runtime: metrics listener, signals, session sweeps.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        rules = source
            .file
            .as_ref()
            .map_or("built-in".to_string(), |p| p.display().to_string()),
        workers,
        "Starting gateway-sidecar"
    );
    let proxy = Arc::new(Proxy::new(upstream, config, opts, workers)?);
    tracing::info!(address = %proxy_listener.local_addr().map_err(anyhow::Error::from)?, upstream = %proxy.upstream_display(), "Proxying on");
    let busy = Busy::new();
    {
        let drain = proxy.drain.clone();
        busy.probe("proxy connections", move || drain.open());
    }
    // `tx`: stop accepting, let in-flight requests finish. `cut_tx`: the drain is over, the
    // workers stop their runtimes and whatever is still open with them.
    let (tx, rx) = watch::channel(false);
    let tx = Arc::new(tx);
    let (cut_tx, cut_rx) = watch::channel(false);

    // The workers: one single-threaded runtime each, fed connections by the accept loop. Their
    // threads are never joined (one stuck in a system call would hold the exit): each reports
    // its end on a channel instead, which the control thread waits on for a bounded time.
    let mut ended = Vec::with_capacity(workers);
    let mut feeds = Vec::with_capacity(workers);
    for i in 0..workers {
        let proxy = proxy.clone();
        let rx = rx.clone();
        let cut = cut_rx.clone();
        let tx = tx.clone();
        let (feed, conns) = tokio::sync::mpsc::unbounded_channel();
        feeds.push(feed);
        let (end_tx, end_rx) = oneshot::channel::<anyhow::Result<()>>();
        ended.push(end_rx);
        std::thread::Builder::new()
            .name(format!("proxy-{i}"))
            .spawn(move || {
                let r = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(anyhow::Error::from)
                    .and_then(|rt| {
                        let r = rt.block_on(conn::work(proxy, i, conns, rx, cut));
                        // The drain is over; open tunnels and late requests are cut here.
                        rt.shutdown_timeout(Duration::from_millis(100));
                        r
                    });
                if r.is_err() {
                    // A worker that cannot serve takes the process down with it.
                    let _ = tx.send(true);
                }
                let _ = end_tx.send(r);
            })
            .context("starting a worker thread")?;
    }

    let result = rt.block_on(async {
        let sig_tx = tx.clone();
        let sig_busy = busy.clone();
        tokio::spawn(async move {
            shutdown::signal(sig_busy).await;
            tracing::info!("shutting down: not accepting, letting in-flight requests finish");
            let _ = sig_tx.send(true);
        });
        tokio::spawn(reload_on_sighup(proxy.clone(), source));
        tokio::spawn(sweep_sessions(proxy.clone()));
        let app: Arc<dyn App> = Arc::new(SidecarApp(proxy.clone()));
        let mut web_rx = rx.clone();
        let web = async {
            let until = async move { conn::until_shutdown(&mut web_rx).await };
            let w = server::serve(web_listeners, settings, app, busy.clone(), until).await;
            // A metrics port that cannot serve stops the proxy too, rather than waiting for a
            // signal.
            if w.is_err() {
                let _ = tx.send(true);
            }
            w
        };
        let acceptor = async {
            let a = conn::accept(proxy_listener, proxy.clone(), feeds, rx.clone()).await;
            if a.is_err() {
                let _ = tx.send(true);
            }
            a
        };
        // The proxy's drain, on the control thread for all workers: one deadline, one report.
        let drain = async {
            conn::until_shutdown(&mut rx.clone()).await;
            let grace = proxy.opts.shutdown_grace;
            let _ = tokio::time::timeout(grace, proxy.drain.wait_zero()).await;
        };
        let (w, a, ()) = tokio::join!(web, acceptor, drain);
        let mut result = w.and(a);
        if result.is_ok() {
            shutdown::report(&busy);
        }
        let _ = cut_tx.send(true);
        let deadline = tokio::time::Instant::now() + shutdown::STOP_TIMEOUT;
        for (i, end) in ended.into_iter().enumerate() {
            match tokio::time::timeout_at(deadline, end).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => result = Err(e),
                Ok(Err(_)) => result = Err(anyhow::anyhow!("a worker thread panicked")),
                Err(_) => tracing::warn!(
                    worker = i,
                    "a proxy worker did not stop in time; leaving it"
                ),
            }
        }
        result
    });
    shutdown::stop_runtime(rt);
    result.map_err(RunError::Fatal)
}

/// SIGHUP: read the rules again; a bad file keeps the old rules and says why.
async fn reload_on_sighup(proxy: Arc<Proxy>, source: RulesSource) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(err = %e, "cannot listen for SIGHUP; reloads disabled");
            return;
        }
    };
    while hup.recv().await.is_some() {
        match source.load() {
            Ok(config) => {
                let n = config.rules.len();
                proxy.reload(config);
                proxy.metrics.reloaded(true);
                tracing::info!(rules = n, "reloaded the rules");
            }
            Err(e) => {
                proxy.metrics.reloaded(false);
                tracing::warn!(err = %e, "reload failed; keeping the previous rules");
            }
        }
    }
}

/// Idle sessions leave the table every second; JWT expiries are swept every ten (and at every
/// scrape, so the gauge is exact when read).
async fn sweep_sessions(proxy: Arc<Proxy>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        proxy.sessions.sweep(n.is_multiple_of(10));
    }
}

/// The metrics listener's view of the sidecar.
struct SidecarApp(Arc<Proxy>);

impl App for SidecarApp {
    fn scrape(&self, _req: ScrapeRequest) -> ScrapeFuture {
        let proxy = self.0.clone();
        Box::pin(async move { Ok(proxy.scrape().await.into()) })
    }
}

/// Version facts for `gateway_sidecar_build_info`.
pub fn build_facts() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        revision: option_env!("GIT_REVISION").unwrap_or("unknown"),
        branch: option_env!("GIT_BRANCH").unwrap_or("unknown"),
    }
}

/// The landing page text.
pub fn landing() -> Landing {
    Landing {
        name: "Gateway Sidecar",
        description: "HTTP, auth and session metrics derived from a service's traffic",
        version: env!("CARGO_PKG_VERSION"),
    }
}
