//! Custom protocols on the client, TarsCpp's `tars_set_protocol`: a user's [`ClientProtocol`]
//! and the [`RawWire`] a [`Proxy<RawWire>`](super::Proxy) speaks through it, on the same
//! connection machinery as TARS.

use std::fmt;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::request::Outgoing;
use super::wire::{sealed, BadInput, Incoming, KeepAlive, Wire};
use crate::error::{Error, Result};
use crate::framing::FrameCodec;
use crate::packet::ReturnCode;
use crate::protocol::ProtocolError;

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
/// [`Proxy<RawWire>`](crate::client::Proxy#custom-protocols) documentation shows one for
/// TarsCpp's PushDemo framing.
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

/// Room for a protocol's header, beyond the payload.
const HEADER_ROOM: usize = 32;

/// A protocol of the user's own, the wire of a [`Proxy<RawWire>`](super::Proxy) from
/// [`Communicator::raw_proxy`](super::Communicator::raw_proxy): requests encoded by its
/// [`ClientProtocol`], responses cut by it; request id 0 is a push frame, a
/// [`Bytes`]. The keep-alive is the heartbeat given to
/// [`RawProxyBuilder::heartbeat`](super::RawProxyBuilder::heartbeat), sent as a request.
pub struct RawWire {
    protocol: Box<dyn ClientProtocol>,
    /// The name given before `@`, for errors and logs.
    pub(super) name: Option<String>,
    max_frame_len: usize,
    /// What keeps connections alive in push mode, if anything.
    heartbeat: Option<Bytes>,
}

impl RawWire {
    pub(super) fn new(
        protocol: Box<dyn ClientProtocol>,
        name: Option<String>,
        max_frame_len: usize,
        heartbeat: Option<Bytes>,
    ) -> Self {
        Self {
            protocol,
            name,
            max_frame_len,
            heartbeat,
        }
    }
}

impl fmt::Debug for RawWire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawWire")
            .field("name", &self.name)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl sealed::Sealed for RawWire {}

impl Wire for RawWire {
    type Push = Bytes;
    type Response = Bytes;

    fn decode(&self, buf: &mut BytesMut) -> std::result::Result<Option<Incoming<Self>>, BadInput> {
        let buffered = buf.len();
        match self.protocol.decode_response(buf) {
            Ok(Some(RawResponse { request_id, frame })) => {
                if buf.len() >= buffered {
                    // it would be handed out again and again
                    return Err(BadInput::Frame(
                        "the protocol cut a response without taking any input".to_string(),
                    ));
                }
                Ok(Some(if request_id == 0 {
                    Incoming::Push(frame)
                } else {
                    Incoming::Response {
                        request_id,
                        response: frame,
                    }
                }))
            }
            Ok(None) if buffered > self.max_frame_len => Err(BadInput::Frame(format!(
                "{buffered} bytes buffered without a whole response, over the maximum frame \
                 length of {} bytes",
                self.max_frame_len
            ))),
            Ok(None) => Ok(None),
            Err(error) => Err(BadInput::Frame(error.to_string())),
        }
    }

    fn describe_push(push: &Bytes) -> String {
        format!("a {}-byte frame", push.len())
    }

    fn keep_alive(&self, _timeout: Duration) -> Option<KeepAlive<'_>> {
        let payload = self.heartbeat.as_deref()?;
        Some(KeepAlive {
            request: Box::new(RawRequest {
                wire: self,
                payload,
            }),
            call: false,
        })
    }
}

/// A payload on its way through the protocol.
pub(super) struct RawRequest<'a> {
    pub(super) wire: &'a RawWire,
    pub(super) payload: &'a [u8],
}

impl Outgoing for RawRequest<'_> {
    fn encode(&self, request_id: i32, codec: &FrameCodec) -> Result<Bytes> {
        let mut buf = BytesMut::with_capacity(self.payload.len() + HEADER_ROOM);
        self.wire
            .protocol
            .encode_request(request_id, self.payload, &mut buf)
            .map_err(|error| self.cannot_send(&error))?;
        let max = codec.max_frame_len();
        if buf.len() > max {
            return Err(self.cannot_send(&format!(
                "its {}-byte frame exceeds the maximum of {max} bytes",
                buf.len()
            )));
        }
        Ok(buf.freeze())
    }

    fn describe(&self) -> String {
        match &self.wire.name {
            Some(name) => format!("a request to {name}"),
            None => "a request".to_string(),
        }
    }
}

impl RawRequest<'_> {
    fn cannot_send(&self, why: &dyn fmt::Display) -> Error {
        Error::new(
            ReturnCode::SEND_REQUEST_ERR,
            format!("cannot send {}: {why}", self.describe()),
        )
    }
}
