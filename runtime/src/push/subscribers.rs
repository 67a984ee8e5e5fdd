//! [`Subscribers`]: a registry of the clients to push to.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::PushFrame;
use crate::server::Current;

/// The clients to push to: the registry that TarsCpp's push examples write by hand (a map of
/// `Current`s by connection id under a mutex, emptied in `doClose`).
///
/// A handler adds the [`Current`] of a request (typically a "register" call) with
/// [`add`](Self::add); the client stays registered until [`remove`](Self::remove)d or until its
/// connection closes, whatever closes it. Pushing uses the saved `Current`s:
/// [`broadcast`](Self::broadcast) to all, or [`currents`](Self::currents) to choose.
///
/// It is cheap to clone: clones share one registry. An idle subscriber costs its `Current`, an
/// entry here and a close callback on its connection, and no task.
///
/// # Slow clients
///
/// Pushing never waits. Each connection has one outgoing queue of
/// [`queue_capacity`](crate::server::ServerBuilder::queue_capacity) frames (default 1024)
/// shared by replies and pushes; a push that finds it full means the client is not keeping up:
/// its connection is aborted (its queued frames dropped, a warning logged), the push counts as
/// failed, and the client is removed from the registry. The other clients are not held up,
/// and the server never holds more than `queue_capacity` frames for one connection; the
/// frames of a broadcast are shared between connections, not copied.
///
/// "Not keeping up" includes a client that reads, but more slowly than a burst arrives: size
/// the queue for the largest burst you push at once (an idle queue costs nothing; frames are
/// shared), or pace bursts larger than it.
///
/// ```
/// use bytes::Bytes;
/// use futures::future::BoxFuture;
/// use tars_rpc::packet::Context;
/// use tars_rpc::push::{PushFrame, Subscribers};
/// use tars_rpc::server::{Current, Servant};
/// use tars_rpc::TarsStruct;
///
/// #[derive(TarsStruct)]
/// struct PushMsg {
///     #[tars(tag = 0)]
///     ret: i32,
///     #[tars(tag = 1)]
///     s_rsp: String,
/// }
///
/// struct Hello {
///     subscribers: Subscribers,
/// }
///
/// impl Servant for Hello {
///     fn dispatch<'a>(&'a self, current: &'a Current, _params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
///         Box::pin(async move {
///             // `registerPush`: remember the client; it is forgotten when it disconnects
///             self.subscribers.add(current);
///             Ok(Bytes::new())
///         })
///     }
/// }
///
/// /// The push thread of TarsCpp's example, as a task: one push a second to every client.
/// async fn push_loop(subscribers: Subscribers) {
///     let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
///     loop {
///         ticks.tick().await;
///         let body = PushMsg { ret: 0, s_rsp: "push message".into() };
///         let report = subscribers.broadcast(&PushFrame::new("pushMsg", &body, &Context::new()));
///         if report.failed > 0 {
///             println!("{} clients dropped", report.failed);
///         }
///     }
/// }
///
/// let subscribers = Subscribers::new();
/// let servant = Hello { subscribers: subscribers.clone() };
/// # let _ = (servant, push_loop);
/// ```
#[derive(Clone, Default)]
pub struct Subscribers {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    registry: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    /// The registered clients, by connection id.
    currents: HashMap<u64, Current>,
    /// The connections whose close callback (which removes them) has been registered and has
    /// not run yet: so that adding a client again does not register another one.
    watched: HashSet<u64>,
}

/// What a [`Subscribers::broadcast`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BroadcastReport {
    /// The connections the push was queued on.
    pub delivered: usize,
    /// The connections it could not be queued on: closed, or closed now because their queue
    /// was full (such clients are removed), or whose maximum frame is shorter than the push.
    pub failed: usize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        // nothing panics while holding it, and no user code runs under it
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Subscribers {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the client of `current`'s connection, keyed by its
    /// [connection id](Current::connection_id), and returns `true`; adding a client already
    /// registered replaces its `Current` with this one and returns `false`.
    ///
    /// The client is removed automatically when its connection closes (at once if it already
    /// has); the registry is not kept alive by its clients' connections.
    pub fn add(&self, current: &Current) -> bool {
        let id = current.connection_id();
        let (added, watch) = {
            let mut registry = self.inner.lock();
            let replaced = registry.currents.insert(id, current.clone());
            let watch = registry.watched.insert(id);
            // `replaced` is dropped after the lock is released
            (replaced.is_none(), watch)
        };
        if watch {
            let registry = Arc::downgrade(&self.inner);
            // outside the lock: on a closed connection the callback runs at once and takes it
            current.on_close(move || forget(&registry, id));
        }
        added
    }

    /// Removes the client of connection `connection_id` and returns its `Current`, if it was
    /// registered.
    pub fn remove(&self, connection_id: u64) -> Option<Current> {
        self.inner.lock().currents.remove(&connection_id)
    }

    /// Whether the client of connection `connection_id` is registered.
    pub fn contains(&self, connection_id: u64) -> bool {
        self.inner.lock().currents.contains_key(&connection_id)
    }

    /// How many clients are registered.
    pub fn len(&self) -> usize {
        self.inner.lock().currents.len()
    }

    /// Whether no client is registered.
    pub fn is_empty(&self) -> bool {
        self.inner.lock().currents.is_empty()
    }

    /// A snapshot of the registered `Current`s (in no particular order), to iterate over or
    /// to push to selectively with [`Current::send_push`].
    pub fn currents(&self) -> Vec<Current> {
        self.inner.lock().currents.values().cloned().collect()
    }

    /// Queues `frame` on the connection of every registered client, without waiting, and
    /// reports on how many connections it was queued and on how many it failed.
    ///
    /// A client whose connection has closed, or is closed now because its outgoing queue is
    /// full (see [slow clients](Self#slow-clients)), is removed. The registry is not locked
    /// while pushing: clients added meanwhile may miss this push.
    pub fn broadcast(&self, frame: &PushFrame) -> BroadcastReport {
        let mut report = BroadcastReport::default();
        for current in self.currents() {
            match current.send_push(frame) {
                Ok(()) => report.delivered += 1,
                Err(error) => {
                    report.failed += 1;
                    tracing::debug!(
                        connection = current.connection_id(),
                        peer = %current.peer_addr(),
                        %error,
                        "push not delivered"
                    );
                    if current.is_closed() {
                        // its close callback will do it too; the registry shows it at once
                        self.remove_exact(&current);
                    }
                }
            }
        }
        report
    }

    /// Removes `current`'s client unless it has been replaced meanwhile.
    fn remove_exact(&self, current: &Current) {
        let removed = {
            let mut registry = self.inner.lock();
            let id = current.connection_id();
            match registry.currents.get(&id) {
                Some(registered) if registered.same_request(current) => {
                    registry.currents.remove(&id)
                }
                _ => None,
            }
        };
        drop(removed);
    }
}

/// The close callback: forgets connection `id`, if the registry still exists.
fn forget(registry: &Weak<Inner>, id: u64) {
    let Some(inner) = registry.upgrade() else {
        return;
    };
    let removed = {
        let mut registry = inner.lock();
        registry.watched.remove(&id);
        registry.currents.remove(&id)
    };
    // the Current (perhaps the last handle on the connection) is dropped outside the lock
    drop(removed);
}

impl fmt::Debug for Subscribers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registry = self.inner.lock();
        let mut connections: Vec<u64> = registry.currents.keys().copied().collect();
        connections.sort_unstable();
        f.debug_struct("Subscribers")
            .field("connections", &connections)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::RequestPacket;
    use crate::server::ConnectionContext;

    /// A connection without a socket, and the receiving end of its queue.
    fn connection(
        queue_capacity: usize,
    ) -> (
        Arc<ConnectionContext>,
        tokio::sync::mpsc::Receiver<bytes::Bytes>,
    ) {
        let addr = "127.0.0.1:1".parse().unwrap();
        let (context, receiver) = ConnectionContext::new(addr, addr, 1 << 20, queue_capacity);
        (Arc::new(context), receiver)
    }

    fn current(connection: &Arc<ConnectionContext>, request_id: i32) -> Current {
        Current::new(
            connection.clone(),
            RequestPacket {
                request_id,
                ..RequestPacket::default()
            },
        )
    }

    fn push() -> PushFrame {
        PushFrame::from_buffer("pushMsg", bytes::Bytes::new(), &Default::default())
    }

    #[test]
    fn adding_again_replaces_and_remove_returns_the_current() {
        let (connection, _queue) = connection(8);
        let subscribers = Subscribers::new();
        assert!(subscribers.add(&current(&connection, 1)));
        assert!(!subscribers.add(&current(&connection, 2)), "replaced");
        assert_eq!(subscribers.len(), 1);
        assert!(subscribers.contains(connection.id()));
        assert_eq!(subscribers.currents()[0].request_id(), 2);

        let removed = subscribers.remove(connection.id()).expect("registered");
        assert_eq!(removed.request_id(), 2);
        assert!(subscribers.is_empty() && subscribers.remove(connection.id()).is_none());
        // adding it back does not pile up close callbacks on the connection
        assert!(subscribers.add(&current(&connection, 3)));
        assert!(!subscribers.add(&current(&connection, 4)));
        assert_eq!(format!("{connection:?}").matches("1 waiting").count(), 1);
    }

    #[test]
    fn a_closed_connection_is_forgotten() {
        let (open, _open_queue) = connection(8);
        let (closing, _closing_queue) = connection(8);
        let subscribers = Subscribers::new();
        subscribers.add(&current(&open, 1));
        subscribers.add(&current(&closing, 1));
        assert_eq!(subscribers.len(), 2);

        closing.close("test");
        closing.run_close_callbacks(); // what the connection's task does
        assert_eq!(subscribers.len(), 1);
        assert!(subscribers.contains(open.id()) && !subscribers.contains(closing.id()));
        // a Current of a closed connection is forgotten at once
        subscribers.add(&current(&closing, 2));
        assert!(!subscribers.contains(closing.id()));
        // a dropped registry is not kept alive by the callbacks
        let weak = Arc::downgrade(&subscribers.inner);
        drop(subscribers);
        assert!(weak.upgrade().is_none());
        open.close("test");
        open.run_close_callbacks();
    }

    #[test]
    fn a_full_queue_fails_the_push_and_removes_the_client() {
        let (fast, mut fast_queue) = connection(2);
        let (slow, _slow_queue) = connection(2);
        let subscribers = Subscribers::new();
        subscribers.add(&current(&fast, 1));
        subscribers.add(&current(&slow, 1));
        let frame = push();
        for _ in 0..2 {
            let report = subscribers.broadcast(&frame);
            assert_eq!((report.delivered, report.failed), (2, 0));
            while fast_queue.try_recv().is_ok() {}
        }
        // the slow one's queue is full: it is aborted and removed at once
        let report = subscribers.broadcast(&frame);
        assert_eq!((report.delivered, report.failed), (1, 1));
        assert!(slow.aborted_token().is_cancelled());
        assert_eq!(subscribers.len(), 1);
        assert_eq!(
            subscribers.broadcast(&frame),
            BroadcastReport {
                delivered: 1,
                failed: 0
            }
        );
        assert_eq!(fast_queue.try_recv().unwrap(), frame.as_bytes());
    }

    #[test]
    fn an_empty_registry_broadcasts_to_no_one() {
        let subscribers = Subscribers::new();
        assert!(subscribers.is_empty());
        assert_eq!(subscribers.len(), 0);
        assert!(!subscribers.contains(1));
        assert!(subscribers.remove(1).is_none());
        assert!(subscribers.currents().is_empty());
        assert_eq!(subscribers.broadcast(&push()), BroadcastReport::default());
        assert_eq!(
            format!("{subscribers:?}"),
            "Subscribers { connections: [] }"
        );
    }
}
