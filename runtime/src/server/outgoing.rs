//! A connection's outgoing queue: whole frames, in order, for its writer task, bounded in bytes
//! on the connection and across the server.
//!
//! A frame holds its length of its connection's budget and of the server's total from the
//! moment it is queued until the writer has written it (or dropped it, if the connection ends
//! first). A frame longer than a whole budget holds all of it, so it still goes out, alone.
//!
//! A connection's budget is a semaphore whose permits are bytes: waiting for room on one
//! connection is first come, first served (tokio's semaphore is fair), so a large frame is not
//! starved by small ones. The server's total is a counter shared by every connection, which
//! costs one atomic operation per frame queued and per batch written and takes no lock; a
//! frame that finds it used up waits to be told that room was made.
//!
//! The queue itself ([`OutgoingFrames`]) is small when idle, since an idle connection is the
//! common case: a lone frame waits in a slot of its own, and only a burst of frames allocates
//! room for them, which the writer lets go once it has written the burst.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::task::AtomicWaker;
use tokio::sync::{Notify, Semaphore, SemaphorePermit};

/// A connection's room for queued bytes, `limit` in all.
#[derive(Debug)]
struct Budget {
    room: Semaphore,
    limit: usize,
}

impl Budget {
    fn new(limit: usize) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            room: Semaphore::new(limit),
            limit,
        }
    }

    /// The permits a frame of `len` bytes holds.
    fn share(&self, len: usize) -> u32 {
        len.min(self.limit).min(u32::MAX as usize) as u32
    }

    /// The bytes held by queued frames (and by frames waiting for room, in part).
    fn used(&self) -> usize {
        self.limit - self.room.available_permits().min(self.limit)
    }

    fn is_exhausted(&self) -> bool {
        self.room.available_permits() == 0
    }

    /// Resolves once the budget has room (or at once if it has).
    async fn wait_for_room(&self) {
        // a permit taken in turn and given back at once: waits behind the frames waiting before
        if let Ok(permit) = self.room.acquire().await {
            drop(permit);
        }
    }
}

/// The room for queued bytes of all the server's connections together, `limit` in all.
#[derive(Debug)]
pub(crate) struct TotalBudget {
    used: AtomicUsize,
    limit: usize,
    /// How many are waiting for room: those who give room back tell them only then.
    waiting: AtomicUsize,
    room_made: Notify,
}

impl TotalBudget {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            used: AtomicUsize::new(0),
            limit: limit.clamp(1, usize::MAX / 4),
            waiting: AtomicUsize::new(0),
            room_made: Notify::new(),
        }
    }

    /// The bytes a frame of `len` bytes holds.
    fn share(&self, len: usize) -> usize {
        len.min(self.limit)
    }

    /// The bytes held by queued frames.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    fn is_exhausted(&self) -> bool {
        self.used() >= self.limit
    }

    /// Takes `bytes` if there is room for them now.
    fn try_take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used + bytes <= self.limit).then_some(used + bytes)
            })
            .is_ok()
    }

    /// Takes `bytes` once there is room for them. Cancel safe: dropped, it has taken nothing.
    async fn take(&self, bytes: usize) {
        self.wait_until(|| self.try_take(bytes)).await;
    }

    /// Resolves once the total has room (or at once if it has).
    async fn wait_for_room(&self) {
        self.wait_until(|| !self.is_exhausted()).await;
    }

    /// Resolves once `done` returns `true`, trying again each time room is made.
    async fn wait_until(&self, mut done: impl FnMut() -> bool) {
        if done() {
            return;
        }
        let _waiting = Waiting::new(&self.waiting);
        loop {
            let mut room_made = pin!(self.room_made.notified());
            room_made.as_mut().enable();
            // counted as waiting before trying: room given back from now on is told of
            if done() {
                return;
            }
            room_made.await;
        }
    }

    /// Gives back `bytes`, telling those waiting for room.
    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.room_made.notify_waiters();
        }
    }
}

/// Counts one waiter of a [`TotalBudget`] while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The room queued frames hold, given back when they have been written.
#[derive(Debug, Default)]
pub(crate) struct Held {
    own: usize,
    total: usize,
}

/// The frames queued and not yet taken by the writer, in order: `first`, then `rest`.
#[derive(Debug, Default)]
struct Queued {
    /// The oldest frame, when it was queued alone: a frame queued on an empty queue goes here,
    /// so that the common case (one reply, one push at a time) allocates nothing.
    first: Option<Bytes>,
    /// The frames queued behind `first` (or behind frames already taken from `rest`).
    rest: VecDeque<Bytes>,
    /// Set when the writer takes no more frames: new ones are refused.
    closed: bool,
}

impl Queued {
    fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }
}

/// What the two sides of a connection's queue share.
#[derive(Debug, Default)]
struct Shared {
    queued: Mutex<Queued>,
    /// The writer, waiting for a frame (woken when a frame is queued on an empty queue).
    writer: AtomicWaker,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queued> {
        // nothing panics under this lock
        crate::support::lock(&self.queued)
    }

    /// Queues `frame` unless the queue is closed.
    fn push(&self, frame: Bytes) -> Result<(), Bytes> {
        let was_empty = {
            let mut queued = self.lock();
            if queued.closed {
                return Err(frame);
            }
            let was_empty = queued.is_empty();
            if was_empty {
                queued.first = Some(frame);
            } else {
                queued.rest.push_back(frame);
            }
            was_empty
        };
        // a writer with frames in hand takes the new ones before it waits again
        if was_empty {
            self.writer.wake();
        }
        Ok(())
    }
}

/// The sending side of a connection's queue.
#[derive(Debug)]
pub(crate) struct Outgoing {
    frames: Arc<Shared>,
    own: Budget,
    total: Arc<TotalBudget>,
}

/// Why [`OutgoingFrames::try_recv`] returned no frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryRecvError {
    /// None is queued now.
    Empty,
    /// None is queued and the queue is closed: none will be.
    Closed,
}

/// The receiving side, for the writer task. It takes the frames queued behind the first one a
/// burst at a time, with one lock, into a buffer of its own, which it lets go (with the
/// queue's) before it waits: an idle connection's queue holds no buffer. Dropping it closes
/// the queue.
#[derive(Debug)]
pub(crate) struct OutgoingFrames {
    shared: Arc<Shared>,
    /// Frames taken from the queue and not yet handed out, in order.
    taken: VecDeque<Bytes>,
}

impl OutgoingFrames {
    /// The next frame if one is queued now.
    pub(crate) fn try_recv(&mut self) -> Result<Bytes, TryRecvError> {
        if let Some(frame) = self.taken.pop_front() {
            return Ok(frame);
        }
        let mut queued = self.shared.lock();
        if let Some(frame) = queued.first.take() {
            return Ok(frame);
        }
        if queued.rest.is_empty() {
            return Err(if queued.closed {
                TryRecvError::Closed
            } else {
                TryRecvError::Empty
            });
        }
        // the whole burst at once; the queue keeps this side's (empty) buffer
        std::mem::swap(&mut queued.rest, &mut self.taken);
        drop(queued);
        self.taken.pop_front().ok_or(TryRecvError::Empty)
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if let Some(frame) = self.taken.pop_front() {
            return Poll::Ready(Some(frame));
        }
        if let Some(ready) = self.look(false) {
            return ready;
        }
        // registered only now, so that frames queued while the writer is busy wake nobody
        self.shared.writer.register(cx.waker());
        // a frame queued before the registration woke nobody
        self.look(true).unwrap_or(Poll::Pending)
    }

    /// One look at the queue, under its lock: a frame, or the end (closed and empty); `None`
    /// when it is empty, after letting a burst's buffers go if the writer is about to wait
    /// (`waiting`), so that an idle connection's queue holds none.
    fn look(&mut self, waiting: bool) -> Option<Poll<Option<Bytes>>> {
        let mut queued = self.shared.lock();
        if let Some(frame) = queued.first.take() {
            return Some(Poll::Ready(Some(frame)));
        }
        if !queued.rest.is_empty() {
            std::mem::swap(&mut queued.rest, &mut self.taken);
            drop(queued);
            return Some(Poll::Ready(self.taken.pop_front()));
        }
        if queued.closed {
            return Some(Poll::Ready(None));
        }
        if waiting {
            let rest = (queued.rest.capacity() > 0).then(|| std::mem::take(&mut queued.rest));
            drop(queued);
            drop(rest);
            if self.taken.capacity() > 0 {
                self.taken = VecDeque::new();
            }
        }
        None
    }

    /// The next frame, once one is queued; `None` once the queue is closed and empty. Cancel
    /// safe: dropped before it resolves, it has taken nothing.
    pub(crate) async fn recv(&mut self) -> Option<Bytes> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Refuses new frames; those queued can still be taken.
    pub(crate) fn close(&mut self) {
        self.shared.lock().closed = true;
    }
}

impl Drop for OutgoingFrames {
    fn drop(&mut self) {
        // new frames are refused, and those still queued are dropped now, not with the
        // connection's context
        let (first, rest) = {
            let mut queued = self.shared.lock();
            queued.closed = true;
            (queued.first.take(), std::mem::take(&mut queued.rest))
        };
        drop((first, rest));
    }
}

impl Outgoing {
    /// A queue of at most `limit` bytes on its own, drawing on the server's `total` too.
    pub(crate) fn new(limit: usize, total: Arc<TotalBudget>) -> (Self, OutgoingFrames) {
        let shared = Arc::new(Shared::default());
        let receiver = OutgoingFrames {
            shared: shared.clone(),
            taken: VecDeque::new(),
        };
        let outgoing = Self {
            frames: shared,
            own: Budget::new(limit.min(total.limit())),
            total,
        };
        (outgoing, receiver)
    }

    /// Queues `frame` if both budgets have room for it now; hands it back otherwise.
    pub(crate) fn try_send(&self, frame: Bytes) -> Result<(), (Refusal, Bytes)> {
        let Ok(own) = self.own.room.try_acquire_many(self.own.share(frame.len())) else {
            return Err((Refusal::Full, frame));
        };
        let total = self.total.share(frame.len());
        if !self.total.try_take(total) {
            return Err((Refusal::Full, frame));
        }
        self.enqueue(frame, own, total)
    }

    /// Waits until both budgets have room for a frame of `len` bytes, then queues the frame
    /// `make` returns. Cancel safe: dropped while waiting, it holds no room and queues nothing.
    pub(crate) async fn send_when_room(
        &self,
        len: usize,
        make: impl FnOnce() -> Bytes,
    ) -> Result<(), (Refusal, Bytes)> {
        // the connection's room first: a frame waiting on the server's total then holds up only
        // its own connection; the semaphore is never closed, an error would mean "gone"
        let Ok(own) = self.own.room.acquire_many(self.own.share(len)).await else {
            return Err((Refusal::Closed, make()));
        };
        let total = self.total.share(len);
        self.total.take(total).await;
        self.enqueue(make(), own, total)
    }

    fn enqueue(
        &self,
        frame: Bytes,
        own: SemaphorePermit<'_>,
        total: usize,
    ) -> Result<(), (Refusal, Bytes)> {
        match self.frames.push(frame) {
            Ok(()) => {
                // given back by the writer once the frame is written
                own.forget();
                Ok(())
            }
            // the connection's room goes back as the permit drops
            Err(frame) => {
                self.total.give_back(total);
                Err((Refusal::Closed, frame))
            }
        }
    }

    /// Counts `frame`, taken off the queue by the writer, into `held`.
    pub(crate) fn hold(&self, held: &mut Held, frame: &Bytes) {
        held.own += self.own.share(frame.len()) as usize;
        held.total += self.total.share(frame.len());
    }

    /// Gives back the room of the frames counted into `held`, written or dropped.
    pub(crate) fn release(&self, held: &mut Held) {
        let Held { own, total } = std::mem::take(held);
        // the total first: a frame waiting for this connection's room then finds the total's
        // too, and the total never counts more than the connections hold
        if total > 0 {
            self.total.give_back(total);
        }
        if own > 0 {
            self.own.room.add_permits(own);
        }
    }

    /// Whether this connection's budget, or the server's, has no room left: the reader then
    /// stops reading requests until it has.
    pub(crate) fn is_exhausted(&self) -> bool {
        self.own.is_exhausted() || self.total.is_exhausted()
    }

    /// Resolves once both budgets have room.
    pub(crate) async fn wait_for_room(&self) {
        self.own.wait_for_room().await;
        self.total.wait_for_room().await;
    }

    /// The bytes of frames queued on this connection and not yet written.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.own.used()
    }

    /// This connection's budget.
    pub(crate) fn budget(&self) -> usize {
        self.own.limit
    }
}

/// Why a frame was not queued; the frame comes back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The connection has closed (its writer is gone).
    Closed,
    /// No room in the connection's budget or in the server's, and the sender would not wait.
    Full,
    /// No room until the sender's deadline.
    Timeout,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Bytes {
        Bytes::from(vec![7; len])
    }

    #[tokio::test]
    async fn frames_hold_their_bytes_until_released() {
        let total = Arc::new(TotalBudget::new(1000));
        let (outgoing, mut frames) = Outgoing::new(100, total.clone());
        outgoing.try_send(frame(60)).unwrap();
        assert_eq!(outgoing.queued_bytes(), 60);
        assert_eq!(total.used(), 60);
        let (refusal, back) = outgoing.try_send(frame(41)).unwrap_err();
        assert_eq!((refusal, back.len()), (Refusal::Full, 41));
        outgoing.try_send(frame(40)).unwrap();
        assert!(outgoing.is_exhausted());

        let mut held = Held::default();
        for _ in 0..2 {
            let taken = frames.try_recv().unwrap();
            outgoing.hold(&mut held, &taken);
        }
        assert_eq!(outgoing.queued_bytes(), 100, "held until written");
        outgoing.release(&mut held);
        assert_eq!((outgoing.queued_bytes(), total.used()), (0, 0));
        assert!(!outgoing.is_exhausted());
    }

    #[tokio::test]
    async fn a_frame_longer_than_the_budget_goes_alone() {
        let total = Arc::new(TotalBudget::new(1000));
        let (outgoing, mut frames) = Outgoing::new(100, total.clone());
        outgoing.try_send(frame(10)).unwrap();
        assert_eq!(
            outgoing.try_send(frame(500)).unwrap_err().0,
            Refusal::Full,
            "waits for the queue to empty"
        );
        let mut held = Held::default();
        let taken = frames.try_recv().unwrap();
        outgoing.hold(&mut held, &taken);
        outgoing.release(&mut held);
        outgoing.try_send(frame(500)).unwrap();
        assert_eq!((outgoing.queued_bytes(), total.used()), (100, 500));
    }

    #[tokio::test]
    async fn the_total_bounds_every_connection() {
        let total = Arc::new(TotalBudget::new(150));
        let (first, _first_frames) = Outgoing::new(100, total.clone());
        let (second, _second_frames) = Outgoing::new(100, total.clone());
        first.try_send(frame(100)).unwrap();
        assert!(second.is_exhausted() || second.try_send(frame(60)).is_err());
        second.try_send(frame(50)).unwrap();
        assert!(second.is_exhausted(), "the total is used up");
        assert_eq!(second.queued_bytes(), 50);
    }

    #[tokio::test]
    async fn waiting_for_room_is_first_come_first_served() {
        let total = Arc::new(TotalBudget::new(1000));
        let (outgoing, mut frames) = Outgoing::new(100, total);
        let outgoing = Arc::new(outgoing);
        outgoing.try_send(frame(30)).unwrap();
        outgoing.try_send(frame(70)).unwrap();
        // a large frame waits first, then a small one
        let large = tokio::spawn({
            let outgoing = outgoing.clone();
            async move { outgoing.send_when_room(80, || frame(80)).await }
        });
        tokio::task::yield_now().await;
        let small = tokio::spawn({
            let outgoing = outgoing.clone();
            async move { outgoing.send_when_room(10, || frame(10)).await }
        });
        tokio::task::yield_now().await;

        // 30 bytes written: room for the small one, but it does not overtake the large one
        let mut held = Held::default();
        let taken = frames.try_recv().unwrap();
        outgoing.hold(&mut held, &taken);
        outgoing.release(&mut held);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!large.is_finished() && !small.is_finished());
        assert!(
            outgoing.try_send(frame(1)).is_err(),
            "nor does a frame that does not wait"
        );

        let taken = frames.try_recv().unwrap();
        outgoing.hold(&mut held, &taken);
        outgoing.release(&mut held);
        large.await.unwrap().unwrap();
        small.await.unwrap().unwrap();
        let mut lens = [
            frames.try_recv().unwrap().len(),
            frames.try_recv().unwrap().len(),
        ];
        lens.sort_unstable();
        assert_eq!(lens, [10, 80]);
        assert_eq!(outgoing.queued_bytes(), 90);
    }

    #[tokio::test]
    async fn a_frame_waiting_on_the_total_goes_when_another_connection_makes_room() {
        let total = Arc::new(TotalBudget::new(150));
        let (first, mut first_frames) = Outgoing::new(100, total.clone());
        let (second, mut second_frames) = Outgoing::new(100, total.clone());
        first.try_send(frame(100)).unwrap();
        assert_eq!(second.try_send(frame(60)).unwrap_err().0, Refusal::Full);
        let second = Arc::new(second);
        let waiting = tokio::spawn({
            let second = second.clone();
            async move { second.send_when_room(60, || frame(60)).await }
        });
        // one that gives up waiting leaves no trace
        let given_up = tokio::time::timeout(
            std::time::Duration::from_millis(10),
            second.send_when_room(70, || frame(70)),
        );
        assert!(given_up.await.is_err());
        assert!(!waiting.is_finished());

        let mut held = Held::default();
        let taken = first_frames.try_recv().unwrap();
        first.hold(&mut held, &taken);
        first.release(&mut held);
        waiting.await.unwrap().unwrap();
        assert_eq!(second_frames.try_recv().unwrap().len(), 60);
        assert_eq!(
            (total.used(), total.waiting.load(Ordering::SeqCst)),
            (60, 0)
        );
    }

    #[tokio::test]
    async fn frames_come_out_in_order_and_a_burst_leaves_no_buffer_once_taken() {
        let total = Arc::new(TotalBudget::new(1 << 20));
        let (outgoing, mut frames) = Outgoing::new(1 << 20, total);
        outgoing.try_send(frame(1)).unwrap();
        assert_eq!(
            frames.shared.lock().rest.capacity(),
            0,
            "a lone frame takes no buffer"
        );
        for len in 2..=40 {
            outgoing.try_send(frame(len)).unwrap();
        }
        assert_eq!(frames.try_recv().unwrap().len(), 1);
        // frames queued while the writer holds a burst go behind it
        assert_eq!(frames.try_recv().unwrap().len(), 2);
        outgoing.try_send(frame(41)).unwrap();
        for len in 3..=41 {
            assert_eq!(frames.recv().await.unwrap().len(), len);
        }
        assert_eq!(frames.try_recv(), Err(TryRecvError::Empty));
        // the writer waits: it lets the burst's buffers go first
        let waiting = futures::FutureExt::now_or_never(frames.recv());
        assert!(waiting.is_none());
        assert_eq!(frames.taken.capacity(), 0);
        assert_eq!(frames.shared.lock().rest.capacity(), 0);
    }

    #[tokio::test]
    async fn a_waiting_writer_is_woken_by_a_frame() {
        let total = Arc::new(TotalBudget::new(1000));
        let (outgoing, mut frames) = Outgoing::new(100, total);
        let writer = tokio::spawn(async move { frames.recv().await.map(|frame| frame.len()) });
        tokio::task::yield_now().await;
        assert!(!writer.is_finished());
        outgoing.try_send(frame(7)).unwrap();
        assert_eq!(writer.await.unwrap(), Some(7));
    }

    #[tokio::test]
    async fn a_closed_queue_refuses_frames_and_hands_out_those_queued() {
        let total = Arc::new(TotalBudget::new(1000));
        let (outgoing, mut frames) = Outgoing::new(100, total.clone());
        outgoing.try_send(frame(5)).unwrap();
        outgoing.try_send(frame(6)).unwrap();
        frames.close();
        let (refusal, back) = outgoing.try_send(frame(7)).unwrap_err();
        assert_eq!((refusal, back.len()), (Refusal::Closed, 7));
        assert_eq!(total.used(), 11, "the refused frame holds no room");
        assert_eq!(frames.recv().await.map(|frame| frame.len()), Some(5));
        assert_eq!(frames.recv().await.map(|frame| frame.len()), Some(6));
        assert_eq!(frames.recv().await, None);
        assert_eq!(frames.try_recv(), Err(TryRecvError::Closed));
    }

    #[tokio::test]
    async fn a_frame_for_a_gone_writer_gives_its_room_back() {
        let total = Arc::new(TotalBudget::new(1000));
        let (outgoing, frames) = Outgoing::new(100, total.clone());
        drop(frames);
        let (refusal, _) = outgoing.try_send(frame(50)).unwrap_err();
        assert_eq!(refusal, Refusal::Closed);
        assert_eq!((outgoing.queued_bytes(), total.used()), (0, 0));
    }
}
