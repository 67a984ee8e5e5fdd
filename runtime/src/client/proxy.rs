//! [`ServantProxy`], the handle calls go through, and the [`ObjectProxy`] its clones share.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use tracing::debug;

use super::connection::{Connection, EndpointSlot};
use super::request::Request;
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

/// A servant at its endpoints, with one connection per endpoint (TarsCpp's `ObjectProxy`).
/// Every handle made from the same proxy string shares one; dropping the last handle drops it
/// and closes its connections.
pub(crate) struct ObjectProxy {
    address: ProxyAddress,
    slots: Vec<EndpointSlot>,
    /// Round-robin position: the endpoint of the next call, modulo the number of endpoints.
    next_slot: AtomicUsize,
    config: CommunicatorConfig,
    /// This object, for the connections' readers to route pushes to.
    this: Weak<ObjectProxy>,
}

impl ObjectProxy {
    pub(super) fn new(address: ProxyAddress, config: CommunicatorConfig) -> Arc<Self> {
        Arc::new_cyclic(|this| Self {
            slots: address
                .endpoints()
                .iter()
                .cloned()
                .map(EndpointSlot::new)
                .collect(),
            address,
            next_slot: AtomicUsize::new(0),
            config,
            this: this.clone(),
        })
    }

    pub(super) fn config(&self) -> &CommunicatorConfig {
        &self.config
    }

    pub(super) fn weak(&self) -> Weak<ObjectProxy> {
        self.this.clone()
    }

    /// A connection for the next call: the next endpoint in turn, or if it cannot be reached
    /// the others in order. Endpoints whose last connect failed recently come last.
    async fn connection(&self) -> Result<Arc<Connection>> {
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
            match slot.connection(self).await {
                Ok(connection) => return Ok(connection),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::connect("no endpoint")))
    }

    /// Receives a push: a packet with request id 0, whose `status["TARS_FUNC"]` names the
    /// function. The connection's reader calls it for every push and goes on reading.
    ///
    /// No push callback exists yet, so the push is logged and dropped.
    pub(super) fn on_push(&self, packet: ResponsePacket) {
        debug!(
            servant = self.address.servant(),
            function = packet.push_function().unwrap_or(""),
            len = packet.buffer.len(),
            "dropped a push: no push callback is set"
        );
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
    object: Arc<ObjectProxy>,
    timeout: Duration,
    context: Arc<Context>,
}

impl fmt::Debug for ServantProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServantProxy")
            .field("address", &self.object.address.to_string())
            .field("timeout", &self.timeout)
            .field("context", &self.context)
            .finish()
    }
}

impl ServantProxy {
    pub(super) fn new(object: Arc<ObjectProxy>) -> Self {
        Self {
            timeout: object.config.call_timeout,
            object,
            context: Arc::default(),
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
        let connection = self.object.connection().await?;
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
        let connection = self.object.connection().await?;
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
        let connection = self.object.connection().await?;
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
