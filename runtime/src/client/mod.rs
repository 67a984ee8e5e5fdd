//! The TARS client: proxies, connections multiplexed by request id, timeouts.
//!
//! A [`Communicator`] turns a proxy string, `App.Server.Obj@tcp -h HOST -p PORT[:...]`, into a
//! [`ServantProxy`], or into a typed [`Proxy`] that `#[tars_interface]` generates around one.
//! Proxies of one string share an object with one connection per endpoint, made on the first
//! call and made again after a loss. Calls go to the endpoints in turn; concurrent calls share
//! a connection and are matched to their replies by request id.
//!
//! Every call has a timeout (3 s unless configured) and fails with a TARS return code: the
//! servant's, or the framework's -7 for a timeout and -8 for a connection that could not be
//! made or was lost. A lost connection fails its waiting calls at once.
//!
//! Servers may push to the client over its connections: see [Pushes](ServantProxy#pushes) for
//! the push handler, push streams, keep-alive and reconnection.
//!
//! A [`RawProxy`] ([`Communicator::raw_proxy`]) speaks a protocol of the user's own, a
//! [`ClientProtocol`], on the same connections: calls matched
//! to responses by the request id the protocol reports, timeouts, reconnection, and push
//! frames (request id 0) for a callback or a stream.
//!
//! ```no_run
//! use tars_rpc::client::Communicator;
//!
//! # async fn run() -> tars_rpc::Result<()> {
//! let communicator = Communicator::new();
//! let proxy = communicator
//!     .servant_proxy("TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 18015")
//!     .expect("a valid proxy string");
//! proxy.ping().await?;
//! # Ok(())
//! # }
//! ```

pub mod balance;
mod communicator;
mod connection;
mod proxy;
mod push;
mod raw;
mod request;
mod supervisor;
mod wire;

pub use communicator::{Communicator, CommunicatorConfig, ReconnectBackoff};
pub use proxy::{Proxy, ServantProxy};
pub use push::{FromPush, PushEvents, PushHandler, PushMessage, PushMessages};
pub use raw::{ClientProtocol, RawProxy, RawPushFrames, RawResponse};
