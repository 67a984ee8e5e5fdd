//! Procedural macros of `tars-rpc`. Use them through the `tars-rpc` crate, which documents them.
//!
//! Each macro goes through three stages: `parse` reads the Rust item and its `#[tars(...)]`
//! attributes, `model` checks them and builds a description of what to generate, `generate`
//! writes the code, which calls into the runtime through `tars_rpc::__private`.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod generate;
mod model;
mod parse;

/// Derives the TARS encoding of a struct: `TarsType` and `TarsStruct`.
///
/// Every field carries `#[tars(tag = N)]` with its own tag from 0 to 255. Fields go on the
/// wire in ascending tag order whatever their order in the struct.
///
/// | field attribute | on write | when absent on read |
/// |---|---|---|
/// | `tag = N` (required) | always written | a `DecodeError::MissingField` error |
/// | `tag = N, optional` | left off when zero or empty | `Default::default()` |
/// | `tag = N, default = VALUE` (optional) | left off when equal to `VALUE` | `VALUE` |
/// | an `Option<T>` field (optional) | left off when `None` | `None` |
///
/// `#[tars(crate = "path")]` on the struct names this crate when it is not `::tars_rpc`
/// (renamed in Cargo.toml, or re-exported). Unknown tags on the wire are skipped.
///
/// ```
/// use tars_rpc::TarsStruct;
///
/// #[derive(TarsStruct, Debug, PartialEq, Default)]
/// struct User {
///     #[tars(tag = 1)]
///     name: String,
///     #[tars(tag = 0)] // written first
///     id: i32,
///     #[tars(tag = 2, default = 18)]
///     age: i32,
/// }
///
/// let user = User { name: "ann".into(), id: 1, age: 18 };
/// assert_eq!(&user.to_bytes()[..], b"\x00\x01\x16\x03ann");
/// assert_eq!(User::decode_from(b"\x00\x01\x16\x03ann").unwrap(), user);
/// ```
#[proc_macro_derive(TarsStruct, attributes(tars))]
pub fn derive_tars_struct(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    parse::derive::parse_struct(&input)
        .and_then(model::derive::StructModel::build)
        .map(|model| generate::derive::struct_impl(&model))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `TarsType` and `TarsEnum` for an enum without fields: an `int`
/// on the wire, numbered as in TARS IDL (from 0, or one more than the previous variant).
///
/// ```
/// use tars_rpc::{codec::TarsEnum as _, TarsEnum};
///
/// #[derive(TarsEnum, Debug, Clone, Copy, PartialEq)]
/// enum State { Idle, Busy = 10, Gone }
/// assert_eq!(State::Gone.value(), 11);
/// ```
#[proc_macro_derive(TarsEnum, attributes(tars))]
pub fn derive_tars_enum(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    parse::derive::parse_enum(&input)
        .and_then(model::derive::EnumModel::build)
        .map(|model| generate::derive::enum_impl(&model))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
