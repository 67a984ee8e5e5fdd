//! [`Subscribers`]: a registry of the clients to push to, by connection or by keys of the
//! user's own (a user id, a topic, a peer's IP address).

use std::borrow::Borrow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::watch;

use super::push::{PushError, PushFrame};
use super::Current;

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
/// # Keys
///
/// `Subscribers` (that is, `Subscribers<ConnectionId>`) keys its clients by connection id, as
/// TarsCpp's push example keys its map. `Subscribers<K>` keys them by anything else: a user id,
/// a topic, the peer's IP address. A connection [`join`](Self::join)s any number of keys
/// and [`leave`](Self::leave)s them; a key may hold any number of connections (a user on
/// two devices, a topic's readers); [`send_to`](Self::send_to) pushes to the connections of
/// one key, [`broadcast`](Self::broadcast) to every connection once. A connection that closes
/// leaves all its keys by itself.
///
/// ```
/// use std::net::IpAddr;
/// use tars_rpc::push::{PushFrame, Subscribers};
/// use tars_rpc::Current;
///
/// /// `subscribe(topic)`: the caller gets that topic's pushes until it unsubscribes or leaves.
/// fn subscribe(topics: &Subscribers<String>, current: &Current, topic: String) {
///     topics.join(topic, current);
/// }
///
/// fn publish(topics: &Subscribers<String>, topic: &str, frame: &PushFrame) -> usize {
///     topics.send_to(topic, frame).delivered
/// }
///
/// /// TarsCpp's other demo keys by the peer's IP address.
/// fn register_by_ip(by_ip: &Subscribers<IpAddr>, current: &Current) {
///     by_ip.join(current.peer_addr().ip(), current);
/// }
/// ```
///
/// # Slow clients
///
/// Each connection has one outgoing queue, shared by replies and pushes and bounded in bytes
/// ([`queue_budget`](crate::server::ServerBuilder::queue_budget)); the frames of a broadcast
/// are shared between connections, not copied. A client whose queue is full reads more slowly
/// than the server pushes: [`broadcast`](Self::broadcast) skips it (it misses that push, keeps
/// its connection and its place in the registry) and reports it, while
/// [`broadcast_timeout`](Self::broadcast_timeout) waits for it to make room, up to a deadline.
/// Either way the other clients are not held up. A client that stops reading altogether is
/// cut off by the server after its [stall
/// timeout](crate::server::ServerBuilder::stall_timeout), and so leaves the registry.
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
///         for missed in &report.failed {
///             println!("client {} missed a push: {}", missed.current.peer_addr(), missed.error);
///         }
///     }
/// }
///
/// let subscribers = Subscribers::new();
/// let servant = Hello { subscribers: subscribers.clone() };
/// # let _ = (servant, push_loop);
/// ```
#[derive(Clone)]
pub struct Subscribers<K = ConnectionId> {
    inner: Arc<Inner<K>>,
}

impl<K> Default for Subscribers<K> {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: Mutex::new(Registry {
                    connections: HashMap::new(),
                    keys: HashMap::new(),
                    watched: HashSet::new(),
                    len: watch::Sender::new(0),
                }),
            }),
        }
    }
}

struct Inner<K> {
    registry: Mutex<Registry<K>>,
}

/// The key of a plain [`Subscribers`] registry: a client's connection, by its
/// [`Current::connection_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

struct Registry<K> {
    /// The registered connections, by connection id: the latest `Current` each was added with,
    /// and the keys it has joined.
    connections: HashMap<u64, Subscriber<K>>,
    /// The connections of each key.
    keys: HashMap<K, HashSet<u64>>,
    /// The connections whose close callback (which removes them) has been registered and has
    /// not run yet: so that adding a client again does not register another one.
    watched: HashSet<u64>,
    /// `connections.len()`, for whoever watches it; set under the lock so that its values come
    /// in the order the changes were made.
    len: watch::Sender<usize>,
}

struct Subscriber<K> {
    current: Current,
    /// Few per connection, usually one: a vector is smaller than a set.
    keys: Vec<K>,
}

/// What a [`Subscribers::broadcast`] or [`Subscribers::broadcast_timeout`] did.
#[derive(Debug, Clone, Default)]
pub struct BroadcastReport {
    /// How many connections the push was queued on.
    pub delivered: usize,
    /// The clients it was not queued on, and why.
    pub failed: Vec<Undelivered>,
}

impl BroadcastReport {
    /// Whether the push was queued on every registered client's connection.
    ///
    /// ```
    /// use tars_rpc::push::{PushFrame, Subscribers};
    ///
    /// fn tell_everyone(subscribers: &Subscribers, frame: &PushFrame) {
    ///     let report = subscribers.broadcast(frame);
    ///     if !report.is_complete() {
    ///         eprintln!("{} of {} clients missed it", report.failed.len(), report.failed.len() + report.delivered);
    ///     }
    /// }
    /// ```
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// A client a broadcast missed: see [`BroadcastReport`].
#[derive(Debug, Clone)]
pub struct Undelivered {
    /// The client's registered `Current`, to push to it again or to remove it.
    pub current: Current,
    /// Why: its connection closed (it has been removed from the registry), its queue was
    /// full (it stays registered), or the frame cannot go to it.
    pub error: PushError,
}

impl<K> Inner<K> {
    fn lock(&self) -> MutexGuard<'_, Registry<K>> {
        crate::support::lock(&self.registry)
    }
}

impl<K> Registry<K> {
    /// Tells the watchers of the count, if it changed.
    fn publish_len(&self) {
        let len = self.connections.len();
        self.len.send_if_modified(|published| {
            let changed = *published != len;
            *published = len;
            changed
        });
    }
}

impl<K: Eq + Hash> Registry<K> {
    /// Takes connection `id` out of every key it joined; returns its entry.
    fn remove_connection(&mut self, id: u64) -> Option<Subscriber<K>> {
        let subscriber = self.connections.remove(&id)?;
        self.publish_len();
        for key in &subscriber.keys {
            self.leave_key(key, id);
        }
        // after a crowd has left, give back most of the room it took (amortized: only when
        // four fifths of it stand empty)
        shrink_when_sparse(&mut self.connections);
        shrink_when_sparse(&mut self.keys);
        Some(subscriber)
    }

    /// Takes connection `id` out of `key`'s set, dropping the key once nobody is in it.
    fn leave_key(&mut self, key: &K, id: u64) {
        if let Some(members) = self.keys.get_mut(key) {
            members.remove(&id);
            if members.is_empty() {
                self.keys.remove(key);
            }
        }
    }

    /// The `Current`s of the connections of `ids`.
    fn currents<'a>(&self, ids: impl IntoIterator<Item = &'a u64>) -> Vec<Current> {
        ids.into_iter()
            .filter_map(|id| self.connections.get(id))
            .map(|subscriber| subscriber.current.clone())
            .collect()
    }
}

impl Subscribers {
    /// An empty registry of clients by connection id.
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    ///
    /// let subscribers = Subscribers::new();
    /// assert!(subscribers.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the client of `current`'s connection, keyed by its
    /// [connection id](Current::connection_id), and returns `true`; adding a client already
    /// registered replaces its `Current` with this one and returns `false`.
    ///
    /// The client is removed automatically when its connection closes (at once if it already
    /// has); the registry is not kept alive by its clients' connections.
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    /// use tars_rpc::Current;
    ///
    /// /// The handler of `registerPush`: the client gets every broadcast from now on.
    /// fn register_push(subscribers: &Subscribers, current: &Current) {
    ///     if !subscribers.add(current) {
    ///         eprintln!("{} registered again", current.peer_addr());
    ///     }
    /// }
    /// ```
    pub fn add(&self, current: &Current) -> bool {
        self.join(ConnectionId(current.connection_id()), current)
    }
}

impl<K: Eq + Hash + Clone + Send + Sync + 'static> Subscribers<K> {
    /// An empty registry of clients by keys of type `K`.
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    ///
    /// let by_user: Subscribers<i64> = Subscribers::keyed();
    /// let by_topic = Subscribers::<String>::keyed();
    /// assert!(by_user.is_empty() && by_topic.is_empty());
    /// ```
    pub fn keyed() -> Self {
        Self::default()
    }

    /// Adds the client of `current`'s connection to `key` and returns `true`, or `false` if
    /// it had joined `key` already; either way the connection's registered `Current` becomes
    /// this one. A connection may join any number of keys.
    ///
    /// The client leaves every key automatically when its connection closes (at once if it
    /// already has); the registry is not kept alive by its clients' connections.
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    /// use tars_rpc::Current;
    ///
    /// /// `login(userId)`: pushes for that user reach this connection (and the user's others).
    /// fn login(users: &Subscribers<i64>, current: &Current, user_id: i64) {
    ///     users.join(user_id, current);
    /// }
    /// ```
    pub fn join(&self, key: K, current: &Current) -> bool {
        let id = current.connection_id();
        let mut replaced = None;
        let (joined, watch) = {
            let mut registry = self.inner.lock();
            let joined = match registry.connections.entry(id) {
                Entry::Occupied(mut entry) => {
                    let subscriber = entry.get_mut();
                    replaced = Some(std::mem::replace(&mut subscriber.current, current.clone()));
                    let new = !subscriber.keys.contains(&key);
                    if new {
                        subscriber.keys.push(key.clone());
                    }
                    new
                }
                Entry::Vacant(entry) => {
                    entry.insert(Subscriber {
                        current: current.clone(),
                        keys: vec![key.clone()],
                    });
                    true
                }
            };
            registry.keys.entry(key).or_default().insert(id);
            registry.publish_len();
            (joined, registry.watched.insert(id))
        };
        // the replaced Current (perhaps a connection's last handle) goes after the lock
        drop(replaced);
        if watch {
            let registry = Arc::downgrade(&self.inner);
            // outside the lock: on a closed connection the callback runs at once and takes it
            current.on_close(move || forget(&registry, id));
        }
        joined
    }

    /// Takes connection `connection_id` out of `key`; `true` if it was in. A connection that
    /// leaves its last key leaves the registry.
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    /// use tars_rpc::Current;
    ///
    /// /// `unsubscribe(topic)`.
    /// fn unsubscribe(topics: &Subscribers<String>, current: &Current, topic: &str) -> bool {
    ///     topics.leave(topic, current.connection_id())
    /// }
    /// ```
    pub fn leave<Q>(&self, key: &Q, connection_id: u64) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let removed = {
            let mut registry = self.inner.lock();
            let Some(subscriber) = registry.connections.get_mut(&connection_id) else {
                return false;
            };
            let Some(position) = subscriber
                .keys
                .iter()
                .position(|joined| joined.borrow() == key)
            else {
                return false;
            };
            let key = subscriber.keys.swap_remove(position);
            let last = subscriber.keys.is_empty();
            registry.leave_key(&key, connection_id);
            let removed = last
                .then(|| registry.connections.remove(&connection_id))
                .flatten();
            registry.publish_len();
            removed
        };
        drop(removed);
        true
    }

    /// Removes the client of connection `connection_id` from every key and returns its
    /// `Current`, if it was registered.
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    /// use tars_rpc::Current;
    ///
    /// /// The handler of `unregisterPush`.
    /// fn unregister_push(subscribers: &Subscribers, current: &Current) -> bool {
    ///     subscribers.remove(current.connection_id()).is_some()
    /// }
    /// ```
    pub fn remove(&self, connection_id: u64) -> Option<Current> {
        let removed = self.inner.lock().remove_connection(connection_id);
        removed.map(|subscriber| subscriber.current)
    }

    /// Whether the client of connection `connection_id` is registered (under any key).
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    /// use tars_rpc::Current;
    ///
    /// fn is_registered(subscribers: &Subscribers, current: &Current) -> bool {
    ///     subscribers.contains(current.connection_id())
    /// }
    /// ```
    pub fn contains(&self, connection_id: u64) -> bool {
        self.inner.lock().connections.contains_key(&connection_id)
    }

    /// How many connections are registered (each once, whatever keys it joined).
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    ///
    /// fn report(subscribers: &Subscribers) {
    ///     println!("{} clients registered", subscribers.len());
    /// }
    /// ```
    pub fn len(&self) -> usize {
        self.inner.lock().connections.len()
    }

    /// A watch of [`len`](Self::len): it changes as clients are added and as they leave, by
    /// themselves (their connections closed) or by [`leave`](Self::leave) and
    /// [`remove`](Self::remove). To wait until every client has gone, or until enough have
    /// registered, without polling.
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    ///
    /// /// Stops producing once the last client has gone.
    /// async fn until_nobody_listens(subscribers: &Subscribers) {
    ///     let mut len = subscribers.watch_len();
    ///     let _ = len.wait_for(|&len| len == 0).await;
    /// }
    /// # let _ = until_nobody_listens;
    /// ```
    pub fn watch_len(&self) -> watch::Receiver<usize> {
        self.inner.lock().len.subscribe()
    }

    /// Whether no client is registered.
    ///
    /// ```
    /// use tars_rpc::push::{PushFrame, Subscribers};
    ///
    /// /// Encodes and sends a push only if someone listens.
    /// fn maybe_push(subscribers: &Subscribers, make: impl FnOnce() -> PushFrame) {
    ///     if !subscribers.is_empty() {
    ///         subscribers.broadcast(&make());
    ///     }
    /// }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.lock().connections.is_empty()
    }

    /// How many connections have joined `key`.
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    ///
    /// fn readers(topics: &Subscribers<String>, topic: &str) -> usize {
    ///     topics.count(topic)
    /// }
    /// ```
    pub fn count<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner.lock().keys.get(key).map_or(0, HashSet::len)
    }

    /// The keys that have at least one connection (a snapshot, in no particular order).
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    ///
    /// fn topics_in_use(topics: &Subscribers<String>) -> Vec<String> {
    ///     topics.keys()
    /// }
    /// ```
    pub fn keys(&self) -> Vec<K> {
        self.inner.lock().keys.keys().cloned().collect()
    }

    /// The keys connection `connection_id` has joined (a snapshot).
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    /// use tars_rpc::Current;
    ///
    /// fn my_topics(topics: &Subscribers<String>, current: &Current) -> Vec<String> {
    ///     topics.keys_of(current.connection_id())
    /// }
    /// ```
    pub fn keys_of(&self, connection_id: u64) -> Vec<K> {
        let registry = self.inner.lock();
        registry
            .connections
            .get(&connection_id)
            .map(|subscriber| subscriber.keys.clone())
            .unwrap_or_default()
    }

    /// A snapshot of the registered `Current`s, one per connection (in no particular order),
    /// to iterate over or to push to selectively with [`Current::push`] or
    /// [`Current::try_push`].
    ///
    /// ```
    /// use tars_rpc::push::{PushFrame, Subscribers};
    ///
    /// /// Pushes to the clients on this machine only.
    /// fn push_to_local(subscribers: &Subscribers, frame: &PushFrame) {
    ///     for current in subscribers.currents() {
    ///         if current.peer_addr().ip().is_loopback() {
    ///             let _ = current.try_push(frame.clone());
    ///         }
    ///     }
    /// }
    /// ```
    pub fn currents(&self) -> Vec<Current> {
        let registry = self.inner.lock();
        registry.currents(registry.connections.keys())
    }

    /// A snapshot of the `Current`s of the connections that joined `key`.
    ///
    /// ```
    /// use tars_rpc::push::Subscribers;
    ///
    /// fn peers_of(users: &Subscribers<i64>, user_id: i64) -> Vec<std::net::SocketAddr> {
    ///     users.currents_of(&user_id).iter().map(|current| current.peer_addr()).collect()
    /// }
    /// ```
    pub fn currents_of<Q>(&self, key: &Q) -> Vec<Current>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let registry = self.inner.lock();
        match registry.keys.get(key) {
            Some(members) => registry.currents(members),
            None => Vec::new(),
        }
    }

    /// Queues `frame` on the connection of every registered client whose outgoing queue has
    /// room now, without waiting, and reports on how many connections it was queued and which
    /// it missed. Each connection gets it once, whatever keys it joined.
    ///
    /// A client whose connection has closed is removed; one whose queue is full misses this
    /// push and stays registered (see [slow clients](Self#slow-clients)). The registry is not
    /// locked while pushing: clients added meanwhile may miss this push.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tars_rpc::packet::Context;
    /// use tars_rpc::push::{PushFrame, Subscribers};
    ///
    /// fn tick(subscribers: &Subscribers, sequence: u64) {
    ///     let frame = PushFrame::from_buffer("tick", Bytes::new(), &Context::new()); // encoded once
    ///     let report = subscribers.broadcast(&frame);
    ///     for missed in report.failed {
    ///         eprintln!("tick {sequence} missed {}: {}", missed.current.peer_addr(), missed.error);
    ///     }
    /// }
    /// ```
    pub fn broadcast(&self, frame: &PushFrame) -> BroadcastReport {
        self.push_now(self.currents(), frame)
    }

    /// Queues `frame` on the connections that joined `key`, as [`broadcast`](Self::broadcast)
    /// does for all: without waiting, skipping (and reporting) those whose queue is full.
    ///
    /// ```
    /// use tars_rpc::push::{PushFrame, Subscribers};
    ///
    /// /// An event for one user reaches every device the user is logged in on.
    /// fn notify_user(users: &Subscribers<i64>, user_id: i64, frame: &PushFrame) -> bool {
    ///     users.send_to(&user_id, frame).delivered > 0
    /// }
    /// ```
    pub fn send_to<Q>(&self, key: &Q, frame: &PushFrame) -> BroadcastReport
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.push_now(self.currents_of(key), frame)
    }

    /// Queues `frame` on the connection of every registered client, waiting for room on those
    /// whose outgoing queue is full until `timeout` has passed, and reports on how many
    /// connections it was queued and which it missed (those still full at the deadline fail
    /// with [`PushError::Timeout`]).
    ///
    /// Clients with room get the push at once; the slow ones are waited for together, so the
    /// whole broadcast takes at most `timeout`, however many are slow. A client whose
    /// connection has closed is removed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tars_rpc::push::{PushFrame, Subscribers};
    ///
    /// /// A burst of pushes that no reading client misses, however large.
    /// async fn burst(subscribers: &Subscribers, frames: Vec<PushFrame>) {
    ///     for frame in frames {
    ///         let report = subscribers.broadcast_timeout(&frame, Duration::from_secs(5)).await;
    ///         for missed in report.failed {
    ///             eprintln!("{} missed a push: {}", missed.current.peer_addr(), missed.error);
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropped while waiting, it has queued the push on some clients and not on the others.
    pub async fn broadcast_timeout(&self, frame: &PushFrame, timeout: Duration) -> BroadcastReport {
        self.push_waiting(self.currents(), frame, timeout).await
    }

    /// Queues `frame` on the connections that joined `key`, waiting up to `timeout` for room
    /// on the slow ones, as [`broadcast_timeout`](Self::broadcast_timeout) does for all.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tars_rpc::push::{PushFrame, Subscribers};
    ///
    /// async fn publish(topics: &Subscribers<String>, topic: &str, frame: &PushFrame) {
    ///     let report = topics.send_to_timeout(topic, frame, Duration::from_secs(2)).await;
    ///     if !report.is_complete() {
    ///         eprintln!("{} readers of {topic} missed it", report.failed.len());
    ///     }
    /// }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropped while waiting, it has queued the push on some clients and not on the others.
    pub async fn send_to_timeout<Q>(
        &self,
        key: &Q,
        frame: &PushFrame,
        timeout: Duration,
    ) -> BroadcastReport
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.push_waiting(self.currents_of(key), frame, timeout)
            .await
    }

    fn push_now(&self, currents: Vec<Current>, frame: &PushFrame) -> BroadcastReport {
        let mut report = BroadcastReport::default();
        for current in currents {
            let pushed = current.try_push(frame.clone());
            self.record(&mut report, current, pushed);
        }
        report
    }

    async fn push_waiting(
        &self,
        currents: Vec<Current>,
        frame: &PushFrame,
        timeout: Duration,
    ) -> BroadcastReport {
        let deadline = tokio::time::Instant::now().checked_add(timeout);
        let mut report = BroadcastReport::default();
        let mut slow = Vec::new();
        for current in currents {
            match current.try_push(frame.clone()) {
                Err(PushError::Full(frame)) => slow.push((current, frame)),
                pushed => self.record(&mut report, current, pushed),
            }
        }
        let waited =
            futures::future::join_all(slow.into_iter().map(|(current, frame)| async move {
                let pushed = current.push_until(frame, deadline).await;
                (current, pushed)
            }))
            .await;
        for (current, pushed) in waited {
            self.record(&mut report, current, pushed);
        }
        report
    }

    /// Counts a push to `current` into `report`, forgetting the client if its connection closed.
    fn record(
        &self,
        report: &mut BroadcastReport,
        current: Current,
        pushed: Result<(), PushError>,
    ) {
        let error = match pushed {
            Ok(()) => {
                report.delivered += 1;
                return;
            }
            Err(error) => error,
        };
        tracing::debug!(
            connection = current.connection_id(),
            peer = %current.peer_addr(),
            %error,
            "push not delivered"
        );
        if error.is_closed() {
            // its close callback will do it too; the registry shows it at once
            self.remove_exact(&current);
        }
        report.failed.push(Undelivered { current, error });
    }

    /// Removes `current`'s client unless it has been replaced meanwhile.
    fn remove_exact(&self, current: &Current) {
        let removed = {
            let mut registry = self.inner.lock();
            let id = current.connection_id();
            match registry.connections.get(&id) {
                Some(registered) if registered.current.same_request(current) => {
                    registry.remove_connection(id)
                }
                _ => None,
            }
        };
        drop(removed);
    }
}

/// Halves a map's room once it is at most a fifth full, keeping small maps as they are.
fn shrink_when_sparse<A: Eq + Hash, B>(map: &mut HashMap<A, B>) {
    const SMALL: usize = 64;
    if map.capacity() > SMALL && map.len() * 5 <= map.capacity() {
        map.shrink_to(map.capacity() / 2);
    }
}

/// The close callback: forgets connection `id`, if the registry still exists.
fn forget<K: Eq + Hash>(registry: &Weak<Inner<K>>, id: u64) {
    let Some(inner) = registry.upgrade() else {
        return;
    };
    let removed = {
        let mut registry = inner.lock();
        registry.watched.remove(&id);
        registry.remove_connection(id)
    };
    // the Current (perhaps the last handle on the connection) is dropped outside the lock
    drop(removed);
}

impl<K: fmt::Debug> fmt::Debug for Subscribers<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registry = self.inner.lock();
        let mut connections: Vec<u64> = registry.connections.keys().copied().collect();
        connections.sort_unstable();
        f.debug_struct("Subscribers")
            .field("connections", &connections)
            .field("keys", &registry.keys.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::RequestPacket;
    use crate::server::{ConnectionContext, OutgoingFrames, TotalBudget};

    /// A connection without a socket whose queue holds `budget` bytes, and its queue.
    fn connection(budget: usize) -> (Arc<ConnectionContext>, OutgoingFrames) {
        let addr = "127.0.0.1:1".parse().unwrap();
        let total = Arc::new(TotalBudget::new(1 << 30));
        let (context, receiver) = ConnectionContext::new(addr, addr, 1 << 20, budget, total);
        (Arc::new(context), receiver)
    }

    fn current(connection: &Arc<ConnectionContext>, request_id: i32) -> Current {
        Current::new(
            connection.clone(),
            RequestPacket {
                request_id,
                ..RequestPacket::default()
            }
            .into(),
            tokio::time::Instant::now(),
        )
    }

    fn push() -> PushFrame {
        PushFrame::from_buffer("pushMsg", bytes::Bytes::new(), &Default::default())
    }

    /// What the writer does for a frame it has written: takes it and gives its room back.
    fn write_one(connection: &ConnectionContext, queue: &mut OutgoingFrames) -> bytes::Bytes {
        let frame = queue.try_recv().expect("a queued frame");
        let mut held = Default::default();
        connection.outgoing().hold(&mut held, &frame);
        connection.outgoing().release(&mut held);
        frame
    }

    #[tokio::test]
    async fn adding_again_replaces_and_remove_returns_the_current() {
        let (connection, _queue) = connection(1024);
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

    #[tokio::test]
    async fn a_closed_connection_is_forgotten() {
        let (open, _open_queue) = connection(1024);
        let (closing, _closing_queue) = connection(1024);
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

    #[tokio::test]
    async fn the_len_watch_sees_joins_leaves_and_closes() {
        let (first, _first_queue) = connection(1024);
        let (second, _second_queue) = connection(1024);
        let topics: Subscribers<&str> = Subscribers::keyed();
        let mut len = topics.watch_len();
        assert_eq!(*len.borrow_and_update(), 0);

        topics.join("a", &current(&first, 1));
        topics.join("b", &current(&first, 1));
        topics.join("a", &current(&second, 1));
        assert!(len.has_changed().unwrap());
        assert_eq!(*len.borrow_and_update(), 2);
        // leaving one of two keys keeps the connection: no change to see
        assert!(topics.leave("a", first.id()));
        assert!(!len.has_changed().unwrap());
        assert!(topics.leave("b", first.id()));
        assert_eq!(*len.borrow_and_update(), 1);

        let waiter = tokio::spawn({
            let mut len = topics.watch_len();
            async move { len.wait_for(|&len| len == 0).await.map(|len| *len) }
        });
        second.close("test");
        second.run_close_callbacks();
        assert_eq!(waiter.await.unwrap().ok(), Some(0));
        assert_eq!(topics.len(), 0);
    }

    #[tokio::test]
    async fn a_full_queue_skips_the_client_and_keeps_it() {
        let frame = push();
        let (fast, mut fast_queue) = connection(2 * frame.len());
        let (slow, mut slow_queue) = connection(2 * frame.len());
        let subscribers = Subscribers::new();
        subscribers.add(&current(&fast, 1));
        subscribers.add(&current(&slow, 1));
        for _ in 0..2 {
            let report = subscribers.broadcast(&frame);
            assert_eq!((report.delivered, report.failed.len()), (2, 0));
            write_one(&fast, &mut fast_queue);
        }
        // the slow one's queue is full: it misses the push, and stays registered and open
        let report = subscribers.broadcast(&frame);
        assert_eq!(report.delivered, 1);
        assert_eq!(report.failed.len(), 1);
        let missed = &report.failed[0];
        assert_eq!(missed.current.connection_id(), slow.id());
        assert!(
            matches!(&missed.error, PushError::Full(back) if back.as_bytes() == frame.as_bytes())
        );
        assert!(!slow.is_closed() && subscribers.contains(slow.id()));

        // once it has taken a push, it gets the next
        write_one(&slow, &mut slow_queue);
        let report = subscribers.broadcast(&frame);
        assert!(report.is_complete() && report.delivered == 2, "{report:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn broadcast_timeout_waits_for_room_until_its_deadline() {
        let frame = push();
        let (fast, mut fast_queue) = connection(frame.len());
        let (slow, mut slow_queue) = connection(frame.len());
        let (stuck, _stuck_queue) = connection(frame.len());
        let (closing, _closing_queue) = connection(frame.len());
        let subscribers = Subscribers::new();
        for connection in [&fast, &slow, &stuck, &closing] {
            subscribers.add(&current(connection, 1));
        }
        let report = subscribers.broadcast(&frame);
        assert_eq!(report.delivered, 4);
        write_one(&fast, &mut fast_queue);

        let broadcast = tokio::spawn({
            let (subscribers, frame) = (subscribers.clone(), frame.clone());
            async move {
                subscribers
                    .broadcast_timeout(&frame, Duration::from_secs(5))
                    .await
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!broadcast.is_finished());
        // the slow client makes room within the deadline; another one's connection closes
        write_one(&slow, &mut slow_queue);
        closing.close("test");
        let report = broadcast.await.unwrap();
        assert_eq!(report.delivered, 2, "the fast and the slow one");
        let mut failed: Vec<_> = report
            .failed
            .iter()
            .map(|missed| (missed.current.connection_id(), missed.error.is_closed()))
            .collect();
        failed.sort_unstable();
        assert_eq!(failed, [(stuck.id(), false), (closing.id(), true)]);
        assert!(report
            .failed
            .iter()
            .any(|missed| matches!(missed.error, PushError::Timeout(_))));
        assert!(
            !subscribers.contains(closing.id()),
            "a closed client is removed"
        );
        assert!(subscribers.contains(stuck.id()), "a slow one is not");
        assert_eq!(fast_queue.try_recv().unwrap(), frame.as_bytes());
        assert_eq!(slow_queue.try_recv().unwrap(), frame.as_bytes());
    }

    #[tokio::test]
    async fn keys_route_pushes_to_the_connections_that_joined_them() {
        let frame = push();
        let (alice_phone, mut alice_phone_queue) = connection(1024);
        let (alice_laptop, mut alice_laptop_queue) = connection(1024);
        let (bob, mut bob_queue) = connection(1024);
        let users = Subscribers::<String>::keyed();
        assert!(users.join("alice".into(), &current(&alice_phone, 1)));
        assert!(users.join("alice".into(), &current(&alice_laptop, 1)));
        assert!(users.join("bob".into(), &current(&bob, 1)));
        // the laptop follows bob too; joining twice is no new join
        assert!(users.join("bob".into(), &current(&alice_laptop, 2)));
        assert!(!users.join("bob".into(), &current(&alice_laptop, 3)));
        assert_eq!(
            (users.len(), users.count("alice"), users.count("bob")),
            (3, 2, 2)
        );
        let mut keys = users.keys();
        keys.sort();
        assert_eq!(keys, ["alice", "bob"]);
        assert_eq!(users.currents_of("bob").len(), 2);

        let report = users.send_to("alice", &frame);
        assert_eq!((report.delivered, report.failed.len()), (2, 0));
        assert!(
            bob_queue.try_recv().is_err(),
            "bob's connection gets no alice push"
        );
        write_one(&alice_phone, &mut alice_phone_queue);
        write_one(&alice_laptop, &mut alice_laptop_queue);
        assert_eq!(
            users.send_to("carol", &frame).delivered,
            0,
            "a key nobody joined"
        );

        // a broadcast reaches each connection once, whatever keys it joined
        assert_eq!(users.broadcast(&frame).delivered, 3);
        for (connection, queue) in [
            (&alice_phone, &mut alice_phone_queue),
            (&alice_laptop, &mut alice_laptop_queue),
            (&bob, &mut bob_queue),
        ] {
            write_one(connection, queue);
            assert!(queue.try_recv().is_err(), "one copy per connection");
        }

        // leaving: the laptop leaves alice and stays for bob; bob leaves his only key and goes
        assert!(users.leave("alice", alice_laptop.id()));
        assert!(!users.leave("alice", alice_laptop.id()), "left already");
        assert_eq!(users.keys_of(alice_laptop.id()), ["bob"]);
        assert!(users.leave("bob", bob.id()));
        assert!(!users.contains(bob.id()));
        assert_eq!(
            (users.len(), users.count("alice"), users.count("bob")),
            (2, 1, 1)
        );

        // a closed connection leaves every key it joined
        alice_laptop.close("test");
        alice_laptop.run_close_callbacks();
        assert_eq!(users.count("bob"), 0);
        assert_eq!(users.keys(), ["alice"]);
        assert_eq!(
            users.remove(alice_phone.id()).map(|c| c.request_id()),
            Some(1)
        );
        assert!(users.is_empty() && users.keys().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn send_to_timeout_waits_for_the_keys_slow_connections_only() {
        let frame = push();
        let (slow, mut slow_queue) = connection(frame.len());
        let (other, _other_queue) = connection(frame.len());
        let by_ip = Subscribers::<std::net::IpAddr>::keyed();
        let here: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let there: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        by_ip.join(here, &current(&slow, 1));
        by_ip.join(there, &current(&other, 1));
        assert_eq!(by_ip.broadcast(&frame).delivered, 2, "both queues now full");

        let send = tokio::spawn({
            let (by_ip, frame) = (by_ip.clone(), frame.clone());
            async move {
                by_ip
                    .send_to_timeout(&here, &frame, Duration::from_secs(5))
                    .await
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            !send.is_finished(),
            "waits for room on the key's connection"
        );
        write_one(&slow, &mut slow_queue);
        let report = send.await.unwrap();
        assert!(report.is_complete() && report.delivered == 1, "{report:?}");
        // the other key's full connection was not waited for, nor touched
        assert_eq!(by_ip.count(&there), 1);
    }

    #[tokio::test]
    async fn an_empty_registry_broadcasts_to_no_one() {
        let subscribers = Subscribers::new();
        assert!(subscribers.is_empty());
        assert_eq!(subscribers.len(), 0);
        assert!(!subscribers.contains(1));
        assert!(subscribers.remove(1).is_none());
        assert!(subscribers.currents().is_empty());
        let report = subscribers.broadcast(&push());
        assert!(report.is_complete() && report.delivered == 0);
        assert_eq!(
            format!("{subscribers:?}"),
            "Subscribers { connections: [], keys: 0 }"
        );
    }
}
