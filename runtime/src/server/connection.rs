//! One accepted connection: its shared context (what a [`Current`](super::Current) holds).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::packet::ReturnCode;

/// Connection ids are unique in the process.
static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// What every request of a connection shares: its identity, its outgoing queue, and the token
/// cancelled when it closes.
///
/// Whole frames go through one bounded queue to one writer task, so replies and pushes never
/// interleave bytes and pushes leave in the order queued. A full queue means the peer is not
/// reading: the connection is aborted (closed, its queued frames dropped) rather than let it
/// grow the server's memory or hold up anyone else.
#[derive(Debug)]
pub(crate) struct ConnectionContext {
    id: u64,
    peer_addr: SocketAddr,
    local_addr: SocketAddr,
    max_frame_len: usize,
    outgoing: mpsc::Sender<Bytes>,
    closed: CancellationToken,
    /// Cancelled when the connection must end without writing what is queued: the peer is not
    /// reading, or the server's shutdown timeout ran out. Cancelling it also cancels `closed`.
    aborted: CancellationToken,
}

impl ConnectionContext {
    /// A context with a fresh id; frames sent to it arrive on the returned receiver.
    pub(crate) fn new(
        peer_addr: SocketAddr,
        local_addr: SocketAddr,
        max_frame_len: usize,
        queue_capacity: usize,
    ) -> (Self, mpsc::Receiver<Bytes>) {
        let (outgoing, receiver) = mpsc::channel(queue_capacity.max(1));
        let context = Self {
            id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
            peer_addr,
            local_addr,
            max_frame_len,
            outgoing,
            closed: CancellationToken::new(),
            aborted: CancellationToken::new(),
        };
        (context, receiver)
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub(crate) fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    pub(crate) fn closed_token(&self) -> &CancellationToken {
        &self.closed
    }

    /// Marks the connection closed; its tasks see the token and wind down.
    pub(crate) fn close(&self, reason: &str) {
        if !self.closed.is_cancelled() {
            tracing::debug!(connection = self.id, peer = %self.peer_addr, reason, "closing connection");
            self.closed.cancel();
        }
    }

    /// The token cancelled when the connection must end at once, queued frames dropped.
    pub(crate) fn aborted_token(&self) -> &CancellationToken {
        &self.aborted
    }

    /// Closes the connection without writing what is queued: the writer task drops the socket
    /// at once. Used when the peer is not reading and when the shutdown timeout runs out.
    pub(crate) fn abort(&self, reason: &str) {
        self.close(reason);
        self.aborted.cancel();
    }

    /// Queues a whole frame for the writer task without waiting.
    pub(crate) fn send_frame(&self, frame: Bytes) -> Result<()> {
        if self.closed.is_cancelled() {
            return Err(Error::connect(format!(
                "connection {} to {} is closed",
                self.id, self.peer_addr
            )));
        }
        match self.outgoing.try_send(frame) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(
                    connection = self.id,
                    peer = %self.peer_addr,
                    "outgoing queue full: the peer is not reading; closing the connection"
                );
                // the peer is not reading: writing what is queued would wait on it forever
                self.abort("outgoing queue full");
                Err(Error::new(
                    ReturnCode::SERVER_OVERLOAD,
                    format!(
                        "connection {} to {} closed: its outgoing queue was full",
                        self.id, self.peer_addr
                    ),
                ))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.close("writer gone");
                Err(Error::connect(format!(
                    "connection {} to {} is closed",
                    self.id, self.peer_addr
                )))
            }
        }
    }
}
