//! # tars-rpc
//!
//! TARS RPC for Rust, with the interface written as Rust: no `.tars` file, no code generator.
//! What goes on the wire matches TarsCpp byte for byte, so Rust services and clients talk to
//! TARS services written in C++, Go, Java or Node.
//!
//! This crate is the one dependency you add: it re-exports the runtime and the macros.
//!
//! ```
//! use tars_rpc::{TarsEnum, TarsStruct};
//!
//! #[derive(TarsEnum, Debug, Clone, Copy, PartialEq)]
//! enum Level { Low = 1, High }
//!
//! #[derive(TarsStruct, Debug, PartialEq)]
//! struct Alert {
//!     #[tars(tag = 0)]
//!     id: i64,
//!     #[tars(tag = 1)]
//!     level: Level,
//!     #[tars(tag = 2, optional)]
//!     tags: Vec<String>,
//!     #[tars(tag = 3)]
//!     note: Option<String>,
//! }
//!
//! let alert = Alert { id: 7, level: Level::High, tags: vec![], note: None };
//! let bytes = alert.to_bytes();
//! assert_eq!(&bytes[..], &[0x00, 0x07, 0x10, 0x02]); // empty optional fields are left off
//! assert_eq!(Alert::decode_from(&bytes).unwrap(), alert);
//! ```

pub use tars_rpc_runtime::{
    app, callback, client, codec, config, endpoint, framing, node, packet, registry, server, stat,
    tls,
};

/// Server push and how a client receives it, in one place: the server's parts live in
/// [`server`], the client's in [`client`].
///
/// * Server: encode a push once as a [`PushFrame`](push::PushFrame), send it to a saved
///   [`Current`] with [`Current::push`], or to every client in a
///   [`Subscribers`](push::Subscribers) registry.
/// * Client: pushes arrive as [`PushMessage`](push::PushMessage)s, handed to the
///   [`PushHandler`](push::PushHandler) set with `set_push_handler` (`#[tars_push]` generates
///   one from a trait) or read from a [`PushStream`](push::PushStream) (decoded into the
///   trait's events by [`PushStream::events`](push::PushStream::events)).
pub mod push {
    pub use tars_rpc_runtime::client::{
        FromPush, PushEvents, PushHandler, PushMessage, PushStream,
    };
    pub use tars_rpc_runtime::packet::RECONNECT_MESSAGE;
    pub use tars_rpc_runtime::server::{
        BroadcastReport, ConnectionId, PushError, PushFrame, Subscribers, Undelivered,
    };
}

/// Custom protocols, as TarsCpp's `tars_set_protocol` allows: the framing both sides share,
/// the server's [`RawServant`](protocol::RawServant) and the client's
/// [`ClientProtocol`](protocol::ClientProtocol), which a
/// [`Proxy<RawWire>`](client::Proxy#custom-protocols) speaks.
pub mod protocol {
    pub use tars_rpc_runtime::client::{ClientProtocol, RawResponse, RawWire};
    pub use tars_rpc_runtime::protocol::*;
    pub use tars_rpc_runtime::server::RawServant;
}
pub use tars_rpc_runtime::{
    Current, DecodeError, Error, Result, TarsDecode, TarsEncode, TarsStructRef, TarsType,
};

pub use tars_rpc_macros::{tars_interface, tars_push};

pub use tars_rpc_runtime::{TarsEnum, TarsStruct};

#[doc(hidden)]
pub use tars_rpc_runtime::__private;
