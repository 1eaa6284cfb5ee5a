//! What the integration tests share: a small real upstream (hyper, on 127.0.0.1) standing in for
//! the NestJS gateway, the sidecar binary started on free ports, and HTTP helpers.
//!
//! Everything started here is stopped by a `Drop` guard, so a failing assertion never leaves a
//! process or a server behind.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::Path;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub type B = BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> B {
    Full::new(b.into()).boxed()
}

/// A body fed from a channel: the upstream's streaming endpoint and the tests' slow uploads.
pub struct ChannelBody(pub mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// The stand-in for the platform's gateway.
pub struct Upstream {
    pub addr: SocketAddr,
    /// TCP connections accepted so far (to see pooling).
    pub connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub async fn start() -> Upstream {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Upstream {
        let listener = TcpListener::bind(addr).await.expect("bind upstream");
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(upstream_handle);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Upstream {
            addr,
            connections,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn query(req: &Request<Incoming>, key: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.to_string())
    })
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn resp(status: u16, body: impl Into<Bytes>) -> Response<B> {
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r
}

/// The app's own metrics, shaped like prom-client's: one family clashes with the sidecar's.
pub const APP_METRICS: &str = "# HELP http_requests_total Total HTTP requests (app).\n\
# TYPE http_requests_total counter\n\
http_requests_total{route=\"/app\"} 77\n\
# HELP nodejs_eventloop_lag_seconds Lag of event loop in seconds.\n\
# TYPE nodejs_eventloop_lag_seconds gauge\n\
nodejs_eventloop_lag_seconds 0.004\n\
# HELP app_orders_total Orders placed.\n\
# TYPE app_orders_total counter\n\
app_orders_total 12\n";

async fn upstream_handle(mut req: Request<Incoming>) -> Result<Response<B>, Infallible> {
    let method = req.method().clone();
    // The routes are the gateway's, with or without the global prefix.
    let path = req.uri().path().to_string();
    let path = path.strip_prefix("/api").unwrap_or(&path).to_string();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let Some(ms) = query(&req, "delay_ms").and_then(|v| v.parse().ok()) {
        sleep_ms(ms).await;
    }
    let bearer_invalid = header(&req, "authorization").as_deref() == Some("Bearer invalid");
    let r = match (method.as_str(), segs.as_slice()) {
        (_, ["users", ..]) if bearer_invalid => resp(401, "unauthorized"),
        ("POST", ["auth", "login"]) => {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            if body.windows(3).any(|w| w == b"bad") {
                resp(401, "bad credentials")
            } else {
                let token = String::from_utf8_lossy(&body)
                    .split('=')
                    .nth(1)
                    .unwrap_or("rt-default")
                    .trim()
                    .to_string();
                let mut r = resp(200, format!("{{\"access_token\":\"{token}\"}}"));
                if !body.windows(8).any(|w| w == b"nocookie") {
                    r.headers_mut().append(
                        "set-cookie",
                        format!("refresh_token={token}; Path=/; HttpOnly; Max-Age=604800")
                            .parse()
                            .unwrap(),
                    );
                }
                r.headers_mut()
                    .append("set-cookie", "theme=dark; Path=/".parse().unwrap());
                r
            }
        }
        ("POST", ["auth", "logout"]) => {
            let mut r = resp(204, "");
            r.headers_mut().append(
                "set-cookie",
                "refresh_token=; Path=/; Max-Age=0".parse().unwrap(),
            );
            r
        }
        ("POST", ["auth", "refresh"]) => {
            let next = header(&req, "x-next-token").unwrap_or_else(|| "rt-next".into());
            let mut r = resp(200, "{}");
            r.headers_mut().append(
                "set-cookie",
                format!("refresh_token={next}; Path=/; HttpOnly")
                    .parse()
                    .unwrap(),
            );
            r
        }
        ("GET", ["auth", "callback"]) => {
            let token = header(&req, "x-test-token").unwrap_or_else(|| "rt-sso".into());
            let mut r = resp(302, "");
            r.headers_mut().insert("location", "/".parse().unwrap());
            r.headers_mut().append(
                "set-cookie",
                format!("refresh_token={token}; Path=/").parse().unwrap(),
            );
            r
        }
        ("GET", ["clear-cookie"]) => {
            let mut r = resp(200, "cleared");
            r.headers_mut().append(
                "set-cookie",
                "refresh_token=gone; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
                    .parse()
                    .unwrap(),
            );
            r
        }
        ("POST", ["users"]) => resp(201, "{\"id\":3}"),
        ("GET", ["users"]) => resp(200, "[]"),
        ("GET", ["users", _]) => resp(200, "{}"),
        ("PUT" | "PATCH", ["users", _]) => resp(200, "{}"),
        ("DELETE", ["users", "missing"]) => resp(404, "no such user"),
        ("DELETE", ["users", _]) => resp(204, ""),
        (_, ["users", _]) => resp(405, "method not allowed"),
        ("GET", ["slow"]) => {
            let ms = query(&req, "ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            sleep_ms(ms).await;
            resp(200, "slow done")
        }
        ("GET", ["stream"]) => {
            let n: usize = query(&req, "chunks")
                .and_then(|v| v.parse().ok())
                .unwrap_or(5);
            let ms: u64 = query(&req, "ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(200);
            let (tx, rx) = mpsc::channel(1);
            tokio::spawn(async move {
                for i in 0..n {
                    if tx.send(Bytes::from(format!("chunk {i}\n"))).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
            });
            Response::new(ChannelBody(rx).boxed())
        }
        ("POST" | "PUT", ["upload"]) => {
            let mut body = req.into_body();
            let (mut n, mut sum) = (0u64, 0u64);
            while let Some(f) = body.frame().await {
                let Ok(f) = f else {
                    return Ok(resp(400, "broken body"));
                };
                if let Some(d) = f.data_ref() {
                    n += d.len() as u64;
                    sum = d
                        .iter()
                        .fold(sum, |s, b| s.wrapping_mul(31).wrapping_add(*b as u64));
                }
            }
            resp(200, format!("bytes={n} sum={sum}"))
        }
        ("POST", ["first-chunk"]) => {
            // Answers after the first piece of the body, whatever follows.
            let mut body = req.into_body();
            let first = match body.frame().await {
                Some(Ok(f)) => f.data_ref().map_or(0, |d| d.len()),
                _ => 0,
            };
            tokio::spawn(async move { while body.frame().await.is_some() {} });
            resp(200, format!("first={first}"))
        }
        (_, ["echo", ..]) => {
            let mut out = format!("{} {}\n", req.method(), req.uri());
            for (k, v) in req.headers() {
                out.push_str(&format!("{}: {}\n", k, v.to_str().unwrap_or("?")));
            }
            let body = req.into_body().collect().await.unwrap().to_bytes();
            out.push_str(&format!("body={}\n", String::from_utf8_lossy(&body)));
            let mut r = resp(200, out);
            r.headers_mut()
                .insert("connection", "keep-alive, x-resp-hop".parse().unwrap());
            r.headers_mut().insert("x-resp-hop", "1".parse().unwrap());
            r.headers_mut()
                .insert("keep-alive", "timeout=5".parse().unwrap());
            r.headers_mut().insert("x-resp-kept", "1".parse().unwrap());
            r
        }
        ("GET", ["ws"]) => return Ok(ws_echo(&mut req)),
        ("GET", ["metrics"]) => {
            let mut r = resp(200, APP_METRICS);
            r.headers_mut().insert(
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8".parse().unwrap(),
            );
            r
        }
        ("GET" | "HEAD", ["health"]) => {
            let mut r = resp(200, "");
            r.headers_mut()
                .insert("content-length", "2".parse().unwrap());
            if method == Method::GET {
                r = resp(200, "ok");
            }
            r
        }
        _ => resp(404, "not found"),
    };
    Ok(r)
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await
}

fn ws_echo(req: &mut Request<Incoming>) -> Response<B> {
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;
    let Some(key) = req.headers().get("sec-websocket-key") else {
        return resp(400, "not a websocket request");
    };
    let accept = derive_accept_key(key.as_bytes());
    let on = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(up) = on.await else { return };
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(up),
            Role::Server,
            None,
        )
        .await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                break;
            }
            if ws.send(msg).await.is_err() {
                break;
            }
        }
    });
    let mut r = resp(101, "");
    r.headers_mut()
        .insert("upgrade", "websocket".parse().unwrap());
    r.headers_mut()
        .insert("connection", "Upgrade".parse().unwrap());
    r.headers_mut()
        .insert("sec-websocket-accept", accept.parse().unwrap());
    r
}

/// A free port on 127.0.0.1 (bound, then released for the sidecar to take).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_gateway-sidecar")
}

/// The sidecar, running. Killed on drop.
pub struct Sidecar {
    child: Child,
    pub proxy: SocketAddr,
    pub metrics: SocketAddr,
    logs: Arc<Mutex<String>>,
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sidecar {
    /// Starts the sidecar in front of `upstream` with extra flags, at debug log level, and
    /// waits until both ports answer.
    pub fn start(upstream: &str, extra: &[&str]) -> Sidecar {
        let proxy: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut cmd = Command::new(bin());
        cmd.arg(format!("--upstream={upstream}"))
            .arg(format!("--proxy.listen-address={proxy}"))
            .arg(format!("--web.listen-address={metrics}"))
            .arg("--log.level=debug")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start gateway-sidecar");
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut s = Sidecar {
            child,
            proxy,
            metrics,
            logs,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("sidecar exited early ({status}): {}", s.logs());
            }
            if StdStream::connect(proxy).is_ok() && StdStream::connect(metrics).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "sidecar did not start: {}",
                s.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.proxy, path)
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Waits for the process to exit; its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the logs contain `needle`.
    pub fn wait_log(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.logs().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The metrics listener's /metrics.
    pub async fn scrape(&self) -> String {
        let r = get(&format!("http://{}/metrics", self.metrics)).await;
        assert_eq!(r.status, 200, "scrape failed: {}", r.text());
        r.text()
    }
}

/// One HTTP exchange's result.
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub type TestClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub async fn send(c: &TestClient, req: Request<Full<Bytes>>) -> Reply {
    let r = c.request(req).await.expect("request through the sidecar");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// A request with headers and a body, on a shared keep-alive client.
pub async fn call(
    c: &TestClient,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut b = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(c, b.body(Full::new(Bytes::from(body.to_string()))).unwrap()).await
}

pub async fn get(url: &str) -> Reply {
    call(&client(), "GET", url, &[], "").await
}

/// The value of one exact sample line (`name{labels}`), if present.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// Polls the scrape until `series` has `want` (a request is recorded when its response body
/// ends, a moment after the client has read it).
pub async fn expect_metric(s: &Sidecar, series: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let t = s.scrape().await;
        let got = metric(&t, series);
        if got == Some(want) {
            return;
        }
        if Instant::now() > deadline {
            panic!("{series}: want {want}, got {got:?}\n{t}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Distinct values of `label` among the samples of `family`.
pub fn label_values(text: &str, family: &str, label: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with('{'))
        .filter_map(|l| {
            let start = l.find(&format!("{label}=\""))? + label.len() + 2;
            let end = l[start..].find('"')? + start;
            Some(l[start..end].to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An unsigned JWT-shaped token with the given payload (the sidecar never checks signatures).
pub fn jwt(payload: &str) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.c2lnbmF0dXJl",
        e.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        e.encode(payload)
    )
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Writes a rules file into `dir`.
pub fn rules_file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A raw HTTP/1.1 exchange on a plain socket: what was read until EOF or `timeout`.
pub fn raw_exchange(addr: SocketAddr, send: &[u8], timeout: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut s = StdStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(send).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    (out, start.elapsed())
}

/// Counts samples per family in a scrape.
pub fn series_count(text: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let name = l.split(['{', ' ']).next().unwrap_or("");
        *m.entry(name.to_string()).or_insert(0) += 1;
    }
    m
}

/// An upstream that accepts connections and never answers a byte (a wedged app). Stops, and
/// closes what it holds, on drop; gives up by itself after a minute.
pub struct SilentUpstream {
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentUpstream {
    pub fn start() -> SilentUpstream {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (count, stopped) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let until = Instant::now() + Duration::from_secs(60);
            while !stopped.load(Ordering::Relaxed) && Instant::now() < until {
                match listener.accept() {
                    Ok((s, _)) => {
                        held.push(s);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        SilentUpstream {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until `n` connections have been accepted.
    pub fn wait_accepted(&self, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.accepted.load(Ordering::SeqCst) >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for SilentUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
