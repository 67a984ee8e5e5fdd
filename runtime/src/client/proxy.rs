//! [`Proxy`], the handle calls go through, over a [`Wire`]; the [`ObjectProxy`] its clones
//! share; and [`TypedProxy`], what the typed proxies `#[tars_interface]` generates are.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;
use tracing::warn;

use super::config::Config;
use super::connection::{CloseReason, Connection, EndpointSlot, Owner};
use super::endpoints::{connect_added, run_refresh, EndpointList, Endpoints};
use super::load_balance::Route;
use super::message::PushMessage;
use super::object::ObjectShared;
use super::observer::{self, CallObserver, CallRecord};
use super::push::{PushHandler, PushStream};
use super::raw::{RawRequest, RawWire};
use super::request::Request;
use super::supervisor;
use super::wire::{TarsWire, Wire};
use crate::codec::TupVersion;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::packet::{Context, PacketType, ResponsePacket, ReturnCode, Version};
use crate::support::catch_panic_async;
use crate::TarsStruct;

/// A servant at its endpoints, with one connection per endpoint (TarsCpp's `ObjectProxy`),
/// speaking the wire `W`. Every handle made from the same proxy string shares one; dropping
/// the last handle drops it, which closes its connections and stops every task they run.
pub(super) struct ObjectProxy<W: Wire> {
    /// The servant name (a raw proxy's may be empty).
    name: String,
    endpoints: Arc<Endpoints<W>>,
    shared: Arc<ObjectShared<W>>,
    /// The task refreshing a discovered list, started by the first lookup; aborted when the
    /// object is dropped.
    refresh_task: OnceLock<AbortOnDropHandle<()>>,
}

impl<W: Wire> ObjectProxy<W> {
    /// An object named `name` at `endpoints`, speaking `wire`, keeping connections alive every
    /// `keepalive` in push mode (zero: not at all), its tasks owned by `owner`.
    pub(super) fn new(
        name: &str,
        endpoints: Endpoints<W>,
        config: Config,
        wire: W,
        keepalive: Duration,
        owner: Owner,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_string(),
            endpoints: Arc::new(endpoints),
            shared: Arc::new(ObjectShared::new(wire, config, keepalive, owner)),
            refresh_task: OnceLock::new(),
        })
    }

    /// The error of a call after the communicator was shut down.
    fn shut_down(&self) -> Error {
        Error::new(
            ReturnCode::PROXY_CONNECT_ERR,
            format!(
                "cannot call {}: the communicator was shut down",
                if self.name.is_empty() {
                    "a raw proxy"
                } else {
                    &self.name
                }
            ),
        )
    }

    /// The endpoint list in force; for an object found through a discovery and not looked up
    /// yet, looks it up first and starts the refresh task.
    async fn list(&self) -> Result<Arc<EndpointList<W>>> {
        if let Some(list) = self.endpoints.current() {
            return Ok(list);
        }
        self.start_refresh();
        self.endpoints.resolve().await
    }

    /// Starts the task refreshing a discovered list, unless it runs already.
    fn start_refresh(&self) {
        if self.endpoints.is_discovered() && !self.shared.shutdown.is_cancelled() {
            self.refresh_task.get_or_init(|| {
                let task = run_refresh(self.endpoints.clone(), self.shared.clone());
                AbortOnDropHandle::new(self.shared.owner.tasks.spawn(task))
            });
        }
    }

    /// A connection for a call with `route`: to `pinned` if set; else to the endpoint the
    /// balancer picks and, if that one cannot be reached, to the next it picks, each endpoint
    /// at most once.
    async fn connection(
        &self,
        pinned: Option<&Arc<EndpointSlot<W>>>,
        route: Route,
    ) -> Result<Arc<Connection<W>>> {
        if self.shared.owner.is_shut_down() {
            return Err(self.shut_down());
        }
        if let Some(slot) = pinned {
            return supervisor::connection(slot, &self.shared).await;
        }
        let list = self.list().await?;
        let mut tried = Vec::new();
        let mut last_error = None;
        while let Some(index) = list.pick(route, &tried) {
            match supervisor::connection(&list.slots()[index], &self.shared).await {
                Ok(connection) => return Ok(connection),
                Err(error) => {
                    tried.push(index);
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| self.endpoints.no_endpoint()))
    }

    /// Connects to the endpoint of `slot`, and waits for the `on_connect` hooks of its
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

    /// Looks the object up now (see [`Proxy::refresh`]).
    async fn refresh(&self) -> Result<()> {
        if !self.endpoints.is_discovered() {
            return Ok(());
        }
        if self.shared.owner.is_shut_down() {
            return Err(self.shut_down());
        }
        self.start_refresh();
        let added = self.endpoints.refresh().await?;
        connect_added(&self.shared, added);
        Ok(())
    }
}

impl<W: Wire> Drop for ObjectProxy<W> {
    fn drop(&mut self) {
        // first, so that no task reconnects what is closed next
        self.shared.shutdown.cancel();
        self.shared.push.clear();
        if let Some(list) = self.endpoints.current() {
            for slot in list.slots() {
                slot.close(CloseReason::Dropped);
            }
        }
    }
}

/// A route watch started by [`Proxy::on_route`]: it follows the route until dropped.
#[derive(Debug)]
#[must_use = "the watch stops when dropped"]
pub struct RouteWatch {
    _task: AbortOnDropHandle<()>,
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
/// Calls connect on first use, one connection per endpoint ([`connect`](Self::connect)
/// connects them all at once), and go to the endpoint the communicator's
/// [load balancing](super::load_balance) picks: in turn by default, or by a key with
/// [`with_hash`](Self::with_hash) and [`with_consistent_hash`](Self::with_consistent_hash).
/// An endpoint that cannot be connected to is left out for a while and the call goes to
/// another ([`failed_endpoint_backoff`](super::CommunicatorBuilder::failed_endpoint_backoff)).
/// Concurrent calls share a connection, matched to their replies by request id.
///
/// A proxy of an object named without endpoints (`App.Server.Obj`) looks them up through the
/// communicator's [discovery](super::CommunicatorBuilder::discovery) before its first call,
/// and follows the changes a refresh finds.
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
/// after a loss; calls go to the endpoints as the load balancing picks them (in turn by
/// default) and share a connection, each
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
    /// The endpoint every call goes to, rather than the one the balancer picks.
    pinned: Option<Arc<EndpointSlot<W>>>,
    /// How calls choose their endpoint.
    route: Route,
    /// How requests carry their parameters.
    encoding: Encoding,
}

/// How a [`Proxy`]'s requests carry their parameters, and so which `iVersion` they have: what
/// TarsGo's `TarsSetVersion` switches. Servers answer in kind.
///
/// TARS is what every TARS server understands and the fastest; the others are for servers
/// or gateways that expect them, such as a TarsGateway-fronted service (TUP 3) or an old TUP
/// peer (TUP 2). Only the typed methods `#[tars_interface]` generates encode by name:
/// [`Proxy::invoke`] and [`Proxy::invoke_raw`] send their buffer as given, with the
/// encoding's `iVersion`.
///
/// ```
/// use tars_rpc::client::{Communicator, Encoding};
/// use tars_rpc::packet::Version;
///
/// let proxy = Communicator::new().proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
/// let tup = proxy.with_encoding(Encoding::Tup3);
/// assert_eq!(tup.encoding().version(), Version::TUP);
/// assert_eq!(proxy.encoding(), Encoding::Tars);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// `iVersion` 1: the parameters at their tags.
    #[default]
    Tars,
    /// `iVersion` 3 (`TUP_SIMPLE`): a [`UniAttribute`](crate::codec::UniAttribute) of the
    /// parameters by name.
    Tup3,
    /// `iVersion` 2 (`TUP_COMPLEX`): as TUP 3, each value keyed by its TARS type name too.
    Tup2,
    /// `iVersion` 5: a JSON object of the parameters by name, as TarsGateway sends.
    Json,
}

impl Encoding {
    /// The requests' `iVersion`.
    pub fn version(self) -> Version {
        match self {
            Self::Tars => Version::TARS,
            Self::Tup3 => Version::TUP,
            Self::Tup2 => Version::TUP2,
            Self::Json => Version::JSON,
        }
    }

    /// The TUP shape, for the TUP encodings.
    pub fn tup_version(self) -> Option<TupVersion> {
        match self {
            Self::Tup3 => Some(TupVersion::V3),
            Self::Tup2 => Some(TupVersion::V2),
            Self::Tars | Self::Json => None,
        }
    }
}

impl<W: Wire> Clone for Proxy<W> {
    fn clone(&self) -> Self {
        Self {
            object: self.object.clone(),
            timeout: self.timeout,
            context: self.context.clone(),
            pinned: self.pinned.clone(),
            route: self.route,
            encoding: self.encoding,
        }
    }
}

impl<W: Wire> fmt::Debug for Proxy<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Proxy");
        let servant = &self.object.name;
        if !servant.is_empty() {
            debug.field("servant", servant);
        }
        let endpoints: Vec<String> = self.endpoints().iter().map(ToString::to_string).collect();
        debug
            .field("endpoints", &endpoints)
            .field("timeout", &self.timeout);
        if !self.context.is_empty() {
            debug.field("context", &self.context);
        }
        if let Some(slot) = &self.pinned {
            debug.field("pinned", &slot.endpoint().to_string());
        }
        if self.route != Route::Any {
            debug.field("route", &self.route);
        }
        if self.encoding != Encoding::Tars {
            debug.field("encoding", &self.encoding);
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
            route: Route::Any,
            encoding: Encoding::Tars,
        }
    }

    /// A handle on `object` whose calls all go to the endpoint of `slot`.
    fn pinned(object: Arc<ObjectProxy<W>>, slot: Arc<EndpointSlot<W>>) -> Self {
        Self {
            pinned: Some(slot),
            ..Self::new(object)
        }
    }

    /// The active endpoints, those calls go to, as named in the proxy string or as the last
    /// lookup found them (none before the first lookup of an object resolved through a
    /// [discovery](super::CommunicatorBuilder::discovery)).
    ///
    /// ```
    /// use tars_rpc::client::Communicator;
    ///
    /// let proxy = Communicator::new()
    ///     .proxy("A.B.C@tcp -h 10.0.0.1 -p 10000:tcp -h 10.0.0.2 -p 10000")
    ///     .unwrap();
    /// assert_eq!(proxy.endpoints()[1].host(), "10.0.0.2");
    /// ```
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.object
            .endpoints
            .current()
            .map(|list| list.active().to_vec())
            .unwrap_or_default()
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

    /// How calls through this handle choose their endpoint: [`Route::Any`] unless set with
    /// [`with_hash`](Self::with_hash) or [`with_consistent_hash`](Self::with_consistent_hash).
    pub fn route(&self) -> Route {
        self.route
    }

    /// A handle on the same connections whose calls go to the endpoint `code` hashes to,
    /// TarsCpp's `tars_hash(code)`: with the default balancing
    /// ([`TarsBalance`](super::load_balance::TarsBalance)), exactly the endpoint a TarsCpp
    /// client sends the same code to over the same endpoint list, so that C++ and Rust
    /// clients send a key to the same instance. See [`Route::Hash`] for the rule, and
    /// [`balance`](super::balance) for TarsCpp's order of endpoints.
    ///
    /// The endpoint depends on the endpoint list: it changes for some codes when endpoints
    /// come or go. When the endpoint chosen is down, the call goes where TarsCpp's fallback
    /// sends it (modulo over the endpoints left).
    ///
    /// ```
    /// use tars_rpc::client::Communicator;
    /// use tars_rpc::client::load_balance::Route;
    ///
    /// let proxy = Communicator::new()
    ///     .proxy("A.B.C@tcp -h 10.0.0.1 -p 10000:tcp -h 10.0.0.2 -p 10000")
    ///     .unwrap();
    /// let user_42 = proxy.with_hash(42);
    /// assert_eq!(user_42.route(), Route::Hash(42));
    /// assert_eq!(proxy.route(), Route::Any);
    /// ```
    #[must_use]
    pub fn with_hash(&self, code: u64) -> Self {
        Self {
            route: Route::Hash(code),
            ..self.clone()
        }
    }

    /// A handle on the same connections whose calls go to the endpoint `code` falls on in
    /// TarsCpp's consistent-hash ring, TarsCpp's `tars_consistent_hash(code)`: with the
    /// default balancing, the endpoint a TarsCpp client chooses for the same code and list.
    /// When endpoints come or go, only the codes on their part of the ring move.
    ///
    /// TarsCpp's quirks come with it: the ring's nodes are **hosts** (several ports on one
    /// host get one share, all of it going to the lowest of them), and the low 32 bits of the
    /// code are the position on the ring as they are, so small codes (ids 1, 2, 3...) all land
    /// on one host. Hash keys before routing by them: [`balance::spread`](super::balance::spread)
    /// spreads them well, and a C++ client that must agree applies the same function.
    ///
    /// ```
    /// use tars_rpc::client::balance::spread;
    /// use tars_rpc::client::Communicator;
    /// use tars_rpc::client::load_balance::Route;
    ///
    /// let proxy = Communicator::new()
    ///     .proxy("A.B.C@tcp -h 10.0.0.1 -p 10000:tcp -h 10.0.0.2 -p 10000")
    ///     .unwrap();
    /// let user_42 = proxy.with_consistent_hash(spread(42));
    /// assert_eq!(user_42.route(), Route::ConsistentHash(spread(42)));
    /// ```
    #[must_use]
    pub fn with_consistent_hash(&self, code: u64) -> Self {
        Self {
            route: Route::ConsistentHash(code),
            ..self.clone()
        }
    }

    /// A handle on the same connections whose calls go to the endpoint `key` maps to on a
    /// consistent-hash ring of the endpoints ([`Route::KeyHash`]): the better-spread choice
    /// when no C++ client has to agree. Unlike TarsCpp's ring
    /// ([`with_consistent_hash`](Self::with_consistent_hash)), every endpoint is a node (two
    /// instances on one host get a share each) and the key is mixed first (ids 1, 2, 3 land
    /// on different instances); like it, a key moves only when its endpoint comes or goes.
    ///
    /// ```
    /// use tars_rpc::client::Communicator;
    /// use tars_rpc::client::load_balance::Route;
    ///
    /// let proxy = Communicator::new()
    ///     .proxy("A.B.C@tcp -h 10.0.0.1 -p 10000:tcp -h 10.0.0.1 -p 10001")
    ///     .unwrap();
    /// let user_42 = proxy.with_key_hash(42);
    /// assert_eq!(user_42.route(), Route::KeyHash(42));
    /// ```
    #[must_use]
    pub fn with_key_hash(&self, key: u64) -> Self {
        Self {
            route: Route::KeyHash(key),
            ..self.clone()
        }
    }

    /// Looks the object up now, through the communicator's
    /// [discovery](super::CommunicatorBuilder::discovery), rather than at the next refresh;
    /// the list found takes effect as a refresh's does. Does nothing for a proxy whose
    /// endpoints are named in its proxy string.
    ///
    /// ```no_run
    /// use tars_rpc::client::discovery::StaticDiscovery;
    /// use tars_rpc::client::{Communicator, Proxy};
    ///
    /// # async fn run() -> tars_rpc::Result<()> {
    /// let discovery = StaticDiscovery::new().with("A.B.C", "tcp -h 127.0.0.1 -p 18015").unwrap();
    /// let communicator = Communicator::builder().discovery(discovery).build();
    /// let proxy: Proxy = communicator.string_to_proxy("A.B.C").unwrap();
    /// proxy.refresh().await?;
    /// assert_eq!(proxy.endpoints()[0].port(), 18015);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// When the lookup fails or finds no active endpoint: the proxy keeps the endpoints it
    /// had. One that had none yet takes the cached list if there is one
    /// ([`cache_dir`](super::CommunicatorBuilder::cache_dir)), and still returns the error.
    /// [`ReturnCode::PROXY_CONNECT_ERR`](crate::packet::ReturnCode::PROXY_CONNECT_ERR) (-8)
    /// once the communicator is shut down.
    ///
    /// # Cancel safety
    /// Dropping the future may leave the lookup unapplied; the next refresh makes up for it.
    pub async fn refresh(&self) -> Result<()> {
        self.object.refresh().await
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
            .add_connect_hook(Arc::new(move |slot: Arc<EndpointSlot<W>>| {
                let object = object.upgrade()?;
                let endpoint = slot.endpoint().clone();
                Some(hook(Self::pinned(object, slot), endpoint).boxed())
            }));
    }

    /// Runs `hook` with a proxy pinned to the endpoint this handle's [route](Self::route) maps
    /// to, now and again whenever that changes, until the returned [`RouteWatch`] is dropped
    /// (or the object, or the communicator shut down): register by key. The route maps
    /// elsewhere when the endpoint list changes (a refresh, an endpoint added or removed) or
    /// when the endpoint it maps to goes down (a connect refused or timed out, a connection
    /// lost to an error) or comes back up; an endpoint counts as down from its failure until
    /// a connection to it is made again.
    ///
    /// A hook runs to its end before the next: the calls of one watch never overtake each
    /// other. Its endpoint tells the client where the key's registration now is.
    ///
    /// ```no_run
    /// use tars_rpc::client::{balance::spread, Communicator};
    ///
    /// # async fn run() -> tars_rpc::Result<()> {
    /// let proxy = Communicator::new()
    ///     .proxy("A.B.C@tcp -h 10.0.0.1 -p 1:tcp -h 10.0.0.2 -p 1:tcp -h 10.0.0.3 -p 1")
    ///     .unwrap();
    /// let user_id = 42;
    /// // the instance that other services send this user's events to, by the same hash
    /// let watch = proxy
    ///     .with_consistent_hash(spread(user_id))
    ///     .on_route(move |pinned, endpoint| async move {
    ///         println!("user {user_id} now at {endpoint}");
    ///         let _ = pinned.invoke_raw("registerUser", &[]).await;
    ///     });
    /// // ... the registration follows the key until `watch` is dropped
    /// # drop(watch);
    /// # Ok(())
    /// # }
    /// ```
    pub fn on_route<F, Fut>(&self, hook: F) -> RouteWatch
    where
        F: Fn(Self, Endpoint) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let object = Arc::downgrade(&self.object);
        let route = self.route;
        let mut changes = self.object.endpoints.watch_topology();
        let stop = self.object.shared.shutdown.clone();
        let watch = async move {
            let mut target: Option<Arc<EndpointSlot<W>>> = None;
            loop {
                let Some(object) = object.upgrade() else {
                    return;
                };
                // a discovered object is looked up first; a failed lookup waits for a list
                let now = match object.list().await {
                    Ok(list) => list.target(route).cloned(),
                    Err(_) => None,
                };
                if let Some(slot) =
                    now.filter(|now| !target.as_ref().is_some_and(|was| Arc::ptr_eq(was, now)))
                {
                    target = Some(slot.clone());
                    let endpoint = slot.endpoint().clone();
                    let hooked = hook(Self::pinned(object, slot), endpoint.clone());
                    tokio::select! {
                        () = stop.cancelled() => return,
                        hooked = catch_panic_async(hooked) => if let Err(panic) = hooked {
                            warn!(%endpoint, panic, "an on_route hook panicked");
                        },
                    }
                } else {
                    drop(object);
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    changed = changes.changed() => if changed.is_err() {
                        return;
                    },
                }
            }
        };
        RouteWatch {
            _task: AbortOnDropHandle::new(self.object.shared.owner.tasks.spawn(watch)),
        }
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
    /// when this returns. Endpoints already connected are left as they are; endpoints marked
    /// down are tried too, and are up again if they connect. An object resolved through a
    /// discovery is looked up first if it has not been yet; in push mode, endpoints that a
    /// later refresh adds are connected as they come.
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
    /// succeeds if any endpoint was connected, even if the others were not. The lookup's
    /// error if the object could not be looked up.
    ///
    /// # Cancel safety
    /// Dropping the future leaves the connections made so far open, and their hooks running.
    pub async fn connect(&self) -> Result<()> {
        let object = &self.object;
        let slots = self.slots().await?;
        let attempts = slots.iter().map(|slot| object.connect_slot(slot));
        let mut outcomes = futures::future::join_all(attempts).await;
        if outcomes.iter().any(Result::is_ok) {
            return Ok(());
        }
        outcomes
            .pop()
            .unwrap_or_else(|| Err(object.endpoints.no_endpoint()))
    }

    /// A handle pinned to each endpoint that takes calls now, with this handle's options: a
    /// call on every one makes the call on every instance of the object, once.
    ///
    /// This is a one-off: to register with every instance and stay registered through
    /// reconnections and endpoints the registry adds later, register in an
    /// [`on_connect`](Self::on_connect) hook and [`connect`](Self::connect).
    ///
    /// ```no_run
    /// use futures::future::join_all;
    /// use tars_rpc::client::Communicator;
    ///
    /// # async fn run() -> tars_rpc::Result<()> {
    /// let proxy = Communicator::new()
    ///     .proxy("A.B.C@tcp -h 10.0.0.1 -p 1:tcp -h 10.0.0.2 -p 1")
    ///     .unwrap();
    /// let everywhere = proxy.each_endpoint().await?;
    /// let pings = join_all(everywhere.iter().map(|pinned| pinned.ping())).await;
    /// println!("{} of {} instances answered", pings.iter().filter(|ping| ping.is_ok()).count(), pings.len());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// When the communicator was shut down, or the object, found through a discovery, cannot
    /// be looked up.
    ///
    /// # Cancel safety
    /// Cancel-safe: it only looks the object up if it has not been yet.
    pub async fn each_endpoint(&self) -> Result<Vec<Self>> {
        let slots = self.slots().await?;
        Ok(slots
            .into_iter()
            .map(|slot| Self {
                pinned: Some(slot),
                ..self.clone()
            })
            .collect())
    }

    /// The endpoints this handle reaches: its pinned one, or every one that takes calls (the
    /// object looked up first if it has not been yet).
    async fn slots(&self) -> Result<Vec<Arc<EndpointSlot<W>>>> {
        let object = &self.object;
        if object.shared.owner.is_shut_down() {
            return Err(object.shut_down());
        }
        Ok(match &self.pinned {
            Some(slot) => vec![slot.clone()],
            None => object.list().await?.slots().to_vec(),
        })
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
        &self.object.name
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

    /// A handle on the same connections whose requests carry their parameters as `encoding`
    /// says (TarsGo's `TarsSetVersion`): see [`Encoding`].
    #[must_use]
    pub fn with_encoding(&self, encoding: Encoding) -> Self {
        Self {
            encoding,
            ..self.clone()
        }
    }

    /// How requests through this handle carry their parameters: [`Encoding::Tars`] unless
    /// set with [`with_encoding`](Self::with_encoding).
    pub fn encoding(&self) -> Encoding {
        self.encoding
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
    ///   communicator's [`connect_timeout`](super::CommunicatorBuilder::connect_timeout) (each
    ///   endpoint is tried once), or the connection was lost before the reply came, or the
    ///   communicator was shut down;
    /// - [`ReturnCode::INVOKE_TIMEOUT`] (-7) if no reply came within [`timeout`](Self::timeout),
    ///   counted from when the call has a connection; the connection stays open;
    /// - [`ReturnCode::SEND_REQUEST_ERR`] (-13) if the request exceeds the maximum frame length;
    /// - for an object looked up through a discovery, the lookup's error if it has no
    ///   endpoints yet, [`ReturnCode::ADAPTER_NULL`] (-10) if the lookup found none active.
    ///
    /// # Cancel safety
    /// As [`invoke`](Self::invoke).
    pub async fn invoke_raw(&self, func: &str, buffer: &[u8]) -> Result<ResponsePacket> {
        let request = self.request(func, buffer, PacketType::NORMAL);
        let observer = self.object.shared.config.observer.get();
        let started = observer.map(|_| Instant::now());
        let connection = self
            .object
            .connection(self.pinned.as_ref(), self.route)
            .await?;
        let result = connection.call(&request, self.timeout).await;
        if let (Some(observer), Some(started)) = (observer, started) {
            let code = result.as_ref().map_or_else(Error::code, |reply| reply.ret);
            self.observed(observer, &connection, func, code, started, false);
        }
        result
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
        let observer = self.object.shared.config.observer.get();
        let started = observer.map(|_| Instant::now());
        let connection = self
            .object
            .connection(self.pinned.as_ref(), self.route)
            .await?;
        let result = connection.send_oneway(&request, self.timeout).await;
        if let (Some(observer), Some(started)) = (observer, started) {
            let code = result
                .as_ref()
                .map_or_else(Error::code, |()| ReturnCode::SUCCESS);
            self.observed(observer, &connection, func, code, started, true);
        }
        result
    }

    /// Tells the communicator's observer of a call finished on `connection`.
    fn observed(
        &self,
        observer: &dyn CallObserver,
        connection: &Connection<TarsWire>,
        func: &str,
        code: ReturnCode,
        started: Instant,
        oneway: bool,
    ) {
        let record = CallRecord {
            object: self.servant_name(),
            endpoint: connection.shared().endpoint(),
            function: func,
            code,
            elapsed: started.elapsed(),
            oneway,
        };
        observer::tell(observer, &record);
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
            version: self.encoding.version(),
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
    ///   communicator's [`connect_timeout`](super::CommunicatorBuilder::connect_timeout) (each
    ///   endpoint is tried once), or the connection was lost (or closed for bad input) before
    ///   the response came, or the communicator was shut down;
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
        let connection = self
            .object
            .connection(self.pinned.as_ref(), self.route)
            .await?;
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
        let connection = self
            .object
            .connection(self.pinned.as_ref(), self.route)
            .await?;
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

    /// A handle on the same connections whose requests carry their parameters as `encoding`
    /// says, TUP or JSON rather than TARS: see [`Proxy::with_encoding`].
    #[must_use]
    fn with_encoding(&self, encoding: Encoding) -> Self {
        Self::from_proxy(self.proxy().with_encoding(encoding))
    }

    /// A handle on the same connections whose calls go where TarsCpp's `tars_hash(code)`
    /// sends them: see [`Proxy::with_hash`].
    #[must_use]
    fn with_hash(&self, code: u64) -> Self {
        Self::from_proxy(self.proxy().with_hash(code))
    }

    /// A handle on the same connections whose calls go where TarsCpp's
    /// `tars_consistent_hash(code)` sends them: see [`Proxy::with_consistent_hash`].
    #[must_use]
    fn with_consistent_hash(&self, code: u64) -> Self {
        Self::from_proxy(self.proxy().with_consistent_hash(code))
    }

    /// A handle on the same connections whose calls go where `key` maps to on a ring of the
    /// endpoints, spread better than TarsCpp's: see [`Proxy::with_key_hash`].
    #[must_use]
    fn with_key_hash(&self, key: u64) -> Self {
        Self::from_proxy(self.proxy().with_key_hash(key))
    }

    /// Looks the object up now through the communicator's discovery: see
    /// [`Proxy::refresh`].
    ///
    /// # Errors
    /// When the lookup fails or finds no active endpoint.
    ///
    /// # Cancel safety
    /// Dropping the future may leave the lookup unapplied; the next refresh makes up for it.
    fn refresh(&self) -> impl Future<Output = Result<()>> + Send {
        let proxy = self.proxy().clone();
        async move { proxy.refresh().await }
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

    /// Runs `hook` with this typed proxy pinned to the endpoint its route maps to, now and
    /// whenever that changes, until the [`RouteWatch`] is dropped: see [`Proxy::on_route`].
    fn on_route<F, Fut>(&self, hook: F) -> RouteWatch
    where
        F: Fn(Self, Endpoint) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.proxy()
            .on_route(move |proxy, endpoint| hook(Self::from_proxy(proxy), endpoint))
    }

    /// This typed proxy pinned to each endpoint that takes calls now: see
    /// [`Proxy::each_endpoint`].
    ///
    /// # Errors
    /// As [`Proxy::each_endpoint`].
    ///
    /// # Cancel safety
    /// Cancel-safe.
    fn each_endpoint(&self) -> impl Future<Output = Result<Vec<Self>>> + Send {
        let proxy = self.proxy().clone();
        async move {
            let pinned = proxy.each_endpoint().await?;
            Ok(pinned.into_iter().map(Self::from_proxy).collect())
        }
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
