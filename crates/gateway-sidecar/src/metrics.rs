//! The live counters and histograms, on atomics, and their rendering into exporter-core's
//! [`Exposition`].
//!
//! A request costs a route lookup (done by the rules), then lock-free increments: each route
//! holds one lazily created series per method label, each series a fixed histogram and a few
//! status-code slots. Label sets are bounded: routes come from the rules file plus at most
//! `max_routes` normalised ones, methods are ten values, status codes are what HTTP allows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use exporter_core::{Exposition, MetricType};

use crate::routes::{AuthType, UserOp, METHOD_LABELS, UNMATCHED};
use crate::sessions::SessionTable;

/// Why the sidecar answered a request itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    /// Could not connect (refused, unreachable): 502.
    Connect,
    /// No response headers, or no connection, in time: 504.
    Timeout,
    /// The upstream broke the exchange (reset, malformed response): 502.
    Error,
}

impl UpstreamError {
    const ALL: [UpstreamError; 3] = [
        UpstreamError::Connect,
        UpstreamError::Timeout,
        UpstreamError::Error,
    ];
    fn as_str(self) -> &'static str {
        match self {
            UpstreamError::Connect => "connect",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Error => "error",
        }
    }
    pub fn status(self) -> u16 {
        match self {
            UpstreamError::Timeout => 504,
            _ => 502,
        }
    }
}

/// Requests refused before they reached a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Headers not complete within the header timeout: 408.
    HeaderTimeout,
    /// Headers too large or too many: 431.
    HeaderTooLarge,
    /// The request body stalled longer than the body timeout: 408.
    BodyTimeout,
}

const STATUS_SLOTS: usize = 6;

/// Counts per status code: a few lock-free slots claimed on first use, then a locked overflow
/// for series that see many distinct codes.
struct StatusCounts {
    slots: [(AtomicU16, AtomicU64); STATUS_SLOTS],
    overflow: Mutex<Vec<(u16, u64)>>,
}

impl StatusCounts {
    fn new() -> Self {
        Self {
            slots: std::array::from_fn(|_| (AtomicU16::new(0), AtomicU64::new(0))),
            overflow: Mutex::new(Vec::new()),
        }
    }

    fn add(&self, code: u16) {
        for (c, n) in &self.slots {
            let cur = c.load(Ordering::Acquire);
            if cur == code {
                n.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if cur == 0 {
                match c.compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {
                        n.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Err(other) if other == code => {
                        n.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Err(_) => {}
                }
            }
        }
        let mut o = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
        match o.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => o.push((code, 1)),
        }
    }

    fn snapshot(&self) -> Vec<(u16, u64)> {
        let mut v: Vec<(u16, u64)> = self
            .slots
            .iter()
            .filter_map(|(c, n)| {
                let c = c.load(Ordering::Acquire);
                (c != 0).then(|| (c, n.load(Ordering::Relaxed)))
            })
            .collect();
        v.extend(
            self.overflow
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .copied(),
        );
        v.sort_unstable();
        v
    }
}

/// One (route, method) series of one worker: request counts by status and the duration
/// histogram. Each worker thread writes its own copy (cache-line aligned), so two workers never
/// contend on a counter; a scrape adds them up.
#[repr(align(64))]
pub struct Series {
    statuses: StatusCounts,
    /// Per-bucket (not cumulative) counts; the last is +Inf.
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
    count: AtomicU64,
}

impl Series {
    fn new(n_bounds: usize) -> Self {
        Self {
            statuses: StatusCounts::new(),
            buckets: (0..=n_bounds).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

/// Everything recorded for one `route` label: per method, one series per worker.
pub struct RouteStats {
    name: Box<str>,
    methods: [OnceLock<Box<[Series]>>; METHOD_LABELS.len()],
}

impl RouteStats {
    fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            methods: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

#[derive(Default)]
struct RouteTable {
    by_name: HashMap<Box<str>, Arc<RouteStats>>,
    /// How many entries came from the normaliser (capped).
    dynamic: usize,
}

/// All the sidecar's live metrics.
pub struct Metrics {
    bounds: Box<[f64]>,
    /// Series copies per (route, method): one per worker thread, plus one for the rest.
    shards: usize,
    routes: RwLock<RouteTable>,
    unmatched: Arc<RouteStats>,
    auth: [[AtomicU64; 2]; 4],
    user_ops: [AtomicU64; 4],
    upstream_errors: [AtomicU64; 3],
    rejected: [AtomicU64; 3],
    route_overflow: AtomicU64,
    in_flight: Box<[Padded]>,
    pub open_connections: AtomicI64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    last_reload_ok: AtomicBool,
    /// 1 or 0 after the last fetch of the app's metrics; -1 when merging is off.
    pub app_metrics_up: AtomicI64,
    pub tunnels: AtomicI64,
}

/// A counter alone on its cache line.
#[repr(align(64))]
#[derive(Default)]
struct Padded(AtomicI64);

impl Metrics {
    /// `workers`: how many threads record requests (each gets its own shard).
    pub fn new(bounds: &[f64], workers: usize) -> Self {
        let shards = workers.max(1);
        let unmatched = Arc::new(RouteStats::new(UNMATCHED));
        let mut table = RouteTable::default();
        table.by_name.insert(UNMATCHED.into(), unmatched.clone());
        Self {
            bounds: bounds.into(),
            shards,
            routes: RwLock::new(table),
            unmatched,
            auth: Default::default(),
            user_ops: Default::default(),
            upstream_errors: Default::default(),
            rejected: Default::default(),
            route_overflow: AtomicU64::new(0),
            in_flight: (0..shards).map(|_| Padded::default()).collect(),
            open_connections: AtomicI64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            last_reload_ok: AtomicBool::new(true),
            app_metrics_up: AtomicI64::new(-1),
            tunnels: AtomicI64::new(0),
        }
    }

    /// The histogram bounds in use (fixed for the life of the process).
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    pub fn unmatched_ref(&self) -> &RouteStats {
        &self.unmatched
    }

    /// The stats of a route named by a rule (uncapped: rules are finite).
    pub fn rule_route(&self, name: &str) -> Arc<RouteStats> {
        if let Some(r) = self.read_routes().by_name.get(name) {
            return r.clone();
        }
        let mut t = self.routes.write().unwrap_or_else(|e| e.into_inner());
        t.by_name
            .entry(name.into())
            .or_insert_with(|| Arc::new(RouteStats::new(name)))
            .clone()
    }

    /// The stats of a normalised route, or of `unmatched` once `cap` such routes exist.
    pub fn dynamic_route(&self, name: &str, cap: usize) -> Arc<RouteStats> {
        if let Some(r) = self.read_routes().by_name.get(name) {
            return r.clone();
        }
        let mut t = self.routes.write().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = t.by_name.get(name) {
            return r.clone();
        }
        if t.dynamic >= cap {
            drop(t);
            self.route_overflow.fetch_add(1, Ordering::Relaxed);
            return self.unmatched.clone();
        }
        t.dynamic += 1;
        let r = Arc::new(RouteStats::new(name));
        t.by_name.insert(name.into(), r.clone());
        r
    }

    fn read_routes(&self) -> std::sync::RwLockReadGuard<'_, RouteTable> {
        self.routes.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A request starts (`shard`: the worker's index).
    pub fn request_started(&self, shard: usize) {
        self.in_flight[shard % self.shards]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    /// A request is over.
    pub fn request_ended(&self, shard: usize) {
        self.in_flight[shard % self.shards]
            .0
            .fetch_sub(1, Ordering::Relaxed);
    }

    /// Records a finished request (`shard`: the worker's index).
    pub fn observe(
        &self,
        route: &RouteStats,
        method: usize,
        status: u16,
        elapsed: Duration,
        shard: usize,
    ) {
        let shards = route.methods[method].get_or_init(|| {
            (0..self.shards)
                .map(|_| Series::new(self.bounds.len()))
                .collect()
        });
        let s = &shards[shard % self.shards];
        s.statuses.add(status);
        let secs = elapsed.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        s.buckets[i].fetch_add(1, Ordering::Relaxed);
        s.sum_ns.fetch_add(
            elapsed.as_nanos().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
        s.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn auth(&self, t: AuthType, success: bool) {
        self.auth[t as usize][usize::from(!success)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn user_op(&self, op: UserOp) {
        self.user_ops[op as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn upstream_error(&self, e: UpstreamError) {
        self.upstream_errors[e as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn rejected(&self, r: Rejection) {
        self.rejected[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn reloaded(&self, ok: bool) {
        if ok {
            self.reloads_ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.reloads_failed.fetch_add(1, Ordering::Relaxed);
        }
        self.last_reload_ok.store(ok, Ordering::Relaxed);
    }

    /// Writes every family. Zero-valued auth and user-operation series are written too, so
    /// `rate()` and alerts see them from the first scrape.
    pub fn render(&self, sessions: &SessionTable, out: &mut Exposition) {
        let mut routes: Vec<Arc<RouteStats>> =
            self.read_routes().by_name.values().cloned().collect();
        routes.sort_unstable_by(|a, b| a.name.cmp(&b.name));

        let mut le: Vec<String> = self.bounds.iter().map(|b| fmt_f64(*b)).collect();
        le.push("+Inf".to_string());

        let reqs = out.family(
            "http_requests_total",
            "Total number of HTTP requests, by method, route and status code.",
            MetricType::Counter,
        );
        for r in &routes {
            for (m, s) in r.methods.iter().enumerate() {
                let Some(s) = s.get() else { continue };
                let mut codes: Vec<(u16, u64)> =
                    s.iter().flat_map(|s| s.statuses.snapshot()).collect();
                codes.sort_unstable();
                codes.dedup_by(|b, a| {
                    if a.0 == b.0 {
                        a.1 += b.1;
                        true
                    } else {
                        false
                    }
                });
                for (code, n) in codes {
                    let mut buf = [0u8; 5];
                    reqs.sample(
                        &[
                            ("method", METHOD_LABELS[m]),
                            ("route", &r.name),
                            ("status_code", code_str(code, &mut buf)),
                        ],
                        n as f64,
                    );
                }
            }
        }
        let hist = out.family(
            "http_request_duration_seconds",
            "Duration of HTTP requests in seconds, from the arrival of the request to the end of the response body.",
            MetricType::Histogram,
        );
        for r in &routes {
            for (m, s) in r.methods.iter().enumerate() {
                let Some(s) = s.get() else { continue };
                let labels = [("method", METHOD_LABELS[m]), ("route", &*r.name)];
                let mut cum = 0u64;
                for (i, le) in le.iter().enumerate() {
                    cum += s
                        .iter()
                        .map(|s| s.buckets[i].load(Ordering::Relaxed))
                        .sum::<u64>();
                    hist.sample_with("_bucket", &labels, Some(("le", le)), cum as f64);
                }
                let sum_ns: u64 = s.iter().map(|s| s.sum_ns.load(Ordering::Relaxed)).sum();
                hist.sample_with("_sum", &labels, None, sum_ns as f64 / 1e9);
                hist.sample_with("_count", &labels, None, cum as f64);
            }
        }

        let auth = out.family(
            "auth_requests_total",
            "Authentication requests by type (login, logout, refresh, callback) and status (success for 2xx and 3xx, failure otherwise).",
            MetricType::Counter,
        );
        for t in AuthType::ALL {
            for (i, status) in ["success", "failure"].iter().enumerate() {
                auth.sample(
                    &[("type", t.as_str()), ("status", status)],
                    self.auth[t as usize][i].load(Ordering::Relaxed) as f64,
                );
            }
        }
        sessions.sweep(true);
        out.gauge(
            "auth_active_sessions",
            "Sessions active on this replica: seen within the idle timeout, not logged out and not past their JWT exp. Each replica counts its own share, so a sum over replicas is an upper bound.",
            &[],
            sessions.len() as f64,
        );
        let ops = out.family(
            "user_operations_total",
            "Successful user operations (create, update, delete, authenticate).",
            MetricType::Counter,
        );
        for op in UserOp::ALL {
            ops.sample(
                &[("operation", op.as_str())],
                self.user_ops[op as usize].load(Ordering::Relaxed) as f64,
            );
        }

        let fam = out.family(
            "gateway_sidecar_upstream_errors_total",
            "Requests the sidecar answered itself because the upstream failed: connect (502), timeout (504) or error (502).",
            MetricType::Counter,
        );
        for e in UpstreamError::ALL {
            fam.sample(
                &[("reason", e.as_str())],
                self.upstream_errors[e as usize].load(Ordering::Relaxed) as f64,
            );
        }
        let fam = out.family(
            "gateway_sidecar_rejected_requests_total",
            "Requests refused by the sidecar: header_timeout (408), header_too_large (431) or body_timeout (408).",
            MetricType::Counter,
        );
        for (i, reason) in ["header_timeout", "header_too_large", "body_timeout"]
            .iter()
            .enumerate()
        {
            fam.sample(
                &[("reason", reason)],
                self.rejected[i].load(Ordering::Relaxed) as f64,
            );
        }
        out.counter(
            "gateway_sidecar_route_overflow_total",
            "Requests labelled route=\"unmatched\" because the normaliser's max_routes was reached.",
            &[],
            self.route_overflow.load(Ordering::Relaxed) as f64,
        );
        out.gauge(
            "gateway_sidecar_in_flight_requests",
            "Requests being proxied.",
            &[],
            self.in_flight
                .iter()
                .map(|c| c.0.load(Ordering::Relaxed))
                .sum::<i64>() as f64,
        );
        out.gauge(
            "gateway_sidecar_open_connections",
            "Client connections open on the proxy port, WebSocket tunnels included.",
            &[],
            (self.open_connections.load(Ordering::Relaxed) + self.tunnels.load(Ordering::Relaxed))
                as f64,
        );
        out.gauge(
            "gateway_sidecar_sessions_max",
            "The session table's capacity (sessions.max_entries).",
            &[],
            sessions.capacity() as f64,
        );
        out.counter(
            "gateway_sidecar_sessions_evicted_total",
            "Sessions dropped, least recently seen first, because the table was full.",
            &[],
            sessions.evicted() as f64,
        );
        out.counter(
            "gateway_sidecar_sessions_expired_total",
            "Sessions dropped after the idle timeout or their JWT exp.",
            &[],
            sessions.expired() as f64,
        );
        let fam = out.family(
            "gateway_sidecar_config_reloads_total",
            "Reloads of the rules file on SIGHUP, by result.",
            MetricType::Counter,
        );
        fam.sample(
            &[("result", "success")],
            self.reloads_ok.load(Ordering::Relaxed) as f64,
        );
        fam.sample(
            &[("result", "failure")],
            self.reloads_failed.load(Ordering::Relaxed) as f64,
        );
        out.gauge(
            "gateway_sidecar_config_last_reload_successful",
            "Whether the last reload of the rules file succeeded (1 before any reload).",
            &[],
            f64::from(u8::from(self.last_reload_ok.load(Ordering::Relaxed))),
        );
        let up = self.app_metrics_up.load(Ordering::Relaxed);
        if up >= 0 {
            out.gauge(
                "gateway_sidecar_app_metrics_up",
                "Whether the last fetch of the application's own metrics succeeded.",
                &[],
                up as f64,
            );
        }
    }
}

fn code_str(code: u16, buf: &mut [u8; 5]) -> &str {
    let mut n = code;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

fn fmt_f64(v: f64) -> String {
    let mut s = String::new();
    exporter_core::text::format_float(&mut s, v);
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text(m: &Metrics) -> String {
        let mut e = Exposition::new();
        m.render(&SessionTable::new(10, Duration::from_secs(60)), &mut e);
        String::from_utf8(e.to_bytes()).unwrap()
    }

    #[test]
    fn counts_and_histogram() {
        let m = Metrics::new(&[0.1, 1.0], 2);
        let r = m.rule_route("/users/:id");
        m.observe(&r, 0, 200, Duration::from_millis(50), 0);
        m.observe(&r, 0, 200, Duration::from_millis(500), 1);
        m.observe(&r, 0, 404, Duration::from_secs(3), 1);
        m.auth(AuthType::Login, false);
        m.user_op(UserOp::Delete);
        let t = text(&m);
        for line in [
            "http_requests_total{method=\"GET\",route=\"/users/:id\",status_code=\"200\"} 2\n",
            "http_requests_total{method=\"GET\",route=\"/users/:id\",status_code=\"404\"} 1\n",
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/:id\",le=\"0.1\"} 1\n",
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/:id\",le=\"1\"} 2\n",
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/users/:id\",le=\"+Inf\"} 3\n",
            "http_request_duration_seconds_sum{method=\"GET\",route=\"/users/:id\"} 3.55\n",
            "http_request_duration_seconds_count{method=\"GET\",route=\"/users/:id\"} 3\n",
            "auth_requests_total{status=\"failure\",type=\"login\"} 1\n",
            "auth_requests_total{status=\"success\",type=\"login\"} 0\n",
            "user_operations_total{operation=\"delete\"} 1\n",
            "user_operations_total{operation=\"create\"} 0\n",
            "auth_active_sessions 0\n",
        ] {
            assert!(t.contains(line), "missing {line:?} in\n{t}");
        }
    }

    #[test]
    fn many_status_codes_overflow_the_slots() {
        let m = Metrics::new(&[1.0], 3);
        let r = m.unmatched_ref();
        for code in 200..220u16 {
            m.observe(r, 9, code, Duration::ZERO, 0);
            m.observe(r, 9, code, Duration::ZERO, code as usize);
        }
        let t = text(&m);
        assert_eq!(t.matches("route=\"unmatched\",status_code=").count(), 20);
        assert!(t.contains(
            "http_requests_total{method=\"_OTHER\",route=\"unmatched\",status_code=\"219\"} 2\n"
        ));
    }

    #[test]
    fn dynamic_routes_are_capped() {
        let m = Metrics::new(&[1.0], 1);
        for i in 0..10 {
            m.dynamic_route(&format!("/r{i}"), 3);
        }
        assert_eq!(m.dynamic_route("/r1", 3).name(), "/r1");
        assert_eq!(m.dynamic_route("/r9", 3).name(), UNMATCHED);
        assert_eq!(m.route_overflow.load(Ordering::Relaxed), 8);
    }
}
