//! [`ServantProxy`], the handle calls go through, and the [`ObjectProxy`] its clones share.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::connection::{Connection, EndpointSlot, REASON_DROPPED};
use super::push::PushHandler;
use super::push::{PushMessages, PushState};
use super::request::Request;
use super::wire::{TarsWire, Wire};
use super::CommunicatorConfig;
use crate::endpoint::{Endpoint, ProxyAddress};
use crate::error::{Error, Result};
use crate::packet::{Context, PacketType, ResponsePacket, ReturnCode};
use crate::TarsStruct;

/// How long an endpoint that failed to connect is tried only after the others.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(5);

/// A typed proxy: what `#[tars_interface]` generates for an interface, a wrapper of a
/// [`ServantProxy`]. [`Communicator::string_to_proxy`](super::Communicator::string_to_proxy)
/// returns one.
///
/// ```
/// use tars_rpc::client::{Communicator, Proxy, ServantProxy};
///
/// #[derive(Clone)]
/// struct HelloProxy(ServantProxy);
///
/// impl Proxy for HelloProxy {
///     fn from_servant_proxy(proxy: ServantProxy) -> Self {
///         Self(proxy)
///     }
///     fn servant_proxy(&self) -> &ServantProxy {
///         &self.0
///     }
/// }
///
/// let communicator = Communicator::new();
/// let hello: HelloProxy = communicator
///     .string_to_proxy("TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 18015")
///     .unwrap();
/// assert_eq!(hello.servant_proxy().servant_name(), "TestApp.HelloServer.HelloObj");
/// ```
pub trait Proxy: Sized + Clone + Send + Sync + 'static {
    /// Wraps `proxy`.
    fn from_servant_proxy(proxy: ServantProxy) -> Self;

    /// The wrapped proxy.
    fn servant_proxy(&self) -> &ServantProxy;
}

/// The untyped proxy is a proxy of itself.
impl Proxy for ServantProxy {
    fn from_servant_proxy(proxy: ServantProxy) -> Self {
        proxy
    }

    fn servant_proxy(&self) -> &ServantProxy {
        self
    }
}

/// A servant at its endpoints, with one connection per endpoint (TarsCpp's `ObjectProxy`),
/// speaking the wire `W`. Every handle made from the same proxy string shares one; dropping
/// the last handle drops it, which closes its connections and stops every task they run.
pub(crate) struct ObjectProxy<W: Wire> {
    pub(super) address: ProxyAddress,
    slots: Vec<Arc<EndpointSlot<W>>>,
    /// Round-robin position: the endpoint of the next call, modulo the number of endpoints.
    next_slot: AtomicUsize,
    pub(super) shared: Arc<ObjectShared<W>>,
}

/// What an object shares with the tasks of its connections: its wire, settings, push
/// handler, push streams and hooks, and only a weak reference to the object itself, so that
/// the tasks never keep it alive.
pub(super) struct ObjectShared<W: Wire> {
    pub(super) wire: W,
    pub(super) config: CommunicatorConfig,
    pub(super) push: PushState<W>,
    /// The keep-alive interval in push mode ([`Duration::ZERO`]: off); connections follow
    /// its changes.
    pub(super) keepalive: watch::Sender<Duration>,
    /// Cancelled when the object is dropped: every task of its connections stops.
    pub(super) shutdown: CancellationToken,
    object: Weak<ObjectProxy<W>>,
}

impl<W: Wire> ObjectShared<W> {
    /// A handle on the object whose calls all go to the endpoint at `index`; none once the
    /// object is being dropped.
    pub(super) fn proxy_pinned_to(&self, index: usize) -> Option<W::Proxy> {
        let object = self.object.upgrade()?;
        Some(W::pinned_proxy(object, index))
    }
}

impl<W: Wire> ObjectProxy<W> {
    /// An object of `address` speaking `wire`, keeping connections alive every `keepalive`
    /// in push mode (zero: not at all).
    pub(super) fn new(
        address: ProxyAddress,
        config: CommunicatorConfig,
        wire: W,
        keepalive: Duration,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this| Self {
            slots: address
                .endpoints()
                .iter()
                .cloned()
                .enumerate()
                .map(|(index, endpoint)| Arc::new(EndpointSlot::new(index, endpoint)))
                .collect(),
            next_slot: AtomicUsize::new(0),
            shared: Arc::new(ObjectShared {
                wire,
                config,
                push: PushState::default(),
                keepalive: watch::Sender::new(keepalive),
                shutdown: CancellationToken::new(),
                object: this.clone(),
            }),
            address,
        })
    }

    /// A connection for the next call: the endpoint at `pinned` if set; else the next endpoint
    /// in turn, or if it cannot be reached the others in order. Endpoints whose last connect
    /// failed recently come last.
    pub(super) async fn connection(&self, pinned: Option<usize>) -> Result<Arc<Connection<W>>> {
        if let Some(slot) = pinned.and_then(|index| self.slots.get(index)) {
            return slot.connection(&self.shared).await;
        }
        let count = self.slots.len();
        if count == 0 {
            return Err(Error::new(
                ReturnCode::ADAPTER_NULL,
                format!("{} has no endpoint", self.address.servant()),
            ));
        }
        let first = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let in_turn = (0..count).map(|i| &self.slots[(first + i) % count]);
        let (healthy, failed): (Vec<_>, Vec<_>) =
            in_turn.partition(|slot| !slot.failed_within(RETRY_FAILED_AFTER));
        let mut last_error = None;
        for slot in healthy.into_iter().chain(failed) {
            match slot.connection(&self.shared).await {
                Ok(connection) => return Ok(connection),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::connect("no endpoint")))
    }
}

impl<W: Wire> Drop for ObjectProxy<W> {
    fn drop(&mut self) {
        // first, so that no task reconnects what is closed next
        self.shared.shutdown.cancel();
        self.shared.push.clear();
        for slot in &self.slots {
            slot.close(REASON_DROPPED);
        }
    }
}

/// A handle to a servant: calls go through it. Cheap to clone; clones share the connections.
///
/// Get one from [`Communicator::servant_proxy`](super::Communicator::servant_proxy). Each handle
/// carries its own call options: [`with_timeout`](Self::with_timeout) and
/// [`with_context`](Self::with_context) return a new handle on the same connections.
///
/// Calls connect on first use, one connection per endpoint, and go to the endpoints in turn.
/// Concurrent calls share a connection, matched to their replies by request id.
///
/// # Pushes
///
/// A server may push to a client on a connection the client made (TarsCpp's push callback: a
/// reply packet with request id 0 whose status `TARS_FUNC` names the function). Pushes go to
/// the handler set with [`set_push_handler`](Self::set_push_handler) and to every stream from
/// [`push_messages`](Self::push_messages); with neither, they are dropped, and the connection
/// stays up either way.
///
/// While a handler is set or a push stream is alive, the object is in *push mode*: its
/// connections send `tars_ping` after [`keepalive_interval`](super::CommunicatorConfig::keepalive_interval)
/// without sending, so that the server does not close them as idle, and a connection that
/// closes (the server restarted or asked to reconnect, the network failed, a ping failed) is
/// made again by itself, waiting longer after every failed attempt
/// ([`reconnect_backoff`](super::CommunicatorConfig::reconnect_backoff)). Register with the
/// server in an [`on_connect`](Self::on_connect) hook, which runs after every connect,
/// including reconnects. Outside push mode a lost connection is made again by the next call.
///
/// The handler and hooks are kept by the object: one that holds a proxy of the object keeps
/// the object, its connections and tasks alive for good. Use the proxy an `on_connect` hook
/// receives instead.
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
///     .servant_proxy("TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 18015")
///     .expect("a valid proxy string")
///     .with_timeout(Duration::from_millis(500));
/// let args = HelloArgs { s_req: "hello".into(), s_rsp: String::new() };
/// let result: HelloResult = hello.invoke("testHello", &args).await?;
/// println!("{} {}", result.ret, result.s_rsp);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ServantProxy {
    object: Arc<ObjectProxy<TarsWire>>,
    timeout: Duration,
    context: Arc<Context>,
    /// The endpoint every call goes to, by index, rather than each endpoint in turn.
    pinned: Option<usize>,
}

impl fmt::Debug for ServantProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ServantProxy");
        debug
            .field("address", &self.object.address.to_string())
            .field("timeout", &self.timeout)
            .field("context", &self.context);
        if let Some(index) = self.pinned {
            debug.field(
                "endpoint",
                &self.object.address.endpoints()[index].to_string(),
            );
        }
        debug.finish()
    }
}

impl ServantProxy {
    pub(super) fn new(object: Arc<ObjectProxy<TarsWire>>) -> Self {
        Self {
            timeout: object.shared.config.call_timeout,
            object,
            context: Arc::default(),
            pinned: None,
        }
    }

    /// A handle on `object` whose calls all go to the endpoint at `index`.
    pub(super) fn pinned(object: Arc<ObjectProxy<TarsWire>>, index: usize) -> Self {
        Self {
            pinned: Some(index),
            ..Self::new(object)
        }
    }

    /// The servant name, e.g. `TestApp.HelloServer.HelloObj`.
    pub fn servant_name(&self) -> &str {
        self.object.address.servant()
    }

    /// The endpoints, called in turn.
    pub fn endpoints(&self) -> &[Endpoint] {
        self.object.address.endpoints()
    }

    /// A handle on the same connections whose calls time out after `timeout`; the servant sees
    /// it as the request's `iTimeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tars_rpc::client::Communicator;
    ///
    /// let proxy = Communicator::new().servant_proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    /// assert_eq!(proxy.timeout(), Duration::from_secs(3));
    /// let quick = proxy.with_timeout(Duration::from_millis(200));
    /// assert_eq!(quick.timeout(), Duration::from_millis(200));
    /// assert_eq!(proxy.timeout(), Duration::from_secs(3));
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// A handle on the same connections whose requests carry `context`.
    ///
    /// ```
    /// use tars_rpc::client::Communicator;
    /// use tars_rpc::packet::Context;
    ///
    /// let proxy = Communicator::new().servant_proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    /// let traced = proxy.with_context(Context::from([("trace".to_string(), "42".to_string())]));
    /// assert_eq!(traced.context()["trace"], "42");
    /// assert!(proxy.context().is_empty());
    /// ```
    pub fn with_context(&self, context: Context) -> Self {
        Self {
            context: Arc::new(context),
            ..self.clone()
        }
    }

    /// The call timeout of this handle: the communicator's
    /// [`call_timeout`](super::CommunicatorConfig::call_timeout) unless set with
    /// [`with_timeout`](Self::with_timeout).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The context requests through this handle carry.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Hands every push of this object's connections (request id 0 with a `TARS_FUNC` status)
    /// to `handler`; replaces any previous one. TarsCpp's `tars_set_push_callback`.
    ///
    /// Each connection runs the handler on a task of its own, on one push at a time in the
    /// order the pushes arrived, so that a slow handler never delays the replies to calls. Up
    /// to [`push_queue_capacity`](super::CommunicatorConfig::push_queue_capacity) pushes per
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
    /// let proxy = Communicator::new().servant_proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
    /// proxy.set_push_handler(Printer);
    /// // then call the servant's registration method, e.g. in an `on_connect` hook
    /// proxy.clear_push_handler();
    /// ```
    pub fn set_push_handler(&self, handler: impl PushHandler) {
        self.object.shared.push.set_handler(Some(Arc::new(handler)));
    }

    /// Removes the push handler, if any. Pushes a handler is running on or that wait for it
    /// are dropped.
    pub fn clear_push_handler(&self) {
        self.object.shared.push.set_handler(None);
    }

    /// A stream of this object's pushes, as Go's rpcx hands them over a channel. Every stream
    /// gets every push, alongside the push handler if one is set; a stream alive puts the
    /// object in push mode (see [Pushes](Self#pushes)).
    ///
    /// Each stream has a bounded buffer of its own of
    /// [`push_queue_capacity`](super::CommunicatorConfig::push_queue_capacity) pushes; while
    /// it is full, pushes for that stream are dropped with a warning. The stream ends once the
    /// object is dropped, that is every proxy of it.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// use tars_rpc::client::Communicator;
    ///
    /// # async fn run() -> tars_rpc::Result<()> {
    /// let proxy = Communicator::new().servant_proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
    /// let mut pushes = proxy.push_messages();
    /// proxy.invoke_raw("registerPush", Default::default(), Default::default()).await?;
    /// while let Some(push) = pushes.next().await {
    ///     println!("{}: {} bytes", push.function, push.buffer.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn push_messages(&self) -> PushMessages {
        let shared = &self.object.shared;
        PushMessages::new(shared.push.stream(shared.config.push_queue_capacity))
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
    /// use tars_rpc::client::{Communicator, ServantProxy};
    /// use tars_rpc::endpoint::Endpoint;
    /// use tars_rpc::packet::PacketType;
    ///
    /// let proxy = Communicator::new().servant_proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
    /// proxy.on_connect(|proxy: ServantProxy, endpoint: Endpoint| async move {
    ///     if let Err(error) = proxy.invoke_raw("registerPush", Default::default(), PacketType::NORMAL).await {
    ///         eprintln!("cannot register with {endpoint}: {error}");
    ///     }
    /// });
    /// ```
    pub fn on_connect<F, Fut>(&self, hook: F)
    where
        F: Fn(ServantProxy, Endpoint) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.object
            .shared
            .push
            .add_connect_hook(Arc::new(move |proxy, endpoint| {
                hook(proxy, endpoint).boxed()
            }));
    }

    /// Runs `hook` when one of this object's connections closes, with its endpoint and the
    /// reason: `"eof"` (the server closed it), `"io error: ..."`, `"server asked to
    /// reconnect"`, `"keep-alive failed: ..."`, `"bad frame: ..."`, `"undecodable packet:
    /// ..."`, `"dropped"` (the object was dropped) or `"stopped"` (its runtime shut down).
    /// Hooks add up; they run on the connection's supervising task, so they should return
    /// quickly (a panic is caught and logged).
    ///
    /// ```
    /// use tars_rpc::client::Communicator;
    ///
    /// let proxy = Communicator::new().servant_proxy("A.B.C@tcp -h 127.0.0.1 -p 18015").unwrap();
    /// proxy.on_close(|endpoint, reason| eprintln!("lost {endpoint}: {reason}"));
    /// ```
    pub fn on_close<F>(&self, hook: F)
    where
        F: Fn(Endpoint, String) + Send + Sync + 'static,
    {
        self.object.shared.push.add_close_hook(Arc::new(hook));
    }

    /// Calls `func` with `args` and decodes the reply as `R`.
    ///
    /// `args` is the parameters as a top-level struct: the inputs at tags 1, 2, ... The reply's
    /// buffer holds the return value at tag 0 and the out-parameters at their tags.
    ///
    /// # Errors
    /// The reply's code and description if its `iRet` is not 0;
    /// [`ReturnCode::CLIENT_DECODE_ERR`] if its buffer is not an `R`; and the errors of
    /// [`invoke_raw`](Self::invoke_raw).
    pub async fn invoke<A: TarsStruct, R: TarsStruct>(&self, func: &str, args: &A) -> Result<R> {
        let buffer = args.to_bytes();
        let reply = self.call(func, &buffer).await?;
        R::decode_bytes(&reply.buffer).map_err(|error| Error::client_decode(&error))
    }

    /// Sends `func` with `args` as a one-way request (`cPacketType` 1): the servant sends no
    /// reply. Returns once the request is queued on the connection.
    ///
    /// # Errors
    /// As [`invoke_raw`](Self::invoke_raw).
    pub async fn invoke_oneway<A: TarsStruct>(&self, func: &str, args: &A) -> Result<()> {
        let buffer = args.to_bytes();
        let request = self.request(func, &buffer, PacketType::ONEWAY);
        let connection = self.object.connection(self.pinned).await?;
        connection.send_oneway(&request, self.timeout).await
    }

    /// Sends a request whose `sBuffer` is `buffer` and returns the reply as received, whatever
    /// its `iRet`; `None` for a one-way request ([`PacketType::ONEWAY`]), once it is queued.
    ///
    /// # Errors
    /// - [`ReturnCode::PROXY_CONNECT_ERR`] (-8) if no endpoint could be connected within the
    ///   communicator's [`connect_timeout`](super::CommunicatorConfig::connect_timeout), or the
    ///   connection was lost before the reply came;
    /// - [`ReturnCode::INVOKE_TIMEOUT`] (-7) if no reply came within [`timeout`](Self::timeout),
    ///   counted from when the call has a connection; the connection stays open;
    /// - [`ReturnCode::SEND_REQUEST_ERR`] (-13) if the request exceeds the maximum frame length.
    pub async fn invoke_raw(
        &self,
        func: &str,
        buffer: Bytes,
        packet_type: PacketType,
    ) -> Result<Option<ResponsePacket>> {
        let request = self.request(func, &buffer, packet_type);
        let connection = self.object.connection(self.pinned).await?;
        if packet_type.is_oneway() {
            connection.send_oneway(&request, self.timeout).await?;
            Ok(None)
        } else {
            connection.call(&request, self.timeout).await.map(Some)
        }
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
    ///     .servant_proxy(&format!("TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p {port}"))
    ///     .unwrap();
    /// let error = proxy.ping().await.unwrap_err();
    /// assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR);
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`invoke`](Self::invoke).
    pub async fn ping(&self) -> Result<()> {
        self.call("tars_ping", &[]).await.map(drop)
    }

    /// Calls `func` and returns the reply if its `iRet` is 0.
    async fn call(&self, func: &str, buffer: &[u8]) -> Result<ResponsePacket> {
        let request = self.request(func, buffer, PacketType::NORMAL);
        let connection = self.object.connection(self.pinned).await?;
        let reply = connection.call(&request, self.timeout).await?;
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
