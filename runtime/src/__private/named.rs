//! Parameters by name: the bodies of TUP (`iVersion` 2 and 3) and JSON (`iVersion` 5) requests
//! and replies, as TarsCpp's generated `onDispatch` (tars2cpp, `generateServantDispatch`)
//! reads and writes them.
//!
//! * A TUP request is a [`UniAttribute`] holding each input under its name; an out-parameter
//!   is read with `getByDefault`, its default when absent or unreadable. The reply holds the
//!   return value under `""` and under `"tars_ret"`, and each out-parameter under its name.
//! * A JSON request is an object holding each input under its name (`readJson(..., true)`),
//!   out-parameters read leniently (`readJson(..., false)`). The reply is an object holding
//!   each out-parameter under its name and the return value under `"tars_ret"`.
//!
//! The codes of failures are those TarsCpp's `ServantHandle::handleTarsProtocol` gives the
//! exception each failure throws there:
//!
//! | failure | TarsCpp throws | code |
//! |---|---|---|
//! | a TUP body or value that does not decode | `TarsDecodeException` | -1 (`TARSSERVERDECODEERR`) |
//! | a TUP input missing | `runtime_error("UniAttribute not found key:...")` | -99 (`TARSSERVERUNKNOWNERR`) |
//! | a JSON body that does not parse, an input missing or of the wrong type | `TC_Json_Exception` | -99 |

use bytes::Bytes;

use crate::codec::json::RETURN_VALUE_NAME as JSON_RETURN;
use crate::codec::uni::RETURN_VALUE_NAME as TUP_RETURN;
use crate::codec::{DecodeError, JsonError, TarsType, TupVersion, UniAttribute};
use crate::packet::{ReturnCode, Version};

use super::json::{JsonMap, JsonValue};

/// The name the return value goes by in errors; where it is put depends on the encoding.
pub const RETURN: &str = "return value";

/// The values of a request or reply by name.
#[derive(Debug)]
pub enum Named {
    /// A TUP body.
    Tup(UniAttribute),
    /// A JSON body.
    Json(JsonMap<String, JsonValue>),
}

/// Why a value by name could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum NamedError {
    /// A required value is absent.
    #[error("parameter {0} is missing")]
    Missing(&'static str),
    /// The TUP body, or a value in it, does not decode.
    #[error("{0}")]
    Tup(#[source] DecodeError),
    /// The JSON body does not parse or is not an object.
    #[error("the JSON body is not an object: {0}")]
    Body(String),
    /// A JSON value does not read as its parameter's type, or a value has no JSON mapping.
    #[error("parameter {name}: {source}")]
    Json {
        /// The parameter's wire name.
        name: &'static str,
        /// Why.
        #[source]
        source: JsonError,
    },
}

impl NamedError {
    /// The code TarsCpp's servants answer this failure with (see the [module docs](self)).
    pub fn server_code(&self) -> ReturnCode {
        match self {
            Self::Tup(_) => ReturnCode::SERVER_DECODE_ERR,
            Self::Missing(_) | Self::Body(_) | Self::Json { .. } => ReturnCode::SERVER_UNKNOWN_ERR,
        }
    }
}

impl Named {
    /// An empty body for a request or reply of `version`; `None` if it has no named codec.
    pub fn for_version(version: Version) -> Option<Self> {
        match TupVersion::from_value(version.0) {
            Some(tup) => Some(Self::Tup(UniAttribute::new(tup))),
            None if version == Version::JSON => Some(Self::Json(JsonMap::new())),
            None => None,
        }
    }

    /// Reads the body of a request or reply of `version`; `None` if it has no named codec.
    pub fn decode(version: Version, bytes: &Bytes) -> Option<Result<Self, NamedError>> {
        match TupVersion::from_value(version.0) {
            Some(tup) => Some(
                UniAttribute::decode_bytes(bytes, tup)
                    .map(Self::Tup)
                    .map_err(NamedError::Tup),
            ),
            None if version == Version::JSON => Some(
                // serde_json bounds nesting (128 levels) and reads no more than the input
                match serde_json::from_slice::<JsonValue>(bytes) {
                    Ok(JsonValue::Object(object)) => Ok(Self::Json(object)),
                    Ok(other) => Err(NamedError::Body(format!("found {}", json_kind(&other)))),
                    Err(error) => Err(NamedError::Body(error.to_string())),
                },
            ),
            None => None,
        }
    }

    /// The body's bytes.
    ///
    /// # Errors
    /// None in practice: writing a JSON value to memory cannot fail.
    pub fn encode(&self) -> Result<Bytes, NamedError> {
        match self {
            Self::Tup(attribute) => Ok(attribute.encode()),
            Self::Json(object) => serde_json::to_vec(object)
                .map(Bytes::from)
                .map_err(|error| NamedError::Body(error.to_string())),
        }
    }

    fn put<T: TarsType>(&mut self, name: &'static str, value: &T) -> Result<(), NamedError> {
        match self {
            Self::Tup(attribute) => attribute.put(name, value),
            Self::Json(object) => {
                let json = value
                    .to_json()
                    .map_err(|source| NamedError::Json { name, source })?;
                object.insert(name.to_owned(), json);
            }
        }
        Ok(())
    }

    /// The value under `name`, `None` if absent.
    pub fn get<T: TarsType>(&self, name: &'static str) -> Result<Option<T>, NamedError> {
        match self {
            Self::Tup(attribute) => match attribute.get(name) {
                Ok(value) => Ok(Some(value)),
                Err(DecodeError::MissingAttribute { .. }) => Ok(None),
                Err(error) => Err(NamedError::Tup(error)),
            },
            Self::Json(object) => match object.get(name) {
                None => Ok(None),
                Some(json) => T::from_json(json)
                    .map(Some)
                    .map_err(|source| NamedError::Json { name, source }),
            },
        }
    }
}

/// The wire name at `index`; "?" only if a marker's names fell out of step with its slots.
pub fn name_at(names: &'static [&'static str], index: usize) -> &'static str {
    names.get(index).copied().unwrap_or("?")
}

/// Puts an input or out-parameter under its name.
pub fn put_value<T: TarsType>(
    out: &mut Named,
    name: &'static str,
    value: &T,
) -> Result<(), NamedError> {
    out.put(name, value)
}

/// Puts the return value where TarsCpp's servants put it: under `""` and `"tars_ret"` in TUP,
/// under `"tars_ret"` in JSON.
pub fn put_return<T: TarsType>(
    out: &mut Named,
    _name: &'static str,
    value: &T,
) -> Result<(), NamedError> {
    if let Named::Tup(_) = out {
        out.put(TUP_RETURN, value)?;
    }
    out.put(JSON_RETURN, value)
}

/// A required input.
pub fn get_required<T: TarsType>(input: &Named, name: &'static str) -> Result<T, NamedError> {
    input.get(name)?.ok_or(NamedError::Missing(name))
}

/// An out-parameter of a reply: its default when absent.
pub fn get_or_default<T: TarsType + Default>(
    input: &Named,
    name: &'static str,
) -> Result<T, NamedError> {
    Ok(input.get(name)?.unwrap_or_default())
}

/// The return value of a reply: under `""` in TUP (or `"tars_ret"`, where only TarsGo's
/// servants put it), under `"tars_ret"` in JSON.
pub fn get_return<T: TarsType>(input: &Named, _name: &'static str) -> Result<T, NamedError> {
    if let Named::Tup(_) = input {
        if let Some(value) = input.get(TUP_RETURN)? {
            return Ok(value);
        }
    }
    input
        .get(JSON_RETURN)?
        .ok_or(NamedError::Missing(JSON_RETURN))
}

fn json_kind(value: &JsonValue) -> &'static str {
    match value {
        JsonValue::Null => "null",
        JsonValue::Bool(_) => "a boolean",
        JsonValue::Number(_) => "a number",
        JsonValue::String(_) => "a string",
        JsonValue::Array(_) => "an array",
        JsonValue::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tup_replies_hold_the_return_value_twice() {
        let mut out = Named::for_version(Version::TUP).unwrap();
        put_return(&mut out, RETURN, &7i32).unwrap();
        put_value(&mut out, "sRsp", &"x".to_string()).unwrap();
        let Named::Tup(attribute) = &out else {
            panic!("not TUP")
        };
        let names: Vec<&str> = attribute.names().collect();
        assert_eq!(names, ["", "sRsp", "tars_ret"]);
        let bytes = out.encode().unwrap();
        let read = Named::decode(Version::TUP, &bytes).unwrap().unwrap();
        assert_eq!(get_return::<i32>(&read, RETURN).unwrap(), 7);
    }

    #[test]
    fn json_bodies_are_objects() {
        let bytes = Bytes::from_static(br#"{"a":1}"#);
        let read = Named::decode(Version::JSON, &bytes).unwrap().unwrap();
        assert_eq!(get_required::<i32>(&read, "a").unwrap(), 1);
        let missing = get_required::<i32>(&read, "b").unwrap_err();
        assert_eq!(missing.server_code(), ReturnCode::SERVER_UNKNOWN_ERR);
        let Some(Err(error)) = Named::decode(Version::JSON, &Bytes::from_static(b"[1]")) else {
            panic!("an array read as an object");
        };
        assert_eq!(
            error.to_string(),
            "the JSON body is not an object: found an array"
        );
        let Some(Err(error)) = Named::decode(Version::TUP, &Bytes::from_static(b"\x08")) else {
            panic!("a truncated TUP body decoded");
        };
        assert_eq!(error.server_code(), ReturnCode::SERVER_DECODE_ERR);
        assert!(Named::decode(Version::XML, &bytes).is_none());
    }
}
