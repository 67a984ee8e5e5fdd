//! Client-side pushes against fake servers: raw TCP listeners that read `RequestPacket`
//! frames, answer them by hand and write push frames (`PushFrame`) whenever the test says.
//! Every wait is bounded, so a bug fails a test instead of hanging it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use tars_rpc::client::{CloseReason, Communicator, CommunicatorBuilder, Proxy, PushStream};
use tars_rpc::endpoint::Endpoint;
use tars_rpc::packet::{Context, PacketType, RequestPacket, ResponsePacket, ReturnCode};
use tars_rpc::push::{PushFrame, PushHandler, PushMessage};
use tars_rpc::{Error, TarsStruct};

const SERVANT: &str = "TestApp.HelloServer.HelloObj";

/// The longest any step may take before the test fails.
const WAIT: Duration = Duration::from_secs(5);

/// `testHello(string sReq, out string sRsp)`.
#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct HelloArgs {
    #[tars(tag = 1)]
    s_req: String,
    #[tars(tag = 2)]
    s_rsp: String,
}

/// The reply of `testHello`: the return value at tag 0, `sRsp` at tag 2.
#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct HelloResult {
    #[tars(tag = 0)]
    ret: i32,
    #[tars(tag = 2)]
    s_rsp: String,
}

/// The push `int pushMsg(out long value)`: the return value at tag 0, `value` at tag 1.
#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct PushBody {
    #[tars(tag = 0)]
    ret: i32,
    #[tars(tag = 1)]
    value: i64,
}

async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

fn args(text: &str) -> HelloArgs {
    HelloArgs {
        s_req: text.to_string(),
        s_rsp: String::new(),
    }
}

async fn call(proxy: &Proxy, func: &str, text: &str) -> Result<String, Error> {
    let result: HelloResult = proxy.invoke(func, &args(text)).await?;
    Ok(result.s_rsp)
}

async fn hello(proxy: &Proxy, text: &str) -> Result<String, Error> {
    call(proxy, "testHello", text).await
}

/// A push of `function` carrying `value`.
fn push_frame(function: &str, value: i64) -> Bytes {
    PushFrame::new(function, &PushBody { ret: 0, value }, &Context::new())
        .as_bytes()
        .clone()
}

/// The settings of most tests: quick reconnects, keep-alive out of the way.
fn config() -> CommunicatorBuilder {
    Communicator::builder()
        .call_timeout(Duration::from_secs(2))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(400))
}

fn proxy_with(config: CommunicatorBuilder, port: u16) -> Proxy {
    config
        .build()
        .proxy(&format!("{SERVANT}@tcp -h 127.0.0.1 -p {port}"))
        .unwrap()
}

/// Reads one request frame; `None` at the end of the stream.
async fn read_request(stream: &mut (impl AsyncRead + Unpin)) -> Option<RequestPacket> {
    let len = stream.read_u32().await.ok()? as usize;
    let mut body = vec![0; len.checked_sub(4)?];
    stream.read_exact(&mut body).await.ok()?;
    Some(RequestPacket::decode_from(&body).expect("a request packet"))
}

fn frame(packet: &ResponsePacket) -> Vec<u8> {
    let body = packet.to_bytes();
    let mut frame = (body.len() as u32 + 4).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

fn echo_reply(request: &RequestPacket) -> ResponsePacket {
    let args = HelloArgs::decode_from(&request.buffer).expect("hello args");
    ResponsePacket {
        buffer: HelloResult {
            ret: 0,
            s_rsp: args.s_req,
        }
        .to_bytes(),
        ..ResponsePacket::reply_to(request, ReturnCode::SUCCESS)
    }
}

/// What a fake server saw, by connection (numbered from 0 in accept order).
#[derive(Debug, Clone)]
enum Event {
    Accepted(usize),
    Request(usize, RequestPacket),
    /// The client closed the connection.
    Closed(usize),
}

struct ServerConnection {
    writer: Option<Arc<Mutex<OwnedWriteHalf>>>,
    kill: CancellationToken,
}

#[derive(Default)]
struct ServerShared {
    accepts: AtomicUsize,
    connections: StdMutex<Vec<ServerConnection>>,
}

/// A fake TARS server. It answers `testHello` by echoing (a request `push:A:B` is answered
/// with the pushes A..B around the reply: half before, half after), `tars_ping` and
/// `registerPush` with 0, and anything else with -3, except `manual`, which the test answers
/// with [`Server::reply`]. Every accept, request and close is an [`Event`].
struct Server {
    port: u16,
    shared: Arc<ServerShared>,
    events: mpsc::UnboundedReceiver<Event>,
    listener: JoinHandle<()>,
}

impl Server {
    async fn start() -> Self {
        Self::start_on(0).await
    }

    async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(ServerShared::default());
        let (sender, events) = mpsc::unbounded_channel();
        let listener = tokio::spawn(accept_loop(listener, shared.clone(), sender));
        Self {
            port,
            shared,
            events,
            listener,
        }
    }

    fn accepts(&self) -> usize {
        self.shared.accepts.load(Ordering::SeqCst)
    }

    fn writer(&self, connection: usize) -> Arc<Mutex<OwnedWriteHalf>> {
        self.shared.connections.lock().unwrap()[connection]
            .writer
            .clone()
            .expect("a live connection")
    }

    /// Writes raw bytes on a connection.
    async fn send(&self, connection: usize, bytes: &[u8]) {
        let writer = self.writer(connection);
        let mut writer = writer.lock().await;
        writer.write_all(bytes).await.unwrap();
    }

    async fn reply(&self, connection: usize, request: &RequestPacket) {
        self.send(connection, &frame(&echo_reply(request))).await;
    }

    /// Closes a connection from the server's side.
    fn kill(&self, connection: usize) {
        let mut connections = self.shared.connections.lock().unwrap();
        connections[connection].kill.cancel();
        connections[connection].writer = None;
    }

    /// Closes every connection and stops listening (asynchronously).
    fn kill_all(&self) {
        self.listener.abort();
        let count = self.shared.connections.lock().unwrap().len();
        for connection in 0..count {
            self.kill(connection);
        }
    }

    /// Stops listening and closes every connection; once it returns, connecting is refused.
    async fn stop(mut self) {
        self.listener.abort();
        let _ = (&mut self.listener).await;
        self.kill_all();
    }

    /// The next event that `wanted` accepts, skipping the others.
    async fn expect(&mut self, what: &str, wanted: impl Fn(&Event) -> bool) -> Event {
        let found = tokio::time::timeout(WAIT, async {
            loop {
                let event = self.events.recv().await.expect("the server runs");
                if wanted(&event) {
                    return event;
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    async fn expect_request(&mut self, func: &str) -> (usize, RequestPacket) {
        match self
            .expect(
                func,
                |event| matches!(event, Event::Request(_, request) if request.func_name == func),
            )
            .await
        {
            Event::Request(connection, request) => (connection, request),
            _ => unreachable!(),
        }
    }

    /// The next request for `func` on `connection`, skipping every other event.
    async fn expect_request_on(&mut self, func: &str, connection: usize) -> RequestPacket {
        let what = format!("{func} on #{connection}");
        match self
            .expect(&what, |event| {
                matches!(event, Event::Request(n, request) if *n == connection && request.func_name == func)
            })
            .await
        {
            Event::Request(_, request) => request,
            _ => unreachable!(),
        }
    }

    async fn expect_accept(&mut self, connection: usize) {
        self.expect(
            &format!("accept #{connection}"),
            |event| matches!(event, Event::Accepted(n) if *n == connection),
        )
        .await;
    }

    async fn expect_closed(&mut self, connection: usize) {
        self.expect(
            &format!("close of #{connection}"),
            |event| matches!(event, Event::Closed(n) if *n == connection),
        )
        .await;
    }

    /// The events of the next `period`.
    async fn events_for(&mut self, period: Duration) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + period;
        let mut events = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            events.push(event);
        }
        events
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_all();
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<ServerShared>,
    events: mpsc::UnboundedSender<Event>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        let (read, write) = stream.into_split();
        let writer = Arc::new(Mutex::new(write));
        let kill = CancellationToken::new();
        let index = {
            let mut connections = shared.connections.lock().unwrap();
            connections.push(ServerConnection {
                writer: Some(writer.clone()),
                kill: kill.clone(),
            });
            connections.len() - 1
        };
        shared.accepts.fetch_add(1, Ordering::SeqCst);
        let _ = events.send(Event::Accepted(index));
        tokio::spawn(serve(index, read, writer, kill, events.clone()));
    }
}

async fn serve(
    index: usize,
    mut read: tokio::net::tcp::OwnedReadHalf,
    writer: Arc<Mutex<OwnedWriteHalf>>,
    kill: CancellationToken,
    events: mpsc::UnboundedSender<Event>,
) {
    loop {
        let request = tokio::select! {
            () = kill.cancelled() => return,
            request = read_request(&mut read) => request,
        };
        let Some(request) = request else {
            let _ = events.send(Event::Closed(index));
            return;
        };
        let _ = events.send(Event::Request(index, request.clone()));
        let mut out = Vec::new();
        match request.func_name.as_str() {
            "testHello" => {
                let text = HelloArgs::decode_from(&request.buffer).unwrap().s_req;
                let range: Option<(i64, i64)> = text.strip_prefix("push:").and_then(|range| {
                    let (from, to) = range.split_once(':')?;
                    Some((from.parse().ok()?, to.parse().ok()?))
                });
                let (from, to) = range.unwrap_or((0, 0));
                let middle = from + (to - from) / 2;
                for value in from..middle {
                    out.extend_from_slice(&push_frame("pushMsg", value));
                }
                out.extend_from_slice(&frame(&echo_reply(&request)));
                for value in middle..to {
                    out.extend_from_slice(&push_frame("pushMsg", value));
                }
            }
            "tars_ping" | "registerPush" => {
                out = frame(&ResponsePacket::reply_to(&request, ReturnCode::SUCCESS));
            }
            "manual" => continue,
            _ => {
                out = frame(&ResponsePacket {
                    result_desc: "no func".into(),
                    ..ResponsePacket::reply_to(&request, ReturnCode::SERVER_NO_FUNC)
                });
            }
        }
        if kill.is_cancelled() || writer.lock().await.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Sets a flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A push handler that records `(function, value)` of each push, once its gate is open. It
/// panics on a push of `panic` and fails on `unknown`.
struct Recorder {
    pushes: mpsc::UnboundedSender<(String, i64)>,
    /// Each push waits for it to be cancelled (it is, unless a test makes another).
    gate: CancellationToken,
    _dropped: Option<DropFlag>,
}

impl Recorder {
    fn new() -> (Self, mpsc::UnboundedReceiver<(String, i64)>) {
        let (pushes, received) = mpsc::unbounded_channel();
        let gate = CancellationToken::new();
        gate.cancel();
        let recorder = Self {
            pushes,
            gate,
            _dropped: None,
        };
        (recorder, received)
    }
}

impl PushHandler for Recorder {
    fn on_push<'a>(&'a self, push: &'a PushMessage) -> BoxFuture<'a, tars_rpc::Result<()>> {
        Box::pin(async move {
            match push.function.as_str() {
                "panic" => panic!("a push handler panics on purpose"),
                "unknown" => return Err(Error::new(ReturnCode::CLIENT_DECODE_ERR, "unknown")),
                _ => {}
            }
            self.gate.cancelled().await;
            let body: PushBody = push.decode()?;
            let _ = self.pushes.send((push.function.clone(), body.value));
            Ok(())
        })
    }
}

async fn take_values(
    received: &mut mpsc::UnboundedReceiver<(String, i64)>,
    count: usize,
) -> Vec<i64> {
    let mut values = Vec::new();
    while values.len() < count {
        let (_, value) = within(received.recv()).await.expect("the handler lives");
        values.push(value);
    }
    values
}

async fn take_stream(stream: &mut PushStream<PushMessage>, count: usize) -> Vec<i64> {
    let mut values = Vec::new();
    while values.len() < count {
        let push = within(stream.next()).await.expect("the stream lives");
        values.push(push.decode::<PushBody>().unwrap().value);
    }
    values
}

// 1
#[tokio::test]
async fn the_handler_gets_every_push_in_order_between_replies() {
    let server = Server::start().await;
    let proxy = proxy_with(config(), server.port);
    let (recorder, mut received) = Recorder::new();
    proxy.set_push_handler(recorder);
    for batch in 0..10 {
        let text = format!("push:{}:{}", batch * 10, batch * 10 + 10);
        assert_eq!(within(hello(&proxy, &text)).await.unwrap(), text);
    }
    let values = take_values(&mut received, 100).await;
    assert_eq!(values, (0..100).collect::<Vec<_>>());
    assert_eq!(server.accepts(), 1);
}

// 2
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_does_not_delay_replies() {
    let server = Server::start().await;
    let proxy = proxy_with(config(), server.port);
    let (mut recorder, mut received) = Recorder::new();
    let gate = CancellationToken::new();
    recorder.gate = gate.clone();
    proxy.set_push_handler(recorder);
    within(hello(&proxy, "push:0:5")).await.unwrap();
    // the handler is stuck on the first push; calls answer meanwhile
    for _ in 0..3 {
        assert_eq!(within(hello(&proxy, "quick")).await.unwrap(), "quick");
    }
    assert!(received.try_recv().is_err(), "the handler is still stuck");
    gate.cancel();
    let values = take_values(&mut received, 5).await;
    assert_eq!(values, vec![0, 1, 2, 3, 4]);
}

// 3
#[tokio::test]
async fn pushes_nobody_takes_are_dropped_and_the_connection_stays_up() {
    let mut server = Server::start().await;
    let proxy = proxy_with(config(), server.port);

    // no handler, no stream
    within(hello(&proxy, "push:0:4")).await.unwrap();
    server.expect_accept(0).await;
    // request id 0 without TARS_FUNC (not `_reconnect_` either)
    server.send(0, &frame(&ResponsePacket::default())).await;
    server.send(0, &push_frame("unknownFunc", 1)).await;
    assert_eq!(within(hello(&proxy, "still up")).await.unwrap(), "still up");

    // a handler that fails on a function it does not know
    let (recorder, mut received) = Recorder::new();
    proxy.set_push_handler(recorder);
    server.send(0, &push_frame("unknown", 1)).await;
    server.send(0, &push_frame("pushMsg", 2)).await;
    assert_eq!(take_values(&mut received, 1).await, vec![2]);
    assert_eq!(within(hello(&proxy, "and up")).await.unwrap(), "and up");
    assert_eq!(server.accepts(), 1);
}

// 4
#[tokio::test]
async fn push_streams_get_every_push_in_order_and_end_with_the_object() {
    let server = Server::start().await;
    let proxy = proxy_with(config(), server.port);
    let mut first = proxy.push_stream();
    let mut second = proxy.push_stream();
    within(hello(&proxy, "push:0:10")).await.unwrap();
    assert_eq!(
        take_stream(&mut first, 10).await,
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(
        take_stream(&mut second, 10).await,
        (0..10).collect::<Vec<_>>()
    );

    // dropping one does not disturb the other
    drop(second);
    within(hello(&proxy, "push:10:20")).await.unwrap();
    assert_eq!(
        take_stream(&mut first, 10).await,
        (10..20).collect::<Vec<_>>()
    );

    // a handle left keeps the stream going; the last one ends it
    let clone = proxy.with_timeout(Duration::from_secs(1));
    drop(proxy);
    within(hello(&clone, "push:20:21")).await.unwrap();
    assert_eq!(take_stream(&mut first, 1).await, vec![20]);
    drop(clone);
    assert!(within(first.recv()).await.is_none(), "the stream ends");
    assert!(within(first.next()).await.is_none());
}

// 4b
#[tokio::test]
async fn a_full_stream_drops_pushes_for_itself_only() {
    let server = Server::start().await;
    let proxy = proxy_with(config().push_queue_capacity(4), server.port);
    let mut first = proxy.push_stream();
    let mut second = proxy.push_stream();
    // nothing reads the streams while the 10 pushes come: each keeps the first 4
    within(hello(&proxy, "push:0:10")).await.unwrap();
    assert_eq!(take_stream(&mut first, 4).await, vec![0, 1, 2, 3]);
    let more = tokio::time::timeout(Duration::from_millis(100), first.next()).await;
    assert!(more.is_err(), "the rest was dropped: {more:?}");

    // room again in the first: new pushes come through; the second is still full
    within(hello(&proxy, "push:100:102")).await.unwrap();
    assert_eq!(take_stream(&mut first, 2).await, vec![100, 101]);
    assert_eq!(take_stream(&mut second, 4).await, vec![0, 1, 2, 3]);
    let more = tokio::time::timeout(Duration::from_millis(100), second.next()).await;
    assert!(more.is_err(), "the rest was dropped: {more:?}");
}

// 5
#[tokio::test]
async fn push_mode_keeps_an_idle_connection_alive_with_pings() {
    let mut server = Server::start().await;
    let quick = config().keepalive_interval(Duration::from_millis(100));

    // without a handler or a stream: no pings
    let plain = proxy_with(quick.clone(), server.port);
    within(hello(&plain, "plain")).await.unwrap();
    let events = server.events_for(Duration::from_millis(500)).await;
    let pings = events
        .iter()
        .filter(
            |event| matches!(event, Event::Request(_, request) if request.func_name == "tars_ping"),
        )
        .count();
    assert_eq!(pings, 0, "{events:?}");

    let proxy = proxy_with(quick, server.port);
    let (recorder, _received) = Recorder::new();
    proxy.set_push_handler(recorder);
    within(hello(&proxy, "push mode")).await.unwrap();
    // the next five pings, all on the push-mode connection, one keep-alive interval apart
    let mut arrivals = Vec::new();
    for _ in 0..5 {
        let (connection, ping) = server.expect_request("tars_ping").await;
        assert_eq!(
            connection, 1,
            "a ping on the plain proxy's connection: {ping:?}"
        );
        assert_eq!(ping.servant_name, SERVANT);
        assert_eq!(ping.packet_type, PacketType::NORMAL);
        assert!(ping.buffer.is_empty());
        arrivals.push(Instant::now());
    }
    let spread = arrivals[4] - arrivals[0];
    assert!(
        spread >= Duration::from_millis(300),
        "5 pings {spread:?} apart: they come one interval (100 ms) apart, not in a burst"
    );

    // out of push mode, the pings stop
    proxy.clear_push_handler();
    server.events_for(Duration::from_millis(150)).await;
    let events = server.events_for(Duration::from_millis(400)).await;
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(server.accepts(), 2);
}

// 5b
#[tokio::test]
async fn a_ping_without_reply_closes_the_connection() {
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = fake.local_addr().unwrap().port();
    let proxy = proxy_with(
        config()
            .keepalive_interval(Duration::from_millis(100))
            .call_timeout(Duration::from_millis(300)),
        port,
    );
    let _stream = proxy.push_stream();
    let (reasons, mut closed) = mpsc::unbounded_channel();
    proxy.on_close(move |_, reason| {
        let _ = reasons.send(reason);
    });
    // a server that reads the requests and never answers
    let call = tokio::spawn({
        let proxy = proxy.clone();
        async move { hello(&proxy, "x").await }
    });
    let (mut stream, _) = within(fake.accept()).await.unwrap();
    let request = within(read_request(&mut stream)).await.unwrap();
    assert_eq!(request.func_name, "testHello");
    assert!(within(call).await.unwrap().unwrap_err().is_timeout());
    let ping = within(read_request(&mut stream)).await.unwrap();
    assert_eq!(ping.func_name, "tars_ping");
    let reason = within(closed.recv()).await.unwrap();
    assert!(
        matches!(reason, CloseReason::KeepAliveFailed(ref error) if error.is_timeout()),
        "{reason}"
    );
    // and in push mode, it connects again
    let _again = within(fake.accept()).await.unwrap();
}

/// Counts `on_connect` runs and makes each register (a `registerPush` call through the proxy
/// the hook receives); records the `on_close` reasons.
fn hooks(
    proxy: &Proxy,
) -> (
    Arc<AtomicUsize>,
    mpsc::UnboundedReceiver<(Endpoint, CloseReason)>,
) {
    let connects = Arc::new(AtomicUsize::new(0));
    let counter = connects.clone();
    proxy.on_connect(move |proxy: Proxy, _endpoint: Endpoint| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            proxy
                .invoke_raw("registerPush", &[])
                .await
                .expect("registerPush is answered");
        }
    });
    let (sender, closes) = mpsc::unbounded_channel();
    proxy.on_close(move |endpoint, reason| {
        let _ = sender.send((endpoint, reason));
    });
    (connects, closes)
}

// 6
#[tokio::test]
async fn push_mode_reconnects_by_itself_and_runs_the_hooks() {
    let mut server = Server::start().await;
    let proxy = proxy_with(config(), server.port);
    let (recorder, mut received) = Recorder::new();
    proxy.set_push_handler(recorder);
    let (connects, mut closes) = hooks(&proxy);

    within(hello(&proxy, "connect")).await.unwrap();
    let (connection, _) = server.expect_request("registerPush").await;
    assert_eq!(connection, 0);
    assert_eq!(connects.load(Ordering::SeqCst), 1);

    server.kill(0);
    server.expect_accept(1).await;
    // the hook registers on the new connection
    server.expect_request_on("registerPush", 1).await;
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    let (endpoint, reason) = within(closes.recv()).await.unwrap();
    assert_eq!(endpoint.port(), server.port);
    assert!(matches!(reason, CloseReason::Eof), "{reason}");

    // pushes on the new connection reach the handler
    server.send(1, &push_frame("pushMsg", 42)).await;
    assert_eq!(take_values(&mut received, 1).await, vec![42]);
    assert_eq!(server.accepts(), 2);
}

// 7
#[tokio::test]
async fn reconnect_attempts_back_off() {
    // a server that accepts and closes at once: every attempt succeeds and fails
    let flapping = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = flapping.local_addr().unwrap().port();
    let (accepted, mut accepts) = mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = flapping.accept().await {
            let _ = accepted.send(Instant::now());
            drop(stream);
        }
    });
    let proxy = proxy_with(
        config().reconnect_backoff(Duration::from_millis(100), Duration::from_secs(5)),
        port,
    );
    let _pushes = proxy.push_stream();
    assert!(within(hello(&proxy, "x")).await.is_err());
    // five attempts: the first and four more after waits of about 0.1, 0.2, 0.4 and 0.8 s
    let mut times = Vec::new();
    for _ in 0..5 {
        times.push(
            within(accepts.recv())
                .await
                .expect("the flapping server runs"),
        );
    }
    let gaps: Vec<Duration> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let last = *gaps.last().unwrap();
    assert!(
        last >= Duration::from_millis(300),
        "the waits grow: {gaps:?}"
    );
    assert!(last > gaps[1] * 2, "the waits grow: {gaps:?}");
    server.abort();
}

// 7b
#[tokio::test]
async fn push_mode_reconnects_once_the_server_is_back() {
    let mut server = Server::start().await;
    let port = server.port;
    let proxy = proxy_with(
        config().reconnect_backoff(Duration::from_millis(100), Duration::from_millis(800)),
        port,
    );
    let _pushes = proxy.push_stream();
    let (connects, mut closes) = hooks(&proxy);
    within(hello(&proxy, "connect")).await.unwrap();
    server.expect_request("registerPush").await;

    // down for a second: the attempts fail, waiting longer each time
    server.stop().await;
    let (_, reason) = within(closes.recv()).await.unwrap();
    assert!(matches!(reason, CloseReason::Eof), "{reason}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(connects.load(Ordering::SeqCst), 1);

    let mut server = Server::start_on(port).await;
    server.expect_accept(0).await;
    server.expect_request("registerPush").await;
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    assert_eq!(within(hello(&proxy, "back")).await.unwrap(), "back");
    assert_eq!(server.accepts(), 1);
}

// 8
#[tokio::test]
async fn reconnect_packet_drains_the_connection_and_moves_calls_to_a_new_one() {
    let mut server = Server::start().await;
    let proxy = proxy_with(config(), server.port);
    let (_, mut closes) = hooks(&proxy);

    // not in push mode: the calls in flight complete on the old connection, the next call
    // makes a new one
    let in_flight = |text: &'static str| {
        let proxy = proxy.clone();
        tokio::spawn(async move { call(&proxy, "manual", text).await })
    };
    let first = in_flight("first");
    let (connection, first_request) = server.expect_request("manual").await;
    assert_eq!(connection, 0);
    let second = in_flight("second");
    let (connection, second_request) = server.expect_request("manual").await;
    assert_eq!(connection, 0);
    server.send(0, PushFrame::reconnect().as_bytes()).await;
    server.reply(0, &first_request).await;
    // the client reads the reconnect packet before the reply behind it: once the first call
    // has its reply, the connection takes no new calls
    assert_eq!(within(first).await.unwrap().unwrap(), "first");
    assert_eq!(within(hello(&proxy, "next")).await.unwrap(), "next");
    server.expect_accept(1).await;
    server.expect_request_on("testHello", 1).await;
    server.reply(0, &second_request).await;
    assert_eq!(within(second).await.unwrap().unwrap(), "second");
    // then the old connection closes
    server.expect_closed(0).await;
    let (_, reason) = within(closes.recv()).await.unwrap();
    assert!(matches!(reason, CloseReason::Reconnect), "{reason}");
    assert_eq!(server.accepts(), 2);

    // in push mode, a new connection is made at once, without a call
    let (recorder, _received) = Recorder::new();
    proxy.set_push_handler(recorder);
    server.send(1, PushFrame::reconnect().as_bytes()).await;
    server.expect_accept(2).await;
    server.expect_request_on("registerPush", 2).await;
    // nothing in flight: the old connection closes at once
    let (_, reason) = within(closes.recv()).await.unwrap();
    assert!(matches!(reason, CloseReason::Reconnect), "{reason}");
    assert_eq!(
        within(hello(&proxy, "on the new one")).await.unwrap(),
        "on the new one"
    );
    server.expect_request_on("testHello", 2).await;
    assert_eq!(server.accepts(), 3);
}

// 9
#[tokio::test]
async fn dropping_the_last_handle_stops_everything() {
    let mut server = Server::start().await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();

    let proxy = proxy_with(
        config().keepalive_interval(Duration::from_millis(100)),
        server.port,
    );
    let (mut recorder, mut received) = Recorder::new();
    let handler_dropped = Arc::new(AtomicBool::new(false));
    recorder._dropped = Some(DropFlag(handler_dropped.clone()));
    proxy.set_push_handler(recorder);
    let mut stream = proxy.push_stream();
    let (connects, mut closes) = hooks(&proxy);
    within(hello(&proxy, "push:0:2")).await.unwrap();
    assert_eq!(take_values(&mut received, 2).await, vec![0, 1]);
    assert_eq!(take_stream(&mut stream, 2).await, vec![0, 1]);
    server.expect_request("registerPush").await;
    server.expect_request("tars_ping").await;
    assert_eq!(connects.load(Ordering::SeqCst), 1);
    assert!(metrics.num_alive_tasks() > baseline);

    drop(proxy);
    server.expect_closed(0).await;
    let (_, reason) = within(closes.recv()).await.unwrap();
    assert!(matches!(reason, CloseReason::Dropped), "{reason}");
    assert!(within(stream.next()).await.is_none(), "the stream ends");
    assert!(
        handler_dropped.load(Ordering::SeqCst),
        "the handler is dropped"
    );
    within(async {
        while metrics.num_alive_tasks() > baseline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(metrics.num_alive_tasks(), baseline, "every task stopped");

    let events = server.events_for(Duration::from_millis(300)).await;
    assert!(events.is_empty(), "nothing after the drop: {events:?}");
    assert_eq!(server.accepts(), 1);
}

// 10
#[tokio::test]
async fn a_panicking_handler_goes_on_with_the_next_push() {
    let mut server = Server::start().await;
    let proxy = proxy_with(config(), server.port);
    let (recorder, mut received) = Recorder::new();
    proxy.set_push_handler(recorder);
    within(hello(&proxy, "connect")).await.unwrap();
    server.expect_accept(0).await;
    server.send(0, &push_frame("panic", 0)).await;
    server.send(0, &push_frame("pushMsg", 1)).await;
    server.send(0, &push_frame("panic", 0)).await;
    server.send(0, &push_frame("pushMsg", 2)).await;
    assert_eq!(take_values(&mut received, 2).await, vec![1, 2]);
    assert_eq!(within(hello(&proxy, "still up")).await.unwrap(), "still up");
    assert_eq!(server.accepts(), 1);
}

#[tokio::test]
async fn the_hook_proxy_calls_the_endpoint_just_connected() {
    let mut first = Server::start().await;
    let mut second = Server::start().await;
    let proxy = config()
        .build()
        .proxy(&format!(
            "{SERVANT}@tcp -h 127.0.0.1 -p {}:tcp -h 127.0.0.1 -p {}",
            first.port, second.port
        ))
        .unwrap();
    let (endpoints, mut connected) = mpsc::unbounded_channel();
    proxy.on_connect(move |proxy: Proxy, endpoint: Endpoint| {
        let endpoints = endpoints.clone();
        async move {
            // in turn, these would go to both endpoints and connect the other one
            for _ in 0..3 {
                proxy.invoke_raw("registerPush", &[]).await.unwrap();
            }
            let _ = endpoints.send(endpoint.port());
        }
    });
    let registrations = |events: Vec<Event>| {
        events
            .into_iter()
            .filter(|event| matches!(event, Event::Request(_, request) if request.func_name == "registerPush"))
            .count()
    };

    // round robin starts at the second endpoint in TarsCpp's order: whichever it is, the
    // hook's calls all go to the endpoint just connected
    within(hello(&proxy, "to one")).await.unwrap();
    let port = within(connected.recv()).await.unwrap();
    let (one, other) = if port == first.port {
        (&mut first, &mut second)
    } else {
        (&mut second, &mut first)
    };
    assert_eq!(port, one.port);
    assert_eq!(
        registrations(one.events_for(Duration::from_millis(100)).await),
        3
    );
    assert_eq!(other.accepts(), 0, "the hook's calls all went to the one");

    within(hello(&proxy, "to the other")).await.unwrap();
    assert_eq!(within(connected.recv()).await.unwrap(), other.port);
    assert_eq!(
        registrations(other.events_for(Duration::from_millis(100)).await),
        3
    );
    assert_eq!(
        registrations(one.events_for(Duration::from_millis(100)).await),
        0
    );
    assert_eq!((first.accepts(), second.accepts()), (1, 1));
}

// 13
#[tokio::test]
async fn a_push_names_the_endpoint_it_came_on() {
    let mut servers = [Server::start().await, Server::start().await];
    let proxy = config()
        .build()
        .proxy(&format!(
            "{SERVANT}@tcp -h 127.0.0.1 -p {}:tcp -h 127.0.0.1 -p {}",
            servers[0].port, servers[1].port
        ))
        .unwrap();
    let mut pushes = proxy.push_stream();
    // calls go to the endpoints in turn: each server gets one and pushes its value back
    within(hello(&proxy, "push:0:1")).await.unwrap();
    within(hello(&proxy, "push:1:2")).await.unwrap();
    let mut pushed_by = [None, None];
    for server in &mut servers {
        let (_, request) = server.expect_request("testHello").await;
        let text = HelloArgs::decode_from(&request.buffer).unwrap().s_req;
        let value: usize = if text == "push:0:1" { 0 } else { 1 };
        pushed_by[value] = Some(server.port);
    }
    for _ in 0..2 {
        let push = within(pushes.next()).await.expect("the stream lives");
        let value = push.decode::<PushBody>().unwrap().value as usize;
        let origin = push.origin().expect("a received push names its endpoint");
        assert_eq!(
            (origin.host(), Some(origin.port())),
            ("127.0.0.1", pushed_by[value])
        );
    }
    // a push made from a packet was received on no connection
    let frame = push_frame("pushMsg", 7);
    let packet = ResponsePacket::decode_from(&frame[4..]).unwrap();
    assert!(PushMessage::from_packet(packet).unwrap().origin().is_none());
}
