//! One accepted connection: the reader, which runs each request in a task of its own, and the
//! writer, which writes the queued frames.
//!
//! The connection task (the reader) owns the request tasks in a [`JoinSet`], so none outlives
//! it, and waits for the writer before it ends. Whatever ends the connection cancels the
//! context's `closed` token; the writer then writes what is queued (bounded by the linger
//! time) and shuts the socket down, unless the connection was aborted, in which case it drops
//! the socket at once.
//!
//! Once the connection is closed, the connection task runs its close callbacks
//! ([`Current::on_close`](super::Current::on_close)) and starts, in its task set, each
//! servant's [`on_connection_closed`](super::Servant::on_connection_closed) with the last
//! request dispatched to that servant on the connection. On a graceful shutdown the reader
//! stops and, on a TARS connection, queues TarsGo's close packet
//! ([`PushFrame::reconnect`](crate::push::PushFrame::reconnect)) ahead of the running requests'
//! replies.
//!
//! All of this is the same for TARS servants and raw servants: what differs, how requests are
//! cut off the input and what is done with each, is a [`RequestProtocol`]
//! ([`TarsRequests`](super::dispatch::TarsRequests) or [`RawRequests`](super::raw::RawRequests)).

use std::future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::connection::ConnectionContext;
use super::listener::Signals;

/// The room made in the input buffer when less than [`MIN_READ`] is left: its first
/// allocation, and at least what it grows by.
const READ_RESERVE: usize = 8 * 1024;
/// The least room a read is given: what is left of the buffer is read into until then, so that
/// requests still held by their handlers do not make every read allocate.
const MIN_READ: usize = 1024;
/// The most one read takes: the input buffer never holds more than the maximum frame length
/// plus this.
const MAX_READ: usize = 64 * 1024;

/// The settings of every connection of a listener.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConnectionConfig {
    pub(super) max_frame_len: usize,
    pub(super) queue_capacity: usize,
    pub(super) max_in_flight: usize,
    pub(super) idle_timeout: Option<Duration>,
    /// How long a closed connection may take to write what is queued.
    pub(super) linger: Duration,
}

/// What differs between the connections of TARS servants and those of a raw servant
/// ([`RawServant`](crate::protocol::RawServant)): how requests are cut off the input and what
/// is done with each. Everything else (reading, the in-flight limit, the idle timeout, the
/// writer, closing and the graceful shutdown) is the session's, the same for both.
pub(super) trait RequestProtocol: Send + 'static {
    /// Whether the connection speaks a raw servant's protocol: no TARS packet may go on it.
    const RAW: bool;

    /// Cuts the next whole request off `input`: `Ok(None)` when more bytes are needed, `Err`
    /// with the reason to close the connection for input that can never be a request.
    fn split(&mut self, input: &mut BytesMut) -> Result<Option<Bytes>, String>;

    /// Answers the request `frame`, or spawns its handler in `requests`; `Err` with the reason
    /// to close the connection for a frame that is not a request.
    fn handle(
        &mut self,
        frame: Bytes,
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
    /// The connection is closing (or closed) for this reason.
    Close(String),
}

/// Serves one connection until it closes and its tasks have ended.
pub(super) async fn serve<P: RequestProtocol>(
    stream: TcpStream,
    peer: SocketAddr,
    mut protocol: P,
    config: ConnectionConfig,
    signals: Signals,
) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
    }
    let local_addr = match stream.local_addr() {
        Ok(local_addr) => local_addr,
        Err(error) => {
            tracing::debug!(%peer, %error, "connection lost before it was served");
            return;
        }
    };
    let (mut context, outgoing) = ConnectionContext::new(
        peer,
        local_addr,
        config.max_frame_len,
        config.queue_capacity,
    );
    if P::RAW {
        context = context.with_raw_protocol();
    }
    let context = Arc::new(context);
    tracing::debug!(connection = context.id(), %peer, %local_addr, raw = P::RAW, "connection opened");
    let (read_half, write_half) = stream.into_split();
    let writer = tokio::spawn(write_frames(
        write_half,
        outgoing,
        context.clone(),
        config.linger,
        signals.force.clone(),
    ));

    // runs the close callbacks even if this task is dropped, e.g. with its runtime
    let _guard = CloseOnDrop(context.clone());

    let mut requests = JoinSet::new();
    match read_requests(
        read_half,
        &context,
        &mut protocol,
        &config,
        &signals,
        &mut requests,
    )
    .await
    {
        ReadEnd::Shutdown => {
            // e.g. TarsGo's close packet, so that the client reconnects elsewhere; the running
            // requests' replies still go out, so the connection stays open for them
            if let Some(notice) = protocol.shutdown_notice() {
                if !context.offer_frame(notice) {
                    tracing::debug!(connection = context.id(), %peer, "no room for the shutdown notice");
                }
            }
        }
        ReadEnd::Close(reason) => context.close(&reason),
    }

    // until the connection closes, which on a shutdown waits for the running requests
    let forced = loop {
        tokio::select! {
            biased;
            () = signals.force.cancelled() => break true,
            () = context.closed_token().cancelled() => break false,
            joined = requests.join_next() => match joined {
                Some(joined) => log_join(joined),
                None => {
                    context.close("server shutting down");
                    break false;
                }
            },
        }
    };
    if forced {
        context.abort("shutdown timeout reached");
        requests.shutdown().await;
    }

    // the connection is closed: its callbacks, then its servants' `on_connection_closed`
    context.run_close_callbacks();
    let mut closing = JoinSet::new();
    for call in protocol.closing() {
        closing.spawn(call);
    }
    if forced {
        closing.detach_all();
    }
    while !(requests.is_empty() && closing.is_empty()) {
        tokio::select! {
            biased;
            () = signals.force.cancelled() => {
                context.abort("shutdown timeout reached");
                requests.shutdown().await;
                // they were promised a call: let them finish without holding up the shutdown
                closing.detach_all();
            }
            Some(joined) = requests.join_next(), if !requests.is_empty() => log_join(joined),
            Some(joined) = closing.join_next(), if !closing.is_empty() => log_join(joined),
        }
    }
    if let Err(error) = writer.await {
        log_join(Err(error));
    }
    tracing::debug!(connection = context.id(), %peer, "connection ended");
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

/// Reads and dispatches requests until the connection closes or the server shuts down.
///
/// The requests already read are dispatched up to the in-flight limit before anything more is
/// read; at the limit nothing is read until a request finishes. Input that holds more than the
/// maximum frame length without a whole request in it closes the connection, so the input
/// buffer never holds more than that plus one read.
async fn read_requests<P: RequestProtocol>(
    mut read_half: OwnedReadHalf,
    context: &Arc<ConnectionContext>,
    protocol: &mut P,
    config: &ConnectionConfig,
    signals: &Signals,
    requests: &mut JoinSet<()>,
) -> ReadEnd {
    let mut input = BytesMut::new();
    let next_deadline = || config.idle_timeout.map(|timeout| Instant::now() + timeout);
    let mut idle_deadline = next_deadline();
    let bad_input = |reason: String, what: &str| {
        tracing::warn!(connection = context.id(), peer = %context.peer_addr(), reason, "{what}; closing the connection");
        ReadEnd::Close(reason)
    };
    loop {
        // dispatch the whole requests already read, up to the in-flight limit
        let mut needs_input = false;
        while requests.len() < config.max_in_flight {
            match protocol.split(&mut input) {
                Ok(Some(frame)) => {
                    idle_deadline = next_deadline();
                    if let Err(reason) = protocol.handle(frame, context, requests) {
                        return bad_input(reason, "bad request");
                    }
                }
                Ok(None) => {
                    needs_input = true;
                    break;
                }
                Err(reason) => return bad_input(reason, "bad frame"),
            }
        }
        if needs_input {
            if input.len() > config.max_frame_len {
                let reason = format!("no frame within {} bytes", config.max_frame_len);
                return bad_input(reason, "bad frame");
            }
            if input.capacity() - input.len() < MIN_READ {
                input.reserve(READ_RESERVE);
            }
        }
        let idle = async {
            match idle_deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => future::pending().await,
            }
        };
        let mut room = (&mut input).limit(MAX_READ);
        tokio::select! {
            biased;
            () = signals.shutdown.cancelled() => return ReadEnd::Shutdown,
            // closed from elsewhere: a servant, a full queue, a failed write
            () = context.closed_token().cancelled() => return ReadEnd::Close("closed".into()),
            Some(joined) = requests.join_next(), if !requests.is_empty() => log_join(joined),
            // at the in-flight limit, read nothing until a request finishes
            read = read_half.read_buf(&mut room), if needs_input => match read {
                Ok(0) => return ReadEnd::Close("the peer closed the connection".into()),
                Ok(_) => {}
                Err(error) => return ReadEnd::Close(format!("read failed: {error}")),
            },
            () = idle => {
                if requests.is_empty() {
                    return ReadEnd::Close("idle timeout".into());
                }
                // a connection waiting for its replies is not idle
                idle_deadline = next_deadline();
            }
        }
    }
}

/// Writes the queued frames until the connection closes, then what is left (for at most
/// `linger`), and shuts the socket down. A lone frame is written from its own (often shared)
/// bytes; a burst is gathered into one buffer per write, dropped when the burst ends, so that an
/// idle connection holds no write buffer.
async fn write_frames(
    write_half: OwnedWriteHalf,
    mut outgoing: mpsc::Receiver<Bytes>,
    context: Arc<ConnectionContext>,
    linger: Duration,
    force: CancellationToken,
) {
    let mut socket = write_half;
    let closed = context.closed_token().clone();
    let write = async {
        loop {
            let frame = tokio::select! {
                biased;
                frame = outgoing.recv() => frame,
                () = closed.cancelled() => None,
            };
            // `None` from the queue cannot happen while `context` holds the sender
            let Some(frame) = frame else { break };
            crate::framing::write_queued(&mut socket, frame, &mut outgoing).await?;
        }
        // refuse new frames, write the queued ones, then shut the socket down
        outgoing.close();
        while let Some(frame) = outgoing.recv().await {
            socket.write_all(&frame).await?;
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
        written = write => {
            if let Err(error) = written {
                context.close(&format!("write failed: {error}"));
            }
        }
        () = linger_after_close => {
            tracing::debug!(connection = context.id(), peer = %context.peer_addr(), "the peer did not take the queued frames in time; dropping them");
        }
    }
    // dropping the write half shuts the socket's sending side down if that has not happened
}

fn log_join(joined: Result<(), JoinError>) {
    if let Err(error) = joined {
        // handlers' panics are caught and answered; this is a bug of the server itself
        if error.is_panic() {
            tracing::error!(%error, "a server task panicked");
        }
    }
}
