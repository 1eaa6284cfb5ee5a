//! End to end: the built `node-exporter` binary on a free 127.0.0.1 port, driven by the real curl
//! (/usr/bin/curl), with `--web.config.file` for TLS, client certificates, basic auth and
//! headers, and the plain HTTP behaviours (404, 405, HEAD, gzip, /healthz, landing page,
//! `--web.max-requests`). Every exporter started is killed by a guard, even when a test fails.

#![allow(clippy::unwrap_used)]

mod common;

use common::free_port;

use std::fs;
use std::io::Write as _;
use std::net::TcpStream;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_node-exporter");
const CURL: &str = "/usr/bin/curl";

/// A running exporter; killed and reaped on drop.
struct Exporter {
    child: Child,
    port: u16,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Exporter {
    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// Starts the exporter with only the loadavg collector (cheap, always there) plus `args`, and
/// waits until it accepts connections. Retries on another port if the free one was taken in
/// between.
fn start(args: &[&str]) -> Exporter {
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let stderr = dir.path().join("stderr");
        let port = free_port();
        let child = Command::new(BIN)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(["--collector.disable-defaults", "--collector.loadavg"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut ex = Exporter {
            child,
            port,
            stderr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = ex.child.try_wait().unwrap() {
                let err = ex.stderr();
                if err.contains("in use") {
                    break; // someone took the port: try another
                }
                panic!("exporter exited early ({status}): {err}");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return ex;
            }
            assert!(
                Instant::now() < deadline,
                "exporter did not listen: {}",
                ex.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("could not start the exporter on a free port");
}

/// What curl saw.
struct Reply {
    /// curl's exit code (0 on any HTTP answer).
    exit: i32,
    /// The HTTP status, "000" when there was none.
    code: String,
    headers: String,
    body: Vec<u8>,
    stderr: String,
}

impl Reply {
    fn body(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of a response header (case-insensitive name), if present.
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

fn curl(args: &[&str], url: &str) -> Reply {
    let dir = tempfile::tempdir().unwrap();
    let (h, b) = (dir.path().join("h"), dir.path().join("b"));
    let out: Output = Command::new(CURL)
        .args(["-sS", "--max-time", "20", "-w", "%{http_code}", "-D"])
        .arg(&h)
        .arg("-o")
        .arg(&b)
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Reply {
        exit: out.status.code().unwrap_or(-1),
        code: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        headers: fs::read_to_string(&h).unwrap_or_default(),
        body: fs::read(&b).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates, made fresh for each test.

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
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        pem,
        issuer: rcgen::Issuer::new(params, key),
    }
}

/// A leaf certificate and its key, PEM.
fn leaf(ca: &Ca, sans: &[&str], eku: rcgen::ExtendedKeyUsagePurpose) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.extended_key_usages = vec![eku];
    (
        params.signed_by(&key, &ca.issuer).unwrap().pem(),
        key.serialize_pem(),
    )
}

/// A directory with ca.pem, server.pem/server.key (for 127.0.0.1), client.pem/client.key (SAN
/// scraper.example, same CA), rogue.pem/rogue.key (another CA) and web.yml with `yaml`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(yaml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = make_ca("test CA");
        let other = make_ca("rogue CA");
        let (server, server_key) = leaf(
            &ca,
            &["127.0.0.1"],
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client, client_key) = leaf(
            &ca,
            &["scraper.example"],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        );
        let (other_client, other_key) = leaf(
            &ca,
            &["intruder.example"],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        );
        let (rogue, rogue_key) = leaf(
            &other,
            &["scraper.example"],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        );
        for (name, text) in [
            ("ca.pem", ca.pem.as_str()),
            ("server.pem", &server),
            ("server.key", &server_key),
            ("client.pem", &client),
            ("client.key", &client_key),
            ("other.pem", &other_client),
            ("other.key", &other_key),
            ("rogue.pem", &rogue),
            ("rogue.key", &rogue_key),
            ("web.yml", yaml),
        ] {
            fs::write(dir.path().join(name), text).unwrap();
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn config_flag(&self) -> String {
        format!("--web.config.file={}", self.path("web.yml"))
    }

    /// curl flags to trust our CA and optionally present a client certificate (`client`, `other`
    /// or `rogue`).
    fn tls_args(&self, client: Option<&str>) -> Vec<String> {
        let mut v = vec!["--cacert".to_string(), self.path("ca.pem")];
        if let Some(c) = client {
            v.extend([
                "--cert".to_string(),
                self.path(&format!("{c}.pem")),
                "--key".to_string(),
                self.path(&format!("{c}.key")),
            ]);
        }
        v
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

const TLS: &str = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";

/// "s3cret" at bcrypt cost 4 (fast enough for a test, still a real bcrypt hash).
const HASH: &str = "$2b$04$TRQQ8cVp4g95ywpRon0lkuzYM7QUZSf3RFYR/HeH1BgZ7mxQ.KAUu";

#[test]
fn tls_serves_metrics_to_a_client_that_trusts_the_ca() {
    let s = Setup::new(TLS);
    let ex = start(&[&s.config_flag()]);
    let r = curl(&strs(&s.tls_args(None)), &ex.url("https", "/metrics"));
    assert_eq!(r.code, "200", "{}", r.stderr);
    assert!(r.body().contains("\nnode_load1 "), "{}", r.body());
    // Without our CA curl refuses the certificate (exit 60).
    let r = curl(&[], &ex.url("https", "/metrics"));
    assert_eq!(r.exit, 60, "{} {}", r.code, r.stderr);
    // Plain HTTP to the TLS port gets no HTTP answer.
    let r = curl(&[], &ex.url("http", "/metrics"));
    assert_ne!(r.code, "200");
    // TLS 1.2 and 1.3 both work by default.
    let mut args = s.tls_args(None);
    args.extend(["--tls-max".to_string(), "1.2".to_string()]);
    let r = curl(&strs(&args), &ex.url("https", "/healthz"));
    assert_eq!(r.code, "200", "{}", r.stderr);
    let mut args = s.tls_args(None);
    args.push("--tlsv1.3".into());
    let r = curl(&strs(&args), &ex.url("https", "/healthz"));
    assert_eq!(r.code, "200", "{}", r.stderr);
}

#[test]
fn tls_min_version_13_refuses_tls_12() {
    let s = Setup::new(&format!("{TLS}  min_version: TLS13\n"));
    let ex = start(&[&s.config_flag()]);
    let mut args = s.tls_args(None);
    args.extend(["--tls-max".to_string(), "1.2".to_string()]);
    let r = curl(&strs(&args), &ex.url("https", "/healthz"));
    assert_ne!(r.exit, 0, "TLS 1.2 should be refused: {}", r.code);
    let r = curl(&strs(&s.tls_args(None)), &ex.url("https", "/healthz"));
    assert_eq!(r.code, "200", "{}", r.stderr);
}

#[test]
fn mutual_tls_requires_a_certificate_from_the_client_ca() {
    let s = Setup::new(&format!(
        "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
    ));
    let ex = start(&[&s.config_flag()]);
    let url = ex.url("https", "/metrics");
    let r = curl(&strs(&s.tls_args(Some("client"))), &url);
    assert_eq!(r.code, "200", "{}", r.stderr);
    assert!(r.body().contains("node_load1"));
    // No certificate, or one from another CA: the handshake fails, no HTTP answer at all.
    for client in [None, Some("rogue")] {
        let r = curl(&strs(&s.tls_args(client)), &url);
        assert_ne!(r.exit, 0, "{client:?} got {}", r.code);
        assert_eq!(r.code, "000", "{client:?}");
    }
    // The exporter is still up after the failed handshakes.
    let r = curl(
        &strs(&s.tls_args(Some("client"))),
        &ex.url("https", "/healthz"),
    );
    assert_eq!(r.code, "200", "{}", r.stderr);
}

#[test]
fn client_allowed_sans_admits_only_listed_names() {
    let s = Setup::new(&format!(
        "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  client_allowed_sans: [scraper.example]\n"
    ));
    let ex = start(&[&s.config_flag()]);
    let url = ex.url("https", "/healthz");
    let r = curl(&strs(&s.tls_args(Some("client"))), &url);
    assert_eq!(r.code, "200", "{}", r.stderr);
    // Same CA, other SAN.
    let r = curl(&strs(&s.tls_args(Some("other"))), &url);
    assert_eq!(r.code, "000", "{}", r.stderr);
}

#[test]
fn verify_client_cert_if_given_lets_anonymous_clients_in_but_not_foreign_certs() {
    let s = Setup::new(&format!(
        "{TLS}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n"
    ));
    let ex = start(&[&s.config_flag()]);
    let url = ex.url("https", "/healthz");
    assert_eq!(curl(&strs(&s.tls_args(None)), &url).code, "200");
    assert_eq!(curl(&strs(&s.tls_args(Some("client"))), &url).code, "200");
    assert_eq!(curl(&strs(&s.tls_args(Some("rogue"))), &url).code, "000");
}

#[test]
fn require_any_client_cert_takes_any_certificate_but_needs_one() {
    let s = Setup::new(&format!("{TLS}  client_auth_type: RequireAnyClientCert\n"));
    let ex = start(&[&s.config_flag()]);
    let url = ex.url("https", "/healthz");
    assert_eq!(curl(&strs(&s.tls_args(Some("rogue"))), &url).code, "200");
    assert_eq!(curl(&strs(&s.tls_args(None)), &url).code, "000");
}

fn check_basic_auth(ex: &Exporter, scheme: &str, base: &[String]) {
    let url = ex.url(scheme, "/metrics");
    let with = |extra: &[&str]| {
        let mut a = strs(base);
        a.extend_from_slice(extra);
        curl(&a, &url)
    };
    let r = with(&["-u", "alice:s3cret"]);
    assert_eq!(r.code, "200", "{}", r.stderr);
    assert!(r.body().contains("node_load1"));
    // Again: served from the cache of verified credentials, same answer.
    assert_eq!(with(&["-u", "alice:s3cret"]).code, "200");
    for bad in [
        &["-u", "alice:wrong"][..],
        &["-u", "mallory:s3cret"][..],
        &["-u", "alice:"][..],
        &["-H", "Authorization: Basic %%%"][..],
        &["-H", "Authorization: Bearer abc"][..],
        &[][..],
    ] {
        let r = with(bad);
        assert_eq!(r.code, "401", "{bad:?}: {}", r.stderr);
        assert_eq!(
            r.header("WWW-Authenticate").as_deref(),
            Some("Basic"),
            "{bad:?}"
        );
        assert!(!r.body().contains("node_load1"));
    }
    // /healthz and the landing page are behind auth too, as upstream wraps every handler.
    assert_eq!(curl(&strs(base), &ex.url(scheme, "/healthz")).code, "401");
    // Still alive and still letting the right user in.
    assert_eq!(with(&["-u", "alice:s3cret"]).code, "200");
}

#[test]
fn basic_auth_over_plain_http() {
    let s = Setup::new(&format!("basic_auth_users:\n  alice: {HASH}\n"));
    let ex = start(&[&s.config_flag()]);
    check_basic_auth(&ex, "http", &[]);
}

#[test]
fn basic_auth_over_tls() {
    let s = Setup::new(&format!("{TLS}basic_auth_users:\n  alice: '{HASH}'\n"));
    let ex = start(&[&s.config_flag()]);
    check_basic_auth(&ex, "https", &s.tls_args(None));
}

#[test]
fn configured_headers_are_on_every_response() {
    let s = Setup::new(&format!(
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n    Content-Security-Policy: \"default-src 'self'\"\nbasic_auth_users:\n  alice: {HASH}\n"
    ));
    let ex = start(&[&s.config_flag()]);
    for (path, auth, code) in [
        ("/metrics", true, "200"),
        ("/", true, "200"),
        ("/nope", true, "404"),
        ("/metrics", false, "401"),
    ] {
        let args: &[&str] = if auth { &["-u", "alice:s3cret"] } else { &[] };
        let r = curl(args, &ex.url("http", path));
        assert_eq!(r.code, code, "{path}");
        assert_eq!(
            r.header("X-Frame-Options").as_deref(),
            Some("deny"),
            "{path}"
        );
        assert_eq!(
            r.header("X-Content-Type-Options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(
            r.header("Content-Security-Policy").as_deref(),
            Some("default-src 'self'")
        );
    }
}

#[test]
fn rate_limit_answers_429() {
    let s = Setup::new("rate_limit:\n  interval: 1h\n  burst: 2\n");
    let ex = start(&[&s.config_flag()]);
    let url = ex.url("http", "/healthz");
    assert_eq!(curl(&[], &url).code, "200");
    assert_eq!(curl(&[], &url).code, "200");
    assert_eq!(curl(&[], &url).code, "429");
}

#[test]
fn http_basics() {
    let ex = start(&["--web.telemetry-path=/custom"]);
    // The landing page links to the telemetry path.
    let r = curl(&[], &ex.url("http", "/"));
    assert_eq!(r.code, "200");
    assert!(r.body().contains("href=\"/custom\""), "{}", r.body());
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    // Metrics there, not at the default path.
    let r = curl(&[], &ex.url("http", "/custom"));
    assert_eq!(r.code, "200");
    assert!(r.body().contains("# TYPE node_load1 gauge"));
    assert!(r
        .header("Content-Type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert_eq!(curl(&[], &ex.url("http", "/metrics")).code, "404");
    assert_eq!(curl(&[], &ex.url("http", "/nope")).code, "404");
    // Health.
    let r = curl(&[], &ex.url("http", "/healthz"));
    assert_eq!(r.code, "200");
    // Methods.
    let r = curl(&["-X", "POST", "-d", "x=1"], &ex.url("http", "/custom"));
    assert_eq!(r.code, "405");
    assert_eq!(r.header("Allow").as_deref(), Some("GET, HEAD"));
    let r = curl(&["-I"], &ex.url("http", "/custom"));
    assert_eq!(r.code, "200", "{}", r.stderr);
    // With -I curl writes the headers where the body would go; no metrics may follow them.
    assert!(!r.body().contains("node_load1"), "{}", r.body());
    assert!(r.header("Content-Type").is_some());
    // gzip when asked for (curl --compressed sends Accept-Encoding and inflates).
    let r = curl(&["--compressed"], &ex.url("http", "/custom"));
    assert_eq!(r.code, "200");
    assert_eq!(r.header("Content-Encoding").as_deref(), Some("gzip"));
    assert!(r.body().contains("node_load1"));
    let r = curl(&[], &ex.url("http", "/custom"));
    assert_eq!(r.header("Content-Encoding"), None);
}

/// `--web.max-requests=1`: a second scrape while one is in flight gets 503. The first scrape is
/// held deterministically by pointing --path.procfs at a directory whose `loadavg` is a FIFO:
/// the collector blocks opening it until the test opens the write end.
#[test]
fn max_requests_answers_503_while_a_scrape_is_in_flight() {
    let procfs = tempfile::tempdir().unwrap();
    let fifo = procfs.path().join("loadavg");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let ex = start(&[
        &format!("--path.procfs={}", procfs.path().display()),
        "--web.max-requests=1",
        "--collector.timeout=60s",
    ]);
    let url = ex.url("http", "/metrics");
    let slow = {
        let url = url.clone();
        std::thread::spawn(move || curl(&[], &url))
    };
    // The collector has the FIFO open for reading once a non-blocking open for writing works.
    let writer = wait_for_reader(&fifo);
    let r = curl(&[], &url);
    assert_eq!(r.code, "503", "{}", r.body());
    assert!(r.body().contains("try again later"), "{}", r.body());
    // /healthz is not limited.
    assert_eq!(curl(&[], &ex.url("http", "/healthz")).code, "200");
    // Let the first scrape finish.
    let mut writer = writer;
    writer.write_all(b"0.25 0.50 0.75 1/100 1234\n").unwrap();
    drop(writer);
    let first = slow.join().unwrap();
    assert_eq!(first.code, "200");
    assert!(first.body().contains("node_load1 0.25"), "{}", first.body());
    assert!(first
        .body()
        .contains("promhttp_metric_handler_requests_total{code=\"503\"} 1"));
}

fn wait_for_reader(fifo: &Path) -> fs::File {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
        {
            Ok(f) => return f,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
            Err(e) => panic!("open {}: {e}", fifo.display()),
        }
        assert!(
            Instant::now() < deadline,
            "the scrape never opened the FIFO"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
