//! The side of a connection that differs for a [`RawServant`]: its [`FrameSplitter`] cuts the
//! requests, each one runs the servant's handler, and nothing is ever answered with a TARS
//! packet.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::connection::{ConnectionContext, Running};
use super::request::Name;
use super::servant::run_close_hook;
use super::session::RequestProtocol;
use super::tasks::run_or_spawn;
use super::Current;
use crate::protocol::FrameSplitter;
use crate::support::{catch_panic, catch_panic_async};

/// A servant speaking its own protocol.
///
/// Each request (a frame its [`FrameSplitter`] cut) is handed to [`on_request`](Self::on_request)
/// with the request's [`Current`]; requests of one connection run concurrently, as TARS ones do.
/// Reply, or push at any later time, with [`Current::send_raw`](Current::send_raw): the bytes are written as they
/// are, whole, through the connection's bounded queue.
pub trait RawServant: Send + Sync + 'static {
    /// Handles one request.
    fn on_request<'a>(&'a self, current: &'a Current, request: Bytes) -> BoxFuture<'a, ()>;

    /// Called once after a connection that carried requests closes, with the `Current` of its
    /// last request (TarsCpp's `doClose`). Does nothing by default.
    fn on_connection_closed<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, ()> {
        let _ = current;
        Box::pin(async {})
    }
}

/// A raw servant as registered: what every connection of its listener shares.
pub(super) struct RawBinding {
    pub(super) name: Name,
    pub(super) splitter: Arc<dyn FrameSplitter>,
    pub(super) servant: Arc<dyn RawServant>,
}

impl fmt::Debug for RawBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawBinding")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One connection of a raw servant: its requests and the `Current` of the last one, for
/// [`RawServant::on_connection_closed`].
pub(super) struct RawRequests {
    binding: Arc<RawBinding>,
    queue_timeout: Duration,
    last: Option<Current>,
}

impl RawRequests {
    pub(super) fn new(binding: Arc<RawBinding>, queue_timeout: Duration) -> Self {
        Self {
            binding,
            queue_timeout,
            last: None,
        }
    }
}

impl RequestProtocol for RawRequests {
    const RAW: bool = true;

    /// The servant's splitter, guarded: a splitter that panics, or that returns a frame without
    /// taking any input (and so would return it forever), closes the connection.
    fn split(&mut self, input: &mut BytesMut) -> Result<Option<Bytes>, String> {
        let before = input.len();
        let splitter = &self.binding.splitter;
        match catch_panic(|| splitter.split(input)) {
            Ok(Ok(Some(_))) if input.len() >= before => {
                Err("the splitter returned a frame without taking any input".into())
            }
            Ok(split) => split.map_err(|error| error.to_string()),
            Err(panic) => Err(format!("the splitter panicked: {panic}")),
        }
    }

    /// Runs the servant's handler on the request ([`run_or_spawn`]).
    fn handle(
        &mut self,
        frame: Bytes,
        received_at: Instant,
        running: Running,
        context: &Arc<ConnectionContext>,
        requests: &mut JoinSet<()>,
    ) -> Result<(), String> {
        let current = Current::raw(context.clone(), self.binding.name.clone(), received_at);
        self.last = Some(current.clone());
        let servant = self.binding.servant.clone();
        let queue_timeout = self.queue_timeout;
        run_or_spawn(requests, async move {
            run(servant, current, frame, queue_timeout).await;
            drop(running);
        });
        Ok(())
    }

    /// None: a raw client would not understand TarsGo's close packet.
    fn shutdown_notice(&self) -> Option<Bytes> {
        None
    }

    fn closing(&mut self) -> Vec<BoxFuture<'static, ()>> {
        self.last
            .take()
            .map(|current| connection_closed(self.binding.servant.clone(), current).boxed())
            .into_iter()
            .collect()
    }
}

/// Runs the handler. It replies (if at all) itself, with [`Current::send_raw`]; a panic is
/// caught and logged, with no reply, and the connection stays up. A request that waited longer
/// than the queue timeout to start is dropped unanswered, as TarsCpp drops them on its
/// non-TARS adapters: the protocol is the servant's, so the server has no way to say why.
async fn run(
    servant: Arc<dyn RawServant>,
    current: Current,
    request: Bytes,
    queue_timeout: Duration,
) {
    if current.overdue(queue_timeout).is_some() {
        return;
    }
    // the call itself inside the future, so a panic before the first await is caught too
    let outcome = catch_panic_async(async { servant.on_request(&current, request).await }).await;
    if let Err(panic) = outcome {
        tracing::warn!(
            connection = current.connection_id(),
            peer = %current.peer_addr(),
            servant = current.servant_name(),
            panic,
            "raw servant's handler panicked; no reply"
        );
    }
}

/// Tells `servant` that the connection of `current`, its last request there, has closed.
async fn connection_closed(servant: Arc<dyn RawServant>, current: Current) {
    run_close_hook(&current, servant.on_connection_closed(&current)).await;
}

#[cfg(test)]
mod tests {
    use std::fmt::{self, Write as _};
    use std::net::SocketAddr;
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tracing::field::{Field, Visit};
    use tracing::span;
    use tracing::subscriber::Interest;
    use tracing::{Event, Level, Metadata};

    use super::*;
    use crate::protocol::{LengthPrefixed, ProtocolError};
    use crate::server::Server;

    /// Collects the warnings and errors logged on its thread, each as its fields.
    #[derive(Clone, Default)]
    struct Warnings(Arc<Mutex<Vec<String>>>);

    impl Warnings {
        /// Asserts that one warning was logged about `peer`: its connection closing for
        /// `reason`.
        fn assert_one(&self, peer: SocketAddr, reason: &str) {
            let peer = format!("peer={peer} ");
            let logged = self.0.lock().unwrap();
            let about: Vec<&String> = logged.iter().filter(|line| line.contains(&peer)).collect();
            assert_eq!(about.len(), 1, "{about:?}");
            assert!(about[0].contains(reason), "{about:?}");
            assert!(about[0].contains("closing the connection"), "{about:?}");
        }
    }

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            let _ = write!(self.0, "{}={:?} ", field.name(), value);
        }
    }

    impl tracing::Subscriber for Warnings {
        fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
            Interest::sometimes()
        }
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            *metadata.level() <= Level::WARN
        }
        fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
            span::Id::from_u64(1)
        }
        fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
        fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0.lock().unwrap().push(fields.0);
        }
        fn enter(&self, _: &span::Id) {}
        fn exit(&self, _: &span::Id) {}
    }

    struct Echo;

    impl RawServant for Echo {
        fn on_request<'a>(&'a self, current: &'a Current, request: Bytes) -> BoxFuture<'a, ()> {
            Box::pin(async move {
                let _ = current.send_raw(request).await;
            })
        }
    }

    /// Sends `bytes` and waits for the server to close the connection; returns the client's
    /// address.
    async fn send_until_closed(addr: SocketAddr, bytes: Vec<u8>) -> SocketAddr {
        let connect = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr));
        let stream = connect.await.unwrap().unwrap();
        let local_addr = stream.local_addr().unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let writing = tokio::spawn(async move {
            // the server may close before it has read everything
            let _ = writer.write_all(&bytes).await;
            writer
        });
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut rest));
        assert!(read.await.is_ok(), "the connection was not closed");
        let written = tokio::time::timeout(Duration::from_secs(5), writing).await;
        drop(written.expect("the writer is done"));
        local_addr
    }

    /// The reason a connection closes on malformed input is logged as a warning naming the
    /// peer.
    #[test]
    fn malformed_input_is_logged_with_the_peer_and_the_reason() {
        let warnings = Warnings::default();
        let _guard = tracing::subscriber::set_default(warnings.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let never = |_: &mut BytesMut| -> Result<Option<Bytes>, ProtocolError> { Ok(None) };
            let panics = |_: &mut BytesMut| -> Result<Option<Bytes>, ProtocolError> {
                panic!("a bug in the splitter")
            };
            let takes_nothing = |input: &mut BytesMut| -> Result<Option<Bytes>, ProtocolError> {
                Ok((!input.is_empty()).then(Bytes::new))
            };
            let server = Server::builder()
                .raw_servant(
                    "Test.Raw.LengthObj",
                    "127.0.0.1:0",
                    LengthPrefixed::new(1024),
                    Echo,
                )
                .raw_servant("Test.Raw.NeverObj", "127.0.0.1:0", never, Echo)
                .raw_servant("Test.Raw.PanicObj", "127.0.0.1:0", panics, Echo)
                .raw_servant("Test.Raw.StuckObj", "127.0.0.1:0", takes_nothing, Echo)
                .max_frame_len(4096)
                .start()
                .await
                .unwrap();
            let length_addr = server.local_addr("Test.Raw.LengthObj").unwrap();
            let never_addr = server.local_addr("Test.Raw.NeverObj").unwrap();
            let panic_addr = server.local_addr("Test.Raw.PanicObj").unwrap();
            let stuck_addr = server.local_addr("Test.Raw.StuckObj").unwrap();

            let too_short = send_until_closed(length_addr, vec![0, 0, 0, 2]).await;
            let too_long = send_until_closed(length_addr, 1025u32.to_be_bytes().to_vec()).await;
            let endless = send_until_closed(never_addr, vec![b'x'; 100 * 1024]).await;
            let panicking = send_until_closed(panic_addr, vec![1]).await;
            let stuck = send_until_closed(stuck_addr, vec![1]).await;
            let shutdown = tokio::time::timeout(Duration::from_secs(5), server.shutdown());
            shutdown.await.expect("shut down in time");

            let short = "frame length 2 is shorter than its 4-byte length field";
            warnings.assert_one(too_short, short);
            let long = "frame length 1025 exceeds the maximum of 1024 bytes";
            warnings.assert_one(too_long, long);
            warnings.assert_one(endless, "no frame within 4096 bytes");
            warnings.assert_one(panicking, "the splitter panicked: a bug in the splitter");
            let nothing_taken = "the splitter returned a frame without taking any input";
            warnings.assert_one(stuck, nothing_taken);
        });
    }
}
