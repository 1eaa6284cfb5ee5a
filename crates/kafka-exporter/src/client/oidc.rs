//! OAUTHBEARER tokens from an OAuth 2.0 / OIDC token endpoint (`--sasl.oauthbearer-token-url`),
//! by the client-credentials grant, as kafka_exporter does with golang.org/x/oauth2's
//! clientcredentials: client id `--sasl.username`, secret `--sasl.password`, scopes
//! `--sasl.oauthbearer-scopes`.
//!
//! Why the `oauth2` crate over a hand-written POST: it is the well-kept Rust implementation of
//! RFC 6749 (the form body, client authentication by Basic header or in the body with the
//! encoding 2.3.1 wants, error responses parsed into `error`/`error_description`), and without its
//! default features it brings no HTTP stack. The HTTP client under it is ours: hyper 1 (already
//! the workspace's server) with hyper-rustls on ring, so no reqwest and no second TLS library.
//! The endpoint is trusted through the system's CA roots (`SSL_CERT_FILE` works), as Go's default
//! client does; `--tls.ca-file` is for the brokers only, as upstream.
//!
//! Client authentication is detected as Go's oauth2 does (AuthStyleAutoDetect): the Basic header
//! first, then the credentials in the body if the endpoint refuses that, remembering what worked.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};

use super::token::{Token, TokenFuture, TokenSource};
use crate::cli::Secret;

/// Time allowed for one token request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest token response read (a JWT with many claims is a few KiB).
const MAX_BODY: usize = 1 << 20;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Client authentication: not yet known, the Basic header, or in the form body.
const STYLE_UNKNOWN: u8 = 0;
const STYLE_HEADER: u8 = 1;
const STYLE_BODY: u8 = 2;

/// Client-credentials tokens from one endpoint.
pub struct ClientCredentials {
    token_url: TokenUrl,
    client_id: String,
    client_secret: Secret,
    scopes: Vec<String>,
    http: HttpClient,
    style: AtomicU8,
}

impl ClientCredentials {
    /// Checks the URL; connects nothing yet.
    pub fn new(
        token_url: &str,
        client_id: String,
        client_secret: Secret,
        scopes: Vec<String>,
    ) -> Result<Self, String> {
        let token_url = TokenUrl::new(token_url.to_string())
            .map_err(|e| format!("--sasl.oauthbearer-token-url {token_url:?}: {e}"))?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            token_url,
            client_id,
            client_secret,
            scopes,
            http: Client::builder(TokioExecutor::new()).build(https),
            style: AtomicU8::new(STYLE_UNKNOWN),
        })
    }

    async fn request(&self, style: AuthType) -> Result<Token, Attempt> {
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(self.token_url.clone())
            .set_auth_type(style);
        // No secret, no client_secret parameter (a public client), as Go's oauth2 does.
        if !self.client_secret.expose().is_empty() {
            client = client
                .set_client_secret(ClientSecret::new(self.client_secret.expose().to_string()));
        }
        // Each request owns a handle on the client (a cheap clone): a future borrowing it
        // would not be Send for every lifetime oauth2's bound asks of it.
        let http = |req: oauth2::HttpRequest| {
            let client = self.http.clone();
            async move { send(&client, req).await }
        };
        let response = client
            .exchange_client_credentials()
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .request_async(&http)
            .await
            .map_err(|e| match e {
                // The endpoint said no: worth another try with the other client authentication.
                RequestTokenError::ServerResponse(r) => Attempt::Refused(format!(
                    "{}{}",
                    r.error(),
                    r.error_description()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                )),
                RequestTokenError::Request(e) => Attempt::Failed(e.to_string()),
                RequestTokenError::Parse(e, _) => {
                    Attempt::Failed(format!("cannot parse the token response: {e}"))
                }
                RequestTokenError::Other(e) => Attempt::Refused(e),
            })?;
        let value = response.access_token().secret().clone();
        if value.is_empty() {
            return Err(Attempt::Failed(
                "the token response has no access_token".into(),
            ));
        }
        // Without expires_in, a JWT's own exp (read, not verified: the broker verifies it);
        // else no expiry, kept until the broker refuses it.
        let expires = match response.expires_in() {
            Some(d) => Some(SystemTime::now() + d),
            None => jwt_expiry(&value),
        };
        Ok(Token {
            value: Secret::new(value),
            expires,
        })
    }

    async fn token(&self) -> Result<Token, String> {
        let first = match self.style.load(Ordering::Relaxed) {
            STYLE_BODY => AuthType::RequestBody,
            _ => AuthType::BasicAuth,
        };
        let detecting = self.style.load(Ordering::Relaxed) == STYLE_UNKNOWN;
        let result = match self.request(first).await {
            Err(Attempt::Refused(why)) if detecting => {
                match self.request(AuthType::RequestBody).await {
                    Ok(t) => {
                        self.style.store(STYLE_BODY, Ordering::Relaxed);
                        return Ok(t);
                    }
                    // The first answer says more (the body style is the fallback).
                    Err(_) => Err(Attempt::Refused(why)),
                }
            }
            r => r,
        };
        match result {
            Ok(t) => {
                if detecting {
                    self.style.store(STYLE_HEADER, Ordering::Relaxed);
                }
                Ok(t)
            }
            Err(Attempt::Refused(why)) => Err(format!("the token endpoint refused: {why}")),
            Err(Attempt::Failed(why)) => Err(format!("token endpoint: {why}")),
        }
    }
}

impl TokenSource for ClientCredentials {
    fn fetch(&self) -> TokenFuture<'_> {
        Box::pin(async move {
            tokio::time::timeout(REQUEST_TIMEOUT, self.token())
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "token endpoint: no answer within {REQUEST_TIMEOUT:?}"
                    ))
                })
        })
    }
}

enum Attempt {
    /// The endpoint answered with an error.
    Refused(String),
    /// No usable answer (connection, TLS, a body that is not a token response).
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpError(String);

/// One request over our client, the body read up to [`MAX_BODY`].
async fn send(
    client: &HttpClient,
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpError> {
    let (parts, body) = req.into_parts();
    let req = hyper::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let resp = client
        .request(req)
        .await
        .map_err(|e| HttpError(error_chain(&e)))?;
    let (parts, body) = resp.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| HttpError(format!("reading the response: {e}")))?
        .to_bytes();
    Ok(hyper::Response::from_parts(parts, body.to_vec()))
}

/// hyper-util's error says only "client error (Connect)"; the cause is in its sources.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The `exp` claim of a JWT, if `token` is one.
fn jwt_expiry(token: &str) -> Option<SystemTime> {
    let payload = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    Some(UNIX_EPOCH + Duration::from_secs(exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn jwt_exp_is_read() {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!(
            "{}.{}.sig",
            enc("{\"alg\":\"RS256\"}"),
            enc("{\"exp\":1900000000}")
        );
        assert_eq!(
            jwt_expiry(&jwt),
            Some(UNIX_EPOCH + Duration::from_secs(1_900_000_000))
        );
        assert_eq!(jwt_expiry("opaque-token"), None);
        assert_eq!(jwt_expiry("a.b.c"), None);
    }

    /// A token endpoint on 127.0.0.1 that answers each request with the next of `answers`
    /// (status, JSON body) and hands back what it was sent.
    async fn endpoint(
        answers: Vec<(u16, &'static str)>,
    ) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for (status, body) in answers {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                // Headers, then the body by its Content-Length.
                loop {
                    let mut chunk = [0u8; 4096];
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len || n == 0 {
                            break;
                        }
                    }
                }
                seen.push(String::from_utf8_lossy(&buf).to_string());
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                sock.write_all(resp.as_bytes()).await.unwrap();
            }
            seen
        });
        (url, task)
    }

    #[tokio::test]
    async fn client_credentials_with_basic_auth() {
        let (url, server) = endpoint(vec![(
            200,
            r#"{"access_token":"tok-1","token_type":"Bearer","expires_in":15}"#,
        )])
        .await;
        let src = ClientCredentials::new(
            &url,
            "exporter".into(),
            Secret::new("s3cret".into()),
            vec!["kafka".into(), "read".into()],
        )
        .unwrap();
        let t = src.fetch().await.unwrap();
        assert_eq!(t.value.expose(), "tok-1");
        let left = t
            .expires
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(left <= Duration::from_secs(15) && left > Duration::from_secs(10));
        let seen = server.await.unwrap();
        let req = &seen[0];
        assert!(req.starts_with("POST /token HTTP/1.1"), "{req}");
        // Basic base64("exporter:s3cret")
        assert!(req.contains("ZXhwb3J0ZXI6czNjcmV0"), "{req}");
        assert!(req.contains("grant_type=client_credentials"), "{req}");
        assert!(req.contains("scope=kafka+read"), "{req}");
    }

    #[tokio::test]
    async fn falls_back_to_credentials_in_the_body_and_remembers() {
        let (url, server) = endpoint(vec![
            (401, r#"{"error":"invalid_client"}"#),
            (200, r#"{"access_token":"tok-2","token_type":"bearer"}"#),
            (200, r#"{"access_token":"tok-3","token_type":"bearer"}"#),
        ])
        .await;
        let src = ClientCredentials::new(
            &url,
            "exporter".into(),
            Secret::new("s3cret".into()),
            vec![],
        )
        .unwrap();
        let t = src.fetch().await.unwrap();
        assert_eq!(t.value.expose(), "tok-2");
        assert!(t.expires.is_none());
        assert_eq!(src.fetch().await.unwrap().value.expose(), "tok-3");
        let seen = server.await.unwrap();
        assert!(
            seen[0].contains("authorization: Basic") || seen[0].contains("Authorization: Basic")
        );
        for later in &seen[1..] {
            assert!(
                later.contains("client_id=exporter&client_secret=s3cret"),
                "{later}"
            );
            assert!(
                !later.to_ascii_lowercase().contains("authorization:"),
                "{later}"
            );
        }
    }

    #[tokio::test]
    async fn a_refusal_names_the_error_and_not_the_secret() {
        let (url, server) = endpoint(vec![
            (
                400,
                r#"{"error":"invalid_scope","error_description":"no such scope"}"#,
            ),
            (
                400,
                r#"{"error":"invalid_scope","error_description":"no such scope"}"#,
            ),
        ])
        .await;
        let src = ClientCredentials::new(
            &url,
            "exporter".into(),
            Secret::new("s3cret".into()),
            vec![],
        )
        .unwrap();
        let e = src.fetch().await.unwrap_err();
        assert_eq!(
            e,
            "the token endpoint refused: invalid_scope: no such scope"
        );
        server.await.unwrap();

        // Nothing listening: the cause is named.
        let src = ClientCredentials::new(
            "http://127.0.0.1:1/token",
            "exporter".into(),
            Secret::new("s3cret".into()),
            vec![],
        )
        .unwrap();
        let e = src.fetch().await.unwrap_err();
        assert!(e.starts_with("token endpoint: "), "{e}");
        assert!(e.to_lowercase().contains("refused"), "{e}");
        assert!(!e.contains("s3cret"));
    }
}
