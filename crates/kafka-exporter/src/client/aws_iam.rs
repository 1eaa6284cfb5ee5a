//! AWS MSK IAM (`--sasl.mechanism=awsiam`): OAUTHBEARER carrying a token that proves who we
//! are to MSK, made exactly as AWS's aws-msk-iam-sasl-signer libraries make it (the Go one is
//! what kafka_exporter 1.9 uses; the Python one, 1.0.2, is the reference our test compares
//! against byte for byte):
//!
//! 1. a SigV4 *query-presigned* `GET https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect`
//!    for the service `kafka-cluster`, valid 900 s (`X-Amz-Expires`), signing only the `host`
//!    header and the SHA-256 of an empty body, with `X-Amz-Security-Token` when the credentials
//!    have a session token (it is part of what is signed);
//! 2. `&User-Agent=<who signed>` appended (not signed: MSK logs it);
//! 3. the URL in base64url without padding.
//!
//! The token expires 900 s after its `X-Amz-Date`. Credentials come from the official AWS SDK's
//! default chain (environment, shared profile files, web identity / IRSA, ECS task role, EC2
//! instance metadata), loaded once on first use; the chain caches nothing itself, so each token
//! asks it again (once every 12 minutes: see `token::Tokens`), which is what picks up rotated
//! role credentials.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use base64::Engine;

use super::token::{Token, TokenFuture, TokenSource};
use crate::cli::Secret;

/// How long a token is valid (the signers' `DEFAULT_TOKEN_EXPIRY_SECONDS`).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);
/// The SigV4 service name of MSK's IAM authentication.
const SIGNING_NAME: &str = "kafka-cluster";

/// What MSK's broker logs as the client that made the token.
pub fn user_agent() -> String {
    format!("kafka-exporter/{}", env!("CARGO_PKG_VERSION"))
}

/// Why no token could be made. Never carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("AWS credentials: {0}")]
    Credentials(String),
    #[error("signing the MSK IAM token: {0}")]
    Sign(String),
}

/// The token for `credentials` in `region` at `time`, and when it expires.
pub fn presign(
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
    user_agent: &str,
) -> Result<(String, SystemTime), SignError> {
    use aws_sigv4::http_request::{
        sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    };
    use aws_sigv4::sign::v4;

    // As botocore's SigV4QueryAuth does; the secret key must be there to sign anything.
    if credentials.access_key_id().is_empty() || credentials.secret_access_key().is_empty() {
        return Err(SignError::Credentials(
            "the access key or the secret key is empty".into(),
        ));
    }
    let base = format!("https://kafka.{region}.amazonaws.com/?Action=kafka-cluster%3AConnect");
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_NAME)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| SignError::Sign(e.to_string()))?
        .into();
    let request = SignableRequest::new("GET", &base, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| SignError::Sign(e.to_string()))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| SignError::Sign(e.to_string()))?
        .into_parts();
    // The signing parameters in botocore's order: Algorithm, Credential, Date, Expires,
    // SignedHeaders, Security-Token, and the Signature last. aws-sigv4 gives the same ones but
    // adds the session token after the signature; the server does not mind, but the reference
    // signers' bytes are the goal.
    let params = instructions.params();
    let (signature, rest): (Vec<_>, Vec<_>) = params
        .iter()
        .partition(|(name, _)| *name == "X-Amz-Signature");
    let mut url = base;
    for (name, value) in rest.into_iter().chain(signature) {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.push_str(&percent_encode(value));
    }
    url.push_str("&User-Agent=");
    url.push_str(&percent_encode(user_agent));
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url.as_bytes());
    // X-Amz-Date has whole seconds: the expiry counts from there, as the signers do.
    let signed_at = time
        .duration_since(UNIX_EPOCH)
        .map_err(|_| SignError::Sign("the clock is before 1970".into()))?
        .as_secs();
    Ok((
        token,
        UNIX_EPOCH + Duration::from_secs(signed_at) + TOKEN_LIFETIME,
    ))
}

/// Percent-encodes all but RFC 3986's unreserved characters, as botocore's `quote(v,
/// safe='-_.~')` and SigV4's canonical query string do (so `/` is `%2F`, a space `%20`).
fn percent_encode(s: &str) -> Cow<'_, str> {
    let keep = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    if s.bytes().all(keep) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

/// The standard chain, with its HTTP calls (STS for web identity, the ECS and EC2 credential
/// endpoints) on rustls with ring rather than the SDK's default aws-lc-rs.
async fn default_chain(region: &str) -> SharedCredentialsProvider {
    use aws_config::{BehaviorVersion, Region};
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .http_client(http)
        .load()
        .await;
    // None only when the loader is told to have no credentials at all.
    config
        .credentials_provider()
        .unwrap_or_else(|| SharedCredentialsProvider::new(NoCredentials("no credentials provider")))
}

/// A provider that never has credentials.
#[derive(Debug)]
struct NoCredentials(&'static str);

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(
            aws_credential_types::provider::error::CredentialsError::not_loaded(self.0),
        ))
    }
}

/// MSK IAM tokens for one region.
pub struct MskIam {
    region: String,
    credentials: tokio::sync::OnceCell<SharedCredentialsProvider>,
    /// The time a token is signed at (a test's fixed clock).
    clock: fn() -> SystemTime,
}

impl MskIam {
    /// Credentials from the standard chain, loaded at the first token.
    pub fn new(region: String) -> Self {
        Self {
            region,
            credentials: tokio::sync::OnceCell::new(),
            clock: SystemTime::now,
        }
    }

    /// Credentials from `provider` (tests; a caller with its own).
    pub fn with_credentials(
        region: String,
        provider: impl ProvideCredentials + 'static,
        clock: fn() -> SystemTime,
    ) -> Self {
        Self {
            region,
            credentials: tokio::sync::OnceCell::new_with(Some(SharedCredentialsProvider::new(
                provider,
            ))),
            clock,
        }
    }

    async fn token(&self) -> Result<Token, SignError> {
        let provider = self
            .credentials
            .get_or_init(|| default_chain(&self.region))
            .await;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| SignError::Credentials(error_chain(&e)))?;
        let (token, expires) = presign(&credentials, &self.region, (self.clock)(), &user_agent())?;
        // Role credentials (ECS, IMDS, web identity) can run out before the token does; the
        // token is worthless then, so it is replaced in time for them too.
        let expires = match credentials.expiry() {
            Some(e) if e < expires => e,
            _ => expires,
        };
        Ok(Token {
            value: Secret::new(token),
            expires: Some(expires),
        })
    }
}

impl TokenSource for MskIam {
    fn fetch(&self) -> TokenFuture<'_> {
        Box::pin(async move { self.token().await.map_err(|e| e.to_string()) })
    }
}

/// An error and its sources on one line (the chain's own message alone is "an error occurred
/// while loading credentials", which says nothing about which provider or why).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::token::Tokens;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    fn decode(token: &str) -> String {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    // 2024-01-02T03:04:05Z
    const T: u64 = 1_704_164_645;

    #[test]
    fn the_token_is_the_references_signed_url() {
        // What aws-msk-iam-sasl-signer-python 1.0.2 (botocore 1.44.18) made for these inputs,
        // with botocore.auth.get_current_datetime fixed at T (the part before &User-Agent=);
        // tests/kafka/test_msk_iam.py runs the reference itself for more inputs.
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("IQoJb3JpZ2luX2VjE/session+token==".into()),
            None,
            "test",
        );
        let (token, expires) = presign(
            &creds,
            "eu-west-1",
            UNIX_EPOCH + Duration::from_millis(T * 1000 + 999),
            "kafka-exporter/test",
        )
        .unwrap();
        let url = decode(&token);
        let (signed, ua) = url.split_once("&User-Agent=").unwrap();
        assert_eq!(ua, "kafka-exporter%2Ftest");
        assert_eq!(signed, REFERENCE_EU_WEST_1);
        assert_eq!(expires, UNIX_EPOCH + Duration::from_secs(T + 900));
        assert!(!token.contains('=') && !token.contains('+') && !token.contains('/'));
    }

    const REFERENCE_EU_WEST_1: &str = concat!(
        "https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect",
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "&X-Amz-Credential=AKIDEXAMPLE%2F20240102%2Feu-west-1%2Fkafka-cluster%2Faws4_request",
        "&X-Amz-Date=20240102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host",
        "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjE%2Fsession%2Btoken%3D%3D",
        "&X-Amz-Signature=35978d68de57087190b6809f330a015e7a512673e308899ec5bfcad752a29f2f",
    );

    #[test]
    fn empty_keys_are_refused() {
        let creds = Credentials::new("", "", None, None, "test");
        let e = presign(&creds, "eu-west-1", SystemTime::now(), "x").unwrap_err();
        assert!(e.to_string().starts_with("AWS credentials:"), "{e}");
    }

    #[test]
    fn encoding() {
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(percent_encode("a/b+c= d:é"), "a%2Fb%2Bc%3D%20d%3A%C3%A9");
    }

    /// Credentials that count how often they are asked for, valid for `life` (None: no expiry).
    #[derive(Debug)]
    struct Counting(Arc<AtomicU32>, Option<Duration>);

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(
            &'a self,
        ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            self.0.fetch_add(1, Ordering::SeqCst);
            let expiry = self.1.map(|life| SystemTime::now() + life);
            aws_credential_types::provider::future::ProvideCredentials::ready(Ok(Credentials::new(
                "AKID", "secret", None, expiry, "test",
            )))
        }
    }

    fn tokens(life: Option<Duration>, clock: fn() -> SystemTime) -> (Tokens, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let src = MskIam::with_credentials(
            "us-east-1".into(),
            Counting(Arc::clone(&calls), life),
            clock,
        );
        (Tokens::new(Box::new(src)), calls)
    }

    #[tokio::test]
    async fn tokens_are_renewed_before_they_expire() {
        // A fresh token (15 minutes) is kept.
        let (t, calls) = tokens(None, SystemTime::now);
        let a = t.get().await.unwrap();
        let b = t.get().await.unwrap();
        assert_eq!(a.value, b.value);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(decode(a.value.expose()).starts_with(
            "https://kafka.us-east-1.amazonaws.com/?Action=kafka-cluster%3AConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F"
        ));

        // Signed 895 s ago: 5 s left, within the margin, so the next use makes a new one.
        fn old_clock() -> SystemTime {
            SystemTime::now() - Duration::from_secs(895)
        }
        let (t, calls) = tokens(None, old_clock);
        let first = t.get().await.unwrap();
        let left = first
            .expires
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(left <= Duration::from_secs(5), "{left:?}");
        t.get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // Role credentials that end in 5 s end the token with them.
        let (t, calls) = tokens(Some(Duration::from_secs(5)), SystemTime::now);
        let first = t.get().await.unwrap();
        let left = first
            .expires
            .unwrap()
            .duration_since(SystemTime::now())
            .unwrap();
        assert!(left <= Duration::from_secs(5), "{left:?}");
        t.get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn missing_credentials_are_one_clear_error() {
        let src = MskIam::with_credentials(
            "us-east-1".into(),
            NoCredentials("no providers in chain provided credentials"),
            SystemTime::now,
        );
        let e = src.fetch().await.unwrap_err();
        assert!(e.starts_with("AWS credentials: "), "{e}");
        assert!(
            e.contains("no providers in chain provided credentials"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }
}
