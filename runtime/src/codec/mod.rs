//! The TARS binary codec: field heads, the writer and reader, and the traits that map Rust
//! types to TARS types.
//!
//! Writing reproduces TarsCpp's `TarsOutputStream` byte for byte; reading accepts what
//! TarsCpp, TarsGo and the Node packages write (any integer width that holds the value,
//! zero heads for floats, unknown fields of any type, which are skipped).
//!
//! Above the binary codec: [`UniAttribute`], the named values of a TUP request or reply
//! (`iVersion` 2 and 3), and [`json`], TARS values as JSON (`iVersion` 5).

pub mod error;
pub mod json;
pub mod reader;
pub mod structs;
pub mod types;
pub mod uni;
pub mod wire;
pub mod writer;

pub use error::DecodeError;
pub use json::JsonError;
pub use reader::{ByteList, TarsReader, MAX_DEPTH};
pub use structs::{TarsEnum, TarsStruct, TarsStructRef};
pub use types::{TarsDecode, TarsEncode, TarsType};
pub use uni::{TupVersion, UniAttribute};
pub use wire::{Head, WireType};
