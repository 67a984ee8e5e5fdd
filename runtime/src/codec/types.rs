//! [`TarsType`], [`TarsEncode`] and [`TarsDecode`]: how each Rust type maps to a TARS type,
//! with the implementations for the built-in types.
//!
//! | Rust | TARS | on the wire |
//! |---|---|---|
//! | `bool` | `bool` | as a `byte` 0 or 1 |
//! | `i8`, `i16`, `i32`, `i64` | `byte`, `short`, `int`, `long` | the smallest width that holds the value |
//! | `u8`, `u16`, `u32` | `unsigned byte`, `unsigned short`, `unsigned int` | as `short`, `int`, `long` |
//! | `f32`, `f64` | `float`, `double` | 4 or 8 bytes |
//! | `String` | `string` | UTF-8 required when read |
//! | `Vec<u8>`, `Vec<i8>`, [`Bytes`] | `vector<byte>` | a simple list |
//! | `Vec<T>` | `vector<T>` | a list |
//! | `BTreeMap<K, V>`, `HashMap<K, V>` | `map<K, V>` | `BTreeMap` writes keys in order, as C++'s `std::map` |
//! | `Option<T>` | an optional field | left off when `None` |
//! | `#[derive(TarsStruct)]` structs | `struct` | between begin and end markers |
//! | `#[derive(TarsEnum)]` enums | `enum` | an `int` |
//! | `&str`, `&[T]`, `Cow<str>`, `Cow<[T]>` | `string`, `vector<T>` | written as `String` and `Vec<T>` ([`TarsEncode`]); `&str` and `&[u8]` read in place ([`TarsDecode`]) |
//!
//! Each type also knows its TARS type name, the key of its value in a TUP 2 attribute (see
//! [`UniAttribute`](super::UniAttribute)), spelled as TarsCpp's `TarsClass<T>::name()`
//! (`servant/tup/TarsType.h`) spells it:
//!
//! | Rust | name |
//! |---|---|
//! | `bool`, `i8`, `i16`, `i32`, `i64` | `bool`, `char`, `short`, `int32`, `int64` |
//! | `u8`, `u16`, `u32` | `short`, `int32`, `int64` (the type they are written as) |
//! | `f32`, `f64`, `String` | `float`, `double`, `string` |
//! | `Vec<u8>`, `Vec<i8>`, `Bytes` | `list<char>` |
//! | `Vec<T>` | `list<T>` |
//! | `BTreeMap<K, V>`, `HashMap<K, V>` | `map<K,V>` (no space) |
//! | `#[derive(TarsStruct)]` | `#[tars(name = "Module.Struct")]`, else the Rust name, as tars2cpp's `className()` |
//! | `#[derive(TarsEnum)]` | `int32`, the type an enum is written as (as `@tars/stream`'s `Tars.Enum`) |
//!
//! and its JSON form (see [`json`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use bytes::{Bytes, BytesMut};

use serde_json::Value;

use super::json::{self, JsonError};
use super::reader::ByteList;
use super::wire::write_head;
use super::writer::{
    write_byte_list, write_f32, write_f64, write_i16, write_i32, write_i64, write_i8,
    write_list_head, write_map_head, write_size, write_string,
};
use super::{DecodeError, Head, TarsReader, WireType};

type Result<T> = std::result::Result<T, DecodeError>;
type JsonResult<T> = std::result::Result<T, JsonError>;

/// Most bytes a list or map reserves ahead of its elements; beyond that it grows as it reads,
/// so a lying size costs no more memory than the elements actually present.
const MAX_PREALLOC_BYTES: usize = 1 << 20;

fn prealloc_len<T>(size: usize) -> usize {
    size.min(MAX_PREALLOC_BYTES / std::mem::size_of::<T>().max(1))
}

/// A Rust value written as a TARS field: the owned types ([`TarsType`]), and `str`, `[T]`,
/// references and `Cow`s of them, written as `String` and `Vec<T>` are, so that borrowed data
/// need not be copied into owned values first. Structs with a lifetime parameter that derive
/// `TarsStruct` are written this way too.
///
/// ```
/// use bytes::BytesMut;
/// use tars_rpc::codec::TarsEncode;
///
/// let mut owned = BytesMut::new();
/// vec!["a".to_string(), "bc".to_string()].write_field(1, &mut owned);
/// let mut borrowed = BytesMut::new();
/// ["a", "bc"][..].write_field(1, &mut borrowed);
/// assert_eq!(owned, borrowed);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no TARS encoding",
    label = "not a TARS type",
    note = "TARS types are bool, i8, i16, i32, i64, u8, u16, u32, f32, f64, String, Vec<T>, Bytes, BTreeMap<K, V>, HashMap<K, V>, Option<T>, and types that derive `TarsStruct` or `TarsEnum`; `&str`, `&[T]` and `Cow` are written as `String` and `Vec<T>`"
)]
pub trait TarsEncode {
    /// Writes `self` as the field `tag`: head and value.
    fn write_field(&self, tag: u8, buf: &mut BytesMut);

    /// Whether an optional field holding this value is left off the wire, as TarsCpp leaves off
    /// optional fields equal to their default: zero, empty, `None`. Structs are always written.
    #[inline]
    fn is_default_value(&self) -> bool {
        false
    }

    /// Writes a `vector<Self>`; byte types override it to write a simple list.
    #[doc(hidden)]
    #[inline]
    fn write_list(items: &[Self], tag: u8, buf: &mut BytesMut)
    where
        Self: Sized,
    {
        write_list_head(buf, tag, items.len());
        for item in items {
            item.write_field(0, buf);
        }
    }

    /// True only for `Option`, which cannot be an element of a list or map.
    #[doc(hidden)]
    const IS_OPTION: bool = false;
}

/// A Rust type with a TARS encoding that owns its data: written as a field at a tag
/// ([`TarsEncode`]), read back from any input ([`TarsDecode`] for every input lifetime, as
/// serde's `DeserializeOwned` is `Deserialize<'de>` for every `'de`), with its TARS type name
/// and JSON form.
///
/// Implemented for the built-in types (see the [module docs](self)) and by
/// `#[derive(TarsStruct)]` and `#[derive(TarsEnum)]`. A hand-written implementation implements
/// the three: `TarsEncode`, `TarsDecode` for every `'de`, and `TarsType`.
///
/// ```
/// use bytes::BytesMut;
/// use tars_rpc::codec::{TarsDecode, TarsEncode, TarsReader};
///
/// let mut buf = BytesMut::new();
/// vec!["a".to_string(), "bc".to_string()].write_field(1, &mut buf);
/// assert_eq!(&buf[..], b"\x19\x00\x02\x06\x01a\x06\x02bc");
///
/// let mut reader = TarsReader::new(&buf);
/// let head = reader.read_head().unwrap();
/// assert_eq!(Vec::<String>::read_field(&mut reader, head).unwrap(), ["a", "bc"]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no TARS encoding",
    label = "not a TARS type",
    note = "TARS types are bool, i8, i16, i32, i64, u8, u16, u32, f32, f64, String, Vec<T>, Bytes, BTreeMap<K, V>, HashMap<K, V>, Option<T>, and types that derive `TarsStruct` or `TarsEnum`"
)]
pub trait TarsType: TarsEncode + Sized + for<'de> TarsDecode<'de> {
    /// The value of a field that is absent, when that is a value: `Some(None)` for `Option`.
    #[doc(hidden)]
    fn when_absent() -> Option<Self> {
        None
    }

    /// The TARS type name, as TarsCpp's `TarsClass<T>::name()` spells it: the key of the
    /// value in a TUP 2 attribute (see the [module docs](self) for each type's).
    ///
    /// Hand-written implementations should override it; the default is the Rust type's name.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use tars_rpc::codec::TarsType;
    /// assert_eq!(<BTreeMap<String, Vec<i32>>>::tars_type_name(), "map<string,list<int32>>");
    /// ```
    fn tars_type_name() -> String {
        std::any::type_name::<Self>().to_owned()
    }

    /// The value as JSON, as TarsCpp's `JsonOutput::writeJson` writes it (see
    /// [`json`] for the mapping).
    ///
    /// # Errors
    /// [`JsonError::Unsupported`] for a type with no JSON mapping: the default, for
    /// hand-written implementations that do not override it.
    fn to_json(&self) -> JsonResult<Value> {
        Err(JsonError::Unsupported {
            ty: std::any::type_name::<Self>(),
        })
    }

    /// Reads a value from JSON, as TarsCpp's `JsonInput::readJson` reads it.
    ///
    /// # Errors
    /// A [`JsonError`] naming what does not read as its type; [`JsonError::Unsupported`] by
    /// default.
    fn from_json(value: &Value) -> JsonResult<Self> {
        let _ = value;
        Err(JsonError::Unsupported {
            ty: std::any::type_name::<Self>(),
        })
    }

    /// The value as the key of a JSON object, when it keys a map: numbers in decimal, `bool`
    /// as `"1"`/`"0"`, strings as they are, anything else as its JSON text.
    ///
    /// # Errors
    /// As [`to_json`](Self::to_json).
    fn to_json_key(&self) -> JsonResult<String> {
        json::text_key(self)
    }

    /// Reads a map key written by [`to_json_key`](Self::to_json_key).
    ///
    /// # Errors
    /// [`JsonError::BadKey`] (or the error reading the key's JSON text) when the key does not
    /// read as this type.
    fn from_json_key(key: &str) -> JsonResult<Self> {
        json::from_text_key(key)
    }

    /// The name of a `vector<Self>`; byte types override it (`list<char>`).
    #[doc(hidden)]
    fn list_type_name() -> String {
        format!("list<{}>", Self::tars_type_name())
    }

    /// A `vector<Self>` as JSON; byte types override it to write signed numbers.
    #[doc(hidden)]
    fn list_to_json(items: &[Self]) -> JsonResult<Value> {
        json::list_to_json(items)
    }

    /// A `vector<Self>` from JSON.
    #[doc(hidden)]
    fn list_from_json(value: &Value) -> JsonResult<Vec<Self>> {
        json::list_from_json(value)
    }
}

/// A Rust type read from a TARS field, which may borrow from the input it is read from (`'de`).
///
/// Owned types ([`TarsType`]) read the same from any input. `&'de str` and `&'de [u8]` point into
/// the input instead of copying it, and so do the structs that hold them: a struct with a
/// lifetime parameter that derives `TarsStruct` is a borrowed view, read with
/// [`TarsStructRef`](super::TarsStructRef) (see the derive).
///
/// | Rust | TARS | read |
/// |---|---|---|
/// | `&'de str` | `string` | UTF-8 checked, not copied |
/// | `&'de [u8]` | `vector<byte>` | not copied; it must be a simple list, as TarsCpp writes `vector<char>`: a generic list of one-byte ints is an error |
/// | `Cow<'de, str>` | `string` | always borrowed |
/// | `Cow<'de, [u8]>` | `vector<byte>` | borrowed, or owned when written as a generic list |
/// | `Vec<T>`, `Option<T>`, `Box<T>`, maps | as owned | their elements may borrow |
///
/// ```
/// use tars_rpc::codec::{TarsDecode, TarsEncode, TarsReader};
///
/// let mut buf = bytes::BytesMut::new();
/// ["a", "bc"].as_slice().write_field(1, &mut buf);
///
/// let mut reader = TarsReader::new(&buf);
/// let head = reader.read_head().unwrap();
/// let names: Vec<&str> = TarsDecode::read_field(&mut reader, head).unwrap();
/// assert_eq!(names, ["a", "bc"]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no TARS encoding",
    label = "not a TARS type",
    note = "TARS types are bool, i8, i16, i32, i64, u8, u16, u32, f32, f64, String, Vec<T>, Bytes, BTreeMap<K, V>, HashMap<K, V>, Option<T>, and types that derive `TarsStruct` or `TarsEnum`; a struct with a lifetime may also read `&str`, `&[u8]`, `Cow<str>` and `Cow<[u8]>` in place"
)]
pub trait TarsDecode<'de>: Sized {
    /// Reads a value whose head, `head`, has just been read.
    ///
    /// # Errors
    /// A [`DecodeError`] when the value is not of this type, is truncated, or breaks a bound
    /// (depth, range, UTF-8).
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self>;

    /// Reads a `vector<Self>`; byte types override it to read a simple list.
    #[doc(hidden)]
    #[inline(always)]
    fn read_list(reader: &mut TarsReader<'de>, head: Head) -> Result<Vec<Self>> {
        expect(head, WireType::List, "list")?;
        let size = reader.read_size(1)?;
        reader.nested(|reader| {
            let mut out = Vec::with_capacity(prealloc_len::<Self>(size));
            for _ in 0..size {
                let head = reader.read_head()?;
                out.push(Self::read_field(reader, head)?);
            }
            Ok(out)
        })
    }
}

#[inline]
fn expect(head: Head, wire_type: WireType, expected: &'static str) -> Result<()> {
    if head.wire_type == wire_type {
        Ok(())
    } else {
        Err(DecodeError::TypeMismatch {
            expected,
            found: head.wire_type,
        })
    }
}

impl TarsEncode for bool {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_i8(buf, tag, *self as i8);
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        !*self
    }
}

impl TarsType for bool {
    fn tars_type_name() -> String {
        "bool".into()
    }
    fn to_json(&self) -> JsonResult<Value> {
        Ok(Value::Bool(*self))
    }
    fn from_json(value: &Value) -> JsonResult<Self> {
        value
            .as_bool()
            .ok_or_else(|| JsonError::mismatch("boolean", value))
    }
    fn to_json_key(&self) -> JsonResult<String> {
        // TC_Common::tostr<bool>
        Ok(if *self { "1" } else { "0" }.into())
    }
    fn from_json_key(key: &str) -> JsonResult<Self> {
        match key {
            "1" | "true" => Ok(true),
            "0" | "false" => Ok(false),
            _ => Err(JsonError::BadKey {
                key: key.into(),
                expected: "bool",
            }),
        }
    }
}

impl<'de> TarsDecode<'de> for bool {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        Ok(reader.read_int(head, "bool")? != 0)
    }
}

/// The JSON methods of an integer type: `$tars` names it in errors, `$name` is its TARS type name.
macro_rules! int_json_methods {
    ($ty:ty, $tars:literal, $name:literal) => {
        fn tars_type_name() -> String {
            $name.into()
        }
        fn to_json(&self) -> JsonResult<Value> {
            Ok(Value::from(*self))
        }
        fn from_json(value: &Value) -> JsonResult<Self> {
            json::read_int::<$ty>(value, $tars)
        }
        fn to_json_key(&self) -> JsonResult<String> {
            Ok(self.to_string())
        }
        fn from_json_key(key: &str) -> JsonResult<Self> {
            json::int_key(key, $tars)
        }
    };
}

macro_rules! signed_int {
    ($ty:ty, $write:ident, $read:ident, $tars:literal, $name:literal) => {
        impl TarsEncode for $ty {
            #[inline]
            fn write_field(&self, tag: u8, buf: &mut BytesMut) {
                $write(buf, tag, *self);
            }
            #[inline]
            fn is_default_value(&self) -> bool {
                *self == 0
            }
        }

        impl TarsType for $ty {
            int_json_methods!($ty, $tars, $name);
        }

        impl<'de> TarsDecode<'de> for $ty {
            #[inline]
            fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
                reader.$read(head)
            }
        }
    };
}
signed_int!(i16, write_i16, read_i16, "short", "short");
signed_int!(i32, write_i32, read_i32, "int", "int32");
signed_int!(i64, write_i64, read_i64, "long", "int64");

impl TarsEncode for i8 {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_i8(buf, tag, *self);
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        *self == 0
    }
    fn write_list(items: &[Self], tag: u8, buf: &mut BytesMut) {
        // what `write_byte_list` writes, with the bytes cast in place rather than collected
        // into a temporary `Vec`
        write_head(buf, tag, WireType::SimpleList);
        write_head(buf, 0, WireType::Int1);
        write_size(buf, items.len());
        let start = buf.len();
        buf.resize(start + items.len(), 0);
        for (dst, &src) in buf[start..].iter_mut().zip(items) {
            *dst = src as u8;
        }
    }
}

impl TarsType for i8 {
    int_json_methods!(i8, "byte", "char");
    fn list_type_name() -> String {
        "list<char>".into()
    }
    fn list_to_json(items: &[Self]) -> JsonResult<Value> {
        Ok(Value::Array(
            items.iter().map(|&b| Value::from(b)).collect(),
        ))
    }
    fn list_from_json(value: &Value) -> JsonResult<Vec<Self>> {
        Ok(json::bytes_from_json(value)?
            .into_iter()
            .map(|b| b as i8)
            .collect())
    }
}

impl<'de> TarsDecode<'de> for i8 {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        reader.read_i8(head)
    }
    fn read_list(reader: &mut TarsReader<'de>, head: Head) -> Result<Vec<Self>> {
        Ok(match reader.read_byte_list(head)? {
            ByteList::Borrowed(bytes) => bytes.iter().map(|&b| b as i8).collect(),
            ByteList::Owned(bytes) => bytes.into_iter().map(|b| b as i8).collect(),
        })
    }
}

/// Unsigned types are written one width up, as TarsCpp writes `unsigned byte/short/int`.
macro_rules! unsigned_int {
    ($ty:ident, $wide:ty, $write:ident, $name:literal, $type_name:literal) => {
        impl TarsEncode for $ty {
            #[inline]
            fn write_field(&self, tag: u8, buf: &mut BytesMut) {
                $write(buf, tag, <$wide>::from(*self));
            }
            #[inline]
            fn is_default_value(&self) -> bool {
                *self == 0
            }
            $crate::codec::types::byte_list_write!($ty);
        }

        impl TarsType for $ty {
            int_json_methods!($ty, $name, $type_name);
            $crate::codec::types::byte_list_methods!($ty);
        }

        impl<'de> TarsDecode<'de> for $ty {
            #[inline]
            fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
                let value = reader.read_int(head, $name)?;
                <$ty>::try_from(value).map_err(|_| DecodeError::OutOfRange {
                    expected: $name,
                    value,
                })
            }
            $crate::codec::types::byte_list_read!($ty);
        }
    };
}

/// `TarsEncode::write_list` of `u8`: a `vector<byte>` as a simple list.
macro_rules! byte_list_write {
    (u8) => {
        fn write_list(items: &[Self], tag: u8, buf: &mut BytesMut) {
            write_byte_list(buf, tag, items);
        }
    };
    ($other:ident) => {};
}
pub(crate) use byte_list_write;

macro_rules! byte_list_methods {
    (u8) => {
        fn list_type_name() -> String {
            "list<char>".into()
        }
        fn list_to_json(items: &[Self]) -> JsonResult<Value> {
            Ok(json::bytes_to_json(items))
        }
        fn list_from_json(value: &Value) -> JsonResult<Vec<Self>> {
            json::bytes_from_json(value)
        }
    };
    ($other:ident) => {};
}
pub(crate) use byte_list_methods;

/// `TarsDecode::read_list` of `u8`: a `vector<byte>`, simple list or generic.
macro_rules! byte_list_read {
    (u8) => {
        fn read_list(reader: &mut TarsReader<'de>, head: Head) -> Result<Vec<Self>> {
            Ok(match reader.read_byte_list(head)? {
                ByteList::Borrowed(bytes) => bytes.to_vec(),
                ByteList::Owned(bytes) => bytes,
            })
        }
    };
    ($other:ident) => {};
}
pub(crate) use byte_list_read;

unsigned_int!(u8, i16, write_i16, "unsigned byte", "short");
unsigned_int!(u16, i32, write_i32, "unsigned short", "int32");
unsigned_int!(u32, i64, write_i64, "unsigned int", "int64");

impl TarsEncode for f32 {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_f32(buf, tag, *self);
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        *self == 0.0
    }
}

impl TarsType for f32 {
    fn tars_type_name() -> String {
        "float".into()
    }
    fn to_json(&self) -> JsonResult<Value> {
        // through its shortest decimal form, so that 0.1f32 is written 0.1, not 0.10000000149
        Ok(match self.to_string().parse::<f64>() {
            Ok(wide) if self.is_finite() => json::float_to_json(wide),
            _ => Value::Null,
        })
    }
    fn from_json(value: &Value) -> JsonResult<Self> {
        json::float_from_json(value, "float").map(|wide| wide as f32)
    }
}

impl<'de> TarsDecode<'de> for f32 {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        reader.read_f32(head)
    }
}

impl TarsEncode for f64 {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_f64(buf, tag, *self);
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        *self == 0.0
    }
}

impl TarsType for f64 {
    fn tars_type_name() -> String {
        "double".into()
    }
    fn to_json(&self) -> JsonResult<Value> {
        Ok(json::float_to_json(*self))
    }
    fn from_json(value: &Value) -> JsonResult<Self> {
        json::float_from_json(value, "double")
    }
}

impl<'de> TarsDecode<'de> for f64 {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        reader.read_f64(head)
    }
}

/// `text.to_owned()`, without a call to `memcpy` for a short string (see
/// [`writer::copy_short`](super::writer::copy_short)).
#[inline(always)]
fn owned_string(text: &str) -> String {
    if text.len() > super::writer::SHORT_COPY {
        return text.to_owned();
    }
    let mut bytes = Vec::with_capacity(text.len());
    // SAFETY: `bytes` has room for `text.len()` bytes, all of which `copy_short` writes before
    // `set_len` counts them; they are a copy of a `str`, so UTF-8.
    unsafe {
        super::writer::copy_short(text.as_bytes(), bytes.as_mut_ptr());
        bytes.set_len(text.len());
        String::from_utf8_unchecked(bytes)
    }
}

impl TarsEncode for String {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_string(buf, tag, self.as_bytes());
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_empty()
    }
}

impl TarsType for String {
    fn tars_type_name() -> String {
        "string".into()
    }
    fn to_json(&self) -> JsonResult<Value> {
        Ok(Value::String(self.clone()))
    }
    fn from_json(value: &Value) -> JsonResult<Self> {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| JsonError::mismatch("string", value))
    }
    fn to_json_key(&self) -> JsonResult<String> {
        Ok(self.clone())
    }
    fn from_json_key(key: &str) -> JsonResult<Self> {
        Ok(key.to_owned())
    }
}

impl<'de> TarsDecode<'de> for String {
    #[inline(always)]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        reader.read_str(head).map(owned_string)
    }
}

impl TarsEncode for Bytes {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_byte_list(buf, tag, self);
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_empty()
    }
}

impl TarsType for Bytes {
    fn tars_type_name() -> String {
        "list<char>".into()
    }
    fn to_json(&self) -> JsonResult<Value> {
        Ok(json::bytes_to_json(self))
    }
    fn from_json(value: &Value) -> JsonResult<Self> {
        json::bytes_from_json(value).map(Bytes::from)
    }
}

impl<'de> TarsDecode<'de> for Bytes {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        Ok(match reader.read_byte_list(head)? {
            ByteList::Borrowed(bytes) => reader.to_bytes(bytes),
            ByteList::Owned(bytes) => Bytes::from(bytes),
        })
    }
}

/// A string of the input, UTF-8 checked, not copied.
impl<'de: 'a, 'a> TarsDecode<'de> for &'a str {
    #[inline(always)]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        reader.read_str(head)
    }
}

/// The bytes of a `vector<byte>` in the input, not copied. It must be a simple list, as TarsCpp
/// writes `vector<char>`; a generic list of one-byte ints, which the reader also accepts, is an
/// error here (read it as `Cow<[u8]>` or `Vec<u8>`).
impl<'de: 'a, 'a> TarsDecode<'de> for &'a [u8] {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        match reader.read_byte_list(head)? {
            ByteList::Borrowed(bytes) => Ok(bytes),
            ByteList::Owned(_) => Err(DecodeError::TypeMismatch {
                expected: "vector<byte> as a simple list (read a generic list as Cow<[u8]>)",
                found: WireType::List,
            }),
        }
    }
}

/// A string of the input, always borrowed.
impl<'de: 'a, 'a> TarsDecode<'de> for Cow<'a, str> {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        reader.read_str(head).map(Cow::Borrowed)
    }
}

/// A `vector<byte>`: borrowed from a simple list, owned when collected from a generic one.
impl<'de: 'a, 'a> TarsDecode<'de> for Cow<'a, [u8]> {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        Ok(match reader.read_byte_list(head)? {
            ByteList::Borrowed(bytes) => Cow::Borrowed(bytes),
            ByteList::Owned(bytes) => Cow::Owned(bytes),
        })
    }
}

/// A `vector<T>`, as `Vec<T>` writes it.
impl<T: TarsEncode> TarsEncode for [T] {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        const { assert!(!T::IS_OPTION, "Option<T> cannot be a list element in TARS") };
        T::write_list(self, tag, buf);
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_empty()
    }
}

impl<T: TarsEncode> TarsEncode for Vec<T> {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        self.as_slice().write_field(tag, buf);
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_empty()
    }
}

impl<T: TarsType> TarsType for Vec<T> {
    fn tars_type_name() -> String {
        T::list_type_name()
    }
    fn to_json(&self) -> JsonResult<Value> {
        T::list_to_json(self)
    }
    fn from_json(value: &Value) -> JsonResult<Self> {
        T::list_from_json(value)
    }
}

impl<'de, T: TarsDecode<'de>> TarsDecode<'de> for Vec<T> {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        T::read_list(reader, head)
    }
}

/// `TarsEncode` for a pointer, written as what it points to.
macro_rules! encode_through {
    (impl<$($param:tt),*> for $ty:ty where $target:ident: $($bound:tt)+) => {
        impl<$($param),*> TarsEncode for $ty
        where
            $target: TarsEncode + $($bound)+
        {
            #[inline]
            fn write_field(&self, tag: u8, buf: &mut BytesMut) {
                (**self).write_field(tag, buf);
            }
            #[inline]
            fn is_default_value(&self) -> bool {
                (**self).is_default_value()
            }
            const IS_OPTION: bool = $target::IS_OPTION;
        }
    };
}
encode_through!(impl<T> for Box<T> where T: ?Sized);
encode_through!(impl<T> for &T where T: ?Sized);
encode_through!(impl<'a, T> for Cow<'a, T> where T: ToOwned + ?Sized);

/// A `string`, as `String` writes it.
impl TarsEncode for str {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_string(buf, tag, self.as_bytes());
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_empty()
    }
}

impl<T: TarsType> TarsType for Box<T> {
    fn tars_type_name() -> String {
        T::tars_type_name()
    }
    fn to_json(&self) -> JsonResult<Value> {
        (**self).to_json()
    }
    fn from_json(value: &Value) -> JsonResult<Self> {
        T::from_json(value).map(Box::new)
    }
    fn to_json_key(&self) -> JsonResult<String> {
        (**self).to_json_key()
    }
    fn from_json_key(key: &str) -> JsonResult<Self> {
        T::from_json_key(key).map(Box::new)
    }
}

impl<'de, T: TarsDecode<'de>> TarsDecode<'de> for Box<T> {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        T::read_field(reader, head).map(Box::new)
    }
}

/// An optional field: written only when `Some`, `None` when absent.
impl<T: TarsEncode> TarsEncode for Option<T> {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        if let Some(value) = self {
            value.write_field(tag, buf);
        }
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_none()
    }
    const IS_OPTION: bool = true;
}

impl<T: TarsType> TarsType for Option<T> {
    fn when_absent() -> Option<Self> {
        Some(None)
    }
    fn tars_type_name() -> String {
        T::tars_type_name()
    }
    /// `None` is `null` (a struct leaves the field out instead).
    fn to_json(&self) -> JsonResult<Value> {
        match self {
            Some(value) => value.to_json(),
            None => Ok(Value::Null),
        }
    }
    /// `null` is `None`.
    fn from_json(value: &Value) -> JsonResult<Self> {
        match value {
            Value::Null => Ok(None),
            value => T::from_json(value).map(Some),
        }
    }
}

impl<'de, T: TarsDecode<'de>> TarsDecode<'de> for Option<T> {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        T::read_field(reader, head).map(Some)
    }
}

fn write_map<'a, K, V>(
    buf: &mut BytesMut,
    tag: u8,
    len: usize,
    entries: impl Iterator<Item = (&'a K, &'a V)>,
) where
    K: TarsEncode + 'a,
    V: TarsEncode + 'a,
{
    const {
        assert!(
            !K::IS_OPTION && !V::IS_OPTION,
            "Option<T> cannot be a map key or value in TARS"
        )
    };
    write_map_head(buf, tag, len);
    for (key, value) in entries {
        key.write_field(0, buf);
        value.write_field(1, buf);
    }
}

#[inline(always)]
fn read_map<'de, K: TarsDecode<'de>, V: TarsDecode<'de>, M>(
    reader: &mut TarsReader<'de>,
    head: Head,
    with_capacity: impl FnOnce(usize) -> M,
    insert: impl Fn(&mut M, K, V),
) -> Result<M> {
    expect(head, WireType::Map, "map")?;
    let size = reader.read_size(2)?;
    let mut map = with_capacity(prealloc_len::<(K, V)>(size));
    reader.nested(|reader| {
        for _ in 0..size {
            let head = reader.read_head()?;
            let key = K::read_field(reader, head)?;
            let head = reader.read_head()?;
            let value = V::read_field(reader, head)?;
            insert(&mut map, key, value);
        }
        Ok(())
    })?;
    Ok(map)
}

/// A `BTreeMap` being read: see its `read_field`.
enum Entries<K, V> {
    Short(BTreeMap<K, V>),
    Long(Vec<(K, V)>),
}

/// The `TarsType` methods of a map type, which `$empty` makes empty.
macro_rules! map_methods {
    ($empty:expr) => {
        fn tars_type_name() -> String {
            map_type_name::<K, V>()
        }
        fn to_json(&self) -> JsonResult<Value> {
            json::map_to_json(self.iter())
        }
        fn from_json(value: &Value) -> JsonResult<Self> {
            let mut map = $empty;
            json::map_from_json(value, |k, v| {
                map.insert(k, v);
            })?;
            Ok(map)
        }
    };
}

/// `TarsEncode` for a map type.
macro_rules! encode_map {
    (impl<$($param:ident),*> for $ty:ty) => {
        impl<$($param),*> TarsEncode for $ty
        where
            K: TarsEncode,
            V: TarsEncode,
        {
            #[inline]
            fn write_field(&self, tag: u8, buf: &mut BytesMut) {
                write_map(buf, tag, self.len(), self.iter());
            }
            #[inline]
            fn is_default_value(&self) -> bool {
                self.is_empty()
            }
        }
    };
}
encode_map!(impl<K, V> for BTreeMap<K, V>);
encode_map!(impl<K, V, S> for HashMap<K, V, S>);

impl<K: TarsType + Ord, V: TarsType> TarsType for BTreeMap<K, V> {
    map_methods!(BTreeMap::new());
}

impl<'de, K: TarsDecode<'de> + Ord, V: TarsDecode<'de>> TarsDecode<'de> for BTreeMap<K, V> {
    #[inline]
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        // a long map is collected, then built at once: TarsCpp writes its maps sorted, and
        // building a sorted run is linear, where inserting searches the tree for every entry;
        // a short one (most contexts) is inserted into, which saves the list
        let entries = read_map(
            reader,
            head,
            |len| match len {
                0..=3 => Entries::Short(BTreeMap::new()),
                _ => Entries::Long(Vec::with_capacity(len)),
            },
            |entries, k, v| match entries {
                Entries::Short(map) => {
                    map.insert(k, v);
                }
                Entries::Long(list) => list.push((k, v)),
            },
        )?;
        Ok(match entries {
            Entries::Short(map) => map,
            Entries::Long(list) => list.into_iter().collect(),
        })
    }
}

/// `map<K,V>`, as `TarsClass<std::map<T, U>>::name()` joins them: no space after the comma.
fn map_type_name<K: TarsType, V: TarsType>() -> String {
    format!("map<{},{}>", K::tars_type_name(), V::tars_type_name())
}

impl<K, V, S> TarsType for HashMap<K, V, S>
where
    K: TarsType + Eq + Hash,
    V: TarsType,
    S: BuildHasher + Default,
{
    map_methods!(HashMap::default());
}

impl<'de, K, V, S> TarsDecode<'de> for HashMap<K, V, S>
where
    K: TarsDecode<'de> + Eq + Hash,
    V: TarsDecode<'de>,
    S: BuildHasher + Default,
{
    fn read_field(reader: &mut TarsReader<'de>, head: Head) -> Result<Self> {
        read_map(
            reader,
            head,
            |capacity| HashMap::with_capacity_and_hasher(capacity, S::default()),
            |map, k, v| {
                map.insert(k, v);
            },
        )
    }
}
