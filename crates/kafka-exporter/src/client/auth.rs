//! Getting onto a broker: TLS (rustls) and SASL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER, and
//! GSSAPI through [`super::gssapi`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::connection::Connection;
use super::gssapi::{self, Gssapi};
use super::token::Tokens;
use super::ClientError;
use crate::cli::{Mechanism, Sasl, TlsConfig};

/// Builds the TLS client settings from the flags: the CA file's roots (or the system's, as Go's
/// crypto/tls does without one), an optional client certificate for mTLS, and no verification at
/// all with `--tls.insecure-skip-tls-verify`.
pub fn tls_config(tls: &TlsConfig) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut roots = RootCertStore::empty();
        match &tls.ca_file {
            Some(f) => {
                let certs = CertificateDer::pem_file_iter(f)
                    .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("--tls.ca-file {f:?}: {e}"))?;
                if certs.is_empty() {
                    return Err(format!("--tls.ca-file {f:?}: no certificate in it"));
                }
                for c in certs {
                    roots
                        .add(c)
                        .map_err(|e| format!("--tls.ca-file {f:?}: {e}"))?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
        builder.with_root_certificates(roots)
    };
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("--tls.cert-file {cert:?}: {e}"))?;
            if chain.is_empty() {
                return Err(format!("--tls.cert-file {cert:?}: no certificate in it"));
            }
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("--tls.key-file {key:?}: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("--tls.cert-file/--tls.key-file: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The name the broker's certificate is checked against: `--tls.server-name` when given (as Go's
/// tls.Config.ServerName), else the host of the address we dial.
pub fn server_name(tls: &TlsConfig, host: &str) -> Result<ServerName<'static>, ClientError> {
    let name = tls.server_name.as_deref().unwrap_or(host);
    ServerName::try_from(name.to_string()).map_err(|e| ClientError::Tls {
        broker: host.to_string(),
        cause: format!("server name {name:?}: {e}"),
    })
}

/// `--tls.insecure-skip-tls-verify`: accepts any certificate, as Go's InsecureSkipVerify.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Authenticates `conn` (SaslHandshake v1, then SaslAuthenticate rounds) and returns the
/// session lifetime the broker granted (zero: unlimited). The broker's own message is kept in
/// the error; the password and the token never are.
pub async fn authenticate(
    conn: &Connection,
    sasl: &Sasl,
    tokens: Option<&Tokens>,
    kerberos: Option<&Gssapi>,
    deadline: Duration,
) -> Result<Duration, ClientError> {
    let name = sasl.mechanism.kafka_name();
    let (hs, _) = conn
        .call(
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(name)),
            1,
            deadline,
        )
        .await?;
    if hs.error_code != 0 {
        let offered: Vec<&str> = hs.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(auth_error(
            conn,
            format!("the broker does not enable {name} (it offers {offered:?})"),
        ));
    }
    match sasl.mechanism {
        Mechanism::Plain | Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
            scram_or_plain(conn, sasl, name, deadline).await
        }
        Mechanism::OAuthBearer | Mechanism::AwsIam => {
            let tokens = tokens.ok_or_else(|| auth_error(conn, "no token source".into()))?;
            let token = tokens
                .get()
                .await
                .map_err(|e| auth_error(conn, format!("getting a token: {e}")))?;
            // RFC 7628's client initial response: no authzid, the token, no extensions.
            let msg = format!("n,,\x01auth=Bearer {}\x01\x01", token.value.expose());
            match round(conn, Bytes::from(msg), deadline).await {
                Ok((challenge, lifetime)) if challenge.is_empty() => Ok(lifetime),
                // RFC 7628 3.2.2: a refused token is answered with an error challenge
                // ({"status":"invalid_token"}, no Kafka error code), which the client answers
                // with a lone 0x01 to get the failure itself.
                Ok((challenge, _)) => {
                    tokens.forget().await;
                    let status = String::from_utf8_lossy(&challenge).into_owned();
                    Err(
                        match round(conn, Bytes::from_static(b"\x01"), deadline).await {
                            // Kafka's message is the challenge itself; another's may say less.
                            Err(ClientError::Auth { broker, cause })
                                if !cause.contains(&status) =>
                            {
                                ClientError::Auth {
                                    broker,
                                    cause: format!("{cause} {status}"),
                                }
                            }
                            Err(e) => e,
                            Ok(_) => auth_error(conn, format!("the token was refused: {status}")),
                        },
                    )
                }
                Err(e) => {
                    // A refused token is not offered again.
                    if matches!(e, ClientError::Auth { .. }) {
                        tokens.forget().await;
                    }
                    Err(e)
                }
            }
        }
        Mechanism::Gssapi => {
            let gss = kerberos.ok_or_else(|| auth_error(conn, "GSSAPI is not set up".into()))?;
            let host = gssapi::broker_host(conn.broker());
            let exchange = gss.authenticate(host, |bytes| round(conn, bytes, deadline));
            match tokio::time::timeout(gssapi::deadline(deadline), exchange).await {
                Ok(Ok(lifetime)) => Ok(lifetime),
                Ok(Err(gssapi::Failure::Broker(e))) => Err(e),
                Ok(Err(gssapi::Failure::Gss(cause))) => {
                    Err(auth_error(conn, format!("GSSAPI: {cause}")))
                }
                Err(_) => Err(auth_error(
                    conn,
                    format!(
                        "GSSAPI: no answer within {:?} (the KDC or the broker)",
                        gssapi::deadline(deadline)
                    ),
                )),
            }
        }
    }
}

async fn scram_or_plain(
    conn: &Connection,
    sasl: &Sasl,
    name: &'static str,
    deadline: Duration,
) -> Result<Duration, ClientError> {
    use rsasl::prelude::{Mechname, SASLClient, SASLConfig};
    let config = SASLConfig::with_credentials(
        None,
        sasl.username.clone(),
        sasl.password.expose().to_string(),
    )
    .map_err(|e| auth_error(conn, format!("SASL setup: {e}")))?;
    let mech = Mechname::parse(name.as_bytes())
        .map_err(|e| auth_error(conn, format!("SASL setup: {e}")))?;
    let mut session = SASLClient::new(config)
        .start_suggested(&[mech])
        .map_err(|e| auth_error(conn, format!("SASL setup: {e}")))?;
    let mut input: Option<Bytes> = None;
    let mut lifetime = Duration::ZERO;
    loop {
        let mut out = Vec::new();
        let state = session
            .step(input.as_deref(), &mut out)
            .map_err(|e| auth_error(conn, format!("{name}: {e}")))?;
        if state.has_sent_message() {
            let (bytes, life) = round(conn, Bytes::from(out), deadline).await?;
            input = Some(bytes);
            lifetime = life;
        }
        if state.is_finished() {
            return Ok(lifetime);
        }
    }
}

/// One SaslAuthenticate exchange: our bytes out, the broker's back, with the session lifetime
/// it granted (v1+; zero when unlimited or not said).
async fn round(
    conn: &Connection,
    bytes: Bytes,
    deadline: Duration,
) -> Result<(Bytes, Duration), ClientError> {
    let (resp, version) = conn
        .call(
            &SaslAuthenticateRequest::default().with_auth_bytes(bytes),
            2,
            deadline,
        )
        .await?;
    if resp.error_code != 0 {
        let msg = resp
            .error_message
            .as_ref()
            .map_or("authentication failed", |m| m.as_str());
        return Err(auth_error(conn, msg.to_string()));
    }
    let lifetime = if version >= 1 {
        Duration::from_millis(u64::try_from(resp.session_lifetime_ms).unwrap_or(0))
    } else {
        Duration::ZERO
    };
    Ok((resp.auth_bytes, lifetime))
}

fn auth_error(conn: &Connection, cause: String) -> ClientError {
    ClientError::Auth {
        broker: conn.broker().to_string(),
        cause,
    }
}
