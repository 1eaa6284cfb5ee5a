//! The HTTP side of an exporter: the metrics path, a landing page, `/healthz`, TLS and basic auth
//! from the web config, a cap on concurrent scrapes, gzip, and the exporter's own metrics.
//!
//! As in mini-redis, [`serve`] takes listeners that are already bound and a shutdown future, so
//! `main` binds before anything serves (and fails cleanly when a port is taken), and tests bind
//! `127.0.0.1:0`. After the shutdown future resolves it stops accepting and gives the requests in
//! flight [`Settings::shutdown_grace`], counting open connections in the daemon's [`Busy`] so the
//! daemon can say what it abandons (see [`crate::shutdown`]).

use std::convert::Infallible;
use std::future::Future;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cli::{UsageError, WebArgs};
use crate::process;
use crate::text::{Exposition, MetricType, SharedText, CONTENT_TYPE};
use crate::web_config::WebConfig;
use crate::{Busy, InFlight};

/// What the landing page says about the daemon.
#[derive(Clone, Debug)]
pub struct Landing {
    pub name: &'static str,
    pub description: &'static str,
    pub version: &'static str,
}

/// The validated web settings of a daemon.
pub struct Settings {
    pub listen_addresses: Vec<String>,
    pub systemd_socket: bool,
    pub telemetry_path: String,
    pub max_requests: usize,
    /// `--web.max-connections`: 0 is no cap.
    pub max_connections: usize,
    /// `--web.write-timeout`: how long a response may make no progress.
    pub write_timeout: Duration,
    pub exporter_metrics: bool,
    pub web_config: WebConfig,
    pub landing: Landing,
    /// How long requests in flight get to finish after the shutdown signal: 5 s unless the daemon
    /// has a flag for it (the sidecar's `--proxy.shutdown-grace`).
    pub shutdown_grace: Duration,
}

impl Settings {
    /// Checks the flags and loads `--web.config.file`: a bad one is a [`UsageError`], found
    /// before any port is bound.
    pub fn from_args(args: &WebArgs, landing: Landing) -> Result<Self, UsageError> {
        if !args.telemetry_path.starts_with('/') {
            return Err(UsageError::new(format!(
                "--web.telemetry-path must start with '/', got {:?}",
                args.telemetry_path
            )));
        }
        if args.write_timeout.is_zero() {
            return Err(UsageError::new("--web.write-timeout must be more than 0"));
        }
        for addr in &args.listen_addresses {
            if !addr.contains(':') {
                return Err(UsageError::new(format!(
                    "--web.listen-address {addr:?}: missing port (want host:port or :port)"
                )));
            }
        }
        let web_config = match &args.config_file {
            Some(path) => WebConfig::load(path)?,
            None => WebConfig::default(),
        };
        Ok(Self {
            listen_addresses: args.listen_addresses.clone(),
            systemd_socket: args.systemd_socket,
            telemetry_path: args.telemetry_path.clone(),
            max_requests: args.max_requests,
            max_connections: args.max_connections,
            write_timeout: args.write_timeout,
            exporter_metrics: !args.disable_exporter_metrics,
            web_config,
            landing,
            shutdown_grace: SHUTDOWN_GRACE,
        })
    }

    /// Binds every listen address (or takes systemd's sockets).
    pub fn bind(&self) -> anyhow::Result<Vec<StdListener>> {
        if self.systemd_socket {
            return systemd_listeners();
        }
        self.listen_addresses
            .iter()
            .map(|a| bind_address(a, "--web.listen-address"))
            .collect()
    }
}

/// A scrape as the daemon sees it.
#[derive(Debug, Default, Clone)]
pub struct ScrapeRequest {
    /// The raw query string (`collect[]=cpu&…`), if any.
    pub query: Option<String>,
    /// From Prometheus' `X-Prometheus-Scrape-Timeout-Seconds`, if sent.
    pub timeout: Option<Duration>,
}

/// An answer other than 200 to a scrape: a 4xx for a bad request, a 5xx for a failure.
#[derive(Debug, Clone)]
pub struct HttpError {
    pub status: u16,
    pub message: String,
}

impl HttpError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
        }
    }
}

/// What one scrape answers: a head written for this scrape (the server adds its own `process_*`
/// and `promhttp_*` families to it), and optionally a tail stored once for many scrapes and served
/// after everything else without being copied (its compressed form is appended to a gzip body).
/// The app keeps the tail's family names apart from the head's.
#[derive(Debug, Default)]
pub struct Scrape {
    pub head: Exposition,
    pub tail: Option<Arc<SharedText>>,
}

impl From<Exposition> for Scrape {
    fn from(head: Exposition) -> Self {
        Self { head, tail: None }
    }
}

pub type ScrapeFuture = Pin<Box<dyn Future<Output = Result<Scrape, HttpError>> + Send>>;

/// What a daemon plugs into the server.
pub trait App: Send + Sync + 'static {
    /// Collects the metrics of one scrape.
    fn scrape(&self, req: ScrapeRequest) -> ScrapeFuture;

    /// The `/healthz` answer: status code and body.
    fn health(&self) -> (u16, String) {
        (200, "OK\n".to_string())
    }
}

/// client_golang's promhttp self-metrics.
#[derive(Default)]
struct HandlerMetrics {
    in_flight: AtomicI64,
    code_200: AtomicU64,
    code_500: AtomicU64,
    code_503: AtomicU64,
    errors_encoding: AtomicU64,
    errors_gathering: AtomicU64,
}

impl HandlerMetrics {
    fn count(&self, status: u16) {
        match status {
            200 => &self.code_200,
            503 => &self.code_503,
            _ => &self.code_500,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    fn collect(&self, out: &mut Exposition) {
        out.gauge(
            "promhttp_metric_handler_requests_in_flight",
            "Current number of scrapes being served.",
            &[],
            self.in_flight.load(Ordering::Relaxed) as f64,
        );
        let fam = out.family(
            "promhttp_metric_handler_requests_total",
            "Total number of scrapes by HTTP status code.",
            MetricType::Counter,
        );
        for (code, n) in [
            ("200", &self.code_200),
            ("500", &self.code_500),
            ("503", &self.code_503),
        ] {
            fam.sample(&[("code", code)], n.load(Ordering::Relaxed) as f64);
        }
        let fam = out.family(
            "promhttp_metric_handler_errors_total",
            "Total number of internal errors encountered by the promhttp metric handler.",
            MetricType::Counter,
        );
        for (cause, n) in [
            ("encoding", &self.errors_encoding),
            ("gathering", &self.errors_gathering),
        ] {
            fam.sample(&[("cause", cause)], n.load(Ordering::Relaxed) as f64);
        }
    }
}

struct State {
    settings: Settings,
    app: Arc<dyn App>,
    metrics: HandlerMetrics,
    limiter: Option<Arc<Semaphore>>,
}

/// How long in-flight requests get to finish after a shutdown signal, unless the daemon says.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a client may take to send its request headers or finish a TLS handshake.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish
/// within the grace period. Connections still open then are left to the runtime's shutdown;
/// `busy` counts them (as `connections`) until it drops them.
pub async fn serve(
    listeners: Vec<StdListener>,
    settings: Settings,
    app: Arc<dyn App>,
    busy: Arc<Busy>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let open = busy.counter("connections");
    let grace = settings.shutdown_grace;
    let limiter =
        (settings.max_requests > 0).then(|| Arc::new(Semaphore::new(settings.max_requests)));
    // Like Go's netutil.LimitListener: past the cap, connections wait in the kernel's backlog
    // instead of each taking a descriptor, a task and buffers.
    let conn_cap =
        (settings.max_connections > 0).then(|| Arc::new(Semaphore::new(settings.max_connections)));
    let write_timeout = settings.write_timeout;
    let tls = settings.web_config.tls_acceptor();
    let state = Arc::new(State {
        settings,
        app,
        metrics: HandlerMetrics::default(),
        limiter,
    });
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let (conn_tx, mut conn_rx) = tokio::sync::mpsc::channel::<(
        tokio::net::TcpStream,
        SocketAddr,
        Option<OwnedSemaphorePermit>,
    )>(64);

    let mut accept_tasks = Vec::new();
    for l in listeners {
        l.set_nonblocking(true)
            .context("setting listener non-blocking")?;
        let listener = TcpListener::from_std(l).context("registering listener")?;
        tracing::info!(address = %listener.local_addr()?, tls = tls.is_some(), "Listening on");
        let tx = conn_tx.clone();
        let conn_cap = conn_cap.clone();
        accept_tasks.push(tokio::spawn(async move {
            loop {
                let permit = match &conn_cap {
                    Some(cap) => match cap.clone().acquire_owned().await {
                        Ok(p) => Some(p),
                        Err(_) => return,
                    },
                    None => None,
                };
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        if tx.send((stream, peer, permit)).await.is_err() {
                            return;
                        }
                    }
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(e) => {
                        tracing::warn!(err = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }));
    }
    drop(conn_tx);

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            conn = conn_rx.recv() => {
                let Some((stream, peer, permit)) = conn else { break };
                let _ = stream.set_nodelay(true);
                let stream = WriteTimeout::new(stream, write_timeout);
                let open = open.clone();
                let state = state.clone();
                let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
                match &tls {
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        let conn = graceful.watch(conn);
                        tokio::spawn(async move {
                            let _open = InFlight::enter(&open);
                            let _permit = permit;
                            if let Err(e) = conn.await {
                                tracing::debug!(peer = %peer, err = %e, "connection ended with an error");
                            }
                        });
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            let _open = InFlight::enter(&open);
                            let _permit = permit;
                            let tls_stream = match tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(peer = %peer, err = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(peer = %peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                            let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
                            if let Err(e) = watcher.watch(conn).await {
                                tracing::debug!(peer = %peer, err = %e, "connection ended with an error");
                            }
                        });
                    }
                }
            }
        }
    }
    for t in accept_tasks {
        t.abort();
    }
    tracing::info!(
        grace_seconds = grace.as_secs_f64(),
        "shutting down, letting in-flight requests finish"
    );
    // What is still open after the grace period is named by the daemon's shutdown report.
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    Ok(())
}

type Resp = Response<Body>;

/// A response body handed to hyper in slices, so that hyper asks for the next one only once it
/// has written the last: whatever the body holds (the `--web.max-requests` permit) is held until
/// the client has taken nearly all of it, not only until the handler returned. A slow reader
/// therefore counts against `--web.max-requests` for as long as it pins a body.
pub struct Body {
    rest: Bytes,
    _permit: Option<OwnedSemaphorePermit>,
}

/// What hyper gets per poll: large enough for few system calls, small against a body.
const BODY_SLICE: usize = 256 * 1024;

impl Body {
    fn new(bytes: impl Into<Bytes>) -> Self {
        Self {
            rest: bytes.into(),
            _permit: None,
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.rest.is_empty() {
            return std::task::Poll::Ready(None);
        }
        let n = this.rest.len().min(BODY_SLICE);
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(this.rest.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.rest.len() as u64)
    }
}

/// A connection whose writes fail with `TimedOut` once one has made no progress for `timeout`
/// (Go's `http.Server.WriteTimeout` in spirit, but counted from the last progress so a large
/// body to a slow but live client is not cut). Without it, a client that never reads holds its
/// connection, its task and the body for as long as the kernel keeps the socket.
struct WriteTimeout<S> {
    inner: S,
    timeout: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteTimeout<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// Turns a `Pending` write into an error once the stall has lasted `timeout`.
    fn check<T>(
        &mut self,
        cx: &mut std::task::Context<'_>,
        r: std::task::Poll<std::io::Result<T>>,
    ) -> std::task::Poll<std::io::Result<T>> {
        use std::task::Poll;
        match r {
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "write timeout: the client took nothing of the response",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for WriteTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.check(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.check(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        this.check(cx, r)
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.check(cx, r)
    }
}

/// The bounds of `X-Prometheus-Scrape-Timeout-Seconds`: Prometheus' durations have millisecond
/// resolution, and a year is far beyond any scrape.
const SCRAPE_TIMEOUT_MIN: f64 = 0.001;
const SCRAPE_TIMEOUT_MAX: f64 = 365.0 * 86_400.0;

/// Reads `X-Prometheus-Scrape-Timeout-Seconds`: absent is `None`, a value outside
/// [`SCRAPE_TIMEOUT_MIN`, `SCRAPE_TIMEOUT_MAX`] (or no number) the reason for a 400.
fn scrape_timeout(headers: &hyper::HeaderMap) -> Result<Option<Duration>, String> {
    let Some(raw) = headers.get("x-prometheus-scrape-timeout-seconds") else {
        return Ok(None);
    };
    let secs = raw
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| (SCRAPE_TIMEOUT_MIN..=SCRAPE_TIMEOUT_MAX).contains(s));
    match secs {
        Some(s) => Ok(Some(Duration::from_secs_f64(s))),
        None => {
            let shown: String = String::from_utf8_lossy(raw.as_bytes())
                .chars()
                .take(40)
                .collect();
            Err(format!(
                "X-Prometheus-Scrape-Timeout-Seconds: want seconds from {SCRAPE_TIMEOUT_MIN} to {SCRAPE_TIMEOUT_MAX}, got {shown:?}"
            ))
        }
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let mut resp = route(&state, &req).await;
    for (name, value) in state.settings.web_config.response_headers() {
        resp.headers_mut().insert(name.clone(), value.clone());
    }
    if req.method() == Method::HEAD {
        *resp.body_mut() = Body::new(Bytes::new());
    }
    Ok(resp)
}

async fn route(state: &State, req: &Request<Incoming>) -> Resp {
    // `rate_limit` comes before authentication, as in exporter-toolkit.
    if !state.settings.web_config.allow_request() {
        return text(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n");
    }
    if !state
        .settings
        .web_config
        .authorize_async(req.headers())
        .await
    {
        let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        return r;
    }
    let path = req.uri().path();
    let known = path == state.settings.telemetry_path || path == "/" || path == "/healthz";
    if !known {
        return text(StatusCode::NOT_FOUND, "404 page not found\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if path == state.settings.telemetry_path {
        return metrics(state, req).await;
    }
    if path == "/healthz" {
        let (code, body) = state.app.health();
        return text(StatusCode::from_u16(code).unwrap_or(StatusCode::OK), &body);
    }
    landing(&state.settings)
}

async fn metrics(state: &State, req: &Request<Incoming>) -> Resp {
    let timeout = match scrape_timeout(req.headers()) {
        Ok(t) => t,
        Err(why) => {
            tracing::warn!(err = %why, "bad scrape request");
            return text(StatusCode::BAD_REQUEST, &format!("{why}\n"));
        }
    };
    let permit = match &state.limiter {
        Some(sem) => match sem.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                state.metrics.count(503);
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "Limit of concurrent requests reached ({}), try again later.\n",
                        state.settings.max_requests
                    ),
                );
            }
        },
        None => None,
    };
    let _in_flight = InFlight::enter(&state.metrics.in_flight);
    let scrape = ScrapeRequest {
        query: req.uri().query().map(str::to_string),
        timeout,
    };
    let result = state.app.scrape(scrape).await;
    let resp = match result {
        Ok(Scrape { mut head, tail }) => {
            if state.settings.exporter_metrics {
                process::collect(&mut head);
                state.metrics.collect(&mut head);
            }
            let body = head.to_bytes();
            state.metrics.count(200);
            let mut resp = encode(req, body, tail.as_deref());
            // Held by the body until hyper has written (nearly) all of it.
            resp.body_mut()._permit = permit;
            resp
        }
        Err(e) => {
            if e.status >= 500 {
                state
                    .metrics
                    .errors_gathering
                    .fetch_add(1, Ordering::Relaxed);
            }
            state.metrics.count(e.status);
            text(
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                &format!("{}\n", e.message),
            )
        }
    };
    resp
}

/// The body as is, or gzipped when the client accepts it (Prometheus does), followed by the
/// pre-compressed `shared` text if any.
fn encode(req: &Request<Incoming>, mut body: Vec<u8>, shared: Option<&SharedText>) -> Resp {
    let gzip = req
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let mut parts = t.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        });
    let (body, gzipped) = match shared {
        Some(text) if gzip => match text.gzip_after(&body) {
            Ok(z) => (z, true),
            Err(_) => return encoding_failed(),
        },
        Some(text) => match text.inflate_into(&mut body) {
            Ok(()) => (body, false),
            Err(_) => return encoding_failed(),
        },
        // The fastest level: a scrape's text compresses well anyway, and CPU per scrape is what
        // an exporter on every node is judged by.
        None if gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            match enc.write_all(&body).and_then(|_| enc.finish()) {
                Ok(z) => (z, true),
                Err(_) => (body, false),
            }
        }
        None => (body, false),
    };
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, CONTENT_TYPE)
        .header(header::VARY, "Accept-Encoding");
    if gzipped {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
    }
    builder
        .body(Body::new(body))
        .unwrap_or_else(|_| encoding_failed())
}

fn encoding_failed() -> Resp {
    text(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n")
}

fn text(status: StatusCode, body: &str) -> Resp {
    let mut r = Response::new(Body::new(Bytes::copy_from_slice(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn landing(settings: &Settings) -> Resp {
    let l = &settings.landing;
    let path = html_escape(&settings.telemetry_path);
    let body = format!(
        "<!DOCTYPE html>\n<html>\n<head><title>{name}</title></head>\n<body>\n<h1>{name}</h1>\n\
         <p>{desc}</p>\n<p>Version: {version}</p>\n<ul>\n<li><a href=\"{path}\">Metrics</a></li>\n\
         <li><a href=\"/healthz\">Health</a></li>\n</ul>\n</body>\n</html>\n",
        name = html_escape(l.name),
        desc = html_escape(l.description),
        version = html_escape(l.version),
    );
    let mut r = Response::new(Body::new(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Binds one listen address given to `flag` (named in errors). Like Go, `:9100` means every
/// address, IPv6 and IPv4.
pub fn bind_address(addr: &str, flag: &str) -> anyhow::Result<StdListener> {
    if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .with_context(|| format!("{flag} {addr:?}: bad port"))?;
        // A dual-stack socket where the host has IPv6; plain IPv4 where it does not.
        return StdListener::bind(("::", port))
            .or_else(|_| StdListener::bind(("0.0.0.0", port)))
            .with_context(|| format!("listen on {addr}"));
    }
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .with_context(|| format!("{flag} {addr:?}: cannot resolve"))?
        .collect();
    let mut last = None;
    for a in addrs {
        match StdListener::bind(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => anyhow::Error::new(e).context(format!("listen on {addr}")),
        None => anyhow::anyhow!("{flag} {addr:?} resolves to nothing"),
    })
}

/// Sockets passed by systemd socket activation (`LISTEN_FDS`, starting at fd 3).
fn systemd_listeners() -> anyhow::Result<Vec<StdListener>> {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let n: i32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if !pid_ok || n <= 0 {
        anyhow::bail!("--web.systemd-socket given but no sockets were passed by systemd");
    }
    listeners_from_fds(3..3 + n)
}

/// Takes over the passed descriptors as listeners.
/// Takes over the passed descriptors as listeners, each checked to be a listening TCP socket
/// first: a unit file with a datagram or Unix socket, or a descriptor left open by a wrapper,
/// would otherwise be used as a TCP listener and fail in odd ways at the first accept.
fn listeners_from_fds(fds: impl Iterator<Item = i32>) -> anyhow::Result<Vec<StdListener>> {
    use std::os::fd::FromRawFd;
    let mut out = Vec::new();
    for fd in fds {
        check_listening_tcp(fd)?;
        // SAFETY: systemd hands these descriptors to this process and nothing else in it owns
        // them; each was just checked to be a listening TCP socket.
        out.push(unsafe { StdListener::from_raw_fd(fd) });
    }
    Ok(out)
}

fn check_listening_tcp(fd: i32) -> anyhow::Result<()> {
    // SAFETY: fstat only writes into `st`; a bad fd is an error return.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(anyhow::Error::new(std::io::Error::last_os_error())
            .context(format!("systemd socket fd {fd}")));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        anyhow::bail!("systemd socket fd {fd} is not a socket");
    }
    let int_opt = |level, name| -> Option<i32> {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `v` and `len` are valid for the call and sized for an int option.
        let r = unsafe {
            libc::getsockopt(
                fd,
                level,
                name,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(v)
    };
    let stream = int_opt(libc::SOL_SOCKET, libc::SO_TYPE) == Some(libc::SOCK_STREAM);
    let listening = int_opt(libc::SOL_SOCKET, libc::SO_ACCEPTCONN) == Some(1);
    let family = int_opt(libc::SOL_SOCKET, libc::SO_DOMAIN);
    let inet = family == Some(libc::AF_INET) || family == Some(libc::AF_INET6);
    if !(stream && listening && inet) {
        anyhow::bail!("systemd socket fd {fd} is not a listening TCP socket");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    #[test]
    fn passed_descriptors_must_be_listening_stream_sockets() {
        let file = tempfile::tempfile().unwrap().into_raw_fd();
        let e = listeners_from_fds([file].into_iter()).unwrap_err();
        assert!(format!("{e:#}").contains("not a socket"), "{e:#}");
        let udp = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .into_raw_fd();
        let e = listeners_from_fds([udp].into_iter()).unwrap_err();
        assert!(
            format!("{e:#}").contains("not a listening TCP socket"),
            "{e:#}"
        );
        let connected = {
            let l = StdListener::bind("127.0.0.1:0").unwrap();
            std::net::TcpStream::connect(l.local_addr().unwrap())
                .unwrap()
                .into_raw_fd()
        };
        let e = listeners_from_fds([connected].into_iter()).unwrap_err();
        assert!(
            format!("{e:#}").contains("not a listening TCP socket"),
            "{e:#}"
        );
        let good = StdListener::bind("127.0.0.1:0").unwrap();
        let addr = good.local_addr().unwrap();
        let got = listeners_from_fds([good.into_raw_fd()].into_iter()).unwrap();
        assert_eq!(got[0].local_addr().unwrap(), addr);
    }
}
