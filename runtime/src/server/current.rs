//! [`Current`]: the context of one request, and the handle on its connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::connection::ConnectionContext;
use super::outgoing::Refusal;
use super::push::{PushError, PushFrame};
use super::request::{IncomingRequest, Name};
use crate::codec::{TupVersion, UniAttribute};
use crate::error::{Error, Result};
use crate::framing::FrameCodec;
use crate::packet::{
    Context, MessageType, PacketType, RequestPacket, ResponsePacket, ReturnCode, Version,
    STATUS_RESULT_CODE, STATUS_RESULT_DESC,
};

/// The context of one request: who sent it, on which connection, what it asked for.
///
/// It is cheap to clone and stays valid after the handler returns, so a handler can keep it to
/// reach the connection later (to push, or to learn when it closes). A handler receives it by
/// declaring a `&Current` parameter, which is not a wire parameter.
///
/// # Replying later
///
/// A handler replies by returning, and only then: the server writes the reply, once, with the
/// request's id. To hold a reply until something happens (a long poll, brpc's "remote
/// event"), the handler awaits it, and [`closed`](Self::closed) too, so that it stops holding
/// when the client goes away. A held handler blocks no thread and no other request of its
/// connection.
///
/// ```
/// use tars_rpc::packet::ReturnCode;
/// use tars_rpc::{Current, Error};
/// use tokio::sync::watch;
///
/// /// Replies with the next event after `last_seen`, however long that takes.
/// async fn wait_event(current: &Current, events: &watch::Sender<i64>, last_seen: i64) -> tars_rpc::Result<i64> {
///     let mut events = events.subscribe();
///     tokio::select! {
///         event = events.wait_for(|&event| event > last_seen) => match event {
///             Ok(event) => Ok(*event),
///             Err(_) => Err(Error::new(ReturnCode::SERVER_UNKNOWN_ERR, "no more events")),
///         },
///         () = current.closed() => Err(Error::connect("the client went away")),
///     }
/// }
/// ```
///
/// `examples/long_poll.rs` holds a thousand such replies at once.
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
    servant_name: Name,
    func_name: Name,
    timeout: i32,
    context: Context,
    status: Context,
    received_at: Instant,
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
    /// The context of `request` (whose buffer the caller has taken) on `connection`, whose last
    /// byte was read at `received_at`.
    pub(crate) fn new(
        connection: Arc<ConnectionContext>,
        request: IncomingRequest,
        received_at: Instant,
    ) -> Self {
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
                received_at,
                response_context: Mutex::new(Context::new()),
            }),
        }
    }

    /// The context of one request of the raw servant `servant_name` on `connection`: no TARS
    /// packet carried it, so it has request id 0, an empty function name, a normal packet type,
    /// the default version and empty contexts.
    pub(crate) fn raw(
        connection: Arc<ConnectionContext>,
        servant_name: Name,
        received_at: Instant,
    ) -> Self {
        Self::new(
            connection,
            IncomingRequest {
                servant_name,
                ..IncomingRequest::default()
            },
            received_at,
        )
    }

    /// Whether `self` and `other` are clones of one `Current` (the same request).
    pub(crate) fn same_request(&self, other: &Current) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The connection's id: the same for every request on one connection, unique in the process.
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// /// Whether two requests came on one connection.
    /// fn same_connection(a: &Current, b: &Current) -> bool {
    ///     a.connection_id() == b.connection_id()
    /// }
    /// ```
    pub fn connection_id(&self) -> u64 {
        self.inner.connection.id()
    }

    /// The client's address.
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// fn is_local(current: &Current) -> bool {
    ///     current.peer_addr().ip().is_loopback()
    /// }
    /// ```
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.connection.peer_addr()
    }

    /// The server's address the client connected to.
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// /// Which of the server's listeners the request came in on.
    /// fn listener_port(current: &Current) -> u16 {
    ///     current.local_addr().port()
    /// }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.connection.local_addr()
    }

    /// The request id (`iRequestId`); 0 for a request of a
    /// [`RawServant`](crate::server::RawServant).
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// fn describe(current: &Current) -> String {
    ///     format!("request {} from {}", current.request_id(), current.peer_addr())
    /// }
    /// ```
    pub fn request_id(&self) -> i32 {
        self.inner.request_id
    }

    /// The servant the request is for, e.g. `TestApp.HelloServer.HelloObj`.
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// fn is_admin(current: &Current) -> bool {
    ///     current.servant_name().ends_with(".AdminObj")
    /// }
    /// ```
    pub fn servant_name(&self) -> &str {
        self.inner.servant_name.as_str()
    }

    /// The function called, by its wire name, e.g. `testHello`; empty for a request of a
    /// [`RawServant`](crate::server::RawServant), whose protocol names no function.
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// fn is_read_only(current: &Current) -> bool {
    ///     current.func_name().starts_with("get")
    /// }
    /// ```
    pub fn func_name(&self) -> &str {
        self.inner.func_name.as_str()
    }

    /// The caller's context (`context`).
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// fn trace_id(current: &Current) -> Option<&str> {
    ///     current.context().get("trace_id").map(String::as_str)
    /// }
    /// ```
    pub fn context(&self) -> &Context {
        &self.inner.context
    }

    /// The framework's status pairs (`status`).
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// /// The grid key TARS's routing sets, if any.
    /// fn grid(current: &Current) -> Option<&String> {
    ///     current.status().get("STATUS_GRID_KEY")
    /// }
    /// ```
    pub fn status(&self) -> &Context {
        &self.inner.status
    }

    /// The packet type: normal or one-way.
    ///
    /// ```
    /// use tars_rpc::packet::PacketType;
    /// use tars_rpc::Current;
    ///
    /// assert!(!PacketType::NORMAL.is_oneway());
    /// fn expects_reply(current: &Current) -> bool {
    ///     current.packet_type() == PacketType::NORMAL
    /// }
    /// ```
    pub fn packet_type(&self) -> PacketType {
        self.inner.packet_type
    }

    /// Whether the caller expects no reply.
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// /// Logs the one-way calls, whose errors no caller sees.
    /// fn log_failure(current: &Current, error: &tars_rpc::Error) {
    ///     if current.is_oneway() {
    ///         eprintln!("{} failed: {error}", current.func_name());
    ///     }
    /// }
    /// ```
    pub fn is_oneway(&self) -> bool {
        self.inner.packet_type.is_oneway()
    }

    /// The protocol version (`iVersion`).
    ///
    /// ```
    /// use tars_rpc::packet::Version;
    /// use tars_rpc::Current;
    ///
    /// fn is_tars(current: &Current) -> bool {
    ///     current.version() == Version::TARS
    /// }
    /// ```
    pub fn version(&self) -> Version {
        self.inner.version
    }

    /// The message-type bits (`iMessageType`).
    ///
    /// ```
    /// use tars_rpc::packet::MessageType;
    /// use tars_rpc::Current;
    ///
    /// fn is_dyed(current: &Current) -> bool {
    ///     current.message_type().contains(MessageType::DYED)
    /// }
    /// ```
    pub fn message_type(&self) -> MessageType {
        self.inner.message_type
    }

    /// How long the caller waits for the reply (`iTimeout`), if it said.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tars_rpc::Current;
    ///
    /// /// How long the caller will still wait, if it said.
    /// fn time_left(current: &Current) -> Option<Duration> {
    ///     let waited = current.received_at().elapsed();
    ///     current.timeout().map(|timeout| timeout.saturating_sub(waited))
    /// }
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        u64::try_from(self.inner.timeout)
            .ok()
            .filter(|&millis| millis > 0)
            .map(Duration::from_millis)
    }

    /// When the server had read the whole request (TarsCpp's `getRecvTime`): the time it
    /// waited before its handler started counts against its [`timeout`](Self::timeout) and the
    /// server's [queue timeout](crate::server::ServerBuilder::queue_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tars_rpc::Current;
    ///
    /// /// How long the request waited before its handler started.
    /// fn queued_for(current: &Current) -> Duration {
    ///     current.received_at().elapsed()
    /// }
    /// ```
    pub fn received_at(&self) -> Instant {
        self.inner.received_at
    }

    /// How late the request is, if it waited longer before its handler could start than its
    /// own [`timeout`](Self::timeout) or the server's `queue_timeout`, whichever is shorter:
    /// then it is not to be run (which is logged).
    pub(crate) fn overdue(&self, queue_timeout: Duration) -> Option<Overdue> {
        let limit = self
            .timeout()
            .map_or(queue_timeout, |own| own.min(queue_timeout));
        let waited = self.inner.received_at.elapsed();
        if waited <= limit {
            return None;
        }
        let overdue = Overdue { waited, limit };
        tracing::debug!(
            connection = self.connection_id(),
            peer = %self.peer_addr(),
            servant = self.servant_name(),
            function = self.func_name(),
            %overdue,
            "request not run"
        );
        Some(overdue)
    }

    /// Sets the context sent back with the reply (`ResponsePacket.context`). It has no effect
    /// for a [`RawServant`](crate::server::RawServant)'s request, which gets no TARS reply.
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// /// Echoes the caller's trace id with the reply.
    /// fn echo_trace(current: &Current) {
    ///     if let Some(trace) = current.context().get("trace_id") {
    ///         let mut context = current.response_context();
    ///         context.insert("trace_id".to_string(), trace.clone());
    ///         current.set_response_context(context);
    ///     }
    /// }
    /// ```
    pub fn set_response_context(&self, context: Context) {
        *self.lock_response_context() = context;
    }

    /// The context that will be sent back with the reply.
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// fn mark(current: &Current) {
    ///     let mut context = current.response_context();
    ///     context.insert("served_by".to_string(), "node-1".to_string());
    ///     current.set_response_context(context);
    /// }
    /// ```
    pub fn response_context(&self) -> Context {
        self.lock_response_context().clone()
    }

    fn lock_response_context(&self) -> std::sync::MutexGuard<'_, Context> {
        // a panic while holding this lock cannot leave the map half-written
        crate::support::lock(&self.inner.response_context)
    }

    /// Whether the connection has closed.
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// /// Keeps the subscribers whose clients are still connected.
    /// fn prune(subscribers: &mut Vec<Current>) {
    ///     subscribers.retain(|current| !current.is_closed());
    /// }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.connection.is_closed()
    }

    /// Resolves when the connection closes (TarsCpp's `doClose`), however long after the
    /// request that happens; resolves at once if it already has.
    ///
    /// When the client closes its side, the server cannot tell whether it went away or only
    /// stopped sending (a half-close), so the requests still running get the server's
    /// [shutdown timeout](crate::server::ServerBuilder::shutdown_timeout) to answer before the
    /// connection closes: a held request of a client that left ends within that time.
    ///
    /// ```
    /// use tars_rpc::Current;
    ///
    /// /// Runs `work` until it is done or the client goes away, whichever comes first.
    /// async fn unless_gone<T>(current: &Current, work: impl std::future::Future<Output = T>) -> Option<T> {
    ///     tokio::select! {
    ///         done = work => Some(done),
    ///         () = current.closed() => None,
    ///     }
    /// }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn closed(&self) {
        self.inner.connection.closed_token().cancelled().await
    }

    /// Runs `callback` once, when the connection closes, whatever closes it (the client, an
    /// error, the idle timeout, the stall timeout of a client that stopped reading,
    /// [`close_connection`](Self::close_connection), the server's shutdown); at once, before
    /// returning, if it has already closed and its callbacks have run.
    ///
    /// This is how to forget a client when it goes away without a task per client waiting on
    /// [`closed`](Self::closed): [`Subscribers`](crate::server::Subscribers) uses it. The callback
    /// runs on the connection's task just after the close, never inside the call that closed the
    /// connection (such as [`close_connection`](Self::close_connection)), so it may take locks
    /// held around that call. It should be quick and must not block: it runs
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

    /// Closes the connection: queued frames are still written, then the socket is shut down.
    ///
    /// ```
    /// use tars_rpc::packet::ReturnCode;
    /// use tars_rpc::{Current, Error};
    ///
    /// /// Answers, then hangs up on a client that sent something it should not have.
    /// fn refuse(current: &Current) -> tars_rpc::Result<i32> {
    ///     current.close_connection(); // the reply is still written before the socket closes
    ///     Err(Error::new(ReturnCode(-99), "not allowed: goodbye"))
    /// }
    /// ```
    pub fn close_connection(&self) {
        self.inner.connection.close("closed by the servant");
    }

    /// The reply to this request, before encoding: same version, packet type, ids; the response
    /// context set by the handler.
    fn response(&self, ret: ReturnCode, buffer: Bytes, result_desc: String) -> ResponsePacket {
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

    /// The reply to a TUP request (`iVersion` 2 or 3), shaped as TarsCpp's
    /// `Current::sendResponse` shapes it: a request packet echoing the request's version, ids,
    /// servant and function, whose status holds the result code and description unless they
    /// are 0 and empty. A reply without values (an error) carries an empty attribute, as
    /// TarsCpp means to, so that TUP clients can decode it.
    fn tup_response(
        &self,
        version: TupVersion,
        ret: ReturnCode,
        buffer: Bytes,
        result_desc: String,
    ) -> RequestPacket {
        let mut status = Context::new();
        if !ret.is_success() {
            status.insert(STATUS_RESULT_CODE.to_string(), ret.0.to_string());
        }
        if !result_desc.is_empty() {
            status.insert(STATUS_RESULT_DESC.to_string(), result_desc);
        }
        let buffer = if buffer.is_empty() {
            UniAttribute::new(version).encode()
        } else {
            buffer
        };
        RequestPacket {
            version: self.inner.version,
            packet_type: PacketType::NORMAL,
            message_type: self.inner.message_type,
            request_id: self.inner.request_id,
            servant_name: self.servant_name().to_owned(),
            func_name: self.func_name().to_owned(),
            buffer,
            timeout: 0,
            context: self.response_context(),
            status,
        }
    }

    /// The reply `packet` as one frame, if it is not too long for one.
    fn encode_reply<P: crate::TarsStruct>(&self, packet: &P) -> Result<Bytes> {
        let mut framed = Ok(());
        let frame = crate::codec::writer::encode_to_bytes(|frame| {
            framed = FrameCodec::new(self.inner.connection.max_frame_len())
                .write_frame(frame, |buf| crate::TarsStruct::write_fields(packet, buf));
        });
        framed.map_err(|error| {
            Error::with_source(ReturnCode::SERVER_ENCODE_ERR, error.to_string(), error)
        })?;
        Ok(frame)
    }

    /// Queues a push on this request's connection (TarsCpp's `sendPushResponse`), however long
    /// after the request, if its outgoing queue has room now; never waits.
    ///
    /// A connection's queue holds up to its [budget](crate::server::ServerBuilder::queue_budget)
    /// of bytes not yet written, replies and pushes alike. A full queue means the client reads
    /// more slowly than the server writes to it: the push is refused with
    /// [`PushError::Full`] and the connection stays open, so that a client that falls behind
    /// during a burst loses pushes but not its connection. To wait for room instead, use
    /// [`push`](Self::push) or [`push_timeout`](Self::push_timeout).
    ///
    /// A frame goes only to a connection of its own protocol: a TARS push to the clients of
    /// TARS servants, a frame made with [`PushFrame::from_raw`] to the clients of a
    /// [`RawServant`](crate::server::RawServant). The other way round, it is refused with
    /// [`PushError::WrongProtocol`].
    ///
    /// ```
    /// use tars_rpc::packet::Context;
    /// use tars_rpc::push::{PushError, PushFrame};
    /// use tars_rpc::Current;
    ///
    /// fn notify(current: &Current) {
    ///     let frame = PushFrame::from_buffer("notice", Default::default(), &Context::new());
    ///     match current.try_push(frame) {
    ///         Ok(()) => {}
    ///         Err(PushError::Full(_)) => eprintln!("client {} is behind; push dropped", current.peer_addr()),
    ///         Err(error) => eprintln!("push failed: {error}"),
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// The [`PushError`] says why and hands the frame back: [`Closed`](PushError::Closed),
    /// [`Full`](PushError::Full), [`TooLong`](PushError::TooLong) (longer than the connection's
    /// [maximum frame](crate::server::ServerBuilder::max_frame_len)), or
    /// [`WrongProtocol`](PushError::WrongProtocol) (a TARS push to a raw servant's client, or a
    /// raw frame to a TARS servant's client).
    pub fn try_push(&self, frame: PushFrame) -> std::result::Result<(), PushError> {
        self.check_push(&frame)?;
        let raw = frame.is_raw();
        self.inner
            .connection
            .try_send(frame.into_bytes())
            .map_err(|refused| push_error(refused, raw))
    }

    /// Queues a push on this request's connection, waiting for room in its outgoing queue if it
    /// has none (see [`try_push`](Self::try_push)).
    ///
    /// It waits as long as the client keeps reading: room is made as the server writes to it.
    /// A client that stops reading altogether is disconnected once nothing could be written
    /// to it for the [stall timeout](crate::server::ServerBuilder::stall_timeout), which ends
    /// the wait with [`PushError::Closed`]. Pushes that wait are queued in the order they
    /// started waiting, after the frames that were queued before them.
    ///
    /// ```
    /// use tars_rpc::packet::Context;
    /// use tars_rpc::push::PushFrame;
    /// use tars_rpc::Current;
    ///
    /// /// Sends every chunk of a large result, as fast as the client takes them.
    /// async fn stream(current: &Current, chunks: Vec<bytes::Bytes>) -> tars_rpc::Result<()> {
    ///     for chunk in chunks {
    ///         current.push(PushFrame::from_buffer("chunk", chunk, &Context::new())).await?;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`try_push`](Self::try_push), but never [`Full`](PushError::Full).
    ///
    /// # Cancel safety
    ///
    /// Dropped while waiting, it queues nothing (and the frame is lost: use
    /// [`push_timeout`](Self::push_timeout) to get it back after a deadline).
    pub async fn push(&self, frame: PushFrame) -> std::result::Result<(), PushError> {
        self.push_until(frame, None).await
    }

    /// [`push`](Self::push), giving up after `timeout` with [`PushError::Timeout`], which hands
    /// the frame back.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tars_rpc::push::{PushError, PushFrame};
    /// use tars_rpc::Current;
    ///
    /// /// Pushes `frame`, keeping it for later if the client does not make room within a second.
    /// async fn push_or_keep(current: &Current, frame: PushFrame, later: &mut Vec<PushFrame>) {
    ///     match current.push_timeout(frame, Duration::from_secs(1)).await {
    ///         Ok(()) => {}
    ///         Err(PushError::Timeout(frame)) => later.push(frame),
    ///         Err(error) => eprintln!("push lost: {error}"),
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push), and [`Timeout`](PushError::Timeout).
    ///
    /// # Cancel safety
    ///
    /// Dropped while waiting, it queues nothing.
    pub async fn push_timeout(
        &self,
        frame: PushFrame,
        timeout: Duration,
    ) -> std::result::Result<(), PushError> {
        let deadline = Instant::now().checked_add(timeout);
        self.push_until(frame, deadline).await
    }

    /// [`push`](Self::push) until `deadline` (for ever without one).
    pub(crate) async fn push_until(
        &self,
        frame: PushFrame,
        deadline: Option<Instant>,
    ) -> std::result::Result<(), PushError> {
        self.check_push(&frame)?;
        let raw = frame.is_raw();
        self.inner
            .connection
            .send(frame.into_bytes(), deadline)
            .await
            .map_err(|refused| push_error(refused, raw))
    }

    /// Refuses a frame this connection can never take.
    fn check_push(&self, frame: &PushFrame) -> std::result::Result<(), PushError> {
        let connection = &self.inner.connection;
        if frame.is_raw() != connection.is_raw() {
            // a raw servant's client speaks its own protocol and would misread a TARS packet;
            // raw bytes on a TARS connection could break its framing or answer a request twice
            return Err(PushError::WrongProtocol(frame.clone()));
        }
        if frame.len() > connection.max_frame_len() {
            return Err(PushError::TooLong {
                frame: frame.clone(),
                max: connection.max_frame_len(),
            });
        }
        Ok(())
    }

    /// Queues `bytes` on the connection exactly as they are, a whole frame of the connection's
    /// protocol, waiting for room as [`push`](Self::push) does: the reply of a
    /// [`RawServant`](crate::server::RawServant) to its request, or a push to its client at
    /// any later time (TarsCpp's `sendResponse` with raw bytes). It is
    /// `push(PushFrame::from_raw(bytes))`.
    ///
    /// Frames go through the connection's one outgoing queue, as TARS replies and pushes do, so
    /// they never interleave and leave in the order queued.
    ///
    /// On a TARS servant's connection it queues nothing and fails with
    /// [`PushError::WrongProtocol`]: there the server writes the replies (a handler replies by
    /// returning) and pushes go as [`PushFrame`]s, so that no bytes can break the connection's
    /// framing or answer a request twice.
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
    ///             if let Err(error) = current.send_raw(request).await {
    ///                 eprintln!("reply lost: {error}");
    ///             }
    ///         })
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] if the connection has closed, [`PushError::TooLong`] if `bytes`
    /// is longer than the server's [maximum frame](crate::server::ServerBuilder::max_frame_len),
    /// [`PushError::WrongProtocol`] on the connection of a TARS servant.
    ///
    /// # Cancel safety
    ///
    /// Dropped while waiting for room, it queues nothing.
    pub async fn send_raw(&self, bytes: Bytes) -> std::result::Result<(), PushError> {
        self.push(PushFrame::from_raw(bytes)).await
    }

    /// Sends the reply; nothing for a one-way request.
    pub(crate) async fn send_reply(
        &self,
        ret: ReturnCode,
        buffer: Bytes,
        result_desc: String,
    ) -> Result<()> {
        if self.is_oneway() {
            return Ok(());
        }
        // encoded before waiting for room: the reply's buffer, often a slice of the request's
        // input, is let go while the frame waits
        let frame = match TupVersion::from_value(self.inner.version.0) {
            None => self.encode_reply(&self.response(ret, buffer, result_desc))?,
            Some(version) => {
                self.encode_reply(&self.tup_response(version, ret, buffer, result_desc))?
            }
        };
        self.inner.connection.send(frame, None).await.map_err(|_| {
            let connection = &self.inner.connection;
            Error::connect(format!(
                "connection {} to {} is closed",
                connection.id(),
                connection.peer_addr()
            ))
        })
    }
}

/// A request that waited too long before its handler could start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Overdue {
    waited: Duration,
    limit: Duration,
}

impl std::fmt::Display for Overdue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request waited {} ms in the server before it could run, over its limit of {} ms",
            self.waited.as_millis(),
            self.limit.as_millis()
        )
    }
}

/// The [`PushError`] for a frame the connection refused.
fn push_error((refusal, frame): (Refusal, Bytes), raw: bool) -> PushError {
    let frame = PushFrame::from_parts(frame, raw);
    match refusal {
        Refusal::Closed => PushError::Closed(frame),
        Refusal::Full => PushError::Full(frame),
        Refusal::Timeout => PushError::Timeout(frame),
    }
}
