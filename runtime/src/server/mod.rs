//! The TARS server: listeners, connections, and dispatch of requests to servants.
//!
//! Register [`Servant`]s with a [`ServerBuilder`], each at an endpoint; [`ServerBuilder::start`]
//! binds one listener per distinct `host:port` and serves until [`Server::shutdown`] or
//! [`ServerHandle::shutdown`].
//!
//! ```
//! use bytes::Bytes;
//! use futures::future::BoxFuture;
//! use tars_rpc::server::{Current, Servant, Server};
//!
//! struct Echo;
//!
//! impl Servant for Echo {
//!     fn dispatch<'a>(&'a self, _current: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
//!         Box::pin(async move { Ok(params) })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tars_rpc::server::ServerError> {
//! let server = Server::builder()
//!     .servant("TestApp.EchoServer.EchoObj", "tcp -h 127.0.0.1 -p 0 -t 60000", Echo)
//!     .start()
//!     .await?;
//! let address = server.local_addr("TestApp.EchoServer.EchoObj").unwrap();
//! assert_ne!(address.port(), 0);
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # How a connection is served
//!
//! Every accepted connection gets a reader task and a writer task. The reader decodes frames
//! and runs each request in a task of its own, so requests on one connection run concurrently
//! and their replies may leave out of order. The writer writes the replies (and pushes) queued
//! on the connection, gathering the frames queued together into one write.
//!
//! The server answers some requests itself: `tars_ping` (code 0, empty buffer), a servant not
//! registered at the listener the request came in on
//! ([`SERVER_NO_SERVANT`](crate::packet::ReturnCode::SERVER_NO_SERVANT)), a protocol version
//! other than TARS ([`SERVER_DECODE_ERR`](crate::packet::ReturnCode::SERVER_DECODE_ERR)), a
//! request that waited longer than its timeout or the [queue
//! timeout](ServerBuilder::queue_timeout) before it could run
//! ([`SERVER_QUEUE_TIMEOUT`](crate::packet::ReturnCode::SERVER_QUEUE_TIMEOUT), not run), and a
//! handler that panicked ([`SERVER_UNKNOWN_ERR`](crate::packet::ReturnCode::SERVER_UNKNOWN_ERR),
//! with the panic message). One-way requests run without a reply.
//!
//! # Flow control
//!
//! A client may send requests faster than it reads the replies, as TarsCpp's async proxies do;
//! the server slows it down rather than cut it off. Each connection's outgoing queue is bounded
//! in bytes ([`queue_budget`](ServerBuilder::queue_budget), and
//! [`total_queue_budget`](ServerBuilder::total_queue_budget) for all connections together). A
//! request counts as running until its reply is queued, and a reply waits for room. The reader
//! reads nothing while [`max_in_flight`](ServerBuilder::max_in_flight) requests run, or while
//! the requests running and the frames queued fill the budget, so TCP holds the client back.
//! A full queue never closes a connection; a client that takes no byte for the
//! [stall timeout](ServerBuilder::stall_timeout) while frames wait for it has stopped reading,
//! and its connection is cut off (what was queued for it is dropped). A client that reads,
//! however slowly, keeps its connection, and nobody else waits for it.
//!
//! When the client closes its sending side, the reader stops and the requests still running
//! are answered before the connection closes (within the
//! [shutdown timeout](ServerBuilder::shutdown_timeout): the server cannot tell a half-close
//! from a client that went away).
//!
//! A connection also closes on a read or write error, on a frame that is too short, too long,
//! not a request packet (logged as a warning) or not arrived in full within the
//! [frame timeout](ServerBuilder::frame_timeout), when it has been idle for the idle timeout
//! (the endpoint's `-t`, 60 s by default), when a servant closes it
//! ([`Current::close_connection`]), or when the server shuts down. Its [`Current::closed`] then
//! resolves, the callbacks registered with [`Current::on_close`] run, and every servant that
//! received a request on it is told with [`Servant::on_connection_closed`] (TarsCpp's
//! `doClose`).
//!
//! Listeners listen with a [backlog](ServerBuilder::backlog) of 1024 and keep at most
//! [`max_connections`](ServerBuilder::max_connections) open, closing the others at once;
//! [`Server::stats`] counts connections, refusals and queued bytes.
//!
//! # Pushes
//!
//! A handler may keep its [`Current`] to push to the client later ([`Current::push`],
//! [`Current::try_push`], [`Current::push_timeout`]), or add it to a
//! [`Subscribers`] registry that forgets clients whose connections
//! close and broadcasts to the others. Pushes and replies go through the connection's one
//! outgoing queue, whole frames at a time, so they never interleave and pushes arrive in the
//! order they were queued. A push that finds the queue full waits for room or fails with
//! [`PushError::Full`], as the pusher chose, and hands the frame
//! back; the connection stays open.
//!
//! # Servants speaking their own protocol
//!
//! A [`RawServant`], bound with [`ServerBuilder::raw_servant`],
//! has a listener to itself. Its connections are served as above, with the same limits, idle
//! timeout, outgoing queue and close notifications, except that:
//!
//! * its [`FrameSplitter`](crate::protocol::FrameSplitter) cuts the requests off the input,
//!   and each runs [`RawServant::on_request`] in a
//!   task of its own (concurrently, up to [`max_in_flight`](ServerBuilder::max_in_flight));
//! * the server writes nothing on such a connection by itself: the servant replies and pushes
//!   whole frames of its protocol with [`Current::send_raw`] (or
//!   [`PushFrame::from_raw`] frames through
//!   [`Subscribers`]); a handler that panics gets no reply (the
//!   panic is logged and the connection stays up), no TARS packet can be sent
//!   ([`Current::send_packet`] fails), and a graceful shutdown sends no close packet;
//! * a splitter error, or more than [`max_frame_len`](ServerBuilder::max_frame_len) bytes
//!   buffered without a request cut out of them, closes the connection with a warning naming
//!   the peer and the reason;
//! * its requests' [`Current`]s have the servant's registered name, an empty function name,
//!   request id 0, and the defaults of a TARS request for the rest.

mod builder;
mod connection;
mod current;
mod dispatch;
mod listener;
mod outgoing;
mod push;
mod raw;
mod servant;
mod session;
mod subscribers;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::endpoint::EndpointError;

pub use builder::{ServerBuilder, DEFAULT_QUEUE_BUDGET, DEFAULT_TOTAL_QUEUE_BUDGET};
#[cfg(test)]
pub(crate) use connection::ConnectionContext;
pub use current::Current;
#[cfg(test)]
pub(crate) use outgoing::{OutgoingFrames, TotalBudget};
pub use push::{PushError, PushFrame};
pub use raw::RawServant;
pub use servant::Servant;
pub use subscribers::{BroadcastReport, Subscribers, Undelivered};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A servant's endpoint string did not parse.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The `host:port` that could not be bound.
        address: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Two servants were registered under one name.
    #[error("servant `{0}` is registered more than once")]
    DuplicateServant(String),
    /// A servant speaking its own protocol ([`ServerBuilder::raw_servant`]) was given a
    /// `host:port` (a port other than 0) that another servant, TARS or raw, was given too: a
    /// raw protocol names no servant, so its listener can serve no other.
    #[error(
        "servant `{raw}` speaks its own protocol: it cannot share {address} with servant `{other}`"
    )]
    SharedRawEndpoint {
        /// The `host:port` both were given.
        address: String,
        /// The raw servant.
        raw: String,
        /// The other servant.
        other: String,
    },
    /// No servant was registered: the server would serve nothing.
    #[error("no servant registered")]
    NoServants,
}

/// A running server, from [`ServerBuilder::start`].
///
/// Stop it with [`shutdown`](Self::shutdown), or from elsewhere with a [`ServerHandle`].
/// Dropping it does **not** stop it: the server keeps serving in the background until a handle
/// triggers the shutdown or the tokio runtime itself shuts down.
#[derive(Debug)]
pub struct Server {
    servant_addrs: HashMap<String, SocketAddr>,
    local_addrs: Vec<SocketAddr>,
    handle: ServerHandle,
}

impl Server {
    /// A builder for a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The address the servant `servant` is served at, with the port the system chose if its
    /// endpoint said port 0; `None` for a servant not registered.
    pub fn local_addr(&self, servant: &str) -> Option<SocketAddr> {
        self.servant_addrs.get(servant).copied()
    }

    /// The addresses of every listener, in the order their endpoints were first registered.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.local_addrs.clone()
    }

    /// A handle that can shut the server down from elsewhere.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// What the server holds now: see [`ServerStats`].
    pub fn stats(&self) -> ServerStats {
        self.handle.stats()
    }

    /// Shuts the server down gracefully and returns when it is done.
    ///
    /// The listeners stop accepting (new connections are refused) and the connections stop
    /// reading requests. Every open TARS connection (not those of
    /// [raw servants](ServerBuilder::raw_servant)) is sent TarsGo's close packet
    /// ([`PushFrame::reconnect`]: request id 0,
    /// `sResultDesc` `_reconnect_`) so that its client reconnects elsewhere; the requests
    /// already running finish and their replies are written after it; then every connection is
    /// closed (and its [close callbacks](Current::on_close) and servants'
    /// [`on_connection_closed`](Servant::on_connection_closed) run, which the shutdown waits for
    /// too). Whatever is still running after the
    /// [shutdown timeout](ServerBuilder::shutdown_timeout) is cut short: its handlers are
    /// cancelled and its connections dropped.
    pub async fn shutdown(self) {
        self.handle.shutdown();
        self.wait().await;
    }

    /// Resolves when the server has shut down, e.g. after [`ServerHandle::shutdown`]; at once if
    /// it already has.
    pub async fn wait(&self) {
        self.handle.done.cancelled().await;
    }
}

/// A handle on a running [`Server`]: cheap to clone, it triggers the graceful shutdown from
/// anywhere (a signal handler, an admin command).
///
/// ```
/// # use bytes::Bytes;
/// # use futures::future::BoxFuture;
/// # use tars_rpc::server::{Current, Servant, Server};
/// # struct Echo;
/// # impl Servant for Echo {
/// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
/// #         Box::pin(async move { Ok(params) })
/// #     }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tars_rpc::server::ServerError> {
/// let server = Server::builder().servant("App.Server.EchoObj", "127.0.0.1:0", Echo).start().await?;
/// let handle = server.handle();
/// tokio::spawn(async move { handle.shutdown() });
/// server.wait().await; // returns once the spawned task has shut the server down
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ServerHandle {
    /// Cancelled to start the graceful shutdown.
    shutdown: CancellationToken,
    /// Cancelled once the shutdown has finished.
    done: CancellationToken,
    total_budget: Arc<outgoing::TotalBudget>,
    gauges: Arc<listener::Gauges>,
}

impl ServerHandle {
    /// Starts the graceful shutdown described at [`Server::shutdown`] and returns at once.
    /// Calling it again, or after the server has stopped, does nothing.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// What the server holds now: see [`ServerStats`].
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            connections: self.gauges.connections.load(Ordering::Relaxed),
            refused_connections: self.gauges.refused.load(Ordering::Relaxed),
            queued_bytes: self.total_budget.used(),
        }
    }
}

/// A snapshot of what a server holds, from [`Server::stats`] or [`ServerHandle::stats`].
///
/// ```
/// # use bytes::Bytes;
/// # use futures::future::BoxFuture;
/// # use tars_rpc::server::{Current, Servant, Server};
/// # struct Echo;
/// # impl Servant for Echo {
/// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
/// #         Box::pin(async move { Ok(params) })
/// #     }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tars_rpc::server::ServerError> {
/// let server = Server::builder().servant("App.Server.EchoObj", "127.0.0.1:0", Echo).start().await?;
/// let stats = server.stats();
/// assert_eq!((stats.connections, stats.queued_bytes), (0, 0));
/// # server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections open on all listeners.
    pub connections: usize,
    /// Connections refused since the start because their listener was at its
    /// [limit](ServerBuilder::max_connections).
    pub refused_connections: u64,
    /// Bytes of replies and pushes queued on all connections and not yet written (bounded by
    /// the [total queue budget](ServerBuilder::total_queue_budget)).
    pub queued_bytes: usize,
}
