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
//! ([`Current::on_close`]) and starts, in its task set, each servant's
//! [`on_connection_closed`](super::Servant::on_connection_closed) with the last request
//! dispatched to that servant on the connection. On a graceful shutdown the reader stops and
//! queues TarsGo's close packet ([`PushFrame::reconnect`]) ahead of the running requests'
//! replies.

use std::future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::connection::ConnectionContext;
use super::dispatch::{self, LastCurrents, Route, Servants};
use super::listener::Signals;
use super::Current;
use crate::framing::{FrameCodec, FrameError};
use crate::packet::RequestPacket;
use crate::push::PushFrame;
use crate::TarsStruct;

/// The writer's buffer: frames queued together leave in one write when they fit.
const WRITE_BUFFER: usize = 64 * 1024;

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

/// Why the reader stopped.
enum ReadEnd {
    /// The server is shutting down: finish the running requests, then close.
    Shutdown,
    /// The connection is closing (or closed) for this reason.
    Close(String),
}

/// Serves one connection until it closes and its tasks have ended.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    servants: Arc<Servants>,
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
    let (context, outgoing) = ConnectionContext::new(
        peer,
        local_addr,
        config.max_frame_len,
        config.queue_capacity,
    );
    let context = Arc::new(context);
    tracing::debug!(connection = context.id(), %peer, %local_addr, "connection opened");
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
    let mut last_currents = LastCurrents::default();
    match read_requests(
        read_half,
        &context,
        &servants,
        &config,
        &signals,
        &mut requests,
        &mut last_currents,
    )
    .await
    {
        ReadEnd::Shutdown => {
            // TarsGo's close packet, so that the client reconnects elsewhere; the running
            // requests' replies still go out, so the connection stays open for them
            if !context.offer_frame(reconnect_frame()) {
                tracing::debug!(connection = context.id(), %peer, "no room for the shutdown notice");
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
    for (servant, current) in last_currents.take() {
        closing.spawn(dispatch::connection_closed(servant, current));
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

/// TarsGo's graceful-shutdown packet, encoded once.
fn reconnect_frame() -> Bytes {
    static FRAME: OnceLock<PushFrame> = OnceLock::new();
    FRAME.get_or_init(PushFrame::reconnect).as_bytes().clone()
}

/// Reads and dispatches requests until the connection closes or the server shuts down.
async fn read_requests(
    read_half: OwnedReadHalf,
    context: &Arc<ConnectionContext>,
    servants: &Servants,
    config: &ConnectionConfig,
    signals: &Signals,
    requests: &mut JoinSet<()>,
    last_currents: &mut LastCurrents,
) -> ReadEnd {
    let mut frames = FramedRead::new(read_half, FrameCodec::new(config.max_frame_len));
    let next_deadline = || config.idle_timeout.map(|timeout| Instant::now() + timeout);
    let mut idle_deadline = next_deadline();
    loop {
        let idle = async {
            match idle_deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = signals.shutdown.cancelled() => return ReadEnd::Shutdown,
            // closed from elsewhere: a servant, a full queue, a failed write
            () = context.closed_token().cancelled() => return ReadEnd::Close("closed".into()),
            Some(joined) = requests.join_next(), if !requests.is_empty() => log_join(joined),
            // at the in-flight limit, read nothing until a request finishes
            frame = frames.next(), if requests.len() < config.max_in_flight => {
                let frame = match frame {
                    Some(Ok(frame)) => frame,
                    None => return ReadEnd::Close("the peer closed the connection".into()),
                    Some(Err(FrameError::Io(error))) => return ReadEnd::Close(format!("read failed: {error}")),
                    Some(Err(error)) => {
                        tracing::warn!(connection = context.id(), peer = %context.peer_addr(), %error, "bad frame; closing the connection");
                        return ReadEnd::Close(error.to_string());
                    }
                };
                idle_deadline = next_deadline();
                if let Err(reason) = handle_frame(&frame, context, servants, requests, last_currents) {
                    tracing::warn!(connection = context.id(), peer = %context.peer_addr(), reason, "bad request; closing the connection");
                    return ReadEnd::Close(reason);
                }
            }
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

/// Decodes one request and answers it or spawns its handler.
fn handle_frame(
    frame: &Bytes,
    context: &Arc<ConnectionContext>,
    servants: &Servants,
    requests: &mut JoinSet<()>,
    last_currents: &mut LastCurrents,
) -> Result<(), String> {
    let mut packet = RequestPacket::decode_bytes(frame)
        .map_err(|error| format!("the frame is not a request packet: {error}"))?;
    let params = std::mem::take(&mut packet.buffer);
    let current = Current::new(context.clone(), packet);
    match dispatch::route(&current, servants) {
        Route::Reply(ret, result_desc) => dispatch::reply(&current, ret, Bytes::new(), result_desc),
        Route::Dispatch(servant) => {
            last_currents.record(&servant, &current);
            requests.spawn(dispatch::run(servant, current, params));
        }
    }
    Ok(())
}

/// Writes the queued frames, every one already queued before a flush, until the connection
/// closes; then writes what is left (for at most `linger`) and shuts the socket down.
async fn write_frames(
    write_half: OwnedWriteHalf,
    mut outgoing: mpsc::Receiver<Bytes>,
    context: Arc<ConnectionContext>,
    linger: Duration,
    force: CancellationToken,
) {
    let mut socket = BufWriter::with_capacity(WRITE_BUFFER, write_half);
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
            socket.write_all(&frame).await?;
            while let Ok(frame) = outgoing.try_recv() {
                socket.write_all(&frame).await?;
            }
            socket.flush().await?;
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
