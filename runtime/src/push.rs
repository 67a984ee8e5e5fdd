//! Server push, TarsCpp's way: a push is a `ResponsePacket` with request id 0 whose status
//! `TARS_FUNC` names the function, its `sBuffer` holding the return value at tag 0 and the
//! out-parameters at tags 1, 2, ... (`Current::sendPushResponse` in TarsCpp).
//!
//! * Server: encode a push once as a [`PushFrame`], send it to a saved
//!   [`Current`](crate::Current) with [`Current::send_push`](crate::Current::send_push), or to
//!   every client in a [`Subscribers`] registry.
//! * Client: pushes arrive as [`PushMessage`]s, handed to a [`PushHandler`] (what
//!   `#[tars_push]` generates from a trait) or read from a stream.

use bytes::{Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::framing::FrameCodec;
use crate::packet::{Context, ResponsePacket, ReturnCode, STATUS_PUSH_FUNC};
use crate::TarsStruct;

mod subscribers;
pub use subscribers::{BroadcastReport, Subscribers};

/// The `sResultDesc` of TarsGo's graceful-shutdown packet (request id 0): the server is going
/// away, reconnect.
pub const RECONNECT_MESSAGE: &str = "_reconnect_";

/// A push, encoded once as a whole frame (length prefix included), ready to be queued on any
/// number of connections without copying.
///
/// ```
/// use tars_rpc::packet::Context;
/// use tars_rpc::push::PushFrame;
/// use tars_rpc::TarsStruct;
///
/// #[derive(TarsStruct)]
/// struct PushMsg {
///     #[tars(tag = 0)]
///     ret: i32,
///     #[tars(tag = 1)]
///     s_rsp: String,
/// }
///
/// // byte for byte what TarsCpp's PushCallbackServer sends
/// let frame = PushFrame::new("pushMsg", &PushMsg { ret: 0, s_rsp: "push message".into() }, &Context::new());
/// assert_eq!(frame.as_bytes().len(), 0x34);
/// ```
#[derive(Debug, Clone)]
pub struct PushFrame {
    frame: Bytes,
    /// Framed by a custom protocol rather than a TARS `ResponsePacket`.
    raw: bool,
}

impl PushFrame {
    /// Encodes a push of `function` whose `sBuffer` is `body` (the return value at tag 0, the
    /// out-parameters at their tags).
    pub fn new<B: TarsStruct>(function: &str, body: &B, context: &Context) -> Self {
        Self::from_buffer(function, body.to_bytes(), context)
    }

    /// Encodes a push of `function` with an already encoded `sBuffer`.
    pub fn from_buffer(function: &str, buffer: Bytes, context: &Context) -> Self {
        let packet = ResponsePacket {
            buffer,
            status: Context::from([(STATUS_PUSH_FUNC.to_string(), function.to_string())]),
            context: context.clone(),
            ..ResponsePacket::default()
        };
        Self::from_packet(&packet)
    }

    /// TarsGo's graceful-shutdown packet: request id 0, `sResultDesc` [`RECONNECT_MESSAGE`].
    pub fn reconnect() -> Self {
        Self::from_packet(&ResponsePacket {
            result_desc: RECONNECT_MESSAGE.to_string(),
            ..ResponsePacket::default()
        })
    }

    /// A push of `frame`, a whole frame already encoded in a custom protocol, to send as it is
    /// to the clients of a [`RawServant`](crate::protocol::RawServant), e.g. with
    /// [`Subscribers::broadcast`] ([`Current::send_push`](crate::Current::send_push) of it is
    /// [`Current::send_raw`](crate::Current::send_raw)).
    ///
    /// ```
    /// use bytes::{BufMut, BytesMut};
    /// use tars_rpc::push::PushFrame;
    ///
    /// // the seed PushDemo's push: total length, request id 0, the message
    /// let mut frame = BytesMut::new();
    /// frame.put_u32(8 + 11);
    /// frame.put_u32(0);
    /// frame.put_slice(b"hello world");
    /// let push = PushFrame::from_raw(frame.freeze());
    /// assert_eq!(push.as_bytes().len(), 19);
    /// ```
    pub fn from_raw(frame: Bytes) -> Self {
        Self { frame, raw: true }
    }

    /// Whether this frame is a custom protocol's ([`PushFrame::from_raw`]) rather than TARS's.
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    fn from_packet(packet: &ResponsePacket) -> Self {
        let mut frame = BytesMut::new();
        // no limit here: each connection checks its own maximum when the frame is sent
        FrameCodec::new(usize::MAX)
            .write_frame(&mut frame, |buf| packet.write_fields(buf))
            .expect("a frame within u32::MAX bytes");
        Self {
            frame: frame.freeze(),
            raw: false,
        }
    }

    /// The whole frame, length prefix included.
    pub fn as_bytes(&self) -> &Bytes {
        &self.frame
    }
}

/// A push as a client receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushMessage {
    /// The function pushed (`status["TARS_FUNC"]`), e.g. `pushMsg`.
    pub function: String,
    /// The `sBuffer`: the return value at tag 0, the out-parameters at tags 1, 2, ...
    pub buffer: Bytes,
    /// The push's context.
    pub context: Context,
}

impl PushMessage {
    /// The push carried by `packet`, if it is one: request id 0 and a `TARS_FUNC` status.
    pub fn from_packet(packet: ResponsePacket) -> Option<Self> {
        if !packet.is_push() {
            return None;
        }
        let ResponsePacket {
            mut status,
            buffer,
            context,
            ..
        } = packet;
        let function = status.remove(STATUS_PUSH_FUNC)?;
        Some(Self {
            function,
            buffer,
            context,
        })
    }

    /// Decodes the `sBuffer` as `B`; failure is the client's decode error (-12).
    pub fn decode<B: TarsStruct>(&self) -> Result<B> {
        B::decode_bytes(&self.buffer).map_err(|error| Error::client_decode(&error))
    }

    /// The error for a push of a function the receiver does not know.
    pub fn unknown_function(&self) -> Error {
        Error::new(
            ReturnCode::CLIENT_DECODE_ERR,
            format!("no push callback for function `{}`", self.function),
        )
    }
}

/// What a client runs for each push: `#[tars_push]` implements it for `{Trait}Callback<T>`.
///
/// Pushes of one connection are handed over one at a time, in the order they arrived, on a task
/// of their own, so a slow handler never delays replies to calls. An `Err` (an unknown function,
/// a buffer that does not decode) is logged and the push dropped; the connection stays up.
pub trait PushHandler: Send + Sync + 'static {
    /// Handles one push.
    fn on_push<'a>(&'a self, push: &'a PushMessage) -> futures::future::BoxFuture<'a, Result<()>>;
}

impl<H: PushHandler + ?Sized> PushHandler for std::sync::Arc<H> {
    fn on_push<'a>(&'a self, push: &'a PushMessage) -> futures::future::BoxFuture<'a, Result<()>> {
        (**self).on_push(push)
    }
}

/// A typed push: `#[tars_push]` generates an enum `{Trait}Event` with one variant per method.
pub trait FromPush: Sized + Send + 'static {
    /// Decodes `push`; an unknown function or an undecodable buffer is an error.
    fn decode(push: &PushMessage) -> Result<Self>;
}

/// A stream of typed pushes: each [`PushMessage`] of `S` (by default a proxy's
/// [`PushMessages`](crate::client::PushMessages)) decoded as `E`, a `#[tars_push]`
/// `{Trait}Event`. A push that does not decode is an `Err` item; the stream goes on.
pub struct PushEvents<E, S = crate::client::PushMessages> {
    messages: S,
    _event: std::marker::PhantomData<fn() -> E>,
}

impl<E: FromPush, S> PushEvents<E, S> {
    /// Decodes the pushes of `messages`.
    pub fn new(messages: S) -> Self {
        Self {
            messages,
            _event: std::marker::PhantomData,
        }
    }
}

impl<E, S: std::fmt::Debug> std::fmt::Debug for PushEvents<E, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushEvents")
            .field("messages", &self.messages)
            .finish()
    }
}

impl<E: FromPush, S: futures::Stream<Item = PushMessage> + Unpin> futures::Stream
    for PushEvents<E, S>
{
    type Item = Result<E>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<E>>> {
        std::pin::Pin::new(&mut self.messages)
            .poll_next(cx)
            .map(|message| message.map(|message| E::decode(&message)))
    }
}
