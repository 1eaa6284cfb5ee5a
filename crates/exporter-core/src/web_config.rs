//! `--web.config.file`: TLS, client certificates, basic auth, extra response headers and a rate
//! limit, in the YAML format of prometheus/exporter-toolkit (`docs/web-configuration.md`).
//!
//! The format is the contract, field for field:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # or `cert: |` with the PEM inline
//!   key_file: server.key           # or `key: |`
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: ca.crt         # or `client_ca: |`
//!   client_allowed_sans: [scraper.example.com]
//!   min_version: TLS12
//!   max_version: TLS13
//!   cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
//!   curve_preferences: [X25519, CurveP256]
//!   prefer_server_cipher_suites: true
//! http_server_config:
//!   http2: true
//!   headers:
//!     X-Frame-Options: deny
//! basic_auth_users:
//!   alice: $2y$10$...              # bcrypt
//! rate_limit:
//!   interval: 1s
//!   burst: 10
//! ```
//!
//! As upstream: unknown fields are errors (it parses with yaml.v2's `UnmarshalStrict`), relative
//! paths are relative to the config file's directory, only five response headers may be set, TLS
//! is on as soon as any of cert/key/client CA/client auth type is set. Where rustls cannot do what
//! Go's crypto/tls does (TLS 1.0/1.1, CBC suites, P-521) the setting is accepted with a warning
//! when that is safe and refused with a clear error when it is not (a `max_version` below 1.2).
//!
//! Unlike upstream, the file is read once at start (upstream re-reads it on every request), but
//! `cert_file` and `key_file` are re-read when their modification time changes, so rotated
//! certificates are picked up without a restart, which is what people rely on that re-read for.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme, SupportedCipherSuite,
    SupportedProtocolVersion,
};
use serde::Deserialize;
use tokio_rustls::TlsAcceptor;

use crate::cli::UsageError;

/// A loaded, validated web configuration.
#[derive(Default)]
pub struct WebConfig {
    tls: Option<Arc<rustls::ServerConfig>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    auth: Option<Arc<BasicAuth>>,
    rate_limit: Option<RateLimiter>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("headers", &self.headers)
            .field(
                "basic_auth_users",
                &self.auth.as_ref().map(|a| a.users.len()),
            )
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks the file: every problem is one line naming the file and what is wrong.
    pub fn load(path: &Path) -> Result<Self, UsageError> {
        let fail = |msg: String| {
            UsageError::new(format!(
                "web config file {}: {}",
                path.display(),
                one_line(&msg)
            ))
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        // Go's filepath.Dir: "web.yml" is relative to the working directory.
        let dir = path.parent().unwrap_or(Path::new(""));
        Self::from_yaml(&text, dir).map_err(fail)
    }

    /// Parses the YAML text of a web config; relative paths in it are taken from `dir`.
    pub fn from_yaml(text: &str, dir: &Path) -> Result<Self, String> {
        // An empty file (or one of only comments) is a valid, empty config, as with yaml.v2.
        let raw: RawConfig = serde_yaml_ng::from_str::<Option<RawConfig>>(text)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let headers = build_headers(raw.http_server_config.as_ref())?;
        let auth = BasicAuth::new(raw.basic_auth_users.unwrap_or_default())?.map(Arc::new);
        let rate_limit = raw
            .rate_limit
            .map(RateLimiter::from_raw)
            .transpose()?
            .flatten();
        let tls = match raw.tls_server_config {
            Some(t) => build_tls(t, dir)?.map(Arc::new),
            None => None,
        };
        Ok(Self {
            tls,
            headers,
            auth,
            rate_limit,
        })
    }

    /// The TLS acceptor, when `tls_server_config` is set.
    pub fn tls_acceptor(&self) -> Option<TlsAcceptor> {
        self.tls.clone().map(TlsAcceptor::from)
    }

    /// Whether basic auth is configured.
    pub fn has_basic_auth(&self) -> bool {
        self.auth.is_some()
    }

    /// Whether a request with these headers may pass (always, when no users are configured).
    ///
    /// Runs bcrypt on the calling thread when the credentials are not cached; servers should
    /// prefer [`WebConfig::authorize_async`].
    pub fn authorize(&self, headers: &HeaderMap) -> bool {
        let Some(auth) = &self.auth else {
            return true;
        };
        let Some((user, pass)) = basic_credentials(headers) else {
            return false;
        };
        let key = auth.cache_key(&user, &pass);
        auth.is_cached(&key) || auth.verify(&user, &pass, key)
    }

    /// [`WebConfig::authorize`], with bcrypt (tens of milliseconds at cost 10) on tokio's
    /// blocking pool so a stream of bad passwords cannot stall the server's event loop.
    pub async fn authorize_async(&self, headers: &HeaderMap) -> bool {
        let Some(auth) = &self.auth else {
            return true;
        };
        let Some((user, pass)) = basic_credentials(headers) else {
            return false;
        };
        let key = auth.cache_key(&user, &pass);
        if auth.is_cached(&key) {
            return true;
        }
        let auth = auth.clone();
        tokio::task::spawn_blocking(move || auth.verify(&user, &pass, key))
            .await
            .unwrap_or(false)
    }

    /// Whether `rate_limit` lets one more request through now (always, when not configured).
    /// Upstream answers 429 Too Many Requests otherwise.
    pub fn allow_request(&self) -> bool {
        match &self.rate_limit {
            Some(limiter) => limiter.allow(),
            None => true,
        }
    }

    /// Headers added to every response (`http_server_config.headers`).
    pub fn response_headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }
}

/// Joins newlines so an error stays one line on stderr.
fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------------
// The file, as written.

#[derive(Deserialize, Default, Debug)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with tls_server_config, http_server_config, basic_auth_users or rate_limit"
)]
struct RawConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    rate_limit: Option<RawRateLimit>,
    #[serde(default, deserialize_with = "unique_map")]
    basic_auth_users: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of tls_server_config settings"
)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    cipher_suites: Option<Vec<String>>,
    curve_preferences: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    #[serde(default, deserialize_with = "yaml11_bool")]
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of http_server_config settings"
)]
struct RawHttp {
    /// Accepted; this server speaks HTTP/1.1 only (Prometheus scrapes over HTTP/1.1 anyway).
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "yaml11_bool")]
    http2: Option<bool>,
    #[serde(default, deserialize_with = "unique_map")]
    headers: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, expecting = "a mapping with interval and burst")]
struct RawRateLimit {
    /// A Go duration (`1s`, `500ms`) or an integer number of nanoseconds, as yaml.v2 reads a
    /// `time.Duration`.
    interval: Option<serde_yaml_ng::Value>,
    burst: Option<u32>,
}

/// A mapping of strings that refuses a key given twice, as yaml.v2's `UnmarshalStrict` does
/// (serde_yaml_ng would keep the last one silently).
fn unique_map<'de, D>(d: D) -> Result<Option<BTreeMap<String, Option<String>>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<BTreeMap<String, Option<String>>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping of names to strings")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<String, Option<String>>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!(
                        "mapping key {k:?} already defined"
                    )));
                }
                out.insert(k, v);
            }
            Ok(Some(out))
        }
    }
    d.deserialize_option(V)
}

/// A boolean as yaml.v2 (YAML 1.1) reads one: `yes`/`no`/`on`/`off` too, not only true/false.
fn yaml11_bool<'de, D>(d: D) -> Result<Option<bool>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    Ok(match Option::<serde_yaml_ng::Value>::deserialize(d)? {
        None | Some(serde_yaml_ng::Value::Null) => None,
        Some(serde_yaml_ng::Value::Bool(b)) => Some(b),
        Some(serde_yaml_ng::Value::String(s)) => match s.as_str() {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
                Some(true)
            }
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False"
            | "FALSE" => Some(false),
            _ => return Err(D::Error::custom(format!("{s:?} is not a boolean"))),
        },
        Some(other) => {
            return Err(D::Error::custom(format!(
                "expected a boolean, got {}",
                serde_yaml_ng::to_string(&other).unwrap_or_default().trim()
            )))
        }
    })
}

/// Empty strings mean "not set", as Go's zero values do.
fn set(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// config_util.JoinDir: absolute paths as they are, relative ones under the config's directory.
fn join_dir(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

// ---------------------------------------------------------------------------------------------
// http_server_config.headers

/// The headers upstream lets a config set, with the only values it allows where it restricts
/// them. Private on purpose upstream "to ensure consistency in the Prometheus ecosystem".
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

fn build_headers(http: Option<&RawHttp>) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut out = Vec::new();
    let Some(headers) = http.and_then(|h| h.headers.as_ref()) else {
        return Ok(out);
    };
    for (name, value) in headers {
        let value = value.as_deref().unwrap_or("");
        // Exact, case-sensitive names, as upstream's map lookup.
        let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| n == name) else {
            return Err(format!(
                "http_server_config: HTTP header {name:?} can not be configured (allowed: {})",
                ALLOWED_HEADERS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        if !allowed.is_empty() && !allowed.contains(&value) {
            return Err(format!(
                "http_server_config: invalid value for {name}: expected one of {allowed:?}, got {value:?}"
            ));
        }
        // The documented "unset if blank".
        if value.is_empty() {
            continue;
        }
        let hv = HeaderValue::from_str(value).map_err(|_| {
            format!(
                "http_server_config: header {name}: value {value:?} is not a valid header value"
            )
        })?;
        let hn = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("http_server_config: bad header name {name:?}"))?;
        out.push((hn, hv));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// basic_auth_users

/// A bcrypt hash of "fakepassword" at cost 10, checked for unknown users so that a wrong user
/// name takes as long as a wrong password (no user enumeration by timing), as upstream does.
const DUMMY_HASH: &str = "$2b$10$hLXluntsILZDdZCVsZp6eOzgGPiaAV/xXX.uOpjA3h.S5Ogs5T9gC";

/// Most distinct (user, password) pairs remembered as verified.
const CACHE_SIZE: usize = 100;

struct BasicAuth {
    /// user -> bcrypt hash.
    users: HashMap<String, String>,
    /// HMAC-SHA256 of (user, hash, password) for the pairs bcrypt has accepted: a scrape every
    /// 15 s must not pay bcrypt each time, and no password is kept. The HMAC key is random per
    /// process, so the digests are no use for an offline guess elsewhere.
    cache: Mutex<HashSet<[u8; 32]>>,
    cache_key: ring::hmac::Key,
    /// One bcrypt at a time, as upstream: it is CPU-heavy by design.
    bcrypt_lock: Mutex<()>,
}

impl BasicAuth {
    fn new(users: BTreeMap<String, Option<String>>) -> Result<Option<Self>, String> {
        if users.is_empty() {
            return Ok(None);
        }
        let mut map = HashMap::with_capacity(users.len());
        for (user, hash) in users {
            let hash = hash.unwrap_or_default();
            check_bcrypt_hash(&hash)
                .map_err(|why| format!("basic_auth_users: user {user:?}: {why}"))?;
            map.insert(user, hash);
        }
        let rng = ring::rand::SystemRandom::new();
        let cache_key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .map_err(|_| "cannot get random bytes for the basic auth cache".to_string())?;
        Ok(Some(Self {
            users: map,
            cache: Mutex::new(HashSet::new()),
            cache_key,
            bcrypt_lock: Mutex::new(()),
        }))
    }

    fn hash_for(&self, user: &[u8]) -> (&str, bool) {
        match std::str::from_utf8(user)
            .ok()
            .and_then(|u| self.users.get(u))
        {
            Some(h) => (h.as_str(), true),
            None => (DUMMY_HASH, false),
        }
    }

    fn cache_key(&self, user: &[u8], pass: &[u8]) -> [u8; 32] {
        let (hash, _) = self.hash_for(user);
        let mut ctx = ring::hmac::Context::with_key(&self.cache_key);
        // Length-prefixed so ("ab", "c") and ("a", "bc") differ.
        for part in [user, hash.as_bytes(), pass] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn is_cached(&self, key: &[u8; 32]) -> bool {
        self.cache.lock().map(|c| c.contains(key)).unwrap_or(false)
    }

    /// The slow path: bcrypt, then remember a success.
    fn verify(&self, user: &[u8], pass: &[u8], key: [u8; 32]) -> bool {
        let (hash, known) = self.hash_for(user);
        let ok = {
            let _one = self.bcrypt_lock.lock();
            // bcrypt's own comparison of the digests is constant-time.
            bcrypt::verify(pass, hash).unwrap_or(false)
        };
        let ok = ok && known;
        if ok {
            if let Ok(mut cache) = self.cache.lock() {
                if cache.len() >= CACHE_SIZE {
                    // Drop a tenth; which ones hardly matters (a dropped pair costs one bcrypt).
                    let drop: Vec<_> = cache.iter().take(CACHE_SIZE / 10).copied().collect();
                    for k in drop {
                        cache.remove(&k);
                    }
                }
                cache.insert(key);
            }
        }
        ok
    }
}

/// Checks the shape of a bcrypt hash at load time, as upstream's `bcrypt.Cost` does, so a typo
/// is a startup error rather than every request failing. Never echoes the hash.
fn check_bcrypt_hash(hash: &str) -> Result<(), &'static str> {
    const WANT: &str = "malformed bcrypt hash (want $2a$, $2b$ or $2y$, a two-digit cost from 04 to 31, then 53 characters of salt and hash)";
    let rest = ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .find_map(|p| hash.strip_prefix(p))
        .ok_or(WANT)?;
    let (cost, rest) = rest.split_once('$').ok_or(WANT)?;
    if cost.len() != 2 || !cost.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WANT);
    }
    let cost: u32 = cost.parse().map_err(|_| WANT)?;
    if !(4..=31).contains(&cost) || rest.len() != 53 || !rest.is_char_boundary(22) {
        return Err(WANT);
    }
    let salt = bcrypt::BASE_64.decode(&rest[..22]).map_err(|_| WANT)?;
    let digest = bcrypt::BASE_64.decode(&rest[22..]).map_err(|_| WANT)?;
    if salt.len() != 16 || digest.len() != 23 {
        return Err(WANT);
    }
    Ok(())
}

/// `Authorization: Basic base64(user:password)`, as Go's `Request.BasicAuth`: the scheme is
/// case-insensitive, the password is everything after the first colon.
fn basic_credentials(headers: &HeaderMap) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    if value.len() < 6 || !value[..6].eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&value[6..])
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

// ---------------------------------------------------------------------------------------------
// rate_limit

/// golang.org/x/time/rate's token bucket: starts full with `burst` tokens, one token back every
/// `interval`.
#[derive(Debug)]
struct RateLimiter {
    interval: Duration,
    burst: u32,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    fn from_raw(raw: RawRateLimit) -> Result<Option<Self>, String> {
        let interval = match raw.interval {
            None | Some(serde_yaml_ng::Value::Null) => Duration::ZERO,
            Some(serde_yaml_ng::Value::Number(n)) => n
                .as_u64()
                .map(Duration::from_nanos)
                .ok_or_else(|| format!("rate_limit: bad interval {n}"))?,
            Some(serde_yaml_ng::Value::String(s)) => parse_go_duration(&s)
                .ok_or_else(|| format!("rate_limit: bad interval {s:?} (want e.g. 1s, 500ms)"))?,
            Some(_) => return Err("rate_limit: interval must be a duration such as 1s".into()),
        };
        // Upstream: an interval of 0 disables the limiter.
        if interval.is_zero() {
            return Ok(None);
        }
        let burst = raw.burst.unwrap_or(0);
        Ok(Some(Self {
            interval,
            burst,
            state: Mutex::new((f64::from(burst), Instant::now())),
        }))
    }

    fn allow(&self) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return true;
        };
        let now = Instant::now();
        let refill = now.duration_since(s.1).as_secs_f64() / self.interval.as_secs_f64();
        s.0 = (s.0 + refill).min(f64::from(self.burst));
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Go's `time.ParseDuration` for non-negative values: `1h2m3.5s`, `300ms`, `10us`, `5ns`.
fn parse_go_duration(s: &str) -> Option<Duration> {
    crate::cli::parse_duration(s).ok()
}

// ---------------------------------------------------------------------------------------------
// tls_server_config

/// Go's `tls.ClientAuthType`, by its exporter-toolkit names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn parse(s: Option<&str>) -> Result<Self, String> {
        Ok(match s.unwrap_or("") {
            "" | "NoClientCert" => Self::NoClientCert,
            "RequestClientCert" => Self::RequestClientCert,
            // "RequireClientCert" is kept upstream for backwards compatibility.
            "RequireAnyClientCert" | "RequireClientCert" => Self::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => Self::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => Self::RequireAndVerifyClientCert,
            other => {
                return Err(format!(
                    "tls_server_config: invalid client_auth_type {other:?} (want NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
                ))
            }
        })
    }
}

/// `min_version`/`max_version` values, as Go's `tls.VersionTLS1x`.
fn parse_tls_version(field: &str, s: Option<&str>, default: u8) -> Result<u8, String> {
    match s {
        None | Some("") => Ok(default),
        Some("TLS10") => Ok(10),
        Some("TLS11") => Ok(11),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some(other) => Err(format!(
            "tls_server_config: unknown TLS version {other:?} in {field} (want TLS10, TLS11, TLS12 or TLS13)"
        )),
    }
}

/// What a Go cipher suite name means here.
enum Suite {
    Rustls(SupportedCipherSuite),
    /// A TLS 1.3 suite: Go ignores them in `cipher_suites` (1.3 suites are not configurable).
    Tls13,
    /// Known to Go's `tls.CipherSuites()`, but not offered by rustls (CBC, static RSA).
    Unsupported,
}

fn go_cipher_suite(name: &str) -> Option<Suite> {
    use rustls::crypto::ring::cipher_suite as cs;
    Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => {
            Suite::Rustls(cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
        }
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => {
            Suite::Rustls(cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
        }
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            Suite::Rustls(cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => {
            Suite::Rustls(cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)
        }
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => {
            Suite::Rustls(cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)
        }
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
            Suite::Rustls(cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)
        }
        "TLS_AES_128_GCM_SHA256" | "TLS_AES_256_GCM_SHA384" | "TLS_CHACHA20_POLY1305_SHA256" => {
            Suite::Tls13
        }
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
        | "TLS_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_RSA_WITH_AES_256_CBC_SHA"
        | "TLS_RSA_WITH_AES_128_GCM_SHA256"
        | "TLS_RSA_WITH_AES_256_GCM_SHA384" => Suite::Unsupported,
        _ => return None,
    })
}

/// Go's curve names (`tls.CurveID`) as exporter-toolkit spells them.
fn go_curve(name: &str) -> Result<Option<&'static dyn SupportedKxGroup>, String> {
    use rustls::crypto::ring::kx_group;
    match name {
        "X25519" => Ok(Some(kx_group::X25519)),
        "CurveP256" => Ok(Some(kx_group::SECP256R1)),
        "CurveP384" => Ok(Some(kx_group::SECP384R1)),
        // ring has no P-521.
        "CurveP521" => Ok(None),
        other => Err(format!(
            "tls_server_config: unknown curve {other:?} in curve_preferences (want X25519, CurveP256, CurveP384 or CurveP521)"
        )),
    }
}

/// Where a PEM comes from: a file (re-read when it changes) or the config itself.
#[derive(Debug, Clone)]
enum Pem {
    File { field: &'static str, path: PathBuf },
    Inline { field: &'static str, text: String },
}

impl Pem {
    fn pick(
        dir: &Path,
        file_field: &'static str,
        file: &Option<String>,
        inline_field: &'static str,
        inline: &Option<String>,
    ) -> Option<Self> {
        // A file wins over inline text, as upstream.
        if let Some(p) = set(file) {
            Some(Pem::File {
                field: file_field,
                path: join_dir(dir, p),
            })
        } else {
            set(inline).map(|t| Pem::Inline {
                field: inline_field,
                text: t.to_string(),
            })
        }
    }

    fn describe(&self) -> String {
        match self {
            Pem::File { field, path } => format!("{field} {}", path.display()),
            Pem::Inline { field, .. } => format!("inline {field}"),
        }
    }

    fn read(&self) -> Result<Vec<u8>, String> {
        match self {
            Pem::File { field, path } => std::fs::read(path)
                .map_err(|e| format!("cannot read {field} {}: {e}", path.display())),
            Pem::Inline { text, .. } => Ok(text.clone().into_bytes()),
        }
    }

    fn mtime(&self) -> Option<SystemTime> {
        match self {
            Pem::File { path, .. } => std::fs::metadata(path).and_then(|m| m.modified()).ok(),
            Pem::Inline { .. } => None,
        }
    }

    fn certs(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        let data = self.read()?;
        let certs = rustls_pemfile::certs(&mut data.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: bad PEM: {e}", self.describe()))?;
        if certs.is_empty() {
            return Err(format!("{}: no PEM certificate in it", self.describe()));
        }
        Ok(certs)
    }

    fn private_key(&self) -> Result<PrivateKeyDer<'static>, String> {
        let data = self.read()?;
        rustls_pemfile::private_key(&mut data.as_slice())
            .map_err(|e| format!("{}: bad PEM: {e}", self.describe()))?
            .ok_or_else(|| format!("{}: no PEM private key in it", self.describe()))
    }
}

fn build_tls(t: RawTls, dir: &Path) -> Result<Option<rustls::ServerConfig>, String> {
    // upstream's TLSConfig.IsEnabled: any of these turns TLS on.
    let enabled = [
        &t.cert_file,
        &t.cert,
        &t.key_file,
        &t.key,
        &t.client_ca_file,
        &t.client_ca,
        &t.client_auth_type,
    ]
    .iter()
    .any(|f| set(f).is_some());
    if !enabled {
        return Ok(None);
    }
    let tls_err = |m: String| format!("tls_server_config: {m}");
    let cert = Pem::pick(dir, "cert_file", &t.cert_file, "cert", &t.cert)
        .ok_or_else(|| tls_err("missing one of cert or cert_file".into()))?;
    let key = Pem::pick(dir, "key_file", &t.key_file, "key", &t.key)
        .ok_or_else(|| tls_err("missing one of key or key_file".into()))?;

    // Versions. rustls speaks 1.2 and 1.3 only.
    let min = parse_tls_version("min_version", set(&t.min_version), 12)?;
    let max = parse_tls_version("max_version", set(&t.max_version), 13)?;
    if max < 12 {
        return Err(tls_err(format!(
            "max_version TLS{max} is not supported: the oldest version this exporter speaks is TLS 1.2"
        )));
    }
    if min > max {
        return Err(tls_err(format!(
            "min_version TLS{min} is above max_version TLS{max}"
        )));
    }
    if min < 12 {
        tracing::warn!(
            min_version = %format!("TLS{min}"),
            "TLS 1.0 and 1.1 are not supported; the minimum is TLS 1.2"
        );
    }
    let want_12 = min <= 12;
    let want_13 = max >= 13;

    // Cipher suites (TLS 1.2 only in Go; 1.3 suites are not configurable).
    let base = rustls::crypto::ring::default_provider();
    let mut suites: Vec<SupportedCipherSuite> = base
        .cipher_suites
        .iter()
        .copied()
        .filter(|s| s.tls13().is_some())
        .collect();
    match &t.cipher_suites {
        Some(names) if !names.is_empty() => {
            for name in names {
                match go_cipher_suite(name) {
                    Some(Suite::Rustls(s)) => {
                        if !suites.contains(&s) {
                            suites.push(s);
                        }
                    }
                    Some(Suite::Tls13) => {}
                    Some(Suite::Unsupported) => tracing::warn!(
                        cipher = %name,
                        "cipher suite not supported (only ECDHE with AES-GCM or ChaCha20-Poly1305 is), ignored"
                    ),
                    None => {
                        return Err(tls_err(format!("unknown cipher {name:?} in cipher_suites")))
                    }
                }
            }
        }
        _ => suites.extend(
            base.cipher_suites
                .iter()
                .copied()
                .filter(|s| s.tls13().is_none()),
        ),
    }
    let has_12_suites = suites.iter().any(|s| s.tls13().is_none());
    let mut versions: Vec<&'static SupportedProtocolVersion> = Vec::new();
    if want_13 {
        versions.push(&rustls::version::TLS13);
    }
    if want_12 && has_12_suites {
        versions.push(&rustls::version::TLS12);
    }
    if versions.is_empty() {
        return Err(tls_err(
            "none of the cipher_suites is supported for TLS 1.2, the only version allowed by max_version (supported: TLS_ECDHE_{ECDSA,RSA}_WITH_{AES_128_GCM_SHA256,AES_256_GCM_SHA384,CHACHA20_POLY1305_SHA256})".into(),
        ));
    }

    // Curves.
    let mut kx_groups = base.kx_groups.clone();
    if let Some(names) = t.curve_preferences.as_ref().filter(|n| !n.is_empty()) {
        let mut groups: Vec<&'static dyn SupportedKxGroup> = Vec::new();
        for name in names {
            match go_curve(name)? {
                Some(g) => {
                    if !groups.iter().any(|x| x.name() == g.name()) {
                        groups.push(g);
                    }
                }
                None => tracing::warn!(curve = %name, "curve not supported, ignored"),
            }
        }
        if groups.is_empty() {
            return Err(tls_err(
                "none of the curve_preferences is supported (supported: X25519, CurveP256, CurveP384)"
                    .into(),
            ));
        }
        kx_groups = groups;
    }

    let provider = Arc::new(CryptoProvider {
        cipher_suites: suites,
        kx_groups,
        ..base
    });

    // Client certificates.
    let client_auth = ClientAuth::parse(set(&t.client_auth_type))?;
    let client_ca = Pem::pick(
        dir,
        "client_ca_file",
        &t.client_ca_file,
        "client_ca",
        &t.client_ca,
    );
    if client_ca.is_some() && client_auth == ClientAuth::NoClientCert {
        return Err(tls_err(
            "client CA's have been configured without a Client Auth Policy (set client_auth_type)"
                .into(),
        ));
    }
    let roots = match &client_ca {
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(pem.certs().map_err(tls_err)?);
            if added == 0 {
                return Err(tls_err(format!(
                    "{}: no usable CA certificate in it",
                    pem.describe()
                )));
            }
            Some(Arc::new(roots))
        }
        None => None,
    };
    let allowed_sans = t.client_allowed_sans.clone();
    if allowed_sans.is_some()
        && !matches!(
            client_auth,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        )
    {
        return Err(tls_err(
            "client_allowed_sans requires client_auth_type to be one of RequireAnyClientCert or RequireAndVerifyClientCert".into(),
        ));
    }
    let verifier: Option<Arc<dyn ClientCertVerifier>> = match client_auth {
        ClientAuth::NoClientCert => None,
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
            Some(Arc::new(AnyClientCert {
                mandatory: client_auth == ClientAuth::RequireAnyClientCert,
                hints: roots.as_ref().map(|r| r.subjects()).unwrap_or_default(),
                provider: provider.clone(),
            }))
        }
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            // Go would fall back to the system roots; a client CA is what people mean here, so
            // ask for it rather than trust every public CA's client certificates.
            let roots = roots.ok_or_else(|| {
                tls_err(format!(
                    "client_auth_type {} needs client_ca_file or client_ca",
                    set(&t.client_auth_type).unwrap_or_default()
                ))
            })?;
            let builder = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let builder = if client_auth == ClientAuth::VerifyClientCertIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            Some(
                builder
                    .build()
                    .map_err(|e| tls_err(format!("client certificate verifier: {e}")))?,
            )
        }
    };
    let verifier = match (verifier, allowed_sans) {
        (Some(inner), Some(sans)) => Some(Arc::new(SanCheck {
            inner,
            allowed: sans,
        }) as Arc<dyn ClientCertVerifier>),
        (v, _) => v,
    };

    // The server certificate: loaded now so a missing file or a key that does not match is a
    // startup error, and re-read later when the files change.
    let resolver = ReloadingCert::new(cert, key, provider.clone())?;

    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| tls_err(e.to_string()))?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    // Go ignores prefer_server_cipher_suites since 1.17 (its own order always wins); rustls
    // defaults to the client's order, so map it onto that switch.
    config.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    Ok(Some(config))
}

/// The server's certificate and key, re-read when either file's modification time changes (a
/// rotation by cert-manager or certbot). A change that does not load (a half-written pair) keeps
/// the previous certificate and is retried on the next handshake.
#[derive(Debug)]
struct ReloadingCert {
    cert: Pem,
    key: Pem,
    provider: Arc<CryptoProvider>,
    current: Mutex<(Arc<CertifiedKey>, [Option<SystemTime>; 2])>,
}

impl ReloadingCert {
    fn new(cert: Pem, key: Pem, provider: Arc<CryptoProvider>) -> Result<Self, String> {
        let stamp = [cert.mtime(), key.mtime()];
        let loaded =
            Self::load(&cert, &key, &provider).map_err(|e| format!("tls_server_config: {e}"))?;
        Ok(Self {
            cert,
            key,
            provider,
            current: Mutex::new((Arc::new(loaded), stamp)),
        })
    }

    fn load(cert: &Pem, key: &Pem, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
        let certs = cert.certs()?;
        let der = key.private_key()?;
        CertifiedKey::from_der(certs, der, provider).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => format!(
                "{} does not match the certificate in {}",
                key.describe(),
                cert.describe()
            ),
            other => format!("{}: {other}", key.describe()),
        })
    }

    /// The pair to present now, re-read first if a file changed.
    fn current(&self) -> Option<Arc<CertifiedKey>> {
        let mut cur = self.current.lock().ok()?;
        let stamp = [self.cert.mtime(), self.key.mtime()];
        if stamp != cur.1 {
            match Self::load(&self.cert, &self.key, &self.provider) {
                Ok(k) => {
                    tracing::info!(cert = %self.cert.describe(), "reloaded the TLS certificate");
                    *cur = (Arc::new(k), stamp);
                }
                Err(e) => {
                    tracing::warn!(err = %e, "cannot reload the TLS certificate, keeping the previous one")
                }
            }
        }
        Some(cur.0.clone())
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

/// RequestClientCert and RequireAnyClientCert: ask for a certificate, check only that the client
/// holds its key (the handshake signature), not who issued it.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `client_allowed_sans`: after the inner verifier, the client certificate must carry one of
/// these as a DNS name, e-mail address, IP address or URI, compared exactly (as upstream).
#[derive(Debug)]
struct SanCheck {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for SanCheck {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ok = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let sans = subject_alt_names(end_entity.as_ref()).ok_or_else(|| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        if sans.iter().any(|s| self.allowed.contains(s)) {
            Ok(ok)
        } else {
            tracing::debug!(found = ?sans, "client certificate has none of client_allowed_sans");
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// One DER element: tag, contents, and what follows it.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The DNS names, e-mail addresses, IP addresses and URIs of a certificate's subjectAltName
/// extension, written as Go writes them (`net.IP.String`). `None` if the DER is malformed.
fn subject_alt_names(cert: &[u8]) -> Option<Vec<String>> {
    const SEQUENCE: u8 = 0x30;
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { ... [3] extensions }, ... }
    let (SEQUENCE, cert, _) = der_tlv(cert)? else {
        return None;
    };
    let (SEQUENCE, mut tbs, _) = der_tlv(cert)? else {
        return None;
    };
    while !tbs.is_empty() {
        let (tag, body, next) = der_tlv(tbs)?;
        tbs = next;
        if tag != 0xa3 {
            continue;
        }
        let (SEQUENCE, mut exts, _) = der_tlv(body)? else {
            return None;
        };
        while !exts.is_empty() {
            let (SEQUENCE, ext, next) = der_tlv(exts)? else {
                return None;
            };
            exts = next;
            // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, OCTET STRING }
            let (0x06, oid, rest) = der_tlv(ext)? else {
                return None;
            };
            if oid != [0x55, 0x1d, 0x11] {
                continue;
            }
            let (mut tag, mut value, rest) = der_tlv(rest)?;
            if tag == 0x01 {
                (tag, value, _) = der_tlv(rest)?;
            }
            if tag != 0x04 {
                return None;
            }
            let (SEQUENCE, mut names, _) = der_tlv(value)? else {
                return None;
            };
            let mut out = Vec::new();
            while !names.is_empty() {
                let (tag, v, next) = der_tlv(names)?;
                names = next;
                match tag {
                    // rfc822Name, dNSName, uniformResourceIdentifier
                    0x81 | 0x82 | 0x86 => out.push(String::from_utf8_lossy(v).into_owned()),
                    // iPAddress
                    0x87 => {
                        let ip = match v.len() {
                            4 => IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
                            16 => {
                                let mut b = [0u8; 16];
                                b.copy_from_slice(v);
                                let v6 = Ipv6Addr::from(b);
                                // Go prints IPv4-mapped addresses in dotted form.
                                v6.to_ipv4_mapped()
                                    .map(IpAddr::V4)
                                    .unwrap_or(IpAddr::V6(v6))
                            }
                            _ => continue,
                        };
                        out.push(ip.to_string());
                    }
                    _ => {}
                }
            }
            return Some(out);
        }
    }
    Some(Vec::new())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::fs;

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
            &format!(
                "{base}  max_version: TLS12\n  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"
            ),
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
    fn only_successes_are_cached() {
        let c = parse(
            &format!("basic_auth_users:\n  alice: {}\n", hash("secret")),
            Path::new("."),
        )
        .unwrap();
        let auth = c.auth.as_ref().unwrap();
        assert!(!c.authorize(&basic("alice", "nope")));
        assert_eq!(auth.cache.lock().unwrap().len(), 0);
        assert!(c.authorize(&basic("alice", "secret")));
        assert_eq!(auth.cache.lock().unwrap().len(), 1);
        assert!(c.authorize(&basic("alice", "secret")));
        assert_eq!(auth.cache.lock().unwrap().len(), 1);
        // Keys differ by user, password and their boundary.
        assert_ne!(auth.cache_key(b"ab", b"c"), auth.cache_key(b"a", b"bc"));
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
        let mut params =
            rcgen::CertificateParams::new(vec!["scraper.example".to_string()]).unwrap();
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
            rustls_pemfile::certs(&mut new_cert.as_bytes())
                .next()
                .unwrap()
                .unwrap()
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
}
