//! The server side: registrations, publishing, and the delivery tasks.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::dedupe::DeliveryId;
use super::outbox::{check_id, Invocation, Malformed, Outbox, OutboxError, Registration};
use crate::client::{Communicator, Proxy, ProxyError};
use crate::error::Error;
use crate::node::{AdminCommands, InvalidCommandName};

/// The admin command of [`CallbackHub::add_admin_command`].
pub const ADMIN_COMMAND: &str = "tars.callback.backlog";

/// Why a hub operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The outbox failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// A registration's callback is no valid proxy string.
    #[error("registration `{registration}`: callback `{callback}`: {source}")]
    Callback {
        /// The registration id.
        registration: String,
        /// The callback as given.
        callback: String,
        /// Why it does not parse.
        #[source]
        source: ProxyError,
    },
    /// The hub was shut down.
    #[error("the callback hub is shut down")]
    Closed,
}

/// Something the hub did that its user may want to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HubEvent {
    /// A registration kept failing for longer than
    /// [`max_failing`](CallbackHubBuilder::max_failing): it was removed with its pending
    /// callbacks.
    Dropped {
        /// The registration removed.
        registration: Registration,
        /// How many callbacks it had pending.
        pending: u64,
        /// How long it had been failing.
        failing_for: Duration,
        /// The last call's error.
        error: String,
    },
    /// A record of the outbox could not be read: it was moved aside.
    Malformed(Malformed),
}

/// Counters of a hub, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubStats {
    /// Callbacks queued and not yet delivered: counted from the outbox at start, then
    /// what this hub queued less what it delivered (an outbox shared with other instances
    /// holds theirs too: see [`CallbackHub::backlog`]).
    pub pending: u64,
    /// Callbacks delivered (answered with success).
    pub delivered: u64,
    /// Calls that failed and were tried again.
    pub retried: u64,
    /// Registrations dropped for failing too long.
    pub dropped: u64,
    /// Callbacks dropped with them.
    pub dropped_callbacks: u64,
    /// Outbox records that could not be read.
    pub malformed: u64,
}

/// One registration's backlog, for an admin view.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backlog {
    /// The registration.
    pub registration: Registration,
    /// Callbacks pending in the outbox.
    pub pending: u64,
    /// The last sequence delivered since the hub started, if any.
    pub last_delivered: Option<u64>,
    /// How long the registration has been failing, if it is.
    pub failing_for: Option<Duration>,
    /// The last call's error while failing.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Counters {
    pending: AtomicU64,
    delivered: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    dropped_callbacks: AtomicU64,
    malformed: AtomicU64,
}

/// The proxy calling `registration`'s callback object back.
fn callback_proxy(
    communicator: &Communicator,
    registration: &Registration,
) -> Result<Proxy, HubError> {
    communicator
        .proxy(registration.callback())
        .map_err(|source| HubError::Callback {
            registration: registration.id().to_string(),
            callback: registration.callback().to_string(),
            source,
        })
}

/// Settings of a hub.
#[derive(Debug, Clone)]
struct Settings {
    call_timeout: Duration,
    backoff_initial: Duration,
    backoff_max: Duration,
    max_failing: Duration,
    batch: usize,
    poll_interval: Duration,
}

/// A registration's delivery state, shared by its task and the admin view.
#[derive(Debug, Default)]
struct State {
    last_delivered: Option<u64>,
    failing_since: Option<Instant>,
    last_error: Option<String>,
}

/// A running registration.
struct Worker {
    registration: Registration,
    wake: Arc<Notify>,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
    /// When the task started.
    started: Instant,
}

struct Inner {
    outbox: Arc<dyn Outbox>,
    communicator: Communicator,
    settings: Settings,
    workers: Mutex<HashMap<String, Worker>>,
    counters: Counters,
    events: broadcast::Sender<HubEvent>,
    /// Notified when the pending count reaches 0.
    drained: Notify,
    stop: CancellationToken,
    tracker: TaskTracker,
}

/// The delay before retry `attempt` (0 for the first retry): `initial` doubled per attempt,
/// at most `max`.
pub(crate) fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    initial
        .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Durable callbacks, the server's side (brpc's "RESTful callback" push pattern with TARS
/// objects): clients [`register`](Self::register) a callback object of their own, the server
/// [`publish`](Self::publish)es events, and the hub calls each matching registration's
/// callback, at least once and in order, retrying with capped exponential backoff through
/// network errors and restarts of either side.
///
/// Each callback is written to the [`Outbox`] before `publish` returns and removed only
/// once the client answered it, so it survives a restart of the server. A callback carries
/// its [`DeliveryId`] in its request context; the client drops repeats with a
/// [`Deduper`](super::Deduper). A registration that keeps failing for
/// [`max_failing`](CallbackHubBuilder::max_failing) is dropped and reported
/// ([`events`](Self::events), and a warning in the log).
///
/// The hub delivers the registrations the outbox holds when it starts, those registered
/// through it, and those it finds in the outbox every
/// [`poll_interval`](CallbackHubBuilder::poll_interval) (registered by another instance
/// sharing the outbox). How long a registration has been failing is kept in memory: a
/// restart starts the count again.
///
/// The hub owns one delivery task per registration and one following the outbox: they stop on
/// [`shutdown`](Self::shutdown) or when the hub is dropped.
///
/// ```no_run
/// use tars_rpc::callback::{CallbackHub, Invocation, RedbOutbox, Registration};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let hub = CallbackHub::builder(RedbOutbox::open("callbacks.redb")?).build().await?;
/// // in the servant's `register` RPC:
/// hub.register(Registration::new(
///     "client-42",
///     "App.Client.NotifyObj@tcp -h 127.0.0.1 -p 20001",
///     "orders",
/// ))
/// .await?;
/// // when an event happens: `void onOrder(long id)` on every registration of "orders"
/// hub.publish("orders", &Invocation::new("onOrder").arg(&1001i64)).await?;
/// # Ok(())
/// # }
/// ```
pub struct CallbackHub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CallbackHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackHub")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Settings of a [`CallbackHub`], from [`CallbackHub::builder`].
pub struct CallbackHubBuilder {
    outbox: Arc<dyn Outbox>,
    communicator: Option<Communicator>,
    settings: Settings,
}

impl CallbackHubBuilder {
    /// The communicator the callbacks are made through (its discovery finds callbacks given
    /// as `App.Server.Obj`); a new default one otherwise.
    #[must_use]
    pub fn communicator(mut self, communicator: Communicator) -> Self {
        self.communicator = Some(communicator);
        self
    }

    /// How long one callback call may take before it counts as failed: 3 s by default.
    #[must_use]
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.settings.call_timeout = timeout;
        self
    }

    /// The delay before the first retry of a failed callback, doubled per retry up to `max`:
    /// 100 ms and 30 s by default.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.settings.backoff_initial = initial;
        self.settings.backoff_max = max.max(initial);
        self
    }

    /// How long a registration may keep failing (no callback answered) before it is dropped
    /// with its pending callbacks: 24 hours by default.
    #[must_use]
    pub fn max_failing(mut self, max: Duration) -> Self {
        self.settings.max_failing = max;
        self
    }

    /// How many pending callbacks a delivery task reads from the outbox at a time: 256 by
    /// default (at least 1).
    #[must_use]
    pub fn batch(mut self, batch: usize) -> Self {
        self.settings.batch = batch.max(1);
        self
    }

    /// How often an idle registration looks at the outbox for callbacks it was not told
    /// about: queued by another instance sharing the outbox, or left by an instance that
    /// died, in an outbox several instances share: 1 s by default.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.settings.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Starts the hub: sweeps the outbox of records it cannot read (reported as
    /// [`HubEvent::Malformed`] and counted), then starts delivering the registrations it
    /// holds.
    ///
    /// # Errors
    /// When the outbox fails.
    pub async fn build(self) -> Result<CallbackHub, HubError> {
        let (events, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            outbox: self.outbox,
            communicator: self.communicator.unwrap_or_default(),
            settings: self.settings,
            workers: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            events,
            drained: Notify::new(),
            stop: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        let swept = inner.outbox.sweep().await?;
        inner.report_malformed(swept);
        let scan = inner.outbox.registrations().await?;
        inner.report_malformed(scan.malformed);
        let pending: u64 = inner.outbox.backlog().await?.iter().map(|(_, n)| n).sum();
        inner.counters.pending.store(pending, Ordering::Relaxed);
        inner.adopt(scan.items, Instant::now());
        inner.tracker.spawn(Arc::clone(&inner).follow());
        Ok(CallbackHub { inner })
    }
}

impl Inner {
    /// Starts delivering the registrations of `found` that have no task here, and stops the
    /// tasks of registrations no longer in the outbox (removed by another instance).
    ///
    /// Only tasks started before `read_at`, when `found` was read, are stopped: one started
    /// since is for a registration made after the read.
    fn adopt(self: &Arc<Self>, found: Vec<Registration>, read_at: Instant) {
        let known: std::collections::HashSet<String> =
            found.iter().map(|r| r.id().to_string()).collect();
        let new: Vec<Registration> = {
            let mut workers = lock(&self.workers);
            workers.retain(|id, worker| {
                let keep = known.contains(id) || worker.started >= read_at;
                if !keep {
                    worker.stop.cancel();
                }
                keep
            });
            found
                .into_iter()
                .filter(|registration| {
                    workers
                        .get(registration.id())
                        .map_or(true, |worker| worker.registration != *registration)
                })
                .collect()
        };
        for registration in new {
            if let Err(error) = self.start(registration.clone()) {
                tracing::warn!(registration = registration.id(), %error, "callback registration not started");
            }
        }
    }

    /// Follows the registrations in the outbox, every poll interval, until the hub stops:
    /// those another instance sharing the outbox added or removed.
    async fn follow(self: Arc<Self>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                () = self.stop.cancelled() => return,
            }
            let read_at = Instant::now();
            match self.outbox.registrations().await {
                Ok(scan) => {
                    self.report_malformed(scan.malformed);
                    if !self.stop.is_cancelled() {
                        self.adopt(scan.items, read_at);
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read the callback registrations"),
            }
        }
    }

    async fn backlog(&self) -> Result<Vec<Backlog>, HubError> {
        let counts: HashMap<String, u64> = self.outbox.backlog().await?.into_iter().collect();
        let workers = lock(&self.workers);
        let mut backlog: Vec<Backlog> = workers
            .values()
            .map(|worker| {
                let state = lock(&worker.state);
                Backlog {
                    registration: worker.registration.clone(),
                    pending: counts.get(worker.registration.id()).copied().unwrap_or(0),
                    last_delivered: state.last_delivered,
                    failing_for: state.failing_since.map(|since| since.elapsed()),
                    last_error: state.last_error.clone(),
                }
            })
            .collect();
        backlog.sort_by(|a, b| a.registration.id().cmp(b.registration.id()));
        Ok(backlog)
    }

    /// The admin command's answer.
    async fn report(&self) -> String {
        let stats = self.stats();
        let mut text = format!(
            "pending={} delivered={} retried={} dropped={} dropped_callbacks={} malformed={}\n",
            stats.pending,
            stats.delivered,
            stats.retried,
            stats.dropped,
            stats.dropped_callbacks,
            stats.malformed
        );
        match self.backlog().await {
            Ok(backlog) => {
                for entry in backlog {
                    let _ = writeln!(
                        text,
                        "{} topic={} callback={} pending={} last_delivered={} failing_ms={} error={}",
                        entry.registration.id(),
                        entry.registration.topic(),
                        entry.registration.callback(),
                        entry.pending,
                        entry.last_delivered.map_or_else(|| "-".to_string(), |n| n.to_string()),
                        entry.failing_for.map_or_else(|| "-".to_string(), |d| d.as_millis().to_string()),
                        entry.last_error.as_deref().unwrap_or("-"),
                    );
                }
            }
            Err(error) => {
                let _ = writeln!(text, "cannot read the outbox: {error}");
            }
        }
        text
    }

    /// Counts `count` callbacks out of the pending ones, waking [`CallbackHub::drained`] at 0.
    fn sub_pending(&self, count: u64) {
        let before = self
            .counters
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(count))
            })
            .unwrap_or(0);
        if before <= count {
            self.drained.notify_waiters();
        }
    }

    fn stats(&self) -> HubStats {
        let counters = &self.counters;
        HubStats {
            pending: counters.pending.load(Ordering::Acquire),
            delivered: counters.delivered.load(Ordering::Relaxed),
            retried: counters.retried.load(Ordering::Relaxed),
            dropped: counters.dropped.load(Ordering::Relaxed),
            dropped_callbacks: counters.dropped_callbacks.load(Ordering::Relaxed),
            malformed: counters.malformed.load(Ordering::Relaxed),
        }
    }

    fn report_malformed(&self, found: Vec<Malformed>) {
        for record in found {
            tracing::warn!(location = %record.location, reason = %record.reason, "unreadable callback outbox record moved aside");
            self.counters.malformed.fetch_add(1, Ordering::Relaxed);
            let _ = self.events.send(HubEvent::Malformed(record));
        }
    }

    /// Starts (or restarts, with a changed callback) the delivery task of `registration`.
    fn start(self: &Arc<Self>, registration: Registration) -> Result<(), HubError> {
        let proxy = callback_proxy(&self.communicator, &registration)?
            .with_timeout(self.settings.call_timeout);
        let mut workers = lock(&self.workers);
        if let Some(old) = workers.remove(registration.id()) {
            old.stop.cancel();
        }
        let worker = Worker {
            registration: registration.clone(),
            wake: Arc::new(Notify::new()),
            state: Arc::new(Mutex::new(State::default())),
            stop: self.stop.child_token(),
            started: Instant::now(),
        };
        let task = Delivery {
            inner: Arc::clone(self),
            registration: registration.clone(),
            proxy,
            wake: Arc::clone(&worker.wake),
            state: Arc::clone(&worker.state),
            stop: worker.stop.clone(),
        };
        self.tracker.spawn(task.run());
        workers.insert(registration.id().to_string(), worker);
        Ok(())
    }
}

/// One registration's delivery task.
struct Delivery {
    inner: Arc<Inner>,
    registration: Registration,
    proxy: Proxy,
    wake: Arc<Notify>,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

/// Acknowledge after this many deliveries at most: one store write per group, not per
/// callback. A crash redelivers at most a group, which the receiver drops.
const ACK_EVERY: u32 = 64;

/// Callbacks delivered and not yet acknowledged to the outbox.
#[derive(Debug, Default)]
struct Acks {
    /// The highest sequence delivered.
    through: Option<u64>,
    count: u32,
}

/// How a delivery attempt loop ended.
enum Outcome {
    Delivered,
    Stopped,
    Dropped,
}

impl Delivery {
    async fn run(self) {
        let id = self.registration.id().to_string();
        let settings = &self.inner.settings;
        let mut store_attempt = 0u32;
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            let scan = match self.inner.outbox.pending(&id, settings.batch).await {
                Ok(scan) => {
                    store_attempt = 0;
                    scan
                }
                Err(error) => {
                    tracing::warn!(registration = %id, %error, "cannot read the callback outbox");
                    let delay = backoff(
                        settings.backoff_initial,
                        settings.backoff_max,
                        store_attempt,
                    );
                    store_attempt = store_attempt.saturating_add(1);
                    if self.pause(delay).await {
                        return;
                    }
                    continue;
                }
            };
            self.inner.report_malformed(scan.malformed);
            if scan.items.is_empty() {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(settings.poll_interval) => {}
                    () = self.stop.cancelled() => return,
                }
                continue;
            }
            let mut acks = Acks::default();
            for pending in scan.items {
                let delivery = DeliveryId {
                    registration: id.clone(),
                    sequence: pending.sequence,
                };
                match self
                    .deliver(&delivery, &pending.invocation, &mut acks)
                    .await
                {
                    Outcome::Delivered => {
                        if acks.count >= ACK_EVERY {
                            self.flush(&mut acks).await;
                        }
                    }
                    Outcome::Stopped => {
                        self.flush(&mut acks).await;
                        return;
                    }
                    Outcome::Dropped => return,
                }
            }
            self.flush(&mut acks).await;
        }
    }

    /// Acknowledges the callbacks delivered since the last flush.
    async fn flush(&self, acks: &mut Acks) {
        let Some(through) = acks.through.take() else {
            return;
        };
        let count = std::mem::take(&mut acks.count);
        if let Err(error) = self.inner.outbox.ack(self.registration.id(), through).await {
            // delivered again later, and dropped by the receiver
            tracing::warn!(registration = self.registration.id(), through, %error, "cannot acknowledge callbacks");
        }
        // pending until acknowledged: `drained` means the outbox holds none of them
        self.inner.sub_pending(u64::from(count));
    }

    /// Sleeps `delay` unless stopped first; true if stopped.
    async fn pause(&self, delay: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(delay) => false,
            () = self.stop.cancelled() => true,
        }
    }

    /// Calls back until answered, stopped, or failing for too long.
    async fn deliver(&self, delivery: &DeliveryId, call: &Invocation, acks: &mut Acks) -> Outcome {
        let settings = &self.inner.settings;
        let counters = &self.inner.counters;
        let proxy = self.proxy.with_context(delivery.to_context());
        let mut attempt = 0u32;
        loop {
            let result = tokio::select! {
                result = proxy.invoke_raw(call.func(), call.params()) => result,
                () = self.stop.cancelled() => return Outcome::Stopped,
            };
            let error = match result {
                Ok(reply) if reply.ret.is_success() => None,
                Ok(reply) => Some(Error::new(reply.ret, reply.result_desc).to_string()),
                Err(error) => Some(error.to_string()),
            };
            let Some(error) = error else {
                {
                    let mut state = lock(&self.state);
                    state.last_delivered = Some(delivery.sequence);
                    state.failing_since = None;
                    state.last_error = None;
                }
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                acks.through = Some(delivery.sequence);
                acks.count += 1;
                return Outcome::Delivered;
            };
            let failing_for = {
                let mut state = lock(&self.state);
                let since = *state.failing_since.get_or_insert_with(Instant::now);
                state.last_error = Some(error.clone());
                since.elapsed()
            };
            if failing_for >= settings.max_failing {
                self.drop_registration(failing_for, error).await;
                return Outcome::Dropped;
            }
            counters.retried.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(registration = %delivery.registration, sequence = delivery.sequence, attempt, %error, "callback failed, retrying");
            let delay = backoff(settings.backoff_initial, settings.backoff_max, attempt);
            attempt = attempt.saturating_add(1);
            if attempt == 1 {
                // what was delivered before the failure is not kept waiting through it
                self.flush(acks).await;
            }
            if self.pause(delay).await {
                return Outcome::Stopped;
            }
        }
    }

    async fn drop_registration(&self, failing_for: Duration, error: String) {
        let id = self.registration.id();
        let pending = match self.inner.outbox.remove_registration(id).await {
            Ok(pending) => pending,
            Err(remove_error) => {
                tracing::warn!(registration = %id, error = %remove_error, "cannot remove a failing callback registration");
                0
            }
        };
        {
            let mut workers = lock(&self.inner.workers);
            if workers
                .get(id)
                .is_some_and(|worker| Arc::ptr_eq(&worker.state, &self.state))
            {
                workers.remove(id);
            }
        }
        let counters = &self.inner.counters;
        counters.dropped.fetch_add(1, Ordering::Relaxed);
        counters
            .dropped_callbacks
            .fetch_add(pending, Ordering::Relaxed);
        self.inner.sub_pending(pending);
        tracing::warn!(
            registration = %id,
            callback = self.registration.callback(),
            pending,
            failing_secs = failing_for.as_secs_f64(),
            %error,
            "callback registration dropped: failing for too long"
        );
        let _ = self.inner.events.send(HubEvent::Dropped {
            registration: self.registration.clone(),
            pending,
            failing_for,
            error,
        });
    }
}

impl CallbackHub {
    /// Settings for a hub keeping its callbacks in `outbox`.
    pub fn builder(outbox: impl Outbox) -> CallbackHubBuilder {
        CallbackHubBuilder {
            outbox: Arc::new(outbox),
            communicator: None,
            settings: Settings {
                call_timeout: Duration::from_secs(3),
                backoff_initial: Duration::from_millis(100),
                backoff_max: Duration::from_secs(30),
                max_failing: Duration::from_secs(24 * 3600),
                batch: 256,
                poll_interval: Duration::from_secs(1),
            },
        }
    }

    /// Stores `registration` (replacing one of the same id, whose sequence goes on) and starts
    /// delivering to it. Answer the client's registration RPC once this returns.
    ///
    /// # Errors
    /// [`HubError::Callback`] if the callback is no valid proxy string; the outbox's errors
    /// (an id empty or over 256 bytes among them); [`HubError::Closed`] after shutdown.
    pub async fn register(&self, registration: Registration) -> Result<(), HubError> {
        if self.inner.stop.is_cancelled() {
            return Err(HubError::Closed);
        }
        check_id(registration.id())?;
        // checked before it is stored
        callback_proxy(&self.inner.communicator, &registration)?;
        let unchanged = lock(&self.inner.workers)
            .get(registration.id())
            .is_some_and(|worker| worker.registration == registration);
        self.inner.outbox.put_registration(&registration).await?;
        if !unchanged {
            self.inner.start(registration)?;
        }
        Ok(())
    }

    /// Removes the registration `id` and its pending callbacks; returns how many were pending.
    ///
    /// # Errors
    /// When the outbox fails.
    pub async fn unregister(&self, id: &str) -> Result<u64, HubError> {
        if let Some(worker) = lock(&self.inner.workers).remove(id) {
            worker.stop.cancel();
        }
        let pending = self.inner.outbox.remove_registration(id).await?;
        self.inner.sub_pending(pending);
        Ok(pending)
    }

    /// Queues `call` durably for every registration of `topic` and returns how many there
    /// are; delivery follows in the background.
    ///
    /// # Errors
    /// When the outbox fails (nothing is then queued); [`HubError::Closed`] after shutdown.
    pub async fn publish(&self, topic: &str, call: &Invocation) -> Result<usize, HubError> {
        self.publish_batch(topic, std::slice::from_ref(call)).await
    }

    /// Queues `calls`, in order, for every registration of `topic`, in one write.
    ///
    /// # Errors
    /// As [`publish`](Self::publish).
    pub async fn publish_batch(
        &self,
        topic: &str,
        calls: &[Invocation],
    ) -> Result<usize, HubError> {
        let ids: Vec<String> = lock(&self.inner.workers)
            .values()
            .filter(|worker| worker.registration.topic() == topic)
            .map(|worker| worker.registration.id().to_string())
            .collect();
        self.enqueue(ids, calls).await
    }

    /// Queues `calls`, in order, for the registration `id` alone.
    ///
    /// # Errors
    /// [`OutboxError::UnknownRegistration`] if it is not registered; as
    /// [`publish`](Self::publish).
    pub async fn publish_to(&self, id: &str, calls: &[Invocation]) -> Result<usize, HubError> {
        self.enqueue(vec![id.to_string()], calls).await
    }

    async fn enqueue(&self, ids: Vec<String>, calls: &[Invocation]) -> Result<usize, HubError> {
        if self.inner.stop.is_cancelled() {
            return Err(HubError::Closed);
        }
        if ids.is_empty() || calls.is_empty() {
            return Ok(ids.len());
        }
        self.inner.outbox.enqueue(&ids, calls).await?;
        let added = (ids.len() as u64).saturating_mul(calls.len() as u64);
        self.inner
            .counters
            .pending
            .fetch_add(added, Ordering::AcqRel);
        let workers = lock(&self.inner.workers);
        for id in &ids {
            if let Some(worker) = workers.get(id) {
                worker.wake.notify_one();
            }
        }
        Ok(ids.len())
    }

    /// The hub's counters.
    pub fn stats(&self) -> HubStats {
        self.inner.stats()
    }

    /// Each registration's backlog and delivery state, read from the outbox now.
    ///
    /// # Errors
    /// When the outbox fails.
    pub async fn backlog(&self) -> Result<Vec<Backlog>, HubError> {
        self.inner.backlog().await
    }

    /// Adds the admin command `tars.callback.backlog` to `commands` (send it with
    /// `tarsnode`'s "notify" or [`AdminCommands::notify`]): it answers the hub's counters and
    /// one line per registration. The command holds no reference that keeps the hub alive.
    ///
    /// # Errors
    /// If `commands` rejects the name (it does not: the name is valid).
    pub fn add_admin_command(&self, commands: &AdminCommands) -> Result<(), InvalidCommandName> {
        let inner: Weak<Inner> = Arc::downgrade(&self.inner);
        commands.register_async(ADMIN_COMMAND, move |_params: String| {
            let inner = inner.upgrade();
            async move {
                match inner {
                    Some(inner) => inner.report().await,
                    None => "the callback hub is shut down".to_string(),
                }
            }
        })
    }

    /// Waits until no callback is pending: every one published was delivered and
    /// acknowledged in the outbox, or dropped with its registration.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn drained(&self) {
        loop {
            let drained = self.inner.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.inner.counters.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            drained.await;
        }
    }

    /// Dropped registrations and unreadable records, as they happen (a receiver that lags
    /// more than 1024 events behind misses some, and is told so by the channel).
    pub fn events(&self) -> broadcast::Receiver<HubEvent> {
        self.inner.events.subscribe()
    }

    /// Stops the delivery tasks and waits for them; what is pending stays in the outbox.
    pub async fn shutdown(self) {
        self.inner.stop.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

impl Drop for CallbackHub {
    fn drop(&mut self) {
        self.inner.stop.cancel();
        self.inner.tracker.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (initial, max) = (Duration::from_millis(100), Duration::from_secs(5));
        let delays: Vec<u128> = (0..8)
            .map(|attempt| backoff(initial, max, attempt).as_millis())
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff(initial, max, u32::MAX), max);
        assert_eq!(backoff(Duration::MAX, max, 3), max);
    }
}
