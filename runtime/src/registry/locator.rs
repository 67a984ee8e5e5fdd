//! [`Locator`]: a [`Discovery`] asking a TARS registry through `QueryF`.

use std::fmt;

use futures::future::BoxFuture;

use super::endpoint_f::{instances, EndpointF};
use super::query::QueryFProxy;
use super::QUERY_OBJ;
use crate::client::discovery::{Discovery, Instances, Lookup};
use crate::client::{Communicator, ProxyError};
use crate::error::{Error, Result};
use crate::packet::ReturnCode;

/// A [`Discovery`] that asks a TARS registry (tarsregistry, or a
/// [`DevRegistry`](super::DevRegistry)) for an object's endpoints, as TarsCpp's
/// `QueryEpBase` does:
///
/// | [`Lookup`] | `QueryF` function |
/// |---|---|
/// | `SameGroup` | `findObjectByIdInSameGroup` |
/// | `SameSet(set)` | `findObjectByIdInSameSet(id, set)` |
/// | `Any` | `findObjectById4Any` |
/// | `All` | `findObjectById4All` |
///
/// The answer becomes [`Instances`] as [`instances`] describes: TCP endpoints only, `timeout`
/// as `-t`, static weights, and no endpoints of weight 0 in a weighted list.
///
/// ```no_run
/// use tars_rpc::client::discovery::{Discovery, Lookup};
/// use tars_rpc::registry::Locator;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // the TARS config key `locator`
/// let locator = Locator::new("tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890")?;
/// let found = locator
///     .discover("TestApp.HelloServer.HelloObj", &Lookup::SameSet("app.sz.1".into()))
///     .await?;
/// for endpoint in &found.active {
///     println!("{endpoint}");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Locator {
    query: QueryFProxy,
    address: String,
    /// The communicator [`new`](Self::new) made for the registry's connection, shut down with
    /// the communicator the locator serves; `None` when the caller gave one, which is theirs.
    own: Option<Communicator>,
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Locator")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Why a registry answered a lookup with a non-zero return value: the
/// [`source`](std::error::Error::source) of the [`Error`] a [`Locator`] returns then.
///
/// ```
/// use std::error::Error as _;
/// use tars_rpc::registry::QueryFailed;
///
/// # fn check(error: tars_rpc::Error) {
/// if let Some(failed) = error.source().and_then(|source| source.downcast_ref::<QueryFailed>()) {
///     println!("{} returned {}", failed.function, failed.ret);
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{function} returned {ret}")]
#[non_exhaustive]
pub struct QueryFailed {
    /// The `QueryF` function called, e.g. `findObjectByIdInSameSet`.
    pub function: &'static str,
    /// What it returned.
    pub ret: i32,
}

impl Locator {
    /// A locator asking the registry at `locator`, with a communicator of its own (default
    /// settings: calls time out after 3 s).
    ///
    /// `locator` is a proxy string, the TARS config key `locator`:
    /// `tars.tarsregistry.QueryObj@tcp -h HOST -p PORT[:tcp -h HOST2 -p PORT2...]`; the object
    /// name may be left out (`tcp -h HOST -p PORT`), for [`QUERY_OBJ`].
    ///
    /// ```
    /// use tars_rpc::registry::Locator;
    ///
    /// let locator = Locator::new("tcp -h 127.0.0.1 -p 17890").unwrap();
    /// assert_eq!(locator.address(), "tars.tarsregistry.QueryObj@tcp -h 127.0.0.1 -p 17890");
    /// assert!(Locator::new("tars.tarsregistry.QueryObj").is_err());
    /// ```
    ///
    /// # Errors
    /// If `locator` is not a proxy string or an endpoint list.
    pub fn new(locator: &str) -> std::result::Result<Self, ProxyError> {
        let communicator = Communicator::new();
        let locator = Self::with_communicator(&communicator, locator)?;
        Ok(Self {
            own: Some(communicator),
            ..locator
        })
    }

    /// A locator asking the registry at `locator` (as in [`new`](Self::new)) through
    /// `communicator`, whose settings (call timeout, keep-alive) its calls then have.
    ///
    /// # Errors
    /// If `locator` is not a proxy string or an endpoint list, or `communicator` was shut
    /// down.
    pub fn with_communicator(
        communicator: &Communicator,
        locator: &str,
    ) -> std::result::Result<Self, ProxyError> {
        let address = full_address(locator);
        let query = communicator.string_to_proxy(&address)?;
        Ok(Self {
            query,
            address,
            own: None,
        })
    }

    /// The registry's proxy string.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The `QueryF` proxy on the registry, for the functions a lookup does not call.
    pub fn query(&self) -> &QueryFProxy {
        &self.query
    }

    /// Asks the registry for the endpoints of `object`: the same as
    /// [`discover`](Discovery::discover), without the box.
    ///
    /// # Errors
    /// When the call fails (the registry cannot be reached, times out, or answers with an
    /// error or a reply that does not decode): an [`Error`] with the call's code, naming the
    /// registry and the function, whose [`source`](std::error::Error::source) is the call's
    /// error. When the registry answers with a non-zero return value (tarsregistry: -1 for a
    /// set division that is malformed or has no endpoint of the object): an [`Error`] with
    /// [`ReturnCode::ADAPTER_NULL`], whose source is a [`QueryFailed`].
    ///
    /// # Cancel safety
    /// Dropping the future abandons the call; nothing else changes.
    pub async fn find(&self, object: &str, lookup: &Lookup) -> Result<Instances> {
        let id = object.to_string();
        let (function, answer) = match lookup {
            Lookup::SameGroup => (
                "findObjectByIdInSameGroup",
                self.query.find_object_by_id_in_same_group(id).await,
            ),
            Lookup::SameSet(set) => (
                "findObjectByIdInSameSet",
                self.query
                    .find_object_by_id_in_same_set(id, set.clone())
                    .await,
            ),
            Lookup::Any => (
                "findObjectById4Any",
                self.query.find_object_by_id_4_any(id).await,
            ),
            Lookup::All => (
                "findObjectById4All",
                self.query.find_object_by_id_4_all(id).await,
            ),
        };
        let call = match lookup {
            Lookup::SameSet(set) => format!("{function}({object}, {set})"),
            _ => format!("{function}({object})"),
        };
        let (ret, active, inactive): (i32, Vec<EndpointF>, Vec<EndpointF>) =
            answer.map_err(|error| {
                Error::with_source(
                    error.code(),
                    format!("registry {}: {call} failed: {error}", self.address),
                    error,
                )
            })?;
        if ret != 0 {
            return Err(Error::with_source(
                ReturnCode::ADAPTER_NULL,
                format!("registry {}: {call} returned {ret}", self.address),
                QueryFailed { function, ret },
            ));
        }
        Ok(instances(&active, &inactive))
    }
}

impl Discovery for Locator {
    fn discover<'a>(
        &'a self,
        object: &'a str,
        lookup: &'a Lookup,
    ) -> BoxFuture<'a, Result<Instances>> {
        Box::pin(self.find(object, lookup))
    }

    /// Closes the registry's connection and ends its tasks, if [`new`](Self::new) made them.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(communicator) = &self.own {
                communicator.shutdown().await;
            }
        })
    }
}

/// `locator` as a proxy string: with `tars.tarsregistry.QueryObj@` in front when it names no
/// object.
pub(super) fn full_address(locator: &str) -> String {
    let locator = locator.trim();
    if locator.contains('@') {
        locator.to_string()
    } else {
        format!("{QUERY_OBJ}@{locator}")
    }
}
