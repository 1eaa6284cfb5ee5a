//! Where a certificate or key comes from (a file, re-read when it changes, or the config
//! itself), read with rustls-pki-types' PEM reader.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::web_config::schema::{join_dir, set};

/// Where a PEM comes from: a file (re-read when it changes) or the config itself.
#[derive(Debug, Clone)]
pub(in crate::web_config) enum Pem {
    File { field: &'static str, path: PathBuf },
    Inline { field: &'static str, text: String },
}

impl Pem {
    pub(super) fn pick(
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

    pub(super) fn describe(&self) -> String {
        match self {
            Pem::File { field, path } => format!("{field} {}", path.display()),
            Pem::Inline { field, .. } => format!("inline {field}"),
        }
    }

    pub(super) fn read(&self) -> Result<Vec<u8>, String> {
        match self {
            Pem::File { field, path } => std::fs::read(path)
                .map_err(|e| format!("cannot read {field} {}: {e}", path.display())),
            Pem::Inline { text, .. } => Ok(text.clone().into_bytes()),
        }
    }

    pub(super) fn mtime(&self) -> Option<SystemTime> {
        match self {
            Pem::File { path, .. } => std::fs::metadata(path).and_then(|m| m.modified()).ok(),
            Pem::Inline { .. } => None,
        }
    }

    pub(super) fn certs(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        let data = self.read()?;
        let certs = CertificateDer::pem_slice_iter(&data)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: bad PEM: {e}", self.describe()))?;
        if certs.is_empty() {
            return Err(format!("{}: no PEM certificate in it", self.describe()));
        }
        Ok(certs)
    }

    pub(super) fn private_key(&self) -> Result<PrivateKeyDer<'static>, String> {
        let data = self.read()?;
        PrivateKeyDer::from_pem_slice(&data).map_err(|e| match e {
            pem::Error::NoItemsFound => format!("{}: no PEM private key in it", self.describe()),
            e => format!("{}: bad PEM: {e}", self.describe()),
        })
    }
}
