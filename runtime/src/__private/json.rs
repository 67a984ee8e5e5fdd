//! What the derives' JSON methods and type names call: the struct field helpers of
//! [`crate::codec::json`]'s mapping, and an enum's value as JSON.

pub use crate::codec::JsonError;
pub use serde_json::{Map as JsonMap, Value as JsonValue};
pub use std::string::String;

use crate::codec::{TarsEnum, TarsType};

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
