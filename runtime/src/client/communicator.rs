//! [`Communicator`]: makes proxies and keeps one object per proxy string.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::proxy::{ObjectProxy, Proxy, ServantProxy};
use super::raw::{RawProxy, RawWire};
use super::wire::TarsWire;
use crate::client::ClientProtocol;
use crate::endpoint::{Endpoint, EndpointError, ProxyAddress};
use crate::framing::DEFAULT_MAX_FRAME_LEN;

/// The settings of a [`Communicator`], applying to every proxy it makes.
///
/// Start from the default and change fields, or chain the `with_` setters:
///
/// ```
/// use std::time::Duration;
/// use tars_rpc::client::{Communicator, CommunicatorConfig};
///
/// let config = CommunicatorConfig::default()
///     .with_call_timeout(Duration::from_millis(500))
///     .with_connect_timeout(Duration::from_secs(1))
///     .with_keepalive_interval(Duration::from_secs(30))
///     .with_reconnect_backoff(Duration::from_millis(50), Duration::from_secs(2));
/// assert_eq!(config.max_frame_len, 10 * 1024 * 1024);
/// assert_eq!(config.reconnect_backoff.max, Duration::from_secs(2));
/// assert_eq!(config.push_queue_capacity, 1024);
///
/// let mut config = config;
/// config.max_frame_len = 1024 * 1024;
/// let communicator = Communicator::with_config(config);
/// assert_eq!(communicator.config().call_timeout, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommunicatorConfig {
    /// How long a call waits for its reply unless its proxy says otherwise
    /// ([`ServantProxy::with_timeout`]). Default: 3 s, as TarsCpp's `sync-invoke-timeout`.
    pub call_timeout: Duration,
    /// How long connecting to an endpoint may take. Default: 3 s.
    pub connect_timeout: Duration,
    /// The largest frame sent or accepted, length prefix included; a larger reply closes the
    /// connection. For a [`RawProxy`], the most bytes buffered without a whole response
    /// coming out. Default: [`DEFAULT_MAX_FRAME_LEN`], 10 MiB.
    pub max_frame_len: usize,
    /// In push mode (a push handler set or a push stream alive, see
    /// [`ServantProxy::set_push_handler`]), every connection of the object sends `tars_ping`
    /// when it has sent nothing for this long, so that the server's idle timeout does not close
    /// it; a ping that fails closes the connection. [`Duration::ZERO`] turns keep-alive off.
    /// Default: 10 s. A [`RawProxy`] has no `tars_ping`: it sends the heartbeat given to
    /// [`RawProxy::set_heartbeat`] instead.
    pub keepalive_interval: Duration,
    /// In push mode, how long to wait between attempts to reconnect a closed connection.
    /// Default: from 100 ms, doubling up to 5 s.
    pub reconnect_backoff: ReconnectBackoff,
    /// How many pushes wait for the push handler, per connection, and for each push stream;
    /// pushes beyond are dropped with a warning. Default: 1024 (at least 1 is used).
    pub push_queue_capacity: usize,
}

/// The shortest wait between reconnect attempts.
const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(1);

/// How long to wait between reconnect attempts: `initial`, then twice as long after every
/// attempt, up to `max` (see [`CommunicatorConfig::reconnect_backoff`]).
///
/// The first attempt after a connection that stayed up for at least `max` closes is made at
/// once; after a connection that closed sooner, the wait goes on growing, so that a server
/// that accepts connections and closes them at once is not hammered.
///
/// ```
/// use std::time::Duration;
/// use tars_rpc::client::ReconnectBackoff;
///
/// let backoff = ReconnectBackoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// assert_eq!(backoff, ReconnectBackoff::default());
/// assert_eq!(backoff.next(Duration::ZERO), Duration::from_millis(100));
/// assert_eq!(backoff.next(Duration::from_millis(100)), Duration::from_millis(200));
/// assert_eq!(backoff.next(Duration::from_secs(4)), Duration::from_secs(5));
/// assert_eq!(backoff.next(Duration::from_secs(5)), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconnectBackoff {
    /// The first wait. Default: 100 ms.
    pub initial: Duration,
    /// The longest wait. Default: 5 s.
    pub max: Duration,
}

impl Default for ReconnectBackoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

impl ReconnectBackoff {
    /// Waits from `initial`, doubling up to `max` (at least `initial`).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
        }
    }

    /// The wait after `previous`: `initial` after no wait, else twice `previous` up to `max`;
    /// never less than 1 ms, so that a zero `initial` cannot make attempts back to back.
    pub fn next(&self, previous: Duration) -> Duration {
        let floor = self.initial.max(MIN_RECONNECT_DELAY);
        if previous.is_zero() {
            floor
        } else {
            previous.saturating_mul(2).min(self.max).max(floor)
        }
    }
}

impl Default for CommunicatorConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            keepalive_interval: Duration::from_secs(10),
            reconnect_backoff: ReconnectBackoff::default(),
            push_queue_capacity: 1024,
        }
    }
}

impl CommunicatorConfig {
    /// Sets [`call_timeout`](Self::call_timeout).
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`max_frame_len`](Self::max_frame_len).
    pub fn with_max_frame_len(mut self, max_frame_len: usize) -> Self {
        self.max_frame_len = max_frame_len;
        self
    }

    /// Sets [`keepalive_interval`](Self::keepalive_interval).
    pub fn with_keepalive_interval(mut self, interval: Duration) -> Self {
        self.keepalive_interval = interval;
        self
    }

    /// Sets [`reconnect_backoff`](Self::reconnect_backoff): from `initial`, doubling up to
    /// `max`.
    pub fn with_reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.reconnect_backoff = ReconnectBackoff::new(initial, max);
        self
    }

    /// Sets [`push_queue_capacity`](Self::push_queue_capacity).
    pub fn with_push_queue_capacity(mut self, capacity: usize) -> Self {
        self.push_queue_capacity = capacity;
        self
    }
}

/// The client's entry point: turns proxy strings into proxies. Cheap to clone; clones share
/// everything.
///
/// As in TarsCpp, the same proxy string gives proxies of one object, sharing its connections,
/// for as long as any of them lives. Dropping every proxy of an object closes its connections;
/// the communicator keeps no object alive. Proxies keep working after the communicator is
/// dropped.
///
/// Making proxies needs no runtime; calls run on the tokio runtime that awaits them, which
/// must have the time and I/O drivers enabled.
///
/// ```
/// use tars_rpc::client::Communicator;
///
/// let communicator = Communicator::new();
/// let proxy = communicator
///     .servant_proxy("TestApp.HelloServer.HelloObj@tcp -h 10.0.0.1 -p 10000:tcp -h 10.0.0.2 -p 10000")
///     .unwrap();
/// assert_eq!(proxy.servant_name(), "TestApp.HelloServer.HelloObj");
/// assert_eq!(proxy.endpoints().len(), 2);
///
/// assert!(communicator.servant_proxy("no endpoints").is_err());
/// ```
#[derive(Clone, Default)]
pub struct Communicator {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    config: CommunicatorConfig,
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
    /// A communicator with the default [`CommunicatorConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A communicator with `config`.
    pub fn with_config(config: CommunicatorConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                objects: Mutex::default(),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &CommunicatorConfig {
        &self.inner.config
    }

    /// Parses `"Servant@endpoints"` (see [`ProxyAddress`]) and returns a typed proxy of it.
    ///
    /// The same string twice returns proxies sharing one object and its connections, as
    /// TarsCpp caches its `ObjectProxy` by name. Nothing connects until the first call.
    ///
    /// # Errors
    /// If `address` is not a proxy string.
    pub fn string_to_proxy<P: Proxy>(&self, address: &str) -> Result<P, EndpointError> {
        self.servant_proxy(address).map(P::from_servant_proxy)
    }

    /// Parses `"Servant@endpoints"` (see [`ProxyAddress`]) and returns an untyped proxy of it;
    /// see [`string_to_proxy`](Self::string_to_proxy).
    ///
    /// # Errors
    /// If `address` is not a proxy string.
    pub fn servant_proxy(&self, address: &str) -> Result<ServantProxy, EndpointError> {
        let address: ProxyAddress = address.parse()?;
        let mut objects = crate::support::lock(&self.inner.objects);
        if let Some(object) = objects.get(&address).and_then(Weak::upgrade) {
            return Ok(ServantProxy::new(object));
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
        Ok(ServantProxy::new(object))
    }

    /// A proxy speaking `protocol` to `endpoints`: `tcp -h HOST -p PORT[:tcp -h HOST2 -p
    /// PORT2...]` or `HOST:PORT`, optionally after a name and `@` (`Name@tcp -h ...`), which
    /// names the proxy in errors and logs. See [`RawProxy`].
    ///
    /// Each call makes a new object with connections of its own; clone the proxy to share
    /// them. Nothing connects until the first call.
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
    ) -> Result<RawProxy, EndpointError> {
        let address = if endpoints.contains('@') {
            endpoints.parse::<ProxyAddress>()?
        } else {
            ProxyAddress::new("", parse_endpoints(endpoints)?)
        };
        let name = Some(address.servant().to_string()).filter(|name| !name.is_empty());
        let config = &self.inner.config;
        let wire = RawWire::new(protocol, name, config.max_frame_len);
        // no keep-alive until the user gives a heartbeat
        let object = ObjectProxy::new(address, config.clone(), wire, Duration::ZERO);
        Ok(RawProxy::new(object))
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
