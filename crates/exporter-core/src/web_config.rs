//! `--web.config.file`: TLS, client certificates, basic auth and extra response headers, in the
//! YAML format of prometheus/exporter-toolkit.
//!
//! STUB: the loader below only accepts an empty file; the full format lands in its own change.

use std::path::Path;
use std::sync::Arc;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use tokio_rustls::TlsAcceptor;

use crate::cli::UsageError;

/// A loaded, validated web configuration.
#[derive(Default)]
pub struct WebConfig {
    tls: Option<Arc<rustls::ServerConfig>>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl WebConfig {
    /// Reads and checks the file: every problem is one line naming the file and what is wrong.
    pub fn load(path: &Path) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError::new(format!("web config file {}: {e}", path.display())))?;
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        Err(UsageError::new(format!(
            "web config file {}: not supported yet",
            path.display()
        )))
    }

    /// The TLS acceptor, when `tls_server_config` is set.
    pub fn tls_acceptor(&self) -> Option<TlsAcceptor> {
        self.tls.clone().map(TlsAcceptor::from)
    }

    /// Whether a request with these headers may pass (always, when no users are configured).
    pub fn authorize(&self, _headers: &HeaderMap) -> bool {
        true
    }

    /// Headers added to every response (`http_server_config.headers`).
    pub fn response_headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }
}
