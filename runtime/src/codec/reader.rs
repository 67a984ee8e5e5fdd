//! Reading TARS-encoded input.

use bytes::Bytes;

use super::{DecodeError, Head, WireType};

/// How deep structs, lists and maps may nest before decoding stops with
/// [`DecodeError::TooDeep`], unless [`TarsReader::with_max_depth`] says otherwise.
///
/// It keeps hostile input from exhausting the stack. TARS IDL cannot express recursive types,
/// so real data nests a few levels; a Rust type that contains itself (through `Box`, `Vec` or
/// `Option`) recurses once per level, and a very large such struct may need a lower limit on
/// a small stack.
pub const MAX_DEPTH: u16 = 32;

type Result<T> = std::result::Result<T, DecodeError>;

/// A cursor over TARS-encoded bytes.
///
/// It never allocates by itself and never trusts a length field beyond the bytes it holds.
/// Created with [`TarsReader::from_bytes`], it hands out [`Bytes`] fields as zero-copy slices.
///
/// ```
/// use tars_rpc::codec::TarsReader;
/// // an int 300 at tag 1, then the string "hi" at tag 2
/// let mut reader = TarsReader::new(&[0x11, 0x01, 0x2c, 0x26, 0x02, b'h', b'i']);
/// let head = reader.read_head().unwrap();
/// assert_eq!((head.tag, reader.read_i32(head).unwrap()), (1, 300));
/// let head = reader.read_head().unwrap();
/// assert_eq!((head.tag, reader.read_str(head).unwrap()), (2, "hi"));
/// assert!(reader.is_at_end());
/// ```
#[derive(Debug, Clone)]
pub struct TarsReader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: u16,
    max_depth: u16,
    open_structs: u16,
    source: Option<&'a Bytes>,
}

impl<'a> TarsReader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            depth: 0,
            max_depth: MAX_DEPTH,
            open_structs: 0,
            source: None,
        }
    }

    /// The same reader with another nesting limit (default [`MAX_DEPTH`]).
    pub fn with_max_depth(mut self, max_depth: u16) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// A reader over `bytes` whose [`Bytes`] fields share `bytes`' memory instead of copying.
    pub fn from_bytes(bytes: &'a Bytes) -> Self {
        Self {
            source: Some(bytes),
            ..Self::new(bytes)
        }
    }

    /// How many bytes are left.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte has been read.
    #[inline]
    pub fn is_at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// The offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    #[inline(always)]
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let buf: &'a [u8] = self.buf;
        match buf.get(self.pos..self.pos.wrapping_add(n)) {
            Some(slice) if self.pos.checked_add(n).is_some() => {
                self.pos += n;
                Ok(slice)
            }
            _ => Err(DecodeError::UnexpectedEof {
                needed: n,
                remaining: self.remaining(),
            }),
        }
    }

    #[inline(always)]
    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// Reads a field head.
    #[inline(always)]
    pub fn read_head(&mut self) -> Result<Head> {
        let [first] = self.take_array::<1>()?;
        let Some(wire_type) = WireType::from_code(first & 0x0f) else {
            return Err(DecodeError::UnknownWireType(first & 0x0f));
        };
        let tag = match first >> 4 {
            15 => self.take_array::<1>()?[0],
            tag => tag,
        };
        Ok(Head { tag, wire_type })
    }

    /// Reads the head of the next field of the struct being read.
    ///
    /// Returns `None` at the end of the struct: its end marker for a nested struct (consumed),
    /// the end of input for a top-level one.
    #[inline(always)]
    pub fn next_field(&mut self) -> Result<Option<Head>> {
        if self.is_at_end() {
            if self.open_structs == 0 {
                return Ok(None);
            }
            return Err(DecodeError::UnexpectedEof {
                needed: 1,
                remaining: 0,
            });
        }
        let head = self.read_head()?;
        if head.wire_type == WireType::StructEnd {
            if self.open_structs == 0 {
                return Err(DecodeError::UnexpectedStructEnd);
            }
            return Ok(None);
        }
        Ok(Some(head))
    }

    /// Reads any integer width (or a zero head) as an `i64`; `expected` names the wanted type in errors.
    #[inline(always)]
    pub fn read_int(&mut self, head: Head, expected: &'static str) -> Result<i64> {
        Ok(match head.wire_type {
            WireType::Zero => 0,
            WireType::Int1 => self.take_array::<1>()?[0] as i8 as i64,
            WireType::Int2 => i16::from_be_bytes(self.take_array()?) as i64,
            WireType::Int4 => i32::from_be_bytes(self.take_array()?) as i64,
            WireType::Int8 => i64::from_be_bytes(self.take_array()?),
            found => return Err(DecodeError::TypeMismatch { expected, found }),
        })
    }

    /// Reads a TARS `byte`; a wider integer is accepted when its value fits.
    #[inline(always)]
    pub fn read_i8(&mut self, head: Head) -> Result<i8> {
        narrow(self.read_int(head, "byte")?, "byte")
    }

    /// Reads a TARS `short`.
    #[inline(always)]
    pub fn read_i16(&mut self, head: Head) -> Result<i16> {
        narrow(self.read_int(head, "short")?, "short")
    }

    /// Reads a TARS `int`.
    #[inline(always)]
    pub fn read_i32(&mut self, head: Head) -> Result<i32> {
        narrow(self.read_int(head, "int")?, "int")
    }

    /// Reads a TARS `long`.
    #[inline(always)]
    pub fn read_i64(&mut self, head: Head) -> Result<i64> {
        self.read_int(head, "long")
    }

    /// Reads a TARS `float` (a `double` is narrowed, a zero head is 0.0).
    #[inline]
    pub fn read_f32(&mut self, head: Head) -> Result<f32> {
        Ok(match head.wire_type {
            WireType::Zero => 0.0,
            WireType::Float => f32::from_be_bytes(self.take_array()?),
            WireType::Double => f64::from_be_bytes(self.take_array()?) as f32,
            found => {
                return Err(DecodeError::TypeMismatch {
                    expected: "float",
                    found,
                })
            }
        })
    }

    /// Reads a TARS `double` (a `float` is widened, a zero head is 0.0).
    #[inline]
    pub fn read_f64(&mut self, head: Head) -> Result<f64> {
        Ok(match head.wire_type {
            WireType::Zero => 0.0,
            WireType::Float => f32::from_be_bytes(self.take_array()?) as f64,
            WireType::Double => f64::from_be_bytes(self.take_array()?),
            found => {
                return Err(DecodeError::TypeMismatch {
                    expected: "double",
                    found,
                })
            }
        })
    }

    /// Reads a string's raw bytes (TARS strings are byte strings on the wire).
    #[inline(always)]
    pub fn read_string_bytes(&mut self, head: Head) -> Result<&'a [u8]> {
        let len = match head.wire_type {
            WireType::String1 => self.take_array::<1>()?[0] as usize,
            WireType::String4 => u32::from_be_bytes(self.take_array()?) as usize,
            found => {
                return Err(DecodeError::TypeMismatch {
                    expected: "string",
                    found,
                })
            }
        };
        self.take(len)
    }

    /// Reads a string that must be UTF-8.
    #[inline(always)]
    pub fn read_str(&mut self, head: Head) -> Result<&'a str> {
        let bytes = self.read_string_bytes(head)?;
        if bytes.is_ascii() {
            // SAFETY: ASCII is UTF-8. Most TARS strings are ASCII, and this check is several
            // times faster than `from_utf8` on short strings.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// Reads the size of a list or map (an int at tag 0) and checks it against the input left,
    /// counting at least `min_bytes_each` bytes per element, so that a lying size can neither
    /// cause a large allocation nor a long loop.
    #[inline(always)]
    pub fn read_size(&mut self, min_bytes_each: usize) -> Result<usize> {
        let head = self.read_head()?;
        if head.tag != 0 {
            return Err(DecodeError::BadSizeTag(head.tag));
        }
        let size = self.read_int(head, "int")?;
        if size < 0 {
            return Err(DecodeError::NegativeSize(size));
        }
        let size = size as u64;
        if size.saturating_mul(min_bytes_each as u64) > self.remaining() as u64 {
            return Err(DecodeError::SizeTooLarge {
                size,
                remaining: self.remaining(),
            });
        }
        Ok(size as usize)
    }

    /// Reads a `vector<byte>`: a simple list, or (as some writers emit) a list of one-byte ints.
    ///
    /// A simple list is returned without copying; a generic list is collected into `scratch`.
    pub fn read_byte_list(&mut self, head: Head) -> Result<ByteList<'a>> {
        match head.wire_type {
            WireType::SimpleList => {
                let inner = self.read_head()?;
                if inner.wire_type != WireType::Int1 {
                    return Err(DecodeError::TypeMismatch {
                        expected: "byte elements",
                        found: inner.wire_type,
                    });
                }
                let len = self.read_size(1)?;
                Ok(ByteList::Borrowed(self.take(len)?))
            }
            WireType::List => {
                let len = self.read_size(1)?;
                let mut out = Vec::with_capacity(len);
                for _ in 0..len {
                    let head = self.read_head()?;
                    // unsigned bytes are written as shorts; accept both signednesses
                    let value = self.read_int(head, "byte")?;
                    let byte = u8::try_from(value)
                        .or_else(|_| i8::try_from(value).map(|b| b as u8))
                        .map_err(|_| DecodeError::OutOfRange {
                            expected: "byte",
                            value,
                        })?;
                    out.push(byte);
                }
                Ok(ByteList::Owned(out))
            }
            found => Err(DecodeError::TypeMismatch {
                expected: "vector<byte>",
                found,
            }),
        }
    }

    /// Turns a slice of this reader's input into [`Bytes`]: shared when the reader was made
    /// with [`TarsReader::from_bytes`], copied otherwise.
    pub fn to_bytes(&self, slice: &'a [u8]) -> Bytes {
        match self.source {
            Some(source) => source.slice_ref(slice),
            None => Bytes::copy_from_slice(slice),
        }
    }

    /// Runs `read` one nesting level deeper, failing with [`DecodeError::TooDeep`] past the
    /// reader's limit.
    #[inline(always)]
    pub fn nested<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= self.max_depth {
            return Err(DecodeError::TooDeep);
        }
        self.depth += 1;
        let out = read(self);
        self.depth -= 1;
        out
    }

    /// Reads a nested struct's fields with `read_fields`, which must read up to
    /// [`next_field`](Self::next_field) returning `None`; `head` must be a struct begin.
    #[inline(always)]
    pub fn read_struct<T>(
        &mut self,
        head: Head,
        read_fields: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        if head.wire_type != WireType::StructBegin {
            return Err(DecodeError::TypeMismatch {
                expected: "struct",
                found: head.wire_type,
            });
        }
        self.nested(|reader| {
            reader.open_structs += 1;
            let out = read_fields(reader);
            reader.open_structs -= 1;
            out
        })
    }

    /// Skips the value behind `head`, whatever its type, nested structs and lists included.
    pub fn skip_value(&mut self, head: Head) -> Result<()> {
        match head.wire_type {
            WireType::Zero => {}
            WireType::Int1 => {
                self.take(1)?;
            }
            WireType::Int2 => {
                self.take(2)?;
            }
            WireType::Int4 | WireType::Float => {
                self.take(4)?;
            }
            WireType::Int8 | WireType::Double => {
                self.take(8)?;
            }
            WireType::String1 | WireType::String4 => {
                self.read_string_bytes(head)?;
            }
            WireType::SimpleList => {
                self.read_byte_list(head)?;
            }
            WireType::List | WireType::Map => {
                let per_entry = if head.wire_type == WireType::Map {
                    2
                } else {
                    1
                };
                let size = self.read_size(per_entry)?;
                self.nested(|reader| {
                    for _ in 0..size * per_entry {
                        let head = reader.read_head()?;
                        reader.skip_value(head)?;
                    }
                    Ok(())
                })?;
            }
            WireType::StructBegin => self.read_struct(head, |reader| {
                while let Some(head) = reader.next_field()? {
                    reader.skip_value(head)?;
                }
                Ok(())
            })?,
            WireType::StructEnd => return Err(DecodeError::UnexpectedStructEnd),
        }
        Ok(())
    }
}

/// A `vector<byte>` as read: borrowed from the input, or collected from a generic list.
#[derive(Debug)]
pub enum ByteList<'a> {
    /// The bytes of a simple list, in the input.
    Borrowed(&'a [u8]),
    /// The bytes of a generic list of one-byte ints.
    Owned(Vec<u8>),
}

#[inline]
fn narrow<T: TryFrom<i64>>(value: i64, expected: &'static str) -> Result<T> {
    T::try_from(value).map_err(|_| DecodeError::OutOfRange { expected, value })
}
