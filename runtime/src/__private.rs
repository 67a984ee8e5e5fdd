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
pub use crate::codec::{DecodeError, Head, JsonError, TarsEnum, TarsReader, TarsStruct, TarsType};
pub use crate::error::{Error, Result as RpcResult};
pub use crate::packet::{Context, ReturnCode};
pub use crate::server::{Current, Servant};
pub use crate::server::{PushError, PushFrame};
pub use serde_json::{Map as JsonMap, Value as JsonValue};
pub use std::string::String;

/// The proxy a typed proxy wraps: a TARS [`Proxy`](crate::client::Proxy).
pub type ServantProxy = crate::client::Proxy;

/// The error for a push of a function a `#[tars_push]` trait does not have.
pub fn unknown_push(push: &PushMessage) -> Error {
    Error::new(
        ReturnCode::CLIENT_DECODE_ERR,
        format!("no push callback for function `{}`", push.function),
    )
}

mod params;
mod push;
pub use params::{
    decode_push, decode_request, encode_reply, invoke, invoke_oneway, Function, In, Out, Reply,
    Request, Ret, Slots,
};
pub use push::Pusher;

/// Writes a required field.
#[inline]
pub fn write_required<T: TarsType>(value: &T, tag: u8, buf: &mut BytesMut) {
    value.write_field(tag, buf);
}

/// Writes an optional field unless it holds its type's default value.
#[inline]
pub fn write_optional<T: TarsType>(value: &T, tag: u8, buf: &mut BytesMut) {
    if !value.is_default_value() {
        value.write_field(tag, buf);
    }
}

/// Writes an optional field with a declared default unless it equals that default (which may
/// be of another type, as `"text"` for a `String`).
#[inline]
pub fn write_unless_default<T: TarsType + PartialEq<D>, D: ?Sized>(
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
#[inline]
pub fn read_field<T: TarsType>(
    reader: &mut TarsReader<'_>,
    head: Head,
    ty: &'static str,
    field: &'static str,
) -> Result<T, DecodeError> {
    T::read_field(reader, head).map_err(|error| error.in_field(ty, field, head.tag))
}

/// The value of a required field, or the error naming it.
#[inline]
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

/// `TarsType::write_field` for a struct: its fields between begin and end markers.
#[inline]
pub fn write_struct<T: TarsStruct>(value: &T, tag: u8, buf: &mut BytesMut) {
    crate::codec::writer::write_struct(buf, tag, |buf| value.write_fields(buf));
}

/// `TarsType::read_field` for a struct.
#[inline]
pub fn read_struct<T: TarsStruct>(
    reader: &mut TarsReader<'_>,
    head: Head,
) -> Result<T, DecodeError> {
    reader.read_struct(head, T::read_fields)
}

/// `TarsType::write_field` for an enum: its value as an `int`.
#[inline]
pub fn write_enum<T: TarsEnum>(value: &T, tag: u8, buf: &mut BytesMut) {
    crate::codec::writer::write_i32(buf, tag, value.value());
}

/// `TarsType::read_field` for an enum.
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

/// `TarsType::tars_type_name` for a derived type.
#[inline]
pub fn type_name(name: &str) -> String {
    name.to_owned()
}

/// Adds a struct field to its JSON object, unless it is an `Option` holding `None`.
#[inline]
pub fn json_write_field<T: TarsType>(
    object: &mut JsonMap<String, JsonValue>,
    value: &T,
    ty: &'static str,
    field: &'static str,
) -> Result<(), JsonError> {
    if T::IS_OPTION && value.is_default_value() {
        return Ok(());
    }
    let json = value.to_json().map_err(|error| error.in_field(ty, field))?;
    object.insert(field.into(), json);
    Ok(())
}

/// The JSON object a struct reads its fields from.
#[inline]
pub fn json_object(value: &JsonValue) -> Result<&JsonMap<String, JsonValue>, JsonError> {
    value
        .as_object()
        .ok_or_else(|| JsonError::mismatch("object", value))
}

/// Reads a required struct field from its JSON object.
#[inline]
pub fn json_required<T: TarsType>(
    object: &JsonMap<String, JsonValue>,
    ty: &'static str,
    field: &'static str,
) -> Result<T, JsonError> {
    json_field(object, ty, field, false)?.ok_or(JsonError::MissingField { ty, field })
}

/// Reads an optional struct field from its JSON object: `None` when absent or of the wrong
/// JSON type (see [`crate::codec::json`]).
#[inline]
pub fn json_optional<T: TarsType>(
    object: &JsonMap<String, JsonValue>,
    ty: &'static str,
    field: &'static str,
) -> Result<Option<T>, JsonError> {
    json_field(object, ty, field, true)
}

fn json_field<T: TarsType>(
    object: &JsonMap<String, JsonValue>,
    ty: &'static str,
    field: &'static str,
    optional: bool,
) -> Result<Option<T>, JsonError> {
    let Some(value) = object.get(field) else {
        return Ok(None);
    };
    match T::from_json(value) {
        Ok(value) => Ok(Some(value)),
        // TarsCpp's readJson with isRequire = false skips a value of the wrong JSON type
        Err(JsonError::TypeMismatch { .. }) if optional => Ok(None),
        Err(error) => Err(error.in_field(ty, field)),
    }
}

/// `TarsType::to_json` for an enum: its value.
#[inline]
pub fn enum_to_json<T: TarsEnum>(value: &T) -> Result<JsonValue, JsonError> {
    Ok(JsonValue::from(value.value()))
}

/// `TarsType::from_json` for an enum.
#[inline]
pub fn enum_from_json<T: TarsEnum>(value: &JsonValue) -> Result<T, JsonError> {
    enum_variant(i32::from_json(value)?)
}

/// `TarsType::to_json_key` for an enum: its value in decimal.
#[inline]
pub fn enum_to_json_key<T: TarsEnum>(value: &T) -> Result<String, JsonError> {
    Ok(value.value().to_string())
}

/// `TarsType::from_json_key` for an enum.
#[inline]
pub fn enum_from_json_key<T: TarsEnum>(key: &str) -> Result<T, JsonError> {
    enum_variant(i32::from_json_key(key)?)
}

fn enum_variant<T: TarsEnum>(value: i32) -> Result<T, JsonError> {
    T::from_value(value).ok_or(JsonError::UnknownEnumValue {
        ty: T::ENUM_NAME,
        value: value.into(),
    })
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
