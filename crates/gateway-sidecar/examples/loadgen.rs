//! A small load generator for `scripts/bench-sidecar.sh`, for what Debian's wrk cannot do.
//!
//! - `loadgen paced RATE SECONDS CONNECTIONS URL... [-H NAME:VALUE]...`: sends RATE requests per
//!   second to each URL for SECONDS, over CONNECTIONS keep-alive connections per URL, each
//!   request at its scheduled time (open loop), and prints latency percentiles per URL. The
//!   URLs' schedules are interleaved (request i of each URL falls within the same millisecond,
//!   staggered so they do not overlap), so a hiccup of the machine hits every target alike: the
//!   figures are comparable within a run. Latency runs from the moment a request is written to the end of its response body;
//!   sends more than 2 ms behind schedule (tokio's timers are 1 ms) are counted, as they would
//!   hide queueing.
//! - `loadgen sessions URL COUNT [CONNECTIONS]`: sends COUNT requests as fast as it can, each
//!   with its own bearer token, so the sidecar ends up tracking COUNT sessions (or its cap).
//!
//! Output is `key=value` pairs on one line, for the script to read.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Sender = http1::SendRequest<Empty<Bytes>>;

async fn connect(uri: &Uri) -> Sender {
    let host = uri.host().unwrap_or("127.0.0.1");
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port)).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn send(sender: &mut Sender, uri: &Uri, headers: &[(String, String)]) -> bool {
    if sender.ready().await.is_err() {
        return false;
    }
    let mut b = Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", uri.authority().map_or("localhost", |a| a.as_str()));
    for (k, v) in headers {
        b = b.header(k, v);
    }
    let Ok(req) = b.body(Empty::new()) else {
        return false;
    };
    match sender.send_request(req).await {
        Ok(resp) => {
            let ok = resp.status().is_success();
            ok && resp.into_body().collect().await.is_ok()
        }
        Err(_) => false,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

struct Paced {
    lat: Vec<Duration>,
    errors: usize,
    late: usize,
}

async fn paced_one(
    uri: Uri,
    rate: f64,
    secs: f64,
    conns: usize,
    headers: Vec<(String, String)>,
    start: tokio::time::Instant,
) -> Paced {
    let total = (rate * secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let uri = uri.clone();
        let headers = headers.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(&uri).await;
            let mut p = Paced {
                lat: Vec::with_capacity(total / conns + 1),
                errors: 0,
                late: 0,
            };
            let mut i = c;
            while i < total {
                let due = start + interval * i as u32;
                tokio::time::sleep_until(due).await;
                let t0 = Instant::now();
                if t0.duration_since(due.into_std()) > Duration::from_millis(2) {
                    p.late += 1;
                }
                if send(&mut sender, &uri, &headers).await {
                    p.lat.push(t0.elapsed());
                } else {
                    p.errors += 1;
                    sender = connect(&uri).await;
                }
                i += conns;
            }
            p
        }));
    }
    let mut all = Paced {
        lat: Vec::with_capacity(total),
        errors: 0,
        late: 0,
    };
    for t in tasks {
        let p = t.await.expect("task");
        all.lat.extend(p.lat);
        all.errors += p.errors;
        all.late += p.late;
    }
    all
}

async fn paced(uris: Vec<Uri>, rate: f64, secs: f64, conns: usize, headers: Vec<(String, String)>) {
    let start = tokio::time::Instant::now() + Duration::from_millis(300);
    // Staggered by a fraction of the interval, so requests to different targets do not meet.
    let step = Duration::from_secs_f64(1.0 / rate / uris.len() as f64);
    let runs: Vec<_> = uris
        .iter()
        .enumerate()
        .map(|(k, u)| {
            let at = start + step * k as u32;
            tokio::spawn(paced_one(u.clone(), rate, secs, conns, headers.clone(), at))
        })
        .collect();
    for (uri, run) in uris.iter().zip(runs) {
        let mut p = run.await.expect("run");
        let wall = start.elapsed().as_secs_f64();
        p.lat.sort_unstable();
        println!(
            "url={uri} requests={} errors={} late={} rate={:.1} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3}",
            p.lat.len(),
            p.errors,
            p.late,
            p.lat.len() as f64 / wall,
            percentile(&p.lat, 0.50),
            percentile(&p.lat, 0.90),
            percentile(&p.lat, 0.99),
            percentile(&p.lat, 0.999),
            p.lat.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        );
    }
}

async fn sessions(uri: Uri, count: usize, conns: usize) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let uri = uri.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(&uri).await;
            let mut errors = 0usize;
            let mut i = c;
            while i < count {
                let h = vec![(
                    "authorization".to_string(),
                    format!("Bearer bench-session-token-{i:08}"),
                )];
                if !send(&mut sender, &uri, &h).await {
                    errors += 1;
                    sender = connect(&uri).await;
                }
                i += conns;
            }
            errors
        }));
    }
    let mut errors = 0;
    for t in tasks {
        errors += t.await.expect("task");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "requests={count} errors={errors} seconds={secs:.1} rate={:.0}",
        count as f64 / secs
    );
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen paced RATE SECONDS CONNECTIONS URL... [-H NAME:VALUE]...\n       loadgen sessions URL COUNT [CONNECTIONS]"
    );
    std::process::exit(64);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        usage();
    }
    // One thread: the generator shares two cores with the proxies it measures.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args[0].as_str() {
        "paced" => {
            let num = |i: usize| -> f64 {
                args.get(i)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| usage())
            };
            let (rate, secs, conns) = (num(1), num(2), num(3) as usize);
            let mut uris = Vec::new();
            let mut headers = Vec::new();
            let mut rest = args[4..].iter();
            while let Some(a) = rest.next() {
                if a == "-H" {
                    let h = rest.next().unwrap_or_else(|| usage());
                    let (k, v) = h.split_once(':').unwrap_or_else(|| usage());
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                } else {
                    uris.push(a.parse::<Uri>().unwrap_or_else(|_| usage()));
                }
            }
            if uris.is_empty() {
                usage();
            }
            rt.block_on(paced(uris, rate, secs, conns.max(1), headers));
        }
        "sessions" => {
            let uri: Uri = args[1].parse().unwrap_or_else(|_| usage());
            let count: usize = args[2].parse().unwrap_or_else(|_| usage());
            let conns: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);
            rt.block_on(sessions(uri, count, conns.max(1)));
        }
        _ => usage(),
    }
}
