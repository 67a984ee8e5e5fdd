//! Pushes on the client: the [`PushHandler`] a proxy runs on each push, the [`PushStream`]s it
//! hands them to, and the route a connection's reader hands pushes to; generic over the wire,
//! whose pushes are [`PushMessage`]s (TARS) or whole frames (a raw protocol).
//!
//! The reader never waits on a push: it copies the push into every push stream's bounded
//! buffer and, if a handler is set, into its connection's bounded push queue, dropping the
//! push (with a warning) where there is no room. The connection's push task, started with the
//! first push for a handler, runs the handler on the pushes one at a time, in order.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::{FutureExt, Stream};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::message::{FromPush, PushMessage};
use super::wire::Wire;
use crate::endpoint::Endpoint;
use crate::error::Result;
use crate::support::{catch_panic_async, lock};

/// What a client runs for each push of a proxy's connections, set with
/// [`Proxy::set_push_handler`](super::Proxy::set_push_handler): for TARS, a handler of
/// [`PushMessage`]s, which `#[tars_push]`'s `{Trait}Callback<T>` is; for a raw protocol, of
/// whole frames, [`Bytes`](bytes::Bytes).
///
/// Every closure `Fn(P) -> impl Future<Output = ()>` is a handler (it gets a clone of each
/// push):
///
/// ```
/// use tars_rpc::client::Communicator;
/// use tars_rpc::push::PushMessage;
///
/// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
/// proxy.set_push_handler(|push: PushMessage| async move {
///     println!("{}: {} bytes", push.function, push.buffer.len());
/// });
/// ```
///
/// Pushes of one connection are handed over one at a time, in the order they arrived, on a task
/// of their own, so a slow handler never delays replies to calls. An `Err` (an unknown function,
/// a buffer that does not decode) is logged and the push dropped; the connection stays up.
pub trait PushHandler<P = PushMessage>: Send + Sync + 'static {
    /// Handles one push.
    ///
    /// # Errors
    /// An error is logged, and the push dropped.
    fn on_push<'a>(&'a self, push: &'a P) -> BoxFuture<'a, Result<()>>;
}

impl<P, F, Fut> PushHandler<P> for F
where
    P: Clone + Sync,
    F: Fn(P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn on_push<'a>(&'a self, push: &'a P) -> BoxFuture<'a, Result<()>> {
        self(push.clone()).map(Ok).boxed()
    }
}

impl<P, H: PushHandler<P> + ?Sized> PushHandler<P> for Arc<H> {
    fn on_push<'a>(&'a self, push: &'a P) -> BoxFuture<'a, Result<()>> {
        (**self).on_push(push)
    }
}

/// A push handler, shared by the object's connections.
type Handler<P> = Arc<dyn PushHandler<P>>;

/// A stream of the pushes of a proxy's connections, from
/// [`Proxy::push_stream`](super::Proxy::push_stream): [`PushMessage`]s for TARS, whole frames
/// ([`Bytes`](bytes::Bytes)) for a raw protocol, in the order each connection received them.
/// [`events`](Self::events) decodes TARS pushes into a `#[tars_push]` trait's events.
///
/// It has a buffer of its own of
/// [`push_queue_capacity`](super::CommunicatorBuilder::push_queue_capacity) pushes; while the
/// buffer is full, pushes for this stream are dropped with a warning (other streams and the
/// push handler still get them). The stream ends once every proxy of the object is dropped.
/// Dropping it ends push mode if no other stream or handler is left.
///
/// ```
/// use futures::StreamExt;
/// use tars_rpc::client::Communicator;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
/// let mut pushes = proxy.push_stream();
/// drop(proxy);
/// assert!(pushes.next().await.is_none());
/// # }
/// ```
pub struct PushStream<P> {
    receiver: mpsc::Receiver<P>,
}

impl<P> PushStream<P> {
    /// The next push; `None` once the object is dropped and the buffered pushes are taken.
    /// The same as [`StreamExt::next`](futures::StreamExt::next).
    ///
    /// # Cancel safety
    /// Cancel-safe: a push is taken only when this returns it.
    pub async fn recv(&mut self) -> Option<P> {
        self.receiver.recv().await
    }
}

impl PushStream<PushMessage> {
    /// The pushes decoded as `E`, a `#[tars_push]` trait's `{Trait}Event`: a stream of
    /// `Result<E>`, where a push that does not decode is an `Err` item and the stream goes on.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// use tars_rpc::client::{Communicator, TypedProxy};
    /// use tars_rpc::{tars_interface, tars_push};
    ///
    /// #[tars_interface]
    /// trait Hello {
    ///     async fn register_push(&self) -> tars_rpc::Result<i32>;
    /// }
    ///
    /// #[tars_push]
    /// trait Push {
    ///     async fn push_msg(&self, ret: i32, s_rsp: String);
    /// }
    ///
    /// # async fn run() -> tars_rpc::Result<()> {
    /// let proxy: HelloProxy = Communicator::new()
    ///     .string_to_proxy("A.B.C@tcp -h 127.0.0.1 -p 18015")
    ///     .expect("a valid proxy string");
    /// let mut events = proxy.push_stream().events::<PushEvent>();
    /// proxy.register_push().await?;
    /// while let Some(event) = events.next().await {
    ///     match event? {
    ///         PushEvent::PushMsg { ret, s_rsp } => println!("{ret}, {s_rsp}"),
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn events<E: FromPush>(self) -> PushEvents<E> {
        PushEvents {
            messages: self,
            _event: PhantomData,
        }
    }
}

impl<P> Stream for PushStream<P> {
    type Item = P;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<P>> {
        self.receiver.poll_recv(cx)
    }
}

impl<P> fmt::Debug for PushStream<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushStream")
            .field("buffered", &self.receiver.len())
            .finish_non_exhaustive()
    }
}

/// A stream of typed pushes, from [`PushStream::events`]: each [`PushMessage`] decoded as `E`,
/// a `#[tars_push]` `{Trait}Event`. A push that does not decode is an `Err` item; the stream
/// goes on.
pub struct PushEvents<E> {
    messages: PushStream<PushMessage>,
    _event: PhantomData<fn() -> E>,
}

impl<E: FromPush> PushEvents<E> {
    /// The next push, decoded; `None` once the object is dropped and the buffered pushes are
    /// taken. The same as [`StreamExt::next`](futures::StreamExt::next).
    ///
    /// # Errors
    /// An `Err` item if the push does not decode as an `E`.
    ///
    /// # Cancel safety
    /// Cancel-safe: a push is taken only when this returns it.
    pub async fn recv(&mut self) -> Option<Result<E>> {
        let message = self.messages.recv().await?;
        Some(E::decode(&message))
    }
}

impl<E> fmt::Debug for PushEvents<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushEvents")
            .field("messages", &self.messages)
            .finish()
    }
}

impl<E: FromPush> Stream for PushEvents<E> {
    type Item = Result<E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<E>>> {
        Pin::new(&mut self.messages)
            .poll_next(cx)
            .map(|message| message.map(|message| E::decode(&message)))
    }
}

/// What an object does with pushes: its handler and streams. Holds nothing of the object, so
/// that the tasks of its connections may hold it without keeping the object alive.
pub(super) struct PushState<W: Wire> {
    handler: Mutex<Option<Handler<W::Push>>>,
    streams: Mutex<Vec<mpsc::Sender<W::Push>>>,
    /// The buffer of each stream and of each connection's push task.
    capacity: usize,
    /// Cancelled when the object is dropped or the communicator shut down: every push task
    /// stops.
    shutdown: CancellationToken,
    /// Where push tasks are spawned: the communicator's tracker.
    tasks: TaskTracker,
}

impl<W: Wire> PushState<W> {
    /// Buffers of `capacity` pushes (at least 1); push tasks run on `tasks` and stop once
    /// `shutdown` is cancelled.
    pub(super) fn new(capacity: usize, shutdown: CancellationToken, tasks: TaskTracker) -> Self {
        Self {
            handler: Mutex::default(),
            streams: Mutex::default(),
            capacity: capacity.max(1),
            shutdown,
            tasks,
        }
    }

    pub(super) fn set_handler(&self, handler: Option<Handler<W::Push>>) {
        // the previous handler is dropped outside the lock
        let previous = std::mem::replace(&mut *lock(&self.handler), handler);
        drop(previous);
    }

    fn handler(&self) -> Option<Handler<W::Push>> {
        lock(&self.handler).clone()
    }

    fn has_handler(&self) -> bool {
        lock(&self.handler).is_some()
    }

    /// A new push stream.
    pub(super) fn stream(&self) -> PushStream<W::Push> {
        let (sender, receiver) = mpsc::channel(self.capacity);
        let mut streams = lock(&self.streams);
        streams.retain(|stream| !stream.is_closed());
        streams.push(sender);
        PushStream { receiver }
    }

    /// Push mode: a handler is set or a push stream is alive.
    pub(super) fn push_mode(&self) -> bool {
        self.has_handler() || lock(&self.streams).iter().any(|stream| !stream.is_closed())
    }

    /// Drops the handler and ends every push stream: the object is gone.
    pub(super) fn clear(&self) {
        self.set_handler(None);
        let streams = std::mem::take(&mut *lock(&self.streams));
        drop(streams);
    }

    /// Copies `push` into every live stream; returns whether there was any.
    fn send_to_streams(&self, push: &W::Push, endpoint: &Endpoint) -> bool {
        let mut streams = lock(&self.streams);
        streams.retain(|stream| match stream.try_send(push.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                warn!(
                    %endpoint,
                    push = %W::describe_push(push),
                    "dropped a push: a push stream is full (it is not read fast enough)"
                );
                true
            }
            Err(TrySendError::Closed(_)) => false,
        });
        !streams.is_empty()
    }
}

/// The pushes of a connection's reader: where they go.
pub(super) struct PushRoute<W: Wire> {
    state: Arc<PushState<W>>,
    endpoint: Endpoint,
    /// The endpoint again, shared by the pushes that carry it.
    origin: Arc<Endpoint>,
    /// The queue of the connection's push task, once started.
    queue: Option<mpsc::Sender<W::Push>>,
}

impl<W: Wire> PushRoute<W> {
    pub(super) fn new(state: Arc<PushState<W>>, endpoint: Endpoint) -> Self {
        Self {
            state,
            origin: Arc::new(endpoint.clone()),
            endpoint,
            queue: None,
        }
    }

    /// Hands a push to the streams and the handler. Never waits, and never fails the
    /// connection.
    pub(super) fn route(&mut self, mut push: W::Push) {
        W::set_origin(&mut push, &self.origin);
        let endpoint = &self.endpoint;
        let streamed = self.state.send_to_streams(&push, endpoint);
        if self.state.has_handler() {
            self.queue_for_handler(push);
        } else if !streamed {
            debug!(
                %endpoint,
                push = %W::describe_push(&push),
                "dropped a push: no push handler set"
            );
        }
    }

    fn queue_for_handler(&mut self, push: W::Push) {
        let state = &self.state;
        let endpoint = &self.endpoint;
        let queue = self.queue.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::channel(state.capacity);
            state
                .tasks
                .spawn(run_handler(receiver, state.clone(), endpoint.clone()));
            sender
        });
        match queue.try_send(push) {
            Ok(()) => {}
            Err(TrySendError::Full(push)) => warn!(
                %endpoint,
                push = %W::describe_push(&push),
                "dropped a push: the push handler's queue is full (the handler is too slow)"
            ),
            // the task stops only when the object is dropped
            Err(TrySendError::Closed(push)) => debug!(
                %endpoint,
                push = %W::describe_push(&push),
                "dropped a push: the object is gone"
            ),
        }
    }
}

/// A connection's push task: runs the handler on each push in turn until the reader stops
/// (after the pushes already queued) or the object is dropped (at once).
async fn run_handler<W: Wire>(
    mut queue: mpsc::Receiver<W::Push>,
    state: Arc<PushState<W>>,
    endpoint: Endpoint,
) {
    // made once: a fresh `cancelled()` per push costs a lock and an allocation
    let shutdown = state.shutdown.clone().cancelled_owned();
    tokio::pin!(shutdown);
    loop {
        let push = tokio::select! {
            biased;
            () = &mut shutdown => return,
            push = queue.recv() => match push {
                Some(push) => push,
                None => return,
            },
        };
        // the handler of the moment: it may have been replaced or cleared since
        let Some(handler) = state.handler() else {
            debug!(
                %endpoint,
                push = %W::describe_push(&push),
                "dropped a push: no push handler set"
            );
            continue;
        };
        let handled = catch_panic_async(async { handler.on_push(&push).await });
        let outcome = tokio::select! {
            biased;
            () = &mut shutdown => return,
            outcome = handled => outcome,
        };
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => warn!(
                %endpoint,
                push = %W::describe_push(&push),
                %error,
                "the push handler failed; the push is dropped"
            ),
            Err(panic) => warn!(
                %endpoint,
                push = %W::describe_push(&push),
                panic,
                "the push handler panicked; the push is dropped"
            ),
        }
    }
}
