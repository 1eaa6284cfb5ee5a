//! The reverse proxy: one request in, the same request upstream, the answer streamed back, and
//! the metrics and sessions derived on the way.
//!
//! Transparency: method, path, query, headers and bodies pass unchanged (bodies are streamed
//! frame by frame, never collected); hop-by-hop headers (RFC 9110 §7.6.1: `Connection` and the
//! fields it names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Transfer-Encoding`, `Upgrade`) are
//! dropped on both legs; `X-Forwarded-For` gets the client's address appended,
//! `X-Forwarded-Proto` and `X-Forwarded-Host` are set when absent (a load balancer in front
//! knows better). `Host` is kept. Upgrades (WebSocket) are forwarded and then spliced with
//! `copy_bidirectional`. Upstream connections are kept alive and pooled per worker thread
//! ([`Worker`]).

use std::convert::Infallible;
use std::error::Error as StdError;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use exporter_core::{Exposition, InFlight};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{
    Entry, HeaderMap, HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, CONNECTION, CONTENT_TYPE,
    HOST, SET_COOKIE, TE, TRANSFER_ENCODING, UPGRADE,
};
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use hyper::upgrade::OnUpgrade;
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use crate::body::{BodyTimeout, Done, ProxyBody, TimedBody};
use crate::conn::{ConnState, Drain};
use crate::metrics::{Metrics, Rejection, RouteStats, UpstreamError};
use crate::routes::{self, AuthType, Config, Unmatched, UserOp};
use crate::sessions::{self, CookieChange, Credential, Keyer, SessionTable};

/// Settings of the proxy port and the upstream leg.
#[derive(Clone, Debug)]
pub struct Options {
    /// Time for the upstream to answer with response headers (then 504).
    pub upstream_timeout: Duration,
    pub connect_timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub pool_max_idle: usize,
    /// Longest pause in a client's request body.
    pub body_timeout: Duration,
    /// Time for a request head to arrive (then 408).
    pub header_timeout: Duration,
    /// Time a keep-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    pub max_headers: usize,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
    /// Answer this path on the proxy port with the metrics.
    pub metrics_path: Option<String>,
    /// Fetch the app's own metrics from this upstream path at scrape time and merge them.
    pub app_metrics_path: Option<String>,
    pub app_metrics_timeout: Duration,
    /// Whether `process_*` and `promhttp_*` are ours (then the app's are dropped when merging).
    pub exporter_metrics: bool,
}

/// The upstream's origin.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub scheme: Scheme,
    pub authority: Authority,
    /// `host:port` to connect to.
    pub host_port: String,
    /// `Host` for requests that came without one.
    pub host_header: HeaderValue,
}

impl Upstream {
    /// Accepts `http://host:port` (a path of `/` at most): the sidecar sits next to the app.
    pub fn parse(s: &str) -> Result<Self, String> {
        let uri: Uri = s.parse().map_err(|e| format!("--upstream {s:?}: {e}"))?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            return Err(format!("--upstream {s:?}: want an http:// URL"));
        }
        let Some(authority) = uri.authority().cloned() else {
            return Err(format!("--upstream {s:?}: missing host"));
        };
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "--upstream {s:?}: want scheme://host:port without a path"
            ));
        }
        let host_port = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|e| format!("--upstream {s:?}: {e}"))?;
        Ok(Self {
            scheme: Scheme::HTTP,
            authority,
            host_port,
            host_header,
        })
    }
}

/// The rules bound to their metric series. Each worker builds its own from the shared rules
/// (on start and after a reload), so the per-request reference counting stays on its core.
pub struct Router {
    pub config: Config,
    routes: Vec<Arc<RouteStats>>,
}

/// The series a request is recorded under.
pub enum RouteRef {
    /// The route of rule i of the request's [`Router`].
    Rule(usize),
    Unmatched,
    /// A normalised route.
    Dynamic(Arc<RouteStats>),
}

impl Router {
    pub fn new(config: Config, metrics: &Metrics) -> Self {
        let routes = config
            .rules
            .iter()
            .map(|r| metrics.rule_route(&r.route))
            .collect();
        Self { config, routes }
    }

    fn route(
        &self,
        method: usize,
        path: &str,
        metrics: &Metrics,
    ) -> (RouteRef, Option<AuthType>, Option<UserOp>) {
        if let Some((i, r)) = self.config.find(method, path) {
            return (RouteRef::Rule(i), r.auth, r.user_op);
        }
        let stats = match self.config.unmatched {
            Unmatched::Label => RouteRef::Unmatched,
            Unmatched::Normalize { max_routes } => match routes::normalize(path) {
                Some(p) => {
                    let r = metrics.dynamic_route(&p, max_routes);
                    if r.name() == crate::routes::UNMATCHED {
                        RouteRef::Unmatched
                    } else {
                        RouteRef::Dynamic(r)
                    }
                }
                None => RouteRef::Unmatched,
            },
        };
        (stats, None, None)
    }

    /// The stats of a route reference made by this router.
    pub fn stats<'a>(&'a self, r: &'a RouteRef, metrics: &'a Metrics) -> &'a RouteStats {
        match r {
            RouteRef::Rule(i) => &self.routes[*i],
            RouteRef::Unmatched => metrics.unmatched_ref(),
            RouteRef::Dynamic(s) => s,
        }
    }
}

/// The sending half of one upstream connection.
pub type UpstreamSender = SendRequest<TimedBody>;

/// A worker's idle upstream connections, most recently used last. Only its own thread uses it,
/// so the lock is never contended; it is a lock only so futures stay `Send`.
pub struct Pool {
    idle: Mutex<Vec<(UpstreamSender, Instant)>>,
    max_idle: usize,
    idle_timeout: Duration,
}

impl Pool {
    /// Keeps a connection whose exchange ended cleanly.
    pub fn put(&self, sender: UpstreamSender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push((sender, Instant::now()));
        }
    }

    fn take(&self) -> Option<UpstreamSender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((s, since)) = idle.pop() {
            // Past the idle timeout the app may be closing it (Node closes at 5 s): drop it.
            if since.elapsed() < self.idle_timeout && !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    /// Closes connections idle for longer than the idle timeout.
    pub fn prune(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let t = self.idle_timeout;
        idle.retain(|(s, since)| since.elapsed() < t && !s.is_closed());
    }
}

/// One worker thread's view of the proxy: the shared state, the thread's own pool of upstream
/// connections and its copy of the rules. Workers are single-threaded runtimes (one per CPU,
/// like nginx's worker processes): a request, its upstream exchange and its bookkeeping stay on
/// one thread, with no cross-thread wake-ups, and its counters are the worker's own.
///
/// Upstream connections are hyper's HTTP/1 client connections in a small per-worker pool
/// rather than hyper-util's legacy client: the legacy client's shared pool (a map of hosts
/// behind a lock, a task per returned connection, extensions per response) cost a fifth of the
/// sidecar's CPU per request, and there is only one upstream host here anyway.
pub struct Worker {
    pub proxy: Arc<Proxy>,
    pool: Arc<Pool>,
    pub index: usize,
    rules: Mutex<(u64, Arc<Router>)>,
    creds: Mutex<CredCache>,
}

/// A worker's small cache of the credentials it has seen lately, so a client sending the same
/// token again costs neither an HMAC nor a JWT decode, and the shared session table is touched
/// at most once a second per session and worker. Slots are found by a keyed SipHash of the raw
/// value (`RandomState`: random per process), never by the value itself.
struct CredCache {
    hasher: std::collections::hash_map::RandomState,
    slots: Vec<CredSlot>,
}

#[derive(Clone, Copy)]
struct CredSlot {
    hash: u64,
    cred: Credential,
    /// Session-table tick of this worker's last touch; 0 for none.
    touched: u32,
}

const CRED_SLOTS: usize = 512;

/// A request's credential and where the worker's cache keeps it.
#[derive(Clone, Copy)]
pub struct SeenCredential {
    pub cred: Credential,
    slot: usize,
    hash: u64,
    touched: u32,
}

impl Worker {
    pub fn new(proxy: Arc<Proxy>, index: usize) -> Self {
        let pool = Arc::new(Pool {
            idle: Mutex::new(Vec::new()),
            max_idle: proxy.opts.pool_max_idle,
            idle_timeout: proxy.opts.pool_idle_timeout,
        });
        let gen = proxy.router_gen.load(Ordering::Acquire);
        let rules = Mutex::new((gen, Arc::new(proxy.router_copy())));
        Self {
            proxy,
            pool,
            index,
            rules,
            creds: Mutex::new(CredCache {
                hasher: Default::default(),
                slots: Vec::new(),
            }),
        }
    }

    /// The session credential of a request, from the cache when this worker saw it lately.
    fn credential(&self, headers: &HeaderMap, cookies: &[String]) -> Option<SeenCredential> {
        use std::hash::BuildHasher;
        let (cookie, value) = sessions::raw_credential(headers, cookies)?;
        let cache = self.creds.lock().unwrap_or_else(|e| e.into_inner());
        let hash = cache.hasher.hash_one((cookie, value));
        let slot = (hash as usize) % CRED_SLOTS;
        if let Some(s) = cache.slots.get(slot) {
            if s.hash == hash && s.cred.cookie == cookie {
                return Some(SeenCredential {
                    cred: s.cred,
                    slot,
                    hash,
                    touched: s.touched,
                });
            }
        }
        drop(cache);
        let cred = self.proxy.keyer.credential(value, cookie);
        Some(SeenCredential {
            cred,
            slot,
            hash,
            touched: 0,
        })
    }

    /// Remembers that this worker has just touched (or not) the session of `c`.
    fn remember(&self, c: &SeenCredential, touched: u32) {
        let mut cache = self.creds.lock().unwrap_or_else(|e| e.into_inner());
        if cache.slots.is_empty() {
            let empty = CredSlot {
                hash: 0,
                cred: c.cred,
                touched: 0,
            };
            cache.slots = vec![empty; CRED_SLOTS];
        }
        cache.slots[c.slot] = CredSlot {
            hash: c.hash,
            cred: c.cred,
            touched,
        };
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// The current rules, re-read only after a reload.
    fn router(&self) -> Arc<Router> {
        let gen = self.proxy.router_gen.load(Ordering::Acquire);
        let mut cached = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        if cached.0 != gen {
            *cached = (gen, self.proxy.router());
        }
        cached.1.clone()
    }

    /// Handles one client request.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: Arc<ConnState>,
    ) -> Result<Response<ProxyBody>, Infallible> {
        let router = self.router();
        self.proxy.clone().handle(req, conn, &self, router).await
    }

    /// A ready connection: a pooled one, else a new one.
    async fn checkout(&self) -> Result<(UpstreamSender, bool), (UpstreamError, String)> {
        while let Some(mut s) = self.pool.take() {
            if s.is_ready() || s.ready().await.is_ok() {
                return Ok((s, true));
            }
        }
        self.connect().await.map(|s| (s, false))
    }

    async fn connect(&self) -> Result<UpstreamSender, (UpstreamError, String)> {
        let p = &self.proxy;
        let stream = match tokio::time::timeout(
            p.opts.connect_timeout,
            TcpStream::connect(p.upstream.host_port.as_str()),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err((UpstreamError::Timeout, format!("connect: {e}")))
            }
            Ok(Err(e)) => return Err((UpstreamError::Connect, format!("connect: {e}"))),
            Err(_) => {
                return Err((
                    UpstreamError::Timeout,
                    format!("connect: no connection within {:?}", p.opts.connect_timeout),
                ))
            }
        };
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| (UpstreamError::Error, format!("handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(err = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Sends a request upstream; a pooled connection that turns out closed before the request
    /// went out is replaced once (nothing was sent, so any method may be retried).
    async fn send(
        &self,
        mut req: Request<TimedBody>,
    ) -> Result<(Response<Incoming>, UpstreamSender), (UpstreamError, String, Option<hyper::Error>)>
    {
        loop {
            let (mut sender, reused) = self.checkout().await.map_err(|(k, m)| (k, m, None))?;
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok((resp, sender)),
                Err(mut e) => match e.take_message() {
                    Some(r) if reused => req = r,
                    _ => {
                        let e = e.into_error();
                        return Err((UpstreamError::Error, e.to_string(), Some(e)));
                    }
                },
            }
        }
    }
}

/// The proxy's shared state.
pub struct Proxy {
    upstream: Upstream,
    metrics_client: Client<HttpConnector, Empty<Bytes>>,
    pub metrics: Arc<Metrics>,
    pub sessions: Arc<SessionTable>,
    keyer: Keyer,
    router: RwLock<Arc<Router>>,
    /// Bumped on every reload, so workers refresh their copy of the rules.
    router_gen: AtomicU64,
    pub opts: Options,
    pub drain: Arc<Drain>,
    /// `--proxy.max-connections`, shared by the workers.
    pub conn_limit: Arc<tokio::sync::Semaphore>,
    last_warn: AtomicU64,
    started: Instant,
}

impl Proxy {
    /// `workers`: how many worker threads will record requests.
    pub fn new(
        upstream: Upstream,
        config: Config,
        opts: Options,
        workers: usize,
    ) -> anyhow::Result<Self> {
        // One metrics shard per worker, and one for requests answered elsewhere.
        let metrics = Arc::new(Metrics::new(&config.buckets, workers + 1));
        let sessions = Arc::new(SessionTable::new(
            config.sessions.max_entries,
            config.sessions.idle_timeout,
        ));
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(opts.connect_timeout));
        let metrics_client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(opts.pool_idle_timeout)
            .pool_max_idle_per_host(1)
            .build(connector);
        let router = Router::new(config, &metrics);
        if opts.app_metrics_path.is_some() {
            metrics.app_metrics_up.store(0, Ordering::Relaxed);
        }
        Ok(Self {
            upstream,
            metrics_client,
            metrics,
            sessions,
            keyer: Keyer::random()?,
            router: RwLock::new(Arc::new(router)),
            router_gen: AtomicU64::new(0),
            conn_limit: Arc::new(tokio::sync::Semaphore::new(opts.max_connections.max(1))),
            opts,
            drain: Arc::new(Drain::default()),
            last_warn: AtomicU64::new(0),
            started: Instant::now(),
        })
    }

    pub fn upstream_display(&self) -> String {
        format!("{}://{}", self.upstream.scheme, self.upstream.authority)
    }

    pub fn router(&self) -> Arc<Router> {
        self.router
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A worker's own copy of the current rules (same series, separate reference counts).
    fn router_copy(&self) -> Router {
        let shared = self.router();
        Router {
            config: shared.config.clone(),
            routes: shared.routes.clone(),
        }
    }

    /// Puts new rules in place (SIGHUP). Buckets are fixed for the life of the process: a
    /// histogram whose buckets change under Prometheus' feet would mislead every quantile.
    pub fn reload(&self, config: Config) {
        if config.buckets != self.metrics.bounds() {
            tracing::warn!(
                "reload: histogram buckets cannot change without a restart; keeping the old ones"
            );
        }
        self.sessions
            .configure(config.sessions.max_entries, config.sessions.idle_timeout);
        let router = Arc::new(Router::new(config, &self.metrics));
        *self.router.write().unwrap_or_else(|e| e.into_inner()) = router;
        self.router_gen.fetch_add(1, Ordering::AcqRel);
    }

    /// Handles one client request.
    async fn handle(
        &self,
        req: Request<Incoming>,
        conn: Arc<ConnState>,
        worker: &Arc<Worker>,
        router: Arc<Router>,
    ) -> Result<Response<ProxyBody>, Infallible> {
        let mut req = req;
        let start = Instant::now();
        conn.set_busy();
        let mut done = Done::new(worker.clone(), conn.clone(), start);

        if let Some(p) = &self.opts.metrics_path {
            if req.uri().path() == p && matches!(*req.method(), Method::GET | Method::HEAD) {
                return Ok(self
                    .serve_metrics(*req.method() == Method::HEAD, done)
                    .await);
            }
        }

        let method = routes::method_index(req.method());
        let (route, auth, user_op) = router.route(method, req.uri().path(), &self.metrics);
        done.count_as(router.clone(), route, method);

        if req.method() == Method::CONNECT {
            // A reverse proxy in front of one service has no business opening tunnels.
            return Ok(plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method Not Allowed\n",
                done,
            ));
        }

        let cred = worker.credential(req.headers(), &router.config.sessions.cookies);
        let upgrade = upgrade_of(req.headers());
        let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));

        let (mut parts, body) = req.into_parts();
        let host = parts.headers.get(HOST).cloned();
        strip_hop_by_hop(&mut parts.headers);
        if let Some(u) = &upgrade {
            parts
                .headers
                .insert(CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(UPGRADE, u.clone());
        }
        add_forwarded(&mut parts.headers, &conn.peer_ip, host.clone());
        if host.is_none() {
            // HTTP/1.0 clients may omit it; HTTP/1.1 requires one.
            parts
                .headers
                .insert(HOST, self.upstream.host_header.clone());
        }
        parts.uri = origin_form(&parts.uri);
        parts.version = Version::HTTP_11;
        let up_req = Request::from_parts(parts, TimedBody::new(body, self.opts.body_timeout));

        let result = tokio::time::timeout(self.opts.upstream_timeout, worker.send(up_req)).await;
        let (mut resp, sender) = match result {
            Ok(Ok(r)) => r,
            Ok(Err((kind, msg, err))) => {
                if err.as_ref().is_some_and(|e| has_source::<BodyTimeout>(e)) {
                    self.metrics.rejected(Rejection::BodyTimeout);
                    if let Some(t) = auth {
                        self.metrics.auth(t, false);
                    }
                    let mut r = plain(StatusCode::REQUEST_TIMEOUT, "Request Timeout\n", done);
                    r.headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                    return Ok(r);
                }
                return Ok(self.failed(kind, &msg, auth, done));
            }
            Err(_) => {
                let e = format!(
                    "no response headers within {:?}",
                    self.opts.upstream_timeout
                );
                return Ok(self.failed(UpstreamError::Timeout, &e, auth, done));
            }
        };

        let status = resp.status().as_u16();
        if status == 101 && client_upgrade.is_none() {
            let e = "upstream switched protocols without being asked";
            return Ok(self.failed(UpstreamError::Error, &e, auth, done));
        }
        let ok = (200..400).contains(&status);
        if let Some(t) = auth {
            self.metrics.auth(t, ok);
        }
        if let (Some(op), true) = (user_op, ok) {
            self.metrics.user_op(op);
        }
        self.track_sessions(worker, &router, auth, cred, status, resp.headers());

        let upstream_upgrade = (status == 101).then(|| hyper::upgrade::on(&mut resp));
        let (mut parts, body) = resp.into_parts();
        let upgrade_to = parts.headers.get(UPGRADE).cloned();
        strip_hop_by_hop(&mut parts.headers);
        done.status = status;
        if let (Some(cu), Some(uu)) = (client_upgrade, upstream_upgrade) {
            if let Some(v) = upgrade_to {
                parts
                    .headers
                    .insert(CONNECTION, HeaderValue::from_static("upgrade"));
                parts.headers.insert(UPGRADE, v);
            }
            conn.set_tunnel();
            self.spawn_tunnel(cu, uu);
        } else {
            done.release_to(sender);
        }
        Ok(Response::from_parts(parts, ProxyBody::upstream(body, done)))
    }

    /// Session bookkeeping from a response: cookies set or cleared, logouts, and the touch of
    /// every other request that carried a credential the app accepted.
    fn track_sessions(
        &self,
        worker: &Worker,
        router: &Router,
        auth: Option<AuthType>,
        seen: Option<SeenCredential>,
        status: u16,
        headers: &HeaderMap,
    ) {
        let cred = seen.map(|s| s.cred);
        let ok = (200..400).contains(&status);
        let cookies = &router.config.sessions.cookies;
        let mut changed = false;
        if !cookies.is_empty() && headers.contains_key(SET_COOKIE) {
            let now = sessions::unix_now();
            for v in headers.get_all(SET_COOKIE) {
                let Ok(v) = v.to_str() else { continue };
                match sessions::set_cookie(v, cookies, now) {
                    Some(CookieChange::Set(idx, value)) if ok => {
                        let new = self.keyer.credential(value, Some(idx));
                        // A rotated cookie replaces the session it came in with.
                        if let Some(old) = &cred {
                            if old.cookie == Some(idx) && old.key != new.key {
                                self.sessions.end(old.key);
                            }
                        }
                        self.sessions.start(&new);
                        changed = true;
                    }
                    Some(CookieChange::Cleared(idx)) => {
                        if let Some(old) = &cred {
                            if old.cookie == Some(idx) {
                                self.sessions.end(old.key);
                            }
                        }
                        changed = true;
                    }
                    _ => {}
                }
            }
        }
        let Some(seen) = seen else { return };
        let c = seen.cred;
        match auth {
            Some(AuthType::Logout) => {
                if ok {
                    self.sessions.end(c.key);
                    worker.remember(&seen, 0);
                }
            }
            // A login's session is the one it hands out (its Set-Cookie, or the token the
            // next request carries), not whatever the client sent with it.
            Some(t) if t.starts_session() => {}
            _ => {
                if changed {
                    worker.remember(&seen, 0);
                } else if status != 401 && status != 403 {
                    // Idle timeouts count in minutes: one touch a second per worker is plenty.
                    let now = self.sessions.tick();
                    if seen.touched == 0 || now.saturating_sub(seen.touched) >= 10 {
                        self.sessions.touch(&c);
                        worker.remember(&seen, now);
                    } else {
                        worker.remember(&seen, seen.touched);
                    }
                }
            }
        }
    }

    fn failed(
        &self,
        kind: UpstreamError,
        err: &dyn std::fmt::Display,
        auth: Option<AuthType>,
        mut done: Done,
    ) -> Response<ProxyBody> {
        self.metrics.upstream_error(kind);
        if let Some(t) = auth {
            self.metrics.auth(t, false);
        }
        let status = kind.status();
        done.status = status;
        tracing::debug!(status, err = %err, "upstream request failed");
        // One warning per 10 s at most: an upstream that is down fails every request.
        let now = self.started.elapsed().as_secs() + 10;
        let last = self.last_warn.load(Ordering::Relaxed);
        if now >= last + 10
            && self
                .last_warn
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(upstream = %self.upstream_display(), status, err = %err, "upstream request failed");
        }
        let (code, text) = match status {
            504 => (StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout\n"),
            _ => (StatusCode::BAD_GATEWAY, "Bad Gateway\n"),
        };
        plain(code, text, done)
    }

    fn spawn_tunnel(&self, client: OnUpgrade, upstream: OnUpgrade) {
        let guard = self.drain.guard();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let open = InFlight::enter(&metrics.tunnels);
            match tokio::join!(client, upstream) {
                (Ok(c), Ok(u)) => {
                    let mut c = TokioIo::new(c);
                    let mut u = TokioIo::new(u);
                    if let Err(e) = tokio::io::copy_bidirectional(&mut c, &mut u).await {
                        tracing::debug!(err = %e, "tunnel ended with an error");
                    }
                }
                (Err(e), _) | (_, Err(e)) => {
                    tracing::debug!(err = %e, "upgrade failed");
                }
            }
            drop(open);
            drop(guard);
        });
    }

    async fn serve_metrics(&self, head: bool, done: Done) -> Response<ProxyBody> {
        let mut expo = self.scrape().await;
        if self.opts.exporter_metrics {
            exporter_core::process::collect(&mut expo);
        }
        let body = if head { Vec::new() } else { expo.to_bytes() };
        let mut r = Response::new(ProxyBody::full(body, done));
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(exporter_core::exposition::CONTENT_TYPE),
        );
        r
    }

    /// Everything one scrape shows: our families, then the app's own (when configured).
    pub async fn scrape(&self) -> Exposition {
        let app = match &self.opts.app_metrics_path {
            Some(path) => {
                let r = self.fetch_app_metrics(path).await;
                if let Err(e) = &r {
                    tracing::debug!(err = %e, "fetching the app's metrics failed");
                }
                self.metrics
                    .app_metrics_up
                    .store(i64::from(r.is_ok()), Ordering::Relaxed);
                r.ok()
            }
            None => None,
        };
        let mut e = Exposition::new();
        self.metrics.render(&self.sessions, &mut e);
        exporter_core::build_info(&mut e, "gateway_sidecar", &crate::build_facts());
        if let Some(text) = app {
            let ours: Vec<String> = e.families().map(|(n, _, _)| n.to_string()).collect();
            let exporter = self.opts.exporter_metrics;
            let taken = |name: &str| {
                ours.iter().any(|o| o == name)
                    || (exporter && (name.starts_with("process_") || name.starts_with("promhttp_")))
            };
            e.append_text(&filter_app_metrics(&text, &taken));
        }
        e
    }

    async fn fetch_app_metrics(&self, path: &str) -> anyhow::Result<String> {
        let uri: Uri = format!("{}{}", self.upstream_display(), path).parse()?;
        let req = Request::get(uri)
            .header(ACCEPT, "text/plain;version=0.0.4;q=1,*/*;q=0.1")
            .header(ACCEPT_ENCODING, "identity")
            .body(Empty::<Bytes>::new())?;
        let fut = async {
            let resp = self.metrics_client.request(req).await?;
            if !resp.status().is_success() {
                anyhow::bail!("status {}", resp.status());
            }
            // The app's exposition is read whole (it is the app's, not a client's), capped.
            let body = Limited::new(resp.into_body(), 32 << 20)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("reading: {e}"))?
                .to_bytes();
            Ok(String::from_utf8(body.to_vec())?)
        };
        tokio::time::timeout(self.opts.app_metrics_timeout, fut)
            .await
            .map_err(|_| anyhow::anyhow!("timed out after {:?}", self.opts.app_metrics_timeout))?
    }
}

fn plain(status: StatusCode, text: &'static str, mut done: Done) -> Response<ProxyBody> {
    done.status = status.as_u16();
    let mut r = Response::new(ProxyBody::full(Bytes::from_static(text.as_bytes()), done));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The request target as an origin server wants it: path and query only.
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(_) if uri.authority().is_none() => uri.clone(),
        Some(pq) => Uri::from(pq.clone()),
        None => Uri::from(PathAndQuery::from_static("/")),
    }
}

fn has_source<T: StdError + 'static>(e: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(c) = cur {
        if c.is::<T>() {
            return true;
        }
        cur = c.source();
    }
    false
}

/// The `Upgrade` value of a request that asks for one (`Connection: upgrade` + `Upgrade`).
fn upgrade_of(h: &HeaderMap) -> Option<HeaderValue> {
    let up = h.get(UPGRADE)?;
    let asks = h
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    asks.then(|| up.clone())
}

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Drops the hop-by-hop fields: those `Connection` names and the fixed list.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    // One pass over the (few) names finds which are present: most requests carry none, most
    // responses only `Connection`, and a lookup per name costs a hash each.
    let fixed: [&HeaderName; 6] = [
        &CONNECTION,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &TE,
        &TRANSFER_ENCODING,
        &UPGRADE,
    ];
    let mut present = [false; 6];
    let mut any = false;
    for name in h.keys() {
        if let Some(i) = fixed.iter().position(|f| *f == name) {
            present[i] = true;
            any = true;
        }
    }
    if !any {
        return;
    }
    if present[0] {
        let named: Vec<HeaderName> = h
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.eq_ignore_ascii_case("keep-alive") && !t.eq_ignore_ascii_case("close"))
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .collect();
        for n in named {
            h.remove(n);
        }
    }
    for (i, name) in fixed.iter().enumerate() {
        if present[i] {
            h.remove(*name);
        }
    }
}

/// The client address as an `X-Forwarded-For` value (made once per connection).
pub fn peer_value(peer: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&peer.to_canonical().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// Adds the `X-Forwarded-*` fields; `ip` is [`peer_value`] of the client.
pub fn add_forwarded(h: &mut HeaderMap, ip: &HeaderValue, host: Option<HeaderValue>) {
    let xff = {
        let mut prior = h.get_all(&X_FORWARDED_FOR).iter().peekable();
        if prior.peek().is_none() {
            Some(ip.clone())
        } else {
            let mut s = Vec::with_capacity(64);
            for v in prior {
                if !s.is_empty() {
                    s.extend_from_slice(b", ");
                }
                s.extend_from_slice(v.as_bytes());
            }
            s.extend_from_slice(b", ");
            s.extend_from_slice(ip.as_bytes());
            HeaderValue::from_bytes(&s).ok()
        }
    };
    if let Some(v) = xff {
        h.insert(X_FORWARDED_FOR.clone(), v);
    }
    if let Entry::Vacant(e) = h.entry(&X_FORWARDED_PROTO) {
        e.insert(HeaderValue::from_static("http"));
    }
    if let Some(host) = host {
        if let Entry::Vacant(e) = h.entry(&X_FORWARDED_HOST) {
            e.insert(host);
        }
    }
}

/// The app's exposition without the families that are ours (`taken`), so the merged output
/// never has a family twice. A sample belongs to the family of the `# TYPE`/`# HELP` before it
/// when its name is that family's name plus a histogram or summary suffix.
pub fn filter_app_metrics(text: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut family = String::new();
    let mut drop_family = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.is_empty() {
            continue;
        }
        if let Some(rest) = t.strip_prefix('#') {
            let mut words = rest.split_whitespace();
            match words.next() {
                Some("HELP") | Some("TYPE") | Some("UNIT") => {
                    let name = words.next().unwrap_or("");
                    if name != family {
                        family = name.to_string();
                        drop_family = taken(&family);
                    }
                    if !drop_family {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
                // `# EOF` (OpenMetrics) and plain comments: not ours to pass on.
                _ => {}
            }
            continue;
        }
        let name_end = t
            .find(|c: char| c == '{' || c.is_whitespace())
            .unwrap_or(t.len());
        let name = &t[..name_end];
        let in_family = !family.is_empty()
            && (name == family
                || name.strip_prefix(family.as_str()).is_some_and(|s| {
                    matches!(s, "_bucket" | "_sum" | "_count" | "_total" | "_created")
                }));
        let dropped = if in_family {
            drop_family
        } else {
            family.clear();
            drop_family = false;
            taken(name)
        };
        if !dropped {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(
            CONNECTION,
            HeaderValue::from_static("keep-alive, X-Trace-Hop"),
        );
        h.insert("x-trace-hop", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(TE, HeaderValue::from_static("trailers"));
        h.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        h.insert("x-kept", HeaderValue::from_static("yes"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn forwarded_fields() {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        add_forwarded(
            &mut h,
            &peer_value("::ffff:127.0.0.1".parse().unwrap()),
            Some(HeaderValue::from_static("api.example")),
        );
        assert_eq!(h["x-forwarded-for"], "203.0.113.7, 10.0.0.1, 127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "api.example");
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        add_forwarded(&mut h, &peer_value("192.0.2.1".parse().unwrap()), None);
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-for"], "192.0.2.1");
    }

    #[test]
    fn upstream_urls() {
        assert!(Upstream::parse("http://127.0.0.1:3000").is_ok());
        assert!(Upstream::parse("http://app:3000/").is_ok());
        assert!(Upstream::parse("https://app").is_err());
        assert!(Upstream::parse("http://app/base").is_err());
        assert!(Upstream::parse("127.0.0.1:3000").is_err());
    }

    #[test]
    fn app_metrics_lose_our_families_only() {
        let app = "# HELP http_requests_total Total.\n# TYPE http_requests_total counter\n\
                   http_requests_total{route=\"/a\"} 3\n\
                   # HELP http_request_duration_seconds D.\n# TYPE http_request_duration_seconds histogram\n\
                   http_request_duration_seconds_bucket{le=\"+Inf\"} 1\nhttp_request_duration_seconds_sum 0.1\n\
                   http_request_duration_seconds_count 1\n\
                   # HELP process_cpu_seconds_total CPU.\n# TYPE process_cpu_seconds_total counter\n\
                   process_cpu_seconds_total 1.5\n\
                   # HELP nodejs_heap_size_total_bytes Heap.\n# TYPE nodejs_heap_size_total_bytes gauge\n\
                   nodejs_heap_size_total_bytes 1e+07\n\
                   untyped_thing 4\n# EOF\n";
        let taken = |n: &str| {
            n == "http_requests_total"
                || n == "http_request_duration_seconds"
                || n.starts_with("process_")
        };
        let out = filter_app_metrics(app, &taken);
        assert_eq!(
            out,
            "# HELP nodejs_heap_size_total_bytes Heap.\n# TYPE nodejs_heap_size_total_bytes gauge\n\
             nodejs_heap_size_total_bytes 1e+07\nuntyped_thing 4\n"
        );
    }
}
