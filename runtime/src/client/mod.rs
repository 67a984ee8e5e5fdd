//! The TARS client: proxies, connections multiplexed by request id, timeouts, pushes.
//!
//! A [`Communicator`] turns a proxy string, `App.Server.Obj@tcp -h HOST -p PORT[:...]`, into a
//! [`Proxy`], or into a typed proxy ([`TypedProxy`]) that `#[tars_interface]` generates around
//! one. Proxies of one string share an object with one connection per endpoint, made on the
//! first call (or by [`Proxy::connect`]) and made again after a loss. Concurrent calls share a
//! connection and are matched to their replies by request id. Endpoints written
//! `ssl -h HOST -p PORT` are reached over TLS ([`CommunicatorBuilder::tls`], see
//! [`crate::tls`]).
//!
//! A proxy string may also name the object alone, `App.Server.Obj`: its endpoints are then
//! found through the communicator's [`Discovery`](discovery::Discovery) (the TARS registry, a
//! [`StaticDiscovery`](discovery::StaticDiscovery), your own) before the first call, and
//! refreshed in the background; see [`CommunicatorBuilder::discovery`].
//!
//! Calls go to the endpoints as the communicator's [`LoadBalance`](load_balance::LoadBalance)
//! picks them: by default as TarsCpp does, in turn (or by static weights), or by a hash of a
//! key the call carries ([`Proxy::with_hash`], [`Proxy::with_consistent_hash`]), to the
//! endpoint a TarsCpp client picks for the same key. An endpoint that fails is left out for a
//! while ([`CommunicatorBuilder::failed_endpoint_backoff`]).
//!
//! Every call has a timeout (3 s unless configured) and fails with a TARS return code: the
//! servant's, or the framework's -7 for a timeout and -8 for a connection that could not be
//! made or was lost. A lost connection fails its waiting calls at once.
//!
//! Servers may push to the client over its connections: see [Pushes](Proxy#pushes) for the
//! push handler, push streams, keep-alive and reconnection.
//!
//! A proxy speaks a [`Wire`]: TARS ([`TarsWire`], the default), or a protocol of the user's own
//! ([`RawWire`]): a `Proxy<RawWire>` from [`Communicator::raw_proxy`] speaks a
//! [`ClientProtocol`] on the same connections, with calls matched to responses by the request
//! id the protocol reports, timeouts, reconnection, and push frames (request id 0) for a
//! handler or a stream. See [Custom protocols](Proxy#custom-protocols).
//!
//! ```no_run
//! use tars_rpc::client::Communicator;
//!
//! # async fn run() -> tars_rpc::Result<()> {
//! let communicator = Communicator::new();
//! let proxy = communicator
//!     .proxy("TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 18015")
//!     .expect("a valid proxy string");
//! proxy.ping().await?;
//! # Ok(())
//! # }
//! ```

// The modules depend on each other in this order only (each on some of those before it):
// observer -> config, request, message -> wire -> raw -> connection -> push -> object ->
// supervisor -> balance, discovery -> load_balance, cache -> endpoints -> proxy ->
// communicator; balance and discovery depend on none of the modules before them.
pub mod balance;
mod cache;
mod communicator;
mod config;
mod connection;
pub mod discovery;
mod endpoints;
pub mod load_balance;
mod message;
mod object;
mod observer;
mod proxy;
mod push;
mod raw;
mod request;
mod supervisor;
mod wire;

pub use communicator::{
    Communicator, CommunicatorBuilder, ProxyBuilder, ProxyError, RawProxyBuilder,
};
pub use connection::CloseReason;
pub use message::{FromPush, PushMessage};
pub use observer::{CallObserver, CallRecord};
pub use proxy::{Encoding, Proxy, RouteWatch, TypedProxy};
pub use push::{PushEvents, PushHandler, PushStream};
pub use raw::{ClientProtocol, RawResponse, RawWire};
pub use wire::{TarsWire, Wire};
