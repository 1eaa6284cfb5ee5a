//! Body types: the response body handed to the client (the upstream's, streamed, or one of ours)
//! which records the request when it ends, and the request body sent upstream with an idle
//! timeout between chunks.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::conn::ConnState;
use crate::proxy::Worker;
use crate::router::{RouteRef, Router};

/// The sending half of one upstream connection of a worker.
pub type UpstreamSender = hyper::client::conn::http1::SendRequest<TimedBody>;

/// One request's record: written to the metrics when dropped, i.e. when the response body has
/// ended, or when the client went away first (status 499, nginx's "client closed request").
pub struct Done {
    /// The worker's own state: its reference count never leaves its core.
    worker: Arc<Worker>,
    route: Option<(Arc<Router>, RouteRef)>,
    method: usize,
    pub status: u16,
    start: Instant,
    conn: Arc<ConnState>,
    /// The upstream connection, back to the worker's pool once the response has been read whole.
    upstream: Option<UpstreamSender>,
    clean: bool,
}

/// The status recorded for a request whose client left before the response.
pub const CLIENT_CLOSED: u16 = 499;

impl Done {
    pub fn new(worker: Arc<Worker>, conn: Arc<ConnState>, start: Instant) -> Self {
        worker.proxy.metrics.request_started(worker.index);
        Self {
            worker,
            route: None,
            method: 0,
            status: CLIENT_CLOSED,
            start,
            conn,
            upstream: None,
            clean: false,
        }
    }

    /// Hands the upstream connection back to the worker's pool when the response ends cleanly.
    pub fn release_to(&mut self, sender: UpstreamSender) {
        self.upstream = Some(sender);
    }

    /// Records the request under this route and method when it ends.
    pub fn count_as(&mut self, router: Arc<Router>, route: RouteRef, method: usize) {
        self.route = Some((router, route));
        self.method = method;
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        let w = &*self.worker;
        let metrics = &w.proxy.metrics;
        if let Some((router, r)) = &self.route {
            metrics.observe(
                router.stats(r, metrics),
                self.method,
                self.status,
                self.start.elapsed(),
                w.index,
            );
        }
        metrics.request_ended(w.index);
        if let Some(sender) = self.upstream.take() {
            if self.clean {
                w.upstream().put(sender);
            }
        }
        self.conn.set_idle();
    }
}

enum Kind {
    Upstream(Incoming),
    Full(Option<Bytes>),
}

/// The body of every response on the proxy port.
pub struct ProxyBody {
    kind: Kind,
    done: Option<Done>,
}

impl ProxyBody {
    pub fn upstream(body: Incoming, done: Done) -> Self {
        Self {
            kind: Kind::Upstream(body),
            done: Some(done),
        }
    }

    pub fn full(bytes: impl Into<Bytes>, done: Done) -> Self {
        let b: Bytes = bytes.into();
        Self {
            kind: Kind::Full((!b.is_empty()).then_some(b)),
            done: Some(done),
        }
    }

    fn finish(&mut self, clean: bool) {
        if let Some(mut d) = self.done.take() {
            d.clean = clean;
        }
    }

    fn end_stream(&self) -> bool {
        match &self.kind {
            Kind::Upstream(b) => b.is_end_stream(),
            Kind::Full(b) => b.is_none(),
        }
    }
}

impl Drop for ProxyBody {
    fn drop(&mut self) {
        // Bodies hyper never polls (empty ones) end here.
        let clean = self.end_stream();
        self.finish(clean);
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let r = match &mut this.kind {
            Kind::Upstream(b) => Pin::new(b).poll_frame(cx),
            Kind::Full(b) => Poll::Ready(b.take().map(|d| Ok(Frame::data(d)))),
        };
        match &r {
            Poll::Ready(None) => this.finish(true),
            Poll::Ready(Some(Err(_))) => this.finish(false),
            // hyper may not poll again after the last frame; record now, before the client
            // can have read it.
            Poll::Ready(Some(Ok(_))) if this.end_stream() => this.finish(true),
            _ => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Upstream(b) => b.size_hint(),
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}

/// A request body going upstream, failing when the client sends nothing for `timeout`.
pub struct TimedBody {
    inner: Incoming,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl TimedBody {
    pub fn new(inner: Incoming, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            sleep: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("client sent no request body data for {0:?}")]
pub struct BodyTimeout(Duration);

/// The client's request body broke mid-way: bad chunk framing (a chunk size that overflows,
/// say) or a connection cut short. Answered 400 with a close, never 502: the fault is the
/// client's, and what is left on its connection cannot be trusted as a next request.
#[derive(Debug, thiserror::Error)]
#[error("bad request body from the client: {0}")]
pub struct ClientBodyError(#[source] hyper::Error);

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                this.sleep = None;
                Poll::Ready(
                    r.map(|f| f.map_err(|e| -> Self::Error { Box::new(ClientBodyError(e)) })),
                )
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if sleep.as_mut().poll(cx).is_ready() {
                    this.sleep = None;
                    return Poll::Ready(Some(Err(Box::new(BodyTimeout(timeout)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
