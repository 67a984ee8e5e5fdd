//! [`ServerBuilder`]: servants, endpoints and limits; `start` binds and spawns.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::dispatch::Servants;
use super::listener::{self, Signals};
use super::session::ConnectionConfig;
use super::{Servant, Server, ServerError, ServerHandle};
use crate::endpoint::{Endpoint, EndpointError};
use crate::framing::DEFAULT_MAX_FRAME_LEN;

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
    servant: Arc<dyn Servant>,
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
    /// Servants whose endpoints have the same `host:port` share one listener; a servant is
    /// reachable only through its own listener. Port 0 lets the system choose a port (see
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
            servant: Arc::new(servant),
        });
        self
    }

    /// The largest frame accepted or sent, length prefix included; default
    /// [`DEFAULT_MAX_FRAME_LEN`] (10 MiB). A connection sending a longer one is closed; a reply
    /// that would be longer is answered with
    /// [`SERVER_ENCODE_ERR`](crate::packet::ReturnCode::SERVER_ENCODE_ERR) instead.
    pub fn max_frame_len(mut self, bytes: usize) -> Self {
        self.max_frame_len = bytes;
        self
    }

    /// How many frames each connection's outgoing queue holds, default 1024 (at least 1): its
    /// replies and pushes. When a peer does not read and the queue fills up, the reply or push
    /// that finds it full fails and the connection is aborted (its queued frames dropped, a
    /// warning logged), so that a client that does not read costs the server at most this many
    /// frames and never holds up the others.
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
    /// [`ServerError::NoServants`] without any servant, and [`ServerError::Bind`] when an
    /// address cannot be listened on; no listener is left open then.
    pub async fn start(self) -> Result<Server, ServerError> {
        if self.registrations.is_empty() {
            return Err(ServerError::NoServants);
        }
        // group the servants by `host:port`, keeping the order of registration
        let mut groups: Vec<(String, Option<Duration>, Servants)> = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        for Registration {
            name,
            endpoint,
            servant,
        } in self.registrations
        {
            let endpoint = endpoint?;
            let address = endpoint.address();
            let index = match groups
                .iter()
                .position(|(existing, _, _)| *existing == address)
            {
                Some(index) => index,
                None => {
                    groups.push((address, None, Servants::new()));
                    groups.len() - 1
                }
            };
            if names.insert(name.clone(), index).is_some() {
                return Err(ServerError::DuplicateServant(name));
            }
            let (_, idle, servants) = &mut groups[index];
            *idle = match (*idle, endpoint.timeout()) {
                (Some(current), Some(new)) => Some(current.min(new)),
                (current, new) => current.or(new),
            };
            servants.insert(name, servant);
        }

        let mut bound: Vec<(TcpListener, SocketAddr, Option<Duration>, Servants)> =
            Vec::with_capacity(groups.len());
        for (address, idle, servants) in groups {
            let listener = TcpListener::bind(address.as_str())
                .await
                .map_err(|source| ServerError::Bind {
                    address: address.clone(),
                    source,
                })?;
            let local_addr = listener
                .local_addr()
                .map_err(|source| ServerError::Bind { address, source })?;
            bound.push((listener, local_addr, idle, servants));
        }

        let mut servant_addrs = HashMap::with_capacity(names.len());
        for (name, index) in names {
            servant_addrs.insert(name, bound[index].1);
        }
        let local_addrs = bound.iter().map(|(_, addr, _, _)| *addr).collect();

        let signals = Signals {
            shutdown: CancellationToken::new(),
            force: CancellationToken::new(),
        };
        let done = CancellationToken::new();
        let mut accept_loops = Vec::with_capacity(bound.len());
        for (listener, local_addr, idle, servants) in bound {
            let config = ConnectionConfig {
                max_frame_len: self.max_frame_len,
                queue_capacity: self.queue_capacity,
                max_in_flight: self.max_in_flight,
                idle_timeout: self.idle_timeout.or(idle),
                linger: self.shutdown_timeout,
            };
            tracing::info!(address = %local_addr, servants = ?servants.keys().collect::<Vec<_>>(), "listening");
            accept_loops.push(tokio::spawn(listener::accept_loop(
                listener,
                local_addr,
                Arc::new(servants),
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
