//! [`ServerBuilder`]: servants, endpoints and limits; `start` binds and spawns.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::dispatch::Servants;
use super::listener::{self, Served, Signals};
use super::raw::RawBinding;
use super::session::ConnectionConfig;
use super::{Servant, Server, ServerError, ServerHandle};
use crate::endpoint::{Endpoint, EndpointError};
use crate::framing::DEFAULT_MAX_FRAME_LEN;
use crate::protocol::{FrameSplitter, RawServant};

/// The default capacity of a connection's outgoing queue, in frames.
const DEFAULT_QUEUE_CAPACITY: usize = 1024;
/// The default limit of unfinished requests per connection.
const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// The default bound on a graceful shutdown.
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds a [`Server`]: which servants it serves at which endpoints, and its limits.
///
/// ```
/// use std::time::Duration;
/// # use bytes::Bytes;
/// # use futures::future::BoxFuture;
/// use tars_rpc::server::{Current, Servant, Server};
/// # struct Hello;
/// # struct Admin;
/// # impl Servant for Hello {
/// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
/// #         Box::pin(async move { Ok(params) })
/// #     }
/// # }
/// # impl Servant for Admin {
/// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
/// #         Box::pin(async move { Ok(params) })
/// #     }
/// # }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tars_rpc::server::ServerError> {
/// let server = Server::builder()
///     // two servants on one listener, a third on another
///     .servant("TestApp.HelloServer.HelloObj", "tcp -h 127.0.0.1 -p 0 -t 60000", Hello)
///     .servant("TestApp.HelloServer.OtherObj", "tcp -h 127.0.0.1 -p 0 -t 60000", Hello)
///     .servant("TestApp.HelloServer.AdminObj", "[::1]:0", Admin)
///     .max_in_flight(256)
///     .shutdown_timeout(Duration::from_secs(5))
///     .start()
///     .await;
/// # if let Ok(server) = server { server.shutdown().await } // [::1] may be unavailable
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `start` is awaited"]
pub struct ServerBuilder {
    registrations: Vec<Registration>,
    max_frame_len: usize,
    queue_capacity: usize,
    max_in_flight: usize,
    idle_timeout: Option<Duration>,
    shutdown_timeout: Duration,
}

struct Registration {
    name: String,
    endpoint: Result<Endpoint, EndpointError>,
    servant: Registered,
}

/// A registered servant: a TARS one, or one speaking its own protocol.
enum Registered {
    Tars(Arc<dyn Servant>),
    Raw {
        splitter: Arc<dyn FrameSplitter>,
        servant: Arc<dyn RawServant>,
    },
}

/// The servants of one `host:port`, while `start` groups them.
struct Group {
    address: String,
    /// A raw servant's at port 0: a listener of its own, which no other servant joins.
    exclusive: bool,
    idle: Option<Duration>,
    /// In the order of registration.
    names: Vec<String>,
    served: GroupServed,
}

enum GroupServed {
    Tars(Servants),
    Raw(RawBinding),
}

impl GroupServed {
    fn new(name: String, servant: Registered) -> Self {
        match servant {
            Registered::Tars(servant) => Self::Tars(Servants::from([(name, servant)])),
            Registered::Raw { splitter, servant } => Self::Raw(RawBinding {
                name,
                splitter,
                servant,
            }),
        }
    }

    fn into_served(self) -> Served {
        match self {
            Self::Tars(servants) => Served::Tars(Arc::new(servants)),
            Self::Raw(binding) => Served::Raw(Arc::new(binding)),
        }
    }
}

impl Group {
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
            (GroupServed::Raw(binding), _) => return Err(shared(&binding.name, &name)),
        }
        self.names.push(name);
        Ok(())
    }
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            registrations: Vec::new(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            idle_timeout: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servants: Vec<_> = self
            .registrations
            .iter()
            .map(|registration| (&registration.name, &registration.endpoint))
            .collect();
        f.debug_struct("ServerBuilder")
            .field("servants", &servants)
            .field("max_frame_len", &self.max_frame_len)
            .field("queue_capacity", &self.queue_capacity)
            .field("max_in_flight", &self.max_in_flight)
            .field("idle_timeout", &self.idle_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

impl ServerBuilder {
    /// Adds the servant `name` (e.g. `TestApp.HelloServer.HelloObj`), reachable at `endpoint`:
    /// `"tcp -h 127.0.0.1 -p 10000 -t 60000"` or `"127.0.0.1:10000"`.
    ///
    /// Servants whose endpoints have the same `host:port` share one listener (but not with a
    /// [raw servant](Self::raw_servant)); a servant is reachable only through its own listener. Port 0 lets the system choose a port (see
    /// [`Server::local_addr`]); servants at the same `host:0` share that one listener. The
    /// endpoint's `-t` is the idle timeout of the listener's connections unless
    /// [`idle_timeout`](Self::idle_timeout) is set; the shortest wins when servants sharing a
    /// listener give different ones.
    ///
    /// An endpoint that does not parse is reported by [`start`](Self::start).
    pub fn servant(
        mut self,
        name: impl Into<String>,
        endpoint: impl AsRef<str>,
        servant: impl Servant,
    ) -> Self {
        self.registrations.push(Registration {
            name: name.into(),
            endpoint: endpoint.as_ref().parse(),
            servant: Registered::Tars(Arc::new(servant)),
        });
        self
    }

    /// Adds the servant `name` speaking its own protocol (TarsCpp's `addServantProtocol` with a
    /// servant overriding `doRequest`), reachable at `endpoint`: `splitter` cuts the requests
    /// off each connection's input and `servant` handles each, replying and pushing with
    /// [`Current::send_raw`](super::Current::send_raw). See [`crate::protocol`].
    ///
    /// A raw protocol carries no servant name to route by, so the servant has its listener to
    /// itself: another servant, TARS or raw, at the same `host:port` is an error of
    /// [`start`](Self::start) ([`ServerError::SharedRawEndpoint`]). At port 0, the raw servant
    /// gets a listener of its own on a port the system chooses, which no other servant shares
    /// (TARS servants at the same `host:0` share one listener among themselves). Everything
    /// else is as for [`servant`](Self::servant): the endpoint's `-t`, and every limit of this
    /// builder.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::future::BoxFuture;
    /// use tars_rpc::protocol::{LengthPrefixed, RawServant};
    /// use tars_rpc::server::{Current, Server};
    ///
    /// /// The seed PushDemo's servant: every request comes back as it is.
    /// struct Echo;
    ///
    /// impl RawServant for Echo {
    ///     fn on_request<'a>(&'a self, current: &'a Current, request: Bytes) -> BoxFuture<'a, ()> {
    ///         Box::pin(async move {
    ///             let _ = current.send_raw(request);
    ///         })
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tars_rpc::server::ServerError> {
    /// let server = Server::builder()
    ///     .raw_servant(
    ///         "Test.TestPushServer.TestPushServantObj",
    ///         "tcp -h 127.0.0.1 -p 0 -t 60000",
    ///         LengthPrefixed::new(100_000),
    ///         Echo,
    ///     )
    ///     .start()
    ///     .await?;
    /// assert!(server.local_addr("Test.TestPushServer.TestPushServantObj").is_some());
    /// server.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn raw_servant(
        mut self,
        name: impl Into<String>,
        endpoint: impl AsRef<str>,
        splitter: impl FrameSplitter,
        servant: impl RawServant,
    ) -> Self {
        self.registrations.push(Registration {
            name: name.into(),
            endpoint: endpoint.as_ref().parse(),
            servant: Registered::Raw {
                splitter: Arc::new(splitter),
                servant: Arc::new(servant),
            },
        });
        self
    }

    /// The largest frame accepted or sent, length prefix included; default
    /// [`DEFAULT_MAX_FRAME_LEN`] (10 MiB). A connection sending a longer one is closed; a reply
    /// that would be longer is answered with
    /// [`SERVER_ENCODE_ERR`](crate::packet::ReturnCode::SERVER_ENCODE_ERR) instead.
    ///
    /// For a [raw servant](Self::raw_servant), a connection is closed when more than this many
    /// bytes are buffered without its splitter cutting a request out of them, and
    /// [`Current::send_raw`](super::Current::send_raw) of a longer frame fails.
    pub fn max_frame_len(mut self, bytes: usize) -> Self {
        self.max_frame_len = bytes;
        self
    }

    /// How many frames each connection's outgoing queue holds, default 1024 (at least 1): its
    /// replies and pushes. When a peer does not read and the queue fills up, the reply or push
    /// that finds it full fails and the connection is aborted (its queued frames dropped, a
    /// warning logged), so that a client that does not read costs the server at most this many
    /// frames and never holds up the others. A burst of more pushes than this, faster than the
    /// client reads, trips it too: size it for your largest burst (an empty queue costs
    /// nothing, and broadcast frames are shared, not copied).
    pub fn queue_capacity(mut self, frames: usize) -> Self {
        self.queue_capacity = frames.max(1);
        self
    }

    /// How many requests of one connection may run at once, default 1024 (at least 1). At the
    /// limit the connection stops reading until one finishes, which pushes back on the client.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// Closes connections that have sent nothing for `timeout` while no request of theirs was
    /// running. Overrides the endpoints' `-t`; without either, connections never time out.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Bounds the graceful shutdown, default 10 s: what is still running after it is cut short.
    /// It also bounds how long a closed connection keeps writing its queued frames to a peer
    /// that reads slowly.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Binds every listener and starts serving.
    ///
    /// # Errors
    ///
    /// [`ServerError::Endpoint`] for the first endpoint that did not parse,
    /// [`ServerError::DuplicateServant`] for a name registered twice,
    /// [`ServerError::SharedRawEndpoint`] for a raw servant sharing its `host:port`,
    /// [`ServerError::NoServants`] without any servant, and [`ServerError::Bind`] when an
    /// address cannot be listened on; no listener is left open then.
    pub async fn start(self) -> Result<Server, ServerError> {
        if self.registrations.is_empty() {
            return Err(ServerError::NoServants);
        }
        // group the servants by `host:port`, keeping the order of registration
        let mut groups: Vec<Group> = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        for Registration {
            name,
            endpoint,
            servant,
        } in self.registrations
        {
            let endpoint = endpoint?;
            let address = endpoint.address();
            // a raw servant cannot share a listener: at port 0 it gets one of its own
            let exclusive = matches!(servant, Registered::Raw { .. }) && endpoint.port() == 0;
            let index = match exclusive {
                true => groups.len(),
                false => groups
                    .iter()
                    .position(|group| !group.exclusive && group.address == address)
                    .unwrap_or(groups.len()),
            };
            if names.insert(name.clone(), index).is_some() {
                return Err(ServerError::DuplicateServant(name));
            }
            if index == groups.len() {
                groups.push(Group {
                    address,
                    exclusive,
                    idle: None,
                    names: vec![name.clone()],
                    served: GroupServed::new(name, servant),
                });
            } else {
                groups[index].add(name, servant)?;
            }
            let group = &mut groups[index];
            group.idle = match (group.idle, endpoint.timeout()) {
                (Some(current), Some(new)) => Some(current.min(new)),
                (current, new) => current.or(new),
            };
        }

        let mut bound: Vec<(TcpListener, SocketAddr, Group)> = Vec::with_capacity(groups.len());
        for group in groups {
            let bind_error = |source| ServerError::Bind {
                address: group.address.clone(),
                source,
            };
            let listener = TcpListener::bind(group.address.as_str())
                .await
                .map_err(bind_error)?;
            let local_addr = listener.local_addr().map_err(bind_error)?;
            bound.push((listener, local_addr, group));
        }

        let mut servant_addrs = HashMap::with_capacity(names.len());
        for (name, index) in names {
            servant_addrs.insert(name, bound[index].1);
        }
        let local_addrs = bound.iter().map(|(_, addr, _)| *addr).collect();

        let signals = Signals {
            shutdown: CancellationToken::new(),
            force: CancellationToken::new(),
        };
        let done = CancellationToken::new();
        let mut accept_loops = Vec::with_capacity(bound.len());
        for (listener, local_addr, group) in bound {
            let Group {
                idle,
                names,
                served,
                ..
            } = group;
            let config = ConnectionConfig {
                max_frame_len: self.max_frame_len,
                queue_capacity: self.queue_capacity,
                max_in_flight: self.max_in_flight,
                idle_timeout: self.idle_timeout.or(idle),
                linger: self.shutdown_timeout,
            };
            let raw = matches!(served, GroupServed::Raw(_));
            tracing::info!(address = %local_addr, servants = ?names, raw, "listening");
            accept_loops.push(tokio::spawn(listener::accept_loop(
                listener,
                local_addr,
                served.into_served(),
                config,
                signals.clone(),
            )));
        }
        tokio::spawn(listener::supervise(
            accept_loops,
            signals.clone(),
            self.shutdown_timeout,
            done.clone(),
        ));

        Ok(Server {
            servant_addrs,
            local_addrs,
            handle: ServerHandle {
                shutdown: signals.shutdown,
                done,
            },
        })
    }
}
