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
//!
//! The pieces: `schema` (the file as written), `headers` (`http_server_config.headers`),
//! `auth` (`basic_auth_users`: bcrypt and the cache of verified pairs), `rate_limit`, and
//! `tls` (building the rustls config, reloading the certificate, the client verifiers).

mod auth;
mod headers;
mod rate_limit;
mod schema;
#[cfg(test)]
mod tests;
mod tls;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use tokio_rustls::TlsAcceptor;

use crate::cli::UsageError;
pub(crate) use auth::basic_credentials;
use schema::RawConfig;

/// A loaded, validated web configuration.
#[derive(Default)]
pub struct WebConfig {
    tls: Option<Arc<rustls::ServerConfig>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    auth: Option<Arc<auth::BasicAuth>>,
    rate_limit: Option<rate_limit::RateLimiter>,
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
        let headers = headers::build_headers(raw.http_server_config.as_ref())?;
        let auth = auth::BasicAuth::new(raw.basic_auth_users.unwrap_or_default())?.map(Arc::new);
        let rate_limit = raw
            .rate_limit
            .map(rate_limit::RateLimiter::from_raw)
            .transpose()?
            .flatten();
        let tls = match raw.tls_server_config {
            Some(t) => tls::build_tls(t, dir)?.map(Arc::new),
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

    /// Whether a request with these headers may pass (always, when no users are configured),
    /// running bcrypt on the calling thread: for tests; servers use
    /// [`WebConfig::authorize_async`], which keeps bcrypt on its one thread.
    #[cfg(test)]
    pub fn authorize(&self, headers: &HeaderMap) -> bool {
        let Some(auth) = &self.auth else {
            return true;
        };
        let Some((user, pass)) = auth::basic_credentials(headers) else {
            return false;
        };
        let key = auth.cache_key(&user, &pass);
        match auth.cached(&key) {
            Some(ok) => ok,
            None => auth.verify(&user, &pass, key),
        }
    }

    /// [`WebConfig::authorize`], with bcrypt (tens of milliseconds at cost 10) on a thread of
    /// its own behind a short queue, so a stream of bad passwords can stall neither the event
    /// loop nor the blocking pool the collectors use. A full queue refuses an uncached pair.
    pub async fn authorize_async(&self, headers: &HeaderMap) -> bool {
        let Some(auth) = &self.auth else {
            return true;
        };
        let Some((user, pass)) = auth::basic_credentials(headers) else {
            return false;
        };
        let key = auth.cache_key(&user, &pass);
        if let Some(ok) = auth.cached(&key) {
            return ok;
        }
        match auth.verify_queued(user, pass, key) {
            Some(answer) => answer.await.unwrap_or(false),
            None => {
                tracing::debug!("bcrypt queue full, refusing uncached basic auth credentials");
                false
            }
        }
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
