//! Ending a daemon on SIGTERM or SIGINT in bounded time, whatever is stuck.
//!
//! The first signal starts the drain: the server stops accepting and gives the requests in flight
//! their grace period ([`crate::server::Settings::shutdown_grace`]). Then the daemon logs one line
//! naming what it abandons ([`report`], from its [`Busy`] registry) and stops its runtime without
//! waiting for blocking threads that may never return ([`stop_runtime`]): a collector opening a
//! FIFO, or in `statfs(2)` on a dead NFS server, sits in the kernel, and dropping a tokio
//! `Runtime` waits for every blocking-pool thread, forever in that case. Returning from `main`
//! then ends the process, stuck threads included, with exit code 0: within the grace period and
//! [`STOP_TIMEOUT`].
//!
//! A second signal during the drain exits at once, as pressing Ctrl-C twice does for Prometheus
//! (and as an operator who has seen the first one hang expects).

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal as listen, Signal, SignalKind};

use crate::Busy;

/// How long a runtime (or a worker thread) gets to stop once the drain is over, before the
/// process exits without it: idle threads leave at once, and waiting longer for a stuck one
/// gains nothing. A quarter of the one second the daemons promise after their grace period.
pub const STOP_TIMEOUT: Duration = Duration::from_millis(250);

/// Resolves on the first SIGTERM or SIGINT. From then on, for as long as the runtime that polled
/// it runs, a second one logs what is abandoned and ends the process at once, with code 0: the
/// operator asked for the stop twice, and a supervisor should not count it as a crash.
pub async fn signal(busy: Arc<Busy>) {
    let mut signals = Signals::listen();
    let first = signals.next().await;
    tracing::info!("received {first}");
    tokio::spawn(async move {
        let second = signals.next().await;
        match busy.summary() {
            Some(abandoned) => tracing::warn!(
                signal = second,
                %abandoned,
                "second signal during the drain; exiting now"
            ),
            None => tracing::warn!(
                signal = second,
                "second signal during the drain; exiting now"
            ),
        }
        std::process::exit(0);
    });
}

/// Logs the one line that ends a drain: what is still running and will be abandoned, if anything.
pub fn report(busy: &Busy) {
    match busy.summary() {
        Some(abandoned) => tracing::warn!(
            %abandoned,
            "drain over; exiting without waiting for what is still running"
        ),
        None => tracing::info!("drained; exiting"),
    }
}

/// Stops `rt`: cancels its tasks and waits at most [`STOP_TIMEOUT`] for its blocking-pool
/// threads (idle ones leave at once; stuck ones are left to the process exit).
pub fn stop_runtime(rt: tokio::runtime::Runtime) {
    rt.shutdown_timeout(STOP_TIMEOUT);
}

/// What a daemon calls with the outcome of its server: [`report`] after a drain (a server that
/// failed has its own error to tell), then [`stop_runtime`] either way.
pub fn finish(
    rt: tokio::runtime::Runtime,
    busy: &Busy,
    served: anyhow::Result<()>,
) -> anyhow::Result<()> {
    if served.is_ok() {
        report(busy);
    }
    stop_runtime(rt);
    served
}

/// SIGTERM (what Kubernetes, docker and systemd send to start a graceful shutdown) and SIGINT
/// (Ctrl-C), listened to for the life of the process once registered.
struct Signals {
    term: Option<Signal>,
    int: Option<Signal>,
}

impl Signals {
    fn listen() -> Self {
        let one = |kind, name: &str| match listen(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(err = %e, "cannot listen for {name}");
                None
            }
        };
        Self {
            term: one(SignalKind::terminate(), "SIGTERM"),
            int: one(SignalKind::interrupt(), "SIGINT"),
        }
    }

    /// The next signal's name. A signal that came while nobody waited is not lost.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            () = recv(&mut self.term) => "SIGTERM",
            () = recv(&mut self.int) => "SIGINT",
        }
    }
}

/// Resolves when `s` delivers; never when it could not be registered or its runtime is gone.
async fn recv(s: &mut Option<Signal>) {
    if let Some(s) = s {
        if s.recv().await.is_some() {
            return;
        }
    }
    std::future::pending().await
}
