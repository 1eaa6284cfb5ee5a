//! End to end: bad input to the built `node-exporter` binary. A bad flag or web config file is
//! exactly one line on stderr, naming what is wrong, and exit code 64 (EX_USAGE) before anything
//! listens; a port that is taken is a non-zero exit with one error line.

#![allow(clippy::unwrap_used)]

mod common;

use common::free_port;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_node-exporter");

/// A started exporter, killed and reaped on drop even when the test fails.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Run {
    status: ExitStatus,
    stderr: String,
    port: u16,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

/// Runs the exporter on a free port with `args`, expecting it to exit on its own within 20 s.
fn run(args: &[&str]) -> Run {
    run_on(free_port(), args)
}

fn run_on(port: u16, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let err = dir.path().join("stderr");
    let child = Command::new(BIN)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = guard.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "still running after 20 s with {args:?}: {}",
            fs::read_to_string(&err).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stderr: fs::read_to_string(&err).unwrap(),
        port,
    }
}

/// Exit 64, exactly one line on stderr containing every `needles`, and nothing on the port.
fn assert_usage_error(r: &Run, needles: &[&str]) {
    assert_eq!(r.status.code(), Some(64), "stderr: {}", r.stderr);
    let lines = r.lines();
    assert_eq!(lines.len(), 1, "want one line, got: {:?}", lines);
    for n in needles {
        assert!(lines[0].contains(n), "{:?} lacks {n:?}", lines[0]);
    }
    assert!(
        TcpStream::connect(("127.0.0.1", r.port)).is_err(),
        "something listens on {}",
        r.port
    );
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn unknown_flag() {
    let r = run(&["--web.bogus-flag=1"]);
    assert_usage_error(&r, &["--web.bogus-flag"]);
}

#[test]
fn bad_flag_value() {
    let r = run(&["--web.telemetry-path=nometrics"]);
    assert_usage_error(&r, &["--web.telemetry-path", "nometrics"]);
    let r = run(&["--web.max-requests=many"]);
    assert_usage_error(&r, &["many"]);
    let r = run(&["--log.level=loud"]);
    assert_usage_error(&r, &["loud"]);
}

#[test]
fn unreadable_web_config() {
    let r = run(&["--web.config.file=/nonexistent/web.yml"]);
    assert_usage_error(&r, &["/nonexistent/web.yml", "cannot read"]);
    // A directory is not a file either.
    let d = tempfile::tempdir().unwrap();
    let flag = format!("--web.config.file={}", d.path().display());
    let r = run(&[&flag]);
    assert_usage_error(&r, &[&d.path().display().to_string(), "cannot read"]);
}

#[test]
fn web_config_that_is_not_yaml_or_has_unknown_fields() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "bad.yml", "tls_server_config: [unclosed\n");
    let r = run(&[&format!("--web.config.file={p}")]);
    assert_usage_error(&r, &[&p]);
    let p = write(
        d.path(),
        "typo.yml",
        "tls_server_config:\n  cert_fil: a.pem\n",
    );
    let r = run(&[&format!("--web.config.file={p}")]);
    assert_usage_error(&r, &[&p, "cert_fil"]);
    let p = write(
        d.path(),
        "hdr.yml",
        "http_server_config:\n  headers:\n    Server: me\n",
    );
    let r = run(&[&format!("--web.config.file={p}")]);
    assert_usage_error(&r, &[&p, "Server"]);
}

#[test]
fn missing_cert_file() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n",
    );
    let r = run(&[&format!("--web.config.file={p}")]);
    // The path is resolved against the config file's directory, as upstream.
    let cert = d.path().join("missing.pem");
    assert_usage_error(&r, &[&p, "cert_file", &cert.display().to_string()]);
}

#[test]
fn malformed_bcrypt_hash() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "web.yml", "basic_auth_users:\n  alice: hunter2\n");
    let r = run(&[&format!("--web.config.file={p}")]);
    assert_usage_error(&r, &[&p, "alice", "bcrypt"]);
    // What was there in place of a hash is not echoed.
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
}

#[test]
fn bad_client_auth_type() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: a.pem\n  key_file: a.key\n  client_auth_type: Maybe\n",
    );
    let r = run(&[&format!("--web.config.file={p}")]);
    assert_usage_error(&r, &[&p, "client_auth_type", "Maybe"]);
}

#[test]
fn port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let r = run_on(
        port,
        &["--collector.disable-defaults", "--collector.loadavg"],
    );
    assert!(!r.status.success(), "{}", r.stderr);
    assert_ne!(
        r.status.code(),
        Some(64),
        "a taken port is not a usage error"
    );
    // Nothing is logged before the listeners are bound: the error is the only line.
    let errors: Vec<&str> = r.lines().into_iter().collect();
    assert_eq!(errors.len(), 1, "{:?}", r.stderr);
    assert!(
        errors[0].contains(&format!("127.0.0.1:{port}")),
        "{:?}",
        errors[0]
    );
    assert_eq!(r.lines().last(), Some(&errors[0]));
    drop(taken);
}
