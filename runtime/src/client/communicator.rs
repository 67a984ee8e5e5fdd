//! [`Communicator`]: makes proxies and keeps one object per proxy string; its
//! [builder](CommunicatorBuilder), and the [builder of raw proxies](RawProxyBuilder).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::config::{Config, ReconnectBackoff};
use super::proxy::{ObjectProxy, Proxy, TypedProxy};
use super::raw::{ClientProtocol, RawWire};
use super::wire::TarsWire;
use crate::endpoint::{Endpoint, EndpointError, ProxyAddress};
use crate::support::lock;

/// The client's entry point: turns proxy strings into proxies. Cheap to clone; clones share
/// everything.
///
/// As in TarsCpp, the same proxy string gives proxies of one object, sharing its connections,
/// for as long as any of them lives. Dropping every proxy of an object closes its connections;
/// the communicator keeps no object alive. Proxies keep working after the communicator is
/// dropped.
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
/// assert!(communicator.proxy("no endpoints").is_err());
/// ```
#[derive(Clone, Default)]
pub struct Communicator {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    config: Config,
    /// The objects by address; an entry outlives its object only until the next insertion.
    objects: Mutex<HashMap<ProxyAddress, Weak<ObjectProxy<TarsWire>>>>,
}

impl fmt::Debug for Communicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Communicator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
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

    /// Parses `"Servant@endpoints"` (see [`ProxyAddress`]) and returns a typed proxy of it,
    /// such as the `{Trait}Proxy` of a `#[tars_interface]` trait.
    ///
    /// The same string twice returns proxies sharing one object and its connections, as
    /// TarsCpp caches its `ObjectProxy` by name. Nothing connects until the first call (or
    /// [`connect`](TypedProxy::connect)).
    ///
    /// ```
    /// use tars_rpc::client::{Communicator, Proxy};
    ///
    /// let proxy: Proxy = Communicator::new().string_to_proxy("A.B.C@tcp -h 127.0.0.1 -p 1").unwrap();
    /// assert_eq!(proxy.servant_name(), "A.B.C");
    /// ```
    ///
    /// # Errors
    /// If `address` is not a proxy string.
    pub fn string_to_proxy<P: TypedProxy>(&self, address: &str) -> Result<P, EndpointError> {
        self.proxy(address).map(P::from_proxy)
    }

    /// Parses `"Servant@endpoints"` (see [`ProxyAddress`]) and returns an untyped proxy of it;
    /// see [`string_to_proxy`](Self::string_to_proxy).
    ///
    /// # Errors
    /// If `address` is not a proxy string.
    pub fn proxy(&self, address: &str) -> Result<Proxy, EndpointError> {
        let address: ProxyAddress = address.parse()?;
        let mut objects = lock(&self.inner.objects);
        if let Some(object) = objects.get(&address).and_then(Weak::upgrade) {
            return Ok(Proxy::new(object));
        }
        objects.retain(|_, object| object.strong_count() > 0);
        let config = &self.inner.config;
        let wire = TarsWire::new(address.servant(), config.max_frame_len);
        let object = ObjectProxy::new(
            address.clone(),
            config.clone(),
            wire,
            config.keepalive_interval,
        );
        objects.insert(address, Arc::downgrade(&object));
        Ok(Proxy::new(object))
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
            endpoints: endpoints.to_string(),
            protocol: Box::new(protocol),
            heartbeat: None,
        }
    }
}

/// The settings of a [`Communicator`], applying to every proxy it makes, from
/// [`Communicator::builder`]; each method tells the default.
///
/// ```
/// use std::time::Duration;
/// use tars_rpc::client::Communicator;
///
/// let communicator = Communicator::builder()
///     .call_timeout(Duration::from_millis(500))
///     .connect_timeout(Duration::from_secs(1))
///     .max_frame_len(1024 * 1024)
///     .keepalive_interval(Duration::from_secs(30))
///     .reconnect_backoff(Duration::from_millis(50), Duration::from_secs(2))
///     .push_queue_capacity(256)
///     .build();
/// # let _ = communicator;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct CommunicatorBuilder {
    config: Config,
}

impl CommunicatorBuilder {
    /// How long a call waits for its reply unless its proxy says otherwise
    /// ([`Proxy::with_timeout`]). Default: 3 s, as TarsCpp's `sync-invoke-timeout`.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.config.call_timeout = timeout;
        self
    }

    /// How long connecting to an endpoint may take. Default: 3 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
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

    /// The communicator.
    pub fn build(self) -> Communicator {
        Communicator {
            inner: Arc::new(Inner {
                config: self.config,
                objects: Mutex::default(),
            }),
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
        let wire = RawWire::new(self.protocol, name, self.config.max_frame_len, payload);
        let object = ObjectProxy::new(address, self.config, wire, interval);
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
