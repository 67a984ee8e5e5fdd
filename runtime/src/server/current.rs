//! [`Current`]: the context of one request, and the handle on its connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio_util::sync::CancellationToken;

use super::connection::ConnectionContext;
use crate::error::{Error, Result};
use crate::framing::FrameCodec;
use crate::packet::{
    Context, MessageType, PacketType, RequestPacket, ResponsePacket, ReturnCode, Version,
};
use crate::push::PushFrame;

/// The context of one request: who sent it, on which connection, what it asked for.
///
/// It is cheap to clone and stays valid after the handler returns, so a handler can keep it to
/// reach the connection later (to push, or to learn when it closes). A handler receives it by
/// declaring a `&Current` parameter, which is not a wire parameter.
#[derive(Clone)]
pub struct Current {
    inner: Arc<CurrentInner>,
}

struct CurrentInner {
    connection: Arc<ConnectionContext>,
    version: Version,
    packet_type: PacketType,
    message_type: MessageType,
    request_id: i32,
    servant_name: String,
    func_name: String,
    timeout: i32,
    context: Context,
    status: Context,
    response_context: Mutex<Context>,
}

impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Current")
            .field("connection_id", &self.connection_id())
            .field("peer_addr", &self.peer_addr())
            .field("request_id", &self.request_id())
            .field("servant_name", &self.servant_name())
            .field("func_name", &self.func_name())
            .finish_non_exhaustive()
    }
}

impl Current {
    /// The context of `request` (whose buffer the caller has taken) on `connection`.
    pub(crate) fn new(connection: Arc<ConnectionContext>, request: RequestPacket) -> Self {
        Self {
            inner: Arc::new(CurrentInner {
                connection,
                version: request.version,
                packet_type: request.packet_type,
                message_type: request.message_type,
                request_id: request.request_id,
                servant_name: request.servant_name,
                func_name: request.func_name,
                timeout: request.timeout,
                context: request.context,
                status: request.status,
                response_context: Mutex::new(Context::new()),
            }),
        }
    }

    /// The context of one request of the raw servant `servant_name` on `connection`: no TARS
    /// packet carried it, so it has request id 0, an empty function name, a normal packet type,
    /// the default version and empty contexts.
    pub(crate) fn raw(connection: Arc<ConnectionContext>, servant_name: String) -> Self {
        Self::new(
            connection,
            RequestPacket {
                servant_name,
                ..RequestPacket::default()
            },
        )
    }

    /// Whether `self` and `other` are clones of one `Current` (the same request).
    pub(crate) fn same_request(&self, other: &Current) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The connection's id: the same for every request on one connection, unique in the process.
    pub fn connection_id(&self) -> u64 {
        self.inner.connection.id()
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.connection.peer_addr()
    }

    /// The server's address the client connected to.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.connection.local_addr()
    }

    /// The request id (`iRequestId`); 0 for a request of a
    /// [`RawServant`](crate::protocol::RawServant).
    pub fn request_id(&self) -> i32 {
        self.inner.request_id
    }

    /// The servant the request is for, e.g. `TestApp.HelloServer.HelloObj`.
    pub fn servant_name(&self) -> &str {
        &self.inner.servant_name
    }

    /// The function called, by its wire name, e.g. `testHello`; empty for a request of a
    /// [`RawServant`](crate::protocol::RawServant), whose protocol names no function.
    pub fn func_name(&self) -> &str {
        &self.inner.func_name
    }

    /// The caller's context (`context`).
    pub fn context(&self) -> &Context {
        &self.inner.context
    }

    /// The framework's status pairs (`status`).
    pub fn status(&self) -> &Context {
        &self.inner.status
    }

    /// The packet type: normal or one-way.
    pub fn packet_type(&self) -> PacketType {
        self.inner.packet_type
    }

    /// Whether the caller expects no reply.
    pub fn is_oneway(&self) -> bool {
        self.inner.packet_type.is_oneway()
    }

    /// The protocol version (`iVersion`).
    pub fn version(&self) -> Version {
        self.inner.version
    }

    /// The message-type bits (`iMessageType`).
    pub fn message_type(&self) -> MessageType {
        self.inner.message_type
    }

    /// How long the caller waits for the reply (`iTimeout`), if it said.
    pub fn timeout(&self) -> Option<Duration> {
        u64::try_from(self.inner.timeout)
            .ok()
            .filter(|&millis| millis > 0)
            .map(Duration::from_millis)
    }

    /// Sets the context sent back with the reply (`ResponsePacket.context`). It has no effect
    /// for a [`RawServant`](crate::protocol::RawServant)'s request, which gets no TARS reply.
    pub fn set_response_context(&self, context: Context) {
        *self.lock_response_context() = context;
    }

    /// The context that will be sent back with the reply.
    pub fn response_context(&self) -> Context {
        self.lock_response_context().clone()
    }

    fn lock_response_context(&self) -> std::sync::MutexGuard<'_, Context> {
        // a panic while holding this lock cannot leave the map half-written
        self.inner
            .response_context
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.inner.connection.is_closed()
    }

    /// Resolves when the connection closes (TarsCpp's `doClose`), however long after the
    /// request that happens; resolves at once if it already has.
    pub async fn closed(&self) {
        self.inner.connection.closed_token().cancelled().await
    }

    /// Runs `callback` once, when the connection closes, whatever closes it (the client, an
    /// error, the idle timeout, a full outgoing queue, [`close_connection`](Self::close_connection),
    /// the server's shutdown); at once, before returning, if it has already closed and its
    /// callbacks have run.
    ///
    /// This is how to forget a client when it goes away without a task per client waiting on
    /// [`closed`](Self::closed): [`Subscribers`](crate::push::Subscribers) uses it. The callback
    /// runs on the connection's task just after the close, never inside the call that closed the
    /// connection (such as a [`send_push`](Self::send_push) that found the queue full), so it
    /// may take locks held around that call. It should be quick and must not block: it runs
    /// on the server's threads. A panic in it is caught and logged.
    ///
    /// To avoid keeping an object alive for as long as the connection is open, capture a
    /// [`Weak`](std::sync::Weak) reference to it.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::sync::{Arc, Mutex};
    /// use tars_rpc::Current;
    ///
    /// /// Who is logged in, by connection.
    /// #[derive(Default)]
    /// struct Sessions(Mutex<HashMap<u64, String>>);
    ///
    /// impl Sessions {
    ///     fn login(self: &Arc<Self>, current: &Current, user: String) {
    ///         let id = current.connection_id();
    ///         self.0.lock().unwrap().insert(id, user);
    ///         let sessions = Arc::downgrade(self);
    ///         current.on_close(move || {
    ///             if let Some(sessions) = sessions.upgrade() {
    ///                 sessions.0.lock().unwrap().remove(&id);
    ///             }
    ///         });
    ///     }
    /// }
    /// ```
    pub fn on_close(&self, callback: impl FnOnce() + Send + 'static) {
        self.inner.connection.on_close(Box::new(callback));
    }

    /// The token cancelled when the connection closes.
    pub fn closed_token(&self) -> CancellationToken {
        self.inner.connection.closed_token().clone()
    }

    /// Closes the connection: queued frames are still written, then the socket is shut down.
    pub fn close_connection(&self) {
        self.inner.connection.close("closed by the servant");
    }

    /// The reply to this request, before encoding: same version, packet type, ids; the response
    /// context set by the handler.
    pub fn response(&self, ret: ReturnCode, buffer: Bytes, result_desc: String) -> ResponsePacket {
        ResponsePacket {
            version: self.inner.version,
            packet_type: self.inner.packet_type,
            request_id: self.inner.request_id,
            message_type: self.inner.message_type,
            ret,
            buffer,
            status: Context::new(),
            result_desc,
            context: self.response_context(),
        }
    }

    /// Encodes `packet` as one frame and queues it on the connection.
    ///
    /// Fails on the connection of a [`RawServant`](crate::protocol::RawServant), whose client
    /// speaks the servant's own protocol, not TARS: use [`send_raw`](Self::send_raw) there.
    pub fn send_packet(&self, packet: &ResponsePacket) -> Result<()> {
        let connection = &self.inner.connection;
        if connection.is_raw() {
            return Err(Error::new(
                ReturnCode::SERVER_ENCODE_ERR,
                format!(
                    "connection {} to {} speaks the custom protocol of servant `{}`: no TARS packet can be sent on it",
                    connection.id(),
                    connection.peer_addr(),
                    self.servant_name()
                ),
            ));
        }
        let mut frame = BytesMut::new();
        FrameCodec::new(connection.max_frame_len())
            .write_frame(&mut frame, |buf| {
                crate::TarsStruct::write_fields(packet, buf)
            })
            .map_err(|error| Error::new(ReturnCode::SERVER_ENCODE_ERR, error.to_string()))?;
        connection.send_frame(frame.freeze())
    }

    /// Queues a push on this request's connection (TarsCpp's `sendPushResponse`), however long
    /// after the request. Fails if the connection has closed; a connection whose outgoing queue
    /// is full (its client is not reading) is closed and the push fails.
    ///
    /// The frame is queued as it is: to the clients of a
    /// [`RawServant`](crate::protocol::RawServant), push only frames of its own protocol, made
    /// with [`PushFrame::from_raw`]; a TARS push to such a connection fails.
    pub fn send_push(&self, frame: &PushFrame) -> Result<()> {
        if !frame.is_raw() && self.inner.connection.is_raw() {
            // a raw servant's client speaks its own protocol and would misread a TARS packet
            return Err(Error::new(
                ReturnCode::SERVER_ENCODE_ERR,
                "a TARS push cannot go to a connection of a raw servant; push PushFrame::from_raw frames there",
            ));
        }
        self.send_whole_frame(frame.as_bytes().clone(), "push")
    }

    /// Queues `bytes` on the connection exactly as they are, a whole frame of the connection's
    /// protocol: the reply of a [`RawServant`](crate::protocol::RawServant) to its request, or
    /// a push to its client at any later time (TarsCpp's `sendResponse` with raw bytes).
    ///
    /// Frames go through the connection's one bounded queue, as TARS replies and pushes do, so
    /// they never interleave and leave in the order queued. Fails if the connection has closed
    /// or if `bytes` is longer than the server's
    /// [maximum frame](crate::server::ServerBuilder::max_frame_len); a connection whose
    /// outgoing queue is full (its client is not reading) is closed and the send fails.
    ///
    /// On a TARS servant's connection, `bytes` must be a whole TARS frame.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use futures::future::BoxFuture;
    /// use tars_rpc::protocol::RawServant;
    /// use tars_rpc::Current;
    ///
    /// /// Sends every request back as it came.
    /// struct Echo;
    ///
    /// impl RawServant for Echo {
    ///     fn on_request<'a>(&'a self, current: &'a Current, request: Bytes) -> BoxFuture<'a, ()> {
    ///         Box::pin(async move {
    ///             if let Err(error) = current.send_raw(request) {
    ///                 eprintln!("reply lost: {error}");
    ///             }
    ///         })
    ///     }
    /// }
    /// ```
    pub fn send_raw(&self, bytes: Bytes) -> Result<()> {
        self.send_whole_frame(bytes, "frame")
    }

    /// Queues a whole, already framed `frame` (a `what`) if the connection's maximum allows.
    fn send_whole_frame(&self, frame: Bytes, what: &str) -> Result<()> {
        let connection = &self.inner.connection;
        let len = frame.len();
        if len > connection.max_frame_len() {
            return Err(Error::new(
                ReturnCode::SERVER_ENCODE_ERR,
                format!(
                    "a {what} of {len} bytes exceeds the connection's maximum frame of {} bytes",
                    connection.max_frame_len()
                ),
            ));
        }
        connection.send_frame(frame)
    }

    /// Sends the reply; nothing for a one-way request.
    pub(crate) fn send_reply(
        &self,
        ret: ReturnCode,
        buffer: Bytes,
        result_desc: String,
    ) -> Result<()> {
        if self.is_oneway() {
            return Ok(());
        }
        self.send_packet(&self.response(ret, buffer, result_desc))
    }
}
