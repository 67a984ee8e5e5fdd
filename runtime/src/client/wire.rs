//! What a connection speaks: the [`Wire`] a [`Proxy`](super::Proxy) and its connections'
//! machinery (pending calls by request id, reader and writer tasks, timeouts, push routing,
//! supervisor) are generic over.
//!
//! Two wires exist: [`TarsWire`], TARS `RequestPacket`s out and `ResponsePacket`s in (a push is
//! request id 0 with a `TARS_FUNC` status, `_reconnect_` retires the connection), and
//! [`RawWire`](super::RawWire), a user's [`ClientProtocol`](super::ClientProtocol) (request id 0
//! is a push frame). A wire decodes what arrives into [`Incoming`] messages, names pushes in
//! logs and gives the keep-alive request; a request, an [`Outgoing`], encodes itself with the
//! id the connection gives it. The wire knows nothing of proxies or connections.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::message::PushMessage;
use super::request::{Outgoing, Request};
use crate::codec::{TarsReader, TupVersion};
use crate::endpoint::Endpoint;
use crate::framing::FrameCodec;
use crate::packet::{
    Context, PacketType, RequestPacket, ResponsePacket, Version, RECONNECT_MESSAGE,
};
use crate::TarsStruct;

pub(super) mod sealed {
    /// Only this crate's wires are wires.
    pub trait Sealed {}
}

/// One message cut off a connection's input.
#[doc(hidden)]
pub enum Incoming<W: Wire> {
    /// The response to the call with `request_id`.
    Response {
        /// The id of the call it answers.
        request_id: i32,
        /// The response.
        response: W::Response,
    },
    /// A push, for the push handler and streams.
    Push(W::Push),
    /// The server is going away: take no new calls, close once the calls in flight are done.
    Reconnect,
    /// Something to drop, with why (logged).
    Skip(&'static str),
}

/// Input that can never be a message: the connection closes.
#[doc(hidden)]
#[derive(Debug)]
pub enum BadInput {
    /// The framing is broken (a bad length, a protocol error, too much buffered).
    Frame(String),
    /// A whole frame whose contents do not decode.
    Packet(String),
}

/// Why reading stopped: the connection failed, or the peer sent [`BadInput`].
#[derive(Debug)]
pub(super) enum ReadError {
    Io(io::Error),
    Bad(BadInput),
}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// The request a connection sends to keep itself alive, and whether it waits for a reply.
#[doc(hidden)]
pub struct KeepAlive<'a> {
    pub(super) request: Box<dyn Outgoing + Send + 'a>,
    /// Whether the keep-alive is a call (any reply will do) rather than a one-way request.
    pub(super) call: bool,
}

/// What a [`Proxy`](super::Proxy) speaks: [`TarsWire`] (TARS, the default) or
/// [`RawWire`](super::RawWire) (a protocol of the user's own). Sealed: only these two exist;
/// name them to name a proxy type, as in `Proxy<RawWire>`.
pub trait Wire: sealed::Sealed + Send + Sync + Sized + 'static {
    /// A push as the [push handler](super::PushHandler) and [push streams](super::PushStream)
    /// get it: a [`PushMessage`] (TARS) or a whole frame, [`Bytes`](bytes::Bytes) (raw).
    type Push: Clone + Send + Sync + 'static;

    /// What a call gets back.
    #[doc(hidden)]
    type Response: Send + 'static;

    /// Cuts one message off the front of `buf`: `Ok(None)` when more bytes are needed.
    #[doc(hidden)]
    fn decode(&self, buf: &mut BytesMut) -> Result<Option<Incoming<Self>>, BadInput>;

    /// Names a push in logs.
    #[doc(hidden)]
    fn describe_push(push: &Self::Push) -> String;

    /// Marks a push as received on a connection to `endpoint`, where the push can say so.
    #[doc(hidden)]
    fn set_origin(push: &mut Self::Push, endpoint: &Arc<Endpoint>) {
        let _ = (push, endpoint);
    }

    /// The request that keeps a connection alive with calls timing out after `timeout`, if
    /// this wire has one.
    #[doc(hidden)]
    fn keep_alive(&self, timeout: Duration) -> Option<KeepAlive<'_>>;
}

/// A tokio-util [`Decoder`] of a wire's [`Incoming`] messages.
pub(super) struct WireDecoder<W: Wire> {
    wire: Arc<W>,
}

impl<W: Wire> WireDecoder<W> {
    pub(super) fn new(wire: Arc<W>) -> Self {
        Self { wire }
    }
}

impl<W: Wire> Decoder for WireDecoder<W> {
    type Item = Incoming<W>;
    type Error = ReadError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming<W>>, ReadError> {
        self.wire.decode(buf).map_err(ReadError::Bad)
    }
}

/// TARS, the wire of [`Proxy`](super::Proxy) unless another is named: `RequestPacket`s out,
/// `ResponsePacket`s in, [`PushMessage`]s pushed, `tars_ping` to keep connections alive.
pub struct TarsWire {
    /// The servant name, for keep-alive pings.
    servant: String,
    codec: FrameCodec,
    /// The context of keep-alive pings: none.
    no_context: Context,
}

impl TarsWire {
    pub(super) fn new(servant: &str, max_frame_len: usize) -> Self {
        Self {
            servant: servant.to_string(),
            codec: FrameCodec::new(max_frame_len),
            no_context: Context::new(),
        }
    }
}

impl std::fmt::Debug for TarsWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarsWire")
            .field("servant", &self.servant)
            .finish_non_exhaustive()
    }
}

impl sealed::Sealed for TarsWire {}

impl Wire for TarsWire {
    type Push = PushMessage;
    type Response = ResponsePacket;

    fn decode(&self, buf: &mut BytesMut) -> Result<Option<Incoming<Self>>, BadInput> {
        let mut codec = self.codec;
        let Some(frame) = codec
            .decode(buf)
            .map_err(|error| BadInput::Frame(error.to_string()))?
        else {
            return Ok(None);
        };
        let packet = if is_tup_reply(&frame) {
            match RequestPacket::decode_bytes(&frame) {
                Ok(packet) => ResponsePacket::from_tup_reply(packet).map_err(BadInput::Packet)?,
                // servants that answer TUP with a response packet all the same (older TarsGo)
                Err(error) => ResponsePacket::decode_bytes(&frame).map_err(|_| {
                    BadInput::Packet(format!("a TUP reply that is not a request packet: {error}"))
                })?,
            }
        } else {
            ResponsePacket::decode_bytes(&frame)
                .map_err(|error| BadInput::Packet(error.to_string()))?
        };
        Ok(Some(if !packet.is_push() {
            Incoming::Response {
                request_id: packet.request_id,
                response: packet,
            }
        } else if packet.result_desc == RECONNECT_MESSAGE {
            // TarsGo's graceful shutdown: the replies to the calls in flight still come
            Incoming::Reconnect
        } else {
            match PushMessage::from_packet(packet) {
                Some(push) => Incoming::Push(push),
                None => Incoming::Skip("a packet with request id 0 but no TARS_FUNC status"),
            }
        }))
    }

    fn set_origin(push: &mut PushMessage, endpoint: &Arc<Endpoint>) {
        push.set_origin(endpoint);
    }

    fn describe_push(push: &PushMessage) -> String {
        format!("`{}` ({} bytes)", push.function, push.buffer.len())
    }

    fn keep_alive(&self, timeout: Duration) -> Option<KeepAlive<'_>> {
        let ping = Request {
            servant: &self.servant,
            func: "tars_ping",
            packet_type: PacketType::NORMAL,
            buffer: &[],
            timeout_ms: i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
            context: &self.no_context,
            version: Version::TARS,
        };
        Some(KeepAlive {
            request: Box::new(ping),
            call: true,
        })
    }
}

/// Whether a reply frame is a TUP reply, which TUP servers shape as a request packet: its
/// first field, `iVersion` at tag 1, is 2 or 3. TARS and JSON replies are response packets.
fn is_tup_reply(frame: &[u8]) -> bool {
    let mut reader = TarsReader::new(frame);
    match reader.next_field() {
        Ok(Some(head)) if head.tag == 1 => reader
            .read_i16(head)
            .is_ok_and(|version| TupVersion::from_value(version).is_some()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::packet::{ReturnCode, STATUS_RESULT_CODE, STATUS_RESULT_DESC};

    fn framed(body: &[u8]) -> BytesMut {
        let mut frame = BytesMut::new();
        let length = u32::try_from(body.len() + 4).unwrap();
        frame.extend_from_slice(&length.to_be_bytes());
        frame.extend_from_slice(body);
        frame
    }

    fn response(frame: &mut BytesMut) -> ResponsePacket {
        let wire = TarsWire::new("A.B.C", 1 << 20);
        match wire.decode(frame) {
            Ok(Some(Incoming::Response { response, .. })) => response,
            Ok(_) => panic!("not a response"),
            Err(_) => panic!("the frame did not decode"),
        }
    }

    #[test]
    fn tup_replies_are_request_packets_and_others_response_packets() {
        let tup = RequestPacket {
            version: Version::TUP,
            request_id: 7,
            servant_name: "A.B.C".into(),
            func_name: "f".into(),
            buffer: Bytes::from_static(b"\x08\x0c"),
            status: [
                (STATUS_RESULT_CODE.to_string(), "1234".to_string()),
                (STATUS_RESULT_DESC.to_string(), "no".to_string()),
            ]
            .into(),
            ..RequestPacket::default()
        };
        let reply = response(&mut framed(&tup.to_bytes()));
        assert_eq!(
            (reply.request_id, reply.ret, reply.result_desc.as_str()),
            (7, ReturnCode(1234), "no")
        );
        assert_eq!(&reply.buffer[..], b"\x08\x0c");

        // @tars/rpc writes a code of 0 too; a TUP 2 reply is a request packet as well
        let ok = RequestPacket {
            version: Version::TUP2,
            request_id: 8,
            status: [(STATUS_RESULT_CODE.to_string(), "0".to_string())].into(),
            ..RequestPacket::default()
        };
        let reply = response(&mut framed(&ok.to_bytes()));
        assert_eq!((reply.request_id, reply.ret), (8, ReturnCode::SUCCESS));

        // JSON replies are response packets
        let json = ResponsePacket {
            version: Version::JSON,
            request_id: 9,
            ret: ReturnCode::SERVER_UNKNOWN_ERR,
            ..ResponsePacket::default()
        };
        let reply = response(&mut framed(&json.to_bytes()));
        assert_eq!(
            (reply.request_id, reply.ret),
            (9, ReturnCode::SERVER_UNKNOWN_ERR)
        );

        // a TUP reply shaped as a response packet, as older TarsGo servants send it
        let go = ResponsePacket {
            version: Version::TUP,
            request_id: 11,
            ret: ReturnCode(5),
            ..ResponsePacket::default()
        };
        let reply = response(&mut framed(&go.to_bytes()));
        assert_eq!((reply.request_id, reply.ret), (11, ReturnCode(5)));

        // a result code that is not a number is bad input, not a panic
        let bad = RequestPacket {
            version: Version::TUP,
            request_id: 10,
            status: [(STATUS_RESULT_CODE.to_string(), "x".to_string())].into(),
            ..RequestPacket::default()
        };
        let wire = TarsWire::new("A.B.C", 1 << 20);
        assert!(wire.decode(&mut framed(&bad.to_bytes())).is_err());
    }
}
