//! Helpers shared by the integration tests: the exporter binary on a free port, plain HTTP
//! scrapes, and Tansu (the Kafka-compatible broker) as a child process.

#![allow(clippy::unwrap_used, dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped, so a failed assertion leaves nothing running.
pub struct Proc {
    pub child: Child,
    pub port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn log_target() -> Stdio {
    if std::env::var_os("KAFKA_EXPORTER_TEST_LOG").is_some() {
        Stdio::inherit()
    } else {
        Stdio::null()
    }
}

/// The exporter on a free loopback port, collecting every second.
pub fn start_exporter(servers: &str, extra: &[&str]) -> Proc {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_kafka-exporter"))
        .arg(format!("--kafka.server={servers}"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--refresh.metadata=1s")
        .arg("--log.level=warn")
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log_target())
        .spawn()
        .unwrap();
    Proc { child, port }
}

/// The Tansu binary: `$TANSU`, else the cargo home's (scripts/install-tansu.sh puts it there).
pub fn tansu_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap();
    let bin = home.join("bin/tansu");
    assert!(
        bin.exists(),
        "{} not found: run scripts/install-tansu.sh (make test does)",
        bin.display()
    );
    bin
}

/// Tansu with in-memory storage on `port` (loopback only); returns once it accepts connections.
pub fn start_tansu(port: u16) -> Proc {
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(tansu_bin())
        .args(["broker", "--storage-engine", "memory://tansu/"])
        .args(["--listener-url", &url, "--advertised-listener-url", &url])
        .stdout(Stdio::null())
        .stderr(log_target())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Proc { child, port }
}

pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.get(9..12)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// Scrapes until `pred` holds, for up to 30 s; returns the last body.
pub fn wait_for(port: u16, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some((200, body)) = get(port, "/metrics") {
            if pred(&body) {
                return body;
            }
            last = body;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("condition not met; last scrape:\n{last}");
}

/// The exposition lines of a body (hyper may answer chunked: chunk sizes are dropped).
pub fn dechunk(body: &str) -> String {
    body.lines()
        .filter(|l| l.starts_with('#') || l.starts_with("kafka_") || l.starts_with("process_"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn has(body: &str, line: &str) -> bool {
    dechunk(body).lines().any(|l| l == line)
}

/// The value of the sample whose name and labels are exactly `series`.
pub fn value(body: &str, series: &str) -> Option<f64> {
    dechunk(body).lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    })
}

/// The samples of `family` (name followed by `{` or a space), as lines.
pub fn samples(body: &str, family: &str) -> Vec<String> {
    dechunk(body)
        .lines()
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .map(str::to_string)
        .collect()
}
