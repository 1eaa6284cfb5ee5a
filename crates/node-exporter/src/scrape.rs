//! One scrape: run the selected collectors on a few worker threads under a deadline, then add
//! `node_scrape_collector_duration_seconds` and `node_scrape_collector_success` for each.
//!
//! Workers come from the runtime's blocking pool (see [`crate::threads`]): a collector stuck in the
//! kernel (a hung NFS mount, node_exporter issue #244) keeps its thread, the pool starts another
//! for the next scrape, and the scrape itself answers at the deadline. Each collector's runs are
//! counted in the daemon's [`Busy`], so a shutdown that leaves one stuck names it.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use exporter_core::cli::UsageError;
use exporter_core::server::{App, HttpError, ScrapeFuture, ScrapeRequest};
use exporter_core::{BuildInfo, Busy, Exposition, InFlight, MetricType};

use crate::cli::Cli;
use crate::collector::{self, CollectError, Collector};

type Named = (&'static str, Arc<dyn Collector>);

pub struct NodeApp {
    /// The enabled collectors, in name order.
    collectors: Vec<Named>,
    timeout: Duration,
    workers: usize,
}

impl NodeApp {
    /// Builds every enabled collector; a bad collector flag (a regex, a path) is a usage error.
    /// Each registers in `busy` what it may leave running at shutdown.
    pub fn from_cli(cli: &Cli, busy: &Busy) -> Result<Self, UsageError> {
        let paths = cli.paths();
        let mut collectors = Vec::new();
        for (name, _) in collector::ALL {
            if cli.enabled.iter().any(|e| e == name) {
                let c = collector::build(name, &paths, &cli.collectors)?;
                let c: Arc<dyn Collector> = Arc::new(Counted::register(name, c, busy));
                collectors.push((*name, c));
            }
        }
        // node_exporter runs on one OS thread by default (--runtime.gomaxprocs=1); so do our
        // collectors. On a 2-CPU host one worker used 20% less CPU per scrape than two, for the
        // same latency: two workers contend for the allocator and wake each other.
        let workers = usize::try_from(cli.gomaxprocs).unwrap_or(1).clamp(1, 16);
        Ok(Self {
            collectors,
            timeout: cli.collector_timeout,
            workers,
        })
    }

    /// The collectors a request asks for: all, or those named by `collect[]`, or all but those
    /// named by `exclude[]`. Naming a collector that is not enabled is a 400, as upstream.
    fn select(&self, query: Option<&str>) -> Result<Vec<Named>, HttpError> {
        let (mut collect, mut exclude) = (Vec::new(), Vec::new());
        for (k, v) in query.map(parse_query).unwrap_or_default() {
            match k.as_str() {
                "collect[]" => collect.push(v),
                "exclude[]" => exclude.push(v),
                _ => {}
            }
        }
        if !collect.is_empty() && !exclude.is_empty() {
            return Err(HttpError::bad_request(
                "cannot use both collect[] and exclude[] in one request",
            ));
        }
        for name in collect.iter().chain(&exclude) {
            if !self.collectors.iter().any(|(n, _)| n == name) {
                let why = if collector::ALL.iter().any(|(n, _)| n == name) {
                    "disabled"
                } else {
                    "missing"
                };
                return Err(HttpError::bad_request(format!(
                    "couldn't create filtered metrics handler: {why} collector: {name}"
                )));
            }
        }
        Ok(self
            .collectors
            .iter()
            .filter(|(n, _)| collect.is_empty() || collect.iter().any(|c| c == n))
            .filter(|(n, _)| !exclude.iter().any(|c| c == n))
            .cloned()
            .collect())
    }
}

/// A collector whose runs are counted in the daemon's [`Busy`] (`collector textfile=1`), with its
/// calls stuck in the kernel (`collector filesystem stuck calls=1`).
struct Counted {
    inner: Arc<dyn Collector>,
    running: Arc<AtomicI64>,
}

impl Counted {
    fn register(name: &str, inner: Box<dyn Collector>, busy: &Busy) -> Self {
        let inner: Arc<dyn Collector> = Arc::from(inner);
        let running = busy.counter(format!("collector {name}"));
        let probed = inner.clone();
        busy.probe(format!("collector {name} stuck calls"), move || {
            probed.stuck()
        });
        Self { inner, running }
    }
}

impl Collector for Counted {
    fn update(&self, out: &mut Exposition) -> collector::CollectResult {
        let _running = InFlight::enter(&self.running);
        self.inner.update(out)
    }

    fn stuck(&self) -> usize {
        self.inner.stuck()
    }
}

impl App for NodeApp {
    fn scrape(&self, req: ScrapeRequest) -> ScrapeFuture {
        let selected = self.select(req.query.as_deref());
        // Leave Prometheus a little of its own timeout to receive the answer.
        let deadline = match req.timeout {
            Some(t) => self.timeout.min(t.mul_f64(0.9)),
            None => self.timeout,
        };
        let workers = self.workers;
        Box::pin(async move { Ok(collect_all(selected?, workers, deadline).await.into()) })
    }
}

struct Outcome {
    elapsed: Duration,
    /// What the collector wrote, kept even when it then failed: node_exporter sends samples as
    /// it goes, so a collector that fails half-way still exposes its first half.
    out: Exposition,
    result: collector::CollectResult,
}

/// What the workers of one scrape share. Results go into per-collector slots, so a worker hands
/// over each result without waking anyone; the scrape is woken once, when the last collector is
/// done (or by its deadline). Cross-thread wake-ups and allocator contention between workers were
/// the largest CPU costs of a scrape after the kernel's own work of producing the files.
struct Shared {
    collectors: Vec<Named>,
    next: AtomicUsize,
    slots: Mutex<Vec<Option<Outcome>>>,
    completed: AtomicUsize,
    done: tokio::sync::Notify,
}

impl Shared {
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some((_, c)) = self.collectors.get(i) else {
                break;
            };
            let t0 = Instant::now();
            let mut out = Exposition::new();
            // A bug in one collector fails that collector only: without this the worker
            // thread dies, `completed` never reaches `n`, and every scrape waits out its
            // deadline. What it wrote before panicking is kept, as for any failure.
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.update(&mut out)))
                    .unwrap_or_else(|panic| {
                        let why = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a non-string payload".to_string());
                        Err(anyhow::anyhow!("collector panicked: {why}").into())
                    });
            let outcome = Outcome {
                elapsed: t0.elapsed(),
                out,
                result,
            };
            // The scrape may have given up and taken the slots already (its deadline passed):
            // then this result is simply dropped.
            if let Ok(mut slots) = self.slots.lock() {
                if let Some(slot) = slots.get_mut(i) {
                    *slot = Some(outcome);
                }
            }
            if self.completed.fetch_add(1, Ordering::AcqRel) + 1 == self.collectors.len() {
                self.done.notify_one();
            }
        }
    }

    fn spawn_worker(self: &Arc<Self>) -> bool {
        let s = self.clone();
        match crate::threads::spawn("collector", move || s.work()) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(err = %e, "cannot start a collector thread");
                false
            }
        }
    }
}

/// How long the scrape lets its workers run before it suspects one is stuck and starts another,
/// so that the collectors queued behind a stuck one still run before the deadline.
const STALL: Duration = Duration::from_millis(500);
/// At most this many workers join a scrape because of stalls.
const MAX_STALL_WORKERS: usize = 8;

/// Runs the collectors on `workers` threads (more if one stalls) and gathers what finished by the
/// deadline.
pub async fn collect_all(collectors: Vec<Named>, workers: usize, deadline: Duration) -> Exposition {
    let start = Instant::now();
    let n = collectors.len();
    let names: Vec<&'static str> = collectors.iter().map(|(n, _)| *n).collect();
    let shared = Arc::new(Shared {
        collectors,
        next: AtomicUsize::new(0),
        slots: Mutex::new((0..n).map(|_| None).collect()),
        completed: AtomicUsize::new(0),
        done: tokio::sync::Notify::new(),
    });
    let mut started = 0;
    for _ in 0..workers.clamp(1, n.max(1)) {
        started += usize::from(shared.spawn_worker());
    }
    let mut stall_workers = 0;
    // Nothing to wait for without a worker or a collector; otherwise until done or the deadline.
    while started > 0 && n > 0 && start.elapsed() < deadline {
        let left = deadline.saturating_sub(start.elapsed());
        // `notify_one` keeps a permit when nobody waits yet, so an early finish is not lost.
        match tokio::time::timeout(left.min(STALL), shared.done.notified()).await {
            Ok(()) => break,
            Err(_) => {
                let queued = shared.next.load(Ordering::Relaxed) < n;
                if queued && stall_workers < MAX_STALL_WORKERS && shared.spawn_worker() {
                    stall_workers += 1;
                    tracing::debug!(
                        stall_workers,
                        "a collector is slow; another worker takes the queue"
                    );
                }
            }
        }
    }
    let mut outcomes: Vec<Option<Outcome>> = match shared.slots.lock() {
        Ok(mut slots) => std::mem::take(&mut *slots),
        Err(_) => Vec::new(),
    };
    outcomes.resize_with(n, || None);

    let mut out = Exposition::new();
    crate::build_info(&mut out);
    let mut durations = Vec::with_capacity(names.len());
    for (name, outcome) in names.iter().zip(outcomes) {
        let (elapsed, ok) = match outcome {
            Some(o) => {
                out.merge(o.out);
                let ok = match o.result {
                    Ok(()) => true,
                    Err(CollectError::NoData(why)) => {
                        tracing::debug!(name, duration_seconds = o.elapsed.as_secs_f64(), err = %why, "collector returned no data");
                        false
                    }
                    Err(e) => {
                        tracing::warn!(name, duration_seconds = o.elapsed.as_secs_f64(), err = %format!("{e:#}"), "collector failed");
                        false
                    }
                };
                (o.elapsed, ok)
            }
            None => {
                tracing::warn!(
                    name,
                    deadline_seconds = deadline.as_secs_f64(),
                    "collector timed out; answering without it"
                );
                (start.elapsed(), false)
            }
        };
        durations.push((*name, elapsed, ok));
    }
    let fam = out.family(
        "node_scrape_collector_duration_seconds",
        "node_exporter: Duration of a collector scrape.",
        MetricType::Gauge,
    );
    for (name, elapsed, _) in &durations {
        fam.sample(&[("collector", name)], elapsed.as_secs_f64());
    }
    let fam = out.family(
        "node_scrape_collector_success",
        "node_exporter: Whether a collector succeeded.",
        MetricType::Gauge,
    );
    for (name, _, ok) in &durations {
        fam.sample(&[("collector", name)], if *ok { 1.0 } else { 0.0 });
    }
    out
}

/// `k=v&k2=v2`, percent-decoded (`collect%5B%5D=cpu` is how most clients send `collect[]`).
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The build facts of this binary.
pub fn build_facts() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        revision: option_env!("GIT_REVISION").unwrap_or("unknown"),
        branch: option_env!("GIT_BRANCH").unwrap_or("unknown"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(f64);
    impl Collector for Fixed {
        fn update(&self, out: &mut Exposition) -> collector::CollectResult {
            out.gauge("node_test_value", "Test.", &[], self.0);
            Ok(())
        }
    }
    struct Failing;
    impl Collector for Failing {
        fn update(&self, _out: &mut Exposition) -> collector::CollectResult {
            Err(anyhow::anyhow!("boom").into())
        }
    }
    struct Hung;
    impl Collector for Hung {
        fn update(&self, _out: &mut Exposition) -> collector::CollectResult {
            std::thread::sleep(Duration::from_secs(3));
            Ok(())
        }
    }

    fn render(e: Exposition) -> String {
        String::from_utf8(e.to_bytes()).unwrap()
    }

    #[tokio::test]
    async fn failing_and_hung_collectors_leave_the_rest() {
        let cs: Vec<Named> = vec![
            ("a", Arc::new(Fixed(7.0))),
            ("b", Arc::new(Failing)),
            ("c", Arc::new(Hung)),
        ];
        let t0 = Instant::now();
        let text = render(collect_all(cs, 2, Duration::from_millis(300)).await);
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "the deadline was not kept"
        );
        assert!(text.contains("node_test_value 7\n"), "{text}");
        assert!(text.contains("node_scrape_collector_success{collector=\"a\"} 1\n"));
        assert!(text.contains("node_scrape_collector_success{collector=\"b\"} 0\n"));
        assert!(text.contains("node_scrape_collector_success{collector=\"c\"} 0\n"));
    }

    #[tokio::test]
    async fn a_stalled_collector_does_not_hold_up_the_queue_behind_it() {
        // One worker, and the first collector hangs: a second worker takes over the queue.
        let cs: Vec<Named> = vec![
            ("c", Arc::new(Hung)),
            ("a", Arc::new(Fixed(7.0))),
            ("b", Arc::new(Failing)),
        ];
        let t0 = Instant::now();
        let text = render(collect_all(cs, 1, Duration::from_millis(1500)).await);
        assert!(
            t0.elapsed() < Duration::from_millis(2500),
            "the deadline was not kept"
        );
        assert!(text.contains("node_test_value 7\n"), "{text}");
        assert!(text.contains("node_scrape_collector_success{collector=\"a\"} 1\n"));
        assert!(text.contains("node_scrape_collector_success{collector=\"c\"} 0\n"));
    }

    /// Blocks until its sender is dropped.
    struct Blocked(Mutex<std::sync::mpsc::Receiver<()>>);
    impl Collector for Blocked {
        fn update(&self, _out: &mut Exposition) -> collector::CollectResult {
            let _ = self.0.lock().unwrap().recv();
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_collector_still_running_is_named_busy_until_it_returns() {
        let busy = Busy::new();
        let (release, rx) = std::sync::mpsc::channel();
        let blocked = Counted::register("blocked", Box::new(Blocked(Mutex::new(rx))), &busy);
        let fixed = Counted::register("fixed", Box::new(Fixed(1.0)), &busy);
        let cs: Vec<Named> = vec![("blocked", Arc::new(blocked)), ("fixed", Arc::new(fixed))];
        collect_all(cs, 2, Duration::from_millis(200)).await;
        assert_eq!(busy.summary().as_deref(), Some("collector blocked=1"));
        drop(release);
        let t0 = Instant::now();
        while busy.summary().is_some() {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "{:?}",
                busy.summary()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    struct Panicking;
    impl Collector for Panicking {
        fn update(&self, out: &mut Exposition) -> collector::CollectResult {
            out.gauge("node_test_half", "Test.", &[], 1.0);
            panic!("a collector bug");
        }
    }

    #[tokio::test]
    async fn a_panicking_collector_fails_alone_and_does_not_hold_the_scrape() {
        let cs: Vec<Named> = vec![("a", Arc::new(Fixed(7.0))), ("p", Arc::new(Panicking))];
        let t0 = Instant::now();
        let text = render(collect_all(cs, 1, Duration::from_secs(20)).await);
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the scrape waited for the deadline: {:?}",
            t0.elapsed()
        );
        assert!(text.contains("node_test_value 7\n"), "{text}");
        assert!(text.contains("node_scrape_collector_success{collector=\"a\"} 1\n"));
        assert!(text.contains("node_scrape_collector_success{collector=\"p\"} 0\n"));
    }

    #[test]
    fn a_worker_finishing_after_the_scrape_gave_up_does_not_panic() {
        // As with a deadline of a nanosecond: the scrape has taken the slots before any
        // worker hands its result over.
        let shared = Arc::new(Shared {
            collectors: vec![("a", Arc::new(Fixed(1.0)) as Arc<dyn Collector>)],
            next: AtomicUsize::new(0),
            slots: Mutex::new(vec![None]),
            completed: AtomicUsize::new(0),
            done: tokio::sync::Notify::new(),
        });
        drop(std::mem::take(&mut *shared.slots.lock().unwrap()));
        let s = shared.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || s.work()));
        assert!(r.is_ok(), "the late worker panicked");
    }

    #[test]
    fn query_parsing() {
        assert_eq!(
            parse_query("collect%5B%5D=cpu&collect[]=meminfo&x"),
            vec![
                ("collect[]".to_string(), "cpu".to_string()),
                ("collect[]".to_string(), "meminfo".to_string()),
                ("x".to_string(), String::new())
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
