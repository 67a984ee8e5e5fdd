//! What a connection speaks: the [`Wire`] its machinery (pending calls by request id, reader
//! and writer tasks, timeouts, push routing, supervisor) is generic over.
//!
//! Two wires exist: [`TarsWire`], TARS `RequestPacket`s out and `ResponsePacket`s in (a push is
//! request id 0 with a `TARS_FUNC` status, `_reconnect_` retires the connection), and
//! [`RawWire`](super::raw::RawWire), a user's [`ClientProtocol`](crate::client::ClientProtocol)
//! (request id 0 is a push frame). A wire decodes what arrives into [`Incoming`] messages,
//! names pushes in logs, makes the proxy `on_connect` hooks get, and sends the keep-alive; a
//! request, an [`Outgoing`], encodes itself with the id the connection gives it.

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio_util::codec::Decoder;

use super::connection::Connection;
use super::proxy::{ObjectProxy, ObjectShared, ServantProxy};
use super::push::PushMessage;
use super::request::Request;
use crate::error::Result;
use crate::framing::FrameCodec;
use crate::packet::{Context, PacketType, ResponsePacket, RECONNECT_MESSAGE};
use crate::TarsStruct;

/// One message cut off a connection's input.
pub(super) enum Incoming<W: Wire> {
    /// The response to the call with `request_id`.
    Response {
        request_id: i32,
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
#[derive(Debug)]
pub(super) enum BadInput {
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

/// A request before it has an id.
pub(super) trait Outgoing: Sync {
    /// The whole frame of the request with `request_id`, within the `codec`'s maximum frame
    /// length; fails with [`ReturnCode::SEND_REQUEST_ERR`](crate::packet::ReturnCode::SEND_REQUEST_ERR).
    fn encode(&self, request_id: i32, codec: &FrameCodec) -> Result<Bytes>;

    /// Names the request in errors, e.g. `App.Server.Obj::func`.
    fn describe(&self) -> String;
}

/// What a connection speaks. One value per object, shared by its connections.
pub(super) trait Wire: Send + Sync + Sized + 'static {
    /// What a call gets back.
    type Response: Send + 'static;
    /// A push as the push handler and streams get it.
    type Push: Clone + Send + Sync + 'static;
    /// The handle `on_connect` hooks get.
    type Proxy: Clone + Send + 'static;

    /// Cuts one message off the front of `buf`: `Ok(None)` when more bytes are needed.
    fn decode(&self, buf: &mut BytesMut) -> std::result::Result<Option<Incoming<Self>>, BadInput>;

    /// Names a push in logs.
    fn describe_push(push: &Self::Push) -> String;

    /// A handle on `object` whose calls all go to the endpoint at `index`.
    fn pinned_proxy(object: Arc<ObjectProxy<Self>>, index: usize) -> Self::Proxy;

    /// Sends one keep-alive on `connection`; an `Err` closes the connection.
    fn keep_alive<'a>(
        &'a self,
        connection: &'a Connection<Self>,
        object: &'a ObjectShared<Self>,
    ) -> BoxFuture<'a, Result<()>>;
}

/// A tokio-util [`Decoder`] of a wire's [`Incoming`] messages.
pub(super) struct WireDecoder<W: Wire> {
    object: Arc<ObjectShared<W>>,
}

impl<W: Wire> WireDecoder<W> {
    pub(super) fn new(object: Arc<ObjectShared<W>>) -> Self {
        Self { object }
    }
}

impl<W: Wire> Decoder for WireDecoder<W> {
    type Item = Incoming<W>;
    type Error = ReadError;

    fn decode(
        &mut self,
        buf: &mut BytesMut,
    ) -> std::result::Result<Option<Incoming<W>>, ReadError> {
        self.object.wire.decode(buf).map_err(ReadError::Bad)
    }
}

/// TARS: `RequestPacket`s out, `ResponsePacket`s in; `tars_ping` keeps connections alive.
pub(super) struct TarsWire {
    /// The servant name, for keep-alive pings.
    servant: String,
    codec: FrameCodec,
}

impl TarsWire {
    pub(super) fn new(servant: &str, max_frame_len: usize) -> Self {
        Self {
            servant: servant.to_string(),
            codec: FrameCodec::new(max_frame_len),
        }
    }
}

impl Wire for TarsWire {
    type Response = ResponsePacket;
    type Push = PushMessage;
    type Proxy = ServantProxy;

    fn decode(&self, buf: &mut BytesMut) -> std::result::Result<Option<Incoming<Self>>, BadInput> {
        let mut codec = self.codec;
        let Some(frame) = codec
            .decode(buf)
            .map_err(|error| BadInput::Frame(error.to_string()))?
        else {
            return Ok(None);
        };
        let packet = ResponsePacket::decode_bytes(&frame)
            .map_err(|error| BadInput::Packet(error.to_string()))?;
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

    fn describe_push(push: &PushMessage) -> String {
        format!("`{}` ({} bytes)", push.function, push.buffer.len())
    }

    fn pinned_proxy(object: Arc<ObjectProxy<Self>>, index: usize) -> ServantProxy {
        ServantProxy::pinned(object, index)
    }

    fn keep_alive<'a>(
        &'a self,
        connection: &'a Connection<Self>,
        object: &'a ObjectShared<Self>,
    ) -> BoxFuture<'a, Result<()>> {
        async move {
            let context = Context::new();
            let timeout = object.config.call_timeout;
            let ping = Request {
                servant: &self.servant,
                func: "tars_ping",
                packet_type: PacketType::NORMAL,
                buffer: &[],
                timeout_ms: i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
                context: &context,
            };
            // any reply will do: the connection is alive
            connection.call(&ping, timeout).await.map(drop)
        }
        .boxed()
    }
}
