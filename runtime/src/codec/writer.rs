//! Writing TARS values, byte for byte as TarsCpp's `TarsOutputStream` writes them.
//!
//! Every function appends one field (head and value) to a [`BytesMut`].
//!
//! ```
//! use bytes::BytesMut;
//! use tars_rpc::codec::writer;
//! let mut buf = BytesMut::new();
//! writer::write_i32(&mut buf, 1, 300); // the smallest width that holds the value
//! writer::write_i32(&mut buf, 2, 0); // zero is a head alone
//! assert_eq!(&buf[..], &[0x11, 0x01, 0x2c, 0x2c]);
//! ```

use std::cell::Cell;

use bytes::{Bytes, BytesMut};

use super::wire::write_head;
use super::WireType;

/// The most an encoding may take for [`encode_to_bytes`] to copy it out of the thread's
/// scratch buffer (which keeps this much); a longer one takes the buffer itself.
const SCRATCH_KEPT: usize = 64 * 1024;

thread_local! {
    /// Where [`encode_to_bytes`] writes, reused: an encoding grows it once, not each time.
    static SCRATCH: Cell<BytesMut> = Cell::new(BytesMut::new());
}

/// What `write` appends to an empty buffer, in a buffer of its own of exactly that length.
///
/// One allocation, whatever the length: `write` appends to a scratch buffer the thread keeps,
/// grown once, and the result is copied out of it. Writing to a new `BytesMut` grows it by
/// doubling, an allocation each time (three or four for a small reply). An encoding longer than
/// 64 KiB is not copied: it takes the scratch buffer itself, which starts anew.
/// The scratch buffer never keeps more than 128 KiB.
///
/// ```
/// use tars_rpc::codec::writer;
/// let bytes = writer::encode_to_bytes(|buf| writer::write_i32(buf, 1, 300));
/// assert_eq!(&bytes[..], &[0x11, 0x01, 0x2c]);
/// ```
pub fn encode_to_bytes(write: impl FnOnce(&mut BytesMut)) -> Bytes {
    // taken out while `write` runs, so that an encoding inside it gets a buffer of its own
    let mut buf = SCRATCH.try_with(Cell::take).unwrap_or_default();
    buf.clear();
    write(&mut buf);
    if buf.len() > SCRATCH_KEPT {
        return buf.freeze();
    }
    let bytes = Bytes::copy_from_slice(&buf);
    // not kept if a long encoding grew it and then cut it back (a frame found too long)
    if buf.capacity() <= 2 * SCRATCH_KEPT {
        // the thread is going away if this fails: the buffer goes with it
        let _ = SCRATCH.try_with(|scratch| scratch.set(buf));
    }
    bytes
}

/// Writes a field head and the first bytes of its value (at most 8) with one copy: one check
/// of the buffer's room instead of two, which shows in records of many small fields.
#[inline(always)]
fn write_head_and(buf: &mut BytesMut, tag: u8, wire_type: WireType, value: &[u8]) {
    let mut field = [0u8; 10];
    let start = if tag < 15 {
        field[0] = (tag << 4) | wire_type as u8;
        1
    } else {
        field[0] = 0xf0 | wire_type as u8;
        field[1] = tag;
        2
    };
    let end = start + value.len();
    field[start..end].copy_from_slice(value);
    append_short(buf, &field, end);
}

/// Appends `bytes[..len]` by copying all of `bytes`, a fixed size the compiler turns into a
/// few moves, where `extend_from_slice` of a variable length calls `memcpy`: for one-byte to
/// ten-byte heads and integers, most of the writer's work.
#[inline(always)]
fn append_short(buf: &mut BytesMut, bytes: &[u8; 10], len: usize) {
    debug_assert!(len <= bytes.len());
    buf.reserve(bytes.len());
    let filled = buf.len();
    // SAFETY: `reserve` made room for all 10 bytes past `filled`, which are written here before
    // `set_len` counts the first `len` (<= 10) of them; `bytes` and the spare room cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            buf.spare_capacity_mut().as_mut_ptr().cast::<u8>(),
            bytes.len(),
        );
        buf.set_len(filled + len.min(bytes.len()));
    }
}

/// Writes a TARS `byte`: a zero head for 0, else one byte.
#[inline(always)]
pub fn write_i8(buf: &mut BytesMut, tag: u8, value: i8) {
    if value == 0 {
        write_head(buf, tag, WireType::Zero);
    } else {
        write_head_and(buf, tag, WireType::Int1, &value.to_be_bytes());
    }
}

/// Writes a TARS `short`, as a `byte` when it fits.
#[inline(always)]
pub fn write_i16(buf: &mut BytesMut, tag: u8, value: i16) {
    match i8::try_from(value) {
        Ok(value) => write_i8(buf, tag, value),
        Err(_) => {
            write_head_and(buf, tag, WireType::Int2, &value.to_be_bytes());
        }
    }
}

/// Writes a TARS `int`, as a `short` when it fits.
#[inline(always)]
pub fn write_i32(buf: &mut BytesMut, tag: u8, value: i32) {
    match i16::try_from(value) {
        Ok(value) => write_i16(buf, tag, value),
        Err(_) => {
            write_head_and(buf, tag, WireType::Int4, &value.to_be_bytes());
        }
    }
}

/// Writes a TARS `long`, as an `int` when it fits.
#[inline(always)]
pub fn write_i64(buf: &mut BytesMut, tag: u8, value: i64) {
    match i32::try_from(value) {
        Ok(value) => write_i32(buf, tag, value),
        Err(_) => {
            write_head_and(buf, tag, WireType::Int8, &value.to_be_bytes());
        }
    }
}

/// Writes a TARS `float`: always four bytes, 0.0 included, as TarsCpp does.
#[inline]
pub fn write_f32(buf: &mut BytesMut, tag: u8, value: f32) {
    write_head_and(buf, tag, WireType::Float, &value.to_be_bytes());
}

/// Writes a TARS `double`: always eight bytes.
#[inline]
pub fn write_f64(buf: &mut BytesMut, tag: u8, value: f64) {
    write_head_and(buf, tag, WireType::Double, &value.to_be_bytes());
}

/// Writes a TARS `string`: a one-byte length up to 255 bytes, else a four-byte one.
///
/// # Panics
/// If the string is longer than `u32::MAX` bytes, which TARS cannot express.
#[inline(always)]
pub fn write_string(buf: &mut BytesMut, tag: u8, value: &[u8]) {
    match u8::try_from(value.len()) {
        Ok(len) => write_head_and(buf, tag, WireType::String1, &[len]),
        Err(_) => {
            let len = u32::try_from(value.len()).expect("a TARS string is at most 4 GiB");
            write_head_and(buf, tag, WireType::String4, &len.to_be_bytes());
        }
    }
    append_bytes(buf, value);
}

/// Appends `value`, without a call to `memcpy` up to [`SHORT_COPY`] bytes.
#[inline(always)]
fn append_bytes(buf: &mut BytesMut, value: &[u8]) {
    if value.len() > SHORT_COPY {
        buf.extend_from_slice(value);
        return;
    }
    buf.reserve(value.len());
    let filled = buf.len();
    // SAFETY: `reserve` made room for `value.len()` bytes past `filled`, which `copy_short`
    // writes, all of them, before `set_len` counts them.
    unsafe {
        copy_short(value, buf.spare_capacity_mut().as_mut_ptr().cast::<u8>());
        buf.set_len(filled + value.len());
    }
}

/// The longest copy [`copy_short`] makes without `memcpy`.
pub(crate) const SHORT_COPY: usize = 64;

/// Copies `src` to `dst`, up to [`SHORT_COPY`] bytes with a few fixed-size moves, where a
/// copy of a length unknown at compile time calls `memcpy`, whose call costs more than the copy
/// for the short strings (names, keys, codes, titles) most TARS records are made of.
///
/// Two runs of words, one from the start and one ending at the end, overlap to cover any
/// length between one and two runs; bytes in the overlap are written twice, with the same value.
///
/// # Safety
/// `dst` must be valid for writes of `src.len()` bytes and must not overlap `src`.
#[inline]
pub(crate) unsafe fn copy_short(src: &[u8], dst: *mut u8) {
    let len = src.len();
    let run = |start: usize, bytes: usize| {
        // SAFETY: every call below has `start + bytes <= len`, within both `src` and `dst`
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr().add(start), dst.add(start), bytes) }
    };
    match len {
        0 => {}
        1..=3 => {
            run(0, 1);
            run(len / 2, 1);
            run(len - 1, 1);
        }
        4..=7 => {
            run(0, 4);
            run(len - 4, 4);
        }
        8..=15 => {
            run(0, 8);
            run(len - 8, 8);
        }
        16..=31 => {
            run(0, 16);
            run(len - 16, 16);
        }
        32..=SHORT_COPY => {
            run(0, 32);
            run(len - 32, 32);
        }
        _ => run(0, len),
    }
}

/// Writes a `vector<byte>` as a simple list.
#[inline(always)]
pub fn write_byte_list(buf: &mut BytesMut, tag: u8, value: &[u8]) {
    // the list's head, then the head of its element type (tag 0, `byte`), as one copy
    write_head_and(buf, tag, WireType::SimpleList, &[WireType::Int1 as u8]);
    write_size(buf, value.len());
    buf.extend_from_slice(value);
}

/// Writes the size of a list or map: an `int` at tag 0.
///
/// # Panics
/// If `len` exceeds `i32::MAX`, which TARS cannot express.
#[inline(always)]
pub fn write_size(buf: &mut BytesMut, len: usize) {
    let len = i32::try_from(len).expect("a TARS list or map holds at most i32::MAX entries");
    write_i32(buf, 0, len);
}

/// Writes a list head and its size; the caller then writes `len` elements at tag 0.
#[inline(always)]
pub fn write_list_head(buf: &mut BytesMut, tag: u8, len: usize) {
    write_head(buf, tag, WireType::List);
    write_size(buf, len);
}

/// Writes a map head and its size; the caller then writes `len` keys at tag 0, each followed by its value at tag 1.
#[inline(always)]
pub fn write_map_head(buf: &mut BytesMut, tag: u8, len: usize) {
    write_head(buf, tag, WireType::Map);
    write_size(buf, len);
}

/// Writes a nested struct: a begin marker, the fields `write_fields` writes, an end marker.
#[inline]
pub fn write_struct(buf: &mut BytesMut, tag: u8, write_fields: impl FnOnce(&mut BytesMut)) {
    write_head(buf, tag, WireType::StructBegin);
    write_fields(buf);
    write_head(buf, 0, WireType::StructEnd);
}
