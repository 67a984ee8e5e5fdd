//! [`ServerBuilder`]: servants, endpoints and limits; `start` binds and spawns.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;

use super::dispatch::Servants;
use super::listener::{self, Gauges, Listening, Served};
use super::outgoing::TotalBudget;
use super::raw::RawBinding;
use super::raw::RawServant;
use super::session::{ConnectionConfig, Signals};
use super::{Servant, Server, ServerError, ServerHandle};
use crate::endpoint::{Endpoint, EndpointError};
use crate::framing::DEFAULT_MAX_FRAME_LEN;
use crate::protocol::FrameSplitter;

/// The default budget of a connection's outgoing queue, in bytes.
pub const DEFAULT_QUEUE_BUDGET: usize = 8 * 1024 * 1024;
/// The default budget of all the connections' outgoing queues together, in bytes.
pub const DEFAULT_TOTAL_QUEUE_BUDGET: usize = 1024 * 1024 * 1024;
/// The default limit of unfinished requests per connection.
const DEFAULT_MAX_IN_FLIGHT: usize = 1024;
/// The default bound on a graceful shutdown.
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// The default idle timeout: TarsCpp's endpoints say `-t 60000`.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default time a frame may take to arrive once it has begun.
const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(60);
/// The default queue timeout: TarsCpp's `queuetimeout`.
const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default stall timeout: about when TarsCpp gives up on a peer that takes (next to)
/// nothing, after three 5-second checks.
const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(15);
/// The default listen backlog.
const DEFAULT_BACKLOG: u32 = 1024;
/// The default limit of open connections per listener.
const DEFAULT_MAX_CONNECTIONS: usize = 100_000;

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
    queue_budget: usize,
    total_queue_budget: usize,
    max_in_flight: usize,
    idle_timeout: Option<Duration>,
    frame_timeout: Duration,
    queue_timeout: Duration,
    stall_timeout: Duration,
    backlog: u32,
    max_connections: usize,
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
            queue_budget: DEFAULT_QUEUE_BUDGET,
            total_queue_budget: DEFAULT_TOTAL_QUEUE_BUDGET,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            idle_timeout: None,
            frame_timeout: DEFAULT_FRAME_TIMEOUT,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            backlog: DEFAULT_BACKLOG,
            max_connections: DEFAULT_MAX_CONNECTIONS,
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
            .field("queue_budget", &self.queue_budget)
            .field("total_queue_budget", &self.total_queue_budget)
            .field("max_in_flight", &self.max_in_flight)
            .field("idle_timeout", &self.idle_timeout)
            .field("frame_timeout", &self.frame_timeout)
            .field("queue_timeout", &self.queue_timeout)
            .field("stall_timeout", &self.stall_timeout)
            .field("backlog", &self.backlog)
            .field("max_connections", &self.max_connections)
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
    ///             let _ = current.send_raw(request).await;
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

    /// How many bytes of replies and pushes may wait in one connection's outgoing queue, not
    /// yet written to its socket; default [`DEFAULT_QUEUE_BUDGET`] (8 MiB). A frame is counted
    /// by its length; one longer than the whole budget is sent alone.
    ///
    /// A full queue never closes a connection. While it is full the connection reads no more
    /// requests (so a client sending faster than it reads is slowed down by TCP), replies wait
    /// for room (their requests count as running until then), and pushes wait or are refused
    /// as the pusher chose. The requests running count against the budget too, by their
    /// length, so that a connection holds about twice its budget at most, whatever its
    /// clients send ([`Current::push`](super::Current::push),
    /// [`Current::try_push`](super::Current::try_push),
    /// [`Current::push_timeout`](super::Current::push_timeout)). A client that stops reading
    /// altogether is cut off after the [stall timeout](Self::stall_timeout).
    ///
    /// ```
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().queue_budget(1024 * 1024);
    /// ```
    pub fn queue_budget(mut self, bytes: usize) -> Self {
        self.queue_budget = bytes.max(1);
        self
    }

    /// How many bytes may wait in all the connections' outgoing queues together, default
    /// [`DEFAULT_TOTAL_QUEUE_BUDGET`] (1 GiB), so that many slow clients cannot exhaust the
    /// server's memory. When it is used up, every connection behaves as if its own queue were
    /// full until the slow clients read or are cut off. A push shared by many connections (a
    /// [broadcast](crate::server::Subscribers::broadcast)) counts once per connection it waits
    /// on, though its bytes are not copied. A connection's budget is at most this.
    pub fn total_queue_budget(mut self, bytes: usize) -> Self {
        self.total_queue_budget = bytes.max(1);
        self
    }

    /// How many requests of one connection may run at once, default 1024 (at least 1); a
    /// request runs until its reply is queued. At the limit the connection reads nothing until
    /// one finishes, which pushes back on the client.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// Closes connections that have sent nothing for `timeout` while no request of theirs was
    /// running and nothing was waiting to be written to them. Overrides the endpoints' `-t`;
    /// without either, 60 s (TarsCpp's usual `-t 60000`). `Duration::MAX`: never.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Closes a connection whose frame has begun to arrive and has not arrived in full within
    /// `timeout`, default 60 s, so that a peer cannot hold a partial frame (up to the
    /// [maximum frame](Self::max_frame_len)) for long. The clock does not run while the server
    /// itself holds reading back. `Duration::MAX`: never.
    pub fn frame_timeout(mut self, timeout: Duration) -> Self {
        self.frame_timeout = timeout;
        self
    }

    /// Answers a request with [`SERVER_QUEUE_TIMEOUT`](crate::packet::ReturnCode::SERVER_QUEUE_TIMEOUT)
    /// (-6) instead of running it if it waited longer than `timeout` between being read and its
    /// handler starting, or longer than its own `iTimeout` (its caller has given up by then):
    /// TarsCpp's `queuetimeout`, default 10 s. A raw servant's request is dropped instead.
    /// `Duration::MAX`: only the request's own timeout counts.
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = timeout;
        self
    }

    /// Cuts off a connection whose peer has taken no byte for `timeout` while replies or
    /// pushes were waiting to be written to it, default 15 s: it has stopped reading. A peer
    /// that reads, however slowly, is never cut off; it is only slowed down (see
    /// [`queue_budget`](Self::queue_budget)). What was queued for it is dropped, and
    /// [`Current::closed`](super::Current::closed) resolves. `Duration::MAX`: never.
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// The listen backlog of every listener, default 1024: how many connections the system
    /// holds for the server before it accepts them. The system may cap it
    /// (`net.core.somaxconn` on Linux).
    pub fn backlog(mut self, connections: u32) -> Self {
        self.backlog = connections.max(1);
        self
    }

    /// How many connections each listener keeps open at once, default 100,000 (TarsCpp's
    /// `maxconns`). Beyond it a new connection is accepted and closed at once, as TarsCpp does,
    /// with a warning logged at most once a second.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Bounds the graceful shutdown, default 10 s: what is still running after it is cut short.
    /// It also bounds how long a closed connection keeps writing its queued frames to a peer
    /// that reads slowly, and how long a connection whose client has closed its sending side
    /// waits for its running requests before it closes.
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
            let listener = bind(&group.address, self.backlog)
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
        let total_budget = Arc::new(TotalBudget::new(self.total_queue_budget));
        let gauges = Arc::new(Gauges::default());
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
                queue_budget: self.queue_budget,
                total_budget: total_budget.clone(),
                max_in_flight: self.max_in_flight,
                idle_timeout: self.idle_timeout.or(idle).unwrap_or(DEFAULT_IDLE_TIMEOUT),
                frame_timeout: self.frame_timeout,
                queue_timeout: self.queue_timeout,
                stall_timeout: self.stall_timeout,
                linger: self.shutdown_timeout,
            };
            let raw = matches!(served, GroupServed::Raw(_));
            tracing::info!(address = %local_addr, servants = ?names, raw, "listening");
            let listening = Listening {
                local_addr,
                served: served.into_served(),
                config: Arc::new(config),
                max_connections: self.max_connections,
                gauges: gauges.clone(),
            };
            accept_loops.push(tokio::spawn(listener::accept_loop(
                listener,
                listening,
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
                total_budget,
                gauges,
            },
        })
    }
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
