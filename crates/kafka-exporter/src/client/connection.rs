//! One connection to one broker: framing, correlation ids, pipelining and poisoning.
//!
//! Requests are written whole by a writer task (a dropped request future can never leave half a
//! frame on the wire) and answered through a oneshot channel keyed by correlation id, so many
//! requests share one socket at once. A reader task hands each response frame to its waiter. Any
//! read or write error, a malformed frame or a request past its deadline *poisons* the
//! connection: every waiting request fails at once with the cause (nobody waits out a timeout on a
//! dead socket), and the cluster opens a new connection next time it needs this broker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ResponseHeader;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::ClientError;

/// The largest response frame accepted. A Metadata response of a 100,000-partition cluster is a
/// few MiB; anything near this limit is a broken or hostile peer, not Kafka.
const MAX_FRAME: usize = 256 * 1024 * 1024;

/// A byte stream to a broker: plain TCP or TLS over it.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

type Waiter = oneshot::Sender<Result<Bytes, ClientError>>;

/// What the reader, the writer and the requests share.
struct State {
    /// Requests sent and not yet answered, by correlation id.
    waiting: HashMap<i32, Waiter>,
    /// Why the connection is unusable, once it is.
    poisoned: Option<String>,
}

/// A connection to one broker. Cheap to share: requests take `&self`.
pub struct Connection {
    /// The broker, as error messages name it (`host:port`).
    broker: String,
    client_id: StrBytes,
    state: Arc<Mutex<State>>,
    frames: mpsc::UnboundedSender<Bytes>,
    next_id: AtomicI32,
    /// Supported versions by API key, from ApiVersions (empty until [`Connection::handshake`]).
    versions: HashMap<i16, (i16, i16)>,
    /// When the broker ends the authenticated session (KIP-368), less a margin: the connection
    /// is then given up and the next one authenticates afresh (with a fresh token).
    expires: Option<std::time::Instant>,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for Connection {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Marks the connection dead (keeping the first cause) and fails every waiting request.
fn poison(state: &Mutex<State>, broker: &str, cause: String) {
    let waiters: Vec<Waiter> = {
        let mut s = lock(state);
        if s.poisoned.is_none() {
            s.poisoned = Some(cause.clone());
        }
        s.waiting.drain().map(|(_, w)| w).collect()
    };
    for w in waiters {
        let _ = w.send(Err(ClientError::Connection {
            broker: broker.to_string(),
            cause: cause.clone(),
        }));
    }
}

impl Connection {
    /// Starts the reader and writer tasks on `stream`. No request has been sent yet.
    pub fn start(stream: impl Stream, broker: String, client_id: &str) -> Self {
        let (rd, wr) = tokio::io::split(stream);
        let state = Arc::new(Mutex::new(State {
            waiting: HashMap::new(),
            poisoned: None,
        }));
        let (frames, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(rd, Arc::clone(&state), broker.clone()));
        let writer = tokio::spawn(write_loop(wr, rx, Arc::clone(&state), broker.clone()));
        Self {
            broker,
            client_id: StrBytes::from_string(client_id.to_string()),
            state,
            frames,
            next_id: AtomicI32::new(1),
            versions: HashMap::new(),
            expires: None,
            tasks: [reader, writer],
        }
    }

    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// Whether the connection can still carry requests.
    pub fn is_usable(&self) -> bool {
        lock(&self.state).poisoned.is_none()
            && !self.frames.is_closed()
            && match self.expires {
                Some(t) => std::time::Instant::now() < t,
                None => true,
            }
    }

    /// Records the session lifetime the broker granted at authentication (0: unlimited). The
    /// connection is retired at 90% of it, so no request meets a session the broker has ended.
    pub fn set_session_lifetime(&mut self, lifetime: Duration) {
        if !lifetime.is_zero() {
            self.expires = Some(std::time::Instant::now() + lifetime.mul_f64(0.9));
        }
    }

    /// Asks the broker which API versions it speaks (ApiVersions v3, or v0 for brokers older
    /// than Kafka 2.4, which answer v3 with an UNSUPPORTED_VERSION v0 body).
    pub async fn handshake(&mut self, deadline: Duration) -> Result<(), ClientError> {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kafka-exporter"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let raw = self.send_raw(&req, 3, deadline).await?;
        let resp = ApiVersionsResponse::decode(&mut raw.clone(), 3)
            .ok()
            .filter(|r| r.error_code == 0)
            .or_else(|| ApiVersionsResponse::decode(&mut raw.clone(), 0).ok())
            .ok_or_else(|| self.protocol_error("ApiVersions", "undecodable response"))?;
        if resp.error_code != 0 && resp.api_keys.is_empty() {
            return Err(ClientError::Broker {
                broker: self.broker.clone(),
                request: "ApiVersions",
                code: resp.error_code,
            });
        }
        self.versions = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(())
    }

    /// The highest version of `R` that both the broker and we speak, at most `max`.
    pub fn version<R: Request>(&self, max: i16) -> Result<i16, ClientError> {
        let ours = R::VERSIONS;
        let (bmin, bmax) = self
            .versions
            .get(&R::KEY)
            .copied()
            .ok_or_else(|| self.unsupported::<R>())?;
        let v = bmax.min(max).min(ours.max);
        if v < bmin || v < ours.min {
            return Err(self.unsupported::<R>());
        }
        Ok(v)
    }

    fn unsupported<R: Request>(&self) -> ClientError {
        ClientError::Unsupported {
            broker: self.broker.clone(),
            request: api_name(R::KEY),
        }
    }

    fn protocol_error(&self, request: &'static str, what: &str) -> ClientError {
        ClientError::Protocol {
            broker: self.broker.clone(),
            request,
            cause: what.to_string(),
        }
    }

    /// Sends `req` at the highest common version up to `max` and waits for its response.
    pub async fn call<R: Request>(
        &self,
        req: &R,
        max: i16,
        deadline: Duration,
    ) -> Result<(R::Response, i16), ClientError> {
        let version = self.version::<R>(max)?;
        let resp = self.send(req, version, deadline).await?;
        Ok((resp, version))
    }

    /// Sends `req` at `version` and waits at most `deadline` for its response.
    pub async fn send<R: Request>(
        &self,
        req: &R,
        version: i16,
        deadline: Duration,
    ) -> Result<R::Response, ClientError> {
        let mut raw = self.send_raw(req, version, deadline).await?;
        R::Response::decode(&mut raw, version).map_err(|e| {
            self.protocol_error(api_name(R::KEY), &format!("decoding v{version}: {e}"))
        })
    }

    /// Sends `req` and returns the response body (after its header), undecoded.
    async fn send_raw<R: Request>(
        &self,
        req: &R,
        version: i16,
        deadline: Duration,
    ) -> Result<Bytes, ClientError> {
        let name = api_name(R::KEY);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(id)
            .with_client_id(Some(self.client_id.clone()));
        let mut buf = BytesMut::with_capacity(64);
        buf.put_i32(0); // the length, filled in below
        header
            .encode(&mut buf, R::header_version(version))
            .and_then(|()| req.encode(&mut buf, version))
            .map_err(|e| self.protocol_error(name, &format!("encoding v{version}: {e}")))?;
        let len = i32::try_from(buf.len() - 4)
            .map_err(|_| self.protocol_error(name, "request too large"))?;
        buf[..4].copy_from_slice(&len.to_be_bytes());

        let (tx, rx) = oneshot::channel();
        {
            let mut s = lock(&self.state);
            if let Some(cause) = &s.poisoned {
                return Err(ClientError::Connection {
                    broker: self.broker.clone(),
                    cause: cause.clone(),
                });
            }
            s.waiting.insert(id, tx);
        }
        if self.frames.send(buf.freeze()).is_err() {
            lock(&self.state).waiting.remove(&id);
            return Err(ClientError::Connection {
                broker: self.broker.clone(),
                cause: "connection closed".into(),
            });
        }
        let mut frame = match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(r)) => r?,
            Ok(Err(_)) => {
                return Err(ClientError::Connection {
                    broker: self.broker.clone(),
                    cause: "connection closed".into(),
                })
            }
            Err(_) => {
                // Kafka answers a connection's requests in order: one stuck request holds every
                // later one, so the socket is given up rather than reused.
                lock(&self.state).waiting.remove(&id);
                let cause = format!("{name} timed out after {deadline:?}");
                poison(&self.state, &self.broker, cause);
                return Err(ClientError::Timeout {
                    broker: self.broker.clone(),
                    request: name,
                    after: deadline,
                });
            }
        };
        ResponseHeader::decode(
            &mut frame,
            <R::Response as HeaderVersion>::header_version(version),
        )
        .map_err(|e| self.protocol_error(name, &format!("response header: {e}")))?;
        Ok(frame)
    }
}

/// Reads response frames and hands each to the request that waits for it.
async fn read_loop(mut rd: impl AsyncRead + Unpin, state: Arc<Mutex<State>>, broker: String) {
    let cause = loop {
        let len = match rd.read_i32().await {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break "closed by the broker".to_string()
            }
            Err(e) => break format!("reading: {e}"),
        };
        let Ok(len) = usize::try_from(len) else {
            break format!("negative frame length {len}");
        };
        if !(4..=MAX_FRAME).contains(&len) {
            break format!("frame length {len} out of range");
        }
        let mut frame = vec![0u8; len];
        if let Err(e) = rd.read_exact(&mut frame).await {
            break format!("reading: {e}");
        }
        let frame = Bytes::from(frame);
        // Every response header version starts with the correlation id.
        let id = frame.clone().get_i32();
        let waiter = lock(&state).waiting.remove(&id);
        match waiter {
            Some(w) => {
                let _ = w.send(Ok(frame));
            }
            // A request that timed out and gave up its slot: the connection is already poisoned.
            None => break format!("response with unknown correlation id {id}"),
        }
    };
    poison(&state, &broker, cause);
}

/// Writes whole frames in order; a write error poisons the connection.
async fn write_loop(
    mut wr: impl AsyncWrite + Unpin,
    mut frames: mpsc::UnboundedReceiver<Bytes>,
    state: Arc<Mutex<State>>,
    broker: String,
) {
    while let Some(f) = frames.recv().await {
        if let Err(e) = async {
            wr.write_all(&f).await?;
            wr.flush().await
        }
        .await
        {
            poison(&state, &broker, format!("writing: {e}"));
            break;
        }
    }
    frames.close();
}

/// The name of an API key, for messages.
pub fn api_name(key: i16) -> &'static str {
    match ApiKey::try_from(key) {
        Ok(ApiKey::ApiVersions) => "ApiVersions",
        Ok(ApiKey::Metadata) => "Metadata",
        Ok(ApiKey::ListOffsets) => "ListOffsets",
        Ok(ApiKey::ListGroups) => "ListGroups",
        Ok(ApiKey::DescribeGroups) => "DescribeGroups",
        Ok(ApiKey::ConsumerGroupDescribe) => "ConsumerGroupDescribe",
        Ok(ApiKey::FindCoordinator) => "FindCoordinator",
        Ok(ApiKey::OffsetFetch) => "OffsetFetch",
        Ok(ApiKey::SaslHandshake) => "SaslHandshake",
        Ok(ApiKey::SaslAuthenticate) => "SaslAuthenticate",
        _ => "request",
    }
}

#[cfg(test)]
mod tests;
