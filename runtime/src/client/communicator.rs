//! [`Communicator`]: makes proxies and keeps one object per proxy string.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use super::proxy::{ObjectProxy, Proxy, ServantProxy};
use crate::endpoint::{EndpointError, ProxyAddress};
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
///     .with_connect_timeout(Duration::from_secs(1));
/// assert_eq!(config.max_frame_len, 10 * 1024 * 1024);
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
    /// connection. Default: [`DEFAULT_MAX_FRAME_LEN`], 10 MiB.
    pub max_frame_len: usize,
}

impl Default for CommunicatorConfig {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
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
    objects: Mutex<HashMap<ProxyAddress, Weak<ObjectProxy>>>,
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
        let mut objects = self
            .inner
            .objects
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(object) = objects.get(&address).and_then(Weak::upgrade) {
            return Ok(ServantProxy::new(object));
        }
        objects.retain(|_, object| object.strong_count() > 0);
        let object = ObjectProxy::new(address.clone(), self.inner.config.clone());
        objects.insert(address, Arc::downgrade(&object));
        Ok(ServantProxy::new(object))
    }
}
