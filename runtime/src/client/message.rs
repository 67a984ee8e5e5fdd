//! What a TARS push is on the client: a [`PushMessage`], and [`FromPush`] for the typed events
//! `#[tars_push]` generates.

use std::sync::Arc;

use bytes::Bytes;

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::packet::{Context, ResponsePacket, STATUS_PUSH_FUNC};
use crate::TarsStruct;

/// A push as a client receives it: TarsCpp's push callback, a reply packet with request id 0
/// whose status `TARS_FUNC` names the function.
///
/// ```
/// use tars_rpc::packet::{Context, ResponsePacket};
/// use tars_rpc::push::{PushFrame, PushMessage};
/// use tars_rpc::TarsStruct;
///
/// #[derive(TarsStruct, Debug, PartialEq)]
/// struct Body {
///     #[tars(tag = 0)]
///     ret: i32,
///     #[tars(tag = 1)]
///     text: String,
/// }
///
/// let frame = PushFrame::new("pushMsg", &Body { ret: 0, text: "hi".into() }, &Context::new());
/// let packet = ResponsePacket::decode_from(&frame.as_bytes()[4..]).unwrap();
/// let push = PushMessage::from_packet(packet).expect("a push");
/// assert_eq!(push.function, "pushMsg");
/// assert_eq!(push.decode::<Body>().unwrap(), Body { ret: 0, text: "hi".into() });
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PushMessage {
    /// The function pushed (`status["TARS_FUNC"]`), e.g. `pushMsg`.
    pub function: String,
    /// The `sBuffer`: the return value at tag 0, the out-parameters at tags 1, 2, ...
    pub buffer: Bytes,
    /// The push's context.
    pub context: Context,
    /// The endpoint of the connection it came on; `None` for a push made from a packet.
    origin: Option<Arc<Endpoint>>,
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
            origin: None,
        })
    }

    /// The endpoint of the connection the push came on: a client registered on several
    /// instances of an object tells their pushes apart by it. `None` for a push made with
    /// [`from_packet`](Self::from_packet), not received.
    ///
    /// ```
    /// use tars_rpc::client::{Communicator, TypedProxy};
    /// use tars_rpc::push::PushMessage;
    ///
    /// fn log_origins(communicator: &Communicator) {
    ///     let proxy = communicator.proxy("A.B.C@tcp -h 10.0.0.1 -p 1:tcp -h 10.0.0.2 -p 1").unwrap();
    ///     proxy.set_push_handler(|push: PushMessage| async move {
    ///         if let Some(from) = push.origin() {
    ///             println!("{} from {from}", push.function);
    ///         }
    ///     });
    /// }
    /// ```
    pub fn origin(&self) -> Option<&Endpoint> {
        self.origin.as_deref()
    }

    /// Marks the push as received on a connection to `endpoint`.
    pub(super) fn set_origin(&mut self, endpoint: &Arc<Endpoint>) {
        self.origin = Some(Arc::clone(endpoint));
    }

    /// Decodes the `sBuffer` as `B`.
    ///
    /// # Errors
    /// [`ReturnCode::CLIENT_DECODE_ERR`](crate::packet::ReturnCode::CLIENT_DECODE_ERR) (-12) if
    /// the buffer is not a `B`.
    pub fn decode<B: TarsStruct>(&self) -> Result<B> {
        B::decode_bytes(&self.buffer).map_err(|error| Error::client_decode(&error))
    }
}

/// A typed push: `#[tars_push]` generates an enum `{Trait}Event` with one variant per method,
/// which [`PushStream::events`](super::PushStream::events) decodes pushes into.
pub trait FromPush: Sized + Send + 'static {
    /// Decodes `push`.
    ///
    /// # Errors
    /// If the function is unknown or the buffer does not decode.
    fn decode(push: &PushMessage) -> Result<Self>;
}
