//! Where servants are served: [`Listen`], an endpoint to bind or a listener already bound, and
//! how [`start`](super::ServerBuilder::start) turns the registered servants into listeners.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};

use super::adapter::{AccessList, AdapterSettings};
use super::dispatch::Servants;
use super::listener::Served;
use super::raw::{RawBinding, RawServant};
use super::servant::Servant;
use super::{AccessOrder, ServerError};
use crate::endpoint::{Endpoint, EndpointError, Transport};
use crate::protocol::FrameSplitter;

/// Where [`ServerBuilder::servant`](super::ServerBuilder::servant) and
/// [`raw_servant`](super::ServerBuilder::raw_servant) serve a servant: an endpoint for the
/// server to bind, or a listener the caller has bound, as axum and tonic take one.
///
/// Both methods take anything that converts into it:
///
/// * an endpoint string, `&str` or `String`: TARS's `"tcp -h 127.0.0.1 -p 10000 -t 60000"`
///   (as TARS configurations give them) or `"127.0.0.1:10000"`, or an
///   [`Endpoint`](crate::endpoint::Endpoint). [`start`](super::ServerBuilder::start) binds
///   it with the builder's [backlog](super::ServerBuilder::backlog), and reports an endpoint
///   that does not parse or cannot be bound. Port 0 lets the system choose a port.
/// * a bound listener, tokio's [`TcpListener`] or the standard library's
///   [`std::net::TcpListener`]: the server accepts on it as it is, so that its address is
///   known, and taken, before the server starts. Its backlog is the one it was given
///   (`TcpListener::bind` gives 128; [`TcpSocket::listen`](tokio::net::TcpSocket::listen) takes
///   one), not the builder's. Its connections' idle timeout is the builder's
///   [`idle_timeout`](super::ServerBuilder::idle_timeout) (60 s by default), unless a servant
///   sharing it gives a `-t`.
///
/// ```
/// use bytes::Bytes;
/// use futures::future::BoxFuture;
/// use tars_rpc::server::{Current, Servant, Server};
/// use tokio::net::TcpListener;
///
/// struct Echo;
///
/// impl Servant for Echo {
///     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
///         Box::pin(async move { Ok(params) })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // bound first: the address is known before the server is built
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let address = listener.local_addr()?;
/// let server = Server::builder()
///     .servant("App.Server.EchoObj", listener, Echo)
///     // an endpoint naming the listener's address shares it
///     .servant("App.Server.OtherObj", format!("tcp -h 127.0.0.1 -p {} -t 60000", address.port()), Echo)
///     // an endpoint the server binds
///     .servant("App.Server.AdminObj", "tcp -h 127.0.0.1 -p 0", Echo)
///     .start()
///     .await?;
/// assert_eq!(server.local_addr("App.Server.OtherObj"), Some(address));
/// assert_ne!(server.local_addr("App.Server.AdminObj"), Some(address));
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct Listen {
    place: Place,
    adapter: AdapterSettings,
}

enum Place {
    Endpoint(Result<Endpoint, EndpointError>),
    Listener(Given),
}

/// A listener the caller bound.
enum Given {
    Tokio(TcpListener),
    Std(std::net::TcpListener),
}

impl Given {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Self::Tokio(listener) => listener.local_addr(),
            Self::Std(listener) => listener.local_addr(),
        }
    }

    /// The listener, handed to tokio if it is not yet.
    fn into_tokio(self) -> io::Result<TcpListener> {
        match self {
            Self::Tokio(listener) => Ok(listener),
            Self::Std(listener) => {
                listener.set_nonblocking(true)?;
                TcpListener::from_std(listener)
            }
        }
    }
}

impl Listen {
    fn at(place: Place) -> Self {
        Self {
            place,
            adapter: AdapterSettings::default(),
        }
    }

    /// The most connections this listener keeps open at once, instead of the builder's
    /// [`max_connections`](super::ServerBuilder::max_connections): TarsCpp's `maxconns` of
    /// an adapter.
    ///
    /// ```
    /// use tars_rpc::server::Listen;
    ///
    /// let listen = Listen::from("tcp -h 127.0.0.1 -p 0").max_connections(128);
    /// ```
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.adapter.max_connections = Some(connections.max(1));
        self
    }

    /// The most requests of this listener's connections, all together, running or waiting to
    /// run at once: TarsCpp's `queuecap` of an adapter. A request beyond it is answered at once
    /// with [`SERVER_OVERLOAD`](crate::packet::ReturnCode::SERVER_OVERLOAD) (-9) instead of
    /// running. Without it, only each connection's
    /// [`max_in_flight`](super::ServerBuilder::max_in_flight) bounds them. Not applied to a
    /// raw servant, whose requests have no reply to refuse them with.
    ///
    /// ```
    /// use tars_rpc::server::Listen;
    ///
    /// let listen = Listen::from("tcp -h 127.0.0.1 -p 0").queue_capacity(10_000);
    /// ```
    pub fn queue_capacity(mut self, requests: usize) -> Self {
        self.adapter.queue_capacity = Some(requests.max(1));
        self
    }

    /// This listener's [`queue_timeout`](super::ServerBuilder::queue_timeout): TarsCpp's
    /// `queuetimeout` of an adapter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tars_rpc::server::Listen;
    ///
    /// let listen = Listen::from("tcp -h 127.0.0.1 -p 0").queue_timeout(Duration::from_secs(3));
    /// ```
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.adapter.queue_timeout = Some(timeout);
        self
    }

    /// Which peers this listener serves, TarsCpp's `allow`, `deny` and `order` keys of an
    /// adapter: IP address patterns in which a part may be `*` (`10.0.*.*`). The first list,
    /// in `order`, that a peer's address matches decides; a peer matching neither is served
    /// only if `allow` is empty. Any other peer's connection is closed as soon as it is
    /// accepted, and counted in [`ServerStats::denied_connections`](super::ServerStats).
    ///
    /// ```
    /// use tars_rpc::server::{AccessOrder, Listen};
    ///
    /// // this machine and the 10.0 network, except one host
    /// let listen = Listen::from("tcp -h 0.0.0.0 -p 0").access(
    ///     ["127.0.0.1", "10.0.*.*"],
    ///     ["10.0.0.13"],
    ///     AccessOrder::DenyAllow,
    /// );
    /// ```
    pub fn access<A, D>(mut self, allow: A, deny: D, order: AccessOrder) -> Self
    where
        A: IntoIterator,
        A::Item: Into<String>,
        D: IntoIterator,
        D::Item: Into<String>,
    {
        let trimmed = |pattern: String| pattern.trim().to_string();
        let access = AccessList {
            allow: allow.into_iter().map(|p| trimmed(p.into())).collect(),
            deny: deny.into_iter().map(|p| trimmed(p.into())).collect(),
            order,
        };
        self.adapter.access = Some(access).filter(|access| *access != AccessList::default());
        self
    }
}

impl From<&str> for Listen {
    fn from(endpoint: &str) -> Self {
        Self::at(Place::Endpoint(endpoint.parse()))
    }
}

impl From<String> for Listen {
    fn from(endpoint: String) -> Self {
        Self::from(endpoint.as_str())
    }
}

impl From<&String> for Listen {
    fn from(endpoint: &String) -> Self {
        Self::from(endpoint.as_str())
    }
}

impl From<Endpoint> for Listen {
    fn from(endpoint: Endpoint) -> Self {
        Self::at(Place::Endpoint(Ok(endpoint)))
    }
}

impl From<TcpListener> for Listen {
    fn from(listener: TcpListener) -> Self {
        Self::at(Place::Listener(Given::Tokio(listener)))
    }
}

/// The listener is made non-blocking and handed to tokio when the server starts.
impl From<std::net::TcpListener> for Listen {
    fn from(listener: std::net::TcpListener) -> Self {
        Self::at(Place::Listener(Given::Std(listener)))
    }
}

impl fmt::Debug for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Place::Endpoint(Ok(endpoint)) => write!(f, "Listen({endpoint}")?,
            Place::Endpoint(Err(error)) => write!(f, "Listen({error}")?,
            Place::Listener(listener) => write!(f, "Listen({:?}", listener.local_addr().ok())?,
        }
        match self.adapter.is_default() {
            true => write!(f, ")"),
            false => write!(f, ", {:?})", self.adapter),
        }
    }
}

/// A servant as registered with the builder.
pub(super) struct Registration {
    pub(super) name: String,
    pub(super) listen: Listen,
    pub(super) servant: Registered,
}

/// A registered servant: a TARS one, or one speaking its own protocol.
pub(super) enum Registered {
    Tars(Arc<dyn Servant>),
    Raw {
        splitter: Arc<dyn FrameSplitter>,
        servant: Arc<dyn RawServant>,
    },
}

/// The servants of one listener, while `start` gathers them.
pub(super) struct Group {
    /// `host:port`: an endpoint's, or the local address of the caller's listener.
    address: String,
    /// A raw servant's at port 0: a listener of its own, which no other servant joins.
    exclusive: bool,
    /// The caller's listener, if one was given; otherwise `address` is bound.
    listener: Option<Given>,
    /// The shortest `-t` of the servants' endpoints.
    idle: Option<Duration>,
    /// In the order of registration.
    names: Vec<String>,
    served: GroupServed,
    /// The transport its endpoints say (all the same one), and the first servant that said
    /// it; `None` for a listener given with no endpoint naming it (plain TCP).
    transport: Option<(Transport, String)>,
    /// The adapter settings its servants gave (all the same, or given by one), and the first
    /// servant that gave them.
    adapter: Option<(AdapterSettings, String)>,
}

enum GroupServed {
    Tars(Servants),
    Raw(RawBinding),
}

impl Group {
    fn new(address: String, exclusive: bool, name: String, servant: Registered) -> Self {
        let served = match servant {
            Registered::Tars(servant) => {
                GroupServed::Tars(Servants::from([(name.clone(), servant)]))
            }
            Registered::Raw { splitter, servant } => GroupServed::Raw(RawBinding {
                name: name.clone().into(),
                splitter,
                servant,
            }),
        };
        Self {
            address,
            exclusive,
            listener: None,
            idle: None,
            names: vec![name],
            served,
            transport: None,
            adapter: None,
        }
    }

    /// Notes the adapter settings a servant gave: servants sharing a listener give the same
    /// ones, or only one of them gives any.
    fn set_adapter(&mut self, adapter: AdapterSettings, name: &str) -> Result<(), ServerError> {
        if adapter.is_default() {
            return Ok(());
        }
        match &self.adapter {
            None => self.adapter = Some((adapter, name.to_string())),
            Some((existing, first)) if *existing != adapter => {
                return Err(ServerError::ConflictingAdapters {
                    address: self.address.clone(),
                    first: first.clone(),
                    second: name.to_string(),
                });
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Notes the transport of a servant's endpoint: servants sharing a listener must agree.
    fn set_transport(&mut self, transport: Transport, name: &str) -> Result<(), ServerError> {
        match &self.transport {
            None => self.transport = Some((transport, name.to_string())),
            Some((existing, other)) if *existing != transport => {
                let (ssl, tcp) = match transport {
                    Transport::Ssl => (name.to_string(), other.clone()),
                    _ => (other.clone(), name.to_string()),
                };
                return Err(ServerError::MixedTransports {
                    address: self.address.clone(),
                    ssl,
                    tcp,
                });
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// The first servant and the address of a group served over TLS (`ssl` endpoints).
    pub(super) fn tls_servant(&self) -> Option<(&str, &str)> {
        match &self.transport {
            Some((Transport::Ssl, name)) => Some((name, &self.address)),
            _ => None,
        }
    }

    /// Adds another servant at this group's `host:port`: TARS servants share it, a raw one
    /// shares it with no one.
    fn add(&mut self, name: String, servant: Registered) -> Result<(), ServerError> {
        let shared = |raw: &str, other: &str| ServerError::SharedRawEndpoint {
            address: self.address.clone(),
            raw: raw.to_string(),
            other: other.to_string(),
        };
        match (&mut self.served, servant) {
            (GroupServed::Tars(servants), Registered::Tars(servant)) => {
                servants.insert(name.clone(), servant);
            }
            (GroupServed::Tars(_), Registered::Raw { .. }) => {
                return Err(shared(&name, &self.names[0]));
            }
            (GroupServed::Raw(binding), _) => return Err(shared(binding.name.as_str(), &name)),
        }
        self.names.push(name);
        Ok(())
    }

    /// Whether the registration at `address`, with a listener of its own or not, joins this
    /// group: same address, the group not exclusive, and at most one listener between them.
    /// At port 0 (`any_port`), only servants of one transport and the same adapter settings
    /// share a listener: `ssl` and `tcp` servants get one each, and so do servants with
    /// different settings.
    fn takes(
        &self,
        address: &str,
        with_listener: bool,
        any_port: bool,
        transport: Option<Transport>,
        adapter: &AdapterSettings,
    ) -> bool {
        let other_transport = match (&self.transport, transport) {
            (Some((own, _)), Some(transport)) => *own != transport,
            _ => false,
        };
        let own_adapter = self.adapter.as_ref().map(|(own, _)| own);
        let other_adapter = own_adapter.map_or(!adapter.is_default(), |own| own != adapter);
        let apart = self.exclusive
            || (with_listener && self.listener.is_some())
            || (any_port && (other_transport || other_adapter));
        !apart && self.address == address
    }

    /// What the listener serves, the servants' names, the shortest `-t` of their endpoints,
    /// whether it serves TLS, and its adapter settings.
    pub(super) fn into_parts(
        self,
    ) -> (Served, Vec<String>, Option<Duration>, bool, AdapterSettings) {
        let tls = self.tls_servant().is_some();
        let adapter = self.adapter.map(|(adapter, _)| adapter).unwrap_or_default();
        let served = match self.served {
            GroupServed::Tars(servants) => Served::Tars(Arc::new(servants)),
            GroupServed::Raw(binding) => Served::Raw(Arc::new(binding)),
        };
        (served, self.names, self.idle, tls, adapter)
    }
}

/// The registered servants gathered into listeners, in the order of registration, and the
/// index of each servant's listener.
pub(super) struct Plan {
    pub(super) groups: Vec<Group>,
    pub(super) servants: HashMap<String, usize>,
}

impl Plan {
    /// Gathers the servants by `host:port` (a raw servant alone), checking their names and
    /// endpoints.
    pub(super) fn new(registrations: Vec<Registration>) -> Result<Self, ServerError> {
        if registrations.is_empty() {
            return Err(ServerError::NoServants);
        }
        let mut plan = Self {
            groups: Vec::new(),
            servants: HashMap::new(),
        };
        for registration in registrations {
            plan.add(registration)?;
        }
        Ok(plan)
    }

    fn add(&mut self, registration: Registration) -> Result<(), ServerError> {
        let Registration {
            name,
            listen: Listen { place, adapter },
            servant,
        } = registration;
        let mut any_port = false;
        let (address, idle, exclusive, listener, transport) = match place {
            Place::Endpoint(endpoint) => {
                let endpoint = endpoint?;
                any_port = endpoint.port() == 0;
                // a raw servant cannot share a listener: at port 0 it gets one of its own
                let exclusive = matches!(servant, Registered::Raw { .. }) && any_port;
                let transport = Some(endpoint.transport());
                (
                    endpoint.address(),
                    endpoint.timeout(),
                    exclusive,
                    None,
                    transport,
                )
            }
            Place::Listener(listener) => {
                let address = listener.local_addr().map_err(|source| ServerError::Bind {
                    address: "a listener given to the server".to_string(),
                    source,
                })?;
                (address.to_string(), None, false, Some(listener), None)
            }
        };
        let with_listener = listener.is_some();
        let index = match exclusive {
            true => self.groups.len(),
            false => self
                .groups
                .iter()
                .position(|group| {
                    group.takes(&address, with_listener, any_port, transport, &adapter)
                })
                .unwrap_or(self.groups.len()),
        };
        if self.servants.insert(name.clone(), index).is_some() {
            return Err(ServerError::DuplicateServant(name));
        }
        let servant_name = name.clone();
        if index == self.groups.len() {
            self.groups
                .push(Group::new(address, exclusive, name, servant));
        } else {
            self.groups[index].add(name, servant)?;
        }
        let group = &mut self.groups[index];
        if let Some(transport) = transport {
            group.set_transport(transport, &servant_name)?;
        }
        group.set_adapter(adapter, &servant_name)?;
        group.listener = group.listener.take().or(listener);
        group.idle = match (group.idle, idle) {
            (Some(current), Some(new)) => Some(current.min(new)),
            (current, new) => current.or(new),
        };
        Ok(())
    }
}

/// A group's listener, bound, and its address.
pub(super) struct Bound {
    pub(super) listener: TcpListener,
    pub(super) local_addr: SocketAddr,
    pub(super) group: Group,
}

/// Binds every group's listener (or takes the caller's), in order; on an error, the listeners
/// already bound are closed.
pub(super) async fn bind_all(groups: Vec<Group>, backlog: u32) -> Result<Vec<Bound>, ServerError> {
    let mut bound = Vec::with_capacity(groups.len());
    for mut group in groups {
        let bind_error = |source| ServerError::Bind {
            address: group.address.clone(),
            source,
        };
        let listener = match group.listener.take() {
            Some(listener) => listener.into_tokio(),
            None => bind(&group.address, backlog).await,
        };
        let listener = listener.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        bound.push(Bound {
            listener,
            local_addr,
            group,
        });
    }
    Ok(bound)
}

/// Listens on `address` (`host:port`, the host resolved) with a backlog of `backlog`.
async fn bind(address: &str, backlog: u32) -> io::Result<TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(address).await? {
        match bind_addr(addr, backlog) {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the host resolved to no address",
        )
    }))
}

fn bind_addr(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // as `TcpListener::bind` does: a restarted server can listen at once
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}
