//! The TARS field head: a tag and a wire type, packed into one or two bytes.

use bytes::BytesMut;

/// The type code in the low four bits of a field head.
///
/// The codes are fixed by the TARS protocol (`TarsType.h` in TarsCpp).
///
/// ```
/// use tars_rpc::codec::WireType;
/// assert_eq!(WireType::from_code(12), Some(WireType::Zero));
/// assert_eq!(WireType::Zero.name(), "zero");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum WireType {
    /// A one-byte integer (`char`, `bool`).
    Int1 = 0,
    /// A two-byte big-endian integer.
    Int2 = 1,
    /// A four-byte big-endian integer.
    Int4 = 2,
    /// An eight-byte big-endian integer.
    Int8 = 3,
    /// An IEEE-754 single, big-endian.
    Float = 4,
    /// An IEEE-754 double, big-endian.
    Double = 5,
    /// A string of at most 255 bytes: a one-byte length, then the bytes.
    String1 = 6,
    /// A longer string: a four-byte big-endian length, then the bytes.
    String4 = 7,
    /// A map: its size as an int at tag 0, then keys at tag 0 and values at tag 1.
    Map = 8,
    /// A list: its size as an int at tag 0, then the elements at tag 0.
    List = 9,
    /// The start of a nested struct.
    StructBegin = 10,
    /// The end of a nested struct.
    StructEnd = 11,
    /// A number that is zero; no value bytes follow.
    Zero = 12,
    /// A byte list (`vector<byte>`): an `Int1` head, the size as an int, then the bytes.
    SimpleList = 13,
}

impl WireType {
    /// The wire type for a four-bit type code, or `None` for the codes TARS leaves unused (14, 15).
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Int1,
            1 => Self::Int2,
            2 => Self::Int4,
            3 => Self::Int8,
            4 => Self::Float,
            5 => Self::Double,
            6 => Self::String1,
            7 => Self::String4,
            8 => Self::Map,
            9 => Self::List,
            10 => Self::StructBegin,
            11 => Self::StructEnd,
            12 => Self::Zero,
            13 => Self::SimpleList,
            _ => return None,
        })
    }

    /// A short lower-case name for error messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Int1 => "int1",
            Self::Int2 => "int2",
            Self::Int4 => "int4",
            Self::Int8 => "int8",
            Self::Float => "float",
            Self::Double => "double",
            Self::String1 => "string1",
            Self::String4 => "string4",
            Self::Map => "map",
            Self::List => "list",
            Self::StructBegin => "struct begin",
            Self::StructEnd => "struct end",
            Self::Zero => "zero",
            Self::SimpleList => "simple list",
        }
    }
}

impl std::fmt::Display for WireType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A decoded field head.
///
/// ```
/// use bytes::BytesMut;
/// use tars_rpc::codec::{Head, WireType};
/// let mut buf = BytesMut::new();
/// Head { tag: 200, wire_type: WireType::Int1 }.write(&mut buf);
/// assert_eq!(&buf[..], &[0xf0, 200]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The field's tag, 0 to 255.
    pub tag: u8,
    /// What follows the head.
    pub wire_type: WireType,
}

impl Head {
    /// Writes the head: one byte for tags below 15, else `0xF_` and the tag in a second byte.
    #[inline]
    pub fn write(self, buf: &mut BytesMut) {
        write_head(buf, self.tag, self.wire_type);
    }
}

/// Writes a field head (see [`Head::write`]).
#[inline]
pub(crate) fn write_head(buf: &mut BytesMut, tag: u8, wire_type: WireType) {
    if tag < 15 {
        buf.extend_from_slice(&[(tag << 4) | wire_type as u8]);
    } else {
        buf.extend_from_slice(&[0xf0 | wire_type as u8, tag]);
    }
}
