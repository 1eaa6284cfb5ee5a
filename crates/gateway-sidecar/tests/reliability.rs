//! Failure behaviour: upstream down or slow, abusive clients, bad rules files, reload on SIGHUP
//! and drain on SIGTERM.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener as StdListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_is_a_fast_counted_502_and_service_continues() {
    let port = free_port();
    let s = Sidecar::start(&format!("http://127.0.0.1:{port}"), &[]);
    let c = client();
    let start = Instant::now();
    let r = call(&c, "POST", &s.url("/auth/login"), &[], "user=x").await;
    assert_eq!(r.status, 502);
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    for _ in 0..20 {
        assert_eq!(
            call(&c, "GET", &s.url("/users/1"), &[], "").await.status,
            502
        );
    }
    expect_metric(
        &s,
        "gateway_sidecar_upstream_errors_total{reason=\"connect\"}",
        21.0,
    )
    .await;
    let t = s.scrape().await;
    assert_eq!(
        metric(
            &t,
            "http_requests_total{method=\"GET\",route=\"/users/:id\",status_code=\"502\"}"
        ),
        Some(20.0)
    );
    assert_eq!(
        metric(&t, "auth_requests_total{status=\"failure\",type=\"login\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&t, "user_operations_total{operation=\"authenticate\"}"),
        Some(0.0)
    );
    // The upstream comes up on that port: traffic flows again, same sidecar.
    let up = Upstream::start_on(&format!("127.0.0.1:{port}")).await;
    let r = call(&c, "GET", &s.url("/users/1"), &[], "").await;
    assert_eq!(r.status, 200);
    drop(up);
    assert!(s.logs().contains("upstream request failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_times_out_with_504() {
    let up = Upstream::start().await;
    let s = Sidecar::start(&up.url(), &["--upstream.timeout=400ms"]);
    let c = client();
    let start = Instant::now();
    let r = call(&c, "GET", &s.url("/slow?ms=3000"), &[], "").await;
    let took = start.elapsed();
    assert_eq!(r.status, 504);
    assert!(
        took >= Duration::from_millis(380) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    // A slow login is a failed login.
    let r = call(
        &c,
        "POST",
        &s.url("/auth/login?delay_ms=2000"),
        &[],
        "user=y",
    )
    .await;
    assert_eq!(r.status, 504);
    // Fast enough is fine.
    assert_eq!(
        call(&c, "GET", &s.url("/slow?ms=50"), &[], "").await.status,
        200
    );
    expect_metric(
        &s,
        "gateway_sidecar_upstream_errors_total{reason=\"timeout\"}",
        2.0,
    )
    .await;
    let t = s.scrape().await;
    assert_eq!(
        metric(
            &t,
            "http_requests_total{method=\"GET\",route=\"unmatched\",status_code=\"504\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&t, "auth_requests_total{status=\"failure\",type=\"login\"}"),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_431_and_slow_clients_408() {
    let up = Upstream::start().await;
    let s = Sidecar::start(
        &up.url(),
        &[
            "--proxy.header-timeout=600ms",
            "--proxy.idle-timeout=800ms",
            "--proxy.body-timeout=600ms",
            "--proxy.max-header-bytes=8192",
            "--proxy.max-headers=50",
        ],
    );
    let t = Duration::from_secs(5);
    // One huge header.
    let big = format!(
        "GET /users HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    let (out, _) = raw_exchange(s.proxy, big.as_bytes(), t);
    assert!(
        out.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // Too many headers.
    let mut many = String::from("GET /users HTTP/1.1\r\nHost: x\r\n");
    for i in 0..60 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let (out, _) = raw_exchange(s.proxy, many.as_bytes(), t);
    assert!(
        out.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // Slowloris: a head that never ends gets a 408 at the header timeout.
    let (out, took) = raw_exchange(s.proxy, b"GET /users HTTP/1.1\r\nHost: x\r\nX-Slow: ", t);
    assert!(
        out.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        took >= Duration::from_millis(550) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // A connection that sends nothing is closed too.
    let (out, took) = raw_exchange(s.proxy, b"", t);
    assert!(out.is_empty());
    assert!(took < Duration::from_millis(2500), "{took:?}");
    // Idle keep-alive connections close after the idle timeout, after a complete exchange.
    let (out, took) = raw_exchange(s.proxy, b"GET /users HTTP/1.1\r\nHost: x\r\n\r\n", t);
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        took >= Duration::from_millis(750) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // A body that stalls: 408.
    let (out, _) = raw_exchange(
        s.proxy,
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b",
        t,
    );
    assert!(
        out.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // The sidecar is fine afterwards.
    assert_eq!(get(&s.url("/users")).await.status, 200);
    let m = s.scrape().await;
    assert_eq!(
        metric(
            &m,
            "gateway_sidecar_rejected_requests_total{reason=\"header_too_large\"}"
        ),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "gateway_sidecar_rejected_requests_total{reason=\"header_timeout\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "gateway_sidecar_rejected_requests_total{reason=\"body_timeout\"}"
        ),
        Some(1.0),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_idle_connections_keep_memory_bounded() {
    let up = Upstream::start().await;
    let s = Sidecar::start(
        &up.url(),
        &["--proxy.max-connections=200", "--proxy.header-timeout=2s"],
    );
    // 500 connections that each send half a head and stall.
    let mut socks = Vec::new();
    for _ in 0..500 {
        if let Ok(mut c) = std::net::TcpStream::connect(s.proxy) {
            use std::io::Write;
            let _ = c.write_all(b"GET / HTTP/1.1\r\nX-A: ");
            socks.push(c);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let t = s.scrape().await;
    // At most the limit are served; the rest wait in the backlog.
    assert!(
        metric(&t, "gateway_sidecar_open_connections").unwrap() <= 200.0,
        "{t}"
    );
    let rss = metric(&t, "process_resident_memory_bytes").unwrap();
    assert!(rss < 64.0 * 1024.0 * 1024.0, "rss {rss}");
    drop(socks);
    // After the abuse, normal service.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get(&s.url("/users")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests() {
    let up = Upstream::start().await;
    let mut s = Sidecar::start(&up.url(), &["--proxy.shutdown-grace=5s"]);
    let url = s.url("/slow?ms=1500");
    let inflight = tokio::spawn(async move { get(&url).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    s.signal(libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // No new connections once draining.
    assert!(
        std::net::TcpStream::connect(s.proxy).is_err(),
        "still accepting"
    );
    let r = inflight.await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "slow done");
    assert_eq!(s.wait_exit(Duration::from_secs(5)), Some(0), "{}", s.logs());
    assert!(s.logs().contains("received SIGTERM"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_grace_period_is_bounded() {
    let up = Upstream::start().await;
    let mut s = Sidecar::start(&up.url(), &["--proxy.shutdown-grace=500ms"]);
    let url = s.url("/slow?ms=10000");
    let _inflight = tokio::spawn(async move { get(&url).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

/// A request through the proxy and a scrape of the metrics port (fetching the app's metrics),
/// both waiting on an upstream that never answers, then SIGTERM: the sidecar drains both ports
/// for `--proxy.shutdown-grace`, names what it abandons and exits 0 within one more second.
/// Returns the sidecar, draining, with the time the signal was sent.
fn stuck_sidecar_after_sigterm(up: &SilentUpstream, grace: &str) -> (Sidecar, Instant) {
    let s = Sidecar::start(
        &up.url(),
        &[
            &format!("--proxy.shutdown-grace={grace}"),
            "--upstream.metrics-path=/metrics",
            "--upstream.metrics-timeout=30s",
        ],
    );
    let (proxy, metrics) = (s.proxy, s.metrics);
    std::thread::spawn(move || {
        raw_exchange(
            proxy,
            b"GET /users/1 HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_secs(30),
        )
    });
    std::thread::spawn(move || {
        raw_exchange(
            metrics,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_secs(30),
        )
    });
    assert!(
        up.wait_accepted(2, Duration::from_secs(10)),
        "the upstream did not get both requests: {}",
        s.logs()
    );
    let t0 = Instant::now();
    s.signal(libc::SIGTERM);
    (s, t0)
}

#[test]
fn sigterm_with_requests_in_flight_to_an_upstream_that_never_answers() {
    let up = SilentUpstream::start();
    let grace = Duration::from_secs(2);
    let (mut s, t0) = stuck_sidecar_after_sigterm(&up, "2s");
    let limit = grace + Duration::from_secs(1);
    let code = s.wait_exit(limit + Duration::from_secs(5));
    let took = t0.elapsed();
    eprintln!(
        "gateway-sidecar, upstream never answers (--proxy.shutdown-grace=2s): SIGTERM to exit \
         {took:.3?} (limit {limit:?}), code {code:?}"
    );
    assert_eq!(code, Some(0), "{}", s.logs());
    assert!(took <= limit, "took {took:?}: {}", s.logs());
    // The requests in flight had their whole grace period.
    assert!(took >= grace, "took {took:?}: {}", s.logs());
    assert!(
        // One on the proxy port, one on the metrics port.
        s.wait_log("proxy connections=1", Duration::from_secs(1))
            && s.logs().lines().any(|l| l.contains("abandoned=")
                && l.contains("proxy connections=1")
                && l.matches("connections=1").count() == 2),
        "no line naming what was abandoned: {}",
        s.logs()
    );
}

#[test]
fn second_sigterm_during_the_drain_exits_at_once() {
    let up = SilentUpstream::start();
    let (mut s, _) = stuck_sidecar_after_sigterm(&up, "10s");
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.wait_exit(Duration::ZERO).is_none(), "{}", s.logs());
    let t0 = Instant::now();
    s.signal(libc::SIGTERM);
    let code = s.wait_exit(Duration::from_secs(5));
    let took = t0.elapsed();
    eprintln!(
        "gateway-sidecar, second SIGTERM during the drain: to exit {took:.3?}, code {code:?}"
    );
    assert_eq!(code, Some(0), "{}", s.logs());
    assert!(
        took < Duration::from_millis(500),
        "took {took:?}: {}",
        s.logs()
    );
    assert!(
        s.wait_log("second signal during the drain", Duration::from_secs(1)),
        "{}",
        s.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_rules_and_a_bad_file_keeps_the_old_ones() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = rules_file(
        dir.path(),
        "rules.yml",
        "rules:\n  - {path: /users/:id, route: first}\n",
    );
    let s = Sidecar::start(&up.url(), &["--config.file", &file]);
    let c = client();
    call(&c, "GET", &s.url("/users/1"), &[], "").await;
    expect_metric(
        &s,
        "http_requests_total{method=\"GET\",route=\"first\",status_code=\"200\"}",
        1.0,
    )
    .await;

    rules_file(
        dir.path(),
        "rules.yml",
        "rules:\n  - {path: /users/:id, route: second}\n",
    );
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_log("reloaded the rules", Duration::from_secs(5)),
        "{}",
        s.logs()
    );
    call(&c, "GET", &s.url("/users/1"), &[], "").await;
    expect_metric(
        &s,
        "http_requests_total{method=\"GET\",route=\"second\",status_code=\"200\"}",
        1.0,
    )
    .await;

    // Reload under traffic: no request fails while the file is swapped back and forth.
    let base = s.url("/users/7");
    let traffic = tokio::spawn(async move {
        let c = client();
        let mut bad = 0;
        for _ in 0..300 {
            if call(&c, "GET", &base, &[], "").await.status != 200 {
                bad += 1;
            }
        }
        bad
    });
    for i in 0..5 {
        let label = if i % 2 == 0 { "first" } else { "second" };
        rules_file(
            dir.path(),
            "rules.yml",
            &format!("rules:\n  - {{path: /users/:id, route: {label}}}\n"),
        );
        s.signal(libc::SIGHUP);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(traffic.await.unwrap(), 0);

    rules_file(
        dir.path(),
        "rules.yml",
        "rules:\n  - {path: /users/:id, route: second}\n",
    );
    s.signal(libc::SIGHUP);
    tokio::time::sleep(Duration::from_millis(300)).await;
    rules_file(
        dir.path(),
        "rules.yml",
        "rules:\n  - path: /users/:id\n    rout: third\n",
    );
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_log("reload failed", Duration::from_secs(5)),
        "{}",
        s.logs()
    );
    let line = s
        .logs()
        .lines()
        .find(|l| l.contains("reload failed"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("unknown field") && line.contains("line 3"),
        "{line}"
    );
    let before = metric(
        &s.scrape().await,
        "http_requests_total{method=\"GET\",route=\"second\",status_code=\"200\"}",
    )
    .unwrap();
    call(&c, "GET", &s.url("/users/1"), &[], "").await;
    expect_metric(
        &s,
        "http_requests_total{method=\"GET\",route=\"second\",status_code=\"200\"}",
        before + 1.0,
    )
    .await;
    let t = s.scrape().await;
    assert_eq!(
        metric(
            &t,
            "gateway_sidecar_config_reloads_total{result=\"failure\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&t, "gateway_sidecar_config_last_reload_successful"),
        Some(0.0)
    );
    assert!(!t.contains("route=\"third\""));
}

/// Runs the binary with a rules file and returns (exit code, stderr).
fn run_with_rules(text: &str, proxy_port: u16) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = rules_file(dir.path(), "rules.yml", text);
    let out = Command::new(bin())
        .args([
            "--config.file",
            &file,
            &format!("--proxy.listen-address=127.0.0.1:{proxy_port}"),
            &format!("--web.listen-address=127.0.0.1:{}", free_port()),
        ])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_rules_files_exit_64_with_one_line_before_binding() {
    // The proxy port is taken: a binary that bound first would fail with exit 1 instead.
    let taken = StdListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for (text, want) in [
        ("rules: [\n  {path: /a\n", "line"),
        ("rules:\n  - path: /ok\n  - path: users/:id\n", "line 3"),
        (
            "rules:\n  - path: /ok\n    colour: blue\n",
            "unknown field `colour`",
        ),
        (
            "rules:\n  - {path: '/a/**/b'}\n",
            "'**' may only be the last",
        ),
        ("rules:\n  - {path: /a, methods: [GET, BREW]}\n", "BREW"),
        ("rules:\n  - {path: /a, auth: signup}\n", "signup"),
        ("buckets: [0.1, 0.05]\nrules: []\n", "increase"),
        ("unmatched: {mode: guess}\nrules: []\n", "guess"),
        ("sessions: {idle_timeout: forever}\nrules: []\n", "forever"),
        ("rulez: []\n", "unknown field `rulez`"),
        ("", "rules"),
    ] {
        let (code, err) = run_with_rules(text, port);
        assert_eq!(code, Some(64), "{text:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{text:?}: {err}");
        assert!(err.contains(want), "{text:?}: want {want:?} in {err}");
        assert!(err.contains("rules.yml"), "{err}");
        if want.starts_with("line") || text.contains("colour") {
            assert!(err.contains("line"), "{err}");
        }
    }
    // Bad flags are usage errors too.
    let out = Command::new(bin())
        .args(["--upstream=ftp://x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let out = Command::new(bin())
        .args(["--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    // A good file with the port taken: a runtime failure, exit 1.
    let (code, err) = run_with_rules("rules: []\n", port);
    assert_eq!(code, Some(1), "{err}");
    drop(taken);
}
