//! The TARS binary codec: field heads, the writer and reader, and the traits that map Rust
//! types to TARS types.
//!
//! Writing reproduces TarsCpp's `TarsOutputStream` byte for byte; reading accepts what
//! TarsCpp, TarsGo and the Node packages write (any integer width that holds the value,
//! zero heads for floats, unknown fields of any type, which are skipped).

pub mod error;
pub mod reader;
pub mod structs;
pub mod types;
pub mod wire;
pub mod writer;

pub use error::DecodeError;
pub use reader::{ByteList, TarsReader, MAX_DEPTH};
pub use structs::{TarsEnum, TarsStruct};
pub use types::TarsType;
pub use wire::{Head, WireType};
