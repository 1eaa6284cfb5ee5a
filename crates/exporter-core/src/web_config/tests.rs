#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hyper::header::{self, HeaderMap, HeaderValue};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::auth::{check_bcrypt_hash, DUMMY_HASH};
use super::rate_limit::parse_go_duration;
use super::tls::pem::Pem;
use super::tls::reload::ReloadingCert;
use super::tls::verify::subject_alt_names;
use super::*;

/// A CA and a leaf signed by it, PEM.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "test CA");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let (cert_pem, key_pem) = leaf(&issuer, &["localhost", "127.0.0.1"]);
    Pki {
        ca_pem,
        cert_pem,
        key_pem,
        issuer,
    }
}

fn leaf(issuer: &rcgen::Issuer<'static, rcgen::KeyPair>, sans: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    (
        params.signed_by(&key, issuer).unwrap().pem(),
        key.serialize_pem(),
    )
}

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, text) in files {
        fs::write(d.path().join(name), text).unwrap();
    }
    d
}

fn parse(yaml: &str, dir: &Path) -> Result<WebConfig, String> {
    WebConfig::from_yaml(yaml, dir)
}

fn err(yaml: &str, dir: &Path) -> String {
    match parse(yaml, dir) {
        Ok(c) => panic!("expected an error for {yaml:?}, got {c:?}"),
        Err(e) => e,
    }
}

fn tls_dir() -> (Pki, tempfile::TempDir) {
    let p = pki();
    let d = dir_with(&[
        ("server.crt", &p.cert_pem),
        ("server.key", &p.key_pem),
        ("ca.crt", &p.ca_pem),
    ]);
    (p, d)
}

#[test]
fn empty_and_comment_only_files_are_empty_configs() {
    for text in ["", "\n", "# nothing here\n", "---\n"] {
        let c = parse(text, Path::new(".")).unwrap();
        assert!(c.tls_acceptor().is_none());
        assert!(!c.has_basic_auth());
        assert!(c.response_headers().is_empty());
        assert!(c.authorize(&HeaderMap::new()));
    }
}

#[test]
fn unknown_fields_are_errors_at_every_level() {
    let d = Path::new(".");
    assert!(err("bogus: 1\n", d).contains("unknown field `bogus`"));
    let e = err("tls_server_config:\n  cert_fille: x\n", d);
    assert!(e.contains("cert_fille"), "{e}");
    let e = err("http_server_config:\n  http3: true\n", d);
    assert!(e.contains("http3"), "{e}");
    let e = err("rate_limit:\n  every: 1s\n", d);
    assert!(e.contains("every"), "{e}");
}

#[test]
fn duplicate_keys_are_errors_as_with_yaml_v2_strict() {
    let h = hash("x");
    let e = err(
        &format!("basic_auth_users:\n  alice: {h}\n  alice: {h}\n"),
        Path::new("."),
    );
    assert!(e.contains("\"alice\" already defined"), "{e}");
    let e = err(
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Frame-Options: deny\n",
        Path::new("."),
    );
    assert!(e.contains("already defined"), "{e}");
    let e = err("rate_limit:\n  burst: 1\n  burst: 2\n", Path::new("."));
    assert!(e.contains("duplicate field `burst`"), "{e}");
}

#[test]
fn yaml_1_1_booleans() {
    let (_p, d) = tls_dir();
    let base = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    for (v, want) in [("no", false), ("off", false), ("yes", true), ("true", true)] {
        let c = parse(
            &format!(
                "{base}  prefer_server_cipher_suites: {v}\nhttp_server_config:\n  http2: {v}\n"
            ),
            d.path(),
        )
        .unwrap();
        assert_eq!(c.tls.unwrap().ignore_client_order, want, "{v}");
    }
    let e = err("http_server_config:\n  http2: maybe\n", d.path());
    assert!(e.contains("not a boolean"), "{e}");
    let e = err("http_server_config:\n  http2: 3\n", d.path());
    assert!(e.contains("expected a boolean"), "{e}");
}

#[test]
fn bad_yaml_is_an_error() {
    let e = err("tls_server_config: [\n", Path::new("."));
    assert!(!e.is_empty());
    let e = err("basic_auth_users: 3\n", Path::new("."));
    assert!(e.contains("basic_auth_users"), "{e}");
}

#[test]
fn load_names_the_file_in_one_line() {
    let d = dir_with(&[("web.yml", "tls_server_config:\n  nope: 1\n")]);
    let path = d.path().join("web.yml");
    let e = WebConfig::load(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("web config file {}: ", path.display())),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
    let missing = d.path().join("absent.yml");
    let e = WebConfig::load(&missing).unwrap_err().to_string();
    assert!(e.contains("absent.yml") && e.contains("cannot read"), "{e}");
}

#[test]
fn tls_from_files_relative_to_the_config() {
    let (_p, d) = tls_dir();
    fs::write(
        d.path().join("web.yml"),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    )
    .unwrap();
    let c = WebConfig::load(&d.path().join("web.yml")).unwrap();
    assert!(c.tls_acceptor().is_some());
}

#[test]
fn tls_inline_cert_and_key() {
    let p = pki();
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    let yaml = format!(
        "tls_server_config:\n  cert: |\n{}  key: |\n{}",
        indent(&p.cert_pem),
        indent(&p.key_pem)
    );
    let c = parse(&yaml, Path::new("/nonexistent")).unwrap();
    assert!(c.tls_acceptor().is_some());
}

#[test]
fn tls_missing_pieces() {
    let (_p, d) = tls_dir();
    let e = err("tls_server_config:\n  cert_file: server.crt\n", d.path());
    assert!(e.contains("missing one of key or key_file"), "{e}");
    let e = err("tls_server_config:\n  key_file: server.key\n", d.path());
    assert!(e.contains("missing one of cert or cert_file"), "{e}");
    let e = err(
        "tls_server_config:\n  cert_file: nothere.crt\n  key_file: server.key\n",
        d.path(),
    );
    assert!(
        e.contains("cannot read cert_file") && e.contains("nothere.crt"),
        "{e}"
    );
    let e = err(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: nothere.key\n",
        d.path(),
    );
    assert!(
        e.contains("cannot read key_file") && e.contains("nothere.key"),
        "{e}"
    );
    // client_auth_type alone turns TLS on, and then a certificate is needed.
    let e = err(
        "tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n",
        d.path(),
    );
    assert!(e.contains("missing one of cert"), "{e}");
}

#[test]
fn tls_settings_without_a_cert_leave_tls_off() {
    // As upstream's IsEnabled: versions alone do not turn TLS on.
    let c = parse("tls_server_config:\n  min_version: TLS13\n", Path::new(".")).unwrap();
    assert!(c.tls_acceptor().is_none());
}

#[test]
fn key_must_match_cert() {
    let p = pki();
    let other = pki();
    let d = dir_with(&[("server.crt", &p.cert_pem), ("other.key", &other.key_pem)]);
    let e = err(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n",
        d.path(),
    );
    assert!(e.contains("does not match"), "{e}");
}

#[test]
fn garbage_pem_is_an_error() {
    let p = pki();
    let d = dir_with(&[
        ("server.crt", &p.cert_pem),
        ("server.key", "not a key\n"),
        ("empty.crt", ""),
    ]);
    let e = err(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
        d.path(),
    );
    assert!(e.contains("no PEM private key"), "{e}");
    let e = err(
        "tls_server_config:\n  cert_file: empty.crt\n  key_file: server.key\n",
        d.path(),
    );
    assert!(e.contains("no PEM certificate"), "{e}");
}

#[test]
fn client_auth_types() {
    let (_p, d) = tls_dir();
    let base = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    for t in [
        "NoClientCert",
        "RequestClientCert",
        "RequireAnyClientCert",
        "RequireClientCert",
        "VerifyClientCertIfGiven",
        "RequireAndVerifyClientCert",
    ] {
        let ca = if t == "NoClientCert" {
            ""
        } else {
            "  client_ca_file: ca.crt\n"
        };
        let yaml = format!("{base}  client_auth_type: {t}\n{ca}");
        assert!(parse(&yaml, d.path()).is_ok(), "{t}");
    }
    let e = err(&format!("{base}  client_auth_type: Sometimes\n"), d.path());
    assert!(e.contains("invalid client_auth_type \"Sometimes\""), "{e}");
    let e = err(&format!("{base}  client_ca_file: ca.crt\n"), d.path());
    assert!(e.contains("without a Client Auth Policy"), "{e}");
    let e = err(
        &format!("{base}  client_auth_type: RequireAndVerifyClientCert\n"),
        d.path(),
    );
    assert!(e.contains("needs client_ca_file"), "{e}");
    let e = err(
        &format!(
            "{base}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n  client_allowed_sans: [a]\n"
        ),
        d.path(),
    );
    assert!(e.contains("client_allowed_sans requires"), "{e}");
    let e = err(
        &format!(
            "{base}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: server.key\n"
        ),
        d.path(),
    );
    assert!(e.contains("no PEM certificate"), "{e}");
}

#[test]
fn tls_versions() {
    let (_p, d) = tls_dir();
    let base = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    for (min, max) in [
        ("TLS12", "TLS13"),
        ("TLS13", "TLS13"),
        ("TLS12", "TLS12"),
        ("TLS10", "TLS13"),
        ("TLS11", "TLS12"),
    ] {
        let yaml = format!("{base}  min_version: {min}\n  max_version: {max}\n");
        assert!(parse(&yaml, d.path()).is_ok(), "{min}..{max}");
    }
    let e = err(&format!("{base}  max_version: TLS11\n"), d.path());
    assert!(e.contains("max_version TLS11 is not supported"), "{e}");
    let e = err(
        &format!("{base}  min_version: TLS13\n  max_version: TLS12\n"),
        d.path(),
    );
    assert!(e.contains("above max_version"), "{e}");
    let e = err(&format!("{base}  min_version: SSL3\n"), d.path());
    assert!(e.contains("unknown TLS version \"SSL3\""), "{e}");
}

#[test]
fn cipher_suites_and_curves() {
    let (_p, d) = tls_dir();
    let base = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    let ok = format!(
        "{base}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_AES_128_GCM_SHA256]\n  curve_preferences: [CurveP521, X25519, CurveP256]\n  prefer_server_cipher_suites: false\n"
    );
    let c = parse(&ok, d.path()).unwrap();
    let cfg = c.tls.unwrap();
    assert!(!cfg.ignore_client_order);
    assert_eq!(
        cfg.crypto_provider()
            .kx_groups
            .iter()
            .map(|g| g.name())
            .collect::<Vec<_>>(),
        vec![rustls::NamedGroup::X25519, rustls::NamedGroup::secp256r1]
    );
    let tls12: Vec<_> = cfg
        .crypto_provider()
        .cipher_suites
        .iter()
        .filter(|s| s.tls13().is_none())
        .map(|s| s.suite())
        .collect();
    assert_eq!(
        tls12,
        vec![rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
    );
    let e = err(&format!("{base}  cipher_suites: [TLS_FANCY]\n"), d.path());
    assert!(e.contains("unknown cipher \"TLS_FANCY\""), "{e}");
    let e = err(&format!("{base}  curve_preferences: [P256]\n"), d.path());
    assert!(e.contains("unknown curve \"P256\""), "{e}");
    let e = err(
        &format!("{base}  curve_preferences: [CurveP521]\n"),
        d.path(),
    );
    assert!(e.contains("none of the curve_preferences"), "{e}");
    let e = err(
        &format!("{base}  max_version: TLS12\n  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"),
        d.path(),
    );
    assert!(e.contains("none of the cipher_suites"), "{e}");
}

#[test]
fn headers_follow_upstream_rules() {
    let d = Path::new(".");
    let c = parse(
        "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n    Strict-Transport-Security: max-age=31536000\n    Content-Security-Policy: \"\"\n",
        d,
    )
    .unwrap();
    let names: Vec<_> = c
        .response_headers()
        .iter()
        .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        vec![
            "strict-transport-security: max-age=31536000",
            "x-content-type-options: nosniff",
            "x-frame-options: deny",
        ]
    );
    let e = err("http_server_config:\n  headers:\n    Server: me\n", d);
    assert!(e.contains("\"Server\" can not be configured"), "{e}");
    let e = err(
        "http_server_config:\n  headers:\n    x-frame-options: deny\n",
        d,
    );
    assert!(e.contains("can not be configured"), "{e}");
    let e = err(
        "http_server_config:\n  headers:\n    X-Frame-Options: DENY\n",
        d,
    );
    assert!(e.contains("invalid value for X-Frame-Options"), "{e}");
    let e = err(
        "http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n",
        d,
    );
    assert!(e.contains("invalid value"), "{e}");
}

// "secret" at cost 4, to keep tests fast.
fn hash(pw: &str) -> String {
    bcrypt::hash(pw, 4).unwrap()
}

fn basic(user: &str, pass: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Basic {v}")).unwrap(),
    );
    h
}

#[test]
fn basic_auth() {
    let yaml = format!(
        "basic_auth_users:\n  alice: {}\n  bob: '{}'\n",
        hash("secret"),
        hash("pa:ss")
    );
    let c = parse(&yaml, Path::new(".")).unwrap();
    assert!(c.has_basic_auth());
    assert!(c.authorize(&basic("alice", "secret")));
    // Cached now; still right.
    assert!(c.authorize(&basic("alice", "secret")));
    assert!(c.authorize(&basic("bob", "pa:ss")));
    assert!(!c.authorize(&basic("alice", "wrong")));
    assert!(!c.authorize(&basic("alice", "")));
    assert!(!c.authorize(&basic("bob", "secret")));
    assert!(!c.authorize(&basic("carol", "secret")));
    assert!(!c.authorize(&HeaderMap::new()));
    let mut h = HeaderMap::new();
    h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
    assert!(!c.authorize(&h));
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Bearer abc"),
    );
    assert!(!c.authorize(&h));
    // The scheme is case-insensitive, as in Go.
    let v = base64::engine::general_purpose::STANDARD.encode("alice:secret");
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("bAsIc {v}")).unwrap(),
    );
    assert!(c.authorize(&h));
}

#[test]
fn successes_are_cached() {
    let c = parse(
        &format!("basic_auth_users:\n  alice: {}\n", hash("secret")),
        Path::new("."),
    )
    .unwrap();
    let auth = c.auth.as_ref().unwrap();
    assert!(c.authorize(&basic("alice", "secret")));
    assert_eq!(auth.cache_len(), 1);
    assert!(c.authorize(&basic("alice", "secret")));
    assert_eq!(auth.cache_len(), 1);
    // Keys differ by user, password and their boundary.
    assert_ne!(auth.cache_key(b"ab", b"c"), auth.cache_key(b"a", b"bc"));
}

#[test]
fn failures_are_cached_too_and_the_cache_is_bounded() {
    let c = parse(
        &format!("basic_auth_users:\n  alice: {}\n", hash("secret")),
        Path::new("."),
    )
    .unwrap();
    let auth = c.auth.as_ref().unwrap();
    assert!(!c.authorize(&basic("alice", "nope")));
    // The same wrong pair again is answered without bcrypt.
    let key = auth.cache_key(b"alice", b"nope");
    assert_eq!(auth.cached(&key), Some(false));
    assert!(!c.authorize(&basic("alice", "nope")));
    assert!(c.authorize(&basic("alice", "secret")));
    assert_eq!(
        auth.cached(&auth.cache_key(b"alice", b"secret")),
        Some(true)
    );
    for i in 0..3 * super::auth::REFUSED_CACHE_SIZE {
        auth.remember(auth.cache_key(b"mallory", i.to_string().as_bytes()), false);
    }
    assert!(auth.cache_len() <= super::auth::CACHE_SIZE + super::auth::REFUSED_CACHE_SIZE);
}

/// 200 clients with wrong passwords must not take the blocking threads the collectors need:
/// bcrypt has its own small pool with a bounded queue.
#[test]
fn a_flood_of_wrong_passwords_leaves_the_blocking_pool_free() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .unwrap();
    // Cost 10, as people write them: tens of milliseconds each (far more in a debug build).
    let slow = bcrypt::hash("secret", 10).unwrap();
    let c = std::sync::Arc::new(
        parse(
            &format!("basic_auth_users:\n  alice: {slow}\n"),
            Path::new("."),
        )
        .unwrap(),
    );
    rt.block_on(async {
        for i in 0..200 {
            let c = c.clone();
            tokio::spawn(async move {
                let _ = c
                    .authorize_async(&basic("alice", &format!("wrong{i}")))
                    .await;
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // What a scrape's collector does: one small job on the blocking pool.
        let t0 = std::time::Instant::now();
        tokio::task::spawn_blocking(|| ()).await.unwrap();
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(2),
            "a collector job waited {:?} behind bcrypt",
            t0.elapsed()
        );
    });
    rt.shutdown_background();
}

#[tokio::test]
async fn authorize_async_matches_authorize() {
    let c = parse(
        &format!("basic_auth_users:\n  alice: {}\n", hash("secret")),
        Path::new("."),
    )
    .unwrap();
    assert!(c.authorize_async(&basic("alice", "secret")).await);
    assert!(c.authorize_async(&basic("alice", "secret")).await);
    assert!(!c.authorize_async(&basic("alice", "x")).await);
    assert!(!c.authorize_async(&HeaderMap::new()).await);
    let open = WebConfig::default();
    assert!(open.authorize_async(&HeaderMap::new()).await);
}

#[test]
fn malformed_bcrypt_hashes_are_rejected_at_load() {
    let good = hash("x");
    assert!(check_bcrypt_hash(&good).is_ok());
    assert!(check_bcrypt_hash(DUMMY_HASH).is_ok());
    assert!(check_bcrypt_hash(&good.replacen("$2b$", "$2y$", 1)).is_ok());
    for bad in [
        "",
        "secret",
        "$2b$10$short",
        "$1$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG",
        "$2y$99$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG",
        "$2y$1$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG",
        "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7z!",
    ] {
        assert!(check_bcrypt_hash(bad).is_err(), "{bad:?}");
    }
    let e = err("basic_auth_users:\n  alice: plaintext\n", Path::new("."));
    assert!(
        e.contains("user \"alice\"") && e.contains("malformed bcrypt hash"),
        "{e}"
    );
    assert!(!e.contains("plaintext"), "{e}");
    let e = err("basic_auth_users:\n  alice:\n", Path::new("."));
    assert!(e.contains("malformed bcrypt hash"), "{e}");
}

#[test]
fn the_dummy_hash_is_a_real_cost_10_hash() {
    assert!(DUMMY_HASH.starts_with("$2b$10$"));
    assert!(bcrypt::verify("fakepassword", DUMMY_HASH).unwrap());
}

#[test]
fn rate_limit() {
    let c = parse("rate_limit:\n  interval: 1h\n  burst: 2\n", Path::new(".")).unwrap();
    assert!(c.allow_request());
    assert!(c.allow_request());
    assert!(!c.allow_request());
    let c = parse("rate_limit:\n  interval: 0s\n  burst: 0\n", Path::new(".")).unwrap();
    assert!(c.allow_request());
    let c = parse("rate_limit:\n  interval: 1ms\n  burst: 1\n", Path::new(".")).unwrap();
    assert!(c.allow_request());
    std::thread::sleep(Duration::from_millis(5));
    assert!(c.allow_request());
    let c = parse(
        "rate_limit:\n  interval: 1000000000\n  burst: 1\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(
        c.rate_limit.as_ref().unwrap().interval,
        Duration::from_secs(1)
    );
    let e = err("rate_limit:\n  interval: often\n", Path::new("."));
    assert!(e.contains("bad interval"), "{e}");
}

#[test]
fn go_durations() {
    assert_eq!(parse_go_duration("1s"), Some(Duration::from_secs(1)));
    assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_go_duration("10us"), Some(Duration::from_micros(10)));
    assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
    assert_eq!(parse_go_duration("5"), None);
    assert_eq!(parse_go_duration("-1s"), None);
    assert_eq!(parse_go_duration(""), None);
}

#[test]
fn sans_of_a_certificate() {
    let p = pki();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["scraper.example".to_string()]).unwrap();
    params.subject_alt_names.extend([
        rcgen::SanType::IpAddress("10.1.2.3".parse().unwrap()),
        rcgen::SanType::IpAddress("2001:db8::1".parse().unwrap()),
        rcgen::SanType::IpAddress("::ffff:192.0.2.1".parse().unwrap()),
        rcgen::SanType::Rfc822Name("ops@example.com".try_into().unwrap()),
        rcgen::SanType::URI("spiffe://example/scraper".try_into().unwrap()),
    ]);
    let cert = params.signed_by(&key, &p.issuer).unwrap();
    assert_eq!(
        subject_alt_names(cert.der()).unwrap(),
        vec![
            "scraper.example",
            "10.1.2.3",
            "2001:db8::1",
            "192.0.2.1",
            "ops@example.com",
            "spiffe://example/scraper",
        ]
    );
    // No SAN extension at all.
    let params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let cert = params.signed_by(&key, &p.issuer).unwrap();
    assert_eq!(subject_alt_names(cert.der()).unwrap(), Vec::<String>::new());
    // Garbage.
    assert_eq!(subject_alt_names(&[0x30, 0x05, 0x01]), None);
    assert_eq!(subject_alt_names(&[]), None);
}

#[test]
fn certificate_rotation_is_picked_up() {
    let (p, d) = tls_dir();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let r = ReloadingCert::new(
        Pem::File {
            field: "cert_file",
            path: d.path().join("server.crt"),
        },
        Pem::File {
            field: "key_file",
            path: d.path().join("server.key"),
        },
        provider,
    )
    .unwrap();
    let first = r.current().unwrap().cert[0].clone();
    // A half-done rotation (new cert, old key) keeps the old pair.
    let (new_cert, new_key) = leaf(&p.issuer, &["localhost"]);
    fs::write(d.path().join("server.crt"), &new_cert).unwrap();
    bump_mtime(&d.path().join("server.crt"));
    let reload = |r: &ReloadingCert| r.current().unwrap().cert[0].clone();
    assert_eq!(reload(&r), first);
    fs::write(d.path().join("server.key"), &new_key).unwrap();
    bump_mtime(&d.path().join("server.key"));
    let now = reload(&r);
    assert_ne!(now, first);
    assert_eq!(
        now,
        CertificateDer::from_pem_slice(new_cert.as_bytes()).unwrap()
    );
}

/// Moves a file's mtime forward so a change is seen even within the clock's granularity.
fn bump_mtime(path: &Path) {
    static STEP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(10);
    let step = STEP.fetch_add(10, std::sync::atomic::Ordering::Relaxed);
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(step))
        .unwrap();
}
