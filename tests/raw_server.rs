//! Servants speaking their own protocol (`ServerBuilder::raw_servant`), driven by raw TCP
//! clients, with the protocol of TarsCpp's PushDemo: a frame is a 4-byte big-endian total
//! length, a 4-byte big-endian request id (0 for a push), and the payload.
//!
//! Requests of one connection run concurrently, as TARS ones do, so replies to pipelined
//! requests may come back in any order: they are compared as multisets. Pushes, queued one
//! after the other, keep their order.
//!
//! Every server binds 127.0.0.1 port 0 and every wait is bounded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use common::slow_subscriber::SlowSubscriber;
use futures::future::BoxFuture;
use tars_rpc::framing::FrameCodec;
use tars_rpc::packet::{RequestPacket, ResponsePacket, ReturnCode};
use tars_rpc::protocol::{FrameSplitter, LengthPrefixed, ProtocolError, RawServant};
use tars_rpc::push::{PushError, PushFrame, Subscribers};
use tars_rpc::server::{Current, Listen, Servant, Server, ServerBuilder, ServerError};
use tars_rpc::TarsStruct;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_util::codec::{Decoder, Encoder};

const SERVANT: &str = "Test.TestPushServer.TestPushServantObj";
const ENDPOINT: &str = "tcp -h 127.0.0.1 -p 0 -t 60000";
/// The server's splitter: the PushDemo's frames of up to 64 KiB.
const MAX_REQUEST: usize = 64 * 1024;
/// The bound on every wait: far above what a working server needs.
const WAIT: Duration = Duration::from_secs(5);

/// A PushDemo frame: total length, request id, payload.
fn frame(id: u32, payload: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(8 + payload.len());
    frame.put_u32(u32::try_from(8 + payload.len()).unwrap());
    frame.put_u32(id);
    frame.put_slice(payload);
    frame.freeze()
}

fn id_of(frame: &[u8]) -> u32 {
    (&frame[4..8]).get_u32()
}

fn payload_of(frame: &[u8]) -> &[u8] {
    &frame[8..]
}

/// The PushDemo's push: request id 0, "hello world".
fn hello() -> PushFrame {
    PushFrame::from_raw(frame(0, b"hello world"))
}

/// A push whose payload starts with its sequence number.
fn numbered_push(seq: u32, len: usize) -> PushFrame {
    let mut payload = vec![b'p'; len.max(4)];
    payload[..4].copy_from_slice(&seq.to_be_bytes());
    PushFrame::from_raw(frame(0, &payload))
}

fn seq_of(push: &[u8]) -> u32 {
    payload_of(push).get_u32()
}

/// One call of `on_connection_closed`.
#[derive(Debug, Clone, PartialEq)]
struct ClosedCall {
    connection_id: u64,
    peer: SocketAddr,
    servant: String,
    was_closed: bool,
}

/// What the servant lets the tests observe.
#[derive(Default)]
struct Shared {
    subscribers: Subscribers,
    closed_calls: Mutex<Vec<ClosedCall>>,
    /// Requests whose `Current` was not what a raw request's must be.
    bad_currents: AtomicUsize,
    sleeps_started: AtomicUsize,
}

impl Shared {
    fn closed_calls(&self) -> Vec<ClosedCall> {
        self.closed_calls.lock().unwrap().clone()
    }

    /// The saved `Current` of the client at `peer`.
    fn current_of(&self, peer: SocketAddr) -> Current {
        self.subscribers
            .currents()
            .into_iter()
            .find(|current| current.peer_addr() == peer)
            .expect("the client is subscribed")
    }
}

/// The PushDemo's servant: echoes every request, and remembers its client to push to it.
/// A payload `sleep:MS` is echoed after MS milliseconds; `panic` panics.
struct EchoServant {
    shared: Arc<Shared>,
}

impl RawServant for EchoServant {
    fn on_request<'a>(&'a self, current: &'a Current, request: Bytes) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let as_expected = current.servant_name() == SERVANT
                && current.func_name().is_empty()
                && current.request_id() == 0
                && !current.is_oneway()
                && current.context().is_empty()
                && current.status().is_empty();
            if !as_expected {
                self.shared.bad_currents.fetch_add(1, Ordering::SeqCst);
            }
            self.shared.subscribers.add(current);
            let payload = payload_of(&request);
            if payload == b"panic" {
                panic!("asked to panic");
            }
            if let Some(ms) = payload.strip_prefix(b"sleep:") {
                self.shared.sleeps_started.fetch_add(1, Ordering::SeqCst);
                let ms: u64 = std::str::from_utf8(ms).unwrap().parse().unwrap();
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            // a reply that cannot be queued is the connection's business
            let _ = current.send_raw(request).await;
        })
    }

    fn on_connection_closed<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.shared.closed_calls.lock().unwrap().push(ClosedCall {
                connection_id: current.connection_id(),
                peer: current.peer_addr(),
                servant: current.servant_name().to_string(),
                was_closed: current.is_closed(),
            });
        })
    }
}

async fn start_with(
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
    listen: impl Into<Listen>,
) -> (Server, SocketAddr, Arc<Shared>) {
    let shared = Arc::new(Shared::default());
    let servant = EchoServant {
        shared: shared.clone(),
    };
    let builder =
        Server::builder().raw_servant(SERVANT, listen, LengthPrefixed::new(MAX_REQUEST), servant);
    let server = configure(builder).start().await.expect("the server starts");
    let addr = server.local_addr(SERVANT).expect("the servant is served");
    (server, addr, shared)
}

async fn start() -> (Server, SocketAddr, Arc<Shared>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    start_with(|builder| builder, listener).await
}

/// A PushDemo client on a raw TCP stream.
struct Client {
    frames: Frames,
    writer: OwnedWriteHalf,
    local_addr: SocketAddr,
}

/// The frames a client reads.
struct Frames {
    reader: OwnedReadHalf,
    /// What was read and is not a whole frame yet.
    input: BytesMut,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        Self::new(stream)
    }

    /// A client whose socket buffers `bytes` at most: one that stops reading is noticed soon.
    async fn connect_with_small_buffer(addr: SocketAddr, bytes: u32) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(bytes).unwrap();
        let stream = timeout(WAIT, socket.connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        Self::new(stream)
    }

    fn new(stream: TcpStream) -> Self {
        stream.set_nodelay(true).unwrap();
        let local_addr = stream.local_addr().unwrap();
        let (reader, writer) = stream.into_split();
        Self {
            frames: Frames {
                reader,
                input: BytesMut::new(),
            },
            writer,
            local_addr,
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        timeout(WAIT, self.writer.write_all(bytes))
            .await
            .expect("write timed out")
            .expect("write");
    }

    async fn recv(&mut self) -> Bytes {
        self.frames.recv().await
    }

    async fn call(&mut self, id: u32, payload: &[u8]) {
        let request = frame(id, payload);
        self.send(&request).await;
        assert_eq!(self.recv().await, request, "the echo");
    }
}

impl Frames {
    /// The next whole frame; `None` once the connection has ended (or was reset).
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            let split = LengthPrefixed::new(1 << 20).split(&mut self.input);
            if let Some(frame) = split.expect("the server sends well-formed frames") {
                return Some(frame);
            }
            match self.reader.read_buf(&mut self.input).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    async fn recv(&mut self) -> Bytes {
        timeout(WAIT, self.next_frame())
            .await
            .expect("no frame in time")
            .expect("the server closed the connection")
    }

    /// The frames left until the connection ends, which must happen within `WAIT`.
    async fn until_closed(&mut self) -> Vec<Bytes> {
        let mut frames = Vec::new();
        timeout(WAIT, async {
            while let Some(frame) = self.next_frame().await {
                frames.push(frame);
            }
        })
        .await
        .expect("the server did not close the connection");
        frames
    }

    /// Whether the connection is still open after `quiet` without anything arriving.
    async fn stays_open(&mut self, quiet: Duration) -> bool {
        let mut byte = [0u8; 1];
        timeout(quiet, self.reader.read(&mut byte)).await.is_err()
    }
}

/// Polls `condition` until it holds, for at most `WAIT`.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "not in time: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sorted, to compare as multisets.
fn sorted(mut frames: Vec<Bytes>) -> Vec<Bytes> {
    frames.sort();
    frames
}

/// Requests of many sizes, including an empty payload and one near the splitter's maximum.
fn requests(count: u32) -> Vec<Bytes> {
    (1..=count)
        .map(|id| {
            let len = match id % 10 {
                0 => 0,
                7 => MAX_REQUEST - 8,
                n => (n as usize) * 37,
            };
            let payload: Vec<u8> = (0..len).map(|i| (i as u32 + id) as u8).collect();
            frame(id, &payload)
        })
        .collect()
}

// 1
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_one_at_a_time_and_pipelined_come_back_intact() {
    let (server, addr, shared) = start().await;
    let mut client = Client::connect(addr).await;

    // one at a time, in order
    for request in requests(10) {
        client.send(&request).await;
        assert_eq!(client.recv().await, request);
    }

    // 100 frames in one write
    let batch = requests(100);
    client.send(&batch.concat()).await;
    let mut replies = Vec::new();
    for _ in 0..batch.len() {
        replies.push(client.recv().await);
    }
    assert_eq!(sorted(replies), sorted(batch));

    // 100 short frames one byte per write, so that frames and length fields are cut anywhere
    let batch: Vec<Bytes> = (1..=100u32)
        .map(|id| frame(id, format!("request {id}").as_bytes()))
        .collect();
    let bytes = batch.concat();
    let mut writer = client.writer;
    let trickle = tokio::spawn(async move {
        for (i, byte) in bytes.iter().enumerate() {
            writer.write_all(&[*byte]).await.unwrap();
            if i % 16 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        writer
    });
    let mut replies = Vec::new();
    for _ in 0..batch.len() {
        replies.push(client.frames.recv().await);
    }
    client.writer = timeout(WAIT, trickle).await.unwrap().unwrap();
    assert_eq!(sorted(replies), sorted(batch));

    // a panicking handler gets no reply, and the connection stays up
    client.send(&frame(1, b"panic")).await;
    client.call(2, b"still here").await;

    assert_eq!(shared.bad_currents.load(Ordering::SeqCst), 0);
    assert_eq!(shared.subscribers.len(), 1);
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// 1b
#[tokio::test]
async fn max_in_flight_bounds_the_running_requests_of_a_connection() {
    let (server, addr, _shared) = start_with(|builder| builder.max_in_flight(1), ENDPOINT).await;
    let mut client = Client::connect(addr).await;
    // with one request at a time, the quick one waits for the slow one before it
    let slow = frame(1, b"sleep:200");
    let quick = frame(2, b"quick");
    client.send(&[slow.clone(), quick.clone()].concat()).await;
    assert_eq!(client.recv().await, slow);
    assert_eq!(client.recv().await, quick);
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// 2
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_reach_every_client_and_never_interleave_with_replies() {
    const CALLS: u32 = 200;
    const PUSHES: u32 = 200;
    let (server, addr, shared) = start().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = Client::connect(addr).await;
        client.call(1, b"heartbeat").await;
        clients.push(client);
    }
    assert_eq!(shared.subscribers.len(), 3);

    // the PushDemo's push reaches everyone
    let report = shared.subscribers.broadcast(&hello());
    assert!(report.is_complete() && report.delivered == 3, "{report:?}");
    for client in &mut clients {
        let push = client.recv().await;
        assert_eq!(push, hello().as_bytes());
        assert_eq!((id_of(&push), payload_of(&push)), (0, &b"hello world"[..]));
    }

    // one client pipelines requests while pushes are broadcast
    let busy = clients.remove(0);
    let requests: Vec<Bytes> = (1..=CALLS)
        .map(|id| frame(id, &vec![id as u8; 1000 + (id as usize * 13) % 3000]))
        .collect();
    let mut writer = busy.writer;
    let to_send = requests.clone();
    let pipelining = tokio::spawn(async move {
        for chunk in to_send.chunks(10) {
            writer.write_all(&chunk.concat()).await.unwrap();
            tokio::task::yield_now().await;
        }
        writer
    });
    let mut frames = busy.frames;
    let reading = tokio::spawn(async move {
        let mut replies = Vec::new();
        let mut pushes = Vec::new();
        while replies.len() < CALLS as usize || pushes.len() < PUSHES as usize {
            let frame = frames.recv().await;
            match id_of(&frame) {
                0 => pushes.push(seq_of(&frame)),
                _ => replies.push(frame),
            }
        }
        (frames, replies, pushes)
    });
    for seq in 0..PUSHES {
        let report = shared.subscribers.broadcast(&numbered_push(seq, 2000));
        assert!(report.is_complete() && report.delivered == 3, "{report:?}");
        if seq % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let (_reader, replies, pushes) = timeout(WAIT, reading).await.unwrap().unwrap();
    let _writer = timeout(WAIT, pipelining).await.unwrap().unwrap();
    assert_eq!(sorted(replies), sorted(requests));
    assert_eq!(pushes, (0..PUSHES).collect::<Vec<_>>(), "pushes in order");

    // the others got every push, in order
    for client in &mut clients {
        for seq in 0..PUSHES {
            let push = client.recv().await;
            assert_eq!((id_of(&push), seq_of(&push)), (0, seq));
            assert_eq!(push, numbered_push(seq, 2000).as_bytes());
        }
    }
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// 3
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_close_only_their_connection() {
    let (server, addr, shared) = start().await;
    let mut good = Client::connect(addr).await;
    good.call(1, b"hello").await;

    let too_short = [0u8, 0, 0, 2, 0, 0, 0, 1];
    let too_long = frame(2, &vec![0; MAX_REQUEST - 7]); // one byte over the maximum
    for bad_frame in [&too_short[..], &too_long[..4]] {
        let mut bad = Client::connect(addr).await;
        bad.call(1, b"a good one first").await;
        let current = shared.current_of(bad.local_addr);
        bad.send(bad_frame).await;
        assert!(bad.frames.until_closed().await.is_empty());
        timeout(WAIT, current.closed()).await.expect("closed");
        eventually("the bad client is told", || {
            shared
                .closed_calls()
                .iter()
                .any(|call| call.connection_id == current.connection_id())
        })
        .await;
        // the other connection goes on
        good.call(2, b"still here").await;
    }
    assert_eq!(shared.closed_calls().len(), 2);
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// 3b
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_input_without_a_frame_closes_its_connection() {
    const MAX: usize = 16 * 1024;
    /// What the server reads at once, at most.
    const ONE_READ: usize = 64 * 1024;
    // a splitter that never finds a frame, and notes how much input it was ever shown
    let most_buffered = Arc::new(AtomicUsize::new(0));
    let seen = most_buffered.clone();
    let never = move |input: &mut BytesMut| -> Result<Option<Bytes>, ProtocolError> {
        seen.fetch_max(input.len(), Ordering::SeqCst);
        Ok(None)
    };
    let shared = Arc::new(Shared::default());
    let server = Server::builder()
        .raw_servant(
            SERVANT,
            ENDPOINT,
            never,
            EchoServant {
                shared: shared.clone(),
            },
        )
        .max_frame_len(MAX)
        .start()
        .await
        .expect("the server starts");
    let addr = server.local_addr(SERVANT).unwrap();

    let mut quiet = Client::connect(addr).await;
    let mut garbage = Client::connect(addr).await;
    // up to what the sockets hold on top of what the server reads; ends with the connection
    let mut writer = garbage.writer;
    let flooding = tokio::spawn(async move {
        let chunk = vec![0xA5u8; 4096];
        let mut written = 0usize;
        while written < 64 << 20 {
            match writer.write_all(&chunk).await {
                Ok(()) => written += chunk.len(),
                Err(_) => break,
            }
        }
        written
    });
    assert!(garbage.frames.until_closed().await.is_empty());
    let written = timeout(WAIT, flooding).await.unwrap().unwrap();
    assert!(
        written < 64 << 20,
        "the server kept reading: {written} bytes"
    );
    let most_buffered = most_buffered.load(Ordering::SeqCst);
    assert!(
        most_buffered > MAX && most_buffered <= MAX + ONE_READ,
        "{most_buffered} bytes buffered"
    );
    println!("closed after {most_buffered} bytes buffered, {written} written");
    // it carried no request: no one to tell
    assert!(shared.closed_calls().is_empty());

    // the other connection is still up
    assert!(quiet.frames.stays_open(Duration::from_millis(200)).await);
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
    assert!(quiet.frames.until_closed().await.is_empty());
}

// 4
#[tokio::test]
async fn a_client_that_disconnects_is_forgotten_and_told_once() {
    let (server, addr, shared) = start().await;
    let mut staying = Client::connect(addr).await;
    staying.call(1, b"heartbeat").await;
    let mut leaving = Client::connect(addr).await;
    leaving.call(1, b"heartbeat").await;
    leaving.call(2, b"heartbeat").await;
    let current = shared.current_of(leaving.local_addr);
    assert_eq!(shared.subscribers.len(), 2);

    drop(leaving);
    timeout(WAIT, current.closed())
        .await
        .expect("closed() resolves");
    eventually("the client is removed", || {
        !shared.subscribers.contains(current.connection_id())
    })
    .await;
    eventually("the servant is told", || !shared.closed_calls().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        shared.closed_calls(),
        vec![ClosedCall {
            connection_id: current.connection_id(),
            peer: current.peer_addr(),
            servant: SERVANT.to_string(),
            was_closed: true,
        }],
        "told once"
    );

    // pushing to the saved Current fails; the others still get pushes
    let error = current
        .send_raw(frame(0, b"hello world"))
        .await
        .unwrap_err();
    assert!(error.is_closed(), "{error}");
    assert!(matches!(
        current.try_push(hello()),
        Err(PushError::Closed(_))
    ));
    let report = shared.subscribers.broadcast(&hello());
    assert!(report.is_complete() && report.delivered == 1, "{report:?}");
    assert_eq!(staying.recv().await, hello().as_bytes());
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// 5
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_misses_pushes_then_is_cut_off_without_hurting_the_others() {
    const FAST: usize = 2;
    const PUSH_LEN: usize = 100 * 1024;
    /// Room for 8 pushes per connection.
    const BUDGET: usize = 8 * (8 + PUSH_LEN);
    const STALL: Duration = Duration::from_millis(500);
    /// How far the broadcaster may run ahead of the fast clients, below the budget.
    const WINDOW: u32 = 4;
    /// Pushes after the slow client was cut off.
    const AFTER: u32 = 20;
    const MAX_PUSHES: u32 = 4000;
    let (server, addr, shared) = start_with(
        |builder| builder.queue_budget(BUDGET).stall_timeout(STALL),
        ENDPOINT,
    )
    .await;

    let mut slow = Client::connect_with_small_buffer(addr, 4096).await;
    slow.call(1, b"heartbeat").await;
    let slow_current = shared.current_of(slow.local_addr);
    let mut progress = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..FAST {
        let mut client = Client::connect(addr).await;
        client.call(1, b"heartbeat").await;
        let (sender, receiver) = tokio::sync::watch::channel(-1i64);
        progress.push(receiver);
        readers.push(tokio::spawn(async move {
            // the whole client: a dropped write half would end the connection
            let mut client = client;
            let mut expected = 0u32;
            while let Some(push) = timeout(WAIT, client.frames.next_frame()).await.unwrap() {
                assert_eq!(id_of(&push), 0);
                assert_eq!(seq_of(&push), expected, "pushes in order, none missing");
                assert_eq!(push.len(), 8 + PUSH_LEN);
                sender.send_replace(i64::from(expected));
                expected += 1;
            }
            expected
        }));
    }
    assert_eq!(shared.subscribers.len(), FAST + 1);

    let started = Instant::now();
    let mut watch = SlowSubscriber::new(slow_current.clone());
    let mut seq = 0u32;
    while seq < MAX_PUSHES
        && watch
            .cut_off_at
            .map_or(true, |at| i64::from(seq) < at + i64::from(AFTER))
    {
        for receiver in &mut progress {
            let behind = i64::from(seq) - i64::from(WINDOW);
            timeout(WAIT, receiver.wait_for(|&received| received >= behind))
                .await
                .expect("a fast client fell behind")
                .unwrap();
        }
        let report = shared.subscribers.broadcast(&numbered_push(seq, PUSH_LEN));
        watch
            .record(i64::from(seq), &report, FAST, &shared.subscribers)
            .await;
        seq += 1;
    }
    let (missed_at, missed_when) = watch.first_missed.expect("the slow client missed pushes");
    let cut_off_at = watch.cut_off_at.expect("the slow client was cut off");
    assert!(slow_current.is_closed());
    let stalled_for = missed_when.elapsed();
    println!(
        "slow client missed pushes from {missed_at}, cut off at {cut_off_at}, {seq} pushes in {:?}",
        started.elapsed()
    );
    // cut by the stall timeout: not before the peer stopped taking bytes for STALL
    assert!(stalled_for >= STALL / 2, "{stalled_for:?}");

    // the slow client sees whole pushes in order (some skipped), then the end
    let received = slow.frames.until_closed().await;
    let seqs: Vec<u32> = received.iter().map(|push| seq_of(push)).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    assert!(seqs.iter().all(|&seq| i64::from(seq) <= cut_off_at));

    timeout(WAIT, server.shutdown()).await.expect("shutdown");
    for reader in readers {
        let received = timeout(WAIT, reader).await.unwrap().unwrap();
        assert_eq!(received, seq, "every fast client got every push");
    }
}

/// A TARS servant answering every call with its parameters.
struct TarsEcho;

impl Servant for TarsEcho {
    fn dispatch<'a>(
        &'a self,
        _current: &'a Current,
        params: Bytes,
    ) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
        Box::pin(async move { Ok(params) })
    }
}

fn raw_echo() -> EchoServant {
    EchoServant {
        shared: Arc::default(),
    }
}

// 6
#[tokio::test]
async fn a_raw_servant_has_its_endpoint_to_itself() {
    let shared_port = |result: Result<Server, ServerError>| match result {
        Err(ServerError::SharedRawEndpoint {
            address,
            raw,
            other,
        }) => (address, raw, other),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the server started"),
    };
    let splitter = || LengthPrefixed::new(MAX_REQUEST);
    // a port given explicitly; the errors come before anything is bound
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let plain = format!("127.0.0.1:{port}");
    let tars_syntax = format!("tcp -h 127.0.0.1 -p {port} -t 60000");

    // after a TARS servant
    let result = Server::builder()
        .servant("App.Server.TarsObj", &plain, TarsEcho)
        .raw_servant("App.Server.RawObj", &tars_syntax, splitter(), raw_echo())
        .start()
        .await;
    let (address, raw, other) = shared_port(result);
    assert_eq!(address, plain);
    assert_eq!(
        (raw.as_str(), other.as_str()),
        ("App.Server.RawObj", "App.Server.TarsObj")
    );

    // before one
    let result = Server::builder()
        .raw_servant("App.Server.RawObj", &plain, splitter(), raw_echo())
        .servant("App.Server.TarsObj", &tars_syntax, TarsEcho)
        .start()
        .await;
    let (address, raw, other) = shared_port(result);
    assert_eq!(address, plain);
    assert_eq!(
        (raw.as_str(), other.as_str()),
        ("App.Server.RawObj", "App.Server.TarsObj")
    );

    // two raw servants
    let result = Server::builder()
        .raw_servant("App.Server.RawObj", &plain, splitter(), raw_echo())
        .raw_servant(
            "App.Server.OtherRawObj",
            &tars_syntax,
            splitter(),
            raw_echo(),
        )
        .start()
        .await;
    let (_, raw, other) = shared_port(result);
    assert_eq!(
        (raw.as_str(), other.as_str()),
        ("App.Server.RawObj", "App.Server.OtherRawObj")
    );
    let message = Server::builder()
        .raw_servant("App.Server.RawObj", &plain, splitter(), raw_echo())
        .raw_servant("App.Server.OtherRawObj", &plain, splitter(), raw_echo())
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`App.Server.RawObj`") && message.contains(&plain),
        "{message}"
    );
    drop(taken);

    // a name is a name, raw or not
    let result = Server::builder()
        .servant("App.Server.Obj", "127.0.0.1:0", TarsEcho)
        .raw_servant("App.Server.Obj", ENDPOINT, splitter(), raw_echo())
        .start()
        .await;
    assert!(
        matches!(result, Err(ServerError::DuplicateServant(ref name)) if name == "App.Server.Obj")
    );

    // at port 0 each raw servant gets a listener of its own; TARS servants share theirs
    let server = Server::builder()
        .servant("App.Server.TarsObj", "127.0.0.1:0", TarsEcho)
        .raw_servant(SERVANT, ENDPOINT, splitter(), raw_echo())
        .raw_servant("App.Server.OtherRawObj", ENDPOINT, splitter(), raw_echo())
        .servant("App.Server.OtherTarsObj", ENDPOINT, TarsEcho)
        .start()
        .await
        .expect("the server starts");
    let tars_addr = server.local_addr("App.Server.TarsObj").unwrap();
    let raw_addr = server.local_addr(SERVANT).unwrap();
    let other_raw_addr = server.local_addr("App.Server.OtherRawObj").unwrap();
    assert_eq!(
        server.local_addr("App.Server.OtherTarsObj"),
        Some(tars_addr)
    );
    assert_eq!(
        server.local_addrs(),
        vec![tars_addr, raw_addr, other_raw_addr]
    );
    let mut other_raw_client = Client::connect(other_raw_addr).await;
    other_raw_client.call(8, b"other raw").await;
    let mut raw_client = Client::connect(raw_addr).await;
    raw_client.call(7, b"raw").await;
    let mut tars_client = Client::connect(tars_addr).await;
    let request = RequestPacket {
        request_id: 9,
        servant_name: "App.Server.TarsObj".into(),
        func_name: "echo".into(),
        buffer: Bytes::from_static(b"tars"),
        ..RequestPacket::default()
    };
    let mut wire = BytesMut::new();
    FrameCodec::default().encode(&request, &mut wire).unwrap();
    tars_client.send(&wire).await;
    let mut reply = BytesMut::from(&tars_client.recv().await[..]);
    let body = FrameCodec::default().decode(&mut reply).unwrap().unwrap();
    let reply = ResponsePacket::decode_bytes(&body).unwrap();
    assert_eq!(
        (reply.request_id, reply.ret, &reply.buffer[..]),
        (9, ReturnCode::SUCCESS, &b"tars"[..])
    );
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// 7
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_finishes_raw_requests_and_writes_no_tars_packet() {
    let (server, addr, shared) = start().await;
    let mut idle = Client::connect(addr).await;
    idle.call(1, b"heartbeat").await;
    let mut busy = Client::connect(addr).await;
    let slow = frame(2, b"sleep:300");
    busy.send(&slow).await;
    eventually("the request runs", || {
        shared.sleeps_started.load(Ordering::SeqCst) == 1
    })
    .await;

    // no TARS packet can be sent on a raw connection, not even by hand
    let current = shared.current_of(busy.local_addr);
    let packet = PushFrame::reconnect();
    let refused = current.push(packet).await.unwrap_err();
    assert!(matches!(refused, PushError::WrongProtocol(_)), "{refused}");

    let shutdown = tokio::spawn(server.shutdown());
    // the running request's reply arrives, and nothing else: no `_reconnect_` packet
    assert_eq!(busy.frames.until_closed().await, vec![slow]);
    assert!(
        busy.frames.input.is_empty(),
        "stray bytes: {:?}",
        busy.frames.input
    );
    assert!(idle.frames.until_closed().await.is_empty());
    assert!(
        idle.frames.input.is_empty(),
        "stray bytes: {:?}",
        idle.frames.input
    );
    timeout(WAIT, shutdown).await.unwrap().unwrap();

    // both were told
    let mut told: HashMap<SocketAddr, usize> = HashMap::new();
    for call in shared.closed_calls() {
        assert!(call.was_closed);
        *told.entry(call.peer).or_default() += 1;
    }
    assert_eq!(told.get(&idle.local_addr), Some(&1));
    assert_eq!(told.get(&busy.local_addr), Some(&1));
    // refused after the shutdown
    assert!(timeout(WAIT, TcpStream::connect(addr))
        .await
        .unwrap()
        .is_err());
}

// idle timeout
#[tokio::test]
async fn idle_raw_connections_time_out() {
    let (server, addr, shared) =
        start_with(|builder| builder, "tcp -h 127.0.0.1 -p 0 -t 200").await;
    let started = Instant::now();
    let mut silent = Client::connect(addr).await;
    let mut talking = Client::connect(addr).await;
    talking.call(1, b"heartbeat").await;
    assert!(silent.frames.until_closed().await.is_empty());
    assert!(talking.frames.until_closed().await.is_empty());
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
    eventually("the talking client is told", || {
        shared.closed_calls().len() == 1
    })
    .await;
    assert_eq!(shared.closed_calls()[0].peer, talking.local_addr);
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

#[tokio::test]
async fn a_tars_push_never_reaches_a_raw_client() {
    let (server, addr, shared) = start().await;
    let mut client = Client::connect(addr).await;
    client.call(1, b"heartbeat").await;
    let current = shared.current_of(client.local_addr);

    #[derive(tars_rpc::TarsStruct)]
    struct Body {
        #[tars(tag = 0)]
        ret: i32,
    }
    let tars_push = PushFrame::new(
        "pushMsg",
        &Body { ret: 0 },
        &tars_rpc::packet::Context::new(),
    );
    let error = current.try_push(tars_push.clone()).unwrap_err();
    assert!(error.to_string().contains("raw servant"), "{error}");
    assert!(
        matches!(&error, PushError::WrongProtocol(back) if back.as_bytes() == tars_push.as_bytes())
    );
    // nor through the registry; the connection stays up for frames of its own protocol
    let report = shared.subscribers.broadcast(&tars_push);
    assert_eq!(report.failed.len(), 1);
    assert!(matches!(
        report.failed[0].error,
        PushError::WrongProtocol(_)
    ));
    assert!(!current.is_closed());
    assert!(shared.subscribers.contains(current.connection_id()));
    current.push(hello()).await.unwrap();
    assert_eq!(client.recv().await, hello().as_bytes());
    client.call(2, b"still here").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_raw_servant_given_a_listener_has_it_to_itself() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let result = Server::builder()
        .raw_servant(
            SERVANT,
            listener,
            LengthPrefixed::new(MAX_REQUEST),
            raw_echo(),
        )
        .servant("App.Server.TarsObj", &address, TarsEcho)
        .start()
        .await;
    match result {
        Err(ServerError::SharedRawEndpoint {
            address: shared,
            raw,
            other,
        }) => assert_eq!(
            (shared.as_str(), raw.as_str(), other.as_str()),
            (address.as_str(), SERVANT, "App.Server.TarsObj")
        ),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the server started"),
    }
}
