//! One endpoint of an object: its TCP connection, made on first use and remade after a loss.
//!
//! Everything here is generic over the object's [`Wire`]: TARS packets, or a user's
//! [`ClientProtocol`](crate::client::ClientProtocol).
//!
//! A [`Connection`] runs two tasks. The writer takes whole frames from a bounded queue and
//! writes them through a buffer, flushing when the queue is empty, so that concurrent calls
//! share system calls. The reader cuts [`Incoming`] messages off the input with the wire and
//! completes the waiting call by request id; a push (request id 0) goes to the route the
//! connection was opened with (the object's push streams and handler).
//! Whichever task ends first closes the connection: every call still waiting fails at once
//! with [`ReturnCode::PROXY_CONNECT_ERR`](crate::packet::ReturnCode::PROXY_CONNECT_ERR), the
//! other task stops, and the next call through the [`EndpointSlot`] connects again.
//!
//! TarsGo's `_reconnect_` packet (TARS only) *retires* a connection: it takes no new calls, the calls in
//! flight on it still get their replies, and it closes once the last of them is done. An
//! endpoint that leaves its object's list (a discovery refresh) retires its connection the same
//! way. A third task per connection, the supervisor, runs the hooks, the keep-alive and, in
//! push mode, the reconnection: it knows the connection, not the other way round.
//!
//! Every task is spawned on the communicator's [`TaskTracker`] and watches its object's
//! shutdown token ([`Owner`]): dropping the object, or shutting the communicator down, closes
//! the connection and ends its tasks.
//!
//! An [`EndpointSlot`] also keeps the endpoint's health: a connect that fails, or a connection
//! lost to an error, marks it down for a while that doubles with each failure in a row
//! ([`failed_endpoint_backoff`](super::CommunicatorBuilder::failed_endpoint_backoff)); a
//! connection made marks it up again.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::config::{Config, ReconnectBackoff};
use super::request::Outgoing;
use super::wire::{BadInput, Incoming, ReadError, Wire, WireDecoder};
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::framing::FrameCodec;
use crate::packet::ReturnCode;
use crate::support::lock;

/// Frames queued for the writer before callers wait for room.
const QUEUE_LEN: usize = 1024;

/// What a waiting call receives: its reply, or why the connection closed.
type Reply<W> = Result<<W as Wire>::Response>;

/// Why a connection closed, as [`on_close`](super::Proxy::on_close) hooks get it.
///
/// ```
/// use tars_rpc::client::CloseReason;
///
/// assert_eq!(CloseReason::Eof.to_string(), "closed by the server");
/// assert!(!CloseReason::Dropped.is_failure());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CloseReason {
    /// The server closed the connection.
    Eof,
    /// Reading or writing failed.
    Io(Arc<io::Error>),
    /// The server asked to reconnect (TarsGo's `_reconnect_`), and the calls in flight on the
    /// connection are done.
    Reconnect,
    /// The keep-alive (`tars_ping`, or a raw proxy's heartbeat) failed with this error.
    KeepAliveFailed(Error),
    /// The input broke the framing: a bad length, a frame over the maximum length, input a
    /// custom protocol rejected, or too much buffered without a whole response.
    BadFrame(String),
    /// A whole frame whose packet does not decode.
    BadPacket(String),
    /// The proxy was dropped: its last handle, or the connection's.
    Dropped,
    /// The connection's tasks stopped unfinished: their runtime shut down.
    Stopped,
    /// The endpoint left the object's list (a refresh of its
    /// [discovery](super::CommunicatorBuilder::discovery) no longer reports it), and the calls
    /// in flight on the connection are done.
    Removed,
    /// The communicator was shut down ([`Communicator::shutdown`](super::Communicator::shutdown)).
    Shutdown,
}

impl CloseReason {
    /// Whether the connection closed because something failed, rather than because the
    /// server or this side chose to close it ([`Eof`](Self::Eof),
    /// [`Reconnect`](Self::Reconnect), [`Dropped`](Self::Dropped), [`Stopped`](Self::Stopped),
    /// [`Removed`](Self::Removed), [`Shutdown`](Self::Shutdown)). A failure marks the endpoint
    /// down for a while.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::Io(_) | Self::KeepAliveFailed(_) | Self::BadFrame(_) | Self::BadPacket(_)
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Eof => f.write_str("closed by the server"),
            Self::Io(error) => write!(f, "io error: {error}"),
            Self::Reconnect => f.write_str("the server asked to reconnect"),
            Self::KeepAliveFailed(error) => write!(f, "keep-alive failed: {error}"),
            Self::BadFrame(error) => write!(f, "bad frame: {error}"),
            Self::BadPacket(error) => write!(f, "undecodable packet: {error}"),
            Self::Dropped => f.write_str("dropped"),
            Self::Stopped => f.write_str("stopped: the runtime shut down"),
            Self::Removed => f.write_str("the endpoint left the object's list"),
            Self::Shutdown => f.write_str("the communicator was shut down"),
        }
    }
}

/// Closing for `reason`, from an I/O error: the reason and the error the waiting calls fail
/// with, both keeping `error` as their source.
fn io_failure(error: io::Error, message: String) -> (CloseReason, Error) {
    let error = Arc::new(error);
    let copy = io::Error::new(error.kind(), Arc::clone(&error));
    (
        CloseReason::Io(error),
        Error::with_source(ReturnCode::PROXY_CONNECT_ERR, message, copy),
    )
}

/// The request id after `id`: 1, 2, ... `i32::MAX`, then 1 again; never 0, which marks a push,
/// and never negative.
pub(super) fn next_request_id(id: i32) -> i32 {
    if (1..i32::MAX).contains(&id) {
        id + 1
    } else {
        1
    }
}

/// The calls waiting on a connection, by request id.
struct Pending<W: Wire> {
    calls: HashMap<i32, oneshot::Sender<Reply<W>>>,
    /// The last request id handed out on this connection.
    last_id: i32,
    /// Why the connection closed, once it has: what waiting calls fail with, and the reason
    /// for `on_close` hooks.
    closed: Option<(Error, CloseReason)>,
    /// Why the connection was retired (the server asked to reconnect, or the endpoint left
    /// the list), if it was: it closes with this once `calls` is empty.
    retired: Option<(CloseReason, Error)>,
}

impl<W: Wire> Default for Pending<W> {
    fn default() -> Self {
        Self {
            calls: HashMap::new(),
            last_id: 0,
            closed: None,
            retired: None,
        }
    }
}

impl<W: Wire> Pending<W> {
    /// The next request id that no waiting call holds.
    fn next_id(&mut self) -> i32 {
        loop {
            self.last_id = next_request_id(self.last_id);
            // after a wrap-around, skip ids of calls still waiting (there are fewer than 2^31)
            if !self.calls.contains_key(&self.last_id) {
                return self.last_id;
            }
        }
    }
}

/// What a connection's handle, its tasks and its supervisor share.
pub(super) struct Shared<W: Wire> {
    endpoint: Endpoint,
    pending: Mutex<Pending<W>>,
    /// Cancelled when the connection closes, which stops the reader and the writer.
    closed: CancellationToken,
    /// Cancelled when the connection stops taking calls: when the server asks to reconnect,
    /// or when it closes (a child of `closed`).
    retired: CancellationToken,
    /// When the connection was made.
    opened_at: Instant,
    /// When the writer last wrote, in milliseconds since `opened_at`.
    last_sent_ms: AtomicU64,
    /// Cancelled once the `on_connect` hooks of the connection are done.
    hooks_done: CancellationToken,
}

impl<W: Wire> Shared<W> {
    fn pending(&self) -> MutexGuard<'_, Pending<W>> {
        lock(&self.pending)
    }

    /// The endpoint connected to.
    pub(super) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Cancelled once the connection has closed.
    pub(super) fn closed(&self) -> &CancellationToken {
        &self.closed
    }

    /// Cancelled once the connection takes no new calls: retired or closed.
    pub(super) fn retired(&self) -> &CancellationToken {
        &self.retired
    }

    /// Cancelled once the `on_connect` hooks of the connection are done.
    pub(super) fn hooks_done(&self) -> &CancellationToken {
        &self.hooks_done
    }

    /// When the connection was made.
    pub(super) fn opened_at(&self) -> Instant {
        self.opened_at
    }

    /// When a frame was last written (the time of connecting if none was).
    pub(super) fn last_sent(&self) -> Instant {
        self.opened_at + Duration::from_millis(self.last_sent_ms.load(Ordering::Relaxed))
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.opened_at.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_sent_ms.store(elapsed, Ordering::Relaxed);
    }

    /// Closes the connection unless it is closed already: fails every waiting call with
    /// `error`, stops the reader and the writer, and records `reason` for `on_close` hooks.
    pub(super) fn close(&self, reason: CloseReason, error: Error) {
        let calls = {
            let mut pending = self.pending();
            if pending.closed.is_some() {
                return;
            }
            debug!(endpoint = %self.endpoint, %reason, %error, "connection closed");
            pending.closed = Some((error.clone(), reason));
            std::mem::take(&mut pending.calls)
        };
        self.closed.cancel();
        for (_, call) in calls {
            // the caller may have stopped waiting
            let _ = call.send(Err(error.clone()));
        }
    }

    /// The reason the connection closed, for `on_close` hooks.
    pub(super) fn close_reason(&self) -> CloseReason {
        self.pending()
            .closed
            .as_ref()
            .map_or(CloseReason::Dropped, |(_, reason)| reason.clone())
    }

    /// Why the connection closed.
    fn closed_error(&self) -> Error {
        self.pending()
            .closed
            .as_ref()
            .map_or_else(|| self.lost(), |(error, _)| error.clone())
    }

    fn lost(&self) -> Error {
        Error::connect(format!("connection to {} closed", self.endpoint))
    }

    /// Takes no new calls, and closes with `reason` once the calls in flight are done (at
    /// once if there are none): the server asked to reconnect, or the endpoint left the list.
    pub(super) fn retire(&self, reason: CloseReason) {
        let why = match &reason {
            CloseReason::Reconnect => "the server asked to reconnect",
            _ => "the endpoint left the object's list",
        };
        let error = Error::connect(format!("connection to {} closed: {why}", self.endpoint));
        let drained = {
            let mut pending = self.pending();
            if pending.retired.is_some() || pending.closed.is_some() {
                return;
            }
            pending.retired = Some((reason, error));
            pending.calls.is_empty()
        };
        debug!(endpoint = %self.endpoint, "retired: {why}");
        self.retired.cancel();
        if drained {
            self.close_retired();
        }
    }

    /// Closes a retired connection whose last call is done.
    fn close_retired(&self) {
        let retired = self.pending().retired.clone();
        if let Some((reason, error)) = retired {
            self.close(reason, error);
        }
    }

    /// Removes a call's entry; closes a retired connection once its last call is done.
    fn remove_call(&self, request_id: i32) -> Option<oneshot::Sender<Reply<W>>> {
        let (call, drained) = {
            let mut pending = self.pending();
            let call = pending.calls.remove(&request_id);
            let drained =
                pending.retired.is_some() && pending.calls.is_empty() && pending.closed.is_none();
            (call, drained)
        };
        if drained {
            self.close_retired();
        }
        call
    }

    /// Hands the reply to `request_id` to the call waiting for it.
    fn complete(&self, request_id: i32, reply: W::Response) {
        let call = self.remove_call(request_id);
        match call {
            Some(call) => {
                // the caller may have given up just now; the reply is dropped either way
                let _ = call.send(Ok(reply));
            }
            None => debug!(
                endpoint = %self.endpoint,
                request_id,
                "dropped a reply for no waiting call (it timed out or was cancelled, or the \
                 id was never one of a call)"
            ),
        }
    }
}

/// Who owns the tasks of an object's connections, and tells them to stop.
#[derive(Debug, Clone, Default)]
pub(super) struct Owner {
    /// The communicator's tracker: every task is spawned on it, so that
    /// [`Communicator::shutdown`](super::Communicator::shutdown) can wait for them all.
    pub(super) tasks: TaskTracker,
    /// The object's token, a child of the communicator's: cancelled when the object is
    /// dropped or the communicator shut down. Every task of the object's connections stops
    /// then.
    pub(super) object: CancellationToken,
    /// Set by the communicator's shutdown, before its token is cancelled: read on every call
    /// (a token's state sits behind a lock).
    pub(super) shut_down: Arc<AtomicBool>,
}

impl Owner {
    /// The owner of a new object's tasks, under the communicator's `tasks`, its token and its
    /// `shut_down` flag.
    pub(super) fn new(
        tasks: TaskTracker,
        communicator: &CancellationToken,
        shut_down: &Arc<AtomicBool>,
    ) -> Self {
        Self {
            tasks,
            object: communicator.child_token(),
            shut_down: shut_down.clone(),
        }
    }

    /// Whether the communicator was shut down (rather than the object dropped).
    pub(super) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Why connections close when the object's token is cancelled, and what their calls in
    /// flight fail with.
    fn stop_reason(&self, endpoint: &Endpoint) -> (CloseReason, Error) {
        if self.is_shut_down() {
            (
                CloseReason::Shutdown,
                Error::connect(format!(
                    "connection to {endpoint} closed: the communicator was shut down"
                )),
            )
        } else {
            (
                CloseReason::Dropped,
                Error::connect(format!(
                    "connection to {endpoint} closed: the proxy was dropped"
                )),
            )
        }
    }
}

/// Closes the connection when a task ends in any way, including being dropped unfinished
/// because its runtime shut down.
struct CloseOnDrop<W: Wire>(Arc<Shared<W>>);

impl<W: Wire> Drop for CloseOnDrop<W> {
    fn drop(&mut self) {
        self.0.close(CloseReason::Stopped, self.0.lost());
    }
}

/// Removes a call's pending entry when the call stops waiting: a timeout, an error, or the
/// caller dropping the call's future.
struct PendingGuard<'a, W: Wire> {
    shared: &'a Shared<W>,
    request_id: i32,
}

impl<W: Wire> Drop for PendingGuard<'_, W> {
    fn drop(&mut self) {
        self.shared.remove_call(self.request_id);
    }
}

/// An open connection to one endpoint. Dropping the last handle closes it.
pub(super) struct Connection<W: Wire> {
    shared: Arc<Shared<W>>,
    frames: mpsc::Sender<Bytes>,
    codec: FrameCodec,
    wire: Arc<W>,
}

impl<W: Wire> Drop for Connection<W> {
    fn drop(&mut self) {
        self.close(CloseReason::Dropped);
    }
}

impl<W: Wire> Connection<W> {
    /// Connects to `endpoint` within the configured connect timeout and starts the reader and
    /// the writer on `owner`'s tracker, both stopping when its object token is cancelled; the
    /// reader decodes with `wire` and hands every push to `pushes`.
    pub(super) async fn open(
        endpoint: &Endpoint,
        config: &Config,
        wire: Arc<W>,
        pushes: impl FnMut(W::Push) + Send + 'static,
        owner: &Owner,
    ) -> Result<Self> {
        if endpoint.is_tls() && config.tls.is_none() {
            return Err(crate::tls::not_configured(endpoint));
        }
        let stream = match tokio::time::timeout(
            config.connect_timeout,
            TcpStream::connect(endpoint.address()),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                return Err(Error::with_source(
                    ReturnCode::PROXY_CONNECT_ERR,
                    format!("cannot connect to {endpoint}: {error}"),
                    error,
                ))
            }
            Err(_) => {
                return Err(Error::connect(format!(
                    "connecting to {endpoint} timed out after {} ms",
                    config.connect_timeout.as_millis()
                )))
            }
        };
        if let Err(error) = stream.set_nodelay(true) {
            debug!(%endpoint, %error, "cannot set TCP_NODELAY");
        }
        debug!(%endpoint, "connected");
        if endpoint.is_tls() {
            let tls = config.tls.as_ref();
            let stream = crate::tls::connect(tls, endpoint, stream, config.connect_timeout).await?;
            debug!(%endpoint, "TLS handshake done");
            let (read, write) = tokio::io::split(stream);
            return Ok(Self::start(
                endpoint, config, wire, pushes, owner, read, write,
            ));
        }
        let (read, write) = stream.into_split();
        Ok(Self::start(
            endpoint, config, wire, pushes, owner, read, write,
        ))
    }

    /// Starts the reader and the writer of a connection made, on its `read` and `write`
    /// halves (plain TCP's, or TLS's).
    fn start<R, S>(
        endpoint: &Endpoint,
        config: &Config,
        wire: Arc<W>,
        pushes: impl FnMut(W::Push) + Send + 'static,
        owner: &Owner,
        read: R,
        write: S,
    ) -> Self
    where
        R: AsyncRead + Unpin + Send + 'static,
        S: AsyncWrite + Unpin + Send + 'static,
    {
        let codec = FrameCodec::new(config.max_frame_len);
        let closed = CancellationToken::new();
        let shared = Arc::new(Shared {
            endpoint: endpoint.clone(),
            pending: Mutex::new(Pending::default()),
            retired: closed.child_token(),
            closed,
            opened_at: Instant::now(),
            last_sent_ms: AtomicU64::new(0),
            hooks_done: CancellationToken::new(),
        });
        let (frames, queue) = mpsc::channel(QUEUE_LEN);
        owner
            .tasks
            .spawn(run_writer(shared.clone(), queue, write, owner.clone()));
        owner.tasks.spawn(run_reader(
            shared.clone(),
            FramedRead::new(read, WireDecoder::new(wire.clone())),
            pushes,
            owner.clone(),
        ));
        Self {
            shared,
            frames,
            codec,
            wire,
        }
    }

    /// Whether the connection takes no new calls: it has closed, or the server asked to
    /// reconnect. Such a connection is never handed out again.
    pub(super) fn is_retired(&self) -> bool {
        self.shared.retired.is_cancelled()
    }

    /// What the connection shares with its tasks.
    pub(super) fn shared(&self) -> &Arc<Shared<W>> {
        &self.shared
    }

    /// Closes the connection, failing its waiting calls; `reason` goes to `on_close` hooks.
    pub(super) fn close(&self, reason: CloseReason) {
        self.shared.close(reason, self.shared.lost());
    }

    /// Sends the wire's keep-alive request, if it has one, with `timeout`: as a call that any
    /// reply completes, or one-way.
    pub(super) async fn keep_alive(&self, timeout: Duration) -> Result<()> {
        let Some(keep_alive) = self.wire.keep_alive(timeout) else {
            return Ok(());
        };
        if keep_alive.call {
            self.call(&*keep_alive.request, timeout).await.map(drop)
        } else {
            self.send_oneway(&*keep_alive.request, timeout).await
        }
    }

    /// Sends `request` and waits up to `timeout` for its reply.
    pub(super) async fn call(
        &self,
        request: &(impl Outgoing + ?Sized),
        timeout: Duration,
    ) -> Result<W::Response> {
        let (request_id, reply) = {
            let mut pending = self.shared.pending();
            if let Some((error, _)) = &pending.closed {
                return Err(error.clone());
            }
            let request_id = pending.next_id();
            let (sender, reply) = oneshot::channel();
            pending.calls.insert(request_id, sender);
            (request_id, reply)
        };
        let _guard = PendingGuard {
            shared: &self.shared,
            request_id,
        };
        let frame = request.encode(request_id, &self.codec)?;
        let exchange = async {
            self.send(frame).await?;
            // the sender is gone only if the connection closed without answering
            reply
                .await
                .unwrap_or_else(|_| Err(self.shared.closed_error()))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(reply) => reply,
            Err(_) => Err(Error::timeout(format!(
                "{} got no reply from {} within {} ms (request id {request_id})",
                request.describe(),
                self.shared.endpoint,
                timeout.as_millis()
            ))),
        }
    }

    /// Queues the one-way `request`, waiting up to `timeout` for room in the queue.
    pub(super) async fn send_oneway(
        &self,
        request: &(impl Outgoing + ?Sized),
        timeout: Duration,
    ) -> Result<()> {
        let request_id = {
            let mut pending = self.shared.pending();
            if let Some((error, _)) = &pending.closed {
                return Err(error.clone());
            }
            pending.next_id()
        };
        let frame = request.encode(request_id, &self.codec)?;
        match tokio::time::timeout(timeout, self.send(frame)).await {
            Ok(sent) => sent,
            Err(_) => Err(Error::timeout(format!(
                "{} could not be queued for {} within {} ms",
                request.describe(),
                self.shared.endpoint,
                timeout.as_millis()
            ))),
        }
    }

    async fn send(&self, frame: Bytes) -> Result<()> {
        if self.frames.send(frame).await.is_err() {
            // the writer has stopped, which closed the connection; make sure of it
            self.shared.close(CloseReason::Stopped, self.shared.lost());
            return Err(self.shared.closed_error());
        }
        Ok(())
    }
}

/// The writer task: writes queued frames until the connection closes or its owner stops.
async fn run_writer<W: Wire, S: AsyncWrite + Unpin>(
    shared: Arc<Shared<W>>,
    mut queue: mpsc::Receiver<Bytes>,
    write: S,
    owner: Owner,
) {
    let _close = CloseOnDrop(shared.clone());
    let mut writer = write;
    let (reason, error) = tokio::select! {
        biased;
        () = shared.closed.cancelled() => return,
        () = owner.object.cancelled() => owner.stop_reason(&shared.endpoint),
        error = write_frames(&shared, &mut queue, &mut writer) => match error {
            Some(error) => {
                let message = format!("cannot send to {}: {error}", shared.endpoint);
                io_failure(error, message)
            }
            None => (CloseReason::Dropped, shared.lost()),
        },
    };
    shared.close(reason, error);
}

/// Writes frames as they come, gathering those queued together. Returns the write error, or
/// `None` once every handle of the connection is gone.
async fn write_frames<W: Wire, S: AsyncWrite + Unpin>(
    shared: &Shared<W>,
    queue: &mut mpsc::Receiver<Bytes>,
    writer: &mut S,
) -> Option<io::Error> {
    while let Some(frame) = queue.recv().await {
        if let Err(error) = crate::framing::write_queued(writer, frame, queue).await {
            return Some(error);
        }
        shared.touch();
    }
    None
}

/// The reader task: completes calls with their replies and routes pushes until the connection
/// closes or its owner stops.
async fn run_reader<W: Wire, R: AsyncRead + Unpin>(
    shared: Arc<Shared<W>>,
    mut input: FramedRead<R, WireDecoder<W>>,
    mut pushes: impl FnMut(W::Push),
    owner: Owner,
) {
    let _close = CloseOnDrop(shared.clone());
    let (reason, error) = tokio::select! {
        biased;
        () = shared.closed.cancelled() => return,
        () = owner.object.cancelled() => owner.stop_reason(&shared.endpoint),
        closed = read_incoming(&shared, &mut input, &mut pushes) => closed,
    };
    shared.close(reason, error);
}

/// Reads messages until the connection fails; returns why it did: the reason for `on_close`
/// hooks and the error for waiting calls.
async fn read_incoming<W: Wire, R: AsyncRead + Unpin>(
    shared: &Shared<W>,
    input: &mut FramedRead<R, WireDecoder<W>>,
    pushes: &mut impl FnMut(W::Push),
) -> (CloseReason, Error) {
    let endpoint = &shared.endpoint;
    loop {
        let incoming = match input.next().await {
            Some(Ok(incoming)) => incoming,
            None => {
                return (
                    CloseReason::Eof,
                    Error::connect(format!("connection to {endpoint} closed by the server")),
                )
            }
            Some(Err(ReadError::Io(error))) => {
                let message = format!("connection to {endpoint} failed: {error}");
                return io_failure(error, message);
            }
            Some(Err(ReadError::Bad(BadInput::Frame(error)))) => {
                warn!(%endpoint, %error, "bad frame from the server; closing the connection");
                let message = format!("bad frame from {endpoint}: {error}");
                return (CloseReason::BadFrame(error), Error::connect(message));
            }
            Some(Err(ReadError::Bad(BadInput::Packet(error)))) => {
                warn!(%endpoint, %error, "undecodable response packet; closing the connection");
                let message = format!("undecodable response from {endpoint}: {error}");
                return (CloseReason::BadPacket(error), Error::connect(message));
            }
        };
        match incoming {
            Incoming::Response {
                request_id,
                response,
            } => shared.complete(request_id, response),
            Incoming::Reconnect => shared.retire(CloseReason::Reconnect),
            Incoming::Push(push) => pushes(push),
            Incoming::Skip(why) => debug!(%endpoint, "dropped {why}"),
        }
    }
}

/// One endpoint of an object and its current connection, if any.
pub(super) struct EndpointSlot<W: Wire> {
    endpoint: Endpoint,
    current: Mutex<Option<Arc<Connection<W>>>>,
    /// The wait before the next reconnect attempt in push mode: zero until an attempt is made,
    /// then growing by the backoff; zero again once a connection has lived long enough.
    reconnect_delay: Mutex<Duration>,
    /// Held while connecting, so that concurrent calls share one attempt; holds the time and
    /// error of the last failed attempt.
    connecting: tokio::sync::Mutex<Option<(Instant, Error)>>,
    health: Health,
    /// Set once the endpoint has left its object's list: it connects no more.
    removed: AtomicBool,
    /// Set while a task reconnects the endpoint in push mode, so that one does.
    reconnecting: AtomicBool,
    /// Told when the endpoint goes down or comes up, for route watches.
    topology: Arc<watch::Sender<u64>>,
}

/// Whether an endpoint is up: a failure (a connect refused or timed out, a connection lost to
/// an error) marks it down until a retry time that backs off with each failure in a row.
#[derive(Default)]
struct Health {
    /// Whether the last attempt failed: read without a lock on every call.
    failing: AtomicBool,
    /// When the endpoint is tried again, and the wait that led there.
    retry: Mutex<Option<(Instant, Duration)>>,
}

impl<W: Wire> EndpointSlot<W> {
    pub(super) fn new(endpoint: Endpoint, topology: Arc<watch::Sender<u64>>) -> Self {
        Self {
            topology,
            endpoint,
            current: Mutex::new(None),
            reconnect_delay: Mutex::new(Duration::ZERO),
            connecting: tokio::sync::Mutex::new(None),
            health: Health::default(),
            removed: AtomicBool::new(false),
            reconnecting: AtomicBool::new(false),
        }
    }

    /// Claims the endpoint's reconnecting for the caller: `false` if another task has it.
    /// [`end_reconnecting`](Self::end_reconnecting) gives it back.
    pub(super) fn start_reconnecting(&self) -> bool {
        !self.reconnecting.swap(true, Ordering::AcqRel)
    }

    /// Gives back what [`start_reconnecting`](Self::start_reconnecting) claimed.
    pub(super) fn end_reconnecting(&self) {
        self.reconnecting.store(false, Ordering::Release);
    }

    /// The endpoint.
    pub(super) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether the endpoint failed and is not yet due for a retry.
    pub(super) fn is_down(&self) -> bool {
        self.health.failing.load(Ordering::Relaxed)
            && lock(&self.health.retry).is_some_and(|(at, _)| Instant::now() < at)
    }

    /// Whether the last attempt to reach the endpoint failed (until one succeeds), whatever
    /// the time: what route watches go by, since time passing is no event.
    pub(super) fn is_failing(&self) -> bool {
        self.health.failing.load(Ordering::Relaxed)
    }

    /// When the endpoint is due for a retry: `None` if it has not failed.
    pub(super) fn retry_at(&self) -> Option<Instant> {
        if !self.health.failing.load(Ordering::Relaxed) {
            return None;
        }
        lock(&self.health.retry).map(|(at, _)| at)
    }

    /// Marks the endpoint down: until now plus the wait after the last one (`backoff`'s first
    /// wait after a success).
    pub(super) fn record_failure(&self, backoff: &ReconnectBackoff) {
        let mut retry = lock(&self.health.retry);
        let delay = backoff.next(retry.map_or(Duration::ZERO, |(_, delay)| delay));
        *retry = Some((Instant::now() + delay, delay));
        drop(retry);
        if !self.health.failing.swap(true, Ordering::Relaxed) {
            self.topology.send_modify(|changes| *changes += 1);
        }
        debug!(endpoint = %self.endpoint, ?delay, "endpoint down");
    }

    /// Marks the endpoint up: a connection was made.
    fn record_success(&self) {
        if self.health.failing.swap(false, Ordering::Relaxed) {
            *lock(&self.health.retry) = None;
            self.topology.send_modify(|changes| *changes += 1);
        }
    }

    /// The endpoint left its object's list: it connects no more, and its connection takes no
    /// new calls and closes once its calls in flight are done.
    pub(super) fn remove(&self) {
        self.removed.store(true, Ordering::Relaxed);
        let current = lock(&self.current).clone();
        if let Some(connection) = current {
            connection.shared.retire(CloseReason::Removed);
        }
    }

    /// Whether the endpoint left its object's list.
    pub(super) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    /// The open connection taking calls, if there is one.
    pub(super) fn live(&self) -> Option<Arc<Connection<W>>> {
        lock(&self.current)
            .as_ref()
            .filter(|connection| !connection.is_retired())
            .cloned()
    }

    /// Closes the current connection, if any, with `reason` (the object is being dropped).
    pub(super) fn close(&self, reason: CloseReason) {
        let current = lock(&self.current).take();
        if let Some(connection) = current {
            connection.close(reason);
        }
    }

    /// The wait before the next reconnect attempt; the one after grows by `backoff`.
    pub(super) fn next_reconnect_delay(&self, backoff: &ReconnectBackoff) -> Duration {
        let mut delay = lock(&self.reconnect_delay);
        let current = *delay;
        *delay = backoff.next(current);
        current
    }

    /// The next reconnect attempt is made at once.
    pub(super) fn reset_reconnect_delay(&self) {
        *lock(&self.reconnect_delay) = Duration::ZERO;
    }

    /// The open connection, and whether `open` just made it: `open` runs if there is none.
    /// Calls that wait while another connects share its outcome rather than trying again one
    /// after the other. A failed attempt marks the endpoint down (see [`Self::is_down`]),
    /// waiting `backoff` before it is tried again.
    pub(super) async fn connection<F, Fut>(
        &self,
        backoff: &ReconnectBackoff,
        open: F,
    ) -> Result<(Arc<Connection<W>>, bool)>
    where
        F: FnOnce(Endpoint) -> Fut,
        Fut: Future<Output = Result<Connection<W>>>,
    {
        if let Some(connection) = self.live() {
            return Ok((connection, false));
        }
        let started = Instant::now();
        let mut last_failure = self.connecting.lock().await;
        if let Some(connection) = self.live() {
            return Ok((connection, false));
        }
        if self.is_removed() {
            return Err(Error::connect(format!(
                "{} left the object's endpoint list",
                self.endpoint
            )));
        }
        if let Some((at, error)) = &*last_failure {
            if *at >= started {
                return Err(error.clone());
            }
        }
        match open(self.endpoint.clone()).await {
            Ok(connection) => {
                let connection = Arc::new(connection);
                // a retired connection left here closes once its calls in flight are done
                *lock(&self.current) = Some(connection.clone());
                *last_failure = None;
                self.record_success();
                if self.is_removed() {
                    // removed while connecting: this call may use it, no other will
                    connection.shared.retire(CloseReason::Removed);
                }
                Ok((connection, true))
            }
            Err(error) => {
                debug!(endpoint = %self.endpoint, %error, "connect failed");
                *last_failure = Some((Instant::now(), error.clone()));
                self.record_failure(backoff);
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_wrap_from_max_to_one_and_skip_zero() {
        assert_eq!(next_request_id(0), 1);
        assert_eq!(next_request_id(1), 2);
        assert_eq!(next_request_id(i32::MAX - 1), i32::MAX);
        assert_eq!(next_request_id(i32::MAX), 1);
        assert_eq!(next_request_id(-5), 1);
    }

    #[test]
    fn pending_ids_skip_calls_still_waiting_after_a_wrap() {
        let mut pending = Pending::<super::super::wire::TarsWire> {
            last_id: i32::MAX - 1,
            ..Pending::default()
        };
        for id in [1, 2] {
            pending.calls.insert(id, oneshot::channel().0);
        }
        assert_eq!(pending.next_id(), i32::MAX);
        assert_eq!(pending.next_id(), 3);
        assert_eq!(pending.next_id(), 4);
    }
}
