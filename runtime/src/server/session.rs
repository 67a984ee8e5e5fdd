//! One accepted connection: the reader, which runs each request in a task of its own, and the
//! writer, which writes the queued frames.
//!
//! The connection task (the reader) owns the request tasks in a [`JoinSet`], so none outlives
//! it, and the writer task, which it waits for before it ends (both are aborted if the
//! connection task is dropped). Whatever ends the connection gives the
//! context's `closed` signal; the writer then writes what is queued (bounded by the linger
//! time) and shuts the socket down, unless the connection was aborted, in which case it drops
//! the socket at once.
//!
//! Flow control: a request runs until its reply is queued, and a reply waits for room in the
//! connection's outgoing queue (bounded in bytes, per connection and across the server). The
//! reader reads nothing while `max_in_flight` requests are running or while the queue has no
//! room, so a client that sends faster than it reads is slowed down by TCP, never cut off. The
//! writer cuts off a peer that takes no byte for the stall timeout. When the peer closes its
//! sending side, the reader stops and the running requests are answered (within the linger
//! time) before the connection closes.
//!
//! Once the connection is closed, the connection task runs its close callbacks
//! ([`Current::on_close`](super::Current::on_close)) and starts, in its task set, each
//! servant's [`on_connection_closed`](super::Servant::on_connection_closed) with the last
//! request dispatched to that servant on the connection. On a graceful shutdown the reader
//! stops and, on a TARS connection, queues TarsGo's close packet
//! ([`PushFrame::reconnect`](crate::server::PushFrame::reconnect)) ahead of the running requests'
//! replies.
//!
//! All of this is the same for TARS servants and raw servants: what differs, how requests are
//! cut off the input and what is done with each, is a [`RequestProtocol`]
//! ([`TarsRequests`](super::dispatch::TarsRequests) or [`RawRequests`](super::raw::RawRequests)).

use std::future::{self, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::{BoxFuture, Either, OptionFuture};
use futures::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::connection::{ConnectionContext, Running};
use super::outgoing::{Held, Outgoing, OutgoingFrames, TotalBudget};
use super::tasks::{spawn_owned, OwnedTask, Signals};
use crate::framing::{FrameSource, ProgressTimeout};
use crate::support::log_join;

/// The room made in the input buffer when less than [`MIN_READ`] is left, at first: its first
/// allocation, and what it grows by until reads fill it (then up to [`MAX_READ`]).
const READ_RESERVE: usize = 8 * 1024;
/// The least room a read is given: what is left of the buffer is read into until then, so that
/// requests still held by their handlers do not make every read allocate.
const MIN_READ: usize = 1024;
/// The most one read takes: the input buffer never holds more than the maximum frame length
/// plus this.
const MAX_READ: usize = 64 * 1024;

/// The requests a reader dispatches before it lets the other tasks of its worker thread run:
/// the handlers that finish at once run in the reader's task, so a client that sends without
/// pause would otherwise keep its writer (which the replies wake on the same thread) waiting
/// until the input runs dry or the outgoing queue fills.
const REQUESTS_BEFORE_YIELD: usize = 256;

/// The settings of every connection of a listener.
#[derive(Debug)]
pub(super) struct ConnectionConfig {
    pub(super) max_frame_len: usize,
    /// The bytes of replies and pushes one connection may have queued.
    pub(super) queue_budget: usize,
    /// The bytes all the server's connections may have queued together.
    pub(super) total_budget: Arc<TotalBudget>,
    pub(super) max_in_flight: usize,
    pub(super) idle_timeout: Duration,
    /// How long a frame may take to arrive once its first byte has.
    pub(super) frame_timeout: Duration,
    /// How long a request may wait before its handler starts (its own `iTimeout` too).
    pub(super) queue_timeout: Duration,
    /// How long the peer may take no byte while output is waiting.
    pub(super) stall_timeout: Duration,
    /// How long a closing connection may take to write what is queued, and to finish its
    /// requests after the peer closed its sending side.
    pub(super) linger: Duration,
}

/// What differs between the connections of TARS servants and those of a raw servant
/// ([`RawServant`](crate::server::RawServant)): how requests are cut off the input and what
/// is done with each. Everything else (reading, the in-flight limit, the idle timeout, the
/// writer, closing and the graceful shutdown) is the session's, the same for both.
pub(super) trait RequestProtocol: Send + 'static {
    /// Whether the connection speaks a raw servant's protocol: no TARS packet may go on it.
    const RAW: bool;

    /// Cuts the next whole request off `input`: `Ok(None)` when more bytes are needed, `Err`
    /// with the reason to close the connection for input that can never be a request.
    fn split(&mut self, input: &mut BytesMut) -> Result<Option<Bytes>, String>;

    /// Runs the handler of the request `frame`, read in full at `received_at`, or the server's
    /// own answer to it (spawned in `requests` if it has to wait), keeping `running` until its
    /// reply is queued; `Err` with the reason to close the connection for a frame that is not
    /// a request.
    fn handle(
        &mut self,
        frame: Bytes,
        received_at: Instant,
        running: Running,
        context: &Arc<ConnectionContext>,
        requests: &mut JoinSet<()>,
    ) -> Result<(), String>;

    /// The frame queued, if there is room, when the server starts shutting down.
    fn shutdown_notice(&self) -> Option<Bytes>;

    /// The calls to make once the connection has closed: the servants'
    /// `on_connection_closed`, each with the last request dispatched to it.
    fn closing(&mut self) -> Vec<BoxFuture<'static, ()>>;
}

/// Why the reader stopped.
enum ReadEnd {
    /// The server is shutting down: finish the running requests, then close.
    Shutdown,
    /// The peer closed its sending side: finish the running requests (within the linger
    /// time), then close.
    PeerDone,
    /// The connection is closing (or closed) for this reason.
    Close(String),
}

/// A connected socket a session runs on: plain TCP, or TLS over TCP once the handshake is
/// done. Each is split into halves of its own kind, so the plain TCP path reads and writes
/// its socket as it did before TLS existed, with no boxing or lock.
pub(super) trait Transport: Send + 'static {
    /// What the reader reads.
    type Read: SessionRead;
    /// What the writer writes.
    type Write: AsyncWrite + Unpin + Send + 'static;

    /// The TCP socket underneath.
    fn tcp(&self) -> &TcpStream;

    /// The reading and the writing halves.
    fn split(self) -> (Self::Read, Self::Write);
}

/// The reading half of a [`Transport`].
pub(super) trait SessionRead: Send + 'static {
    /// Waits for input and reads what there is into `input`, at most [`MAX_READ`] bytes,
    /// making room first (`reserve` bytes when less than [`MIN_READ`] is left): `Ok(0)` at the
    /// end of the input, a [`WouldBlock`](io::ErrorKind::WouldBlock) error when there turned
    /// out to be nothing to read after all. Cancel safe: dropped before it resolves, it has
    /// read nothing.
    fn read_some<'a>(
        &'a mut self,
        input: &'a mut BytesMut,
        reserve: usize,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
}

impl Transport for TcpStream {
    type Read = OwnedReadHalf;
    type Write = OwnedWriteHalf;

    fn tcp(&self) -> &TcpStream {
        self
    }

    fn split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        self.into_split()
    }
}

impl SessionRead for OwnedReadHalf {
    async fn read_some(&mut self, input: &mut BytesMut, reserve: usize) -> io::Result<usize> {
        // polled rather than `readable()`, whose waiting state is ten times the size: the
        // reader alone waits for the socket to be readable, and only then is room made, so
        // that an idle connection holds no input buffer
        future::poll_fn(|cx| self.as_ref().poll_read_ready(cx)).await?;
        // `poll_read` rather than `try_read`: a read that does not fill its room tells tokio
        // that the socket is drained, which saves the read that would find nothing
        future::poll_fn(|cx| {
            let mut room = read_room(input, reserve);
            match tokio_util::io::poll_read_buf(Pin::new(&mut *self), cx, &mut room) {
                Poll::Pending => Poll::Ready(Err(io::ErrorKind::WouldBlock.into())),
                read => read,
            }
        })
        .await
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    type Read = tokio::io::ReadHalf<Self>;
    type Write = tokio::io::WriteHalf<Self>;

    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }

    fn split(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self)
    }
}

impl<T: AsyncRead + Send + 'static> SessionRead for tokio::io::ReadHalf<T> {
    async fn read_some(&mut self, input: &mut BytesMut, reserve: usize) -> io::Result<usize> {
        self.read_buf(&mut read_room(input, reserve)).await
    }
}

/// `timeout` from now; `None` for one too long to count (`Duration::MAX`: never).
fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Sleeps until `deadline`; for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => future::pending().await,
    }
}

/// Serves one connection until it closes and its tasks have ended; `open` is kept until then
/// (it counts the connection).
///
/// The connection is set up, and its writer spawned, when this is called (on a tokio runtime):
/// the future returned then holds what the connection needs while it runs and not, besides,
/// the arguments it was made from, as an `async fn`'s state would for its whole life. An idle
/// connection is mostly this future.
pub(super) fn serve<P: RequestProtocol, S: Transport, G: Send + 'static>(
    stream: S,
    peer: SocketAddr,
    protocol: P,
    config: Arc<ConnectionConfig>,
    signals: Signals,
    open: G,
) -> impl Future<Output = ()> + Send {
    let Some((mut session, mut reader)) = Session::open(stream, peer, protocol, config, signals)
    else {
        return Either::Left(future::ready(()));
    };
    Either::Right(async move {
        // runs the close callbacks even if this task is dropped, e.g. with its server
        let _guard = CloseOnDrop(session.context.clone());
        let end = session.read(&mut reader).await;
        drop(reader);
        let (finished, drain_deadline) = session.stop_reading(end);
        let forced = session.drain(finished, drain_deadline).await;
        session.close_out(forced).await;
        drop(open);
    })
}

/// One connection being served: what its task owns.
struct Session<P> {
    context: Arc<ConnectionContext>,
    protocol: P,
    config: Arc<ConnectionConfig>,
    signals: Signals,
    /// The requests' handlers (or the server's own answers), each until its reply is queued.
    requests: JoinSet<()>,
    /// Writes the queued frames; aborted if the session is dropped.
    writer: OwnedTask<()>,
}

/// The reading side of a connection: its socket, the bytes read and not yet cut into requests,
/// and its deadlines.
struct Reader<R> {
    half: R,
    input: BytesMut,
    /// When the last read ended: every request it completed was received then.
    received_at: Instant,
    idle_deadline: Option<Instant>,
    /// Set while a frame has begun to arrive and more of it is awaited.
    frame_deadline: Option<Instant>,
    /// The room made when the input buffer runs out: doubled, up to [`MAX_READ`], each time a
    /// read fills all the room it had (a peer sending faster than one read takes), so that a
    /// pipelining client is read in few large reads; back to [`READ_RESERVE`] when the
    /// buffer is let go.
    reserve: usize,
    /// Requests dispatched since the reader last let other tasks run.
    dispatched: usize,
}

impl<P: RequestProtocol> Session<P> {
    /// Sets the connection up and spawns its writer; `None` for a connection lost already.
    fn open<S: Transport>(
        stream: S,
        peer: SocketAddr,
        protocol: P,
        config: Arc<ConnectionConfig>,
        signals: Signals,
    ) -> Option<(Self, Reader<S::Read>)> {
        if let Err(error) = stream.tcp().set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let local_addr = match stream.tcp().local_addr() {
            Ok(local_addr) => local_addr,
            Err(error) => {
                tracing::debug!(%peer, %error, "connection lost before it was served");
                return None;
            }
        };
        let (mut context, outgoing) = ConnectionContext::new(
            peer,
            local_addr,
            config.max_frame_len,
            config.queue_budget,
            config.total_budget.clone(),
        );
        if P::RAW {
            context = context.with_raw_protocol();
        }
        let context = Arc::new(context);
        tracing::debug!(connection = context.id(), %peer, %local_addr, raw = P::RAW, "connection opened");
        let (read_half, write_half) = stream.split();
        let writer = spawn_owned(write_frames(
            write_half,
            outgoing,
            context.clone(),
            config.stall_timeout,
            config.linger,
            signals.force.clone(),
        ));
        let reader = Reader {
            half: read_half,
            input: BytesMut::new(),
            received_at: Instant::now(),
            idle_deadline: deadline_after(config.idle_timeout),
            frame_deadline: None,
            reserve: READ_RESERVE,
            dispatched: 0,
        };
        let session = Self {
            context,
            protocol,
            config,
            signals,
            requests: JoinSet::new(),
            writer,
        };
        Some((session, reader))
    }

    /// What to do once reading has stopped: why the connection will close when its requests
    /// have been answered, and by when (if the peer is not to be waited for long).
    fn stop_reading(&mut self, end: ReadEnd) -> (&'static str, Option<Instant>) {
        match end {
            ReadEnd::Shutdown => {
                // e.g. TarsGo's close packet, so that the client reconnects elsewhere
                if let Some(notice) = self.protocol.shutdown_notice() {
                    if self.context.try_send(notice).is_err() {
                        tracing::debug!(connection = self.context.id(), peer = %self.context.peer_addr(), "no room for the shutdown notice");
                    }
                }
                // the shutdown timeout bounds it
                ("server shutting down", None)
            }
            ReadEnd::PeerDone => (
                "the peer closed the connection",
                deadline_after(self.config.linger),
            ),
            ReadEnd::Close(reason) => {
                self.context.close(&reason);
                ("closed", None)
            }
        }
    }

    /// Keeps the connection open for its running requests' replies until they have all been
    /// queued (then closes it, for `finished`), it closes, or `deadline`; returns whether the
    /// server's shutdown timeout ran out meanwhile.
    async fn drain(&mut self, finished: &str, deadline: Option<Instant>) -> bool {
        loop {
            tokio::select! {
                biased;
                () = self.signals.force.cancelled() => return true,
                () = self.context.closed_token().cancelled() => return false,
                joined = self.requests.join_next() => match joined {
                    Some(joined) => log_join(joined),
                    None => {
                        self.context.close(finished);
                        return false;
                    }
                },
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.context.close("the peer closed its side, and its requests did not finish within the linger time");
                    return false;
                }
            }
        }
    }

    /// The connection is closed: runs its close callbacks, then its servants'
    /// `on_connection_closed`, and waits for them, its requests and its writer to end (or
    /// cuts them short when the shutdown timeout runs out).
    async fn close_out(mut self, forced: bool) {
        if forced {
            self.cut_short().await;
        }
        self.context.run_close_callbacks();
        let calls = self.protocol.closing();
        if forced {
            // no time is left to wait for them: each runs up to its first wait
            for call in calls {
                let _ = call.now_or_never();
            }
        } else {
            self.wait_for(calls).await;
        }
        if let Err(error) = (&mut self.writer).await {
            log_join(Err(error));
        }
        tracing::debug!(connection = self.context.id(), peer = %self.context.peer_addr(), "connection ended");
    }

    /// Waits for the running requests and the `calls` to end; cancels what is left of them
    /// when the shutdown timeout runs out.
    async fn wait_for(&mut self, calls: Vec<BoxFuture<'static, ()>>) {
        let mut closing = JoinSet::new();
        for call in calls {
            closing.spawn(call);
        }
        while !(self.requests.is_empty() && closing.is_empty()) {
            tokio::select! {
                biased;
                () = self.signals.force.cancelled() => {
                    self.cut_short().await;
                    closing.shutdown().await;
                }
                Some(joined) = self.requests.join_next(), if !self.requests.is_empty() => log_join(joined),
                Some(joined) = closing.join_next(), if !closing.is_empty() => log_join(joined),
            }
        }
    }

    /// The shutdown timeout ran out: drops the connection and cancels its requests.
    async fn cut_short(&mut self) {
        self.context.abort("shutdown timeout reached");
        self.requests.shutdown().await;
    }

    /// Reads and dispatches requests until the connection closes, the peer closes its side, or
    /// the server shuts down.
    ///
    /// The requests already read are dispatched before anything more is read, while fewer than
    /// `max_in_flight` run and the running requests and the queued frames together hold less
    /// than the connection's budget; otherwise nothing is read until a request finishes or room
    /// is made. Input that holds more than the maximum frame length without a whole request in
    /// it closes the connection, so the input buffer never holds more than that plus one read;
    /// an empty one is let go, so that an idle connection holds none.
    async fn read<R: SessionRead>(&mut self, reader: &mut Reader<R>) -> ReadEnd {
        loop {
            if reader.dispatched >= REQUESTS_BEFORE_YIELD {
                reader.dispatched = 0;
                tokio::task::yield_now().await;
            }
            let at_limit = match self.dispatch_read(reader) {
                Ok(at_limit) => at_limit,
                Err(end) => return end,
            };
            if let Err(end) = self.check_input(reader, at_limit) {
                return end;
            }
            if let Some(end) = self.wait_for_input(reader, at_limit).await {
                return end;
            }
        }
    }

    /// Dispatches the whole requests already read, while the limits allow; returns whether
    /// a limit stopped it.
    fn dispatch_read<R: SessionRead>(&mut self, reader: &mut Reader<R>) -> Result<bool, ReadEnd> {
        loop {
            if self.requests.len() >= self.config.max_in_flight || self.context.is_busy() {
                return Ok(true);
            }
            let frame = match self.protocol.split(&mut reader.input) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(false),
                Err(reason) => return Err(self.bad_input(reason, "bad frame")),
            };
            reader.idle_deadline = deadline_after(self.config.idle_timeout);
            reader.frame_deadline = None;
            reader.dispatched += 1;
            let running = self.context.running(frame.len());
            let handled = self.protocol.handle(
                frame,
                reader.received_at,
                running,
                &self.context,
                &mut self.requests,
            );
            if let Err(reason) = handled {
                return Err(self.bad_input(reason, "bad request"));
            }
        }
    }

    /// Looks at what is left of the input once the requests in it are dispatched: lets an
    /// empty buffer go, refuses one too long for a frame, and starts the frame's clock.
    fn check_input<R>(&self, reader: &mut Reader<R>, at_limit: bool) -> Result<(), ReadEnd> {
        if at_limit {
            // waiting on the server: the peer is not late
            reader.frame_deadline = None;
        } else if reader.input.is_empty() {
            reader.input = BytesMut::new();
            reader.reserve = READ_RESERVE;
        } else {
            if reader.input.len() > self.config.max_frame_len {
                let reason = format!("no frame within {} bytes", self.config.max_frame_len);
                return Err(self.bad_input(reason, "bad frame"));
            }
            if reader.frame_deadline.is_none() {
                reader.frame_deadline = deadline_after(self.config.frame_timeout);
            }
        }
        Ok(())
    }

    /// Waits for input (unless at a limit), a request to finish, room in the outgoing queue,
    /// or a deadline; `Some` when reading is to stop.
    async fn wait_for_input<R: SessionRead>(
        &mut self,
        reader: &mut Reader<R>,
        at_limit: bool,
    ) -> Option<ReadEnd> {
        let outgoing = self.context.outgoing();
        // at a limit with no request running, only room in the queue lets reading go on; the
        // room may have been made since the limit was seen (the writer runs on its own), and
        // waiting for it then resolves at once
        let no_room = outgoing.is_exhausted() || (at_limit && self.requests.is_empty());
        // boxed, and made only when there is no room (rarely): its state is larger than the
        // rest of an idle connection's wait together
        let room = OptionFuture::from(no_room.then(|| Box::pin(outgoing.wait_for_room())));
        // one timer for both deadlines: the earlier one
        let deadline = match (reader.idle_deadline, reader.frame_deadline) {
            (Some(idle), Some(frame)) => Some(idle.min(frame)),
            (idle, frame) => idle.or(frame),
        };
        tokio::select! {
            biased;
            () = self.signals.shutdown.cancelled() => Some(ReadEnd::Shutdown),
            // closed from elsewhere: a servant, a failed or stalled write
            () = self.context.closed_token().cancelled() => Some(ReadEnd::Close("closed".into())),
            Some(joined) = self.requests.join_next(), if !self.requests.is_empty() => {
                log_join(joined);
                None
            }
            _ = room, if no_room => None,
            read = reader.half.read_some(&mut reader.input, reader.reserve), if !at_limit => match read {
                Ok(0) => Some(ReadEnd::PeerDone),
                Ok(_) => {
                    reader.received_at = Instant::now();
                    if reader.input.capacity() == reader.input.len() {
                        reader.reserve = (reader.reserve * 2).min(MAX_READ);
                    }
                    None
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => None,
                Err(error) => Some(ReadEnd::Close(format!("read failed: {error}"))),
            },
            () = sleep_until(deadline), if deadline.is_some() => self.deadline_passed(reader),
        }
    }

    /// The earlier of the reader's deadlines has come: closes an idle connection (one waiting
    /// for no reply and writing none) or one whose frame is late; `Some` when reading is to
    /// stop.
    fn deadline_passed<R>(&self, reader: &mut Reader<R>) -> Option<ReadEnd> {
        let now = Instant::now();
        if reader.idle_deadline.is_some_and(|idle| idle <= now) {
            // a connection waiting for its replies, or still writing them, is not idle
            if self.requests.is_empty() && self.context.outgoing().queued_bytes() == 0 {
                return Some(ReadEnd::Close("idle timeout".into()));
            }
            reader.idle_deadline = deadline_after(self.config.idle_timeout);
        }
        if reader.frame_deadline.is_some_and(|frame| frame <= now) {
            let reason = format!(
                "a frame did not arrive in full within {} ms of its first byte",
                self.config.frame_timeout.as_millis()
            );
            return Some(self.bad_input(reason, "slow frame"));
        }
        None
    }

    /// Logs input that can never be a request, naming the peer: the connection closes.
    fn bad_input(&self, reason: String, what: &str) -> ReadEnd {
        tracing::warn!(connection = self.context.id(), peer = %self.context.peer_addr(), reason, "{what}; closing the connection");
        ReadEnd::Close(reason)
    }
}

/// Closes the connection and runs its close callbacks when dropped: at the end of
/// [`serve`], where both have happened already, or if its task is dropped.
struct CloseOnDrop(Arc<ConnectionContext>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close("connection task ended");
        self.0.run_close_callbacks();
    }
}

/// The room of `input` the next read may fill: at most [`MAX_READ`] bytes, at least
/// [`MIN_READ`] (`reserve` bytes are made if need be).
fn read_room(input: &mut BytesMut, reserve: usize) -> bytes::buf::Limit<&mut BytesMut> {
    if input.capacity() - input.len() < MIN_READ {
        input.reserve(reserve);
    }
    input.limit(MAX_READ)
}

/// The writer's side of the queue: the frames it takes, whose room it gives back once they are
/// written, or when it is dropped (the connection ended before they were).
struct Taken<'a> {
    frames: &'a mut OutgoingFrames,
    outgoing: &'a Outgoing,
    held: Held,
}

impl<'a> Taken<'a> {
    fn new(frames: &'a mut OutgoingFrames, outgoing: &'a Outgoing) -> Self {
        Self {
            frames,
            outgoing,
            held: Held::default(),
        }
    }

    fn take(&mut self, frame: &Bytes) {
        self.outgoing.hold(&mut self.held, frame);
    }
}

impl FrameSource for Taken<'_> {
    fn next_frame(&mut self) -> Option<Bytes> {
        let frame = self.frames.try_recv().ok()?;
        self.take(&frame);
        Some(frame)
    }

    fn written(&mut self) {
        self.outgoing.release(&mut self.held);
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.written();
    }
}

/// Writes the queued frames until the connection closes, then what is left (for at most
/// `linger`), and shuts the socket down. A lone frame is written from its own (often shared)
/// bytes; a burst is gathered into one buffer per write, dropped when the burst ends, so that an
/// idle connection holds no write buffer. A peer that takes no byte for `stall_timeout` while
/// frames wait is cut off: the connection is aborted.
///
/// Not an `async fn`, so that the future does not keep its arguments besides what it makes of
/// them.
fn write_frames<W: AsyncWrite + Unpin + Send + 'static>(
    write_half: W,
    frames: OutgoingFrames,
    context: Arc<ConnectionContext>,
    stall_timeout: Duration,
    linger: Duration,
    force: CancellationToken,
) -> impl Future<Output = ()> + Send {
    let socket = ProgressTimeout::new(write_half, stall_timeout);
    write_all_frames(socket, frames, context, linger, force)
}

/// [`write_frames`], once the socket is wrapped.
async fn write_all_frames<W: AsyncWrite + Unpin + Send + 'static>(
    mut socket: ProgressTimeout<W>,
    mut frames: OutgoingFrames,
    context: Arc<ConnectionContext>,
    linger: Duration,
    force: CancellationToken,
) {
    let closed = context.closed_token();
    let outgoing = context.outgoing();
    let write = async {
        let mut taken = Taken::new(&mut frames, outgoing);
        loop {
            let frame = tokio::select! {
                biased;
                frame = taken.frames.recv() => frame,
                () = closed.cancelled() => None,
            };
            // `None` from the queue cannot happen while `context` holds the sender
            let Some(frame) = frame else { break };
            taken.take(&frame);
            crate::framing::write_queued(&mut socket, frame, &mut taken).await?;
        }
        // refuse new frames, write the queued ones, then shut the socket down
        taken.frames.close();
        while let Some(frame) = taken.frames.recv().await {
            taken.take(&frame);
            crate::framing::write_queued(&mut socket, frame, &mut taken).await?;
        }
        socket.shutdown().await
    };
    let linger_after_close = async {
        closed.cancelled().await;
        tokio::time::sleep(linger).await;
    };
    tokio::select! {
        biased;
        () = context.aborted_token().cancelled() => {}
        () = force.cancelled() => {}
        written = write => match written {
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                tracing::warn!(connection = context.id(), peer = %context.peer_addr(), %error, "the peer stopped reading; closing the connection");
                context.abort("the peer stopped reading");
            }
            Err(error) => context.close(&format!("write failed: {error}")),
            Ok(()) => {}
        },
        () = linger_after_close => {
            tracing::debug!(connection = context.id(), peer = %context.peer_addr(), "the peer did not take the queued frames in time; dropping them");
        }
    }
    // what is still queued will never be written: give its room back
    frames.close();
    let mut dropped = Taken::new(&mut frames, outgoing);
    while dropped.next_frame().is_some() {}
}
