//! The shared metrics server against clients that misbehave: absurd scrape-timeout headers,
//! slow readers, more connections than the cap. Each test runs [`server::serve`] in-process on
//! `127.0.0.1:0` and talks raw HTTP/1.1 over TCP; the server stops when the test's guard drops.

#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use exporter_core::cli::WebArgs;
use exporter_core::server::{App, ScrapeFuture, ScrapeRequest, Settings};
use exporter_core::Exposition;

mod common;
use common::{Server, LANDING};

#[derive(Parser)]
#[command(name = "t")]
struct Cli {
    #[command(flatten)]
    web: WebArgs,
}

/// Answers a small scrape, or a big one (tens of MB, more than loopback buffers hold) when the
/// query says `big`.
struct TestApp;

impl App for TestApp {
    fn scrape(&self, req: ScrapeRequest) -> ScrapeFuture {
        Box::pin(async move {
            let mut e = Exposition::new();
            if req.query.as_deref() == Some("big") {
                let mut text = String::with_capacity(40 << 20);
                text.push_str("# TYPE big_padding gauge\n");
                let pad = "x".repeat(200);
                for i in 0..200_000 {
                    text.push_str(&format!("big_padding{{i=\"{i}\",pad=\"{pad}\"}} 1\n"));
                }
                e.append_text(&text);
            } else {
                e.gauge("test_value", "A test value.", &[], 1.0);
            }
            Ok(e.into())
        })
    }
}

fn serve(flags: &[&str]) -> Server {
    let argv = std::iter::once("t").chain(flags.iter().copied());
    let (cli, _) = exporter_core::cli::parse::<Cli, _>(argv, "127.0.0.1:0", |c| c).unwrap();
    let mut settings = Settings::from_args(&cli.web, LANDING).unwrap();
    settings.shutdown_grace = Duration::from_millis(200);
    common::serve(settings, Arc::new(TestApp), 2)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Sends one GET with `extra` header lines and reads the whole answer (the server closes).
fn get(port: u16, target: &str, extra: &str) -> String {
    let mut s = connect(port);
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status(resp: &str) -> &str {
    resp.split(' ').nth(1).unwrap_or("")
}

#[test]
fn absurd_scrape_timeout_headers_are_a_400_with_a_reason_and_leak_nothing() {
    let srv = serve(&["--web.max-requests=40"]);
    for bad in ["1e20", "1e-9", "-1", "0", "NaN", "inf", "soon"] {
        let r = get(
            srv.port,
            "/metrics",
            &format!("X-Prometheus-Scrape-Timeout-Seconds: {bad}\r\n"),
        );
        assert_eq!(status(&r), "400", "{bad}: {r}");
        assert!(
            r.contains("X-Prometheus-Scrape-Timeout-Seconds"),
            "{bad}: the answer names the header: {r}"
        );
    }
    // Prometheus' own values still work, and nothing above stayed "in flight".
    let r = get(
        srv.port,
        "/metrics",
        "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n",
    );
    assert_eq!(status(&r), "200", "{r}");
    assert!(
        r.contains("promhttp_metric_handler_requests_in_flight 1\n"),
        "{r}"
    );
}

/// Starts a big scrape on a connection that then reads nothing.
fn stalled_big_scrape(port: u16) -> TcpStream {
    let mut s = connect(port);
    write!(s, "GET /metrics?big HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    // Read the head only, so the server is surely writing the body.
    let mut first = [0u8; 12];
    s.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    s
}

#[test]
fn the_max_requests_permit_is_held_until_the_body_is_written() {
    let srv = serve(&["--web.max-requests=1"]);
    let slow = stalled_big_scrape(srv.port);
    std::thread::sleep(Duration::from_millis(300));
    // The one permit is still pinned by the body the slow reader has not taken.
    let r = get(srv.port, "/metrics", "");
    assert_eq!(status(&r), "503", "{r}");
    drop(slow);
    let t0 = Instant::now();
    loop {
        let r = get(srv.port, "/metrics", "");
        if status(&r) == "200" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "{r}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_client_that_stops_reading_is_cut_off_after_the_write_timeout() {
    let srv = serve(&["--web.max-requests=1", "--web.write-timeout=1s"]);
    let mut slow = stalled_big_scrape(srv.port);
    // Well after the write timeout, the permit is back and the stalled connection is closed.
    std::thread::sleep(Duration::from_millis(2500));
    let r = get(srv.port, "/metrics", "");
    assert_eq!(status(&r), "200", "{r}");
    let mut sink = vec![0u8; 1 << 20];
    let t0 = Instant::now();
    let mut total = 0usize;
    loop {
        match slow.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
        assert!(t0.elapsed() < Duration::from_secs(20));
    }
    assert!(
        total < 38 << 20,
        "the stalled body was cut short ({total} bytes read)"
    );
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_one() {
    let srv = serve(&["--web.max-connections=2"]);
    let idle1 = connect(srv.port);
    let idle2 = connect(srv.port);
    std::thread::sleep(Duration::from_millis(200));
    let mut third = connect(srv.port);
    third
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    write!(
        third,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let early = third.read(&mut buf);
    assert!(
        early.is_err(),
        "the third connection was served beside two idle ones: {early:?}"
    );
    drop(idle1);
    drop(idle2);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = Vec::new();
    let _ = third.read_to_end(&mut out);
    assert!(
        String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}
