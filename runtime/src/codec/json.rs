//! TARS values as JSON, as TarsCpp's `TarsJson.h` (`JsonOutput::writeJson`,
//! `JsonInput::readJson`) and the `writeToJson`/`readFromJson` that tars2cpp generates for
//! structs map them: the body of a TUP request or reply with `iVersion` 5, which TarsGateway
//! forwards from HTTP callers.
//!
//! Every [`TarsType`] converts with [`TarsType::to_json`] and [`TarsType::from_json`]; the
//! functions here are shorthands that also go through text.
//!
//! ```
//! use std::collections::BTreeMap;
//! use tars_rpc::codec::json;
//! use tars_rpc::TarsStruct;
//!
//! #[derive(TarsStruct, Debug, PartialEq)]
//! #[tars(name = "Demo.Req")]
//! struct Req {
//!     #[tars(tag = 0)]
//!     user_id: i64,
//!     #[tars(tag = 1)]
//!     scores: BTreeMap<i32, String>,
//! }
//!
//! let req = Req { user_id: 1 << 60, scores: [(7, "x".to_string())].into() };
//! let text = json::to_string(&req).unwrap();
//! assert_eq!(text, r#"{"scores":{"7":"x"},"userId":1152921504606846976}"#);
//! assert_eq!(json::from_str::<Req>(&text).unwrap(), req);
//! ```
//!
//! # The mapping
//!
//! Where the TarsCpp sources say so: `TarsJson.h` (TarsCpp 3.x, the `std::enable_if` version)
//! and `tools/tars2cpp/tars2cpp.cpp` (`Tars2Cpp::writeToJson`, `readFromJson`, `generateH`),
//! with `util/src/tc_json.cpp` (`TC_Json::writeNum`) and `util/src/tc_common.cpp`
//! (`TC_Common::tostr`).
//!
//! | TARS (Rust) | JSON | TarsCpp |
//! |---|---|---|
//! | `bool` | `true` / `false`; nothing else reads as a bool | `readJson` for `is_same<T, bool>`: `eJsonTypeBoolean` only |
//! | integers (`i8` … `i64`, `u8`, `u16`, `u32`) | an integer number, exact over the whole `i64` range (no rounding at 2^53) | `writeJson` for `is_integral`: `JsonValueNum((int64_t)b, true)`, written from `lvalue` by `writeNum`; read from `lvalue` |
//! | `f32`, `f64` | a number; NaN and infinities as `null`, and `null` reads as NaN | `writeJson` for `is_floating_point`; `writeNum` writes NaN as `null`; `readJson` turns `null` into `quiet_NaN` |
//! | `String` | a string | `readJson` for `is_same<T, string>` |
//! | `vector<byte>` (`Vec<u8>`, `Vec<i8>`, `Bytes`) | an array of numbers, **signed** (byte 255 is `-1`), as for any vector | `vector<tars::Char>` goes through the generic `vector<T>` overload, each `Char` an integral |
//! | `vector<T>` (`Vec<T>`) | an array | `writeJson(const std::vector<T>&)` |
//! | `map<string, V>` | an object | `writeJson(const std::map<string, V>&)` |
//! | `map<K, V>`, `K` an integer or enum | an object keyed by the decimal number (`"7"`) | the `is_integral<K>` / `is_enum<K>` overloads: `TC_Common::tostr(key)`, read back with `strto` |
//! | `map<bool, V>` | an object keyed by `"1"` and `"0"` | `TC_Common::tostr<bool>` writes `'1'`/`'0'` |
//! | `map<K, V>`, `K` a struct | an object keyed by the key's own JSON text | the `TarsStructBase` key overload: `writeToJsonString()`, `readFromJsonString()` |
//! | struct | an object with every field under its name, whatever its value | `Tars2Cpp::writeToJson`: "for json, don't check defaults" (`if (true \|\| ...)`) |
//! | enum | its value as an integer | `writeJson((tars::Int32)e)` in `Tars2Cpp::writeToJson` and the `is_enum` overloads |
//!
//! Reading a struct, every field is looked up by name and other names are ignored. A required
//! field that is absent fails; an optional one keeps its default (its declared `default`, as
//! `resetDefautlt()` sets it). An optional field whose value has the wrong JSON type (`null`
//! included, except for floats, where `null` is NaN) also keeps its default: TarsCpp passes
//! `isRequire = false` for optional fields, and every `readJson` then skips a mismatch
//! silently. An `Option<T>` field is left out of the
//! object when `None` (TarsCpp has no such fields; absent is how `readJson` sees "no value").
//!
//! Field names come from `#[tars(name = "...")]` on the field, or else the Rust name in
//! lowerCamelCase (`user_id` is `userId`), as `#[tars_interface]` names parameters.
//!
//! # Where this differs from TarsCpp
//!
//! * An integer that does not fit its type (`300` for a `byte`, `-1` for a `u32`), a fraction
//!   (`1.5` for an `int`), or an enum value with no variant is an error naming the field;
//!   TarsCpp casts (`(T)lvalue`) and keeps whatever bits result.
//! * `map<byte, V>` and `map<unsigned byte, V>` keys are written as decimal numbers, as they are
//!   read: TarsCpp 3.x writes them with `tostr<char>` (the character itself) but reads them with
//!   `strto<Int32>`, so its own output does not read back; older TarsCpp wrote
//!   `tostr((Int32)key)`, as here.
//! * `null` reads as NaN for any float field, not only optional ones, so that what is written
//!   reads back.
//! * Floats are written in their shortest form that reads back exactly (`0.1`, `1e-300`);
//!   TarsCpp's `TC_Common::tostr<double>` writes `std::to_string` (six decimals, trailing
//!   zeros trimmed), which turns `1e-300` into `0`.
//! * Map keys that are lists or maps (which TarsCpp does not compile) are keyed by their JSON
//!   text, as struct keys are.
//! * Bad input is an error, never undefined behaviour: a required field that is absent is
//!   [`JsonError::MissingField`] (TarsCpp dereferences a null pointer there).

pub use serde_json::{self, Map, Value};

use super::TarsType;

/// The name under which a JSON (`iVersion` 5) reply holds a function's return value, beside
/// its output parameters by name: what the code tars2node generates writes
/// (`_data_["tars_ret"] = _ret`) and TarsGateway's documented replies show
/// (`{"tars_ret": 0, "rsp": {...}}`).
pub const RETURN_VALUE_NAME: &str = "tars_ret";

/// Why a JSON value could not be read as a TARS value, or a TARS value not written as JSON.
///
/// Errors inside struct fields, list elements and map entries are wrapped so that the message
/// names the whole path (`Req.scores: ["7"]: type mismatch: expected string, found number`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The JSON value has the wrong type.
    #[error("type mismatch: expected {expected}, found {found}")]
    TypeMismatch {
        /// What the TARS type reads from.
        expected: &'static str,
        /// The JSON type found (`null`, `boolean`, `number`, `string`, `array`, `object`).
        found: &'static str,
    },
    /// A number that the TARS type cannot hold: out of range, or a fraction for an integer.
    #[error("{value} is not a valid {expected}")]
    OutOfRange {
        /// The TARS type.
        expected: &'static str,
        /// The number as written in the JSON.
        value: String,
    },
    /// A map key that does not read as the map's key type.
    #[error("map key {key:?} is not a {expected}")]
    BadKey {
        /// The key as found.
        key: String,
        /// The key type.
        expected: &'static str,
    },
    /// A required struct field is absent.
    #[error("{ty}.{field}: required field is missing")]
    MissingField {
        /// The struct.
        ty: &'static str,
        /// The field's JSON name.
        field: &'static str,
    },
    /// An enum value with no variant.
    #[error("{ty}: unknown enum value {value}")]
    UnknownEnumValue {
        /// The enum.
        ty: &'static str,
        /// The value found.
        value: i64,
    },
    /// A type whose [`TarsType`] implementation has no JSON mapping (a hand-written
    /// implementation that does not override [`TarsType::to_json`] and [`TarsType::from_json`]).
    #[error("`{ty}` has no JSON mapping")]
    Unsupported {
        /// The Rust type.
        ty: &'static str,
    },
    /// The text is not JSON.
    #[error("invalid JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// An error inside a struct field.
    #[error("{ty}.{field}: {source}")]
    InField {
        /// The struct.
        ty: &'static str,
        /// The field's JSON name.
        field: &'static str,
        /// What went wrong inside it.
        source: Box<JsonError>,
    },
    /// An error inside a list element.
    #[error("[{index}]: {source}")]
    InElement {
        /// The element's index.
        index: usize,
        /// What went wrong inside it.
        source: Box<JsonError>,
    },
    /// An error inside a map entry.
    #[error("[{key:?}]: {source}")]
    InEntry {
        /// The entry's key, as in the JSON object.
        key: String,
        /// What went wrong inside it.
        source: Box<JsonError>,
    },
}

impl JsonError {
    /// The innermost error, beneath any [`JsonError::InField`], [`JsonError::InElement`] and
    /// [`JsonError::InEntry`] wrappers.
    pub fn root_cause(&self) -> &JsonError {
        match self {
            Self::InField { source, .. }
            | Self::InElement { source, .. }
            | Self::InEntry { source, .. } => source.root_cause(),
            other => other,
        }
    }

    /// Wraps this error as the error of a struct field.
    #[cold]
    pub fn in_field(self, ty: &'static str, field: &'static str) -> Self {
        Self::InField {
            ty,
            field,
            source: Box::new(self),
        }
    }

    #[cold]
    fn in_element(self, index: usize) -> Self {
        Self::InElement {
            index,
            source: Box::new(self),
        }
    }

    #[cold]
    fn in_entry(self, key: &str) -> Self {
        Self::InEntry {
            key: key.to_owned(),
            source: Box::new(self),
        }
    }

    /// A mismatch between `expected` and what `found` is.
    #[cold]
    pub fn mismatch(expected: &'static str, found: &Value) -> Self {
        Self::TypeMismatch {
            expected,
            found: kind(found),
        }
    }
}

/// The JSON type of a value, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

type Result<T> = std::result::Result<T, JsonError>;

/// `value` as JSON.
///
/// # Errors
/// [`JsonError::Unsupported`] for a type (possibly nested) with no JSON mapping.
pub fn to_value<T: TarsType>(value: &T) -> Result<Value> {
    value.to_json()
}

/// `value` as compact JSON text.
///
/// # Errors
/// As [`to_value`].
pub fn to_string<T: TarsType>(value: &T) -> Result<String> {
    Ok(value.to_json()?.to_string())
}

/// Reads a `T` from a JSON value.
///
/// # Errors
/// A [`JsonError`] naming the field, element or entry that does not read as its type.
pub fn from_value<T: TarsType>(value: &Value) -> Result<T> {
    T::from_json(value)
}

/// Reads a `T` from JSON text.
///
/// # Errors
/// [`JsonError::Syntax`] if the text is not JSON (nesting deeper than 128 levels included),
/// else as [`from_value`].
pub fn from_str<T: TarsType>(text: &str) -> Result<T> {
    let value: Value = serde_json::from_str(text)?;
    T::from_json(&value)
}

/// Reads an integer of the TARS type `expected` from a JSON number.
///
/// Whole numbers written with a fraction or exponent (`3.0`, `1e3`) are accepted when exact.
pub(crate) fn read_int<T: TryFrom<i64>>(value: &Value, expected: &'static str) -> Result<T> {
    let Value::Number(number) = value else {
        return Err(JsonError::mismatch(expected, value));
    };
    let wide = match (number.as_i64(), number.as_f64()) {
        (Some(int), _) => Some(int),
        (None, Some(float)) if float.fract() == 0.0 && float.abs() < 9.3e18 => Some(float as i64),
        _ => None,
    };
    wide.and_then(|wide| T::try_from(wide).ok())
        .ok_or_else(|| JsonError::OutOfRange {
            expected,
            value: number.to_string(),
        })
}

/// A float as JSON: NaN and infinities as `null`, as `TC_Json::writeNum` writes NaN.
pub(crate) fn float_to_json(value: f64) -> Value {
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// A float from JSON: a number, or `null` for NaN.
pub(crate) fn float_from_json(value: &Value, expected: &'static str) -> Result<f64> {
    match value {
        Value::Number(number) => number.as_f64().ok_or_else(|| JsonError::OutOfRange {
            expected,
            value: number.to_string(),
        }),
        Value::Null => Ok(f64::NAN),
        other => Err(JsonError::mismatch(expected, other)),
    }
}

/// A list as a JSON array, element by element.
pub(crate) fn list_to_json<T: TarsType>(items: &[T]) -> Result<Value> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| item.to_json().map_err(|error| error.in_element(index)))
        .collect::<Result<Vec<_>>>()
        .map(Value::Array)
}

/// A list from a JSON array, element by element.
pub(crate) fn list_from_json<T: TarsType>(value: &Value) -> Result<Vec<T>> {
    let Value::Array(items) = value else {
        return Err(JsonError::mismatch("array", value));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| T::from_json(item).map_err(|error| error.in_element(index)))
        .collect()
}

/// A byte list as an array of signed numbers, as TarsCpp writes `vector<tars::Char>`.
pub(crate) fn bytes_to_json(bytes: &[u8]) -> Value {
    Value::Array(bytes.iter().map(|&b| Value::from(b as i8)).collect())
}

/// A byte list from an array of numbers, each from -128 to 255 (signed or unsigned bytes).
pub(crate) fn bytes_from_json(value: &Value) -> Result<Vec<u8>> {
    let Value::Array(items) = value else {
        return Err(JsonError::mismatch("array", value));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let wide: i16 = read_int(item, "byte").map_err(|error| error.in_element(index))?;
            u8::try_from(wide)
                .or_else(|_| i8::try_from(wide).map(|b| b as u8))
                .map_err(|_| {
                    JsonError::OutOfRange {
                        expected: "byte",
                        value: wide.to_string(),
                    }
                    .in_element(index)
                })
        })
        .collect()
}

/// A map as a JSON object, each key by [`TarsType::to_json_key`].
pub(crate) fn map_to_json<'a, K, V>(entries: impl Iterator<Item = (&'a K, &'a V)>) -> Result<Value>
where
    K: TarsType + 'a,
    V: TarsType + 'a,
{
    let mut object = Map::new();
    for (key, value) in entries {
        let key = key.to_json_key()?;
        let value = value.to_json().map_err(|error| error.in_entry(&key))?;
        object.insert(key, value);
    }
    Ok(Value::Object(object))
}

/// A map from a JSON object, each key by [`TarsType::from_json_key`].
pub(crate) fn map_from_json<K: TarsType, V: TarsType>(
    value: &Value,
    mut insert: impl FnMut(K, V),
) -> Result<()> {
    let Value::Object(object) = value else {
        return Err(JsonError::mismatch("object", value));
    };
    for (key, value) in object {
        let parsed_key = K::from_json_key(key).map_err(|error| error.in_entry(key))?;
        let value = V::from_json(value).map_err(|error| error.in_entry(key))?;
        insert(parsed_key, value);
    }
    Ok(())
}

/// An integer map key: its decimal number.
pub(crate) fn int_key<T: std::str::FromStr>(key: &str, expected: &'static str) -> Result<T> {
    key.trim().parse().map_err(|_| JsonError::BadKey {
        key: key.to_owned(),
        expected,
    })
}

/// A map key of a type that is not a number or string: its JSON text, as TarsCpp keys a map by
/// a struct's `writeToJsonString()`.
pub(crate) fn text_key<T: TarsType>(value: &T) -> Result<String> {
    Ok(value.to_json()?.to_string())
}

/// Reads a key written by [`text_key`].
pub(crate) fn from_text_key<T: TarsType>(key: &str) -> Result<T> {
    let value: Value = serde_json::from_str(key)?;
    T::from_json(&value)
}
