//! [`Proxy`], the handle calls go through, over a [`Wire`]; the [`ObjectProxy`] its clones
//! share; and [`TypedProxy`], what the typed proxies `#[tars_interface]` generates are.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;

use super::config::Config;
use super::connection::{CloseReason, Connection, EndpointSlot};
use super::message::PushMessage;
use super::object::ObjectShared;
use super::push::{PushHandler, PushStream};
use super::raw::{RawRequest, RawWire};
use super::request::Request;
use super::supervisor;
use super::wire::{TarsWire, Wire};
use crate::endpoint::{Endpoint, ProxyAddress};
use crate::error::{Error, Result};
use crate::packet::{Context, PacketType, ResponsePacket, ReturnCode};
use crate::TarsStruct;

/// How long an endpoint that failed to connect is tried only after the others.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(5);

/// A servant at its endpoints, with one connection per endpoint (TarsCpp's `ObjectProxy`),
/// speaking the wire `W`. Every handle made from the same proxy string shares one; dropping
/// the last handle drops it, which closes its connections and stops every task they run.
pub(super) struct ObjectProxy<W: Wire> {
    address: ProxyAddress,
    slots: Vec<Arc<EndpointSlot<W>>>,
    /// Round-robin position: the endpoint of the next call, modulo the number of endpoints.
    next_slot: AtomicUsize,
    shared: Arc<ObjectShared<W>>,
}

impl<W: Wire> ObjectProxy<W> {
    /// An object of `address` speaking `wire`, keeping connections alive every `keepalive`
    /// in push mode (zero: not at all).
    pub(super) fn new(
        address: ProxyAddress,
        config: Config,
        wire: W,
        keepalive: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            slots: address
                .endpoints()
                .iter()
                .cloned()
                .enumerate()
                .map(|(index, endpoint)| Arc::new(EndpointSlot::new(index, endpoint)))
                .collect(),
            next_slot: AtomicUsize::new(0),
            shared: Arc::new(ObjectShared::new(wire, config, keepalive)),
            address,
        })
    }

    fn no_endpoint(&self) -> Error {
        Error::new(
            ReturnCode::ADAPTER_NULL,
            format!("{} has no endpoint", self.address.servant()),
        )
    }

    /// A connection for the next call: the endpoint at `pinned` if set; else the next endpoint
    /// in turn, or if it cannot be reached the others in order. Endpoints whose last connect
    /// failed recently come last.
    async fn connection(&self, pinned: Option<usize>) -> Result<Arc<Connection<W>>> {
        if let Some(slot) = pinned.and_then(|index| self.slots.get(index)) {
            return supervisor::connection(slot, &self.shared).await;
        }
        let count = self.slots.len();
        if count == 0 {
            return Err(self.no_endpoint());
        }
        let first = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let in_turn = (0..count).map(|i| &self.slots[(first + i) % count]);
        let (healthy, failed): (Vec<_>, Vec<_>) =
            in_turn.partition(|slot| !slot.failed_within(RETRY_FAILED_AFTER));
        let mut last_error = None;
        for slot in healthy.into_iter().chain(failed) {
            match supervisor::connection(slot, &self.shared).await {
                Ok(connection) => return Ok(connection),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::connect("no endpoint")))
    }

    /// Connects to the endpoint at `index`, and waits for the `on_connect` hooks of its
    /// connection (or for the connection to close).
    async fn connect_slot(&self, slot: &Arc<EndpointSlot<W>>) -> Result<()> {
        let connection = supervisor::connection(slot, &self.shared).await?;
        let shared = connection.shared();
        tokio::select! {
            () = shared.hooks_done().cancelled() => {}
            () = shared.closed().cancelled() => {}
        }
        Ok(())
    }
}

impl<W: Wire> Drop for ObjectProxy<W> {
    fn drop(&mut self) {
        // first, so that no task reconnects what is closed next
        self.shared.shutdown.cancel();
        self.shared.push.clear();
        for slot in &self.slots {
            slot.close(CloseReason::Dropped);
        }
    }
}

/// A handle to a servant: calls go through it. Cheap to clone; clones share the connections.
///
/// A proxy speaks a [`Wire`]: TARS ([`TarsWire`], the default: `Proxy` is `Proxy<TarsWire>`)
/// or a protocol of your own ([`RawWire`], see [Custom protocols](#custom-protocols)). Get a
/// TARS proxy from [`Communicator::proxy`](super::Communicator::proxy), or a typed one, which
/// wraps a proxy, from [`Communicator::string_to_proxy`](super::Communicator::string_to_proxy).
/// Each handle carries its own call options: [`with_timeout`](Self::with_timeout) and
/// [`with_context`](Self::with_context) return a new handle on the same connections.
///
/// Calls connect on first use, one connection per endpoint, and go to the endpoints in turn
/// ([`connect`](Self::connect) connects them all at once). Concurrent calls share a
/// connection, matched to their replies by request id.
///
/// ```no_run
/// use std::time::Duration;
/// use tars_rpc::TarsStruct;
/// use tars_rpc::client::Communicator;
///
/// #[derive(TarsStruct)]
/// struct HelloArgs {
///     #[tars(tag = 1)]
///     s_req: String,
///     #[tars(tag = 2)]
///     s_rsp: String,
/// }
///
/// #[derive(TarsStruct)]
/// struct HelloResult {
///     #[tars(tag = 0)]
///     ret: i32,
///     #[tars(tag = 2)]
///     s_rsp: String,
/// }
///
/// # async fn run() -> tars_rpc::Result<()> {
/// let communicator = Communicator::new();
/// let hello = communicator
///     .proxy("TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 18015")
///     .expect("a valid proxy string")
///     .with_timeout(Duration::from_millis(500));
/// let args = HelloArgs { s_req: "hello".into(), s_rsp: String::new() };
/// let result: HelloResult = hello.invoke("testHello", &args).await?;
/// println!("{} {}", result.ret, result.s_rsp);
/// # Ok(())
/// # }
/// ```
///
/// # Pushes
///
/// A server may push to a client on a connection the client made (TarsCpp's push callback: a
/// reply packet with request id 0 whose status `TARS_FUNC` names the function; for a raw
/// protocol, a frame with request id 0). Pushes go to the handler set with
/// [`set_push_handler`](Self::set_push_handler) and to every stream from
/// [`push_stream`](Self::push_stream); with neither, they are dropped, and the connection
/// stays up either way.
///
/// While a handler is set or a push stream is alive, the object is in *push mode*: its
/// connections send a keep-alive after
/// [`keepalive_interval`](super::CommunicatorBuilder::keepalive_interval) without sending
/// (`tars_ping`, or a raw proxy's [heartbeat](super::RawProxyBuilder::heartbeat)), so that the
/// server does not close them as idle, and a connection that closes (the server restarted or
/// asked to reconnect, the network failed, a keep-alive failed) is made again by itself,
/// waiting longer after every failed attempt
/// ([`reconnect_backoff`](super::CommunicatorBuilder::reconnect_backoff)). Register with the
/// server in an [`on_connect`](Self::on_connect) hook, which runs after every connect,
/// including reconnects, and [`connect`](Self::connect) to make the first one now. Outside
/// push mode a lost connection is made again by the next call.
///
/// The handler and hooks are kept by the object: one that holds a proxy of the object keeps
/// the object, its connections and tasks alive for good. Use the proxy an `on_connect` hook
/// receives instead.
///
/// # Custom protocols
///
/// A `Proxy<RawWire>`, from [`Communicator::raw_proxy`](super::Communicator::raw_proxy),
/// speaks a protocol of your own, a [`ClientProtocol`](super::ClientProtocol): TarsCpp's
/// `ServantProxy` after `tars_set_protocol`, as in its PushDemo. Everything but the bytes on
/// the wire is as for TARS: one connection per endpoint, made on the first call and made again
/// after a loss; calls go to the endpoints in turn and share a connection, each
/// [`call`](Self::call) matched to its response by the request id the protocol reports; a
/// timeout per call; pushes, hooks and push mode as above.
///
/// The protocol writes each request with an id the connection picks (1, 2, ..., never 0) and
/// cuts each response off the input, reporting the id it answers. A response whose id matches
/// no waiting call (it timed out, or the id is not one of a call) is dropped; id 0 marks a
/// push. Input the protocol rejects (a [`ProtocolError`](crate::protocol::ProtocolError)), or
/// more than [`max_frame_len`](super::CommunicatorBuilder::max_frame_len) bytes buffered
/// without a response coming out, closes the connection with a warning naming the endpoint
/// and the reason: its calls in flight fail with [`ReturnCode::PROXY_CONNECT_ERR`] (-8), and
/// the next call connects again.
///
/// A raw protocol has no `tars_ping`: to keep connections alive in push mode, give the
/// heartbeat to send to [`RawProxyBuilder::heartbeat`](super::RawProxyBuilder::heartbeat), or
/// send your own. Unlike TARS proxies, every raw proxy made is a new object with connections of
/// its own (its protocol is its own); share a proxy by cloning it.
///
/// ```
/// use bytes::{BufMut, BytesMut};
/// use tars_rpc::client::Communicator;
/// use tars_rpc::protocol::{
///     request_id_after_length, ClientProtocol, FrameSplitter, LengthPrefixed, ProtocolError,
///     RawResponse,
/// };
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// /// TarsCpp's PushDemo framing: 4-byte big-endian total length, 4-byte request id, payload.
/// struct PushDemo;
///
/// impl ClientProtocol for PushDemo {
///     fn encode_request(
///         &self,
///         request_id: i32,
///         payload: &[u8],
///         buf: &mut BytesMut,
///     ) -> Result<(), ProtocolError> {
///         let len = u32::try_from(8 + payload.len())
///             .map_err(|_| ProtocolError::new("payload too long"))?;
///         buf.put_u32(len);
///         buf.put_i32(request_id);
///         buf.extend_from_slice(payload);
///         Ok(())
///     }
///
///     fn decode_response(&self, buf: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> {
///         // the connection bounds what it buffers: no limit needed here
///         let Some(frame) = LengthPrefixed::new(usize::MAX).split(buf)? else {
///             return Ok(None);
///         };
///         let request_id = request_id_after_length(&frame)
///             .ok_or_else(|| ProtocolError::new("a frame too short for a request id"))?;
///         Ok(Some(RawResponse { request_id, frame }))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // an echo server: answers every frame with itself
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let port = listener.local_addr().unwrap().port();
/// tokio::spawn(async move {
///     let (mut stream, _) = listener.accept().await.unwrap();
///     let mut frame = [0u8; 13];
///     stream.read_exact(&mut frame).await.unwrap();
///     stream.write_all(&frame).await.unwrap();
/// });
///
/// let proxy = Communicator::new()
///     .raw_proxy(&format!("PushDemo@tcp -h 127.0.0.1 -p {port}"), PushDemo)
///     .unwrap();
/// let response = proxy.call(b"hello").await.unwrap();
/// assert_eq!(&response[..], b"\x00\x00\x00\x0d\x00\x00\x00\x01hello");
/// # }
/// ```
pub struct Proxy<W: Wire = TarsWire> {
    object: Arc<ObjectProxy<W>>,
    timeout: Duration,
    /// The context of TARS requests.
    context: Arc<Context>,
    /// The endpoint every call goes to, by index, rather than each endpoint in turn.
    pinned: Option<usize>,
}

impl<W: Wire> Clone for Proxy<W> {
    fn clone(&self) -> Self {
        Self {
            object: self.object.clone(),
            timeout: self.timeout,
            context: self.context.clone(),
            pinned: self.pinned,
        }
    }
}

impl<W: Wire> fmt::Debug for Proxy<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Proxy");
        let servant = self.object.address.servant();
        if !servant.is_empty() {
            debug.field("servant", &servant);
        }
        let endpoints: Vec<String> = self.endpoints().iter().map(ToString::to_string).collect();
        debug
            .field("endpoints", &endpoints)
            .field("timeout", &self.timeout);
        if !self.context.is_empty() {
            debug.field("context", &self.context);
        }
        if let Some(endpoint) = self.pinned.and_then(|index| endpoints.get(index)) {
            debug.field("pinned", endpoint);
        }
        debug.finish()
    }
}

/// What every proxy does, whatever its wire.
impl<W: Wire> Proxy<W> {
    pub(super) fn new(object: Arc<ObjectProxy<W>>) -> Self {
        Self {
            timeout: object.shared.config.call_timeout,
            object,
            context: Arc::default(),
            pinned: None,
        }
    }

    /// A handle on `object` whose calls all go to the endpoint at `index`.
    fn pinned(object: Arc<ObjectProxy<W>>, index: usize) -> Self {
        Self {
            pinned: Some(index),
            ..Self::new(object)
        }
    }

    /// The endpoints, called in turn.
    ///
    /// ```
    /// use tars_rpc::client::Communicator;
    ///
    /// let proxy = Communicator::new()
    ///     .proxy("A.B.C@tcp -h 10.0.0.1 -p 10000:tcp -h 10.0.0.2 -p 10000")
    ///     .unwrap();
    /// assert_eq!(proxy.endpoints()[1].host(), "10.0.0.2");
    /// ```
    pub fn endpoints(&self) -> &[Endpoint] {
        self.object.address.endpoints()
    }

    /// The call timeout of this handle: the communicator's
    /// [`call_timeout`](super::CommunicatorBuilder::call_timeout) unless set with
    /// [`with_timeout`](Self::with_timeout).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A handle on the same connections whose calls time out after `timeout`; a TARS servant
    /// sees it as the request's `iTimeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tars_rpc::client::Communicator;
    ///
    /// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    /// assert_eq!(proxy.timeout(), Duration::from_secs(3));
    /// let quick = proxy.with_timeout(Duration::from_millis(200));
    /// assert_eq!(quick.timeout(), Duration::from_millis(200));
    /// assert_eq!(proxy.timeout(), Duration::from_secs(3));
    /// ```
    #[must_use]
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// Hands every push of this object's connections to `handler`; replaces any previous
    /// one. TarsCpp's `tars_set_push_callback`.
    ///
    /// The handler is a [`PushHandler`] of the wire's pushes: for TARS, of
    /// [`PushMessage`]s, as `#[tars_push]`'s `{Trait}Callback<T>` is; for a
    /// raw protocol, of whole frames. A closure taking a push and returning a future is one.
    ///
    /// Each connection runs the handler on a task of its own, on one push at a time in the
    /// order the pushes arrived, so that a slow handler never delays the replies to calls. Up
    /// to [`push_queue_capacity`](super::CommunicatorBuilder::push_queue_capacity) pushes per
    /// connection wait for it; pushes beyond are dropped with a warning. A push the handler
    /// fails on (an `Err`, or a panic) is logged and dropped; the next one is handled as usual.
    /// Setting a handler puts the object in push mode (see [Pushes](Self#pushes)).
    ///
    /// ```
    /// use futures::future::BoxFuture;
    /// use tars_rpc::client::Communicator;
    /// use tars_rpc::push::{PushHandler, PushMessage};
    ///
    /// struct Printer;
    ///
    /// impl PushHandler for Printer {
    ///     fn on_push<'a>(&'a self, push: &'a PushMessage) -> BoxFuture<'a, tars_rpc::Result<()>> {
    ///         Box::pin(async move {
    ///             println!("{}: {} bytes", push.function, push.buffer.len());
    ///             Ok(())
    ///         })
    ///     }
    /// }
    ///
    /// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
    /// proxy.set_push_handler(Printer);
    /// // then call the servant's registration method, in an `on_connect` hook
    /// proxy.clear_push_handler();
    /// ```
    pub fn set_push_handler(&self, handler: impl PushHandler<W::Push>) {
        self.object.shared.push.set_handler(Some(Arc::new(handler)));
    }

    /// Removes the push handler, if any. Pushes a handler is running on or that wait for it
    /// are dropped.
    pub fn clear_push_handler(&self) {
        self.object.shared.push.set_handler(None);
    }

    /// A stream of this object's pushes, as Go's rpcx hands them over a channel. Every stream
    /// gets every push, alongside the push handler if one is set; a stream alive puts the
    /// object in push mode (see [Pushes](Self#pushes)). For typed pushes, see
    /// [`PushStream::events`].
    ///
    /// Each stream has a bounded buffer of its own of
    /// [`push_queue_capacity`](super::CommunicatorBuilder::push_queue_capacity) pushes; while
    /// it is full, pushes for that stream are dropped with a warning. The stream ends once the
    /// object is dropped, that is every proxy of it.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// use tars_rpc::client::Communicator;
    ///
    /// # async fn run() -> tars_rpc::Result<()> {
    /// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
    /// let mut pushes = proxy.push_stream();
    /// proxy.invoke_raw("registerPush", &[]).await?;
    /// while let Some(push) = pushes.next().await {
    ///     println!("{}: {} bytes", push.function, push.buffer.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn push_stream(&self) -> PushStream<W::Push> {
        self.object.shared.push.stream()
    }

    /// Runs `hook` after every successful connect of one of this object's connections: the
    /// first connect and every reconnect, e.g. to call `registerPush` again. Hooks add up; each
    /// runs on a task of its own.
    ///
    /// The hook receives a proxy on the same object, whose calls all go to the endpoint just
    /// connected, and that endpoint. Make calls through that proxy: a hook holding a proxy of
    /// the object would keep it alive for good.
    ///
    /// ```no_run
    /// use tars_rpc::client::{Communicator, Proxy};
    /// use tars_rpc::endpoint::Endpoint;
    ///
    /// # async fn run() -> tars_rpc::Result<()> {
    /// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
    /// proxy.on_connect(|proxy: Proxy, endpoint: Endpoint| async move {
    ///     if let Err(error) = proxy.invoke_raw("registerPush", &[]).await {
    ///         eprintln!("cannot register with {endpoint}: {error}");
    ///     }
    /// });
    /// proxy.connect().await?; // registered
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_connect<F, Fut>(&self, hook: F)
    where
        F: Fn(Self, Endpoint) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        // weak: the object keeps its hooks
        let object = Arc::downgrade(&self.object);
        self.object
            .shared
            .add_connect_hook(Arc::new(move |index, endpoint| {
                let object = object.upgrade()?;
                Some(hook(Self::pinned(object, index), endpoint).boxed())
            }));
    }

    /// Runs `hook` when one of this object's connections closes, with its endpoint and the
    /// reason. Hooks add up; they run on the connection's supervising task, so they should
    /// return quickly (a panic is caught and logged).
    ///
    /// ```
    /// use tars_rpc::client::{CloseReason, Communicator};
    ///
    /// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
    /// proxy.on_close(|endpoint, reason: CloseReason| {
    ///     if reason.is_failure() {
    ///         eprintln!("lost {endpoint}: {reason}");
    ///     }
    /// });
    /// ```
    pub fn on_close<F>(&self, hook: F)
    where
        F: Fn(Endpoint, CloseReason) + Send + Sync + 'static,
    {
        self.object.shared.add_close_hook(Arc::new(hook));
    }

    /// Connects to every endpoint now (only to its own if this handle is one an `on_connect`
    /// hook received), rather than on the first call, and returns once the `on_connect` hooks
    /// of the connections made have run: a push client that registers in a hook is registered
    /// when this returns. Endpoints already connected are left as they are.
    ///
    /// ```no_run
    /// use tars_rpc::client::Communicator;
    ///
    /// # async fn run() -> tars_rpc::Result<()> {
    /// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
    /// let mut pushes = proxy.push_stream();
    /// proxy.on_connect(|proxy, _endpoint| async move {
    ///     let _ = proxy.invoke_raw("registerPush", &[]).await;
    /// });
    /// proxy.connect().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// If no endpoint could be connected: the error of the last that failed,
    /// [`ReturnCode::PROXY_CONNECT_ERR`] (-8) after the communicator's
    /// [`connect_timeout`](super::CommunicatorBuilder::connect_timeout) at the most. It
    /// succeeds if any endpoint was connected, even if the others were not.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the connections made so far open, and their hooks running.
    pub async fn connect(&self) -> Result<()> {
        let object = &self.object;
        let slots = match self.pinned {
            Some(index) => object.slots.get(index..=index).unwrap_or_default(),
            None => &object.slots,
        };
        if slots.is_empty() {
            return Err(object.no_endpoint());
        }
        let attempts = slots.iter().map(|slot| object.connect_slot(slot));
        let mut outcomes = futures::future::join_all(attempts).await;
        if outcomes.iter().any(Result::is_ok) {
            return Ok(());
        }
        outcomes.pop().unwrap_or_else(|| Err(object.no_endpoint()))
    }
}

/// What a TARS proxy does.
impl Proxy<TarsWire> {
    /// The servant name, e.g. `TestApp.HelloServer.HelloObj`.
    ///
    /// ```
    /// use tars_rpc::client::Communicator;
    ///
    /// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    /// assert_eq!(proxy.servant_name(), "A.B.C");
    /// ```
    pub fn servant_name(&self) -> &str {
        self.object.address.servant()
    }

    /// A handle on the same connections whose requests carry `context`.
    ///
    /// ```
    /// use tars_rpc::client::Communicator;
    /// use tars_rpc::packet::Context;
    ///
    /// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    /// let traced = proxy.with_context(Context::from([("trace".to_string(), "42".to_string())]));
    /// assert_eq!(traced.context()["trace"], "42");
    /// assert!(proxy.context().is_empty());
    /// ```
    #[must_use]
    pub fn with_context(&self, context: Context) -> Self {
        Self {
            context: Arc::new(context),
            ..self.clone()
        }
    }

    /// The context requests through this handle carry.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Calls `func` with `args` and decodes the reply as `R`.
    ///
    /// `args` is the parameters as a top-level struct: the inputs at tags 1, 2, ... The reply's
    /// buffer holds the return value at tag 0 and the out-parameters at their tags.
    ///
    /// # Errors
    /// The reply's code and description if its `iRet` is not 0;
    /// [`ReturnCode::CLIENT_DECODE_ERR`] (-12) if its buffer is not an `R`; and the errors of
    /// [`invoke_raw`](Self::invoke_raw).
    ///
    /// # Cancel safety
    /// Dropping the future abandons the call: a reply that comes later is dropped. The request
    /// may have been sent.
    pub async fn invoke<A: TarsStruct, R: TarsStruct>(&self, func: &str, args: &A) -> Result<R> {
        let buffer = args.to_bytes();
        let reply = self.call_checked(func, &buffer).await?;
        R::decode_bytes(&reply.buffer).map_err(|error| Error::client_decode(&error))
    }

    /// Sends `func` with `args` as a one-way request (`cPacketType` 1): the servant sends no
    /// reply. Returns once the request is queued on the connection.
    ///
    /// # Errors
    /// As [`invoke_raw_oneway`](Self::invoke_raw_oneway).
    ///
    /// # Cancel safety
    /// Dropping the future before it returns may or may not have queued the request.
    pub async fn invoke_oneway<A: TarsStruct>(&self, func: &str, args: &A) -> Result<()> {
        self.invoke_raw_oneway(func, &args.to_bytes()).await
    }

    /// Sends a request whose `sBuffer` is `buffer` and returns the reply as received, whatever
    /// its `iRet`.
    ///
    /// ```no_run
    /// use tars_rpc::client::Communicator;
    ///
    /// # async fn run() -> tars_rpc::Result<()> {
    /// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
    /// let reply = proxy.invoke_raw("noSuchFunction", &[]).await?;
    /// println!("{:?}: {}", reply.ret, reply.result_desc);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// - [`ReturnCode::PROXY_CONNECT_ERR`] (-8) if no endpoint could be connected within the
    ///   communicator's [`connect_timeout`](super::CommunicatorBuilder::connect_timeout), or
    ///   the connection was lost before the reply came;
    /// - [`ReturnCode::INVOKE_TIMEOUT`] (-7) if no reply came within [`timeout`](Self::timeout),
    ///   counted from when the call has a connection; the connection stays open;
    /// - [`ReturnCode::SEND_REQUEST_ERR`] (-13) if the request exceeds the maximum frame length.
    ///
    /// # Cancel safety
    /// As [`invoke`](Self::invoke).
    pub async fn invoke_raw(&self, func: &str, buffer: &[u8]) -> Result<ResponsePacket> {
        let request = self.request(func, buffer, PacketType::NORMAL);
        let connection = self.object.connection(self.pinned).await?;
        connection.call(&request, self.timeout).await
    }

    /// Sends a one-way request (`cPacketType` 1) whose `sBuffer` is `buffer`; returns once it
    /// is queued on the connection, waiting up to [`timeout`](Self::timeout) for room.
    ///
    /// # Errors
    /// As [`invoke_raw`](Self::invoke_raw), but for the reply's.
    ///
    /// # Cancel safety
    /// As [`invoke_oneway`](Self::invoke_oneway).
    pub async fn invoke_raw_oneway(&self, func: &str, buffer: &[u8]) -> Result<()> {
        let request = self.request(func, buffer, PacketType::ONEWAY);
        let connection = self.object.connection(self.pinned).await?;
        connection.send_oneway(&request, self.timeout).await
    }

    /// Checks that the servant answers: calls `tars_ping`, which every TARS servant
    /// implements, and expects `iRet` 0.
    ///
    /// ```
    /// use tars_rpc::client::Communicator;
    /// use tars_rpc::packet::ReturnCode;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // nothing listens on the port of a listener just closed
    /// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// let proxy = Communicator::new()
    ///     .proxy(&format!("TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p {port}"))
    ///     .unwrap();
    /// let error = proxy.ping().await.unwrap_err();
    /// assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR);
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`invoke`](Self::invoke).
    ///
    /// # Cancel safety
    /// Cancel-safe: a reply that comes later is dropped.
    pub async fn ping(&self) -> Result<()> {
        self.call_checked("tars_ping", &[]).await.map(drop)
    }

    /// Calls `func` and returns the reply if its `iRet` is 0.
    async fn call_checked(&self, func: &str, buffer: &[u8]) -> Result<ResponsePacket> {
        let reply = self.invoke_raw(func, buffer).await?;
        if reply.ret.is_success() {
            Ok(reply)
        } else {
            Err(Error::new(reply.ret, reply.result_desc))
        }
    }

    fn request<'a>(
        &'a self,
        func: &'a str,
        buffer: &'a [u8],
        packet_type: PacketType,
    ) -> Request<'a> {
        Request {
            servant: self.servant_name(),
            func,
            packet_type,
            buffer,
            timeout_ms: i32::try_from(self.timeout.as_millis()).unwrap_or(i32::MAX),
            context: &self.context,
        }
    }
}

/// What a proxy speaking a protocol of the user's own does: see
/// [Custom protocols](Proxy#custom-protocols).
impl Proxy<RawWire> {
    /// The name given before `@` in the endpoint string, if any.
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use tars_rpc::protocol::{ClientProtocol, ProtocolError, RawResponse};
    /// # struct Proto;
    /// # impl ClientProtocol for Proto {
    /// #     fn encode_request(&self, _: i32, _: &[u8], _: &mut BytesMut) -> Result<(), ProtocolError> { Ok(()) }
    /// #     fn decode_response(&self, _: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> { Ok(None) }
    /// # }
    /// use tars_rpc::client::Communicator;
    ///
    /// let communicator = Communicator::new();
    /// let named = communicator.raw_proxy("Push@tcp -h 10.0.0.1 -p 9300", Proto).unwrap();
    /// assert_eq!(named.name(), Some("Push"));
    /// let plain = communicator.raw_proxy("10.0.0.1:9300", Proto).unwrap();
    /// assert_eq!(plain.name(), None);
    /// assert_eq!(plain.endpoints()[0].to_string(), "tcp -h 10.0.0.1 -p 9300");
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.object.shared.wire.name.as_deref()
    }

    /// Encodes `payload` through the protocol with a fresh request id (never 0), sends it, and
    /// returns the response the protocol reports with that id: the whole frame, as the
    /// protocol cut it.
    ///
    /// # Errors
    /// - [`ReturnCode::PROXY_CONNECT_ERR`] (-8) if no endpoint could be connected within the
    ///   communicator's [`connect_timeout`](super::CommunicatorBuilder::connect_timeout), or
    ///   the connection was lost (or closed for bad input) before the response came;
    /// - [`ReturnCode::INVOKE_TIMEOUT`] (-7) if no response came within
    ///   [`timeout`](Self::timeout), counted from when the call has a connection; the
    ///   connection stays open;
    /// - [`ReturnCode::SEND_REQUEST_ERR`] (-13) if the protocol cannot encode the request, or
    ///   its frame exceeds the maximum frame length.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the call: a response that comes later is dropped. The
    /// request may have been sent.
    pub async fn call(&self, payload: &[u8]) -> Result<Bytes> {
        let connection = self.object.connection(self.pinned).await?;
        connection.call(&self.request(payload), self.timeout).await
    }

    /// Encodes `payload` as [`call`](Self::call) does and sends it without waiting for a
    /// response; returns once it is queued on the connection (waiting up to
    /// [`timeout`](Self::timeout) for room). A response the server sends anyway is dropped.
    ///
    /// # Errors
    /// As [`call`](Self::call), but for the response's.
    ///
    /// # Cancel safety
    /// Dropping the future before it returns may or may not have queued the request.
    pub async fn send(&self, payload: &[u8]) -> Result<()> {
        let connection = self.object.connection(self.pinned).await?;
        connection
            .send_oneway(&self.request(payload), self.timeout)
            .await
    }

    fn request<'a>(&'a self, payload: &'a [u8]) -> RawRequest<'a> {
        RawRequest {
            wire: &self.object.shared.wire,
            payload,
        }
    }
}

/// A typed proxy: what `#[tars_interface]` generates for an interface, `{Trait}Proxy`, a
/// wrapper of a [`Proxy`] with a method per interface method.
/// [`Communicator::string_to_proxy`](super::Communicator::string_to_proxy) returns one.
///
/// Its provided methods give typed proxies what every proxy does; hooks get the typed proxy.
/// Bring the trait into scope to call them:
///
/// ```no_run
/// use std::time::Duration;
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
/// struct Printer;
///
/// impl Push for Printer {
///     async fn push_msg(&self, ret: i32, s_rsp: String) {
///         println!("{ret}, {s_rsp}");
///     }
/// }
///
/// # async fn run() -> tars_rpc::Result<()> {
/// let hello: HelloProxy = Communicator::new()
///     .string_to_proxy("TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 18015")
///     .expect("a valid proxy string");
/// let hello = hello.with_timeout(Duration::from_secs(1));
/// hello.set_push_handler(PushCallback(Printer));
/// hello.on_connect(|hello: HelloProxy, endpoint| async move {
///     if let Err(error) = hello.register_push().await {
///         eprintln!("cannot register with {endpoint}: {error}");
///     }
/// });
/// hello.connect().await?;
/// # Ok(())
/// # }
/// ```
///
/// A typed proxy by hand, which `#[tars_interface]` writes for you:
///
/// ```
/// use tars_rpc::client::{Communicator, Proxy, TypedProxy};
///
/// #[derive(Clone)]
/// struct HelloProxy(Proxy);
///
/// impl TypedProxy for HelloProxy {
///     fn from_proxy(proxy: Proxy) -> Self {
///         Self(proxy)
///     }
///     fn proxy(&self) -> &Proxy {
///         &self.0
///     }
/// }
///
/// let communicator = Communicator::new();
/// let hello: HelloProxy = communicator
///     .string_to_proxy("TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 18015")
///     .unwrap();
/// assert_eq!(hello.proxy().servant_name(), "TestApp.HelloServer.HelloObj");
/// ```
pub trait TypedProxy: Sized + Clone + Send + Sync + 'static {
    /// Wraps `proxy`.
    #[doc(hidden)]
    fn from_proxy(proxy: Proxy) -> Self;

    /// The wrapped proxy.
    fn proxy(&self) -> &Proxy;

    /// A handle on the same connections whose calls time out after `timeout`: see
    /// [`Proxy::with_timeout`].
    #[must_use]
    fn with_timeout(&self, timeout: Duration) -> Self {
        Self::from_proxy(self.proxy().with_timeout(timeout))
    }

    /// A handle on the same connections whose requests carry `context`: see
    /// [`Proxy::with_context`].
    #[must_use]
    fn with_context(&self, context: Context) -> Self {
        Self::from_proxy(self.proxy().with_context(context))
    }

    /// Runs `hook` after every successful connect, with this typed proxy pinned to the
    /// endpoint just connected: see [`Proxy::on_connect`].
    fn on_connect<F, Fut>(&self, hook: F)
    where
        F: Fn(Self, Endpoint) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.proxy()
            .on_connect(move |proxy, endpoint| hook(Self::from_proxy(proxy), endpoint));
    }

    /// Runs `hook` when a connection closes: see [`Proxy::on_close`].
    fn on_close<F>(&self, hook: F)
    where
        F: Fn(Endpoint, CloseReason) + Send + Sync + 'static,
    {
        self.proxy().on_close(hook);
    }

    /// Hands every push to `handler`, e.g. a `#[tars_push]` trait's `{Trait}Callback(imp)`:
    /// see [`Proxy::set_push_handler`].
    fn set_push_handler(&self, handler: impl PushHandler) {
        self.proxy().set_push_handler(handler);
    }

    /// Removes the push handler: see [`Proxy::clear_push_handler`].
    fn clear_push_handler(&self) {
        self.proxy().clear_push_handler();
    }

    /// A stream of the pushes, to decode with [`PushStream::events`]: see
    /// [`Proxy::push_stream`].
    fn push_stream(&self) -> PushStream<PushMessage> {
        self.proxy().push_stream()
    }

    /// Connects to every endpoint now and waits for the `on_connect` hooks: see
    /// [`Proxy::connect`].
    ///
    /// # Errors
    /// If no endpoint could be connected.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the connections made so far open, and their hooks running.
    fn connect(&self) -> impl Future<Output = Result<()>> + Send {
        let proxy = self.proxy().clone();
        async move { proxy.connect().await }
    }
}

/// The untyped proxy is a typed proxy of itself, for
/// [`Communicator::string_to_proxy`](super::Communicator::string_to_proxy).
impl TypedProxy for Proxy {
    fn from_proxy(proxy: Proxy) -> Self {
        proxy
    }

    fn proxy(&self) -> &Proxy {
        self
    }
}
