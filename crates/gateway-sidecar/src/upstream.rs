//! The upstream leg: the app's origin (`--upstream`), and the HTTP/1 client that talks to it: a
//! small pool of idle connections, a connect under a deadline, and a send that replaces a pooled
//! connection found closed before the request went out. Each worker has one client (its own
//! pool, used only on its thread) for proxying; the proxy has one more for fetching the app's own
//! metrics.
//!
//! These are hyper's HTTP/1 client connections rather than hyper-util's legacy client: the
//! legacy client's shared pool (a map of hosts behind a lock, a task per returned connection,
//! extensions per response) cost a fifth of the sidecar's CPU per request, and there is only one
//! upstream host here anyway.

use std::error::Error as StdError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderValue;
use hyper::http::uri::{Authority, Scheme};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::metrics::UpstreamError;

/// The upstream's origin.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub scheme: Scheme,
    pub authority: Authority,
    /// `host:port` to connect to.
    pub host_port: String,
    /// `Host` for requests that came without one.
    pub host_header: HeaderValue,
}

impl Upstream {
    /// Accepts `http://host:port` (a path of `/` at most): the sidecar sits next to the app.
    pub fn parse(s: &str) -> Result<Self, String> {
        let uri: Uri = s.parse().map_err(|e| format!("--upstream {s:?}: {e}"))?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            return Err(format!("--upstream {s:?}: want an http:// URL"));
        }
        let Some(authority) = uri.authority().cloned() else {
            return Err(format!("--upstream {s:?}: missing host"));
        };
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "--upstream {s:?}: want scheme://host:port without a path"
            ));
        }
        let host_port = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|e| format!("--upstream {s:?}: {e}"))?;
        Ok(Self {
            scheme: Scheme::HTTP,
            authority,
            host_port,
            host_header,
        })
    }
}

/// Why a request did not get response headers from the upstream.
#[derive(Debug)]
pub struct SendError {
    pub kind: UpstreamError,
    pub message: String,
    /// hyper's error, when the exchange failed after connecting (its source chain tells a
    /// client body that timed out from an upstream that failed).
    pub source: Option<hyper::Error>,
}

impl SendError {
    fn new(kind: UpstreamError, message: String) -> Self {
        Self {
            kind,
            message,
            source: None,
        }
    }
}

/// An HTTP/1 client for the one upstream host, sending request bodies of type `B`. Idle
/// connections are kept most recently used last; the lock is only ever contended when two
/// scrapes fetch the app's metrics at once.
pub struct Client<B> {
    /// `host:port` to connect to.
    addr: String,
    connect_timeout: Duration,
    idle: Mutex<Vec<(SendRequest<B>, Instant)>>,
    max_idle: usize,
    idle_timeout: Duration,
}

impl<B> Client<B>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    pub fn new(
        upstream: &Upstream,
        connect_timeout: Duration,
        max_idle: usize,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            addr: upstream.host_port.clone(),
            connect_timeout,
            idle: Mutex::new(Vec::new()),
            max_idle,
            idle_timeout,
        }
    }

    /// Keeps a connection whose exchange ended cleanly.
    pub fn put(&self, sender: SendRequest<B>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push((sender, Instant::now()));
        }
    }

    fn take(&self) -> Option<SendRequest<B>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((s, since)) = idle.pop() {
            // Past the idle timeout the app may be closing it (Node closes at 5 s): drop it.
            if since.elapsed() < self.idle_timeout && !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    /// Closes connections idle for longer than the idle timeout.
    pub fn prune(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let t = self.idle_timeout;
        idle.retain(|(s, since)| since.elapsed() < t && !s.is_closed());
    }

    /// A ready connection: a pooled one, else a new one.
    async fn checkout(&self) -> Result<(SendRequest<B>, bool), SendError> {
        while let Some(mut s) = self.take() {
            if s.is_ready() || s.ready().await.is_ok() {
                return Ok((s, true));
            }
        }
        self.connect().await.map(|s| (s, false))
    }

    async fn connect(&self) -> Result<SendRequest<B>, SendError> {
        let stream = match tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect(self.addr.as_str()),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(SendError::new(
                    UpstreamError::Timeout,
                    format!("connect: {e}"),
                ))
            }
            Ok(Err(e)) => {
                return Err(SendError::new(
                    UpstreamError::Connect,
                    format!("connect: {e}"),
                ))
            }
            Err(_) => {
                return Err(SendError::new(
                    UpstreamError::Timeout,
                    format!("connect: no connection within {:?}", self.connect_timeout),
                ))
            }
        };
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| SendError::new(UpstreamError::Error, format!("handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(err = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Sends a request upstream and returns the response with its connection (give it back with
    /// [`Client::put`] once the response body has been read whole). A pooled connection that
    /// turns out closed before the request went out is replaced once (nothing was sent, so any
    /// method may be retried).
    pub async fn send(
        &self,
        mut req: Request<B>,
    ) -> Result<(Response<Incoming>, SendRequest<B>), SendError> {
        loop {
            let (mut sender, reused) = self.checkout().await?;
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok((resp, sender)),
                Err(mut e) => match e.take_message() {
                    Some(r) if reused => req = r,
                    _ => {
                        let e = e.into_error();
                        return Err(SendError {
                            kind: UpstreamError::Error,
                            message: e.to_string(),
                            source: Some(e),
                        });
                    }
                },
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        assert!(Upstream::parse("http://127.0.0.1:3000").is_ok());
        assert!(Upstream::parse("http://app:3000/").is_ok());
        assert!(Upstream::parse("https://app").is_err());
        assert!(Upstream::parse("http://app/base").is_err());
        assert!(Upstream::parse("127.0.0.1:3000").is_err());
    }
}
