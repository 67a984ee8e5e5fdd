//! What goes out on a connection: an [`Outgoing`] request encodes itself with the id the
//! connection gives it; a TARS [`Request`] does so straight into a frame, from borrowed parts.

use bytes::{Bytes, BytesMut};

use crate::codec::writer::{
    write_byte_list, write_i16, write_i32, write_i8, write_map_head, write_string,
};
use crate::codec::TarsEncode;
use crate::error::{Error, Result};
use crate::framing::{FrameCodec, LENGTH_PREFIX};
use crate::packet::{Context, MessageType, PacketType, ReturnCode, Version};

/// A request before it has an id.
pub(super) trait Outgoing: Sync {
    /// The whole frame of the request with `request_id`, within the `codec`'s maximum frame
    /// length; fails with [`ReturnCode::SEND_REQUEST_ERR`].
    fn encode(&self, request_id: i32, codec: &FrameCodec) -> Result<Bytes>;

    /// Names the request in errors, e.g. `App.Server.Obj::func`.
    fn describe(&self) -> String;
}

/// Room for the fixed fields of a request packet, beyond its strings, buffer and context.
const HEADER_ROOM: usize = 64;

/// A request before it has a request id: everything of a [`RequestPacket`](crate::packet::RequestPacket)
/// but the id, borrowed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request<'a> {
    pub(super) servant: &'a str,
    pub(super) func: &'a str,
    pub(super) packet_type: PacketType,
    pub(super) buffer: &'a [u8],
    pub(super) timeout_ms: i32,
    pub(super) context: &'a Context,
    /// `iVersion`: TARS, or the TUP or JSON encoding of a proxy switched to one.
    pub(super) version: Version,
}

impl Request<'_> {
    /// The request with id `request_id`, framed: the bytes to write on the connection.
    ///
    /// Fails with [`ReturnCode::SEND_REQUEST_ERR`] if the frame would exceed the codec's maximum.
    pub(super) fn encode(&self, request_id: i32, codec: &FrameCodec) -> Result<Bytes> {
        let body_estimate = self.servant.len() + self.func.len() + self.buffer.len();
        // TARS sizes are i32 and the length prefix u32: refuse before the writer could panic
        let limit = codec.max_frame_len().min(i32::MAX as usize);
        if body_estimate + LENGTH_PREFIX > limit {
            return Err(self.too_long(format!("its frame exceeds the maximum of {limit} bytes")));
        }
        let mut buf = BytesMut::with_capacity(LENGTH_PREFIX + HEADER_ROOM + body_estimate);
        codec
            .write_frame(&mut buf, |buf| self.write_fields(request_id, buf))
            .map_err(|error| self.too_long(error.to_string()))?;
        Ok(buf.freeze())
    }

    /// The fields of `RequestPacket`, as its derive writes them (every field is required).
    fn write_fields(&self, request_id: i32, buf: &mut BytesMut) {
        write_i16(buf, 1, self.version.0);
        write_i8(buf, 2, self.packet_type.0);
        write_i32(buf, 3, MessageType::NULL.0);
        write_i32(buf, 4, request_id);
        write_string(buf, 5, self.servant.as_bytes());
        write_string(buf, 6, self.func.as_bytes());
        write_byte_list(buf, 7, self.buffer);
        write_i32(buf, 8, self.timeout_ms);
        self.context.write_field(9, buf);
        // status: the client sends none
        write_map_head(buf, 10, 0);
    }

    fn too_long(&self, why: String) -> Error {
        Error::new(
            ReturnCode::SEND_REQUEST_ERR,
            format!("cannot send {}::{}: {why}", self.servant, self.func),
        )
    }
}

impl Outgoing for Request<'_> {
    fn encode(&self, request_id: i32, codec: &FrameCodec) -> Result<Bytes> {
        Request::encode(self, request_id, codec)
    }

    fn describe(&self) -> String {
        format!("{}::{}", self.servant, self.func)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::RequestPacket;
    use crate::TarsStruct;

    fn packet(request: &Request<'_>, request_id: i32) -> RequestPacket {
        RequestPacket {
            version: request.version,
            packet_type: request.packet_type,
            message_type: MessageType::NULL,
            request_id,
            servant_name: request.servant.to_string(),
            func_name: request.func.to_string(),
            buffer: Bytes::copy_from_slice(request.buffer),
            timeout: request.timeout_ms,
            context: request.context.clone(),
            status: Context::new(),
        }
    }

    #[test]
    fn encodes_as_the_request_packet_derive_does() {
        let mut context = Context::new();
        context.insert("k".into(), "v".into());
        let long = "x".repeat(300);
        let empty = Context::new();
        let buffer = vec![7u8; 70_000];
        let cases = [
            (
                Request {
                    servant: "A.B.C",
                    func: "f",
                    packet_type: PacketType::NORMAL,
                    buffer: b"",
                    timeout_ms: 0,
                    context: &empty,
                    version: Version::TARS,
                },
                1,
            ),
            (
                Request {
                    servant: "TestApp.HelloServer.HelloObj",
                    func: "testHello",
                    packet_type: PacketType::ONEWAY,
                    buffer: b"\x16\x02hi",
                    timeout_ms: 3000,
                    context: &context,
                    version: Version(3),
                },
                i32::MAX,
            ),
            (
                Request {
                    servant: &long,
                    func: &long,
                    packet_type: PacketType::NORMAL,
                    buffer: &buffer,
                    timeout_ms: i32::MAX,
                    context: &context,
                    version: Version(3),
                },
                70_000,
            ),
        ];
        let codec = FrameCodec::default();
        for (request, id) in cases {
            let frame = request.encode(id, &codec).unwrap();
            let expected = packet(&request, id).to_bytes();
            assert_eq!(&frame[LENGTH_PREFIX..], &expected[..]);
            assert_eq!(
                &frame[..LENGTH_PREFIX],
                &(expected.len() as u32 + 4).to_be_bytes()
            );
        }
    }

    #[test]
    fn refuses_frames_over_the_maximum() {
        let empty = Context::new();
        let buffer = vec![0u8; 200];
        let request = Request {
            servant: "A.B.C",
            func: "f",
            packet_type: PacketType::NORMAL,
            buffer: &buffer,
            timeout_ms: 0,
            context: &empty,
            version: Version::TARS,
        };
        // over the maximum by the estimate alone, and only once the fields are written
        for max in [100, 220] {
            let error = request.encode(1, &FrameCodec::new(max)).unwrap_err();
            assert_eq!(error.code(), ReturnCode::SEND_REQUEST_ERR, "{error}");
        }
        assert!(request.encode(1, &FrameCodec::new(300)).is_ok());
    }
}
