//! Routing a request to its servant, running the handler, and replying.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::codec::Decoder;

use super::adapter::RequestLoad;
use super::connection::{ConnectionContext, Running};
use super::request::IncomingRequest;
use super::servant::run_close_hook;
use super::session::RequestProtocol;
use super::tasks::run_or_spawn;
use super::{Current, Servant};
use crate::framing::FrameCodec;
use crate::packet::{ReturnCode, Version};
use crate::server::PushFrame;
use crate::support::catch_panic_async;
use crate::TarsStruct;

/// The servants of one listener, by name.
pub(super) type Servants = HashMap<String, Arc<dyn Servant>>;

/// The function every TARS server answers itself, with code 0 and an empty buffer.
pub(super) const PING: &str = "tars_ping";

/// The TARS side of a connection: TARS frames, each a request packet routed by servant name to
/// the listener's servants, and TarsGo's close packet on a graceful shutdown.
pub(super) struct TarsRequests {
    servants: Arc<Servants>,
    codec: FrameCodec,
    queue_timeout: Duration,
    last_currents: LastCurrents,
    /// The listener's requests against its queue capacity, if it has one.
    load: Option<Arc<RequestLoad>>,
}

impl TarsRequests {
    /// A connection's state for the listener serving `servants`.
    pub(super) fn new(
        servants: Arc<Servants>,
        max_frame_len: usize,
        queue_timeout: Duration,
        load: Option<Arc<RequestLoad>>,
    ) -> Self {
        Self {
            servants,
            codec: FrameCodec::new(max_frame_len),
            queue_timeout,
            last_currents: LastCurrents::default(),
            load,
        }
    }
}

impl RequestProtocol for TarsRequests {
    const RAW: bool = false;

    fn split(&mut self, input: &mut BytesMut) -> Result<Option<Bytes>, String> {
        self.codec.decode(input).map_err(|error| error.to_string())
    }

    /// Decodes one request and runs its handler, or the server's own answer.
    fn handle(
        &mut self,
        frame: Bytes,
        received_at: Instant,
        running: Running,
        context: &Arc<ConnectionContext>,
        requests: &mut JoinSet<()>,
    ) -> Result<(), String> {
        let mut packet = IncomingRequest::decode_bytes(&frame)
            .map_err(|error| format!("the frame is not a request packet: {error}"))?;
        let params = std::mem::take(&mut packet.buffer);
        let current = Current::new(context.clone(), packet, received_at);
        match route(&current, &self.servants) {
            Route::Reply(ret, result_desc) => {
                // run like any reply: it may have to wait for room in the outgoing queue
                run_or_spawn(requests, async move {
                    reply(&current, ret, Bytes::new(), result_desc).await;
                    drop(running);
                });
            }
            Route::Dispatch(servant) => {
                self.last_currents.record(&servant, &current);
                let admitted = match &self.load {
                    None => None,
                    Some(load) => match load.admit() {
                        Some(guard) => Some(guard),
                        None => {
                            let desc = "the servant's request queue is full".to_string();
                            run_or_spawn(requests, async move {
                                reply(&current, ReturnCode::SERVER_OVERLOAD, Bytes::new(), desc)
                                    .await;
                                drop(running);
                            });
                            return Ok(());
                        }
                    },
                };
                let queue_timeout = self.queue_timeout;
                run_or_spawn(requests, async move {
                    run(servant, current, params, queue_timeout).await;
                    drop((running, admitted));
                });
            }
        }
        Ok(())
    }

    /// TarsGo's close packet, so that the client reconnects elsewhere.
    fn shutdown_notice(&self) -> Option<Bytes> {
        static FRAME: OnceLock<PushFrame> = OnceLock::new();
        Some(FRAME.get_or_init(PushFrame::reconnect).as_bytes().clone())
    }

    fn closing(&mut self) -> Vec<BoxFuture<'static, ()>> {
        self.last_currents
            .take()
            .into_iter()
            .map(|(servant, current)| connection_closed(servant, current).boxed())
            .collect()
    }
}

/// What to do with a request.
enum Route {
    /// The server answers at once, without a handler.
    Reply(ReturnCode, String),
    /// Run the servant's handler.
    Dispatch(Arc<dyn Servant>),
}

/// Routes a request: the version first, then the servant (of this listener only), then the
/// ping, which TarsCpp also answers only for a servant it has.
fn route(current: &Current, servants: &Servants) -> Route {
    // TARS, TUP 2 and 3, and JSON reach the servant, which decodes by version; TarsCpp
    // decodes anything else as TARS, and fails
    if !matches!(
        current.version(),
        Version::TARS | Version::TUP | Version::TUP2 | Version::JSON
    ) {
        return Route::Reply(
            ReturnCode::SERVER_DECODE_ERR,
            format!("unsupported protocol version {}", current.version().0),
        );
    }
    let Some(servant) = servants.get(current.servant_name()) else {
        return Route::Reply(
            ReturnCode::SERVER_NO_SERVANT,
            format!(
                "no servant `{}` at {}",
                current.servant_name(),
                current.local_addr()
            ),
        );
    };
    if current.func_name() == PING {
        return Route::Reply(ReturnCode::SUCCESS, String::new());
    }
    Route::Dispatch(servant.clone())
}

/// Runs the handler and sends its reply (none for a one-way request), waiting for room in the
/// outgoing queue: until the reply is queued the request counts as running, which holds back
/// the reading of more. A panic becomes a [`ReturnCode::SERVER_UNKNOWN_ERR`] reply with the
/// panic message. A request that waited too long to start is not run: it is answered with
/// [`ReturnCode::SERVER_QUEUE_TIMEOUT`], as TarsCpp does.
async fn run(servant: Arc<dyn Servant>, current: Current, params: Bytes, queue_timeout: Duration) {
    if let Some(overdue) = current.overdue(queue_timeout) {
        let desc = overdue.to_string();
        return reply(
            &current,
            ReturnCode::SERVER_QUEUE_TIMEOUT,
            Bytes::new(),
            desc,
        )
        .await;
    }
    // the call itself inside the future, so a panic before the first await is caught too
    let outcome = catch_panic_async(async { servant.dispatch(&current, params).await }).await;
    let (ret, buffer, result_desc) = match outcome {
        Ok(Ok(buffer)) => (ReturnCode::SUCCESS, buffer, String::new()),
        Ok(Err(error)) => (error.code(), Bytes::new(), error.message().to_string()),
        Err(panic) => {
            tracing::warn!(
                connection = current.connection_id(),
                peer = %current.peer_addr(),
                servant = current.servant_name(),
                function = current.func_name(),
                panic,
                "handler panicked"
            );
            (ReturnCode::SERVER_UNKNOWN_ERR, Bytes::new(), panic)
        }
    };
    reply(&current, ret, buffer, result_desc).await;
}

/// Tells `servant` that the connection of `current`, the last request dispatched to it there,
/// has closed.
async fn connection_closed(servant: Arc<dyn Servant>, current: Current) {
    run_close_hook(&current, servant.on_connection_closed(&current)).await;
}

/// The last request dispatched to each servant on one connection: whom to tell, and with
/// which [`Current`], when it closes.
#[derive(Default)]
struct LastCurrents(Vec<(Arc<dyn Servant>, Current)>);

impl LastCurrents {
    /// Remembers `current` as the last request dispatched to `servant`.
    fn record(&mut self, servant: &Arc<dyn Servant>, current: &Current) {
        // a connection talks to one servant or a few: a short list beats a map
        match self
            .0
            .iter_mut()
            .find(|(_, last)| last.servant_name() == current.servant_name())
        {
            Some((_, last)) => *last = current.clone(),
            None => self.0.push((servant.clone(), current.clone())),
        }
    }

    /// Every servant with its last request.
    fn take(&mut self) -> Vec<(Arc<dyn Servant>, Current)> {
        std::mem::take(&mut self.0)
    }
}

/// Queues the reply once the outgoing queue has room; a connection that closed meanwhile is the
/// connection's business. A reply too long for a frame is replaced by a
/// [`ReturnCode::SERVER_ENCODE_ERR`] reply saying so.
async fn reply(current: &Current, ret: ReturnCode, buffer: Bytes, result_desc: String) {
    let mut sent = current.send_reply(ret, buffer, result_desc).await;
    if let Err(error) = &sent {
        if error.code() == ReturnCode::SERVER_ENCODE_ERR {
            tracing::warn!(
                connection = current.connection_id(),
                servant = current.servant_name(),
                function = current.func_name(),
                %error,
                "reply cannot be sent"
            );
            let desc = error.message().to_string();
            sent = current.send_reply(error.code(), Bytes::new(), desc).await;
        }
    }
    if let Err(error) = sent {
        tracing::debug!(
            connection = current.connection_id(),
            peer = %current.peer_addr(),
            request_id = current.request_id(),
            %error,
            "reply not sent"
        );
    }
}
