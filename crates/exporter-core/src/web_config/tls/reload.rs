//! The server certificate, re-read on a handshake after its files change.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::pem::Pem;

/// The server's certificate and key, re-read when either file's modification time changes (a
/// rotation by cert-manager or certbot). A change that does not load (a half-written pair) keeps
/// the previous certificate and is retried on the next handshake.
#[derive(Debug)]
pub(in crate::web_config) struct ReloadingCert {
    cert: Pem,
    key: Pem,
    provider: Arc<CryptoProvider>,
    current: Mutex<(Arc<CertifiedKey>, [Option<SystemTime>; 2])>,
}

impl ReloadingCert {
    pub(in crate::web_config) fn new(
        cert: Pem,
        key: Pem,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, String> {
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
    pub(in crate::web_config) fn current(&self) -> Option<Arc<CertifiedKey>> {
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
