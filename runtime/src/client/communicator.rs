//! [`Communicator`]: makes proxies and keeps one object per proxy string; its
//! [builder](CommunicatorBuilder), the [builder of proxies](ProxyBuilder) and the
//! [builder of raw proxies](RawProxyBuilder).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cache::CacheFile;
use super::config::{Config, ReconnectBackoff, MIN_REFRESH_INTERVAL};
use super::connection::Owner;
use super::discovery::{Discovery, Lookup};
use super::endpoints::{Discovered, Endpoints};
use super::load_balance::{LoadBalance, TarsBalance};
use super::proxy::{ObjectProxy, Proxy, TypedProxy};
use super::raw::{ClientProtocol, RawWire};
use super::wire::TarsWire;
use crate::endpoint::{Endpoint, EndpointError, ProxyAddress};
use crate::support::lock;
use crate::tls::TlsClientConfig;

/// The client's entry point: turns proxy strings into proxies. Cheap to clone; clones share
/// everything.
///
/// As in TarsCpp, the same proxy string gives proxies of one object, sharing its connections,
/// for as long as any of them lives. Dropping every proxy of an object closes its connections;
/// the communicator keeps no object alive. Proxies keep working after the communicator is
/// dropped; [`shutdown`](Self::shutdown) stops them all.
///
/// A proxy string names its endpoints (`App.Server.Obj@tcp -h HOST -p PORT[:...]`), or only
/// the object (`App.Server.Obj`): the object is then looked up through the communicator's
/// [discovery](CommunicatorBuilder::discovery) (the TARS registry, a [`StaticDiscovery`] or
/// your own) before its first call, and again in the background every
/// [refresh interval](CommunicatorBuilder::refresh_interval).
///
/// Making proxies needs no runtime; calls run on the tokio runtime that awaits them, which
/// must have the time and I/O drivers enabled. [`Communicator::new`] has the default settings;
/// [`Communicator::builder`] sets others.
///
/// ```
/// use tars_rpc::client::Communicator;
///
/// let communicator = Communicator::new();
/// let proxy = communicator
///     .proxy("TestApp.HelloServer.HelloObj@tcp -h 10.0.0.1 -p 10000:tcp -h 10.0.0.2 -p 10000")
///     .unwrap();
/// assert_eq!(proxy.servant_name(), "TestApp.HelloServer.HelloObj");
/// assert_eq!(proxy.endpoints().len(), 2);
///
/// // no discovery: an object named without endpoints cannot be found
/// assert!(communicator.proxy("TestApp.HelloServer.HelloObj").is_err());
/// ```
///
/// [`StaticDiscovery`]: super::discovery::StaticDiscovery
#[derive(Clone, Default)]
pub struct Communicator {
    inner: Arc<Inner>,
}

/// Which object a proxy string names: its endpoints, or its name and how it is looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ObjectKey {
    Fixed(ProxyAddress),
    Discovered(String, Lookup),
}

struct Inner {
    config: Config,
    discovery: Option<Arc<dyn Discovery>>,
    load_balance: Arc<dyn LoadBalance>,
    /// Every task of the communicator's objects is spawned here.
    tasks: TaskTracker,
    /// Cancelled by [`Communicator::shutdown`]: every object's token is a child.
    shutdown: CancellationToken,
    /// Set by [`Communicator::shutdown`], before `shutdown` is cancelled.
    shut_down: Arc<AtomicBool>,
    /// The objects by address; an entry outlives its object only until the next insertion.
    objects: Mutex<HashMap<ObjectKey, Weak<ObjectProxy<TarsWire>>>>,
}

impl Default for Inner {
    fn default() -> Self {
        CommunicatorBuilder::default().inner()
    }
}

impl fmt::Debug for Communicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Communicator")
            .field("config", &self.inner.config)
            .field("discovery", &self.inner.discovery.is_some())
            .field("shut_down", &self.inner.shut_down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Why a proxy could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy string is not `Servant@endpoints`, or its endpoints do not parse.
    #[error(transparent)]
    Address(#[from] EndpointError),
    /// The proxy string names an object without endpoints, and is no object name (it is
    /// empty or holds white space).
    #[error("invalid object name `{0}`: expected `App.Server.Obj`, or `App.Server.Obj@tcp -h HOST -p PORT`")]
    InvalidName(String),
    /// The proxy string names an object without endpoints, and the communicator has no
    /// [discovery](CommunicatorBuilder::discovery) to look it up.
    #[error(
        "{0} names no endpoints, and the communicator has no discovery to look it up: write \
         `{0}@tcp -h HOST -p PORT`, or give the communicator a discovery \
         (CommunicatorBuilder::discovery)"
    )]
    NoDiscovery(String),
    /// The communicator was shut down.
    #[error("the communicator was shut down")]
    ShutDown,
}

impl Communicator {
    /// A communicator with the default settings (see [`CommunicatorBuilder`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder of a communicator with settings other than the default.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tars_rpc::client::Communicator;
    ///
    /// let communicator = Communicator::builder()
    ///     .call_timeout(Duration::from_millis(500))
    ///     .keepalive_interval(Duration::from_secs(30))
    ///     .build();
    /// let proxy = communicator.proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    /// assert_eq!(proxy.timeout(), Duration::from_millis(500));
    /// ```
    pub fn builder() -> CommunicatorBuilder {
        CommunicatorBuilder::default()
    }

    /// Parses a proxy string and returns a typed proxy of it, such as the `{Trait}Proxy` of a
    /// `#[tars_interface]` trait: `App.Server.Obj@endpoints` (see [`ProxyAddress`]), or
    /// `App.Server.Obj` alone, looked up through the communicator's
    /// [discovery](CommunicatorBuilder::discovery). The same as
    /// `proxy_builder(address).build()` (see [`ProxyBuilder`]).
    ///
    /// The same string twice returns proxies sharing one object and its connections, as
    /// TarsCpp caches its `ObjectProxy` by name. Nothing connects, and nothing is looked up,
    /// until the first call (or [`connect`](TypedProxy::connect)).
    ///
    /// ```
    /// use tars_rpc::client::{Communicator, Proxy};
    ///
    /// let proxy: Proxy = Communicator::new().string_to_proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    /// assert_eq!(proxy.servant_name(), "A.B.C");
    /// ```
    ///
    /// # Errors
    /// If `address` is not a proxy string; if it names no endpoints and the communicator has
    /// no discovery ([`ProxyError::NoDiscovery`]); once the communicator is shut down.
    pub fn string_to_proxy<P: TypedProxy>(&self, address: &str) -> Result<P, ProxyError> {
        self.proxy_builder(address).build()
    }

    /// Parses a proxy string and returns an untyped proxy of it; see
    /// [`string_to_proxy`](Self::string_to_proxy).
    ///
    /// # Errors
    /// As [`string_to_proxy`](Self::string_to_proxy).
    pub fn proxy(&self, address: &str) -> Result<Proxy, ProxyError> {
        self.proxy_builder(address).build()
    }

    /// A builder of a proxy of `address` with options beyond the proxy string: how its
    /// object is looked up ([`ProxyBuilder::lookup`]).
    ///
    /// ```
    /// use tars_rpc::client::discovery::{Lookup, StaticDiscovery};
    /// use tars_rpc::client::{Communicator, Proxy};
    ///
    /// let communicator = Communicator::builder().discovery(StaticDiscovery::new()).build();
    /// let every_instance: Proxy = communicator
    ///     .proxy_builder("TestApp.HelloServer.HelloObj")
    ///     .lookup(Lookup::All)
    ///     .build()
    ///     .unwrap();
    /// # let _ = every_instance;
    /// ```
    pub fn proxy_builder(&self, address: &str) -> ProxyBuilder {
        ProxyBuilder {
            communicator: self.clone(),
            address: address.to_string(),
            lookup: None,
        }
    }

    /// The object of `key`, shared with the proxies made of it before, or made by `make`.
    fn object(
        &self,
        key: ObjectKey,
        make: impl FnOnce(&Inner) -> Arc<ObjectProxy<TarsWire>>,
    ) -> Arc<ObjectProxy<TarsWire>> {
        let mut objects = lock(&self.inner.objects);
        if let Some(object) = objects.get(&key).and_then(Weak::upgrade) {
            return object;
        }
        objects.retain(|_, object| object.strong_count() > 0);
        let object = make(&self.inner);
        objects.insert(key, Arc::downgrade(&object));
        object
    }

    /// A proxy speaking `protocol` to `endpoints`, with the default options: the same as
    /// `raw_proxy_builder(endpoints, protocol).build()` (see [`RawProxyBuilder`]).
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use tars_rpc::client::Communicator;
    /// use tars_rpc::protocol::{ClientProtocol, ProtocolError, RawResponse};
    ///
    /// struct Proto;
    ///
    /// impl ClientProtocol for Proto {
    ///     fn encode_request(&self, _: i32, payload: &[u8], buf: &mut BytesMut) -> Result<(), ProtocolError> {
    ///         buf.extend_from_slice(payload);
    ///         Ok(())
    ///     }
    ///     fn decode_response(&self, _: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> {
    ///         Ok(None)
    ///     }
    /// }
    ///
    /// let communicator = Communicator::new();
    /// let proxy = communicator
    ///     .raw_proxy("Push@tcp -h 10.0.0.1 -p 9300:tcp -h 10.0.0.2 -p 9300", Proto)
    ///     .unwrap();
    /// assert_eq!(proxy.name(), Some("Push"));
    /// assert_eq!(proxy.endpoints().len(), 2);
    /// assert_eq!(communicator.raw_proxy("10.0.0.1:9300", Proto).unwrap().endpoints().len(), 1);
    /// assert!(communicator.raw_proxy("tcp -h 10.0.0.1", Proto).is_err());
    /// ```
    ///
    /// # Errors
    /// If `endpoints` is not an endpoint list.
    pub fn raw_proxy(
        &self,
        endpoints: &str,
        protocol: impl ClientProtocol,
    ) -> Result<Proxy<RawWire>, EndpointError> {
        self.raw_proxy_builder(endpoints, protocol).build()
    }

    /// A builder of a proxy speaking `protocol` to `endpoints`: `tcp -h HOST -p PORT[:tcp -h
    /// HOST2 -p PORT2...]` or `HOST:PORT`, optionally after a name and `@` (`Name@tcp -h
    /// ...`), which names the proxy in errors and logs. See
    /// [Custom protocols](Proxy#custom-protocols).
    pub fn raw_proxy_builder(
        &self,
        endpoints: &str,
        protocol: impl ClientProtocol,
    ) -> RawProxyBuilder {
        RawProxyBuilder {
            config: self.inner.config.clone(),
            load_balance: self.inner.load_balance.clone(),
            owner: self.inner.owner(),
            endpoints: endpoints.to_string(),
            protocol: Box::new(protocol),
            heartbeat: None,
        }
    }

    /// Stops everything the communicator started, and waits until it has: the refresh of
    /// every object looked up, every connection (closed; the calls in flight on them fail with
    /// [`ReturnCode::PROXY_CONNECT_ERR`](crate::packet::ReturnCode::PROXY_CONNECT_ERR), -8)
    /// with its reader, writer and supervisor, the push handlers' tasks and the `on_connect`
    /// hooks still running (dropped). Then the discovery's
    /// [`shutdown`](super::discovery::Discovery::shutdown).
    ///
    /// Afterwards calls through the communicator's proxies, raw ones included, fail at once
    /// with -8 ("the communicator was shut down"), and making a TARS proxy fails with
    /// [`ProxyError::ShutDown`] (a raw proxy made then fails its calls). Calling it again
    /// waits for the same.
    ///
    /// ```
    /// use tars_rpc::client::Communicator;
    /// use tars_rpc::packet::ReturnCode;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let communicator = Communicator::new();
    /// let proxy = communicator.proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    /// communicator.shutdown().await;
    /// let error = proxy.ping().await.unwrap_err();
    /// assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR);
    /// assert!(communicator.proxy("A.B.C@tcp -h 127.0.0.1 -p 1").is_err());
    /// # }
    /// ```
    ///
    /// # Cancel safety
    /// Dropping the future leaves the shutdown under way: every task has been told to stop,
    /// only the waiting is given up.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        let first = !inner.shut_down.swap(true, Ordering::AcqRel);
        inner.shutdown.cancel();
        inner.tasks.close();
        inner.tasks.wait().await;
        if first {
            if let Some(discovery) = &inner.discovery {
                discovery.shutdown().await;
            }
        }
    }
}

/// The options of a proxy, from [`Communicator::proxy_builder`]. Its settings otherwise are
/// its communicator's.
///
/// ```
/// use tars_rpc::client::discovery::{Lookup, StaticDiscovery};
/// use tars_rpc::client::{Communicator, Proxy};
///
/// let communicator = Communicator::builder()
///     .discovery(StaticDiscovery::new())
///     .set_division("app.sz.1")
///     .build();
/// // the whole object, whatever the set (the communicator's lookups ask for set app.sz.1)
/// let proxy: Proxy = communicator
///     .proxy_builder("TestApp.HelloServer.HelloObj")
///     .lookup(Lookup::Any)
///     .build()
///     .unwrap();
/// # let _ = proxy;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ProxyBuilder {
    communicator: Communicator,
    address: String,
    lookup: Option<Lookup>,
}

impl ProxyBuilder {
    /// What lookups of the object ask the discovery for: [`Lookup::Any`] or [`Lookup::All`]
    /// (every endpoint, whatever its group: TarsCpp's `findObjectById4Any` and
    /// `findObjectById4All`), or [`Lookup::SameSet`] with a set of your choice (TarsCpp's
    /// `invokeSetId`). Default: [`Lookup::SameSet`] with the communicator's
    /// [set division](CommunicatorBuilder::set_division) if it has one, else
    /// [`Lookup::SameGroup`]. Proxies of one object name with different lookups are different
    /// objects, with connections of their own. A proxy string that names its endpoints is not
    /// looked up: the lookup is ignored.
    pub fn lookup(mut self, lookup: Lookup) -> Self {
        self.lookup = Some(lookup);
        self
    }

    /// The proxy, typed (any [`TypedProxy`], [`Proxy`] included): see
    /// [`Communicator::string_to_proxy`].
    ///
    /// # Errors
    /// As [`Communicator::string_to_proxy`].
    pub fn build<P: TypedProxy>(self) -> Result<P, ProxyError> {
        let inner = &self.communicator.inner;
        if inner.shut_down.load(Ordering::Acquire) {
            return Err(ProxyError::ShutDown);
        }
        let address = self.address.trim();
        let object = if address.contains('@') {
            let address: ProxyAddress = address.parse()?;
            let key = ObjectKey::Fixed(address.clone());
            self.communicator.object(key, |inner| {
                let servant = address.servant();
                let endpoints =
                    Endpoints::fixed(servant, address.endpoints(), inner.load_balance.clone());
                inner.tars_object(servant, endpoints)
            })
        } else {
            if address.is_empty() || address.contains(char::is_whitespace) {
                return Err(ProxyError::InvalidName(address.to_string()));
            }
            let Some(discovery) = &inner.discovery else {
                return Err(ProxyError::NoDiscovery(address.to_string()));
            };
            let config = &inner.config;
            let lookup = self.lookup.unwrap_or_else(|| match &config.division {
                Some(division) => Lookup::SameSet(division.clone()),
                None => Lookup::SameGroup,
            });
            let key = ObjectKey::Discovered(address.to_string(), lookup.clone());
            self.communicator.object(key, |inner| {
                let cache = config
                    .cache_dir
                    .as_ref()
                    .map(|dir| CacheFile::new(dir, address, &lookup));
                let discovered =
                    Discovered::new(discovery.clone(), lookup, config.refresh_interval, cache);
                let endpoints =
                    Endpoints::discovered(address, discovered, inner.load_balance.clone());
                inner.tars_object(address, endpoints)
            })
        };
        Ok(P::from_proxy(Proxy::new(object)))
    }
}

impl Inner {
    /// A new TARS object named `servant` at `endpoints`.
    fn tars_object(
        &self,
        servant: &str,
        endpoints: Endpoints<TarsWire>,
    ) -> Arc<ObjectProxy<TarsWire>> {
        let config = &self.config;
        ObjectProxy::new(
            servant,
            endpoints,
            config.clone(),
            TarsWire::new(servant, config.max_frame_len),
            config.keepalive_interval,
            self.owner(),
        )
    }

    /// The owner of a new object's tasks.
    fn owner(&self) -> Owner {
        Owner::new(self.tasks.clone(), &self.shutdown, &self.shut_down)
    }
}

/// The settings of a [`Communicator`], applying to every proxy it makes, from
/// [`Communicator::builder`]; each method tells the default.
///
/// ```
/// use std::time::Duration;
/// use tars_rpc::client::Communicator;
/// use tars_rpc::client::discovery::StaticDiscovery;
///
/// let communicator = Communicator::builder()
///     .call_timeout(Duration::from_millis(500))
///     .connect_timeout(Duration::from_secs(1))
///     .max_frame_len(1024 * 1024)
///     .keepalive_interval(Duration::from_secs(30))
///     .reconnect_backoff(Duration::from_millis(50), Duration::from_secs(2))
///     .push_queue_capacity(256)
///     .discovery(StaticDiscovery::new())
///     .refresh_interval(Duration::from_secs(30))
///     .failed_endpoint_backoff(Duration::from_millis(500), Duration::from_secs(10))
///     .build();
/// # let _ = communicator;
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct CommunicatorBuilder {
    config: Config,
    discovery: Option<Arc<dyn Discovery>>,
    load_balance: Option<Arc<dyn LoadBalance>>,
}

impl fmt::Debug for CommunicatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommunicatorBuilder")
            .field("config", &self.config)
            .field("discovery", &self.discovery.is_some())
            .field("load_balance", &self.load_balance.is_some())
            .finish()
    }
}

impl CommunicatorBuilder {
    /// How long a call waits for its reply unless its proxy says otherwise
    /// ([`Proxy::with_timeout`]). Default: 3 s, as TarsCpp's `sync-invoke-timeout`.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.config.call_timeout = timeout;
        self
    }

    /// How long connecting to an endpoint may take; for an `ssl` endpoint, the TLS handshake
    /// after it may take as long again. Default: 3 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How proxies reach `ssl` endpoints (`App.Server.Obj@ssl -h HOST -p PORT`): over TLS
    /// with `config` (see [`crate::tls`]). Without it, a call to an `ssl` endpoint fails with
    /// [`PROXY_CONNECT_ERR`](crate::packet::ReturnCode::PROXY_CONNECT_ERR), its source a
    /// [`TlsError::NotConfigured`](crate::tls::TlsError::NotConfigured); a server whose
    /// certificate the configuration does not trust fails it too, rustls's error as the source.
    ///
    /// ```no_run
    /// use tars_rpc::client::Communicator;
    /// use tars_rpc::tls::TlsClientConfig;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let communicator = Communicator::builder()
    ///     .tls(TlsClientConfig::builder().ca_file("ca.crt").build()?)
    ///     .build();
    /// let proxy = communicator.proxy("TestApp.HelloServer.HelloObj@ssl -h 127.0.0.1 -p 10001")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn tls(mut self, config: TlsClientConfig) -> Self {
        self.config.tls = Some(config);
        self
    }

    /// The largest frame sent or accepted, length prefix included; a larger reply closes the
    /// connection. For a raw proxy, the most bytes buffered without a whole response coming
    /// out. Default: [`DEFAULT_MAX_FRAME_LEN`](crate::framing::DEFAULT_MAX_FRAME_LEN), 10 MiB.
    pub fn max_frame_len(mut self, bytes: usize) -> Self {
        self.config.max_frame_len = bytes;
        self
    }

    /// In push mode (a push handler set or a push stream alive, see
    /// [Pushes](Proxy#pushes)), every connection of a TARS proxy sends `tars_ping` when it has
    /// sent nothing for this long, so that the server's idle timeout does not close it; a ping
    /// that fails closes the connection. [`Duration::ZERO`] turns keep-alive off. Default:
    /// 10 s. A raw proxy has no `tars_ping`: it sends the
    /// [heartbeat](RawProxyBuilder::heartbeat) it is given instead.
    pub fn keepalive_interval(mut self, interval: Duration) -> Self {
        self.config.keepalive_interval = interval;
        self
    }

    /// In push mode, how long to wait between attempts to reconnect a closed connection: from
    /// `initial`, doubling after every attempt up to `max` (at least `initial`). The first
    /// attempt after a connection that stayed up for at least `max` is made at once; after one
    /// that closed sooner, the wait goes on growing, so that a server that accepts connections
    /// and closes them at once is not hammered. Waits are never shorter than 1 ms. Default:
    /// from 100 ms, doubling up to 5 s.
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.reconnect_backoff = ReconnectBackoff::new(initial, max);
        self
    }

    /// How many pushes wait for the push handler, per connection, and for each push stream;
    /// pushes beyond are dropped with a warning. Default: 1024 (at least 1 is used).
    pub fn push_queue_capacity(mut self, capacity: usize) -> Self {
        self.config.push_queue_capacity = capacity;
        self
    }

    /// Where objects named without endpoints (`App.Server.Obj`) are looked up: the TARS
    /// registry (`tars_rpc::registry::Locator`, TarsCpp's `locator`), a
    /// [`StaticDiscovery`](super::discovery::StaticDiscovery), or your own
    /// [`Discovery`]. Default: none, and such names are refused
    /// ([`ProxyError::NoDiscovery`]).
    ///
    /// An object is looked up before its first call (concurrent first calls wait for the one
    /// lookup; a lookup may take up to 5 s), then in the background every
    /// [refresh interval](Self::refresh_interval) by a task of its own, which ends when its
    /// last proxy is dropped. A lookup that fails, or finds no active endpoint, keeps the
    /// endpoints in force (before the first success, calls fail with its error, and look up
    /// again at most every 2 s). Only active endpoints take calls; the inactive ones count
    /// for hashing, as in TarsCpp. A change takes effect without failing the calls in
    /// flight: endpoints that stay keep their connections, and the connections of endpoints
    /// that left close once their calls are done.
    ///
    /// ```
    /// use tars_rpc::client::discovery::StaticDiscovery;
    /// use tars_rpc::client::{Communicator, Proxy};
    ///
    /// let discovery = StaticDiscovery::new()
    ///     .with("TestApp.HelloServer.HelloObj", "tcp -h 10.0.0.1 -p 10000:tcp -h 10.0.0.2 -p 10000")
    ///     .unwrap();
    /// let communicator = Communicator::builder().discovery(discovery).build();
    /// let proxy: Proxy = communicator.string_to_proxy("TestApp.HelloServer.HelloObj").unwrap();
    /// # let _ = proxy;
    /// ```
    pub fn discovery(mut self, discovery: impl Discovery) -> Self {
        self.discovery = Some(Arc::new(discovery));
        self
    }

    /// Makes lookups ask for the endpoints of the set `division`, `name.area.group` (such as
    /// `app.sz.1`; `*` for any group): [`Lookup::SameSet`] rather than
    /// [`Lookup::SameGroup`], TarsCpp's `enableset` with `setdivision`. A proxy may ask
    /// otherwise ([`ProxyBuilder::lookup`]). Default: none.
    pub fn set_division(mut self, division: impl Into<String>) -> Self {
        self.config.division = Some(division.into());
        self
    }

    /// How often objects found through the [discovery](Self::discovery) are looked up again.
    /// At least 5 s: a shorter interval is raised to 5 s. After a failed lookup the next comes
    /// sooner (2 s, then 30 s after three failures in a row; 10 s after a lookup that found no
    /// active endpoint), never later than the interval. Default: 60 s, as TarsCpp's
    /// `refresh-endpoint-interval`.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.config.refresh_interval = interval.max(MIN_REFRESH_INTERVAL);
        self
    }

    /// Keeps the last good endpoint list of each object found through the
    /// [discovery](Self::discovery) in a file under `dir` (made if needed), and reads it when
    /// the first lookup of an object fails, as TarsGo's `.tarsdat` (TarsCpp's `AppCache`): a
    /// client that starts while the registry is down still finds the endpoints. The file is
    /// replaced whole at every change; a file that does not read back is ignored with a
    /// warning. Default: no cache.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.cache_dir = Some(dir.into());
        self
    }

    /// How calls choose among an object's endpoints: see [`LoadBalance`]. Default:
    /// [`TarsBalance`], TarsCpp's routing (round robin, static weights, hash routing).
    pub fn load_balance(mut self, load_balance: impl LoadBalance) -> Self {
        self.load_balance = Some(Arc::new(load_balance));
        self
    }

    /// How long an endpoint that failed is left out: a connect refused or timed out, or a
    /// connection lost to an error ([`CloseReason::is_failure`](super::CloseReason::is_failure)),
    /// marks the endpoint down for `initial`, then twice as long after each failure in a row,
    /// up to `max`. Calls go to the other endpoints meanwhile; once the wait is over, the
    /// next call picked for the endpoint tries it again, and a connection made marks it up.
    /// When every endpoint is down, a call tries the one whose wait ends first rather than
    /// failing at once. Unlike TarsCpp, a refused connection counts as a failure. Default: from
    /// 1 s, doubling up to 30 s (TarsCpp retries a failed endpoint every 30 s).
    pub fn failed_endpoint_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.failed_endpoint_backoff = ReconnectBackoff::new(initial, max);
        self
    }

    /// Tells `observer` of every call the communicator's proxies finish (see
    /// [`CallObserver`](super::CallObserver)): how per-call statistics are collected, e.g. by
    /// the reporter of `tars_rpc::stat`, which TarsCpp reports to `tarsstat`. Default: none.
    ///
    /// ```
    /// use tars_rpc::client::{CallObserver, CallRecord, Communicator};
    ///
    /// struct Log;
    ///
    /// impl CallObserver for Log {
    ///     fn on_call(&self, call: &CallRecord<'_>) {
    ///         println!("{}.{} at {}: {}", call.object(), call.function(), call.endpoint(), call.code());
    ///     }
    /// }
    ///
    /// let communicator = Communicator::builder().call_observer(Log).build();
    /// ```
    pub fn call_observer(mut self, observer: impl super::CallObserver) -> Self {
        self.config.observer = super::observer::ObserverSlot::new(std::sync::Arc::new(observer));
        self
    }

    /// The communicator.
    pub fn build(self) -> Communicator {
        Communicator {
            inner: Arc::new(self.inner()),
        }
    }

    fn inner(self) -> Inner {
        Inner {
            config: self.config,
            discovery: self.discovery,
            load_balance: self.load_balance.unwrap_or_else(|| Arc::new(TarsBalance)),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            shut_down: Arc::default(),
            objects: Mutex::default(),
        }
    }
}

/// The options of a proxy speaking a protocol of the user's own, from
/// [`Communicator::raw_proxy_builder`]. Its settings otherwise are its communicator's.
///
/// ```
/// # use bytes::BytesMut;
/// # use tars_rpc::protocol::{ClientProtocol, ProtocolError, RawResponse};
/// # struct Proto;
/// # impl ClientProtocol for Proto {
/// #     fn encode_request(&self, _: i32, _: &[u8], _: &mut BytesMut) -> Result<(), ProtocolError> { Ok(()) }
/// #     fn decode_response(&self, _: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> { Ok(None) }
/// # }
/// use std::time::Duration;
/// use tars_rpc::client::Communicator;
///
/// let proxy = Communicator::new()
///     .raw_proxy_builder("Push@127.0.0.1:9300", Proto)
///     .heartbeat(Duration::from_secs(5), &b"heartbeat"[..])
///     .build()
///     .unwrap();
/// assert_eq!(proxy.name(), Some("Push"));
/// ```
#[must_use]
pub struct RawProxyBuilder {
    config: Config,
    load_balance: Arc<dyn LoadBalance>,
    owner: Owner,
    endpoints: String,
    protocol: Box<dyn ClientProtocol>,
    heartbeat: Option<(Duration, Bytes)>,
}

impl fmt::Debug for RawProxyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawProxyBuilder")
            .field("endpoints", &self.endpoints)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl RawProxyBuilder {
    /// Keeps connections alive in push mode: each connection sends `payload` as a request (as
    /// [`Proxy::send`] does, with a fresh request id) whenever it has sent nothing for
    /// `interval`, so that the server's idle timeout does not close it. A heartbeat that
    /// cannot be sent closes the connection (and, in push mode, it is made again); a response
    /// to it is dropped. [`Duration::ZERO`] turns it off, as it is by default. This is the
    /// client's heartbeat of TarsCpp's PushDemo; outside push mode, send your own.
    pub fn heartbeat(mut self, interval: Duration, payload: impl Into<Bytes>) -> Self {
        self.heartbeat = Some((interval, payload.into()));
        self
    }

    /// The proxy. Each raw proxy built is a new object with connections of its own; clone it
    /// to share them. Nothing connects until the first call (or [`Proxy::connect`]).
    ///
    /// # Errors
    /// If the endpoints are not an endpoint list.
    pub fn build(self) -> Result<Proxy<RawWire>, EndpointError> {
        let endpoints = &self.endpoints;
        let address = if endpoints.contains('@') {
            endpoints.parse::<ProxyAddress>()?
        } else {
            ProxyAddress::new("", parse_endpoints(endpoints)?)
        };
        let name = Some(address.servant().to_string()).filter(|name| !name.is_empty());
        let (interval, payload) = match self.heartbeat {
            Some((interval, payload)) if !interval.is_zero() => (interval, Some(payload)),
            _ => (Duration::ZERO, None),
        };
        let endpoints = Endpoints::fixed(address.servant(), address.endpoints(), self.load_balance);
        let wire = RawWire::new(self.protocol, name, self.config.max_frame_len, payload);
        let object = ObjectProxy::new(
            address.servant(),
            endpoints,
            self.config,
            wire,
            interval,
            self.owner,
        );
        Ok(Proxy::new(object))
    }
}

/// The endpoints of a proxy string without its `Name@`: TARS endpoints separated by `:`, or
/// one `HOST:PORT`.
fn parse_endpoints(text: &str) -> Result<Vec<Endpoint>, EndpointError> {
    if text.trim_start().starts_with("tcp ") || text.contains(" -h ") {
        let endpoints = text
            .split(':')
            .filter(|part| !part.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Endpoint>, _>>()?;
        if !endpoints.is_empty() {
            return Ok(endpoints);
        }
    }
    Ok(vec![text.parse()?])
}
