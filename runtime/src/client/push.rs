//! Pushes on the client: the object's push handler, push streams and connection hooks, and
//! the route a connection's reader hands pushes to; generic over the object's [`Wire`], whose
//! pushes are [`PushMessage`]s (TARS) or whole frames (a raw protocol).
//!
//! The reader never waits on a push: it copies the push into every push stream's bounded
//! buffer and, if a handler is set, into its connection's bounded push queue, dropping the
//! push (with a warning) where there is no room. The connection's push task, started with the
//! first push for a handler, runs the handler on the pushes one at a time, in order.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::Stream;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::{debug, warn};

use super::proxy::ObjectShared;
use super::wire::Wire;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::error::Result;
use crate::packet::{ResponsePacket, ReturnCode, STATUS_PUSH_FUNC};
use crate::support::catch_panic_async;
use crate::support::lock;
use crate::TarsStruct;

/// What runs on each push of a wire whose pushes are `P`s.
pub(super) trait OnPush<P>: Send + Sync + 'static {
    /// Handles one push.
    fn on_push<'a>(&'a self, push: &'a P) -> BoxFuture<'a, Result<()>>;
}

/// Every TARS push handler runs on [`PushMessage`]s.
impl<H: PushHandler> OnPush<PushMessage> for H {
    fn on_push<'a>(&'a self, push: &'a PushMessage) -> BoxFuture<'a, Result<()>> {
        PushHandler::on_push(self, push)
    }
}

/// A push handler, shared by the object's connections.
pub(super) type Handler<P> = Arc<dyn OnPush<P>>;

/// A hook run after a connection is made, with a proxy pinned to its endpoint.
pub(super) type ConnectHook<X> = Arc<dyn Fn(X, Endpoint) -> BoxFuture<'static, ()> + Send + Sync>;

/// A hook run after a connection closes.
pub(super) type CloseHook = Arc<dyn Fn(Endpoint, String) + Send + Sync>;

/// What an object does with pushes and connection events. Holds nothing of the object, so
/// that the tasks of its connections may hold it without keeping the object alive.
pub(super) struct PushState<W: Wire> {
    handler: Mutex<Option<Handler<W::Push>>>,
    streams: Mutex<Vec<mpsc::Sender<W::Push>>>,
    connect_hooks: Mutex<Vec<ConnectHook<W::Proxy>>>,
    close_hooks: Mutex<Vec<CloseHook>>,
}

impl<W: Wire> Default for PushState<W> {
    fn default() -> Self {
        Self {
            handler: Mutex::default(),
            streams: Mutex::default(),
            connect_hooks: Mutex::default(),
            close_hooks: Mutex::default(),
        }
    }
}

impl<W: Wire> PushState<W> {
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

    /// A new push stream with a buffer of `capacity` pushes.
    pub(super) fn stream(&self, capacity: usize) -> mpsc::Receiver<W::Push> {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let mut streams = lock(&self.streams);
        streams.retain(|stream| !stream.is_closed());
        streams.push(sender);
        receiver
    }

    pub(super) fn add_connect_hook(&self, hook: ConnectHook<W::Proxy>) {
        lock(&self.connect_hooks).push(hook);
    }

    pub(super) fn add_close_hook(&self, hook: CloseHook) {
        lock(&self.close_hooks).push(hook);
    }

    pub(super) fn connect_hooks(&self) -> Vec<ConnectHook<W::Proxy>> {
        lock(&self.connect_hooks).clone()
    }

    pub(super) fn close_hooks(&self) -> Vec<CloseHook> {
        lock(&self.close_hooks).clone()
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
    object: Arc<ObjectShared<W>>,
    endpoint: Endpoint,
    /// The queue of the connection's push task, once started.
    queue: Option<mpsc::Sender<W::Push>>,
}

impl<W: Wire> PushRoute<W> {
    pub(super) fn new(object: Arc<ObjectShared<W>>, endpoint: Endpoint) -> Self {
        Self {
            object,
            endpoint,
            queue: None,
        }
    }

    /// Hands a push to the streams and the handler. Never waits, and never fails the
    /// connection.
    pub(super) fn route(&mut self, push: W::Push) {
        let endpoint = &self.endpoint;
        let streamed = self.object.push.send_to_streams(&push, endpoint);
        if self.object.push.has_handler() {
            self.queue_for_handler(push);
        } else if !streamed {
            debug!(
                %endpoint,
                push = %W::describe_push(&push),
                "dropped a push: no push callback set"
            );
        }
    }

    fn queue_for_handler(&mut self, push: W::Push) {
        let object = &self.object;
        let endpoint = &self.endpoint;
        let queue = self.queue.get_or_insert_with(|| {
            let (sender, receiver) = mpsc::channel(object.config.push_queue_capacity.max(1));
            tokio::spawn(run_handler(receiver, object.clone(), endpoint.clone()));
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
    object: Arc<ObjectShared<W>>,
    endpoint: Endpoint,
) {
    // made once: a fresh `cancelled()` per push costs a lock and an allocation
    let shutdown = object.shutdown.clone().cancelled_owned();
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
        let Some(handler) = object.push.handler() else {
            debug!(
                %endpoint,
                push = %W::describe_push(&push),
                "dropped a push: no push callback set"
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

/// A stream of the pushes of an object's connections, from
/// [`ServantProxy::push_messages`](super::ServantProxy::push_messages): a [`Stream`] of
/// [`PushMessage`]s, in the order each connection received them.
///
/// It has a buffer of its own of
/// [`push_queue_capacity`](super::CommunicatorConfig::push_queue_capacity) pushes; while the
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
/// let proxy = Communicator::new().servant_proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
/// let mut pushes = proxy.push_messages();
/// drop(proxy);
/// assert!(pushes.next().await.is_none());
/// # }
/// ```
pub struct PushMessages {
    receiver: mpsc::Receiver<PushMessage>,
}

impl PushMessages {
    pub(super) fn new(receiver: mpsc::Receiver<PushMessage>) -> Self {
        Self { receiver }
    }

    /// The next push; `None` once the object is dropped and the buffered pushes are taken.
    /// The same as [`StreamExt::next`](futures::StreamExt::next).
    pub async fn recv(&mut self) -> Option<PushMessage> {
        self.receiver.recv().await
    }
}

impl Stream for PushMessages {
    type Item = PushMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<PushMessage>> {
        self.receiver.poll_recv(cx)
    }
}

impl fmt::Debug for PushMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushMessages")
            .field("buffered", &self.receiver.len())
            .finish_non_exhaustive()
    }
}

/// A push as a client receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushMessage {
    /// The function pushed (`status["TARS_FUNC"]`), e.g. `pushMsg`.
    pub function: String,
    /// The `sBuffer`: the return value at tag 0, the out-parameters at tags 1, 2, ...
    pub buffer: Bytes,
    /// The push's context.
    pub context: crate::packet::Context,
}

impl PushMessage {
    /// The push carried by `packet`, if it is one: request id 0 and a `TARS_FUNC` status.
    pub fn from_packet(packet: ResponsePacket) -> Option<Self> {
        if !packet.is_push() {
            return None;
        }
        let ResponsePacket {
            mut status,
            buffer,
            context,
            ..
        } = packet;
        let function = status.remove(STATUS_PUSH_FUNC)?;
        Some(Self {
            function,
            buffer,
            context,
        })
    }

    /// Decodes the `sBuffer` as `B`; failure is the client's decode error (-12).
    pub fn decode<B: TarsStruct>(&self) -> Result<B> {
        B::decode_bytes(&self.buffer).map_err(|error| Error::client_decode(&error))
    }

    /// The error for a push of a function the receiver does not know.
    pub fn unknown_function(&self) -> Error {
        Error::new(
            ReturnCode::CLIENT_DECODE_ERR,
            format!("no push callback for function `{}`", self.function),
        )
    }
}

/// What a client runs for each push: `#[tars_push]` implements it for `{Trait}Callback<T>`.
///
/// Pushes of one connection are handed over one at a time, in the order they arrived, on a task
/// of their own, so a slow handler never delays replies to calls. An `Err` (an unknown function,
/// a buffer that does not decode) is logged and the push dropped; the connection stays up.
pub trait PushHandler: Send + Sync + 'static {
    /// Handles one push.
    fn on_push<'a>(&'a self, push: &'a PushMessage) -> futures::future::BoxFuture<'a, Result<()>>;
}

impl<H: PushHandler + ?Sized> PushHandler for std::sync::Arc<H> {
    fn on_push<'a>(&'a self, push: &'a PushMessage) -> futures::future::BoxFuture<'a, Result<()>> {
        (**self).on_push(push)
    }
}

/// A typed push: `#[tars_push]` generates an enum `{Trait}Event` with one variant per method.
pub trait FromPush: Sized + Send + 'static {
    /// Decodes `push`; an unknown function or an undecodable buffer is an error.
    fn decode(push: &PushMessage) -> Result<Self>;
}

/// A stream of typed pushes: each [`PushMessage`] of `S` (by default a proxy's
/// [`PushMessages`]) decoded as `E`, a `#[tars_push]`
/// `{Trait}Event`. A push that does not decode is an `Err` item; the stream goes on.
pub struct PushEvents<E, S = PushMessages> {
    messages: S,
    _event: std::marker::PhantomData<fn() -> E>,
}

impl<E: FromPush, S> PushEvents<E, S> {
    /// Decodes the pushes of `messages`.
    pub fn new(messages: S) -> Self {
        Self {
            messages,
            _event: std::marker::PhantomData,
        }
    }
}

impl<E, S: std::fmt::Debug> std::fmt::Debug for PushEvents<E, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushEvents")
            .field("messages", &self.messages)
            .finish()
    }
}

impl<E: FromPush, S: futures::Stream<Item = PushMessage> + Unpin> futures::Stream
    for PushEvents<E, S>
{
    type Item = Result<E>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<E>>> {
        std::pin::Pin::new(&mut self.messages)
            .poll_next(cx)
            .map(|message| message.map(|message| E::decode(&message)))
    }
}
