//! The framing custom protocols share: servants and proxies that speak their own framing
//! instead of TARS, as TarsCpp's `tars_set_protocol` allows.
//!
//! * A server binds a [`RawServant`](crate::server::RawServant) with a [`FrameSplitter`] that
//!   cuts whole requests off the input; the servant gets each request's bytes and a
//!   `Current`, replies (or pushes, later) with [`Current::send_raw`](crate::Current::send_raw).
//! * A client uses a [`ClientProtocol`](crate::client::ClientProtocol) that writes requests and
//!   cuts responses, reporting each response's request id; id 0 is a push.

use bytes::{Buf, Bytes, BytesMut};

/// Why a peer's bytes could not be framed: the connection is closed with this reason logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(String);

impl ProtocolError {
    /// An error with its reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// Cuts whole frames off the front of a connection's input.
///
/// Return `Ok(Some(frame))` for each whole frame (removing its bytes from `buf`), `Ok(None)` when
/// more bytes are needed, and `Err` for input that can never be a frame, which closes the
/// connection. The connection also closes when more than its maximum frame length is buffered
/// without a frame coming out, so a splitter need not guard against endless input itself.
pub trait FrameSplitter: Send + Sync + 'static {
    /// Splits one frame off `buf`, if a whole one is there.
    fn split(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, ProtocolError>;
}

impl<F> FrameSplitter for F
where
    F: Fn(&mut BytesMut) -> Result<Option<Bytes>, ProtocolError> + Send + Sync + 'static,
{
    fn split(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, ProtocolError> {
        self(buf)
    }
}

/// The most common framing: a 4-byte big-endian length that counts itself, then the body
/// (TARS's own framing, and the seed PushDemo's). The frames it returns keep their length prefix.
///
/// ```
/// use bytes::BytesMut;
/// use tars_rpc::protocol::{FrameSplitter, LengthPrefixed};
///
/// let splitter = LengthPrefixed::new(1024);
/// let mut input = BytesMut::from(&b"\x00\x00\x00\x06hi\x00\x00"[..]);
/// assert_eq!(&splitter.split(&mut input).unwrap().unwrap()[..], b"\x00\x00\x00\x06hi");
/// assert_eq!(&input[..], b"\x00\x00"); // the start of the next frame stays
/// assert_eq!(splitter.split(&mut input).unwrap(), None);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LengthPrefixed {
    max_frame_len: usize,
}

impl LengthPrefixed {
    /// Frames of up to `max_frame_len` bytes, length prefix included.
    pub fn new(max_frame_len: usize) -> Self {
        Self { max_frame_len }
    }
}

impl FrameSplitter for LengthPrefixed {
    fn split(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, ProtocolError> {
        let Some(prefix) = buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if len < 4 {
            return Err(ProtocolError::new(format!(
                "frame length {len} is shorter than its 4-byte length field"
            )));
        }
        if len > self.max_frame_len {
            return Err(ProtocolError::new(format!(
                "frame length {len} exceeds the maximum of {} bytes",
                self.max_frame_len
            )));
        }
        if buf.len() < len {
            return Ok(None);
        }
        Ok(Some(buf.split_to(len).freeze()))
    }
}

/// Reads the 4-byte big-endian request id that follows a 4-byte length, as the PushDemo
/// protocol lays out its frames; a helper for writing [`ClientProtocol`](crate::client::ClientProtocol)s.
pub fn request_id_after_length(frame: &[u8]) -> Option<i32> {
    let mut bytes = frame.get(4..8)?;
    Some(bytes.get_i32())
}
