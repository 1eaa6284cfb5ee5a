//! `tls_server_config`: the rustls server config built from Go's names for versions, cipher
//! suites, curves and client auth types. The server certificate is re-read when its files change
//! (`reload`); the client verifiers Go has and rustls has not are in `verify`.

pub(in crate::web_config) mod pem;
pub(in crate::web_config) mod reload;
pub(in crate::web_config) mod verify;

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, SupportedCipherSuite, SupportedProtocolVersion};

use super::schema::{set, RawTls};
use pem::Pem;
use reload::ReloadingCert;
use verify::{AnyClientCert, SanCheck};

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

pub(in crate::web_config) fn build_tls(
    t: RawTls,
    dir: &Path,
) -> Result<Option<rustls::ServerConfig>, String> {
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
