//! Server push, TarsCpp's way: a push is a `ResponsePacket` with request id 0 whose status
//! `TARS_FUNC` names the function, its `sBuffer` holding the return value at tag 0 and the
//! out-parameters at tags 1, 2, ... (`Current::sendPushResponse` in TarsCpp).
//!
//! Encode a push once as a [`PushFrame`], send it to a saved [`Current`](super::Current) with
//! [`Current::push`](super::Current::push), or to every client in a
//! [`Subscribers`](super::Subscribers) registry.

use bytes::Bytes;

use crate::codec::writer::encode_to_bytes;
use crate::error::Error;
use crate::framing::FrameCodec;
use crate::packet::{Context, ResponsePacket, ReturnCode, RECONNECT_MESSAGE, STATUS_PUSH_FUNC};
use crate::TarsStruct;

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
#[derive(Clone)]
pub struct PushFrame {
    frame: Bytes,
    /// Framed by a custom protocol rather than a TARS `ResponsePacket`.
    raw: bool,
}

impl PushFrame {
    /// Encodes a push of `function` whose `sBuffer` is `body` (the return value at tag 0, the
    /// out-parameters at their tags).
    ///
    /// ```
    /// use tars_rpc::packet::Context;
    /// use tars_rpc::push::PushFrame;
    /// use tars_rpc::TarsStruct;
    ///
    /// #[derive(TarsStruct)]
    /// struct Notice {
    ///     #[tars(tag = 0)]
    ///     ret: i32,
    ///     #[tars(tag = 1)]
    ///     text: String,
    /// }
    ///
    /// let frame = PushFrame::new("notice", &Notice { ret: 0, text: "hello".into() }, &Context::new());
    /// assert!(!frame.is_raw());
    /// ```
    pub fn new<B: TarsStruct>(function: &str, body: &B, context: &Context) -> Self {
        Self::from_buffer(function, body.to_bytes(), context)
    }

    /// Encodes a push of `function` with an already encoded `sBuffer`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tars_rpc::packet::Context;
    /// use tars_rpc::push::PushFrame;
    ///
    /// // the return value, 0, at tag 0: an empty struct body would be `Bytes::new()`
    /// let frame = PushFrame::from_buffer("tick", Bytes::from_static(&[0x0c]), &Context::new());
    /// assert!(frame.len() > 4);
    /// ```
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
    ///
    /// ```
    /// use tars_rpc::push::PushFrame;
    ///
    /// let frame = PushFrame::reconnect();
    /// assert!(!frame.is_raw() && !frame.is_empty());
    /// ```
    pub fn reconnect() -> Self {
        Self::from_packet(&ResponsePacket {
            result_desc: RECONNECT_MESSAGE.to_string(),
            ..ResponsePacket::default()
        })
    }

    /// A push of `frame`, a whole frame already encoded in a custom protocol, to send as it is
    /// to the clients of a [`RawServant`](crate::server::RawServant), e.g. with
    /// [`Subscribers::broadcast`](super::Subscribers::broadcast) ([`Current::push`](crate::Current::push) of it is
    /// [`Current::send_raw`](crate::Current::send_raw)). The clients of TARS servants are
    /// never sent one ([`PushError::WrongProtocol`]).
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

    /// A frame of `bytes`, TARS or of a custom protocol.
    pub(crate) fn from_parts(frame: Bytes, raw: bool) -> Self {
        Self { frame, raw }
    }

    /// Whether this frame is a custom protocol's ([`PushFrame::from_raw`]) rather than TARS's.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tars_rpc::push::PushFrame;
    ///
    /// assert!(PushFrame::from_raw(Bytes::from_static(b"ping")).is_raw());
    /// assert!(!PushFrame::reconnect().is_raw());
    /// ```
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    fn from_packet(packet: &ResponsePacket) -> Self {
        // no limit here: each connection checks its own maximum when the frame is sent
        let frame = encode_to_bytes(|frame| {
            FrameCodec::new(usize::MAX)
                .write_frame(frame, |buf| packet.write_fields(buf))
                .expect("a frame within u32::MAX bytes");
        });
        Self { frame, raw: false }
    }

    /// The whole frame, length prefix included.
    ///
    /// ```
    /// use tars_rpc::push::PushFrame;
    ///
    /// let frame = PushFrame::reconnect();
    /// let length = u32::from_be_bytes(frame.as_bytes()[..4].try_into().unwrap());
    /// assert_eq!(length as usize, frame.len());
    /// ```
    pub fn as_bytes(&self) -> &Bytes {
        &self.frame
    }

    /// The whole frame, length prefix included.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tars_rpc::push::PushFrame;
    ///
    /// let bytes = PushFrame::from_raw(Bytes::from_static(b"ping")).into_bytes();
    /// assert_eq!(bytes, "ping");
    /// ```
    pub fn into_bytes(self) -> Bytes {
        self.frame
    }

    /// The length of the whole frame, length prefix included.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tars_rpc::push::PushFrame;
    ///
    /// assert_eq!(PushFrame::from_raw(Bytes::from_static(b"ping")).len(), 4);
    /// ```
    pub fn len(&self) -> usize {
        self.frame.len()
    }

    /// Whether the frame is empty (only a custom protocol's frame can be).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use tars_rpc::push::PushFrame;
    ///
    /// assert!(PushFrame::from_raw(Bytes::new()).is_empty());
    /// assert!(!PushFrame::reconnect().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.frame.is_empty()
    }
}

/// Why a push was not queued on a connection. It hands the frame back
/// ([`into_frame`](Self::into_frame)), to retry later or send elsewhere.
///
/// Only [`Closed`](Self::Closed) means the connection is gone: after the others it is still
/// open, and a later push may go through.
///
/// ```
/// use tars_rpc::push::{PushError, PushFrame};
/// use tars_rpc::Current;
///
/// /// Pushes without waiting; keeps a push that found no room, to send it later.
/// fn push_or_keep(current: &Current, frame: PushFrame, later: &mut Vec<PushFrame>) {
///     match current.try_push(frame) {
///         Ok(()) => {}
///         Err(PushError::Full(frame)) => later.push(frame),
///         Err(error) => eprintln!("push lost: {error}"),
///     }
/// }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The connection has closed.
    #[error("the connection is closed")]
    Closed(PushFrame),
    /// The connection's outgoing queue has no room: its client reads more slowly than the
    /// server writes to it (or the server's total for all connections is used up). Nothing
    /// was queued; the connection stays open.
    #[error("the connection's outgoing queue is full: its client is not keeping up")]
    Full(PushFrame),
    /// The outgoing queue had no room until the deadline; nothing was queued.
    #[error("the connection's outgoing queue stayed full until the deadline")]
    Timeout(PushFrame),
    /// The frame is longer than the connection's
    /// [maximum frame](crate::server::ServerBuilder::max_frame_len).
    #[error("a push of {} bytes exceeds the connection's maximum frame of {max} bytes", frame.len())]
    TooLong {
        /// The frame.
        frame: PushFrame,
        /// The connection's maximum.
        max: usize,
    },
    /// The frame is of the wrong protocol for the connection: a TARS push to the client of a
    /// [`RawServant`](crate::server::RawServant), which speaks the servant's own protocol, or
    /// a frame of a custom protocol ([`PushFrame::from_raw`],
    /// [`Current::send_raw`](crate::Current::send_raw)) to the client of a TARS servant.
    #[error("{}", wrong_protocol(.0))]
    WrongProtocol(PushFrame),
}

/// What [`PushError::WrongProtocol`] says, for `frame`.
fn wrong_protocol(frame: &PushFrame) -> &'static str {
    if frame.is_raw() {
        "a frame of a custom protocol cannot go to a connection of a TARS servant; push TARS frames there"
    } else {
        "a TARS push cannot go to a connection of a raw servant; push PushFrame::from_raw frames there"
    }
}

impl PushError {
    /// The frame that was not queued.
    ///
    /// ```
    /// use tars_rpc::push::PushError;
    ///
    /// fn log_failure(error: &PushError) {
    ///     eprintln!("a push of {} bytes was not sent: {error}", error.frame().len());
    /// }
    /// ```
    pub fn frame(&self) -> &PushFrame {
        match self {
            Self::Closed(frame)
            | Self::Full(frame)
            | Self::Timeout(frame)
            | Self::TooLong { frame, .. }
            | Self::WrongProtocol(frame) => frame,
        }
    }

    /// The frame that was not queued, to retry or send elsewhere.
    ///
    /// ```
    /// use tars_rpc::push::PushFrame;
    /// use tars_rpc::Current;
    ///
    /// /// Pushes `frame` to the first client whose queue has room.
    /// fn push_to_one(clients: &[Current], mut frame: PushFrame) -> Result<(), PushFrame> {
    ///     for client in clients {
    ///         match client.try_push(frame) {
    ///             Ok(()) => return Ok(()),
    ///             Err(error) => frame = error.into_frame(),
    ///         }
    ///     }
    ///     Err(frame)
    /// }
    /// ```
    pub fn into_frame(self) -> PushFrame {
        match self {
            Self::Closed(frame)
            | Self::Full(frame)
            | Self::Timeout(frame)
            | Self::TooLong { frame, .. }
            | Self::WrongProtocol(frame) => frame,
        }
    }

    /// Whether the connection has closed: no push to it will ever go through.
    ///
    /// ```
    /// use tars_rpc::push::PushFrame;
    /// use tars_rpc::Current;
    ///
    /// /// Pushes to every client, forgetting those that have gone.
    /// fn push_all(clients: &mut Vec<Current>, frame: &PushFrame) {
    ///     clients.retain(|client| match client.try_push(frame.clone()) {
    ///         Err(error) => !error.is_closed(),
    ///         Ok(()) => true,
    ///     });
    /// }
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

/// For handlers that push and return `tars_rpc::Result`: `?` turns a failed push into the
/// reply's error (a full queue or a timeout into
/// [`SERVER_OVERLOAD`](ReturnCode::SERVER_OVERLOAD), a closed connection into
/// [`PROXY_CONNECT_ERR`](ReturnCode::PROXY_CONNECT_ERR), a frame that cannot go into
/// [`SERVER_ENCODE_ERR`](ReturnCode::SERVER_ENCODE_ERR)).
impl From<PushError> for Error {
    fn from(error: PushError) -> Self {
        let code = match &error {
            PushError::Closed(_) => ReturnCode::PROXY_CONNECT_ERR,
            PushError::Full(_) | PushError::Timeout(_) => ReturnCode::SERVER_OVERLOAD,
            PushError::TooLong { .. } | PushError::WrongProtocol(_) => {
                ReturnCode::SERVER_ENCODE_ERR
            }
        };
        Error::new(code, error.to_string())
    }
}

impl std::fmt::Debug for PushFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // a push may be megabytes long: its length says enough in a log or a test failure
        f.debug_struct("PushFrame")
            .field("len", &self.frame.len())
            .field("raw", &self.raw)
            .finish()
    }
}
