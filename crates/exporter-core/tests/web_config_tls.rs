//! The web config inside the real server: `server::serve` on a listener bound to 127.0.0.1:0 in
//! this process, driven by the real curl. Covers what the node-exporter end-to-end tests do not:
//! certificate rotation without a restart, RequestClientCert, and a stream of bad passwords not
//! stalling other requests.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use exporter_core::cli::WebArgs;
use exporter_core::server::{App, ScrapeFuture, ScrapeRequest, Settings};
use exporter_core::Exposition;

mod common;
use common::{Server, LANDING};

struct TestApp;

impl App for TestApp {
    fn scrape(&self, _req: ScrapeRequest) -> ScrapeFuture {
        Box::pin(async {
            let mut e = Exposition::new();
            e.gauge("test_up", "Always 1.", &[], 1.0);
            Ok(e.into())
        })
    }
}

fn serve_with(config: &Path) -> Server {
    let args = WebArgs {
        listen_addresses: vec![],
        telemetry_path: "/metrics".into(),
        max_requests: 0,
        max_connections: 0,
        write_timeout: std::time::Duration::from_secs(30),
        disable_exporter_metrics: true,
        config_file: Some(config.to_path_buf()),
        systemd_socket: false,
    };
    let settings = Settings::from_args(&args, LANDING).unwrap();
    common::serve(settings, Arc::new(TestApp), 0)
}

/// curl's HTTP status ("000" when the TLS handshake or the connection failed).
fn curl(args: &[&str], url: &str) -> String {
    let out = Command::new("/usr/bin/curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
        ])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Ca {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn make_ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        pem,
        issuer: rcgen::Issuer::new(params, key),
    }
}

fn leaf(ca: &Ca, san: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![san.to_string()]).unwrap();
    (
        params.signed_by(&key, &ca.issuer).unwrap().pem(),
        key.serialize_pem(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// Moves a file's modification time forward so the change is seen whatever the clock's grain.
fn touch_later(path: &Path, secs: u64) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() + Duration::from_secs(secs))
        .unwrap();
}

#[test]
fn rotated_certificates_are_served_without_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let (old_ca, new_ca) = (make_ca("old CA"), make_ca("new CA"));
    let old_ca_path = write(d.path(), "old-ca.pem", &old_ca.pem);
    let new_ca_path = write(d.path(), "new-ca.pem", &new_ca.pem);
    let (cert, key) = leaf(&old_ca, "127.0.0.1");
    write(d.path(), "server.pem", &cert);
    write(d.path(), "server.key", &key);
    let cfg = write(
        d.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n",
    );
    let s = serve_with(Path::new(&cfg));
    let url = format!("https://127.0.0.1:{}/metrics", s.port);
    assert_eq!(curl(&["--cacert", &old_ca_path], &url), "200");
    assert_eq!(curl(&["--cacert", &new_ca_path], &url), "000");

    // Half a rotation (new certificate, old key): the old pair stays in service.
    let (cert, key) = leaf(&new_ca, "127.0.0.1");
    write(d.path(), "server.pem", &cert);
    touch_later(&d.path().join("server.pem"), 10);
    assert_eq!(curl(&["--cacert", &old_ca_path], &url), "200");

    // The key follows: the new pair is served on the next handshake.
    write(d.path(), "server.key", &key);
    touch_later(&d.path().join("server.key"), 20);
    assert_eq!(curl(&["--cacert", &new_ca_path], &url), "200");
    assert_eq!(curl(&["--cacert", &old_ca_path], &url), "000");
}

#[test]
fn request_client_cert_accepts_clients_with_and_without_a_certificate() {
    let d = tempfile::tempdir().unwrap();
    let ca = make_ca("CA");
    let ca_path = write(d.path(), "ca.pem", &ca.pem);
    let (cert, key) = leaf(&ca, "127.0.0.1");
    write(d.path(), "server.pem", &cert);
    write(d.path(), "server.key", &key);
    let stranger = make_ca("stranger");
    let (ccert, ckey) = leaf(&stranger, "client.example");
    let ccert = write(d.path(), "client.pem", &ccert);
    let ckey = write(d.path(), "client.key", &ckey);
    let cfg = write(
        d.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequestClientCert\n",
    );
    let s = serve_with(Path::new(&cfg));
    let url = format!("https://127.0.0.1:{}/metrics", s.port);
    assert_eq!(curl(&["--cacert", &ca_path], &url), "200");
    assert_eq!(
        curl(
            &["--cacert", &ca_path, "--cert", &ccert, "--key", &ckey],
            &url
        ),
        "200"
    );
}

#[test]
fn bad_passwords_do_not_stall_other_requests() {
    let d = tempfile::tempdir().unwrap();
    // Cost 10: about a tenth of a second per bcrypt in an unoptimised test build.
    let hash = bcrypt::hash("right", 10).unwrap();
    let cfg = write(
        d.path(),
        "web.yml",
        &format!("basic_auth_users:\n  alice: '{hash}'\n"),
    );
    let s = serve_with(Path::new(&cfg));
    let url = format!("http://127.0.0.1:{}/metrics", s.port);
    // Prime the cache for the right password.
    assert_eq!(curl(&["-u", "alice:right"], &url), "200");
    // Several wrong passwords at once: each costs a bcrypt, one at a time.
    let attackers: Vec<_> = (0..4)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || curl(&["-u", &format!("alice:wrong{i}")], &url))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    // The cached right password is answered while they queue for bcrypt (with bcrypt on the
    // event loop it would wait for all of them: measured at 4x one bcrypt).
    let t = Instant::now();
    assert_eq!(curl(&["-u", "alice:right"], &url), "200");
    let fast = t.elapsed();
    for a in attackers {
        assert_eq!(a.join().unwrap(), "401");
    }
    let single = {
        let t = Instant::now();
        assert_eq!(curl(&["-u", "alice:wrong"], &url), "401");
        t.elapsed()
    };
    assert!(
        fast < single * 2,
        "a cached login took {fast:?} while one bcrypt takes {single:?}"
    );
}
