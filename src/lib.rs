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

pub use tars_rpc_runtime::{client, codec, endpoint, framing, packet, protocol, push, server};
pub use tars_rpc_runtime::{Current, DecodeError, Error, Result, TarsType};

pub use tars_rpc_macros::{tars_interface, tars_push};

pub use tars_rpc_runtime::{TarsEnum, TarsStruct};

#[doc(hidden)]
pub use tars_rpc_runtime::__private;
