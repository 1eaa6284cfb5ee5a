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
//! ([`Worker`], [`crate::upstream`]); the header work is in [`crate::headers`].

use std::convert::Infallible;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use exporter_core::server::Settings;
use exporter_core::{Exposition, InFlight};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::header::{
    HeaderMap, HeaderValue, CONNECTION, CONTENT_TYPE, HOST, SET_COOKIE, UPGRADE, WWW_AUTHENTICATE,
};
use hyper::upgrade::OnUpgrade;
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;

use crate::app_metrics;
use crate::body::{BodyTimeout, ClientBodyError, Done, ProxyBody, TimedBody};
use crate::conn::{ConnState, Drain};
use crate::headers::{add_forwarded, origin_form, strip_hop_by_hop, upgrade_of, TrustedHops};
use crate::metrics::{Metrics, Rejection, UpstreamError};
use crate::router::Router;
use crate::routes::{self, AuthType, Config};
use crate::sessions::{self, CookieChange, Credential, Keyer, SessionTable};
use crate::upstream::{self, SendError, Upstream};

/// Settings of the proxy port and the upstream leg.
#[derive(Clone)]
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
    /// Longest a client may leave a response write pending.
    pub send_timeout: Duration,
    /// Longest a tunnel may pass no byte.
    pub tunnel_idle_timeout: Duration,
    /// Peers whose `X-Forwarded-*` are believed.
    pub trusted: TrustedHops,
    /// The web config (basic auth, rate limit) for `metrics_path`, when one is given.
    pub web: Option<Arc<Settings>>,
}

/// One worker thread's view of the proxy: the shared state, the thread's own pool of upstream
/// connections and its copy of the rules. Workers are single-threaded runtimes (one per CPU,
/// like nginx's worker processes): a request, its upstream exchange and its bookkeeping stay on
/// one thread, with no cross-thread wake-ups, and its counters are the worker's own.
pub struct Worker {
    pub proxy: Arc<Proxy>,
    upstream: Arc<upstream::Client<TimedBody>>,
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
        let upstream = Arc::new(upstream::Client::new(
            &proxy.upstream,
            proxy.opts.connect_timeout,
            proxy.opts.pool_max_idle,
            proxy.opts.pool_idle_timeout,
        ));
        let gen = proxy.router_gen.load(Ordering::Acquire);
        let rules = Mutex::new((gen, Arc::new(proxy.router_copy())));
        Self {
            proxy,
            upstream,
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

    /// This worker's client for the upstream (its own pool of connections).
    pub fn upstream(&self) -> &Arc<upstream::Client<TimedBody>> {
        &self.upstream
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
}

/// The proxy's shared state.
pub struct Proxy {
    upstream: Upstream,
    /// For the app's own metrics; the workers have their own clients for proxying.
    app_metrics: upstream::Client<Empty<Bytes>>,
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
    /// The last fetch of the app's metrics and when it ended: one fetch at a time, shared by
    /// the scrapes that waited for it (see [`Proxy::scrape`]).
    app_fetch: tokio::sync::Mutex<Option<(Instant, Option<String>)>>,
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
        // One idle connection is enough: scrapes come one at a time.
        let app_metrics =
            upstream::Client::new(&upstream, opts.connect_timeout, 1, opts.pool_idle_timeout);
        let router = Router::new(config, &metrics);
        if opts.app_metrics_path.is_some() {
            metrics.app_metrics_up.store(0, Ordering::Relaxed);
        }
        Ok(Self {
            upstream,
            app_metrics,
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
            app_fetch: tokio::sync::Mutex::new(None),
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
        Router::clone(&self.router())
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
                if let Some((code, text)) = self.refuse_metrics(req.headers()).await {
                    let mut r = plain(code, text, done);
                    if code == StatusCode::UNAUTHORIZED {
                        r.headers_mut()
                            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
                    }
                    return Ok(r);
                }
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
        add_forwarded(
            &mut parts.headers,
            &conn.peer_ip,
            host.clone(),
            conn.trusted,
        );
        if host.is_none() {
            // HTTP/1.0 clients may omit it; HTTP/1.1 requires one.
            parts
                .headers
                .insert(HOST, self.upstream.host_header.clone());
        }
        parts.uri = origin_form(&parts.uri);
        parts.version = Version::HTTP_11;
        let up_req = Request::from_parts(parts, TimedBody::new(body, self.opts.body_timeout));

        let result =
            tokio::time::timeout(self.opts.upstream_timeout, worker.upstream.send(up_req)).await;
        let (mut resp, sender) = match result {
            Ok(Ok(r)) => r,
            Ok(Err(SendError {
                kind,
                message: msg,
                source: err,
            })) => {
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
                if err
                    .as_ref()
                    .is_some_and(|e| has_source::<ClientBodyError>(e))
                {
                    if let Some(t) = auth {
                        self.metrics.auth(t, false);
                    }
                    tracing::debug!(err = %msg, "bad request body");
                    let mut r = plain(StatusCode::BAD_REQUEST, "Bad Request\n", done);
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
            self.spawn_tunnel(cu, uu, conn.clone());
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
                } else if !ok {
                    // Only a credential the app accepted opens a session: random tokens on
                    // a path answered 404 (or any failure) must not fill the table. A session
                    // already open still counts the request as activity, unless refused.
                    if status != 401 && status != 403 && seen.touched != 0 {
                        self.sessions.refresh(&c);
                    }
                } else {
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

    /// Splices an upgraded connection to its upstream. The client side still holds its slot
    /// under `--proxy.max-connections` (the slot lives in the socket wrapper, which the upgraded
    /// connection keeps), and a tunnel with no byte either way for `--proxy.tunnel-idle-timeout`
    /// is closed.
    fn spawn_tunnel(&self, client: OnUpgrade, upstream: OnUpgrade, conn: Arc<ConnState>) {
        let guard = self.drain.guard();
        let metrics = self.metrics.clone();
        let idle = self.opts.tunnel_idle_timeout;
        tokio::spawn(async move {
            let open = InFlight::enter(&metrics.tunnels);
            match tokio::join!(client, upstream) {
                (Ok(c), Ok(u)) => {
                    let last = Arc::new(AtomicU64::new(crate::conn::stamp_now()));
                    let mut c = crate::conn::Activity::new(TokioIo::new(c), last.clone());
                    let mut u = crate::conn::Activity::new(TokioIo::new(u), last.clone());
                    let copy = tokio::io::copy_bidirectional(&mut c, &mut u);
                    tokio::pin!(copy);
                    loop {
                        let deadline = crate::conn::instant_of(last.load(Ordering::Acquire)) + idle;
                        tokio::select! {
                            r = &mut copy => {
                                if let Err(e) = r {
                                    tracing::debug!(err = %e, "tunnel ended with an error");
                                }
                                break;
                            }
                            () = tokio::time::sleep_until(deadline) => {
                                let seen = crate::conn::instant_of(last.load(Ordering::Acquire));
                                if seen + idle <= tokio::time::Instant::now() {
                                    tracing::debug!("tunnel idle for too long; closing it");
                                    break;
                                }
                            }
                        }
                    }
                    drop(conn);
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
            HeaderValue::from_static(exporter_core::text::CONTENT_TYPE),
        );
        r
    }

    /// The proxy port's metrics path answers only what the metrics port would: the web
    /// config's rate limit, then its basic auth. `Some` is the refusal.
    async fn refuse_metrics(&self, headers: &HeaderMap) -> Option<(StatusCode, &'static str)> {
        let web = self.opts.web.as_ref()?;
        if !web.web_config.allow_request() {
            return Some((StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n"));
        }
        if !web.web_config.authorize_async(headers).await {
            return Some((StatusCode::UNAUTHORIZED, "Unauthorized\n"));
        }
        None
    }

    /// The app's own metrics text, or `None` when the fetch failed. One fetch at a time: a
    /// scrape that had to wait takes the result of the fetch that ended while it waited (it
    /// is as fresh as its own would be), so a flood of scrapes costs the app one request at a
    /// time, never one each.
    async fn app_metrics_text(&self, path: &str) -> Option<String> {
        let asked = Instant::now();
        let mut last = self.app_fetch.lock().await;
        if let Some((at, text)) = &*last {
            if *at >= asked {
                return text.clone();
            }
        }
        let r = app_metrics::fetch(
            &self.app_metrics,
            &self.upstream.host_header,
            path,
            self.opts.app_metrics_timeout,
        )
        .await;
        if let Err(e) = &r {
            tracing::debug!(err = %e, "fetching the app's metrics failed");
        }
        self.metrics
            .app_metrics_up
            .store(i64::from(r.is_ok()), Ordering::Relaxed);
        let text = r.ok();
        *last = Some((Instant::now(), text.clone()));
        text
    }

    /// Everything one scrape shows: our families, then the app's own (when configured).
    pub async fn scrape(&self) -> Exposition {
        let app = match &self.opts.app_metrics_path {
            Some(path) => self.app_metrics_text(path).await,
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
            e.append_text(&app_metrics::filter(&text, &taken));
        }
        e
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
