//! The runtime of `tars-rpc`: the TARS codec, the request and response packets, and framing.
//!
//! Use it through the `tars-rpc` crate, which re-exports everything here together with the macros.

#![warn(missing_docs)]

pub mod codec;
pub mod framing;
pub mod packet;

#[doc(hidden)]
pub mod __private;

pub use codec::{DecodeError, TarsEnum, TarsStruct, TarsType};
pub use tars_rpc_macros::{TarsEnum, TarsStruct};
