//! Bearer tokens for SASL/OAUTHBEARER, fetched from a source (an OIDC token endpoint, AWS MSK
//! IAM signing) and cached until shortly before they expire, so that every new connection
//! authenticates with a live token and a token is not fetched per connection.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use crate::cli::Secret;

/// A token and when it stops being accepted.
#[derive(Debug, Clone)]
pub struct Token {
    pub value: Secret,
    /// `None`: no expiry known (kept until a connection is refused).
    pub expires: Option<SystemTime>,
}

pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Token, String>> + Send + 'a>>;

/// Where tokens come from.
pub trait TokenSource: Send + Sync {
    /// A fresh token. The error names what failed (never a secret).
    fn fetch(&self) -> TokenFuture<'_>;
}

/// A source plus its current token.
pub struct Tokens {
    source: Box<dyn TokenSource>,
    /// The token and when it was fetched.
    current: tokio::sync::Mutex<Option<(Token, SystemTime)>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens")
    }
}

/// How long before its expiry a token is replaced: a fifth of its life, at least 10 s and at
/// most 5 minutes, so a 15-minute MSK IAM token is renewed after 12 minutes.
fn margin(lifetime: Duration) -> Duration {
    (lifetime / 5).clamp(Duration::from_secs(10), Duration::from_secs(300))
}

impl Tokens {
    pub fn new(source: Box<dyn TokenSource>) -> Self {
        Self {
            source,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached token while it has life left, else a fresh one.
    pub async fn get(&self) -> Result<Token, String> {
        let mut current = self.current.lock().await;
        let now = SystemTime::now();
        if let Some((t, fetched)) = current.as_ref() {
            let live = match t.expires {
                None => true,
                // The margin is a share of the token's whole life (from when it was
                // fetched), not of what is left: else a token would live to its last seconds.
                Some(exp) => {
                    let lifetime = exp.duration_since(*fetched).unwrap_or_default();
                    exp.duration_since(now)
                        .is_ok_and(|left| left > margin(lifetime))
                }
            };
            if live {
                return Ok(t.clone());
            }
        }
        let fresh = self.source.fetch().await?;
        *current = Some((fresh.clone(), now));
        Ok(fresh)
    }

    /// Drops the cached token (after the broker refused it).
    pub async fn forget(&self) {
        *self.current.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    struct Counting {
        calls: Arc<AtomicU32>,
        life: Duration,
    }

    impl TokenSource for Counting {
        fn fetch(&self) -> TokenFuture<'_> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let life = self.life;
            Box::pin(async move {
                Ok(Token {
                    value: Secret::new(format!("t{n}")),
                    expires: Some(SystemTime::now() + life),
                })
            })
        }
    }

    #[tokio::test]
    async fn a_token_is_reused_until_near_its_expiry() {
        let calls = Arc::new(AtomicU32::new(0));
        let long = Tokens::new(Box::new(Counting {
            calls: Arc::clone(&calls),
            life: Duration::from_secs(900),
        }));
        assert_eq!(long.get().await.unwrap().value.expose(), "t0");
        assert_eq!(long.get().await.unwrap().value.expose(), "t0");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        long.forget().await;
        assert_eq!(long.get().await.unwrap().value.expose(), "t1");

        // A token with less life left than the margin is replaced at once.
        let calls = Arc::new(AtomicU32::new(0));
        let short = Tokens::new(Box::new(Counting {
            calls: Arc::clone(&calls),
            life: Duration::from_secs(5),
        }));
        short.get().await.unwrap();
        short.get().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
