//! The runtime of `tars-rpc`: the TARS codec, packets and framing, the server, the client and
//! the registry.
//!
//! Use it through the `tars-rpc` crate, which re-exports everything here together with the macros.

#![warn(missing_docs)]

pub mod app;
pub mod callback;
pub mod client;
pub mod codec;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod framing;
pub mod node;
pub mod packet;
pub mod protocol;
pub mod registry;
pub mod server;
pub mod stat;
pub mod tls;

#[doc(hidden)]
pub mod __private;

mod support;

pub use codec::{
    DecodeError, TarsDecode, TarsEncode, TarsEnum, TarsStruct, TarsStructRef, TarsType,
};
pub use error::{Error, Result};
pub use server::Current;
pub use tars_rpc_macros::{TarsEnum, TarsStruct};
