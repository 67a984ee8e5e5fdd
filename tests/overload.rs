//! The server under fast, slow and hostile peers: flow control, memory bounds, half-close,
//! listener limits, timeouts and bad input.
//!
//! Every test runs alone (they take one lock), because some of them measure the process's live
//! heap with the counting allocator below. The clients are raw TCP sockets, so what is checked is
//! what goes on the wire; every server binds 127.0.0.1 port 0 and every wait is bounded.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use bytes::{Bytes, BytesMut};
use common::tars_client::{encode, TarsClient as Client};
use futures::future::BoxFuture;
use futures::StreamExt;
use tars_rpc::packet::{Context, RequestPacket, ResponsePacket, ReturnCode};
use tars_rpc::push::{PushError, PushFrame, Subscribers};
use tars_rpc::server::{Current, Servant, Server, ServerBuilder};
use tars_rpc::{Error, TarsStruct};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

// ---------------------------------------------------------------------------------------------
// The counting allocator: live heap bytes of the whole process

struct Counting;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> i64 {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// One test at a time: the heap figures are the whole process's.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

// ---------------------------------------------------------------------------------------------
// The servant and the server

const SERVANT: &str = "Test.OverloadServer.EchoObj";
/// The bound on every wait: far above what a working server needs.
const WAIT: Duration = Duration::from_secs(10);

/// The parameters of `sleep`: milliseconds at tag 1.
#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct SleepArgs {
    #[tars(tag = 1)]
    ms: i32,
}

#[derive(Default)]
struct Shared {
    subscribers: Subscribers,
    /// Handlers that ran, of any function.
    ran: AtomicUsize,
}

struct TestServant(Arc<Shared>);

impl Servant for TestServant {
    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Bytes,
    ) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
        Box::pin(async move {
            self.0.ran.fetch_add(1, Ordering::SeqCst);
            match current.func_name() {
                "echo" => Ok(params),
                "sleep" => {
                    let args = SleepArgs::decode_bytes(&params)
                        .map_err(|error| Error::server_decode(&error))?;
                    tokio::time::sleep(Duration::from_millis(args.ms as u64)).await;
                    Ok(params)
                }
                "register" => {
                    self.0.subscribers.add(current);
                    Ok(Bytes::new())
                }
                other => Err(Error::new(
                    ReturnCode::SERVER_NO_FUNC,
                    format!("no function `{other}`"),
                )),
            }
        })
    }
}

async fn start_with(
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> (Server, SocketAddr, Arc<Shared>) {
    let shared = Arc::new(Shared::default());
    // the server binds the endpoint: its listen backlog is part of what is tested here
    let builder = Server::builder().servant(SERVANT, "127.0.0.1:0", TestServant(shared.clone()));
    let server = configure(builder).start().await.expect("the server starts");
    let addr = server.local_addr(SERVANT).expect("the servant is served");
    (server, addr, shared)
}

fn request(id: i32, func: &str, params: Bytes) -> RequestPacket {
    RequestPacket {
        request_id: id,
        servant_name: SERVANT.into(),
        func_name: func.into(),
        buffer: params,
        timeout: 60_000,
        ..RequestPacket::default()
    }
}

fn sleep_params(ms: i32) -> Bytes {
    SleepArgs { ms }.to_bytes()
}

/// Polls `condition` until it holds, for at most `WAIT`.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads frames off `client` until the server closes the connection (or resets it).
async fn read_until_closed(client: &mut Client) -> Vec<ResponsePacket> {
    client
        .drain_until_closed()
        .await
        .iter()
        .map(|body| ResponsePacket::decode_bytes(body).expect("a response packet"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Fast clients

/// TarsCpp's async proxy: every request written on one connection as fast as the socket takes
/// them, the replies read as they come, here by a reader slower than the server.
async fn pipeline(addr: SocketAddr, calls: i32, payload: Bytes) -> Duration {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read_half, mut write_half) = stream.into_split();
    let started = Instant::now();
    let sent = payload.clone();
    let writer = tokio::spawn(async move {
        let mut chunk = BytesMut::new();
        for id in 1..=calls {
            chunk.extend_from_slice(&encode(&request(id, "echo", sent.clone())));
            if chunk.len() >= 64 * 1024 || id == calls {
                write_half
                    .write_all(&chunk)
                    .await
                    .expect("the server keeps reading");
                chunk.clear();
            }
        }
        write_half
    });
    let mut frames = tokio_util::codec::FramedRead::new(
        &mut read_half,
        tars_rpc::framing::FrameCodec::default(),
    );
    let mut seen = vec![false; calls as usize + 1];
    for received in 0..calls {
        let body = timeout(WAIT, frames.next())
            .await
            .unwrap_or_else(|_| panic!("reply {received} of {calls} did not come"))
            .expect("the server kept the connection open")
            .expect("a whole frame");
        let reply = ResponsePacket::decode_bytes(&body).expect("a response packet");
        assert_eq!(reply.ret, ReturnCode::SUCCESS, "{reply:?}");
        assert_eq!(reply.buffer, payload);
        let id = reply.request_id as usize;
        assert!(!std::mem::replace(&mut seen[id], true), "reply {id} twice");
        // a reader slower than the server: a pause every thousand replies
        if received % 1000 == 999 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let elapsed = started.elapsed();
    let _write_half = timeout(WAIT, writer).await.unwrap().unwrap();
    elapsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelining_client_that_reads_slowly_gets_every_reply() {
    let _serial = serial().await;
    const CALLS: i32 = 200_000;
    // the defaults, then a queue small enough that the server holds reading back all the time
    for budget in [tars_rpc::server::DEFAULT_QUEUE_BUDGET, 16 * 1024] {
        let (server, addr, _) = start_with(|builder| builder.queue_budget(budget)).await;
        let sampling = tokio::spawn({
            let handle = server.handle();
            async move {
                let mut most = 0;
                loop {
                    most = most.max(handle.stats().queued_bytes);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    if handle.stats().connections == 0 {
                        return most;
                    }
                }
            }
        });
        let elapsed = pipeline(addr, CALLS, Bytes::from_static(b"\x06\x05hello")).await;
        eprintln!("queue budget {budget}: {CALLS} pipelined calls in {elapsed:?}");
        timeout(WAIT, server.shutdown()).await.expect("shutdown");
        let most = sampling.await.unwrap();
        assert!(
            most <= budget,
            "{most} bytes queued, over the budget of {budget}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_connection_gets_the_replies_of_every_request_it_sent() {
    let _serial = serial().await;
    let (server, addr, _) = start().await;
    let mut client = Client::connect(addr).await;
    let mut expected = HashSet::new();
    let mut burst = BytesMut::new();
    for id in 1..=20 {
        // some answer at once, some after a while
        let request = match id % 3 {
            0 => request(id, "sleep", sleep_params(100 + id)),
            _ => request(id, "echo", Bytes::from(vec![id as u8; 100])),
        };
        burst.extend_from_slice(&encode(&request));
        expected.insert(id);
    }
    client.send_raw(&burst).await;
    client.writer.shutdown().await.expect("half-close");
    let replies = read_until_closed(&mut client).await;
    let answered: HashSet<i32> = replies.iter().map(|reply| reply.request_id).collect();
    assert_eq!(
        answered, expected,
        "every request answered, then the connection closed"
    );
    assert!(replies.iter().all(|reply| reply.ret == ReturnCode::SUCCESS));
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

async fn start() -> (Server, SocketAddr, Arc<Shared>) {
    start_with(|builder| builder).await
}

// ---------------------------------------------------------------------------------------------
// Slow clients and memory

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_costs_the_server_its_budget_and_is_cut_off() {
    let _serial = serial().await;
    const BUDGET: usize = 4 * 1024 * 1024;
    const STALL: Duration = Duration::from_secs(2);
    const REQUEST: usize = 1024 * 1024;
    let (server, addr, shared) =
        start_with(|builder| builder.queue_budget(BUDGET).stall_timeout(STALL)).await;
    let mut warm = Client::connect(addr).await;
    warm.call_ok(SERVANT, "echo", Bytes::from(vec![1; REQUEST]))
        .await;
    drop(warm);
    eventually("the warm-up connection to go", || {
        server.stats().connections == 0
    })
    .await;

    // one frame of 1 MiB, sent again and again by a client that never reads: its echoes pile up
    let frame = encode(&request(1, "echo", Bytes::from(vec![0x5a; REQUEST]))).freeze();
    let baseline = live_bytes();
    let stream = TcpStream::connect(addr).await.unwrap();
    eventually("the connection to be accepted", || {
        server.stats().connections == 1
    })
    .await;
    let (read_half, mut write_half) = stream.into_split();
    let flood = tokio::spawn(async move {
        let mut sent = 0usize;
        while write_half.write_all(&frame).await.is_ok() {
            sent += 1;
        }
        sent
    });
    let started = Instant::now();
    let mut peak = 0;
    while server.stats().connections > 0 && started.elapsed() < WAIT {
        peak = peak.max(live_bytes() - baseline);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let cut_after = started.elapsed();
    assert_eq!(server.stats().connections, 0, "cut off within {WAIT:?}");
    let sent = timeout(WAIT, flood).await.unwrap().unwrap();
    drop(read_half);
    let ran = shared.ran.load(Ordering::SeqCst);
    eprintln!(
        "1 MiB echoes never read: peak heap +{} KiB, {sent} requests written, {ran} run, cut off after {cut_after:?}",
        peak / 1024
    );
    assert!(cut_after >= STALL, "{cut_after:?}");
    // the queued replies (the budget), the requests being handled (their bytes count against
    // the budget too, until their replies are queued; their input buffers may be up to twice
    // their length), one request more than that, and the replies being encoded, not queued
    // yet and so not counted: one on each of the runtime's two worker threads
    const WORKERS: usize = 2;
    let bound = (3 * BUDGET + 2 * REQUEST + WORKERS * REQUEST) as i64;
    assert!(peak <= bound, "the server held {peak} bytes, over {bound}");
    eventually("the heap to return to its baseline", || {
        live_bytes() - baseline < 256 * 1024
    })
    .await;
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_hold_no_read_buffer() {
    let _serial = serial().await;
    const CLIENTS: usize = 2000;
    let (server, addr, _) = start().await;
    // one connection first, so that what the server allocates once is in the baseline
    let mut first = Client::connect(addr).await;
    first.ping(SERVANT).await;
    let baseline = live_bytes();
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        // the client's own socket allocates nothing on the heap
        clients.push(std::net::TcpStream::connect(addr).unwrap());
    }
    eventually("every connection accepted", || {
        server.stats().connections == CLIENTS + 1
    })
    .await;
    // ... and each one used once, then left idle
    let ping = encode(&request(1, "tars_ping", Bytes::new()));
    for client in &mut clients {
        std::io::Write::write_all(client, &ping).unwrap();
    }
    for client in &mut clients {
        let mut reply = [0u8; 4];
        std::io::Read::read_exact(client, &mut reply).unwrap();
        let len = u32::from_be_bytes(reply) as usize;
        let mut body = vec![0; len - 4];
        std::io::Read::read_exact(client, &mut body).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let per_connection = (live_bytes() - baseline) / CLIENTS as i64;
    eprintln!("server heap per idle connection: {per_connection} bytes");
    // less than the 8 KiB read buffer each one held before: two tasks, the context, the queue
    assert!(
        per_connection < 8 * 1024,
        "{per_connection} bytes per idle connection"
    );
    drop(clients);
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_burst_ten_times_the_budget_reaches_every_reading_client_and_cuts_a_stalled_one() {
    let _serial = serial().await;
    // a burst well beyond what the sockets' buffers take (a few MiB on loopback)
    const BUDGET: usize = 1024 * 1024;
    const PUSH: usize = 16 * 1024;
    const PUSHES: usize = 10 * BUDGET / PUSH;
    const READERS: usize = 3;
    const STALL: Duration = Duration::from_millis(800);
    let (server, addr, shared) =
        start_with(|builder| builder.queue_budget(BUDGET).stall_timeout(STALL)).await;

    let mut stalled = Client::connect_with_small_buffer(addr, 4096).await;
    stalled.call_ok(SERVANT, "register", Bytes::new()).await;
    let stalled_id = shared.subscribers.currents()[0].connection_id();
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let mut client = Client::connect_with_small_buffer(addr, 16 * 1024).await;
        client.call_ok(SERVANT, "register", Bytes::new()).await;
        readers.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            while seqs.len() < PUSHES {
                let push = client.recv().await;
                seqs.push(push.context["seq"].parse::<i64>().unwrap());
                // slower than the server can push
                if seqs.len() % 16 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            seqs
        }));
    }
    assert_eq!(shared.subscribers.len(), READERS + 1);

    let started = Instant::now();
    let mut most_queued = 0;
    let mut stalled_cut = None;
    for seq in 0..PUSHES {
        let context = Context::from([("seq".to_string(), seq.to_string())]);
        let frame = PushFrame::from_buffer("chunk", Bytes::from(vec![7; PUSH]), &context);
        let report = shared.subscribers.broadcast_timeout(&frame, WAIT).await;
        most_queued = most_queued.max(server.stats().queued_bytes);
        for missed in &report.failed {
            assert_eq!(
                missed.current.connection_id(),
                stalled_id,
                "push {seq}: {missed:?}"
            );
            assert!(matches!(missed.error, PushError::Closed(_)), "{missed:?}");
            stalled_cut.get_or_insert(started.elapsed());
        }
        assert!(report.delivered >= READERS, "push {seq}: {report:?}");
    }
    let elapsed = started.elapsed();
    let stalled_cut = stalled_cut.expect("the stalled client was cut off");
    eprintln!("{PUSHES} pushes of {PUSH} B to {READERS} slow readers in {elapsed:?}; the stalled client cut after {stalled_cut:?}; at most {most_queued} bytes queued");
    // cut by its stall timeout (a push waiting for it would otherwise have timed out after
    // WAIT, not failed with `Closed`)
    assert!(stalled_cut >= STALL, "{stalled_cut:?}");
    assert!(!shared.subscribers.contains(stalled_id));
    // every connection's queue within its budget, the pushes' frames shared
    assert!(most_queued <= (READERS + 1) * BUDGET, "{most_queued}");
    for reader in readers {
        let seqs = timeout(WAIT, reader).await.unwrap().unwrap();
        assert_eq!(
            seqs,
            (0..PUSHES as i64).collect::<Vec<_>>(),
            "every push, in order"
        );
    }
    stalled.drain_until_closed().await;
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// ---------------------------------------------------------------------------------------------
// Overload shedding

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_waited_past_their_timeout_are_answered_with_queue_timeout_unrun() {
    let _serial = serial().await;
    let (server, addr, shared) = start_with(|builder| {
        builder
            .max_in_flight(1)
            .queue_timeout(Duration::from_millis(150))
    })
    .await;
    let mut client = Client::connect(addr).await;
    // one write: the server reads all four at once, but runs one at a time
    let mut own_timeout = request(2, "echo", Bytes::from_static(b"own"));
    own_timeout.timeout = 100;
    let mut no_timeout = request(3, "echo", Bytes::from_static(b"queue"));
    no_timeout.timeout = 0;
    let mut burst = BytesMut::new();
    burst.extend_from_slice(&encode(&request(1, "sleep", sleep_params(400))));
    burst.extend_from_slice(&encode(&own_timeout));
    burst.extend_from_slice(&encode(&no_timeout));
    client.send_raw(&burst).await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        let reply = client.recv().await;
        codes.push((reply.request_id, reply.ret));
    }
    codes.sort_by_key(|&(id, _)| id);
    assert_eq!(
        codes,
        [
            (1, ReturnCode::SUCCESS),
            (2, ReturnCode::SERVER_QUEUE_TIMEOUT),
            (3, ReturnCode::SERVER_QUEUE_TIMEOUT)
        ]
    );
    assert_eq!(
        shared.ran.load(Ordering::SeqCst),
        1,
        "only the first one ran"
    );
    // a request that did not wait runs as usual
    let reply = client
        .call(SERVANT, "echo", Bytes::from_static(b"on time"))
        .await;
    assert_eq!(
        (reply.ret, &reply.buffer[..]),
        (ReturnCode::SUCCESS, &b"on time"[..])
    );
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// ---------------------------------------------------------------------------------------------
// Listeners

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_accepted_and_closed_at_once() {
    let _serial = serial().await;
    let (server, addr, _) = start_with(|builder| builder.max_connections(3)).await;
    let mut served = Vec::new();
    for _ in 0..3 {
        let mut client = Client::connect(addr).await;
        client.ping(SERVANT).await;
        served.push(client);
    }
    let mut refused = Client::connect(addr).await;
    refused.expect_closed().await;
    assert_eq!(server.stats().refused_connections, 1);
    assert_eq!(server.stats().connections, 3);
    for client in &mut served {
        client.ping(SERVANT).await;
    }
    // room again once one leaves
    drop(served.pop());
    eventually("the connection to go", || server.stats().connections == 2).await;
    let mut again = Client::connect(addr).await;
    again.ping(SERVANT).await;
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

/// Set in the child process of the burst test: the address to connect to.
const BURST_ADDR: &str = "OVERLOAD_BURST_ADDR";
const BURST_CONNECTIONS: usize = 10_000;

/// The connection burst is made from a child process (this test binary, running this test),
/// so that neither process needs more than ten thousand descriptors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_ten_thousand_connections_is_accepted_in_full() {
    if let Ok(addr) = std::env::var(BURST_ADDR) {
        return connect_burst(addr.parse().expect("an address")).await;
    }
    let _serial = serial().await;
    raise_descriptor_limit(BURST_CONNECTIONS + 1000);
    let (server, addr, _) = start().await;
    let started = Instant::now();
    let child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_burst_of_ten_thousand_connections_is_accepted_in_full",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(BURST_ADDR, addr.to_string())
        .kill_on_drop(true)
        .output();
    let mut most = 0;
    tokio::pin!(child);
    let output = loop {
        tokio::select! {
            output = &mut child => break output.expect("the child runs"),
            () = tokio::time::sleep(Duration::from_millis(10)) => {
                most = most.max(server.stats().connections);
                assert!(started.elapsed() < Duration::from_secs(120), "the burst took too long");
            }
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the child failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!(
            "burst: {BURST_CONNECTIONS} of {BURST_CONNECTIONS} answered"
        )),
        "{stdout}\n{stderr}"
    );
    eprintln!(
        "{} (server saw at most {most} at once)",
        stdout
            .lines()
            .find(|line| line.starts_with("burst:"))
            .unwrap_or("")
    );
    assert_eq!(server.stats().refused_connections, 0);
    eventually("every connection to end", || {
        server.stats().connections == 0
    })
    .await;
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

/// The child's part: opens every connection at once, then pings the server on each, and
/// prints how many were answered.
async fn connect_burst(addr: SocketAddr) {
    raise_descriptor_limit(BURST_CONNECTIONS + 100);
    let started = Instant::now();
    let connects: Vec<_> = (0..BURST_CONNECTIONS)
        .map(|_| tokio::spawn(TcpStream::connect(addr)))
        .collect();
    let mut streams = Vec::with_capacity(BURST_CONNECTIONS);
    for connect in connects {
        streams.push(connect.await.unwrap().expect("connect"));
    }
    let connected = started.elapsed();
    let ping = encode(&request(7, "tars_ping", Bytes::new())).freeze();
    let pings: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let ping = ping.clone();
            tokio::spawn(async move {
                stream.write_all(&ping).await?;
                let len = stream.read_u32().await? as usize;
                let mut body = vec![0; len.saturating_sub(4)];
                stream.read_exact(&mut body).await?;
                let reply = ResponsePacket::decode_bytes(&Bytes::from(body))
                    .map_err(|error| std::io::Error::other(error.to_string()))?;
                Ok::<_, std::io::Error>((reply.request_id == 7, stream))
            })
        })
        .collect();
    let mut answered = 0;
    let mut kept = Vec::with_capacity(BURST_CONNECTIONS);
    for ping in pings {
        match timeout(Duration::from_secs(90), ping).await {
            Ok(Ok(Ok((true, stream)))) => {
                answered += 1;
                kept.push(stream);
            }
            other => eprintln!("a connection failed: {other:?}"),
        }
    }
    println!(
        "burst: {answered} of {BURST_CONNECTIONS} answered; connected in {connected:?}, all answered after {:?}",
        started.elapsed()
    );
}

/// Raises this process's soft limit on open files to `wanted` (or its hard limit), with
/// util-linux's `prlimit`; fails the test if the limit stays too low.
fn raise_descriptor_limit(wanted: usize) {
    let soft = || -> usize {
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        limits
            .lines()
            .find(|line| line.starts_with("Max open files"))
            .and_then(|line| line.split_whitespace().nth(3))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    if soft() >= wanted {
        return;
    }
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={wanted}:")])
        .status();
    if soft() < wanted {
        let _ = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={wanted}:{wanted}")])
            .status();
    }
    assert!(
        soft() >= wanted,
        "this test needs {wanted} open files; the limit is {} (raise it with `ulimit -n`)",
        soft()
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile input

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_that_trickles_in_is_cut_at_the_frame_timeout() {
    let _serial = serial().await;
    const FRAME_TIMEOUT: Duration = Duration::from_millis(300);
    let (server, addr, _) = start_with(|builder| builder.frame_timeout(FRAME_TIMEOUT)).await;
    let mut slow = Client::connect(addr).await;
    let frame = encode(&request(1, "echo", Bytes::from(vec![1; 1000])));
    let started = Instant::now();
    // a byte every 50 ms keeps the connection busy but never finishes the frame in time
    for byte in frame.iter().take(20) {
        if slow.writer.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    slow.expect_closed().await;
    let elapsed = started.elapsed();
    assert!(elapsed >= FRAME_TIMEOUT, "{elapsed:?}");
    // a frame sent at a normal pace is not affected
    let mut normal = Client::connect(addr).await;
    normal
        .call_ok(SERVANT, "echo", Bytes::from(vec![2; 100_000]))
        .await;
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn host_port_listeners_close_idle_connections_after_sixty_seconds_by_default() {
    let _serial = serial().await;
    let (server, addr, _) = start().await;
    let mut idle = Client::connect(addr).await;
    idle.ping(SERVANT).await;
    let started = tokio::time::Instant::now();
    // time runs only in the test's clock: the server's 60 s pass at once
    match timeout(Duration::from_secs(120), idle.frames.next()).await {
        Ok(None) => {}
        Ok(Some(Err(error))) => common::tars_client::assert_reset(&error),
        Ok(Some(Ok(frame))) => panic!("unexpected frame {frame:?}"),
        Err(_) => panic!("the idle connection was not closed"),
    }
    let idle_for = started.elapsed();
    assert!(
        idle_for >= Duration::from_secs(60) && idle_for < Duration::from_secs(62),
        "{idle_for:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_of_every_kind_costs_only_its_own_connection() {
    let _serial = serial().await;
    let (server, addr, _) = start_with(|builder| builder.max_frame_len(64 * 1024)).await;
    let mut bystander = Client::connect(addr).await;
    bystander.ping(SERVANT).await;

    // a length field lying upwards, past the maximum frame: closed at once
    let mut liar = Client::connect(addr).await;
    liar.send_raw(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3]).await;
    liar.expect_closed().await;
    // a length shorter than its own field
    let mut short = Client::connect(addr).await;
    short.send_raw(&[0, 0, 0, 2]).await;
    short.expect_closed().await;
    // garbage that frames well but is no request packet
    let mut garbage = Client::connect(addr).await;
    garbage
        .send_raw(&[0, 0, 0, 12, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef])
        .await;
    garbage.expect_closed().await;
    // nesting far deeper than the codec allows, in the request packet itself
    let mut deep = BytesMut::new();
    deep.extend_from_slice(&[0; 4]);
    for _ in 0..10_000 {
        deep.extend_from_slice(&[0x0a]); // struct begin, tag 0
    }
    let len = deep.len() as u32;
    deep[..4].copy_from_slice(&len.to_be_bytes());
    let mut nested = Client::connect(addr).await;
    nested.send_raw(&deep).await;
    nested.expect_closed().await;
    // a frame whose length says more than is ever sent: the rest never comes, the frame
    // timeout cuts it (tested on its own above); here the peer gives up first
    let mut partial = Client::connect(addr).await;
    partial.send_raw(&[0, 0, 0x10, 0, 1, 2, 3]).await;
    drop(partial);

    // churn: connections opened and dropped at once, with and without a request
    for round in 0..500 {
        let mut client = Client::connect(addr).await;
        if round % 2 == 0 {
            client.send(&request(1, "sleep", sleep_params(50))).await;
        }
    }
    // none of it touched the bystander, and nothing is left behind
    for _ in 0..3 {
        bystander.ping(SERVANT).await;
    }
    eventually("only the bystander left", || {
        server.stats().connections == 1
    })
    .await;
    assert_eq!(server.stats().queued_bytes, 0);
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}
