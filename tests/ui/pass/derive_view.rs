//! Borrowed views: structs with a lifetime parameter read `&str`, `&[u8]` and `Cow` fields in
//! place and write them, nest owned structs and other views, and take type parameters.
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use tars_rpc::{TarsStruct, TarsStructRef};

#[derive(TarsStruct, Debug, PartialEq, Default)]
struct Owned {
    #[tars(tag = 0)]
    id: i32,
}

#[derive(TarsStruct, Debug, PartialEq)]
struct Inner<'a> {
    #[tars(tag = 0)]
    text: &'a str,
}

#[derive(TarsStruct, Debug, PartialEq)]
struct Tuple<'a>(#[tars(tag = 0)] &'a str, #[tars(tag = 1, optional)] &'a [u8]);

#[derive(TarsStruct, Debug, PartialEq)]
struct Generic<'a, T> {
    #[tars(tag = 0)]
    items: Vec<T>,
    #[tars(tag = 1)]
    label: &'a str,
}

#[derive(TarsStruct, Debug, PartialEq)]
struct Everything<'a, 'b> {
    #[tars(tag = 0)]
    text: &'a str,
    #[tars(tag = 1)]
    bytes: &'b [u8],
    #[tars(tag = 2, optional)]
    cow_text: Cow<'a, str>,
    #[tars(tag = 3, optional)]
    cow_bytes: Cow<'a, [u8]>,
    #[tars(tag = 4, default = "none")]
    with_default: &'a str,
    #[tars(tag = 5)]
    maybe: Option<&'a str>,
    #[tars(tag = 6, optional)]
    list: Vec<&'a str>,
    #[tars(tag = 7, optional)]
    sorted: BTreeMap<&'a str, Vec<&'b [u8]>>,
    #[tars(tag = 8, optional)]
    hashed: HashMap<i64, &'a str>,
    #[tars(tag = 9)]
    nested: Inner<'a>,
    #[tars(tag = 10, optional)]
    views: Vec<Inner<'b>>,
    #[tars(tag = 11)]
    owned: Owned,
    #[tars(tag = 12, optional)]
    shared: Bytes,
    #[tars(tag = 13)]
    generic: Generic<'a, Owned>,
    #[tars(tag = 14)]
    tuple: Tuple<'b>,
    #[tars(tag = 15, optional)]
    boxed: Option<Box<Inner<'a>>>,
}

fn decode(input: &[u8]) -> Option<Everything<'_, '_>> {
    Everything::decode_from(input).ok()
}

/// A view with two lifetimes is written at the top level and as a field.
fn encode(view: &Everything<'_, '_>, buf: &mut bytes::BytesMut) -> Bytes {
    tars_rpc::TarsEncode::write_field(view, 3, buf);
    view.to_bytes()
}

fn main() {
    assert!(decode(b"").is_none());
    let _ = encode;
    let _ = <Generic<'_, i32> as TarsStructRef<'_>>::decode_from(b"");
}
