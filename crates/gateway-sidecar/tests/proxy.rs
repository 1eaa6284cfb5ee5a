//! The proxy is transparent: methods, paths, queries, headers and bodies pass unchanged and
//! streamed both ways, hop-by-hop fields stop at the sidecar, WebSockets pass through, and
//! upstream connections are pooled.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_pass_unchanged_with_forwarded_headers() {
    let up = Upstream::start().await;
    // The test client stands for a trusted load balancer here, so its X-Forwarded-For is
    // appended to (abuse.rs shows what an untrusted client gets).
    let s = Sidecar::start(&up.url(), &["--proxy.trusted-proxies=127.0.0.1"]);
    let c = client();
    let r = call(
        &c,
        "PUT",
        &s.url("/echo/a%20b/c?x=1&y=%2F&x=2"),
        &[
            ("host", "gateway.example:8000"),
            ("x-custom", "Value With Spaces"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "secret-to-the-hop"),
            ("keep-alive", "timeout=9"),
            ("x-forwarded-for", "203.0.113.9"),
            ("content-type", "application/json"),
        ],
        "{\"k\":1}",
    )
    .await;
    assert_eq!(r.status, 200);
    let echo = r.text();
    assert!(
        echo.starts_with("PUT /echo/a%20b/c?x=1&y=%2F&x=2\n"),
        "{echo}"
    );
    for want in [
        "host: gateway.example:8000\n",
        "x-custom: Value With Spaces\n",
        "content-type: application/json\n",
        "x-forwarded-for: 203.0.113.9, 127.0.0.1\n",
        "x-forwarded-proto: http\n",
        "x-forwarded-host: gateway.example:8000\n",
        "content-length: 7\n",
        "body={\"k\":1}\n",
    ] {
        assert!(echo.contains(want), "missing {want:?} in\n{echo}");
    }
    for gone in ["x-hop", "keep-alive: timeout=9", "te:"] {
        assert!(
            !echo.contains(gone),
            "{gone:?} reached the upstream:\n{echo}"
        );
    }
    // Response hop-by-hop fields stop here too; end-to-end ones pass.
    assert_eq!(r.header("x-resp-kept"), Some("1"));
    assert_eq!(r.header("x-resp-hop"), None);
    assert_eq!(r.header("keep-alive"), None);

    // Any method passes, even one the metrics call _OTHER.
    for m in ["DELETE", "OPTIONS", "PATCH", "PURGE"] {
        let r = call(&c, m, &s.url("/echo/m"), &[], "b").await;
        assert!(
            r.text().starts_with(&format!("{m} /echo/m\n")),
            "{}",
            r.text()
        );
    }
    // HEAD keeps the upstream's Content-Length and has no body (curl as the client).
    let out = Command::new("/usr/bin/curl")
        .args(["-sS", "-I", &s.url("/health")])
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length: 2"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_stream() {
    let up = Upstream::start().await;
    let s = Sidecar::start(&up.url(), &[]);
    let start = Instant::now();
    let resp = client()
        .request(
            Request::get(s.url("/stream?chunks=5&ms=300"))
                .body(http_body_util::Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let first_at = start.elapsed();
    assert_eq!(&first[..], b"chunk 0\n");
    let mut rest = Vec::new();
    while let Some(f) = body.frame().await {
        if let Ok(d) = f.unwrap().into_data() {
            rest.extend_from_slice(&d);
        }
    }
    let all_at = start.elapsed();
    assert_eq!(rest, b"chunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    // The first chunk arrives long before the upstream has finished.
    assert!(
        first_at < Duration::from_millis(600),
        "first chunk after {first_at:?}"
    );
    assert!(
        all_at >= Duration::from_millis(1200),
        "all after {all_at:?}"
    );
    // The request's duration covers its whole body.
    expect_metric(
        &s,
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"unmatched\",le=\"1\"}",
        0.0,
    )
    .await;
    expect_metric(
        &s,
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"unmatched\",le=\"2.5\"}",
        1.0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_stream_and_large_chunked_uploads_arrive_intact() {
    let up = Upstream::start().await;
    let s = Sidecar::start(&up.url(), &[]);

    // The upstream answers after the first chunk while the client still holds the body open:
    // only possible if the sidecar forwards the body as it comes.
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let c: Client<_, ChannelBody> = Client::builder(TokioExecutor::new()).build_http();
    tx.send(Bytes::from_static(b"first piece")).await.unwrap();
    let fut = c.request(
        Request::post(s.url("/first-chunk"))
            .body(ChannelBody(rx))
            .unwrap(),
    );
    let resp = tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .expect("answered before the body ended")
        .unwrap();
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&text[..], b"first=11");
    drop(tx);

    // 48 MiB, chunked, from a real client (curl reading stdin).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upload.bin");
    let size = 48 << 20;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let sum = data
        .iter()
        .fold(0u64, |s, b| s.wrapping_mul(31).wrapping_add(*b as u64));
    let out = Command::new("/usr/bin/curl")
        .args(["-sS", "-T", "-", "-X", "POST", &s.url("/upload")])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("bytes={size} sum={sum}"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And with a Content-Length.
    let out = Command::new("/usr/bin/curl")
        .args([
            "-sS",
            "--data-binary",
            &format!("@{}", path.display()),
            &s.url("/upload"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("bytes={size} sum={sum}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_passes_through() {
    let up = Upstream::start().await;
    let s = Sidecar::start(&up.url(), &[]);
    let stream = tokio::net::TcpStream::connect(s.proxy).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async(format!("ws://{}/ws", s.proxy), stream)
        .await
        .expect("websocket handshake through the sidecar");
    assert_eq!(resp.status(), 101);
    for i in 0..20 {
        ws.send(Message::text(format!("hello {i}"))).await.unwrap();
        let m = ws.next().await.unwrap().unwrap();
        assert_eq!(m.into_text().unwrap().as_str(), format!("hello {i}"));
    }
    let big = vec![0xabu8; 256 * 1024];
    ws.send(Message::binary(big.clone())).await.unwrap();
    let m = ws.next().await.unwrap().unwrap();
    assert_eq!(m.into_data().as_ref(), &big[..]);
    let t = s.scrape().await;
    assert_eq!(
        metric(
            &t,
            "http_requests_total{method=\"GET\",route=\"unmatched\",status_code=\"101\"}"
        ),
        Some(1.0),
        "{t}"
    );
    assert_eq!(
        metric(&t, "gateway_sidecar_open_connections"),
        Some(1.0),
        "{t}"
    );
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_upstream_pooling() {
    let up = Upstream::start().await;
    let s = Sidecar::start(&up.url(), &[]);
    let c = client();
    for _ in 0..100 {
        assert_eq!(call(&c, "GET", &s.url("/users"), &[], "").await.status, 200);
    }
    // 100 sequential requests on one client connection: one or two upstream connections.
    let n = up.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        n <= 2,
        "{n} upstream connections for 100 sequential requests"
    );
    // curl with several URLs reuses its connection through the sidecar.
    let out = Command::new("/usr/bin/curl")
        .args([
            "-sS",
            "-v",
            &s.url("/users"),
            &s.url("/users"),
            &s.url("/users"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Re-using existing connection") || err.contains("Reusing existing"),
        "{err}"
    );
}
