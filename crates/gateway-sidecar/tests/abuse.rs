//! The sidecar against hostile clients, over raw TCP (issue 13): request smuggling shapes,
//! header abuse, slow readers, idle tunnels past the connection cap, credential floods. The
//! upstream is a real HTTP server on 127.0.0.1 that records every request it parses, so each
//! case shows what reached the app: exactly one well-framed request, or nothing and a 400.

#![allow(clippy::unwrap_used)]

mod common;

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What the recording upstream parsed.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Record {
    requests: Mutex<Vec<Seen>>,
    /// Connections that ended with a parse or body error (a badly framed request).
    broken: AtomicUsize,
    /// Connections open now, and the most at once.
    open: AtomicUsize,
    /// `/app-metrics` requests in flight now, and the most at once.
    metrics_now: AtomicUsize,
    metrics_max: AtomicUsize,
}

/// A recording upstream; aborted on drop.
struct Recorder {
    addr: SocketAddr,
    rec: Arc<Record>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rec = Arc::new(Record::default());
        let r = rec.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let r = r.clone();
                tokio::spawn(async move {
                    r.open.fetch_add(1, Ordering::SeqCst);
                    let rr = r.clone();
                    let svc = hyper::service::service_fn(move |req| record(rr.clone(), req));
                    let res = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                    if res.is_err() {
                        r.broken.fetch_add(1, Ordering::SeqCst);
                    }
                    r.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Recorder { addr, rec, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Seen> {
        self.rec.requests.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.rec.requests.lock().unwrap().clear();
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

async fn record(
    rec: Arc<Record>,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into(),
            )
        })
        .collect();
    let method = req.method().to_string();
    let upgrade = (path == "/tunnel").then(|| hyper::upgrade::on(&mut req));
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        // A broken body is no request: the connection's error counts it.
        Err(_) => return Ok(Response::new(full(Bytes::new()))),
    };
    rec.requests.lock().unwrap().push(Seen {
        method,
        path: path.clone(),
        headers,
        body,
    });
    let r = match path.as_str() {
        "/missing" => status(404, "not found"),
        "/big" => {
            // 32 MiB in 64 KiB pieces: far beyond every socket buffer on the way.
            let piece = Bytes::from(vec![b'x'; 64 * 1024]);
            let stream =
                futures_util::stream::iter((0..512).map(move |_| {
                    Ok::<_, std::io::Error>(hyper::body::Frame::data(piece.clone()))
                }));
            Response::new(http_body_util::StreamBody::new(stream).boxed())
        }
        "/app-metrics" => {
            let now = rec.metrics_now.fetch_add(1, Ordering::SeqCst) + 1;
            rec.metrics_max.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
            rec.metrics_now.fetch_sub(1, Ordering::SeqCst);
            status(200, "app_up 1\n")
        }
        "/tunnel" => {
            if let Some(up) = upgrade {
                tokio::spawn(async move {
                    if let Ok(io) = up.await {
                        let mut io = TokioIo::new(io);
                        let (mut r, mut w) = tokio::io::split(&mut io);
                        let _ = tokio::io::copy(&mut r, &mut w).await;
                    }
                });
            }
            let mut r = status(101, "");
            r.headers_mut()
                .insert("connection", "upgrade".parse().unwrap());
            r.headers_mut().insert("upgrade", "echo".parse().unwrap());
            r
        }
        _ => status(200, "ok"),
    };
    Ok(r)
}

fn full(b: Bytes) -> Body {
    Full::new(b).map_err(|e: Infallible| match e {}).boxed()
}

fn status(code: u16, text: &'static str) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
    r
}

/// Sends `raw` on a fresh connection and reads until the sidecar closes it (or `within`).
/// Returns what came back and whether the sidecar closed the connection.
fn exchange(addr: SocketAddr, raw: &[u8], within: Duration) -> (String, bool) {
    let mut s = StdStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.write_all(raw).unwrap();
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&out).into(), true)
            }
            Err(_) => {}
        }
    }
    (String::from_utf8_lossy(&out).into(), false)
}

fn responses(text: &str) -> Vec<u16> {
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

/// Waits until `f` holds, or `within`.
async fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_attacks_reach_the_app_as_one_request_or_get_400() {
    let up = Recorder::start().await;
    let s = Sidecar::start(&up.url(), &[]);
    let cases: Vec<(&str, String)> = vec![
        (
            "content-length then transfer-encoding",
            format!("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n{SMUGGLED}"),
        ),
        (
            "transfer-encoding then content-length",
            format!("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n{SMUGGLED}"),
        ),
        (
            "duplicate content-length",
            format!("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc{SMUGGLED}"),
        ),
        (
            "obs-fold",
            format!("GET /a HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n{SMUGGLED}"),
        ),
        (
            "chunk-size overflow",
            format!("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000000000003\r\nabc\r\n0\r\n\r\n{SMUGGLED}"),
        ),
        (
            "HTTP/1.0 with transfer-encoding",
            format!("POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n{SMUGGLED}"),
        ),
        (
            "transfer-encoding not ending in chunked",
            format!("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n{SMUGGLED}"),
        ),
        (
            "bare LF",
            "GET /a HTTP/1.1\nHost: x\nConnection: close\n\n".to_string(),
        ),
    ];
    for (name, raw) in &cases {
        up.clear();
        let (reply, closed) = exchange(s.proxy, raw.as_bytes(), Duration::from_secs(10));
        let got = responses(&reply);
        let seen = up.requests();
        assert!(
            !seen.iter().any(|r| r.path == "/smuggled"),
            "{name}: a smuggled request reached the app: {seen:?}"
        );
        if got.first() == Some(&400) {
            // (A body that breaks mid-way has had its head sent upstream already, bodies being
            // streamed; the upstream connection is then cut, so the app never gets a whole
            // request.)
            assert!(closed, "{name}: 400 without closing the connection");
            assert!(seen.is_empty(), "{name}: 400, yet the app saw {seen:?}");
        } else {
            // Accepted: the app saw exactly this one request, re-framed, with its body whole,
            // and the connection is closed after it (the rest is not trusted as a request).
            assert_eq!(got, vec![200], "{name}: {reply}");
            assert!(
                closed,
                "{name}: the connection stayed open after a doubtful request"
            );
            assert_eq!(seen.len(), 1, "{name}: {seen:?}");
            if seen[0].method == "POST" {
                assert_eq!(seen[0].body, b"abc", "{name}");
            }
            assert!(
                seen[0].header("transfer-encoding").is_none()
                    || seen[0].header("content-length").is_none(),
                "{name}: both framings went upstream"
            );
        }
        println!("{name}: {:?}, closed {closed}", got);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let up = Recorder::start().await;
    let s = Sidecar::start(&up.url(), &[]);
    let raw = "GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /p2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (reply, closed) = exchange(s.proxy, raw.as_bytes(), Duration::from_secs(10));
    assert_eq!(responses(&reply), vec![200, 200, 404], "{reply}");
    assert!(closed);
    let paths: Vec<String> = up.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/p1", "/p2", "/missing"]);
    assert_eq!(up.requests()[1].body, b"hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_header_cannot_strip_host_or_end_to_end_fields() {
    let up = Recorder::start().await;
    let s = Sidecar::start(&up.url(), &[]);
    let raw = "GET /c HTTP/1.1\r\nHost: api.example\r\nConnection: host, authorization, x-forwarded-for, cookie, x-hop\r\n\
               Authorization: Bearer t\r\nCookie: a=b\r\nX-Forwarded-For: 203.0.113.7\r\nX-Hop: 1\r\n\r\n";
    let (reply, _) = exchange(s.proxy, raw.as_bytes(), Duration::from_millis(1500));
    assert_eq!(responses(&reply), vec![200], "{reply}");
    let seen = up.requests();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.header("host"), Some("api.example"));
    assert_eq!(r.header("authorization"), Some("Bearer t"));
    assert_eq!(r.header("cookie"), Some("a=b"));
    // The client is not a trusted hop: its X-Forwarded-For is replaced, never just dropped.
    assert_eq!(r.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(r.header("x-hop"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_fields_are_only_taken_from_trusted_hops() {
    let up = Recorder::start().await;
    let raw = "GET /f HTTP/1.1\r\nHost: api.example\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-For: 10.1.1.1\r\n\r\n";
    {
        let s = Sidecar::start(&up.url(), &[]);
        exchange(s.proxy, raw.as_bytes(), Duration::from_millis(1500));
        let r = &up.requests()[0];
        assert_eq!(r.header("x-forwarded-proto"), Some("http"));
        assert_eq!(r.header("x-forwarded-host"), Some("api.example"));
        assert_eq!(r.header("x-forwarded-for"), Some("127.0.0.1"));
    }
    up.clear();
    let s = Sidecar::start(&up.url(), &["--proxy.trusted-proxies=127.0.0.0/8"]);
    exchange(s.proxy, raw.as_bytes(), Duration::from_millis(1500));
    let r = &up.requests()[0];
    assert_eq!(r.header("x-forwarded-proto"), Some("https"));
    assert_eq!(r.header("x-forwarded-host"), Some("evil.example"));
    assert_eq!(r.header("x-forwarded-for"), Some("10.1.1.1, 127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_tokens_the_app_does_not_accept_open_no_session() {
    let up = Recorder::start().await;
    let s = Sidecar::start(&up.url(), &[]);
    let c = client();
    for i in 0..200 {
        let token = format!("Bearer random-{i}-{}", i * 7919);
        let r = call(
            &c,
            "GET",
            &s.url("/missing"),
            &[("authorization", &token)],
            "",
        )
        .await;
        assert_eq!(r.status, 404);
    }
    expect_metric(&s, "auth_active_sessions", 0.0).await;
    // A credential the app answers with success is a session.
    call(
        &c,
        "GET",
        &s.url("/ok"),
        &[("authorization", "Bearer good")],
        "",
    )
    .await;
    expect_metric(&s, "auth_active_sessions", 1.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_casing_of_the_login_path_counts_as_a_login() {
    let up = Recorder::start().await;
    let s = Sidecar::start(&up.url(), &[]);
    let c = client();
    // The recorder answers /Auth/Login with 200, as Express would route it to the login.
    call(&c, "POST", &s.url("/Auth/LOGIN"), &[], "u=p").await;
    let text = s.scrape().await;
    assert_eq!(
        metric(
            &text,
            "auth_requests_total{status=\"success\",type=\"login\"}"
        ),
        Some(1.0),
        "{text}"
    );
}

/// Open file descriptors and resident memory (KiB) of a process.
fn fds_and_rss(pid: i32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    (fds, rss)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_are_cut_and_release_the_upstream() {
    let up = Recorder::start().await;
    let s = Sidecar::start(&up.url(), &["--proxy.send-timeout=1s"]);
    // Clients that ask for 32 MiB and never read a byte.
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut c = StdStream::connect(s.proxy).unwrap();
        c.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        held.push(c);
    }
    assert!(
        eventually(Duration::from_secs(10), || up
            .rec
            .open
            .load(Ordering::SeqCst)
            >= 8)
        .await
    );
    // Stalled for longer than the send timeout: the sidecar gives up on them, and the upstream
    // connections (which could not go back to the pool mid-body) are closed.
    let released = eventually(Duration::from_secs(15), || {
        up.rec.open.load(Ordering::SeqCst) == 0
    })
    .await;
    assert!(
        released,
        "upstream connections still held: {}",
        up.rec.open.load(Ordering::SeqCst)
    );
    expect_metric(&s, "gateway_sidecar_open_connections", 0.0).await;
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tunnels_count_against_the_cap_and_time_out() {
    const CAP: usize = 4;
    let up = Recorder::start().await;
    let s = Sidecar::start(
        &up.url(),
        &[
            "--proxy.max-connections=4",
            "--proxy.tunnel-idle-timeout=2s",
        ],
    );
    let start = Instant::now();
    // Twice the cap of tunnels that never send a byte once upgraded.
    let addr = s.proxy;
    let clients: Vec<_> = (0..2 * CAP)
        .map(|_| {
            std::thread::spawn(move || {
                let t = Instant::now();
                let (reply, closed) = exchange(
                    addr,
                    b"GET /tunnel HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
                    Duration::from_secs(20),
                );
                (responses(&reply), closed, t.elapsed())
            })
        })
        .collect();
    let mut most = 0.0f64;
    while start.elapsed() < Duration::from_secs(3) {
        let text = s.scrape().await;
        most = most.max(metric(&text, "gateway_sidecar_open_connections").unwrap_or(0.0));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let results: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(
        most <= CAP as f64,
        "{most} connections open with a cap of {CAP}"
    );
    for (got, closed, took) in &results {
        // Each was upgraded (the later ones once the first tunnels idled out), then closed.
        assert_eq!(got, &vec![101], "{results:?}");
        assert!(closed, "a tunnel was never closed: {results:?}");
        assert!(*took < Duration::from_secs(15), "{results:?}");
    }
    expect_metric(&s, "gateway_sidecar_open_connections", 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_metrics_path_needs_the_web_auth_and_fetches_the_app_once_at_a_time() {
    // "s3cret" at bcrypt cost 4.
    const HASH: &str = "$2b$04$TRQQ8cVp4g95ywpRon0lkuzYM7QUZSf3RFYR/HeH1BgZ7mxQ.KAUu";
    let up = Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(&web, format!("basic_auth_users:\n  alice: {HASH}\n")).unwrap();
    let s = Sidecar::start(
        &up.url(),
        &[
            "--proxy.metrics-path=/metrics",
            "--upstream.metrics-path=/app-metrics",
            &format!("--web.config.file={}", web.display()),
        ],
    );
    let (reply, _) = exchange(
        s.proxy,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(responses(&reply), vec![401], "{reply}");
    assert_eq!(up.rec.metrics_max.load(Ordering::SeqCst), 0);
    // Twenty scrapes at once with the right password: the app is asked one at a time.
    let addr = s.proxy;
    let hits: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                exchange(
                    addr,
                    b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6czNjcmV0\r\nConnection: close\r\n\r\n",
                    Duration::from_secs(20),
                )
            })
        })
        .collect();
    for h in hits {
        let (reply, _) = h.join().unwrap();
        assert_eq!(responses(&reply), vec![200], "{reply}");
        assert!(reply.contains("app_up 1"), "{reply}");
    }
    assert_eq!(up.rec.metrics_max.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn well_behaved_clients_keep_their_latency_beside_abuse() {
    let up = Recorder::start().await;
    let s = Sidecar::start(
        &up.url(),
        &[
            "--proxy.max-connections=64",
            "--proxy.send-timeout=1s",
            "--proxy.tunnel-idle-timeout=1s",
            "--proxy.header-timeout=1s",
        ],
    );
    let c = client();
    let sample = |n: usize| {
        let c = c.clone();
        let url = s.url("/ok");
        async move {
            let mut t = Vec::with_capacity(n);
            for _ in 0..n {
                let a = Instant::now();
                let r = call(&c, "GET", &url, &[], "").await;
                assert_eq!(r.status, 200);
                t.push(a.elapsed());
            }
            t.sort();
            t[n * 99 / 100]
        }
    };
    let calm = sample(200).await;
    let (fds0, rss0) = fds_and_rss(s.pid());
    // The abuse: slowloris heads, slow readers, idle tunnels and bad framing, for a few seconds.
    let addr = s.proxy;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let abusers: Vec<_> = (0..4)
        .map(|k| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut held = Vec::new();
                let until = Instant::now() + Duration::from_secs(20);
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    let Ok(mut c) = StdStream::connect(addr) else { continue };
                    let _ = c.set_write_timeout(Some(Duration::from_millis(200)));
                    let raw: &[u8] = match k {
                        0 => b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                        1 => b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n",
                        2 => b"GET /tunnel HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
                        _ => b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                    };
                    let _ = c.write_all(raw);
                    held.push(c);
                    if held.len() > 12 {
                        held.remove(0);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let busy = sample(200).await;
    let (fds1, rss1) = fds_and_rss(s.pid());
    stop.store(true, Ordering::Relaxed);
    for a in abusers {
        a.join().unwrap();
    }
    println!(
        "p99 calm {calm:?}, beside abuse {busy:?}; fds {fds0} -> {fds1}; rss {rss0} -> {rss1} KiB"
    );
    // Generous for a shared machine: a well-behaved client never waits out an abuser's timeout.
    assert!(
        busy < calm * 20 + Duration::from_millis(300),
        "p99 {calm:?} -> {busy:?}"
    );
    // 48 abusive connections at most (and their upstream legs) plus some slack.
    assert!(fds1 < fds0 + 2 * 64 + 16, "fds {fds0} -> {fds1}");
    assert!(rss1 < rss0 + 64 * 1024, "rss {rss0} -> {rss1} KiB");
}
