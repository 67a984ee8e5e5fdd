//! [`TarsStruct`], [`TarsStructRef`] and [`TarsEnum`]: the traits `#[derive(TarsStruct)]` and
//! `#[derive(TarsEnum)]` implement.

use bytes::{Bytes, BytesMut};

use super::{DecodeError, TarsDecode, TarsEncode, TarsReader, TarsType};

/// A TARS struct: fields at tags, in ascending tag order.
///
/// Derive it with `#[derive(TarsStruct)]`; see the derive's documentation for the attributes.
/// At the top level (a packet's `sBuffer`, a struct sent on its own) a struct is its fields
/// alone; nested in another value it sits between begin and end markers.
///
/// ```
/// use tars_rpc::TarsStruct;
///
/// #[derive(TarsStruct, Debug, PartialEq)]
/// struct Greeting {
///     #[tars(tag = 0)]
///     id: i32,
///     #[tars(tag = 1, optional)]
///     text: String,
/// }
///
/// let greeting = Greeting { id: 1, text: "hi".into() };
/// let bytes = greeting.to_bytes();
/// assert_eq!(&bytes[..], b"\x00\x01\x16\x02hi");
/// assert_eq!(Greeting::decode_from(&bytes).unwrap(), greeting);
/// ```
pub trait TarsStruct: TarsType {
    /// The struct's name, used in error messages.
    const STRUCT_NAME: &'static str;

    /// Appends the struct's fields, without begin and end markers.
    fn write_fields(&self, buf: &mut BytesMut);

    /// Reads the struct's fields up to the end of the struct (see [`TarsReader::next_field`]).
    fn read_fields(reader: &mut TarsReader<'_>) -> Result<Self, DecodeError>;

    /// Encodes the struct at the top level into a new buffer.
    fn to_bytes(&self) -> Bytes {
        super::writer::encode_to_bytes(|buf| self.write_fields(buf))
    }

    /// Decodes a top-level struct that fills all of `buf`.
    fn decode_from(buf: &[u8]) -> Result<Self, DecodeError> {
        Self::read_fields(&mut TarsReader::new(buf))
    }

    /// Decodes a top-level struct that fills all of `bytes`; its [`Bytes`] fields share `bytes`' memory.
    fn decode_bytes(bytes: &Bytes) -> Result<Self, DecodeError> {
        Self::read_fields(&mut TarsReader::from_bytes(bytes))
    }
}

/// A TARS struct that borrows: read as a view of its input, its `&'de str` and `&'de [u8]`
/// fields point into the bytes it was read from instead of copying them; written, it gives the
/// bytes the owned struct of the same tags gives.
///
/// `#[derive(TarsStruct)]` implements it, with [`TarsDecode`] and [`TarsEncode`], for a struct
/// with a lifetime parameter. It has no TARS type name or JSON form: those belong to the owned
/// struct (derived again without the lifetime, owning `String` and `Vec<u8>`).
///
/// ```
/// use tars_rpc::{TarsStruct, TarsStructRef};
///
/// #[derive(TarsStruct, Debug, PartialEq)]
/// struct Greeting {
///     #[tars(tag = 0)]
///     id: i32,
///     #[tars(tag = 1)]
///     text: String,
///     #[tars(tag = 2)]
///     tags: Vec<String>,
/// }
///
/// #[derive(TarsStruct, Debug, PartialEq)]
/// struct GreetingRef<'a> {
///     #[tars(tag = 0)]
///     id: i32,
///     #[tars(tag = 1)]
///     text: &'a str,
///     #[tars(tag = 2)]
///     tags: Vec<&'a str>,
/// }
///
/// let bytes = Greeting { id: 1, text: "hi".into(), tags: vec!["a".into()] }.to_bytes();
/// let view = GreetingRef::decode_from(&bytes).unwrap();
/// assert_eq!(view, GreetingRef { id: 1, text: "hi", tags: vec!["a"] });
/// // the text is the input's own bytes
/// assert!(bytes.as_ptr_range().contains(&view.text.as_ptr()));
/// // and the view writes what it read
/// assert_eq!(view.to_bytes(), bytes);
/// ```
pub trait TarsStructRef<'de>: TarsDecode<'de> + TarsEncode {
    /// The struct's name, used in error messages.
    const STRUCT_NAME: &'static str;

    /// Appends the struct's fields, without begin and end markers.
    fn write_fields(&self, buf: &mut BytesMut);

    /// Encodes the struct at the top level into a new buffer: the bytes the owned struct of the
    /// same tags writes for the same values.
    fn to_bytes(&self) -> Bytes {
        super::writer::encode_to_bytes(|buf| self.write_fields(buf))
    }

    /// Reads the struct's fields up to the end of the struct (see [`TarsReader::next_field`]).
    ///
    /// # Errors
    /// As [`decode_from`](Self::decode_from).
    fn read_fields(reader: &mut TarsReader<'de>) -> Result<Self, DecodeError>;

    /// Reads a top-level struct that fills all of `buf`, borrowing from it.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the field that is missing, mistyped, truncated or out of
    /// bounds.
    fn decode_from(buf: &'de [u8]) -> Result<Self, DecodeError> {
        Self::read_fields(&mut TarsReader::new(buf))
    }

    /// As [`decode_from`](Self::decode_from); [`Bytes`] fields share `bytes`' memory.
    ///
    /// # Errors
    /// As [`decode_from`](Self::decode_from).
    fn decode_bytes(bytes: &'de Bytes) -> Result<Self, DecodeError> {
        Self::read_fields(&mut TarsReader::from_bytes(bytes))
    }
}

/// A TARS enum: an `int` on the wire.
///
/// Derive it with `#[derive(TarsEnum)]` on an enum without fields; discriminants count up
/// from the previous one, as in TARS IDL. A value with no variant is a decoding error.
///
/// ```
/// use tars_rpc::{TarsEnum, codec::TarsEnum as _};
///
/// #[derive(TarsEnum, Debug, Clone, Copy, PartialEq)]
/// enum Color { Red, Green, Blue = 5 }
///
/// assert_eq!(Color::Blue.value(), 5);
/// assert_eq!(Color::from_value(1), Some(Color::Green));
/// assert_eq!(Color::from_value(2), None);
/// ```
pub trait TarsEnum: TarsType {
    /// The enum's name, used in error messages.
    const ENUM_NAME: &'static str;

    /// The variant's value on the wire.
    fn value(&self) -> i32;

    /// The variant with this value, if any.
    fn from_value(value: i32) -> Option<Self>;
}
