//! The long-poll servant of `examples/long_poll.rs` (also used by `tests/long_poll.rs`):
//! brpc's "remote event", a reply held until an event fires or the client goes away.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tars_rpc::packet::ReturnCode;
use tars_rpc::{tars_interface, Current, Error};
use tokio::sync::watch;

#[tars_interface]
pub trait Events {
    /// Replies once an event newer than `last_seen` has fired: its sequence number, with its
    /// payload in `payload`. Held as long as it takes.
    async fn wait_event(
        &self,
        current: &Current,
        last_seen: i64,
        payload: &mut String,
    ) -> tars_rpc::Result<i64>;

    /// Fires an event; returns its sequence number.
    async fn fire(&self, payload: String) -> tars_rpc::Result<i64>;
}

/// The latest event; `watch` wakes every held poll at once without a thread per poll.
pub struct EventsImp {
    pub latest: watch::Sender<(i64, String)>,
    /// How many polls are held right now.
    pub held: Arc<AtomicUsize>,
}

/// Counts a held poll for as long as it is held, however it ends.
struct Held(Arc<AtomicUsize>);

impl Held {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(counter))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Events for EventsImp {
    async fn wait_event(
        &self,
        current: &Current,
        last_seen: i64,
        payload: &mut String,
    ) -> tars_rpc::Result<i64> {
        let _held = Held::new(&self.held);
        let mut latest = self.latest.subscribe();
        loop {
            {
                let event = latest.borrow_and_update();
                if event.0 > last_seen {
                    payload.clone_from(&event.1);
                    return Ok(event.0);
                }
            }
            tokio::select! {
                changed = latest.changed() => {
                    if changed.is_err() {
                        return Err(Error::new(ReturnCode::SERVER_UNKNOWN_ERR, "the event source is gone"));
                    }
                }
                // the client disconnected: stop holding, drop the subscription
                () = current.closed() => return Err(Error::connect("the client went away")),
            }
        }
    }

    async fn fire(&self, payload: String) -> tars_rpc::Result<i64> {
        let mut sequence = 0;
        self.latest.send_modify(|event| {
            event.0 += 1;
            event.1 = payload;
            sequence = event.0;
        });
        Ok(sequence)
    }
}
