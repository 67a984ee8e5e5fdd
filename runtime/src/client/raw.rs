//! [`RawProxy`]: a proxy speaking its own protocol, TarsCpp's `tars_set_protocol`, on the same
//! connection machinery as [`ServantProxy`](super::ServantProxy) through the [`RawWire`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::{FutureExt, Stream};
use tokio::sync::mpsc;

use super::connection::Connection;
use super::proxy::{ObjectProxy, ObjectShared};
use super::push::OnPush;
use super::wire::{BadInput, Incoming, Outgoing, Wire};
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::framing::FrameCodec;
use crate::packet::ReturnCode;
use crate::protocol::ProtocolError;
use crate::support::lock;

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

/// Room for a protocol's header, beyond the payload.
const HEADER_ROOM: usize = 32;

/// A user's [`ClientProtocol`]: requests encoded by it, responses cut by it; request id 0 is a
/// push frame. The keep-alive is the heartbeat payload set on the proxy, sent as a request.
pub(super) struct RawWire {
    protocol: Box<dyn ClientProtocol>,
    /// The name given before `@`, for errors and logs.
    name: Option<String>,
    max_frame_len: usize,
    /// What [`RawProxy::set_heartbeat`] sends.
    heartbeat: Mutex<Bytes>,
}

impl RawWire {
    pub(super) fn new(
        protocol: impl ClientProtocol,
        name: Option<String>,
        max_frame_len: usize,
    ) -> Self {
        Self {
            protocol: Box::new(protocol),
            name,
            max_frame_len,
            heartbeat: Mutex::new(Bytes::new()),
        }
    }
}

impl Wire for RawWire {
    type Response = Bytes;
    type Push = Bytes;
    type Proxy = RawProxy;

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

    fn pinned_proxy(object: Arc<ObjectProxy<Self>>, index: usize) -> RawProxy {
        RawProxy {
            pinned: Some(index),
            ..RawProxy::new(object)
        }
    }

    fn keep_alive<'a>(
        &'a self,
        connection: &'a Connection<Self>,
        object: &'a ObjectShared<Self>,
    ) -> BoxFuture<'a, Result<()>> {
        async move {
            let payload = lock(&self.heartbeat).clone();
            let heartbeat = RawRequest {
                wire: self,
                payload: &payload,
            };
            connection
                .send_oneway(&heartbeat, object.config.call_timeout)
                .await
        }
        .boxed()
    }
}

/// A payload on its way through the protocol.
struct RawRequest<'a> {
    wire: &'a RawWire,
    payload: &'a [u8],
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

/// A push callback of a raw proxy.
struct RawHandler<F>(F);

impl<F, Fut> OnPush<Bytes> for RawHandler<F>
where
    F: Fn(Bytes) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn on_push<'a>(&'a self, push: &'a Bytes) -> BoxFuture<'a, Result<()>> {
        let handled = (self.0)(push.clone());
        async move {
            handled.await;
            Ok(())
        }
        .boxed()
    }
}

/// A proxy speaking its own protocol: TarsCpp's `ServantProxy` after `tars_set_protocol`, as in
/// its PushDemo. Get one from [`Communicator::raw_proxy`](super::Communicator::raw_proxy).
/// Cheap to clone; clones share the connections.
///
/// Everything but the bytes on the wire is as for a [`ServantProxy`](super::ServantProxy): one
/// connection per endpoint, made on the first call and made again by the next call after a
/// loss; calls go to the endpoints in turn and share a connection, each [`call`](Self::call)
/// matched to its response by the request id the [`ClientProtocol`] reports; a timeout per
/// call ([`with_timeout`](Self::with_timeout)); the same
/// [`CommunicatorConfig`](super::CommunicatorConfig) limits.
///
/// The protocol writes each request with an id the connection picks (1, 2, ..., never 0) and
/// cuts each response off the input, reporting the id it answers. A response whose id matches
/// no waiting call (it timed out, or the id is not one of a call) is dropped; id 0 marks a
/// push. Input the protocol rejects (a [`ProtocolError`](crate::protocol::ProtocolError)), or
/// more than [`max_frame_len`](super::CommunicatorConfig::max_frame_len) bytes buffered
/// without a response coming out, closes the connection with a warning naming the endpoint
/// and the reason: its calls in flight fail with
/// [`ReturnCode::PROXY_CONNECT_ERR`] (-8), and the next call connects again.
///
/// # Pushes
///
/// Frames with request id 0 go to the callback set with
/// [`set_push_handler`](Self::set_push_handler) and to every stream from
/// [`push_frames`](Self::push_frames), as whole frames; with neither, they are dropped. As for
/// TARS, either puts the proxy in *push mode*: a connection that closes is made again by
/// itself, with the [`reconnect_backoff`](super::CommunicatorConfig::reconnect_backoff), and
/// [`on_connect`](Self::on_connect) hooks run after every connect (register there). A raw
/// protocol has no `tars_ping`: to keep connections alive in push mode, give the heartbeat to
/// send with [`set_heartbeat`](Self::set_heartbeat), or send your own.
///
/// Unlike TARS proxies, every [`Communicator::raw_proxy`](super::Communicator::raw_proxy) makes
/// a new object with connections of its own (its protocol is its own); share a proxy by
/// cloning it. The handler and hooks are kept by the object: one that holds a proxy of the
/// object keeps it alive for good; use the proxy an `on_connect` hook receives instead.
///
/// ```
/// use bytes::{BufMut, BytesMut};
/// use tars_rpc::client::Communicator;
/// use tars_rpc::protocol::{
///     request_id_after_length, ClientProtocol, FrameSplitter, LengthPrefixed, ProtocolError,
///     RawResponse,
/// };
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// /// TarsCpp's PushDemo framing: 4-byte big-endian total length, 4-byte request id, payload.
/// struct PushDemo;
///
/// impl ClientProtocol for PushDemo {
///     fn encode_request(
///         &self,
///         request_id: i32,
///         payload: &[u8],
///         buf: &mut BytesMut,
///     ) -> Result<(), ProtocolError> {
///         let len = u32::try_from(8 + payload.len())
///             .map_err(|_| ProtocolError::new("payload too long"))?;
///         buf.put_u32(len);
///         buf.put_i32(request_id);
///         buf.extend_from_slice(payload);
///         Ok(())
///     }
///
///     fn decode_response(&self, buf: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> {
///         // the connection bounds what it buffers: no limit needed here
///         let Some(frame) = LengthPrefixed::new(usize::MAX).split(buf)? else {
///             return Ok(None);
///         };
///         let request_id = request_id_after_length(&frame)
///             .ok_or_else(|| ProtocolError::new("a frame too short for a request id"))?;
///         Ok(Some(RawResponse { request_id, frame }))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // an echo server: answers every frame with itself
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let port = listener.local_addr().unwrap().port();
/// tokio::spawn(async move {
///     let (mut stream, _) = listener.accept().await.unwrap();
///     let mut frame = [0u8; 13];
///     stream.read_exact(&mut frame).await.unwrap();
///     stream.write_all(&frame).await.unwrap();
/// });
///
/// let proxy = Communicator::new()
///     .raw_proxy(&format!("PushDemo@tcp -h 127.0.0.1 -p {port}"), PushDemo)
///     .unwrap();
/// let response = proxy.call(b"hello").await.unwrap();
/// assert_eq!(&response[..], b"\x00\x00\x00\x0d\x00\x00\x00\x01hello");
/// # }
/// ```
#[derive(Clone)]
pub struct RawProxy {
    object: Arc<ObjectProxy<RawWire>>,
    timeout: Duration,
    /// The endpoint every call goes to, by index, rather than each endpoint in turn.
    pinned: Option<usize>,
}

impl fmt::Debug for RawProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RawProxy");
        if let Some(name) = self.name() {
            debug.field("name", &name);
        }
        let endpoints: Vec<String> = self.endpoints().iter().map(ToString::to_string).collect();
        debug
            .field("endpoints", &endpoints)
            .field("timeout", &self.timeout);
        if let Some(index) = self.pinned {
            debug.field("endpoint", &endpoints[index]);
        }
        debug.finish()
    }
}

impl RawProxy {
    pub(super) fn new(object: Arc<ObjectProxy<RawWire>>) -> Self {
        Self {
            timeout: object.shared.config.call_timeout,
            object,
            pinned: None,
        }
    }

    /// The name given before `@` in the endpoint string, if any.
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use tars_rpc::protocol::{ClientProtocol, ProtocolError, RawResponse};
    /// # struct Proto;
    /// # impl ClientProtocol for Proto {
    /// #     fn encode_request(&self, _: i32, _: &[u8], _: &mut BytesMut) -> Result<(), ProtocolError> { Ok(()) }
    /// #     fn decode_response(&self, _: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> { Ok(None) }
    /// # }
    /// use tars_rpc::client::Communicator;
    ///
    /// let communicator = Communicator::new();
    /// let named = communicator.raw_proxy("Push@tcp -h 10.0.0.1 -p 9300", Proto).unwrap();
    /// assert_eq!(named.name(), Some("Push"));
    /// let plain = communicator.raw_proxy("10.0.0.1:9300", Proto).unwrap();
    /// assert_eq!(plain.name(), None);
    /// assert_eq!(plain.endpoints()[0].to_string(), "tcp -h 10.0.0.1 -p 9300");
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.object.shared.wire.name.as_deref()
    }

    /// The endpoints, called in turn.
    pub fn endpoints(&self) -> &[Endpoint] {
        self.object.address.endpoints()
    }

    /// A handle on the same connections whose calls time out after `timeout`.
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use tars_rpc::protocol::{ClientProtocol, ProtocolError, RawResponse};
    /// # struct Proto;
    /// # impl ClientProtocol for Proto {
    /// #     fn encode_request(&self, _: i32, _: &[u8], _: &mut BytesMut) -> Result<(), ProtocolError> { Ok(()) }
    /// #     fn decode_response(&self, _: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> { Ok(None) }
    /// # }
    /// use std::time::Duration;
    /// use tars_rpc::client::Communicator;
    ///
    /// let proxy = Communicator::new().raw_proxy("127.0.0.1:1", Proto).unwrap();
    /// assert_eq!(proxy.timeout(), Duration::from_secs(3));
    /// let quick = proxy.with_timeout(Duration::from_millis(200));
    /// assert_eq!(quick.timeout(), Duration::from_millis(200));
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// The call timeout of this handle: the communicator's
    /// [`call_timeout`](super::CommunicatorConfig::call_timeout) unless set with
    /// [`with_timeout`](Self::with_timeout).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Encodes `payload` through the protocol with a fresh request id (never 0), sends it, and
    /// returns the response the protocol reports with that id: the whole frame, as the
    /// protocol cut it.
    ///
    /// # Errors
    /// - [`ReturnCode::PROXY_CONNECT_ERR`] (-8) if no endpoint could be connected within the
    ///   communicator's [`connect_timeout`](super::CommunicatorConfig::connect_timeout), or the
    ///   connection was lost (or closed for bad input) before the response came;
    /// - [`ReturnCode::INVOKE_TIMEOUT`] (-7) if no response came within
    ///   [`timeout`](Self::timeout), counted from when the call has a connection; the
    ///   connection stays open;
    /// - [`ReturnCode::SEND_REQUEST_ERR`] (-13) if the protocol cannot encode the request, or
    ///   its frame exceeds the maximum frame length.
    pub async fn call(&self, payload: &[u8]) -> Result<Bytes> {
        let connection = self.object.connection(self.pinned).await?;
        connection.call(&self.request(payload), self.timeout).await
    }

    /// Encodes `payload` as [`call`](Self::call) does and sends it without waiting for a
    /// response; returns once it is queued on the connection (waiting up to
    /// [`timeout`](Self::timeout) for room). A response the server sends anyway is dropped.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn send(&self, payload: &[u8]) -> Result<()> {
        let connection = self.object.connection(self.pinned).await?;
        connection
            .send_oneway(&self.request(payload), self.timeout)
            .await
    }

    fn request<'a>(&'a self, payload: &'a [u8]) -> RawRequest<'a> {
        RawRequest {
            wire: &self.object.shared.wire,
            payload,
        }
    }

    /// Runs `handler` on every push frame (request id 0) of this object's connections;
    /// replaces any previous handler. TarsCpp's `tars_set_push_callback`.
    ///
    /// As for TARS push handlers, each connection runs the handler on a task of its own, on one
    /// frame at a time in the order the frames arrived, so that a slow handler never delays
    /// the responses to calls. Up to
    /// [`push_queue_capacity`](super::CommunicatorConfig::push_queue_capacity) frames per
    /// connection wait for it; frames beyond are dropped with a warning; a panic is logged.
    /// Setting a handler puts the object in push mode (see [Pushes](Self#pushes)).
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use tars_rpc::protocol::{ClientProtocol, ProtocolError, RawResponse};
    /// # struct Proto;
    /// # impl ClientProtocol for Proto {
    /// #     fn encode_request(&self, _: i32, _: &[u8], _: &mut BytesMut) -> Result<(), ProtocolError> { Ok(()) }
    /// #     fn decode_response(&self, _: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> { Ok(None) }
    /// # }
    /// use tars_rpc::client::Communicator;
    ///
    /// let proxy = Communicator::new().raw_proxy("127.0.0.1:9300", Proto).unwrap();
    /// proxy.set_push_handler(|frame| async move {
    ///     println!("pushed: {} bytes", frame.len());
    /// });
    /// proxy.clear_push_handler();
    /// ```
    pub fn set_push_handler<F, Fut>(&self, handler: F)
    where
        F: Fn(Bytes) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.object
            .shared
            .push
            .set_handler(Some(Arc::new(RawHandler(handler))));
    }

    /// Removes the push handler, if any. Frames the handler is running on or that wait for it
    /// are dropped.
    pub fn clear_push_handler(&self) {
        self.object.shared.push.set_handler(None);
    }

    /// A stream of this object's push frames (request id 0). Every stream gets every frame,
    /// alongside the push handler if one is set; a stream alive puts the object in push mode
    /// (see [Pushes](Self#pushes)). Each stream buffers up to
    /// [`push_queue_capacity`](super::CommunicatorConfig::push_queue_capacity) frames; while
    /// it is full, frames for it are dropped with a warning. It ends once every proxy of the
    /// object is dropped.
    ///
    /// ```no_run
    /// # use bytes::BytesMut;
    /// # use tars_rpc::protocol::{ClientProtocol, ProtocolError, RawResponse};
    /// # struct Proto;
    /// # impl ClientProtocol for Proto {
    /// #     fn encode_request(&self, _: i32, _: &[u8], _: &mut BytesMut) -> Result<(), ProtocolError> { Ok(()) }
    /// #     fn decode_response(&self, _: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> { Ok(None) }
    /// # }
    /// use futures::StreamExt;
    /// use tars_rpc::client::Communicator;
    ///
    /// # async fn run() -> tars_rpc::Result<()> {
    /// let proxy = Communicator::new().raw_proxy("127.0.0.1:9300", Proto).unwrap();
    /// let mut frames = proxy.push_frames();
    /// proxy.call(b"register").await?;
    /// while let Some(frame) = frames.next().await {
    ///     println!("pushed: {} bytes", frame.len());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn push_frames(&self) -> RawPushFrames {
        let shared = &self.object.shared;
        RawPushFrames {
            receiver: shared.push.stream(shared.config.push_queue_capacity),
        }
    }

    /// Keeps connections alive in push mode: each connection sends `payload` as a request
    /// (as [`send`](Self::send) does, with a fresh request id) whenever it has sent nothing
    /// for `interval`, so that the server's idle timeout does not close it. A heartbeat that
    /// cannot be sent closes the connection (and, in push mode, it is made again); a response
    /// to it is dropped. Replaces any previous heartbeat, on open connections too;
    /// [`Duration::ZERO`] turns it off, as it is until set. This is the client's heartbeat of
    /// TarsCpp's PushDemo; outside push mode, send your own.
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use tars_rpc::protocol::{ClientProtocol, ProtocolError, RawResponse};
    /// # struct Proto;
    /// # impl ClientProtocol for Proto {
    /// #     fn encode_request(&self, _: i32, _: &[u8], _: &mut BytesMut) -> Result<(), ProtocolError> { Ok(()) }
    /// #     fn decode_response(&self, _: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> { Ok(None) }
    /// # }
    /// use std::time::Duration;
    /// use tars_rpc::client::Communicator;
    ///
    /// let proxy = Communicator::new().raw_proxy("127.0.0.1:9300", Proto).unwrap();
    /// proxy.set_heartbeat(Duration::from_secs(5), &b"heartbeat"[..]);
    /// ```
    pub fn set_heartbeat(&self, interval: Duration, payload: impl Into<Bytes>) {
        let shared = &self.object.shared;
        *lock(&shared.wire.heartbeat) = payload.into();
        shared.keepalive.send_replace(interval);
    }

    /// Runs `hook` after every successful connect of one of this object's connections: the
    /// first connect and every reconnect, e.g. to send a registration frame again. Hooks add
    /// up; each runs on a task of its own.
    ///
    /// The hook receives a proxy on the same object, whose calls all go to the endpoint just
    /// connected, and that endpoint. Use that proxy: a hook holding a proxy of the object would
    /// keep it alive for good.
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use tars_rpc::protocol::{ClientProtocol, ProtocolError, RawResponse};
    /// # struct Proto;
    /// # impl ClientProtocol for Proto {
    /// #     fn encode_request(&self, _: i32, _: &[u8], _: &mut BytesMut) -> Result<(), ProtocolError> { Ok(()) }
    /// #     fn decode_response(&self, _: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> { Ok(None) }
    /// # }
    /// use tars_rpc::client::{Communicator, RawProxy};
    /// use tars_rpc::endpoint::Endpoint;
    ///
    /// let proxy = Communicator::new().raw_proxy("127.0.0.1:9300", Proto).unwrap();
    /// proxy.on_connect(|proxy: RawProxy, endpoint: Endpoint| async move {
    ///     if let Err(error) = proxy.send(b"register").await {
    ///         eprintln!("cannot register with {endpoint}: {error}");
    ///     }
    /// });
    /// ```
    pub fn on_connect<F, Fut>(&self, hook: F)
    where
        F: Fn(RawProxy, Endpoint) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.object
            .shared
            .push
            .add_connect_hook(Arc::new(move |proxy, endpoint| {
                hook(proxy, endpoint).boxed()
            }));
    }

    /// Runs `hook` when one of this object's connections closes, with its endpoint and the
    /// reason: `"eof"` (the server closed it), `"io error: ..."`, `"bad frame: ..."` (the
    /// protocol rejected the input, or too much was buffered), `"keep-alive failed: ..."`,
    /// `"dropped"` (the object was dropped) or `"stopped"` (its runtime shut down). Hooks add
    /// up; they run on the connection's supervising task, so they should return quickly (a
    /// panic is caught and logged).
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use tars_rpc::protocol::{ClientProtocol, ProtocolError, RawResponse};
    /// # struct Proto;
    /// # impl ClientProtocol for Proto {
    /// #     fn encode_request(&self, _: i32, _: &[u8], _: &mut BytesMut) -> Result<(), ProtocolError> { Ok(()) }
    /// #     fn decode_response(&self, _: &mut BytesMut) -> Result<Option<RawResponse>, ProtocolError> { Ok(None) }
    /// # }
    /// use tars_rpc::client::Communicator;
    ///
    /// let proxy = Communicator::new().raw_proxy("127.0.0.1:9300", Proto).unwrap();
    /// proxy.on_close(|endpoint, reason| eprintln!("lost {endpoint}: {reason}"));
    /// ```
    pub fn on_close<F>(&self, hook: F)
    where
        F: Fn(Endpoint, String) + Send + Sync + 'static,
    {
        self.object.shared.push.add_close_hook(Arc::new(hook));
    }
}

/// A stream of a [`RawProxy`]'s push frames, from [`RawProxy::push_frames`]: whole frames
/// with request id 0, in the order each connection received them.
///
/// It has a buffer of its own of
/// [`push_queue_capacity`](super::CommunicatorConfig::push_queue_capacity) frames; while the
/// buffer is full, frames for this stream are dropped with a warning. The stream ends once
/// every proxy of the object is dropped. Dropping it ends push mode if no other stream or
/// handler is left.
pub struct RawPushFrames {
    receiver: mpsc::Receiver<Bytes>,
}

impl RawPushFrames {
    /// The next frame; `None` once the object is dropped and the buffered frames are taken.
    /// The same as [`StreamExt::next`](futures::StreamExt::next).
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.receiver.recv().await
    }
}

impl Stream for RawPushFrames {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.receiver.poll_recv(cx)
    }
}

impl fmt::Debug for RawPushFrames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawPushFrames")
            .field("buffered", &self.receiver.len())
            .finish_non_exhaustive()
    }
}
