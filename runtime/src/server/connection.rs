//! One accepted connection: its shared context (what a [`Current`](super::Current) holds).

use std::fmt;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::outgoing::{Outgoing, OutgoingFrames, Refusal, TotalBudget};

/// Connection ids are unique in the process.
static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// A callback run once when the connection closes.
pub(crate) type CloseCallback = Box<dyn FnOnce() + Send>;

/// The callbacks waiting for the connection to close: `None` once they have been run, after
/// which a new one runs at once.
struct CloseCallbacks(Mutex<Option<Vec<CloseCallback>>>);

impl CloseCallbacks {
    fn new() -> Self {
        Self(Mutex::new(Some(Vec::new())))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<CloseCallback>>> {
        // callbacks never run under this lock
        crate::support::lock(&self.0)
    }
}

impl fmt::Debug for CloseCallbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.lock() {
            Some(waiting) => write!(f, "{} waiting", waiting.len()),
            None => f.write_str("run"),
        }
    }
}

/// A signal given once and seen by every waiter, like a `CancellationToken` without its
/// allocation (and without children): it lives inside the connection's context, which every
/// connection has two of. Checking it takes no lock.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    given: AtomicBool,
    waiters: Notify,
}

impl Signal {
    /// Gives the signal; returns whether this call gave it (the first one does).
    pub(crate) fn cancel(&self) -> bool {
        let first = !self.given.swap(true, Ordering::AcqRel);
        if first {
            self.waiters.notify_waiters();
        }
        first
    }

    /// Whether the signal has been given.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.given.load(Ordering::Acquire)
    }

    /// Resolves once the signal has been given (at once if it has). Cancel safe.
    pub(crate) async fn cancelled(&self) {
        let mut given = pin!(self.waiters.notified());
        // counted as a waiter before the check: a signal given from now on wakes it
        given.as_mut().enable();
        if self.is_cancelled() {
            return;
        }
        given.await;
    }
}

/// What every request of a connection shares: its identity, its outgoing queue, and the signal
/// given when it closes.
///
/// Whole frames go through one queue to one writer task, so replies and pushes never interleave
/// bytes and pushes leave in the order queued. The queue is bounded in bytes (the connection's
/// budget, and the server's total across connections): a frame waits for room, or is refused
/// without waiting, at the sender's choice; a full queue never closes the connection. A peer
/// that stops reading altogether is the writer's business (its stall timeout).
#[derive(Debug)]
pub(crate) struct ConnectionContext {
    id: u64,
    peer_addr: SocketAddr,
    local_addr: SocketAddr,
    max_frame_len: usize,
    /// Whether the connection speaks a raw servant's own protocol rather than TARS: no TARS
    /// packet may be written on it.
    raw: bool,
    outgoing: Outgoing,
    /// Given when the connection closes (checked on every frame sent, without a lock).
    closed: Signal,
    /// Given when the connection must end without writing what is queued: the peer is not
    /// reading, or the server's shutdown timeout ran out. Giving it gives `closed` first.
    aborted: Signal,
    /// What to run once the connection has closed.
    on_close: CloseCallbacks,
    /// The bytes of the requests read and still running (until their replies are queued).
    running_bytes: AtomicUsize,
}

/// A request read and still running: its bytes count against the connection's budget, with
/// the replies and pushes queued, until it is dropped at the end of the request's task.
#[derive(Debug)]
pub(crate) struct Running {
    connection: Arc<ConnectionContext>,
    bytes: usize,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.connection
            .running_bytes
            .fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl ConnectionContext {
    /// A context with a fresh id, whose queue holds up to `queue_budget` bytes drawn on the
    /// server's `total`; frames sent to it arrive on the returned receiver.
    pub(crate) fn new(
        peer_addr: SocketAddr,
        local_addr: SocketAddr,
        max_frame_len: usize,
        queue_budget: usize,
        total: Arc<TotalBudget>,
    ) -> (Self, OutgoingFrames) {
        let (outgoing, receiver) = Outgoing::new(queue_budget, total);
        let context = Self {
            id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
            peer_addr,
            local_addr,
            max_frame_len,
            raw: false,
            outgoing,
            closed: Signal::default(),
            aborted: Signal::default(),
            on_close: CloseCallbacks::new(),
            running_bytes: AtomicUsize::new(0),
        };
        (context, receiver)
    }

    /// Marks the connection as speaking a raw servant's own protocol.
    pub(crate) fn with_raw_protocol(mut self) -> Self {
        self.raw = true;
        self
    }

    /// Whether the connection speaks a raw servant's own protocol rather than TARS.
    pub(crate) fn is_raw(&self) -> bool {
        self.raw
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

    /// Counts a request of `bytes` as running until the returned guard is dropped.
    pub(crate) fn running(self: &Arc<Self>, bytes: usize) -> Running {
        self.running_bytes.fetch_add(bytes, Ordering::Relaxed);
        Running {
            connection: self.clone(),
            bytes,
        }
    }

    /// Whether the requests running and the frames queued hold the connection's whole budget
    /// (or the queue, or the server's total, has no room): then no more requests are read.
    pub(crate) fn is_busy(&self) -> bool {
        self.outgoing.is_exhausted()
            || self.running_bytes.load(Ordering::Relaxed) + self.outgoing.queued_bytes()
                >= self.outgoing.budget()
    }

    /// The outgoing queue: for the writer, which gives back the room of what it wrote, and the
    /// reader, which stops reading while the queue has no room.
    pub(crate) fn outgoing(&self) -> &Outgoing {
        &self.outgoing
    }

    /// The signal given when the connection closes.
    pub(crate) fn closed_token(&self) -> &Signal {
        &self.closed
    }

    /// Whether the connection has closed, without a lock.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Marks the connection closed; its tasks see the signal and wind down.
    pub(crate) fn close(&self, reason: &str) {
        if !self.closed.is_cancelled() && self.closed.cancel() {
            tracing::debug!(connection = self.id, peer = %self.peer_addr, reason, "closing connection");
        }
    }

    /// The signal given when the connection must end at once, queued frames dropped.
    pub(crate) fn aborted_token(&self) -> &Signal {
        &self.aborted
    }

    /// Closes the connection without writing what is queued: the writer task drops the socket
    /// at once. Used when the peer is not reading and when the shutdown timeout runs out.
    pub(crate) fn abort(&self, reason: &str) {
        self.close(reason);
        self.aborted.cancel();
    }

    /// Runs `callback` once the connection has closed, however it closes; at once (in the
    /// caller) if the callbacks have already been run.
    ///
    /// The callbacks run on the connection's task right after it sees the close (see
    /// [`run_close_callbacks`](Self::run_close_callbacks)), not inside whatever call closed the
    /// connection, so a callback may take a lock the closer held.
    pub(crate) fn on_close(&self, callback: CloseCallback) {
        let callback = {
            let mut waiting = self.on_close.lock();
            match &mut *waiting {
                Some(waiting) => {
                    waiting.push(callback);
                    return;
                }
                None => callback,
            }
        };
        // the lock is released: the callback may register another one or take any lock
        self.run_close_callback(callback);
    }

    /// Runs the close callbacks, once: the first call takes them, later ones find none. Called
    /// by the connection's task once the connection is closed (and by its drop guard).
    pub(crate) fn run_close_callbacks(&self) {
        let Some(callbacks) = self.on_close.lock().take() else {
            return;
        };
        for callback in callbacks {
            self.run_close_callback(callback);
        }
    }

    fn run_close_callback(&self, callback: CloseCallback) {
        if let Err(panic) = crate::support::catch_panic(callback) {
            tracing::error!(
                connection = self.id,
                peer = %self.peer_addr,
                panic,
                "a connection close callback panicked"
            );
        }
    }

    /// Queues a whole frame if the queue has room now; hands it back otherwise.
    pub(crate) fn try_send(&self, frame: Bytes) -> Result<(), (Refusal, Bytes)> {
        if self.is_closed() {
            return Err((Refusal::Closed, frame));
        }
        self.outgoing.try_send(frame)
    }

    /// Queues a whole frame, waiting for room until `deadline` if there is none (for ever
    /// without one: a peer that reads makes room, and one that does not is cut off by the
    /// writer's stall timeout, which closes the connection). Cancel safe: dropped while
    /// waiting, it queues nothing.
    pub(crate) async fn send(
        &self,
        frame: Bytes,
        deadline: Option<Instant>,
    ) -> Result<(), (Refusal, Bytes)> {
        let frame = match self.try_send(frame) {
            Err((Refusal::Full, frame)) => frame,
            sent => return sent,
        };
        let len = frame.len();
        let queued = frame.clone();
        let expired = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = self.closed.cancelled() => Err((Refusal::Closed, frame)),
            sent = self.outgoing.send_when_room(len, move || queued) => {
                sent.map_err(|(_, _)| (Refusal::Closed, frame))
            }
            () = expired => Err((Refusal::Timeout, frame)),
        }
    }
}
