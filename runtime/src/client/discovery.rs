//! Where a communicator finds the endpoints of an object named without any: the [`Discovery`]
//! trait, what a lookup asks ([`Lookup`]) and finds ([`Instances`]), and
//! [`StaticDiscovery`], a fixed table.
//!
//! The TARS registry (`QueryF`) is one discovery, `tars_rpc::registry::Locator`; a user's own
//! (a file, another naming service) is another implementation of the trait. Give it to
//! [`CommunicatorBuilder::discovery`](super::CommunicatorBuilder::discovery); proxies of
//! objects named without endpoints (`App.Server.Obj`) then resolve through it:
//!
//! ```
//! use tars_rpc::client::discovery::StaticDiscovery;
//! use tars_rpc::client::{Communicator, Proxy};
//!
//! let discovery = StaticDiscovery::new()
//!     .with("TestApp.HelloServer.HelloObj", "tcp -h 127.0.0.1 -p 18015")
//!     .unwrap();
//! let communicator = Communicator::builder().discovery(discovery).build();
//! let proxy: Proxy = communicator.string_to_proxy("TestApp.HelloServer.HelloObj").unwrap();
//! // looked up on the first call (or `proxy.refresh()`), then every refresh interval
//! assert!(proxy.endpoints().is_empty());
//! ```

use std::collections::HashMap;
use std::fmt;

use futures::future::BoxFuture;

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::packet::ReturnCode;

/// Which endpoints of an object a lookup asks for, as the registry's `QueryF` functions do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Lookup {
    /// The object's endpoints in the caller's group (`findObjectByIdInSameGroup`), TarsCpp's
    /// default.
    #[default]
    SameGroup,
    /// The endpoints in the caller's set, `name.area.group` (`findObjectByIdInSameSet`), when
    /// the client has a set division.
    SameSet(String),
    /// Every endpoint, active and inactive, whatever the group (`findObjectById4Any`).
    Any,
    /// Every endpoint, active and inactive, of every group (`findObjectById4All`).
    All,
}

/// What a lookup found: the endpoints that take calls, and those the registry knows but marks
/// inactive (not called; kept for the record and for hashing, which counts them in TarsCpp).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instances {
    /// The endpoints to call.
    pub active: Vec<Endpoint>,
    /// The endpoints known but not taking calls.
    pub inactive: Vec<Endpoint>,
}

impl Instances {
    /// Instances that are all active.
    pub fn active(endpoints: Vec<Endpoint>) -> Self {
        Self {
            active: endpoints,
            inactive: Vec::new(),
        }
    }
}

/// Finds the endpoints of objects named without any (`App.Server.Obj`).
///
/// A communicator with a discovery looks each such object up when its first proxy is made,
/// and again in the background every refresh interval; a failed lookup keeps the last list
/// that was found.
///
/// ```
/// use futures::future::BoxFuture;
/// use tars_rpc::client::discovery::{Discovery, Instances, Lookup};
/// use tars_rpc::endpoint::Endpoint;
///
/// /// Every object on one local port (a test setup).
/// struct AllLocal(u16);
///
/// impl Discovery for AllLocal {
///     fn discover<'a>(&'a self, _object: &'a str, _lookup: &'a Lookup) -> BoxFuture<'a, tars_rpc::Result<Instances>> {
///         let endpoint = Endpoint::new("127.0.0.1", self.0);
///         Box::pin(async move { Ok(Instances::active(vec![endpoint])) })
///     }
/// }
/// ```
pub trait Discovery: Send + Sync + 'static {
    /// The endpoints of `object` now.
    ///
    /// # Errors
    /// When the lookup fails (the registry cannot be reached, or does not know the object);
    /// the communicator then keeps the endpoints it had.
    fn discover<'a>(
        &'a self,
        object: &'a str,
        lookup: &'a Lookup,
    ) -> BoxFuture<'a, Result<Instances>>;

    /// Releases what the discovery holds (the registry's connections, its tasks): called once
    /// by [`Communicator::shutdown`](super::Communicator::shutdown), after which no lookup is
    /// made. Does nothing unless implemented.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A fixed table of objects and their endpoints: a [`Discovery`] for tests and for setups
/// whose endpoints never change.
///
/// ```
/// use tars_rpc::client::discovery::{Discovery, Lookup, StaticDiscovery};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let discovery = StaticDiscovery::new()
///     .with("TestApp.HelloServer.HelloObj", "tcp -h 127.0.0.1 -p 18015:tcp -h 127.0.0.1 -p 18016")
///     .unwrap();
/// let found = discovery.discover("TestApp.HelloServer.HelloObj", &Lookup::SameGroup).await.unwrap();
/// assert_eq!(found.active.len(), 2);
/// assert!(discovery.discover("TestApp.Other.Obj", &Lookup::SameGroup).await.is_err());
/// # }
/// ```
#[derive(Default, Clone)]
pub struct StaticDiscovery {
    objects: HashMap<String, Vec<Endpoint>>,
}

impl StaticDiscovery {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The table with `object` at `endpoints`, written as in a proxy string after `@`
    /// (`tcp -h HOST -p PORT[:tcp -h HOST2 -p PORT2...]`).
    ///
    /// # Errors
    /// If `endpoints` does not parse.
    pub fn with(
        mut self,
        object: impl Into<String>,
        endpoints: &str,
    ) -> std::result::Result<Self, crate::endpoint::EndpointError> {
        let object = object.into();
        let address: crate::endpoint::ProxyAddress = format!("{object}@{endpoints}").parse()?;
        self.objects.insert(object, address.endpoints().to_vec());
        Ok(self)
    }
}

impl fmt::Debug for StaticDiscovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.objects.iter()).finish()
    }
}

impl Discovery for StaticDiscovery {
    fn discover<'a>(
        &'a self,
        object: &'a str,
        _lookup: &'a Lookup,
    ) -> BoxFuture<'a, Result<Instances>> {
        let found = self.objects.get(object).cloned();
        Box::pin(async move {
            found.map(Instances::active).ok_or_else(|| {
                Error::new(
                    ReturnCode::ADAPTER_NULL,
                    format!("no endpoints known for {object}"),
                )
            })
        })
    }
}
