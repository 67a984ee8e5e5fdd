//! A connection's outgoing queue: whole frames, in order, for its writer task, bounded in bytes
//! on the connection and across the server.
//!
//! Room is counted with semaphores whose permits are bytes. A frame holds its length in permits
//! of its connection's budget and of the server's total from the moment it is queued until the
//! writer has written it (or dropped it, if the connection ends first). A frame longer than a
//! whole budget holds all of it, so it still goes out, alone. Waiting for room is first come,
//! first served (tokio's semaphore is fair), so a large frame is not starved by small ones.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, Semaphore, SemaphorePermit};

/// Room for queued bytes, `limit` in all.
#[derive(Debug)]
pub(crate) struct Budget {
    room: Semaphore,
    limit: usize,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Self {
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
    pub(crate) fn used(&self) -> usize {
        self.limit - self.room.available_permits().min(self.limit)
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
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

/// The room a queued frame holds, given back when it has been written.
#[derive(Debug, Default)]
pub(crate) struct Held {
    own: usize,
    total: usize,
}

/// The sending side of a connection's queue.
#[derive(Debug)]
pub(crate) struct Outgoing {
    frames: mpsc::UnboundedSender<Bytes>,
    own: Budget,
    total: Arc<Budget>,
}

/// The receiving side, for the writer task.
pub(crate) type OutgoingFrames = mpsc::UnboundedReceiver<Bytes>;

impl Outgoing {
    /// A queue of at most `limit` bytes on its own, drawing on the server's `total` too.
    pub(crate) fn new(limit: usize, total: Arc<Budget>) -> (Self, OutgoingFrames) {
        let (frames, receiver) = mpsc::unbounded_channel();
        let outgoing = Self {
            frames,
            own: Budget::new(limit.min(total.limit())),
            total,
        };
        (outgoing, receiver)
    }

    /// Queues `frame` if both budgets have room for it now; hands it back otherwise (`Ok` in
    /// the error when the queue had room but the writer is gone).
    pub(crate) fn try_send(&self, frame: Bytes) -> Result<(), (Refusal, Bytes)> {
        let Ok(own) = self.own.room.try_acquire_many(self.own.share(frame.len())) else {
            return Err((Refusal::Full, frame));
        };
        let Ok(total) = self
            .total
            .room
            .try_acquire_many(self.total.share(frame.len()))
        else {
            return Err((Refusal::Full, frame));
        };
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
        // its own connection
        // the semaphores are never closed: an error cannot happen, and would mean "gone"
        let Ok(own) = self.own.room.acquire_many(self.own.share(len)).await else {
            return Err((Refusal::Closed, make()));
        };
        let Ok(total) = self.total.room.acquire_many(self.total.share(len)).await else {
            return Err((Refusal::Closed, make()));
        };
        self.enqueue(make(), own, total)
    }

    fn enqueue(
        &self,
        frame: Bytes,
        own: SemaphorePermit<'_>,
        total: SemaphorePermit<'_>,
    ) -> Result<(), (Refusal, Bytes)> {
        match self.frames.send(frame) {
            Ok(()) => {
                // given back by the writer once the frame is written
                own.forget();
                total.forget();
                Ok(())
            }
            // the permits go back as they drop
            Err(mpsc::error::SendError(frame)) => Err((Refusal::Closed, frame)),
        }
    }

    /// Counts `frame`, taken off the queue by the writer, into `held`.
    pub(crate) fn hold(&self, held: &mut Held, frame: &Bytes) {
        held.own += self.own.share(frame.len()) as usize;
        held.total += self.total.share(frame.len()) as usize;
    }

    /// Gives back the room of the frames counted into `held`, written or dropped.
    pub(crate) fn release(&self, held: &mut Held) {
        let Held { own, total } = std::mem::take(held);
        // the total first: a frame waiting for this connection's room then finds the total's
        // too, and the total never counts more than the connections hold
        if total > 0 {
            self.total.room.add_permits(total);
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
        self.own.limit()
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
        let total = Arc::new(Budget::new(1000));
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
        let total = Arc::new(Budget::new(1000));
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
        let total = Arc::new(Budget::new(150));
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
        let total = Arc::new(Budget::new(1000));
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
    async fn a_frame_for_a_gone_writer_gives_its_room_back() {
        let total = Arc::new(Budget::new(1000));
        let (outgoing, frames) = Outgoing::new(100, total.clone());
        drop(frames);
        let (refusal, _) = outgoing.try_send(frame(50)).unwrap_err();
        assert_eq!(refusal, Refusal::Closed);
        assert_eq!((outgoing.queued_bytes(), total.used()), (0, 0));
    }
}
