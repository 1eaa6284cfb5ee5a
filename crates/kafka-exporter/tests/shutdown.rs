//! SIGTERM ends the real binary within its 5 s grace period and one more second, with exit code
//! 0, while its broker does not answer (issue 19): `--kafka.server` is a listener that accepts
//! and never replies, so the collector's requests hang until their deadline. The test prints
//! the measured signal-to-exit time (`cargo test -p kafka-exporter --test shutdown -- --nocapture`).
//!
//! Self-contained on purpose (std only, no shared test module): other branches add theirs.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kafka-exporter");
/// `SHUTDOWN_GRACE` in exporter-core's server.
const GRACE: Duration = Duration::from_secs(5);
/// What the daemons promise after the grace period.
const AFTER_GRACE: Duration = Duration::from_secs(1);

/// A broker that accepts connections and never answers a byte. Stops accepting, and closes
/// what it holds, on drop; gives up by itself after a minute.
struct SilentBroker {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentBroker {
    fn start() -> SilentBroker {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let until = Instant::now() + Duration::from_secs(60);
            while !stopped.load(Ordering::Relaxed) && Instant::now() < until {
                match listener.accept() {
                    Ok((s, _)) => {
                        held.push(s);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        SilentBroker {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SilentBroker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The exporter, killed and reaped on drop; its stderr collected.
struct Exporter {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    fn start(args: &[String]) -> Exporter {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(BIN)
            .args(args)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let e = Exporter { child, port, log };
        let start = Instant::now();
        while get(port, "/healthz").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "not answering:\n{}",
                e.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        e
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// GET `path` on 127.0.0.1:`port`: the status line and body, or `None` when nothing answers.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

#[test]
fn sigterm_while_the_broker_never_answers() {
    let broker = SilentBroker::start();
    let mut e = Exporter::start(&[
        format!("--kafka.server=127.0.0.1:{}", broker.port),
        "--refresh.metadata=1s".to_string(),
    ]);
    // The collector has connected and waits for an answer that never comes.
    let start = Instant::now();
    while broker.accepted.load(Ordering::Relaxed) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the collector never connected:\n{}",
            e.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A few scrapes, served while the collection hangs.
    for _ in 0..3 {
        let r = get(e.port, "/metrics").unwrap();
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("kafka_exporter_build_info"), "{r}");
    }
    std::thread::sleep(Duration::from_millis(500));

    let t0 = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &e.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let limit = GRACE + AFTER_GRACE;
    let mut exit = None;
    while t0.elapsed() < limit + Duration::from_secs(5) {
        if let Some(status) = e.child.try_wait().unwrap() {
            exit = Some((status.code(), t0.elapsed()));
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The stderr reader may still be catching up with the last lines.
    std::thread::sleep(Duration::from_millis(100));
    let log = e.log();
    let Some((code, took)) = exit else {
        panic!("still running {:?} after SIGTERM:\n{log}", t0.elapsed());
    };
    eprintln!(
        "kafka-exporter, broker never answers: SIGTERM to exit {took:.3?} (limit {limit:?}), code {code:?}"
    );
    assert_eq!(code, Some(0), "{log}");
    assert!(took <= limit, "took {took:?}:\n{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("abandoned=") && l.contains("kafka collection=1")),
        "no line naming what was abandoned:\n{log}"
    );
}
