//! [`ServerBuilder`]: servants, where they listen, and limits; `start` binds and spawns.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::adapter::RequestLoad;
use super::listen::{bind_all, Bound, Listen, Plan, Registered, Registration};
use super::listener::{AcceptLoop, Gauges, Listening, TlsListening};
use super::observer::{CallObserver, Observed};
use super::outgoing::TotalBudget;
use super::raw::RawServant;
use super::running::Launch;
use super::servant::Servant;
use super::session::ConnectionConfig;
use super::tasks::Signals;
use super::{Server, ServerError};
use crate::framing::DEFAULT_MAX_FRAME_LEN;
use crate::protocol::FrameSplitter;
use crate::tls::TlsServerConfig;

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
/// The default time a client has to finish its TLS handshake.
const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
#[derive(Default)]
pub struct ServerBuilder {
    registrations: Vec<Registration>,
    settings: Settings,
    observer: Option<Arc<dyn CallObserver>>,
}

/// The limits a builder sets.
#[derive(Debug)]
struct Settings {
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
    /// What `ssl` listeners serve TLS with.
    tls: Option<TlsServerConfig>,
    tls_handshake_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
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
            tls: None,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        }
    }
}

impl Settings {
    /// The settings of the connections of a listener whose endpoints say `idle` (`-t`).
    fn connections(
        &self,
        idle: Option<Duration>,
        total_budget: &Arc<TotalBudget>,
    ) -> ConnectionConfig {
        ConnectionConfig {
            max_frame_len: self.max_frame_len,
            queue_budget: self.queue_budget,
            total_budget: total_budget.clone(),
            max_in_flight: self.max_in_flight,
            idle_timeout: self.idle_timeout.or(idle).unwrap_or(DEFAULT_IDLE_TIMEOUT),
            frame_timeout: self.frame_timeout,
            queue_timeout: self.queue_timeout,
            stall_timeout: self.stall_timeout,
            linger: self.shutdown_timeout,
        }
    }
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servants: Vec<_> = self
            .registrations
            .iter()
            .map(|registration| (&registration.name, &registration.listen))
            .collect();
        f.debug_struct("ServerBuilder")
            .field("servants", &servants)
            .field("settings", &self.settings)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Server {
    /// A builder for a server: see [`ServerBuilder`].
    ///
    /// ```
    /// use tars_rpc::server::Server;
    ///
    /// let builder = Server::builder().max_in_flight(128);
    /// ```
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

impl ServerBuilder {
    /// Adds the servant `name` (e.g. `TestApp.HelloServer.HelloObj`), served at `listen`: an
    /// endpoint string (`"tcp -h 127.0.0.1 -p 10000 -t 60000"` or `"127.0.0.1:10000"`) for
    /// [`start`](Self::start) to bind, or a [`TcpListener`](tokio::net::TcpListener) already
    /// bound (see [`Listen`]).
    ///
    /// Servants whose endpoints have the same `host:port` share one listener (but not with a
    /// [raw servant](Self::raw_servant)), and so do servants whose endpoint's `host:port` is
    /// the local address of a listener given for another servant; a servant is reachable only
    /// through its own listener. Port 0 lets the system choose a port (see
    /// [`Server::local_addr`]); servants at the same `host:0` share that one listener (`ssl`
    /// servants one, `tcp` servants another, and servants giving different adapter settings,
    /// such as [`Listen::max_connections`], one each). Servants sharing a listener give it the
    /// same adapter settings, or only one of them gives any. An `ssl` endpoint is served over TLS with the
    /// [`tls`](Self::tls) configuration; `ssl` and `tcp` servants cannot share a port. The
    /// endpoint's `-t` is the idle timeout of the listener's connections unless
    /// [`idle_timeout`](Self::idle_timeout) is set; the shortest wins when servants sharing a
    /// listener give different ones.
    ///
    /// An endpoint that does not parse is reported by [`start`](Self::start).
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// use tars_rpc::server::{Current, Servant, Server};
    /// use tokio::net::TcpListener;
    /// # struct Hello;
    /// # impl Servant for Hello {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = TcpListener::bind("127.0.0.1:0").await?;
    /// let address = listener.local_addr()?;
    /// let server = Server::builder()
    ///     .servant("TestApp.HelloServer.HelloObj", listener, Hello)
    ///     .servant("TestApp.HelloServer.AdminObj", "tcp -h 127.0.0.1 -p 0 -t 60000", Hello)
    ///     .start()
    ///     .await?;
    /// assert_eq!(server.local_addr("TestApp.HelloServer.HelloObj"), Some(address));
    /// # server.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn servant(
        mut self,
        name: impl Into<String>,
        listen: impl Into<Listen>,
        servant: impl Servant,
    ) -> Self {
        self.registrations.push(Registration {
            name: name.into(),
            listen: listen.into(),
            servant: Registered::Tars(Arc::new(servant)),
        });
        self
    }

    /// Adds the servant `name` speaking its own protocol (TarsCpp's `addServantProtocol` with a
    /// servant overriding `doRequest`), served at `listen` (an endpoint or a bound listener, as
    /// for [`servant`](Self::servant)): `splitter` cuts the requests
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
        listen: impl Into<Listen>,
        splitter: impl FrameSplitter,
        servant: impl RawServant,
    ) -> Self {
        self.registrations.push(Registration {
            name: name.into(),
            listen: listen.into(),
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
    ///
    /// ```
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().max_frame_len(1024 * 1024);
    /// ```
    pub fn max_frame_len(mut self, bytes: usize) -> Self {
        self.settings.max_frame_len = bytes;
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
        self.settings.queue_budget = bytes.max(1);
        self
    }

    /// How many bytes may wait in all the connections' outgoing queues together, default
    /// [`DEFAULT_TOTAL_QUEUE_BUDGET`] (1 GiB), so that many slow clients cannot exhaust the
    /// server's memory. When it is used up, every connection behaves as if its own queue were
    /// full until the slow clients read or are cut off. A push shared by many connections (a
    /// [broadcast](crate::server::Subscribers::broadcast)) counts once per connection it waits
    /// on, though its bytes are not copied. A connection's budget is at most this.
    ///
    /// ```
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().total_queue_budget(256 * 1024 * 1024);
    /// ```
    pub fn total_queue_budget(mut self, bytes: usize) -> Self {
        self.settings.total_queue_budget = bytes.max(1);
        self
    }

    /// How many requests of one connection may run at once, default 1024 (at least 1); a
    /// request runs until its reply is queued. At the limit the connection reads nothing until
    /// one finishes, which pushes back on the client.
    ///
    /// ```
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().max_in_flight(64);
    /// ```
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.settings.max_in_flight = requests.max(1);
        self
    }

    /// Closes connections that have sent nothing for `timeout` while no request of theirs was
    /// running and nothing was waiting to be written to them. Overrides the endpoints' `-t`;
    /// without either, 60 s (TarsCpp's usual `-t 60000`). `Duration::MAX`: never.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().idle_timeout(Duration::from_secs(300));
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.settings.idle_timeout = Some(timeout);
        self
    }

    /// Closes a connection whose frame has begun to arrive and has not arrived in full within
    /// `timeout`, default 60 s, so that a peer cannot hold a partial frame (up to the
    /// [maximum frame](Self::max_frame_len)) for long. The clock does not run while the server
    /// itself holds reading back. `Duration::MAX`: never.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().frame_timeout(Duration::from_secs(5));
    /// ```
    pub fn frame_timeout(mut self, timeout: Duration) -> Self {
        self.settings.frame_timeout = timeout;
        self
    }

    /// Answers a request with [`SERVER_QUEUE_TIMEOUT`](crate::packet::ReturnCode::SERVER_QUEUE_TIMEOUT)
    /// (-6) instead of running it if it waited longer than `timeout` between being read and its
    /// handler starting, or longer than its own `iTimeout` (its caller has given up by then):
    /// TarsCpp's `queuetimeout`, default 10 s. A raw servant's request is dropped instead.
    /// `Duration::MAX`: only the request's own timeout counts.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().queue_timeout(Duration::from_secs(3));
    /// ```
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.settings.queue_timeout = timeout;
        self
    }

    /// Cuts off a connection whose peer has taken no byte for `timeout` while replies or
    /// pushes were waiting to be written to it, default 15 s: it has stopped reading. A peer
    /// that reads, however slowly, is never cut off; it is only slowed down (see
    /// [`queue_budget`](Self::queue_budget)). What was queued for it is dropped, and
    /// [`Current::closed`](super::Current::closed) resolves. `Duration::MAX`: never.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().stall_timeout(Duration::from_secs(30));
    /// ```
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.settings.stall_timeout = timeout;
        self
    }

    /// The listen backlog of every listener the server binds, default 1024: how many
    /// connections the system holds for the server before it accepts them. The system may cap
    /// it (`net.core.somaxconn` on Linux). A listener given to the builder keeps its own.
    ///
    /// ```
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().backlog(4096);
    /// ```
    pub fn backlog(mut self, connections: u32) -> Self {
        self.settings.backlog = connections.max(1);
        self
    }

    /// How many connections each listener keeps open at once, default 100,000 (TarsCpp's
    /// `maxconns`). Beyond it a new connection is accepted and closed at once, as TarsCpp does,
    /// with a warning logged at most once a second.
    ///
    /// ```
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().max_connections(10_000);
    /// ```
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.settings.max_connections = connections.max(1);
        self
    }

    /// Bounds the graceful shutdown, default 10 s: what is still running after it is cut short.
    /// It also bounds how long a closed connection keeps writing its queued frames to a peer
    /// that reads slowly, and how long a connection whose client has closed its sending side
    /// waits for its running requests before it closes.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().shutdown_timeout(Duration::from_secs(3));
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.shutdown_timeout = timeout;
        self
    }

    /// Serves the servants whose endpoints say `ssl` (`ssl -h 127.0.0.1 -p 10001`) over TLS
    /// with `config` (see [`crate::tls`]); without it, such a servant is an error of
    /// [`start`](Self::start) ([`ServerError::TlsNotConfigured`]). Servants at `tcp`
    /// endpoints stay plain TCP.
    ///
    /// ```no_run
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// use tars_rpc::server::{Current, Servant, Server};
    /// use tars_rpc::tls::TlsServerConfig;
    /// # struct Hello;
    /// # impl Servant for Hello {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let tls = TlsServerConfig::builder()
    ///     .cert_chain_file("server.crt")
    ///     .key_file("server.key")
    ///     .build()?;
    /// let server = Server::builder()
    ///     .servant("TestApp.HelloServer.HelloObj", "ssl -h 0.0.0.0 -p 10001 -t 60000", Hello)
    ///     .servant("TestApp.HelloServer.PlainObj", "tcp -h 0.0.0.0 -p 10000 -t 60000", Hello)
    ///     .tls(tls)
    ///     .start()
    ///     .await?;
    /// # server.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn tls(mut self, config: TlsServerConfig) -> Self {
        self.settings.tls = Some(config);
        self
    }

    /// How long a client of an `ssl` listener has to finish its TLS handshake, default 10 s;
    /// one that does not is disconnected (and counted in
    /// [`ServerStats::tls_handshake_failures`](super::ServerStats::tls_handshake_failures)).
    /// A connection counts against [`max_connections`](Self::max_connections) from its
    /// accept, handshake included.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tars_rpc::server::Server;
    /// let builder = Server::builder().tls_handshake_timeout(Duration::from_secs(3));
    /// ```
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.settings.tls_handshake_timeout = timeout;
        self
    }

    /// Tells `observer` of every request the server's TARS servants finish (see
    /// [`CallObserver`]): how per-call statistics are collected, e.g. by the reporter of
    /// `tars_rpc::stat`, which TarsCpp reports to `tarsstat`. Without one, no hook runs at all.
    ///
    /// ```
    /// use tars_rpc::server::{CallObserver, CallRecord, Server};
    ///
    /// struct Log;
    ///
    /// impl CallObserver for Log {
    ///     fn on_call(&self, call: &CallRecord<'_>) {
    ///         println!("{}.{}: {} in {:?}", call.servant(), call.function(), call.code(), call.elapsed());
    ///     }
    /// }
    ///
    /// let builder = Server::builder().call_observer(Log);
    /// ```
    pub fn call_observer(mut self, observer: impl CallObserver) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Binds every listener and starts serving.
    ///
    /// # Errors
    ///
    /// [`ServerError::Endpoint`] for the first endpoint that did not parse,
    /// [`ServerError::DuplicateServant`] for a name registered twice,
    /// [`ServerError::SharedRawEndpoint`] for a raw servant sharing its `host:port`,
    /// [`ServerError::NoServants`] without any servant, [`ServerError::MixedTransports`] for
    /// `ssl` and `tcp` endpoints at one `host:port`, [`ServerError::TlsNotConfigured`] for an
    /// `ssl` endpoint without [`tls`](Self::tls), and [`ServerError::Bind`] when an
    /// address cannot be listened on; no listener is left open then (the listeners given to
    /// the builder are closed too).
    ///
    /// # Cancel safety
    ///
    /// Dropped before it resolves, it has started nothing, and the listeners it bound or was
    /// given are closed.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// use tars_rpc::server::{Current, Servant, Server, ServerError};
    /// # struct Hello;
    /// # impl Servant for Hello {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let started = Server::builder().servant("App.Server.Obj", "tcp -h 127.0.0.1", Hello).start().await;
    /// assert!(matches!(started, Err(ServerError::Endpoint(_))), "no port");
    /// # }
    /// ```
    pub async fn start(mut self) -> Result<Server, ServerError> {
        if let Some(observer) = &self.observer {
            for registration in &mut self.registrations {
                if let Registered::Tars(servant) = &mut registration.servant {
                    *servant = Observed::wrap(servant.clone(), observer.clone());
                }
            }
        }
        let Plan { groups, servants } = Plan::new(self.registrations)?;
        if self.settings.tls.is_none() {
            if let Some((servant, address)) = groups.iter().find_map(|group| group.tls_servant()) {
                return Err(ServerError::TlsNotConfigured {
                    servant: servant.to_string(),
                    address: address.to_string(),
                });
            }
        }
        let bound = bind_all(groups, self.settings.backlog).await?;
        let servant_addrs = servants
            .into_iter()
            .map(|(name, index)| (name, bound[index].local_addr))
            .collect();
        let local_addrs = bound.iter().map(|bound| bound.local_addr).collect();
        let signals = Signals::default();
        let total_budget = Arc::new(TotalBudget::new(self.settings.total_queue_budget));
        let gauges = Arc::new(Gauges::default());
        let accept_loops = self
            .settings
            .accept(bound, &signals, &total_budget, &gauges);
        Ok(Server::launch(Launch {
            accept_loops,
            servant_addrs,
            local_addrs,
            signals,
            total_budget,
            gauges,
            shutdown_timeout: self.settings.shutdown_timeout,
        }))
    }
}

impl Settings {
    /// Spawns the accept loop of every listener.
    fn accept(
        &self,
        bound: Vec<Bound>,
        signals: &Signals,
        total_budget: &Arc<TotalBudget>,
        gauges: &Arc<Gauges>,
    ) -> JoinSet<()> {
        let mut accept_loops = JoinSet::new();
        for Bound {
            listener,
            local_addr,
            group,
        } in bound
        {
            let (served, names, idle, tls, adapter) = group.into_parts();
            tracing::info!(address = %local_addr, servants = ?names, raw = served.is_raw(), tls, "listening");
            let tls = self.tls.as_ref().filter(|_| tls).map(|config| {
                Arc::new(TlsListening {
                    acceptor: config.acceptor(),
                    timeout: self.tls_handshake_timeout,
                })
            });
            let mut config = self.connections(idle, total_budget);
            config.queue_timeout = adapter.queue_timeout.unwrap_or(config.queue_timeout);
            let listening = Listening {
                local_addr,
                served,
                config: Arc::new(config),
                max_connections: adapter.max_connections.unwrap_or(self.max_connections),
                gauges: gauges.clone(),
                tls,
                access: adapter.access.map(Arc::new),
                load: adapter
                    .queue_capacity
                    .map(|capacity| RequestLoad::new(capacity, &gauges.overloaded)),
            };
            let accept_loop = AcceptLoop::new(listener, listening, signals.clone());
            accept_loops.spawn(accept_loop.run());
        }
        accept_loops
    }
}
