//! One endpoint of an object: its TCP connection, made on first use and remade after a loss.
//!
//! A [`Connection`] runs two tasks. The writer takes whole frames from a bounded queue and
//! writes them through a buffer, flushing when the queue is empty, so that concurrent calls
//! share system calls. The reader decodes [`ResponsePacket`]s and completes the waiting call
//! by request id; a push (request id 0) goes to [`ObjectProxy::on_push`]. Whichever task
//! ends first closes the connection: every call still waiting fails at once with
//! [`ReturnCode::PROXY_CONNECT_ERR`](crate::packet::ReturnCode::PROXY_CONNECT_ERR), the other
//! task stops, and the next call through the [`EndpointSlot`] connects again.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::proxy::ObjectProxy;
use super::request::Request;
use super::CommunicatorConfig;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::framing::{FrameCodec, FrameError};
use crate::packet::ResponsePacket;
use crate::TarsStruct;

/// Frames queued for the writer before callers wait for room.
const QUEUE_LEN: usize = 1024;

/// The writer's buffer: frames queued together are written together up to this size.
const WRITE_BUFFER_LEN: usize = 64 * 1024;

/// What a waiting call receives: its reply, or why the connection closed.
type Reply = Result<ResponsePacket>;

/// Locks a mutex whose data stays consistent even if a holder panicked (no code panics while
/// holding these locks; this only avoids turning one panic into many).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
#[derive(Default)]
struct Pending {
    calls: HashMap<i32, oneshot::Sender<Reply>>,
    /// The last request id handed out on this connection.
    last_id: i32,
    /// Why the connection closed, once it has.
    closed: Option<Error>,
}

impl Pending {
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

/// What a connection's handle and its two tasks share.
struct Shared {
    endpoint: Endpoint,
    pending: Mutex<Pending>,
    /// Cancelled when the connection closes, which stops both tasks.
    closed: CancellationToken,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        lock(&self.pending)
    }

    /// Closes the connection for `error` unless it is closed already: fails every waiting call
    /// with `error` and stops both tasks.
    fn close(&self, error: Error) {
        let calls = {
            let mut pending = self.pending();
            if pending.closed.is_some() {
                return;
            }
            debug!(endpoint = %self.endpoint, %error, "connection closed");
            pending.closed = Some(error.clone());
            std::mem::take(&mut pending.calls)
        };
        self.closed.cancel();
        for (_, call) in calls {
            // the caller may have stopped waiting
            let _ = call.send(Err(error.clone()));
        }
    }

    /// Why the connection closed.
    fn closed_error(&self) -> Error {
        self.pending().closed.clone().unwrap_or_else(|| self.lost())
    }

    fn lost(&self) -> Error {
        Error::connect(format!("connection to {} closed", self.endpoint))
    }

    /// Hands a reply to the call waiting for it.
    fn complete(&self, reply: ResponsePacket) {
        let call = self.pending().calls.remove(&reply.request_id);
        match call {
            Some(call) => {
                // the caller may have given up just now; the reply is dropped either way
                let _ = call.send(Ok(reply));
            }
            None => debug!(
                endpoint = %self.endpoint,
                request_id = reply.request_id,
                "dropped a reply for no waiting call (it timed out or was cancelled)"
            ),
        }
    }
}

/// Closes the connection when a task ends in any way, including being dropped unfinished
/// because its runtime shut down.
struct CloseOnDrop(Arc<Shared>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close(self.0.lost());
    }
}

/// Removes a call's pending entry when the call stops waiting: a timeout, an error, or the
/// caller dropping the call's future.
struct PendingGuard<'a> {
    shared: &'a Shared,
    request_id: i32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.pending().calls.remove(&self.request_id);
    }
}

/// An open connection to one endpoint. Dropping the last handle closes it.
pub(super) struct Connection {
    shared: Arc<Shared>,
    frames: mpsc::Sender<Bytes>,
    codec: FrameCodec,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.closed.cancel();
    }
}

impl Connection {
    /// Connects to `endpoint` within the configured connect timeout and starts the tasks.
    /// Pushes go to `object`.
    async fn open(
        endpoint: &Endpoint,
        config: &CommunicatorConfig,
        object: Weak<ObjectProxy>,
    ) -> Result<Self> {
        let stream = match tokio::time::timeout(
            config.connect_timeout,
            TcpStream::connect(endpoint.address()),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                return Err(Error::connect(format!(
                    "cannot connect to {endpoint}: {error}"
                )))
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
        let (read, write) = stream.into_split();
        let codec = FrameCodec::new(config.max_frame_len);
        let shared = Arc::new(Shared {
            endpoint: endpoint.clone(),
            pending: Mutex::new(Pending::default()),
            closed: CancellationToken::new(),
        });
        let (frames, queue) = mpsc::channel(QUEUE_LEN);
        tokio::spawn(run_writer(shared.clone(), queue, write));
        tokio::spawn(run_reader(
            shared.clone(),
            FramedRead::new(read, codec),
            object,
        ));
        Ok(Self {
            shared,
            frames,
            codec,
        })
    }

    /// Whether the connection has closed; a closed connection is never used again.
    pub(super) fn is_closed(&self) -> bool {
        self.shared.closed.is_cancelled()
    }

    /// Sends `request` and waits up to `timeout` for its reply.
    pub(super) async fn call(
        &self,
        request: &Request<'_>,
        timeout: Duration,
    ) -> Result<ResponsePacket> {
        let (request_id, reply) = {
            let mut pending = self.shared.pending();
            if let Some(error) = &pending.closed {
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
                "{}::{} got no reply from {} within {} ms (request id {request_id})",
                request.servant,
                request.func,
                self.shared.endpoint,
                timeout.as_millis()
            ))),
        }
    }

    /// Queues the one-way `request`, waiting up to `timeout` for room in the queue.
    pub(super) async fn send_oneway(&self, request: &Request<'_>, timeout: Duration) -> Result<()> {
        let request_id = {
            let mut pending = self.shared.pending();
            if let Some(error) = &pending.closed {
                return Err(error.clone());
            }
            pending.next_id()
        };
        let frame = request.encode(request_id, &self.codec)?;
        match tokio::time::timeout(timeout, self.send(frame)).await {
            Ok(sent) => sent,
            Err(_) => Err(Error::timeout(format!(
                "{}::{} could not be queued for {} within {} ms",
                request.servant,
                request.func,
                self.shared.endpoint,
                timeout.as_millis()
            ))),
        }
    }

    async fn send(&self, frame: Bytes) -> Result<()> {
        if self.frames.send(frame).await.is_err() {
            // the writer has stopped, which closed the connection; make sure of it
            self.shared.close(self.shared.lost());
            return Err(self.shared.closed_error());
        }
        Ok(())
    }
}

/// The writer task: writes queued frames until the connection closes.
async fn run_writer(shared: Arc<Shared>, mut queue: mpsc::Receiver<Bytes>, write: OwnedWriteHalf) {
    let _close = CloseOnDrop(shared.clone());
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER_LEN, write);
    let error = tokio::select! {
        biased;
        () = shared.closed.cancelled() => return,
        error = write_frames(&mut queue, &mut writer) => match error {
            Some(error) => Error::connect(format!("cannot send to {}: {error}", shared.endpoint)),
            None => shared.lost(),
        },
    };
    shared.close(error);
}

/// Writes frames as they come, each batch of queued frames with one flush. Returns the write
/// error, or `None` once every handle of the connection is gone.
async fn write_frames(
    queue: &mut mpsc::Receiver<Bytes>,
    writer: &mut BufWriter<OwnedWriteHalf>,
) -> Option<io::Error> {
    while let Some(frame) = queue.recv().await {
        if let Err(error) = write_batch(frame, queue, writer).await {
            return Some(error);
        }
    }
    None
}

async fn write_batch(
    first: Bytes,
    queue: &mut mpsc::Receiver<Bytes>,
    writer: &mut BufWriter<OwnedWriteHalf>,
) -> io::Result<()> {
    writer.write_all(&first).await?;
    while let Ok(frame) = queue.try_recv() {
        writer.write_all(&frame).await?;
    }
    writer.flush().await
}

/// The reader task: completes calls with their replies until the connection closes.
async fn run_reader(
    shared: Arc<Shared>,
    mut frames: FramedRead<OwnedReadHalf, FrameCodec>,
    object: Weak<ObjectProxy>,
) {
    let _close = CloseOnDrop(shared.clone());
    let error = tokio::select! {
        biased;
        () = shared.closed.cancelled() => return,
        error = read_replies(&shared, &mut frames, &object) => error,
    };
    shared.close(error);
}

/// Reads packets until the connection fails; returns why it did.
async fn read_replies(
    shared: &Shared,
    frames: &mut FramedRead<OwnedReadHalf, FrameCodec>,
    object: &Weak<ObjectProxy>,
) -> Error {
    let endpoint = &shared.endpoint;
    loop {
        let frame = match frames.next().await {
            Some(Ok(frame)) => frame,
            None => {
                return Error::connect(format!("connection to {endpoint} closed by the server"))
            }
            Some(Err(FrameError::Io(error))) => {
                return Error::connect(format!("connection to {endpoint} failed: {error}"))
            }
            Some(Err(error)) => {
                warn!(%endpoint, %error, "bad frame from the server; closing the connection");
                return Error::connect(format!("bad frame from {endpoint}: {error}"));
            }
        };
        let packet = match ResponsePacket::decode_bytes(&frame) {
            Ok(packet) => packet,
            Err(error) => {
                warn!(%endpoint, %error, "undecodable response packet; closing the connection");
                return Error::connect(format!("undecodable response from {endpoint}: {error}"));
            }
        };
        if packet.is_push() {
            // the object is gone only while it is being dropped, which closes this connection
            if let Some(object) = object.upgrade() {
                object.on_push(packet);
            }
        } else {
            shared.complete(packet);
        }
    }
}

/// One endpoint of an object and its current connection, if any.
pub(super) struct EndpointSlot {
    endpoint: Endpoint,
    current: Mutex<Option<Arc<Connection>>>,
    /// Held while connecting, so that concurrent calls share one attempt; holds the time and
    /// error of the last failed attempt.
    connecting: tokio::sync::Mutex<Option<(Instant, Error)>>,
    /// When the last attempt failed, readable without waiting for an attempt in progress.
    failed_at: Mutex<Option<Instant>>,
}

impl EndpointSlot {
    pub(super) fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(None),
            failed_at: Mutex::new(None),
        }
    }

    /// Whether the last attempt to connect failed less than `interval` ago.
    pub(super) fn failed_within(&self, interval: Duration) -> bool {
        lock(&self.failed_at).is_some_and(|at| at.elapsed() < interval)
    }

    /// The open connection, if there is one.
    fn live(&self) -> Option<Arc<Connection>> {
        lock(&self.current)
            .as_ref()
            .filter(|connection| !connection.is_closed())
            .cloned()
    }

    /// The open connection, connecting first if there is none. Calls that wait while another
    /// connects share its outcome rather than trying again one after the other.
    pub(super) async fn connection(&self, object: &ObjectProxy) -> Result<Arc<Connection>> {
        if let Some(connection) = self.live() {
            return Ok(connection);
        }
        let started = Instant::now();
        let mut last_failure = self.connecting.lock().await;
        if let Some(connection) = self.live() {
            return Ok(connection);
        }
        if let Some((at, error)) = &*last_failure {
            if *at >= started {
                return Err(error.clone());
            }
        }
        match Connection::open(&self.endpoint, object.config(), object.weak()).await {
            Ok(connection) => {
                let connection = Arc::new(connection);
                *lock(&self.current) = Some(connection.clone());
                *last_failure = None;
                *lock(&self.failed_at) = None;
                Ok(connection)
            }
            Err(error) => {
                debug!(endpoint = %self.endpoint, %error, "connect failed");
                let now = Instant::now();
                *last_failure = Some((now, error.clone()));
                *lock(&self.failed_at) = Some(now);
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
        let mut pending = Pending {
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
