//! Custom protocols: servants and proxies that speak their own framing instead of TARS, as
//! TarsCpp's `tars_set_protocol` allows, with the same connections, `Current`, close
//! notification and bounded outgoing queues as TARS servants.
//!
//! * A server binds a [`RawServant`] with a [`FrameSplitter`] that cuts whole requests off the
//!   input; the servant gets each request's bytes and a [`Current`], replies (or
//!   pushes, later) with [`Current::send_raw`](crate::Current::send_raw).
//! * A client uses a [`ClientProtocol`] that writes requests and cuts responses, reporting each
//!   response's request id; id 0 is a push.

use bytes::{Buf, Bytes, BytesMut};
use futures::future::BoxFuture;

use crate::server::Current;

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

/// A servant speaking its own protocol.
///
/// Each request (a frame its [`FrameSplitter`] cut) is handed to [`on_request`](Self::on_request)
/// with the request's [`Current`]; requests of one connection run concurrently, as TARS ones do.
/// Reply, or push at any later time, with [`Current::send_raw`]: the bytes are written as they
/// are, whole, through the connection's bounded queue.
pub trait RawServant: Send + Sync + 'static {
    /// Handles one request.
    fn on_request<'a>(&'a self, current: &'a Current, request: Bytes) -> BoxFuture<'a, ()>;

    /// Called once after a connection that carried requests closes, with the `Current` of its
    /// last request (TarsCpp's `doClose`). Does nothing by default.
    fn on_connection_closed<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, ()> {
        let _ = current;
        Box::pin(async {})
    }
}

/// A response (or push) as a [`ClientProtocol`] cut it off the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The id of the request it answers; 0 for a push.
    pub request_id: i32,
    /// The whole frame.
    pub frame: Bytes,
}

/// A client's side of a custom protocol: how to write a request and how to cut responses.
///
/// Give one to [`Communicator::raw_proxy`](crate::client::Communicator::raw_proxy); the
/// [`RawProxy`](crate::client::RawProxy) documentation shows one for TarsCpp's PushDemo framing.
pub trait ClientProtocol: Send + Sync + 'static {
    /// Appends the whole frame of a request with `request_id` (never 0) and `payload` to `buf`.
    fn encode_request(
        &self,
        request_id: i32,
        payload: &[u8],
        buf: &mut BytesMut,
    ) -> Result<(), ProtocolError>;

    /// Cuts one whole response off `buf`, reporting the request id it answers (0 for a push).
    fn decode_response(&self, buf: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError>;
}

/// Reads the 4-byte big-endian request id that follows a 4-byte length, as the PushDemo
/// protocol lays out its frames; a helper for writing [`ClientProtocol`]s.
pub fn request_id_after_length(frame: &[u8]) -> Option<i32> {
    let mut bytes = frame.get(4..8)?;
    Some(bytes.get_i32())
}
