//! What generated code calls. Not public API: it may change in any release.
//!
//! Derived structs and enums go through the field helpers below; interface and push methods
//! through the parameter codec of `params`, each method naming itself with a generated
//! [`Function`] marker.

pub use bytes::{Bytes, BytesMut};
pub use core::clone::Clone;
pub use core::default::Default;
pub use core::option::Option::{self, None, Some};
pub use core::result::Result::{self, Err, Ok};
pub use futures::future::BoxFuture;
pub use std::boxed::Box;
pub use std::sync::Arc;
pub use std::time::Duration;

pub use crate::client::{FromPush, PushHandler, PushMessage, TypedProxy};
pub use crate::codec::{
    DecodeError, Head, TarsDecode, TarsEncode, TarsEnum, TarsReader, TarsStruct, TarsStructRef,
    TarsType,
};
pub use crate::error::{Error, Result as RpcResult};
pub use crate::packet::{Context, ReturnCode};
pub use crate::server::{Current, Servant};
pub use crate::server::{PushError, PushFrame};

/// The proxy a typed proxy wraps: a TARS [`Proxy`](crate::client::Proxy).
pub type ServantProxy = crate::client::Proxy;

/// The error for a push of a function a `#[tars_push]` trait does not have.
pub fn unknown_push(push: &PushMessage) -> Error {
    Error::new(
        ReturnCode::CLIENT_DECODE_ERR,
        format!("no push callback for function `{}`", push.function),
    )
}

mod json;
mod named;
mod params;
mod push;
pub use json::{
    enum_from_json, enum_from_json_key, enum_to_json, enum_to_json_key, json_object, json_optional,
    json_required, json_write_field, type_name, JsonError, JsonMap, JsonValue, String,
};
pub use named::{Named, NamedError};
pub use params::{
    decode_push, decode_request, encode_reply, invoke, invoke_oneway, Function, In, Out, Reply,
    Request, Ret, Slots,
};
pub use push::Pusher;

/// Writes a required field.
#[inline]
pub fn write_required<T: TarsEncode + ?Sized>(value: &T, tag: u8, buf: &mut BytesMut) {
    value.write_field(tag, buf);
}

/// Writes an optional field unless it holds its type's default value.
#[inline]
pub fn write_optional<T: TarsEncode + ?Sized>(value: &T, tag: u8, buf: &mut BytesMut) {
    if !value.is_default_value() {
        value.write_field(tag, buf);
    }
}

/// Writes an optional field with a declared default unless it equals that default (which may
/// be of another type, as `"text"` for a `String`).
#[inline]
pub fn write_unless_default<T: TarsEncode + PartialEq<D> + ?Sized, D: ?Sized>(
    value: &T,
    default: &D,
    tag: u8,
    buf: &mut BytesMut,
) {
    if *value != *default {
        value.write_field(tag, buf);
    }
}

/// Reads a struct field, naming the struct, field and tag in any error.
#[inline(always)]
pub fn read_field<'de, T: TarsDecode<'de>>(
    reader: &mut TarsReader<'de>,
    head: Head,
    ty: &'static str,
    field: &'static str,
) -> Result<T, DecodeError> {
    T::read_field(reader, head).map_err(|error| error.in_field(ty, field, head.tag))
}

/// The value of a required field, or the error naming it.
#[inline(always)]
pub fn required<T>(
    value: Option<T>,
    ty: &'static str,
    field: &'static str,
    tag: u8,
) -> Result<T, DecodeError> {
    match value {
        Some(value) => Ok(value),
        None => Err(DecodeError::MissingField { ty, field, tag }),
    }
}

/// `TarsEncode::write_field` for a struct: its fields between begin and end markers.
#[inline]
pub fn write_struct<T: TarsStruct>(value: &T, tag: u8, buf: &mut BytesMut) {
    crate::codec::writer::write_struct(buf, tag, |buf| value.write_fields(buf));
}

/// `TarsEncode::write_field` for a borrowed view: the fields `write_fields` writes, between
/// begin and end markers.
#[inline]
pub fn write_struct_with(tag: u8, buf: &mut BytesMut, write_fields: impl FnOnce(&mut BytesMut)) {
    crate::codec::writer::write_struct(buf, tag, write_fields);
}

/// `TarsDecode::read_field` for a struct.
#[inline(always)]
pub fn read_struct<T: TarsStruct>(
    reader: &mut TarsReader<'_>,
    head: Head,
) -> Result<T, DecodeError> {
    reader.read_struct(head, T::read_fields)
}

/// `TarsDecode::read_field` for a borrowed view.
#[inline(always)]
pub fn read_struct_ref<'de, T: TarsStructRef<'de>>(
    reader: &mut TarsReader<'de>,
    head: Head,
) -> Result<T, DecodeError> {
    reader.read_struct(head, T::read_fields)
}

/// `TarsEncode::write_field` for an enum: its value as an `int`.
#[inline]
pub fn write_enum<T: TarsEnum>(value: &T, tag: u8, buf: &mut BytesMut) {
    crate::codec::writer::write_i32(buf, tag, value.value());
}

/// `TarsDecode::read_field` for an enum.
#[inline]
pub fn read_enum<T: TarsEnum>(reader: &mut TarsReader<'_>, head: Head) -> Result<T, DecodeError> {
    let value = reader.read_i32(head)?;
    match T::from_value(value) {
        Some(value) => Ok(value),
        None => Err(DecodeError::UnknownEnumValue {
            ty: T::ENUM_NAME,
            value,
        }),
    }
}

/// The reply to a function the servant does not have (-3).
pub fn unknown_function<'a>(current: &Current) -> BoxFuture<'a, RpcResult<Bytes>> {
    let error = Error::new(
        ReturnCode::SERVER_NO_FUNC,
        format!(
            "servant {} has no function {}",
            current.servant_name(),
            current.func_name()
        ),
    );
    Box::pin(async move { Err(error) })
}
