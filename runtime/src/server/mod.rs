//! The TARS server: listeners, connections, and dispatch of requests to servants.
//!
//! Register [`Servant`]s with a [`ServerBuilder`], each at a [`Listen`]: a listener the caller
//! has bound, or an endpoint (`tcp -h 127.0.0.1 -p 10000 -t 60000`) for
//! [`ServerBuilder::start`] to bind, one listener per distinct `host:port`; an `ssl -h .. -p ..`
//! endpoint is served over TLS ([`ServerBuilder::tls`], see [`crate::tls`]). The [`Server`]
//! serves until [`Server::shutdown`] or [`ServerHandle::shutdown`], or until it is dropped,
//! which stops it at once: it owns every task it runs.
//!
//! ```
//! use bytes::Bytes;
//! use futures::future::BoxFuture;
//! use tars_rpc::server::{Current, Servant, Server};
//! use tokio::net::TcpListener;
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
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let address = listener.local_addr()?;
//! let server = Server::builder()
//!     .servant("TestApp.EchoServer.EchoObj", listener, Echo)
//!     .start()
//!     .await?;
//! assert_eq!(server.local_addr("TestApp.EchoServer.EchoObj"), Some(address));
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
//! A handler replies by returning; one that waits for something before it replies (a long poll)
//! holds its reply as long as it waits: see [Replying later](Current#replying-later).
//!
//! Listeners the server binds listen with a [backlog](ServerBuilder::backlog) of 1024; every
//! listener keeps at most
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
//!   panic is logged and the connection stays up), no TARS packet can be sent (a TARS push
//!   fails with [`PushError::WrongProtocol`], as [`Current::send_raw`] does on a TARS
//!   servant's connection), and a graceful shutdown sends no close packet;
//! * a splitter error, or more than [`max_frame_len`](ServerBuilder::max_frame_len) bytes
//!   buffered without a request cut out of them, closes the connection with a warning naming
//!   the peer and the reason;
//! * its requests' [`Current`]s have the servant's registered name, an empty function name,
//!   request id 0, and the defaults of a TARS request for the rest.

// This file only declares the modules and re-exports their public items (and defines
// `ServerError`): the modules may import from it (`use super::Item`) without a cycle, which
// `tests/module_graph.rs` checks.
mod adapter;
mod builder;
mod connection;
mod current;
mod dispatch;
mod listen;
mod listener;
mod observer;
mod outgoing;
mod push;
mod raw;
mod request;
mod running;
mod servant;
mod session;
mod subscribers;
mod tasks;

use std::io;

use crate::endpoint::EndpointError;

pub use adapter::AccessOrder;
pub use builder::{ServerBuilder, DEFAULT_QUEUE_BUDGET, DEFAULT_TOTAL_QUEUE_BUDGET};
#[cfg(test)]
pub(crate) use connection::ConnectionContext;
pub use current::Current;
pub use listen::Listen;
pub use observer::{CallObserver, CallRecord};
#[cfg(test)]
pub(crate) use outgoing::{OutgoingFrames, TotalBudget};
pub use push::{PushError, PushFrame};
pub use raw::RawServant;
pub use running::{Server, ServerHandle, ServerStats};
pub use servant::Servant;
pub use subscribers::{BroadcastReport, ConnectionId, Subscribers, Undelivered};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A servant's endpoint string did not parse.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A listener could not be bound, or a listener given to the builder could not be used.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The `host:port` that could not be bound, or the address of the listener given.
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
    /// A servant's endpoint says `ssl`, but the builder was given no TLS configuration
    /// ([`ServerBuilder::tls`]).
    #[error("servant `{servant}` listens on ssl endpoint {address}, but no TLS configuration was given (ServerBuilder::tls)")]
    TlsNotConfigured {
        /// The servant.
        servant: String,
        /// Its `host:port`.
        address: String,
    },
    /// Two servants were given the same `host:port`, one over `ssl` and one over `tcp`: a
    /// listener speaks one or the other.
    #[error("servant `{ssl}` (ssl) and servant `{tcp}` (tcp) cannot share {address}")]
    MixedTransports {
        /// The `host:port` both were given.
        address: String,
        /// The servant whose endpoint says `ssl`.
        ssl: String,
        /// The servant whose endpoint says `tcp`.
        tcp: String,
    },
    /// No servant was registered: the server would serve nothing.
    #[error("no servant registered")]
    NoServants,
    /// Servants sharing a listener gave it different adapter settings
    /// ([`Listen::max_connections`] and the like): give them to one servant, or the same to
    /// each.
    #[error(
        "servants `{first}` and `{second}` share the listener at {address} but give it different adapter settings; give them to one of them"
    )]
    ConflictingAdapters {
        /// The listener's `host:port`.
        address: String,
        /// The servant that gave settings first.
        first: String,
        /// The servant that gave other ones.
        second: String,
    },
}
