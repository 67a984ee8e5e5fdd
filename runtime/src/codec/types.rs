//! [`TarsType`]: how each Rust type maps to a TARS type, with the implementations for the
//! built-in types.
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

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use bytes::{Bytes, BytesMut};

use super::reader::ByteList;
use super::wire::write_head;
use super::writer::{
    write_byte_list, write_f32, write_f64, write_i16, write_i32, write_i64, write_i8,
    write_list_head, write_map_head, write_size, write_string,
};
use super::{DecodeError, Head, TarsReader, WireType};

type Result<T> = std::result::Result<T, DecodeError>;

/// Most bytes a list or map reserves ahead of its elements; beyond that it grows as it reads,
/// so a lying size costs no more memory than the elements actually present.
const MAX_PREALLOC_BYTES: usize = 1 << 20;

fn prealloc_len<T>(size: usize) -> usize {
    size.min(MAX_PREALLOC_BYTES / std::mem::size_of::<T>().max(1))
}

/// A Rust type with a TARS encoding: written as a field at a tag, read back from a field head.
///
/// Implemented for the built-in types (see the [module docs](self)) and by
/// `#[derive(TarsStruct)]` and `#[derive(TarsEnum)]`.
///
/// ```
/// use bytes::BytesMut;
/// use tars_rpc::codec::{TarsReader, TarsType};
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
pub trait TarsType: Sized {
    /// Writes `self` as the field `tag`: head and value.
    fn write_field(&self, tag: u8, buf: &mut BytesMut);

    /// Reads a value whose head, `head`, has just been read.
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self>;

    /// Whether an optional field holding this value is left off the wire, as TarsCpp leaves off
    /// optional fields equal to their default: zero, empty, `None`. Structs are always written.
    #[inline]
    fn is_default_value(&self) -> bool {
        false
    }

    /// Writes a `vector<Self>`; byte types override it to write a simple list.
    #[doc(hidden)]
    #[inline]
    fn write_list(items: &[Self], tag: u8, buf: &mut BytesMut) {
        write_list_head(buf, tag, items.len());
        for item in items {
            item.write_field(0, buf);
        }
    }

    /// Reads a `vector<Self>`; byte types override it to read a simple list.
    #[doc(hidden)]
    #[inline]
    fn read_list(reader: &mut TarsReader<'_>, head: Head) -> Result<Vec<Self>> {
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

    /// True only for `Option`, which cannot be an element of a list or map.
    #[doc(hidden)]
    const IS_OPTION: bool = false;
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

impl TarsType for bool {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_i8(buf, tag, *self as i8);
    }
    #[inline]
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        Ok(reader.read_int(head, "bool")? != 0)
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        !*self
    }
}

macro_rules! signed_int {
    ($ty:ty, $write:ident, $read:ident) => {
        impl TarsType for $ty {
            #[inline]
            fn write_field(&self, tag: u8, buf: &mut BytesMut) {
                $write(buf, tag, *self);
            }
            #[inline]
            fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
                reader.$read(head)
            }
            #[inline]
            fn is_default_value(&self) -> bool {
                *self == 0
            }
        }
    };
}
signed_int!(i16, write_i16, read_i16);
signed_int!(i32, write_i32, read_i32);
signed_int!(i64, write_i64, read_i64);

impl TarsType for i8 {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_i8(buf, tag, *self);
    }
    #[inline]
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        reader.read_i8(head)
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
    fn read_list(reader: &mut TarsReader<'_>, head: Head) -> Result<Vec<Self>> {
        Ok(match reader.read_byte_list(head)? {
            ByteList::Borrowed(bytes) => bytes.iter().map(|&b| b as i8).collect(),
            ByteList::Owned(bytes) => bytes.into_iter().map(|b| b as i8).collect(),
        })
    }
}

/// Unsigned types are written one width up, as TarsCpp writes `unsigned byte/short/int`.
macro_rules! unsigned_int {
    ($ty:ident, $wide:ty, $write:ident, $name:literal) => {
        impl TarsType for $ty {
            #[inline]
            fn write_field(&self, tag: u8, buf: &mut BytesMut) {
                $write(buf, tag, <$wide>::from(*self));
            }
            #[inline]
            fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
                let value = reader.read_int(head, $name)?;
                <$ty>::try_from(value).map_err(|_| DecodeError::OutOfRange {
                    expected: $name,
                    value,
                })
            }
            #[inline]
            fn is_default_value(&self) -> bool {
                *self == 0
            }
            $crate::codec::types::byte_list_methods!($ty);
        }
    };
}

macro_rules! byte_list_methods {
    (u8) => {
        fn write_list(items: &[Self], tag: u8, buf: &mut BytesMut) {
            write_byte_list(buf, tag, items);
        }
        fn read_list(reader: &mut TarsReader<'_>, head: Head) -> Result<Vec<Self>> {
            Ok(match reader.read_byte_list(head)? {
                ByteList::Borrowed(bytes) => bytes.to_vec(),
                ByteList::Owned(bytes) => bytes,
            })
        }
    };
    ($other:ident) => {};
}
pub(crate) use byte_list_methods;

unsigned_int!(u8, i16, write_i16, "unsigned byte");
unsigned_int!(u16, i32, write_i32, "unsigned short");
unsigned_int!(u32, i64, write_i64, "unsigned int");

impl TarsType for f32 {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_f32(buf, tag, *self);
    }
    #[inline]
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        reader.read_f32(head)
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        *self == 0.0
    }
}

impl TarsType for f64 {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_f64(buf, tag, *self);
    }
    #[inline]
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        reader.read_f64(head)
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        *self == 0.0
    }
}

impl TarsType for String {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_string(buf, tag, self.as_bytes());
    }
    #[inline]
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        reader.read_str(head).map(str::to_owned)
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_empty()
    }
}

impl TarsType for Bytes {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_byte_list(buf, tag, self);
    }
    #[inline]
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        Ok(match reader.read_byte_list(head)? {
            ByteList::Borrowed(bytes) => reader.to_bytes(bytes),
            ByteList::Owned(bytes) => Bytes::from(bytes),
        })
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_empty()
    }
}

impl<T: TarsType> TarsType for Vec<T> {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        const { assert!(!T::IS_OPTION, "Option<T> cannot be a list element in TARS") };
        T::write_list(self, tag, buf);
    }
    #[inline]
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        T::read_list(reader, head)
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_empty()
    }
}

impl<T: TarsType> TarsType for Box<T> {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        (**self).write_field(tag, buf);
    }
    #[inline]
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        T::read_field(reader, head).map(Box::new)
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        (**self).is_default_value()
    }
}

/// An optional field: written only when `Some`, `None` when absent.
impl<T: TarsType> TarsType for Option<T> {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        if let Some(value) = self {
            value.write_field(tag, buf);
        }
    }
    #[inline]
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        T::read_field(reader, head).map(Some)
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_none()
    }
    const IS_OPTION: bool = true;
}

fn write_map<'a, K, V>(
    buf: &mut BytesMut,
    tag: u8,
    len: usize,
    entries: impl Iterator<Item = (&'a K, &'a V)>,
) where
    K: TarsType + 'a,
    V: TarsType + 'a,
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

fn read_map<K: TarsType, V: TarsType, M>(
    reader: &mut TarsReader<'_>,
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

impl<K: TarsType + Ord, V: TarsType> TarsType for BTreeMap<K, V> {
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_map(buf, tag, self.len(), self.iter());
    }
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        read_map(
            reader,
            head,
            |_| BTreeMap::new(),
            |map, k, v| {
                map.insert(k, v);
            },
        )
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_empty()
    }
}

impl<K, V, S> TarsType for HashMap<K, V, S>
where
    K: TarsType + Eq + Hash,
    V: TarsType,
    S: BuildHasher + Default,
{
    #[inline]
    fn write_field(&self, tag: u8, buf: &mut BytesMut) {
        write_map(buf, tag, self.len(), self.iter());
    }
    fn read_field(reader: &mut TarsReader<'_>, head: Head) -> Result<Self> {
        read_map(
            reader,
            head,
            |capacity| HashMap::with_capacity_and_hasher(capacity, S::default()),
            |map, k, v| {
                map.insert(k, v);
            },
        )
    }
    #[inline]
    fn is_default_value(&self) -> bool {
        self.is_empty()
    }
}
