//! [`UniAttribute`]: the named values of a TUP request or reply, as TarsCpp's
//! `tup::UniAttribute` (`servant/tup/tup.h`) and `@tars/stream`'s `UniAttribute` hold them.
//!
//! A TUP packet is an ordinary TARS `RequestPacket` whose `sBuffer` is not the parameters at
//! their tags but a map from parameter names to values, each value encoded on its own. The
//! packet's `iVersion` says which map:
//!
//! * **TUP 3** (`TUP_SIMPLE`, TarsCpp's only form today): `map<string, vector<byte>>`, the name
//!   to the value's bytes.
//! * **TUP 2** (`TUP_COMPLEX`, from older and mobile clients): `map<string, map<string,
//!   vector<byte>>>`, the name to a one-entry map from the value's TARS type name
//!   ([`TarsType::tars_type_name`], `"list<int32>"`, `"Demo.Req"`) to its bytes.
//!
//! Either map is written at tag 0, its entries in key order (C++'s `std::map`). Each value's
//! bytes are the value written as the field at tag 0 into a buffer of its own: an `int32` 5 is
//! `[0x00, 0x05]`, a struct is its begin marker, fields and end marker.
//!
//! TarsCpp's servants put a function's return value under the empty name
//! ([`RETURN_VALUE_NAME`]) and each output parameter under its name; the servants tars2go
//! generates put the return value under `"tars_ret"` as well (the name JSON replies use,
//! [`json::RETURN_VALUE_NAME`](super::json::RETURN_VALUE_NAME)).
//!
//! ```
//! use tars_rpc::codec::{TupVersion, UniAttribute};
//!
//! let mut attr = UniAttribute::new(TupVersion::V3);
//! attr.put("", &0i32);
//! attr.put("sOut", &"hello".to_string());
//! let bytes = attr.encode();
//! assert_eq!(
//!     &bytes[..],
//!     b"\x08\x00\x02\x06\x00\x1d\x00\x00\x01\x0c\x06\x04sOut\x1d\x00\x00\x07\x06\x05hello",
//! );
//!
//! let read = UniAttribute::decode(&bytes, TupVersion::V3).unwrap();
//! assert_eq!(read.get::<String>("sOut").unwrap(), "hello");
//! assert_eq!(read.get::<i32>("").unwrap(), 0);
//! assert!(read.get::<i32>("missing").is_err());
//! ```

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};

use super::{DecodeError, TarsEncode, TarsReader, TarsType};

/// The name under which TarsCpp's servants put a function's return value.
pub const RETURN_VALUE_NAME: &str = "";

/// Which of the two TUP shapes a [`UniAttribute`] has: the packet's `iVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TupVersion {
    /// `iVersion` 2, `TUP_COMPLEX`: each value keyed by its TARS type name as well.
    V2,
    /// `iVersion` 3, `TUP_SIMPLE`: each value keyed by its name alone. TarsCpp's default.
    #[default]
    V3,
}

impl TupVersion {
    /// The packet's `iVersion` for this shape.
    pub const fn value(self) -> i16 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
        }
    }

    /// The shape for a packet's `iVersion`, or `None` when it is not TUP (1 is TARS, 5 JSON).
    pub const fn from_value(version: i16) -> Option<Self> {
        match version {
            2 => Some(Self::V2),
            3 => Some(Self::V3),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Data {
    V2(BTreeMap<String, BTreeMap<String, Bytes>>),
    V3(BTreeMap<String, Bytes>),
}

/// Named TARS values, encoded as a TUP packet's `sBuffer` (see the [module docs](self)).
///
/// Values are encoded when put and decoded when got, so one attribute can hold values of any
/// types; a name put twice keeps the last value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniAttribute {
    data: Data,
}

impl Default for UniAttribute {
    /// An empty TUP 3 attribute, as TarsCpp's constructor makes.
    fn default() -> Self {
        Self::new(TupVersion::V3)
    }
}

impl UniAttribute {
    /// An empty attribute of the given shape.
    pub fn new(version: TupVersion) -> Self {
        let data = match version {
            TupVersion::V2 => Data::V2(BTreeMap::new()),
            TupVersion::V3 => Data::V3(BTreeMap::new()),
        };
        Self { data }
    }

    /// The attribute's shape.
    pub fn version(&self) -> TupVersion {
        match self.data {
            Data::V2(_) => TupVersion::V2,
            Data::V3(_) => TupVersion::V3,
        }
    }

    /// Puts `value` under `name`, replacing any value there: encoded at tag 0 into a buffer of
    /// its own and, in TUP 2, keyed by [`T::tars_type_name`](TarsType::tars_type_name).
    pub fn put<T: TarsType>(&mut self, name: impl Into<String>, value: &T) {
        let mut buf = BytesMut::new();
        value.write_field(0, &mut buf);
        let bytes = buf.freeze();
        match &mut self.data {
            Data::V2(map) => {
                map.insert(name.into(), BTreeMap::from([(T::tars_type_name(), bytes)]));
            }
            Data::V3(map) => {
                map.insert(name.into(), bytes);
            }
        }
    }

    /// The value under `name`, decoded as a `T`.
    ///
    /// In TUP 2 the value is looked up by [`T::tars_type_name`](TarsType::tars_type_name) as
    /// well; a name that differs only in case also matches, since `@tars/stream` names lists
    /// `List<...>` where TarsCpp writes `list<...>`.
    ///
    /// # Errors
    /// [`DecodeError::MissingAttribute`] when there is no value under `name`;
    /// [`DecodeError::AttributeTypeMismatch`] when a TUP 2 value has another type name;
    /// [`DecodeError::InAttribute`] wrapping the error when the bytes do not decode as a `T`.
    pub fn get<T: TarsType>(&self, name: &str) -> Result<T, DecodeError> {
        let bytes = self.bytes(name, T::tars_type_name)?;
        read_value(bytes).map_err(|source| DecodeError::InAttribute {
            name: name.to_owned(),
            source: Box::new(source),
        })
    }

    /// The value under `name`, or `default` when there is none.
    ///
    /// Unlike TarsCpp's `getByDefault`, which falls back on any error, a value that is present
    /// but does not decode is an error.
    ///
    /// # Errors
    /// As [`get`](Self::get), except for a missing name.
    pub fn get_or<T: TarsType>(&self, name: &str, default: T) -> Result<T, DecodeError> {
        match self.get(name) {
            Err(DecodeError::MissingAttribute { .. }) => Ok(default),
            other => other,
        }
    }

    /// The value under `name`, or `T::default()` when there is none.
    ///
    /// # Errors
    /// As [`get_or`](Self::get_or).
    pub fn get_or_default<T: TarsType + Default>(&self, name: &str) -> Result<T, DecodeError> {
        self.get_or(name, T::default())
    }

    /// Whether there is a value under `name`.
    pub fn contains(&self, name: &str) -> bool {
        match &self.data {
            Data::V2(map) => map.contains_key(name),
            Data::V3(map) => map.contains_key(name),
        }
    }

    /// Removes the value under `name`; returns whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        match &mut self.data {
            Data::V2(map) => map.remove(name).is_some(),
            Data::V3(map) => map.remove(name).is_some(),
        }
    }

    /// The names that hold values, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        let names: Box<dyn Iterator<Item = &String>> = match &self.data {
            Data::V2(map) => Box::new(map.keys()),
            Data::V3(map) => Box::new(map.keys()),
        };
        names.map(String::as_str)
    }

    /// How many names hold values.
    pub fn len(&self) -> usize {
        match &self.data {
            Data::V2(map) => map.len(),
            Data::V3(map) => map.len(),
        }
    }

    /// Whether no name holds a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        match &mut self.data {
            Data::V2(map) => map.clear(),
            Data::V3(map) => map.clear(),
        }
    }

    /// The encoded attribute: the map at tag 0, as TarsCpp's `encode` writes it.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        self.encode_into(&mut buf);
        buf.freeze()
    }

    /// Appends the encoded attribute to `buf`.
    pub fn encode_into(&self, buf: &mut BytesMut) {
        match &self.data {
            Data::V2(map) => map.write_field(0, buf),
            Data::V3(map) => map.write_field(0, buf),
        }
    }

    /// Decodes an attribute of the given shape (a TUP packet's `sBuffer`), copying the values.
    ///
    /// As TarsCpp, it reads the map at tag 0, skipping fields before it and ignoring what
    /// follows.
    ///
    /// # Errors
    /// A [`DecodeError`] when the map is absent or malformed. Sizes are checked against the
    /// input, so a lying size neither allocates nor loops beyond it.
    pub fn decode(buf: &[u8], version: TupVersion) -> Result<Self, DecodeError> {
        Self::decode_from(TarsReader::new(buf), version)
    }

    /// As [`decode`](Self::decode), with the values sharing `bytes`' memory.
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    pub fn decode_bytes(bytes: &Bytes, version: TupVersion) -> Result<Self, DecodeError> {
        Self::decode_from(TarsReader::from_bytes(bytes), version)
    }

    fn decode_from(mut reader: TarsReader<'_>, version: TupVersion) -> Result<Self, DecodeError> {
        let data = match version {
            TupVersion::V2 => Data::V2(read_at_tag0(&mut reader, "map")?),
            TupVersion::V3 => Data::V3(read_at_tag0(&mut reader, "map")?),
        };
        Ok(Self { data })
    }

    /// The bytes under `name`: in TUP 2, those under `type_name()`.
    fn bytes(&self, name: &str, type_name: impl FnOnce() -> String) -> Result<&Bytes, DecodeError> {
        let missing = || DecodeError::MissingAttribute {
            name: name.to_owned(),
        };
        match &self.data {
            Data::V3(map) => map.get(name).ok_or_else(missing),
            Data::V2(map) => {
                let by_type = map.get(name).ok_or_else(missing)?;
                let expected = type_name();
                by_type
                    .get(&expected)
                    .or_else(|| {
                        by_type
                            .iter()
                            .find(|(found, _)| found.eq_ignore_ascii_case(&expected))
                            .map(|(_, bytes)| bytes)
                    })
                    .ok_or_else(|| DecodeError::AttributeTypeMismatch {
                        name: name.to_owned(),
                        expected,
                        found: by_type.keys().cloned().collect(),
                    })
            }
        }
    }
}

/// Reads the value of one attribute: the field at tag 0 of its own buffer.
fn read_value<T: TarsType>(bytes: &Bytes) -> Result<T, DecodeError> {
    read_at_tag0(&mut TarsReader::from_bytes(bytes), "value")
}

/// Reads the field at tag 0 as a `T`, skipping fields at other tags before it, as TarsCpp's
/// `is.read(t, 0, true)` does; absent, it is an error unless `T` is an `Option` (`None`
/// writes nothing).
fn read_at_tag0<T: TarsType>(
    reader: &mut TarsReader<'_>,
    what: &'static str,
) -> Result<T, DecodeError> {
    while let Some(head) = reader.next_field()? {
        if head.tag == 0 {
            return T::read_field(reader, head);
        }
        reader.skip_value(head)?;
    }
    T::when_absent().ok_or(DecodeError::MissingField {
        ty: "UniAttribute",
        field: what,
        tag: 0,
    })
}
