//! Client connections on the proxy port: the accept loop, the connection limit, slowloris
//! timeouts with their 408, and the drain on shutdown.
//!
//! hyper's own header-read timeout closes the connection without a word, so the timeouts live in
//! [`GuardedIo`], a wrapper around the socket that knows, through [`ConnState`], whether the
//! connection is between requests (idle timeout: close quietly), reading a request head (header
//! timeout: answer 408 and close), or busy with a request or a WebSocket tunnel (no timeout:
//! upstream and body timeouts apply there).

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use exporter_core::InFlight;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit};
use tokio::time::{Instant, Sleep};

use crate::metrics::Rejection;
use crate::proxy::{Proxy, Worker};

const FRESH: u8 = 0;
const IDLE: u8 = 1;
const HEAD: u8 = 2;
const BUSY: u8 = 3;
const TUNNEL: u8 = 4;

/// Where a connection is in its life, shared by the socket wrapper and the request handler.
pub struct ConnState {
    state: AtomicU8,
    /// When the current state began, in nanoseconds from [`clock_base`].
    since: AtomicU64,
    /// The client's address, ready for `X-Forwarded-For`.
    pub peer_ip: hyper::header::HeaderValue,
    /// Whether the client is a trusted hop (`--proxy.trusted-proxies`).
    pub trusted: bool,
}

/// The origin of the `since` timestamps.
fn clock_base() -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn stamp(t: Instant) -> u64 {
    t.saturating_duration_since(clock_base()).as_nanos() as u64
}

/// Now, as a timestamp for an atomic.
pub fn stamp_now() -> u64 {
    stamp(Instant::now())
}

/// The instant of a timestamp made by [`stamp_now`].
pub fn instant_of(stamp: u64) -> Instant {
    clock_base() + Duration::from_nanos(stamp)
}

/// A stream that stamps `last` whenever bytes move through it: a tunnel's idle clock, shared
/// by both of its sides.
pub struct Activity<T> {
    io: T,
    last: Arc<AtomicU64>,
}

impl<T> Activity<T> {
    pub fn new(io: T, last: Arc<AtomicU64>) -> Self {
        Self { io, last }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Activity<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.last.store(stamp_now(), Ordering::Release);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Activity<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl ConnState {
    fn new(peer: SocketAddr, trusted: bool) -> Self {
        Self {
            state: AtomicU8::new(FRESH),
            since: AtomicU64::new(stamp(Instant::now())),
            peer_ip: crate::headers::peer_value(peer.ip()),
            trusted,
        }
    }

    /// A request head has been read.
    pub fn set_busy(&self) {
        self.state.store(BUSY, Ordering::Release);
    }

    /// The response has been sent (a tunnel stays a tunnel).
    pub fn set_idle(&self) {
        if self
            .state
            .compare_exchange(BUSY, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.since.store(stamp(Instant::now()), Ordering::Release);
        }
    }

    /// The connection now carries a WebSocket (or other upgraded) tunnel.
    pub fn set_tunnel(&self) {
        self.state.store(TUNNEL, Ordering::Release);
    }
}

const RESPONSE_408: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// The client socket, with the header, idle and send timeouts, and the connection's slot
/// under `--proxy.max-connections` (an upgraded connection keeps this wrapper, so a tunnel
/// keeps the slot until it ends).
///
/// The timer is lazy: each state change only stores a timestamp, and the one `Sleep` of the
/// connection is moved only when a deadline comes earlier than the one it is set for, or when it
/// fires and the deadline has moved on. Resetting a timer per request costs more than the rest
/// of the bookkeeping.
pub struct GuardedIo {
    io: TcpStream,
    st: Arc<ConnState>,
    sleep: Pin<Box<Sleep>>,
    armed: Instant,
    header_timeout: Duration,
    idle_timeout: Duration,
    closed: bool,
    proxy: Arc<Proxy>,
    /// Set while a write waits for the client to read: the send timeout's clock. Made only
    /// when a write is refused, so a client that keeps up costs no timer.
    send_sleep: Option<Pin<Box<Sleep>>>,
    send_timeout: Duration,
    _slot: OwnedSemaphorePermit,
}

impl GuardedIo {
    fn new(
        io: TcpStream,
        st: Arc<ConnState>,
        proxy: Arc<Proxy>,
        slot: OwnedSemaphorePermit,
    ) -> Self {
        let header_timeout = proxy.opts.header_timeout;
        // The first request's head must arrive within the header timeout of the accept.
        let armed = Instant::now() + header_timeout;
        Self {
            io,
            st,
            sleep: Box::pin(tokio::time::sleep_until(armed)),
            armed,
            header_timeout,
            idle_timeout: proxy.opts.idle_timeout,
            closed: false,
            send_timeout: proxy.opts.send_timeout,
            proxy,
            send_sleep: None,
            _slot: slot,
        }
    }

    /// A write's outcome under the send timeout: progress stops the clock; a refusal starts
    /// it, and one that lasts past the timeout is an error (hyper then drops the connection,
    /// and the response body with its upstream connection).
    fn send_guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => {
                let timeout = self.send_timeout;
                let sleep = self
                    .send_sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing for the send timeout",
                    ))),
                }
            }
            ready => {
                self.send_sleep = None;
                ready
            }
        }
    }

    /// The deadline of the current state, if it has one.
    fn deadline(&self) -> Option<(u8, Instant)> {
        let s = self.st.state.load(Ordering::Acquire);
        let timeout = match s {
            IDLE => self.idle_timeout,
            FRESH | HEAD => self.header_timeout,
            _ => return None,
        };
        let since = clock_base() + Duration::from_nanos(self.st.since.load(Ordering::Acquire));
        Some((s, since + timeout))
    }

    /// Ready(state) once the current state's deadline has passed.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<u8> {
        loop {
            let Some((s, deadline)) = self.deadline() else {
                return Poll::Pending;
            };
            if deadline < self.armed {
                self.sleep.as_mut().reset(deadline);
                self.armed = deadline;
            }
            match self.sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    if Instant::now() >= deadline {
                        return Poll::Ready(s);
                    }
                    // Fired for an older, earlier deadline: move on to the current one.
                    self.sleep.as_mut().reset(deadline);
                    self.armed = deadline;
                }
            }
        }
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closed {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    match this.st.state.load(Ordering::Acquire) {
                        IDLE => {
                            // The next request's head starts: its clock starts now.
                            this.st
                                .since
                                .store(stamp(Instant::now()), Ordering::Release);
                            this.st.state.store(HEAD, Ordering::Release);
                        }
                        FRESH => {
                            // Keep the deadline counted from the accept.
                            this.st.state.store(HEAD, Ordering::Release);
                        }
                        _ => {}
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.poll_deadline(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(s) => {
                    if s == HEAD {
                        // Best effort: the socket buffer has room for a few bytes.
                        let _ = this.io.try_write(RESPONSE_408);
                        this.proxy.metrics.rejected(Rejection::HeaderTimeout);
                    }
                    this.closed = true;
                    // End of input: hyper closes the connection.
                    Poll::Ready(Ok(()))
                }
            },
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.send_guard(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.send_guard(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Counts connections and tunnels still open, so a shutdown can wait for them and name those it
/// gives up on.
#[derive(Default)]
pub struct Drain {
    open: AtomicUsize,
    zero: Notify,
}

/// Held by each connection and tunnel task.
pub struct DrainGuard(Arc<Drain>);

impl Drain {
    pub fn guard(self: &Arc<Self>) -> DrainGuard {
        self.open.fetch_add(1, Ordering::AcqRel);
        DrainGuard(self.clone())
    }

    /// Connections and tunnels open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Resolves once nothing is open.
    pub async fn wait_zero(&self) {
        loop {
            let notified = self.zero.notified();
            if self.open.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for DrainGuard {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.zero.notify_waiters();
        }
    }
}

/// A connection accepted for a worker, with its slot under `--proxy.max-connections`.
pub struct Accepted {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    guard: DrainGuard,
}

/// The accept loop (on the control thread): hands connections to the workers in turn, so each
/// gets its share however the clients connect. Stops accepting when `shutdown` turns true
/// (new clients are then refused) or the workers are gone.
pub async fn accept(
    listener: StdListener,
    proxy: Arc<Proxy>,
    workers: Vec<mpsc::UnboundedSender<Accepted>>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    listener
        .set_nonblocking(true)
        .context("setting the proxy listener non-blocking")?;
    let listener = TcpListener::from_std(listener).context("registering the proxy listener")?;
    let limit = proxy.conn_limit.clone();
    let mut next = 0usize;
    loop {
        // At the connection limit, stop accepting: the kernel's backlog queues the rest.
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = until_shutdown(&mut shutdown) => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(err = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = until_shutdown(&mut shutdown) => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(stream) = stream.into_std() else {
            continue;
        };
        let mut conn = Accepted {
            stream,
            peer,
            permit,
            guard: proxy.drain.guard(),
        };
        // Round robin over the workers still running.
        let mut tries = 0;
        loop {
            let w = &workers[next % workers.len()];
            next = next.wrapping_add(1);
            match w.send(conn) {
                Ok(()) => break,
                Err(e) => {
                    conn = e.0;
                    tries += 1;
                    if tries >= workers.len() {
                        anyhow::bail!("no proxy worker is running");
                    }
                }
            }
        }
    }
    drop(listener);
    Ok(())
}

/// One worker: serves the connections it is handed on its own current-thread runtime until
/// `shutdown` turns true, then lets in-flight requests (and tunnels) go on until `cut` turns
/// true: the control thread sets it when they are all done or the grace period is over, for
/// every worker at once.
pub async fn work(
    proxy: Arc<Proxy>,
    index: usize,
    mut conns: mpsc::UnboundedReceiver<Accepted>,
    mut shutdown: watch::Receiver<bool>,
    mut cut: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let worker = Arc::new(Worker::new(proxy.clone(), index));
    {
        // Idle upstream connections past their time are closed even without traffic.
        let pool = worker.upstream().clone();
        let mut tick =
            tokio::time::interval(proxy.opts.pool_idle_timeout.max(Duration::from_secs(1)));
        tokio::spawn(async move {
            loop {
                tick.tick().await;
                pool.prune();
            }
        });
    }
    // The worker's own shutdown flag for its connections: they poll it on every wake-up, and
    // one channel shared by all workers would bounce between their cores.
    let (local_tx, local_rx) = watch::channel(false);
    loop {
        let a = tokio::select! {
            a = conns.recv() => match a { Some(a) => a, None => break },
            _ = until_shutdown(&mut shutdown) => break,
        };
        let stream = match TcpStream::from_std(a.stream) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(err = %e, "registering a client connection failed");
                continue;
            }
        };
        let worker = worker.clone();
        let shutdown = local_rx.clone();
        let (permit, guard, peer) = (a.permit, a.guard, a.peer);
        tokio::spawn(async move {
            // The permit goes with the socket: an upgraded connection outlives this task.
            serve_conn(stream, peer, permit, worker, shutdown).await;
            drop(guard);
        });
    }
    drop(conns);
    let _ = local_tx.send(true);
    until_shutdown(&mut cut).await;
    Ok(())
}

async fn serve_conn(
    stream: TcpStream,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
    worker: Arc<Worker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let proxy = worker.proxy.clone();
    let _open = InFlight::enter(&proxy.metrics.open_connections);
    let trusted = !proxy.opts.trusted.is_empty() && proxy.opts.trusted.contains(peer.ip());
    let st = Arc::new(ConnState::new(peer, trusted));
    let io = GuardedIo::new(stream, st.clone(), proxy.clone(), slot);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Ours, with a 408; see the module docs.
        .header_read_timeout(None)
        .max_header_size(proxy.opts.max_header_bytes)
        .max_buf_size(proxy.opts.max_header_bytes.max(64 * 1024));
    // hyper parses up to 100 headers into a stack array; any other limit moves that array to
    // the heap for every request, so only set it when it differs.
    if proxy.opts.max_headers != 100 {
        builder.max_headers(proxy.opts.max_headers);
    }
    let svc = {
        let st = st.clone();
        hyper::service::service_fn(move |req| worker.clone().handle(req, st.clone()))
    };
    let conn = builder
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    tokio::pin!(conn);
    let res = tokio::select! {
        biased;
        r = conn.as_mut() => r,
        _ = until_shutdown(&mut shutdown) => {
            // Finish the request in flight, then close; idle connections close now.
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = res {
        if e.is_parse_too_large() {
            proxy.metrics.rejected(Rejection::HeaderTooLarge);
        }
        tracing::debug!(err = %e, "client connection ended with an error");
    }
}

/// Resolves once the shutdown flag is set (and holds no borrow of the channel afterwards).
pub async fn until_shutdown(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}
