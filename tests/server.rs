//! Integration tests of the TARS server, driven by raw TCP clients that write request frames
//! and read response frames, so that what is checked is what goes on the wire.
//!
//! Every server serves a listener the test bound at 127.0.0.1 port 0 (a few bind endpoints, so
//! that path is covered too), and every wait is bounded, so a broken server fails a test
//! instead of hanging it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use bytes::{Bytes, BytesMut};
use common::hex;
use common::tars_client::TarsClient as Client;
use futures::future::BoxFuture;
use tars_rpc::framing::FrameCodec;
use tars_rpc::packet::{Context, PacketType, RequestPacket, ResponsePacket, ReturnCode, Version};
use tars_rpc::server::{
    AccessOrder, Current, Listen, PushError, PushFrame, Servant, Server, ServerBuilder, ServerError,
};
use tars_rpc::{Error, TarsStruct};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::timeout;
use tokio_util::codec::Encoder;

const SERVANT: &str = "Test.EchoServer.EchoObj";
/// The bound on every wait: far above what a working server needs.
const WAIT: Duration = Duration::from_secs(5);

/// The parameters of `sleep`: milliseconds at tag 1.
#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct SleepArgs {
    #[tars(tag = 1)]
    ms: i32,
}

/// What the servant lets the tests observe.
#[derive(Default)]
struct Shared {
    /// The `Current`s of the `remember` calls.
    remembered: Mutex<Vec<Current>>,
    /// How many `sleep` calls have started.
    sleeps_started: AtomicUsize,
    /// Told when a `hold` call starts, and when it ends (however it ends).
    hold_started: Notify,
    hold_ended: Notify,
    /// Opens every `gate` call waiting.
    gate: Notify,
}

/// Tells `hold_ended` when dropped, with the handler that holds it.
struct HoldGuard(Arc<Shared>);

impl Drop for HoldGuard {
    fn drop(&mut self) {
        self.0.hold_ended.notify_one();
    }
}

impl Shared {
    fn remembered(&self) -> Vec<Current> {
        self.remembered.lock().unwrap().clone()
    }
}

/// A servant written by hand, without the macros.
struct TestServant {
    shared: Arc<Shared>,
}

impl Servant for TestServant {
    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Bytes,
    ) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
        Box::pin(async move {
            match current.func_name() {
                "echo" => Ok(params),
                "sleep" => {
                    let args = SleepArgs::decode_bytes(&params)
                        .map_err(|error| Error::server_decode(&error))?;
                    self.shared.sleeps_started.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(args.ms as u64)).await;
                    Ok(params)
                }
                "hold" => {
                    let _guard = HoldGuard(self.shared.clone());
                    self.shared.hold_started.notify_one();
                    std::future::pending().await
                }
                "gate" => {
                    let open = self.shared.gate.notified();
                    self.shared.hold_started.notify_one();
                    open.await;
                    Ok(params)
                }
                "double" => Ok([&params[..], &params[..]].concat().into()),
                "fail" => Err(Error::new(ReturnCode(1234), "nope")),
                "panic" => panic!("the handler exploded"),
                "remember" => {
                    let mut context = current.context().clone();
                    context.insert("seen".into(), "yes".into());
                    current.set_response_context(context);
                    self.shared.remembered.lock().unwrap().push(current.clone());
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

fn servant() -> (TestServant, Arc<Shared>) {
    let shared = Arc::new(Shared::default());
    (
        TestServant {
            shared: shared.clone(),
        },
        shared,
    )
}

/// A server with the test servant on a listener at 127.0.0.1, port 0, built by `configure`.
async fn start_with(
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> (Server, SocketAddr, Arc<Shared>) {
    let (servant, shared) = servant();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().unwrap();
    let server = configure(Server::builder().servant(SERVANT, listener, servant))
        .start()
        .await
        .expect("the server starts");
    assert_eq!(server.local_addr(SERVANT), Some(addr));
    (server, addr, shared)
}

async fn start() -> (Server, SocketAddr, Arc<Shared>) {
    start_with(|builder| builder).await
}

fn sleep_params(ms: i32) -> Bytes {
    SleepArgs { ms }.to_bytes()
}

/// Polls `condition` until it holds, for at most `WAIT`.
async fn eventually(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "condition not reached in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// 1
#[tokio::test]
async fn tars_ping_reply_is_byte_identical_to_tarscpp() {
    let (server, addr, _) = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let ping = RequestPacket {
        request_id: 1,
        servant_name: SERVANT.into(),
        func_name: "tars_ping".into(),
        timeout: 3000,
        ..RequestPacket::default()
    };
    let mut frame = BytesMut::new();
    FrameCodec::default().encode(&ping, &mut frame).unwrap();
    stream.write_all(&frame).await.unwrap();
    let mut reply = [0; 16];
    timeout(WAIT, stream.read_exact(&mut reply))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hex(&reply), "0000001010012c30014c5c6d000c780c");
    server.shutdown().await;
}

// 2
#[tokio::test]
async fn framework_and_handler_errors_are_reported_with_their_codes() {
    let (server, addr, _) = start().await;
    let mut client = Client::connect(addr).await;

    let reply = client
        .call("Test.EchoServer.NoSuchObj", "echo", Bytes::new())
        .await;
    assert_eq!(reply.ret, ReturnCode::SERVER_NO_SERVANT);
    assert!(
        reply.result_desc.contains("Test.EchoServer.NoSuchObj"),
        "{}",
        reply.result_desc
    );

    let reply = client.call(SERVANT, "noSuchFunction", Bytes::new()).await;
    assert_eq!(reply.ret, ReturnCode::SERVER_NO_FUNC);
    assert!(
        reply.result_desc.contains("noSuchFunction"),
        "{}",
        reply.result_desc
    );

    let reply = client.call(SERVANT, "fail", Bytes::new()).await;
    assert_eq!(
        (reply.ret, reply.result_desc.as_str()),
        (ReturnCode(1234), "nope")
    );
    assert!(reply.buffer.is_empty());

    // TUP and JSON reach the servant (tests/tup.rs); XML does not
    let mut xml = client.request(SERVANT, "echo", Bytes::from_static(b"\x0c"));
    xml.version = Version::XML;
    client.send(&xml).await;
    let reply = client.recv().await;
    assert_eq!(reply.request_id, xml.request_id);
    assert_eq!(reply.version, Version::XML);
    assert_eq!(reply.ret, ReturnCode::SERVER_DECODE_ERR);
    assert_eq!(reply.result_desc, "unsupported protocol version 4");

    // parameters that do not decode are the servant's to report
    let reply = client
        .call(SERVANT, "sleep", Bytes::from_static(b"\xff"))
        .await;
    assert_eq!(reply.ret, ReturnCode::SERVER_DECODE_ERR);

    // the connection survived all of it
    let reply = client
        .call(SERVANT, "echo", Bytes::from_static(b"\x0c"))
        .await;
    assert_eq!(
        (reply.ret, &reply.buffer[..]),
        (ReturnCode::SUCCESS, &b"\x0c"[..])
    );
    server.shutdown().await;
}

// 3
#[tokio::test]
async fn a_panicking_handler_gets_an_unknown_error_reply_and_the_connection_stays_up() {
    let (server, addr, _) = start().await;
    let mut client = Client::connect(addr).await;
    let reply = client.call(SERVANT, "panic", Bytes::new()).await;
    assert_eq!(reply.ret, ReturnCode::SERVER_UNKNOWN_ERR);
    assert!(
        reply.result_desc.contains("the handler exploded"),
        "{}",
        reply.result_desc
    );
    let reply = client
        .call(SERVANT, "echo", Bytes::from_static(b"\x0c"))
        .await;
    assert_eq!(reply.ret, ReturnCode::SUCCESS);
    server.shutdown().await;
}

// 4
#[tokio::test]
async fn requests_on_one_connection_run_concurrently_and_reply_out_of_order() {
    let (server, addr, _) = start().await;
    let mut client = Client::connect(addr).await;

    let slow = client.request(SERVANT, "sleep", sleep_params(300));
    let fast = client.request(SERVANT, "echo", Bytes::new());
    client.send(&slow).await;
    client.send(&fast).await;
    assert_eq!(client.recv().await.request_id, fast.request_id);
    assert_eq!(client.recv().await.request_id, slow.request_id);

    let started = Instant::now();
    let mut pending = std::collections::HashSet::new();
    for _ in 0..50 {
        let request = client.request(SERVANT, "sleep", sleep_params(200));
        pending.insert(request.request_id);
        client.send(&request).await;
    }
    while !pending.is_empty() {
        let reply = client.recv().await;
        assert_eq!(reply.ret, ReturnCode::SUCCESS);
        assert!(
            pending.remove(&reply.request_id),
            "unexpected reply {}",
            reply.request_id
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_reader_pauses_at_the_in_flight_limit() {
    let (server, addr, _) = start_with(|builder| builder.max_in_flight(2)).await;
    let mut client = Client::connect(addr).await;
    let started = Instant::now();
    for request in [
        client.request(SERVANT, "sleep", sleep_params(300)),
        client.request(SERVANT, "sleep", sleep_params(300)),
        client.request(SERVANT, "echo", Bytes::new()),
    ] {
        client.send(&request).await;
    }
    let mut echo_at = None;
    for _ in 0..3 {
        let reply = client.recv().await;
        if reply.request_id == 3 {
            echo_at = Some(started.elapsed());
        }
    }
    // the echo was read only once a sleep had finished
    let echo_at = echo_at.expect("the echo was answered");
    assert!(
        echo_at >= Duration::from_millis(250),
        "echo answered after {echo_at:?}"
    );
    server.shutdown().await;
}

// 5
#[tokio::test]
async fn one_way_requests_run_without_a_reply() {
    let (server, addr, shared) = start().await;
    let mut client = Client::connect(addr).await;
    let mut oneway = client.request(SERVANT, "remember", Bytes::new());
    oneway.packet_type = PacketType::ONEWAY;
    client.send(&oneway).await;
    client.ping(SERVANT).await; // the first frame is the ping's reply
    eventually(|| shared.remembered().len() == 1).await;
    assert!(shared.remembered()[0].is_oneway());
    // the handler has returned; still no reply for it
    tokio::time::sleep(Duration::from_millis(50)).await;
    client.ping(SERVANT).await;
    server.shutdown().await;
}

// 6
#[tokio::test]
async fn servants_are_reachable_only_at_their_own_listener() {
    // a listener for two servants, the second naming it by its endpoint; the third gets port 0
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shared_port = listener.local_addr().unwrap().port();
    let (a, _) = servant();
    let (b, _) = servant();
    let (c, _) = servant();
    let server = Server::builder()
        .servant("Test.S.A", listener, a)
        .servant(
            "Test.S.B",
            format!("tcp -h 127.0.0.1 -p {shared_port} -t 60000"),
            b,
        )
        .servant("Test.S.C", "tcp -h 127.0.0.1 -p 0", c)
        .start()
        .await
        .unwrap();
    let first = server.local_addr("Test.S.A").unwrap();
    let second = server.local_addr("Test.S.C").unwrap();
    assert_eq!(first.port(), shared_port);
    assert_eq!(server.local_addr("Test.S.B"), Some(first));
    assert_ne!(second, first);
    assert_ne!(second.port(), 0);
    assert_eq!(server.local_addrs(), vec![first, second]);
    assert_eq!(server.local_addr("Test.S.Nope"), None);

    for (addr, reachable, unreachable) in [
        (first, &["Test.S.A", "Test.S.B"][..], &["Test.S.C"][..]),
        (second, &["Test.S.C"][..], &["Test.S.A", "Test.S.B"][..]),
    ] {
        let mut client = Client::connect(addr).await;
        for name in reachable {
            assert_eq!(
                client.call(name, "echo", Bytes::new()).await.ret,
                ReturnCode::SUCCESS
            );
            assert_eq!(
                client.call(name, "tars_ping", Bytes::new()).await.ret,
                ReturnCode::SUCCESS
            );
        }
        for name in unreachable {
            let reply = client.call(name, "echo", Bytes::new()).await;
            assert_eq!(reply.ret, ReturnCode::SERVER_NO_SERVANT, "{name} at {addr}");
            assert_eq!(
                client.call(name, "tars_ping", Bytes::new()).await.ret,
                ReturnCode::SERVER_NO_SERVANT
            );
        }
    }
    server.shutdown().await;
}

// 7
#[tokio::test]
async fn malformed_input_closes_only_that_connection() {
    let (server, addr, _) = start_with(|builder| builder.max_frame_len(1024)).await;
    let mut good = Client::connect(addr).await;
    let mut garbage = vec![0, 0, 0, 14];
    garbage.extend_from_slice(&[0xff; 10]);
    let cases: [(&str, &[u8]); 3] = [
        ("a body that is not a request packet", &garbage),
        ("length field 2", &[0, 0, 0, 2]),
        ("length field of 1 MiB", &[0, 0x10, 0, 0]),
    ];
    for (case, bytes) in cases {
        let mut bad = Client::connect(addr).await;
        bad.ping(SERVANT).await;
        bad.send_raw(bytes).await;
        bad.expect_closed().await;
        let reply = good
            .call(SERVANT, "echo", Bytes::from_static(b"\x0c"))
            .await;
        assert_eq!(reply.ret, ReturnCode::SUCCESS, "after {case}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_reply_too_long_for_a_frame_becomes_an_encode_error() {
    let (server, addr, _) = start_with(|builder| builder.max_frame_len(1024)).await;
    let mut client = Client::connect(addr).await;
    let reply = client
        .call(SERVANT, "double", Bytes::from(vec![1; 600]))
        .await;
    assert_eq!(reply.ret, ReturnCode::SERVER_ENCODE_ERR);
    assert!(reply.buffer.is_empty());
    let reply = client
        .call(SERVANT, "double", Bytes::from(vec![1; 300]))
        .await;
    assert_eq!((reply.ret, reply.buffer.len()), (ReturnCode::SUCCESS, 600));
    server.shutdown().await;
}

// 8
#[tokio::test]
async fn idle_connections_are_closed_after_the_endpoint_timeout() {
    let (servant, _) = servant();
    let server = Server::builder()
        .servant(SERVANT, "tcp -h 127.0.0.1 -p 0 -t 300", servant)
        .start()
        .await
        .unwrap();
    let addr = server.local_addr(SERVANT).unwrap();
    let started = Instant::now();
    let mut idle = Client::connect(addr).await;
    let mut busy = Client::connect(addr).await;

    let pinging = async {
        while started.elapsed() < Duration::from_millis(1200) {
            busy.ping(SERVANT).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        busy
    };
    let closing = async {
        idle.expect_closed().await;
        started.elapsed()
    };
    let (mut busy, closed_after) = tokio::join!(pinging, closing);
    assert!(
        closed_after >= Duration::from_millis(250),
        "closed after {closed_after:?}"
    );
    assert!(
        closed_after < Duration::from_secs(2),
        "closed after {closed_after:?}"
    );
    busy.ping(SERVANT).await; // still up past 1 s
    server.shutdown().await;
}

#[tokio::test]
async fn the_builder_idle_timeout_overrides_the_endpoint() {
    let (server, addr, _) =
        start_with(|builder| builder.idle_timeout(Duration::from_millis(200))).await;
    let started = Instant::now();
    let mut client = Client::connect(addr).await;
    // a request running is not idleness
    let reply = client.call(SERVANT, "sleep", sleep_params(400)).await;
    assert_eq!(reply.ret, ReturnCode::SUCCESS);
    client.expect_closed().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    server.shutdown().await;
}

// 9
#[tokio::test]
async fn current_describes_the_request_and_its_connection() {
    let (server, addr, shared) = start().await;
    let mut first = Client::connect(addr).await;
    let mut second = Client::connect(addr).await;

    let context: Context = BTreeMap::from([("trace".to_string(), "abc".to_string())]);
    let status: Context = BTreeMap::from([("STATUS_GRID_KEY".to_string(), "1".to_string())]);
    let mut request = first.request(SERVANT, "remember", Bytes::new());
    request.context = context.clone();
    request.status = status.clone();
    first.send(&request).await;
    let reply = first.recv().await;
    assert_eq!(reply.ret, ReturnCode::SUCCESS);
    let mut expected_context = context.clone();
    expected_context.insert("seen".into(), "yes".into());
    assert_eq!(reply.context, expected_context);

    first.call(SERVANT, "remember", Bytes::new()).await;
    second.call(SERVANT, "remember", Bytes::new()).await;

    let remembered = shared.remembered();
    let [one, two, three] = &remembered[..] else {
        panic!("{} currents remembered", remembered.len());
    };
    assert_eq!(one.connection_id(), two.connection_id());
    assert_ne!(one.connection_id(), three.connection_id());
    assert_eq!(one.peer_addr(), first.local_addr);
    assert_eq!(three.peer_addr(), second.local_addr);
    assert_eq!(one.local_addr(), addr);
    assert_eq!(one.request_id(), request.request_id);
    assert_eq!(one.servant_name(), SERVANT);
    assert_eq!(one.func_name(), "remember");
    assert_eq!(one.context(), &context);
    assert_eq!(one.status(), &status);
    assert_eq!(one.timeout(), Some(Duration::from_millis(3000)));
    assert_eq!(one.version(), Version::TARS);
    assert!(!one.is_oneway());

    // a saved Current learns when its connection closes
    assert!(!one.is_closed());
    drop(first);
    timeout(WAIT, one.closed())
        .await
        .expect("closed() resolves after the client left");
    assert!(one.is_closed() && two.is_closed());
    assert!(!three.is_closed());

    // and can still push on a live connection, then close it
    let push = PushFrame::from_buffer("notify", Bytes::from_static(b"\x0c"), &Context::new());
    three.push(push).await.unwrap();
    three.close_connection();
    let received = second.recv().await;
    assert!(received.is_push());
    assert_eq!(received.push_function(), Some("notify"));
    second.expect_closed().await;
    assert!(three.is_closed());
    server.shutdown().await;
}

// 10
#[tokio::test]
async fn graceful_shutdown_finishes_running_requests() {
    let (server, addr, shared) = start().await;
    let handle = server.handle();
    let mut client = Client::connect(addr).await;
    let request = client.request(SERVANT, "sleep", sleep_params(500));
    client.send(&request).await;
    eventually(|| shared.sleeps_started.load(Ordering::SeqCst) == 1).await;

    let started = Instant::now();
    let shutdown = tokio::spawn(server.shutdown());
    // the close packet is queued at once, ahead of the running request's reply
    client.expect_reconnect().await;
    let reply = client.recv().await;
    assert_eq!(
        (reply.request_id, reply.ret),
        (request.request_id, ReturnCode::SUCCESS)
    );
    client.expect_closed().await;
    timeout(WAIT, shutdown)
        .await
        .expect("shutdown returns")
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    assert!(
        TcpStream::connect(addr).await.is_err(),
        "new connections are refused"
    );
    handle.shutdown(); // a second shutdown does nothing
}

#[tokio::test]
async fn a_handle_shuts_the_server_down_and_wait_resolves() {
    let (server, addr, _) = start().await;
    let mut client = Client::connect(addr).await;
    client.ping(SERVANT).await;
    let handle = server.handle();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        handle.shutdown();
    });
    timeout(WAIT, server.wait()).await.expect("wait resolves");
    client.expect_reconnect().await;
    client.expect_closed().await;
    timeout(WAIT, server.wait())
        .await
        .expect("wait resolves again");
    server.handle().shutdown();
    timeout(WAIT, server.shutdown())
        .await
        .expect("a second shutdown returns at once");
}

#[tokio::test]
async fn shutdown_cuts_requests_short_after_its_timeout() {
    let (server, addr, shared) =
        start_with(|builder| builder.shutdown_timeout(Duration::from_millis(300))).await;
    let mut client = Client::connect(addr).await;
    let request = client.request(SERVANT, "sleep", sleep_params(30_000));
    client.send(&request).await;
    eventually(|| shared.sleeps_started.load(Ordering::SeqCst) == 1).await;
    let started = Instant::now();
    timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown returns after its timeout");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    client.expect_reconnect().await;
    client.expect_closed().await; // without a reply
}

// 11
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_slowed_then_cut_off_without_hurting_others() {
    const BUDGET: usize = 1024 * 1024;
    const STALL: Duration = Duration::from_millis(500);
    let (server, addr, shared) =
        start_with(|builder| builder.queue_budget(BUDGET).stall_timeout(STALL)).await;
    let mut other = Client::connect(addr).await;
    let mut stuck = Client::connect_with_small_buffer(addr, 4096).await;
    stuck.call(SERVANT, "remember", Bytes::new()).await;
    let stuck_current = shared.remembered()[0].clone();

    // requests of 256 KiB whose echoes the client never reads: the server stops reading them
    // once its queue is full, which stops the client's writes, until the stall timeout
    let big = Bytes::from(vec![0x5a; 256 * 1024]);
    let requests: Vec<RequestPacket> = (0..1000)
        .map(|_| stuck.request(SERVANT, "echo", big.clone()))
        .collect();
    let Client {
        frames, mut writer, ..
    } = stuck;
    let (written_sender, written) = tokio::sync::watch::channel(0usize);
    let flood = tokio::spawn(async move {
        for (sent, request) in requests.iter().enumerate() {
            let mut frame = BytesMut::new();
            FrameCodec::default().encode(request, &mut frame).unwrap();
            if writer.write_all(&frame).await.is_err() {
                break;
            }
            written_sender.send_replace(sent + 1);
        }
        writer
    });
    let started = Instant::now();
    let mut most_queued = 0;
    while !stuck_current.is_closed() && started.elapsed() < WAIT {
        most_queued = most_queued.max(server.stats().queued_bytes);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(stuck_current.is_closed(), "the server cut the client off");
    let cut_after = started.elapsed();
    assert!(cut_after >= STALL, "{cut_after:?}");
    // what the server held for it: its budget, and one reply over it
    assert!(
        most_queued <= BUDGET + 300 * 1024,
        "{most_queued} bytes queued"
    );
    assert!(
        *written.borrow() < 1000,
        "the client's writes were held back"
    );
    for _ in 0..3 {
        let reply = other
            .call(SERVANT, "echo", Bytes::from_static(b"\x0c"))
            .await;
        assert_eq!(reply.ret, ReturnCode::SUCCESS);
    }

    // reading now shows whatever got through, then the end of the connection
    let writer = match timeout(WAIT, flood).await {
        Ok(Ok(writer)) => writer,
        _ => panic!("the flooding task is stuck"),
    };
    let mut stuck = Client::from_parts(frames, writer, stuck_current.peer_addr());
    stuck.drain_until_closed().await;
    eventually(|| server.stats().queued_bytes == 0).await;
    timeout(WAIT, server.shutdown())
        .await
        .expect("the server shuts down");
}

#[tokio::test]
async fn no_task_outlives_its_connection_or_the_server() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let (server, addr, _) = start().await;
    let serving = metrics.num_alive_tasks(); // the accept loop and the shutdown task
    assert_eq!(serving, baseline + 2);

    // connections that end in every way leave nothing behind
    let mut left = Client::connect(addr).await;
    left.call(SERVANT, "sleep", sleep_params(10)).await;
    let request = left.request(SERVANT, "sleep", sleep_params(100));
    left.send(&request).await;
    drop(left); // with a request running
    let mut bad = Client::connect(addr).await;
    bad.send_raw(&[0, 0, 0, 1]).await;
    bad.expect_closed().await;
    eventually(|| metrics.num_alive_tasks() == serving).await;

    // nor does a shutdown with a connection open and a request running
    let mut open = Client::connect(addr).await;
    let request = open.request(SERVANT, "sleep", sleep_params(100));
    open.send(&request).await;
    open.ping(SERVANT).await;
    server.shutdown().await;
    open.expect_reconnect().await;
    assert_eq!(open.recv().await.request_id, request.request_id);
    open.expect_closed().await;
    eventually(|| metrics.num_alive_tasks() == baseline).await;
}

#[tokio::test]
async fn start_reports_bad_configurations() {
    let (s1, _) = servant();
    let error = Server::builder()
        .servant(SERVANT, "tcp -h 127.0.0.1", s1)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(error, ServerError::Endpoint(_)), "{error}");

    let (s1, _) = servant();
    let (s2, _) = servant();
    let error = Server::builder()
        .servant(SERVANT, "127.0.0.1:0", s1)
        .servant(SERVANT, "127.0.0.1:0", s2)
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ServerError::DuplicateServant(name) if name == SERVANT),
        "{error}"
    );

    assert!(matches!(
        Server::builder().start().await.unwrap_err(),
        ServerError::NoServants
    ));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (s1, _) = servant();
    let error = Server::builder()
        .servant(SERVANT, format!("127.0.0.1:{port}"), s1)
        .start()
        .await
        .unwrap_err();
    let ServerError::Bind { address, .. } = &error else {
        panic!("unexpected {error}");
    };
    assert_eq!(address, &format!("127.0.0.1:{port}"));
}

#[tokio::test]
async fn dropping_the_server_stops_its_listener_its_connections_and_their_handlers() {
    let (server, addr, shared) = start().await;
    let mut client = Client::connect(addr).await;
    client.ping(SERVANT).await;
    let request = client.request(SERVANT, "hold", Bytes::new());
    client.send(&request).await;
    timeout(WAIT, shared.hold_started.notified())
        .await
        .expect("the handler runs");

    drop(server);
    // the handler's task is cancelled: its future, and the guard it holds, are dropped
    timeout(WAIT, shared.hold_ended.notified())
        .await
        .expect("the handler is cancelled");
    // the connection is closed, without a reply or a close packet
    client.expect_closed().await;
    // and the listener was closed before the connections' tasks were let go
    let refused = TcpStream::connect(addr)
        .await
        .expect_err("the listener is closed");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn raw_bytes_cannot_go_on_a_tars_connection() {
    let (server, addr, shared) = start().await;
    let mut client = Client::connect(addr).await;
    client.call(SERVANT, "remember", Bytes::new()).await;
    let current = shared.remembered()[0].clone();

    // a whole TARS frame even: only the server writes the stream's replies
    let mut reply = BytesMut::new();
    FrameCodec::default()
        .encode(&ResponsePacket::default(), &mut reply)
        .unwrap();
    let refused = current.send_raw(reply.clone().freeze()).await.unwrap_err();
    assert!(matches!(refused, PushError::WrongProtocol(_)), "{refused}");
    assert_eq!(refused.into_frame().as_bytes(), &reply);
    let refused = current
        .try_push(PushFrame::from_raw(Bytes::from_static(b"junk")))
        .unwrap_err();
    assert!(matches!(refused, PushError::WrongProtocol(_)), "{refused}");
    let error = Error::from(refused);
    assert_eq!(error.code(), ReturnCode::SERVER_ENCODE_ERR);

    // nothing was written: the next frame is the ping's reply
    client.ping(SERVANT).await;
    assert!(!current.is_closed());
    server.shutdown().await;
}

#[tokio::test]
async fn a_standard_library_listener_is_served_as_it_is() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (servant, _) = servant();
    let server = Server::builder()
        .servant(SERVANT, listener, servant)
        .start()
        .await
        .expect("the server starts");
    assert_eq!(server.local_addrs(), vec![addr]);
    let mut client = Client::connect(addr).await;
    client.ping(SERVANT).await;
    server.shutdown().await;
    client.expect_reconnect().await;
    client.expect_closed().await;
}

/// An adapter's queue capacity (TarsCpp's `queuecap`) counts the requests of all its
/// connections: one beyond it is answered with `SERVER_OVERLOAD` at once, and another listener
/// of the same server is not limited by it.
#[tokio::test]
async fn an_adapter_at_its_queue_capacity_answers_overload() {
    let (limited, shared) = servant();
    let (other, _) = servant();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .servant(SERVANT, Listen::from(listener).queue_capacity(2), limited)
        .servant("Test.S.Other", "tcp -h 127.0.0.1 -p 0", other)
        .start()
        .await
        .unwrap();
    let other_addr = server.local_addr("Test.S.Other").unwrap();

    let mut first = Client::connect(addr).await;
    let mut second = Client::connect(addr).await;
    let mut gates = Vec::new();
    for client in [&mut first, &mut second] {
        let gate = client.request(SERVANT, "gate", Bytes::new());
        client.send(&gate).await;
        gates.push(gate.request_id);
        timeout(WAIT, shared.hold_started.notified())
            .await
            .expect("the gate call runs");
    }
    let refused = second.call(SERVANT, "echo", Bytes::from_static(b"x")).await;
    assert_eq!(refused.ret, ReturnCode::SERVER_OVERLOAD);
    assert_eq!(server.stats().overloaded_requests, 1);
    let mut elsewhere = Client::connect(other_addr).await;
    let echoed = elsewhere
        .call_ok("Test.S.Other", "echo", Bytes::from_static(b"y"))
        .await;
    assert_eq!(&echoed.buffer[..], b"y");

    // the gates open: room again
    shared.gate.notify_waiters();
    assert_eq!(first.recv().await.request_id, gates[0]);
    assert_eq!(second.recv().await.request_id, gates[1]);
    let echoed = second
        .call_ok(SERVANT, "echo", Bytes::from_static(b"z"))
        .await;
    assert_eq!(&echoed.buffer[..], b"z");
    server.shutdown().await;
}

/// An adapter's `allow` and `deny` patterns and its own connection limit.
#[tokio::test]
async fn an_adapter_serves_only_the_peers_it_allows_up_to_its_own_limit() {
    let (denying, _) = servant();
    let (allowing, _) = servant();
    let server = Server::builder()
        .servant(
            "Test.S.Denying",
            Listen::from("tcp -h 127.0.0.1 -p 0").access(
                ["127.0.0.*"],
                ["127.0.0.1"],
                AccessOrder::DenyAllow,
            ),
            denying,
        )
        .servant(
            "Test.S.Allowing",
            Listen::from("tcp -h 127.0.0.1 -p 0")
                .access(["127.0.*.*"], ["127.0.0.1"], AccessOrder::AllowDeny)
                .max_connections(1),
            allowing,
        )
        .start()
        .await
        .unwrap();
    let mut denied = Client::connect(server.local_addr("Test.S.Denying").unwrap()).await;
    denied.expect_closed().await;
    assert_eq!(server.stats().denied_connections, 1);

    let allowing_addr = server.local_addr("Test.S.Allowing").unwrap();
    let mut allowed = Client::connect(allowing_addr).await;
    allowed.ping("Test.S.Allowing").await;
    // its own limit, 1, not the builder's
    let mut over = Client::connect(allowing_addr).await;
    over.expect_closed().await;
    assert_eq!(server.stats().refused_connections, 1);
    allowed.ping("Test.S.Allowing").await;
    server.shutdown().await;
}

/// Servants sharing a listener cannot give it different adapter settings.
#[tokio::test]
async fn servants_sharing_a_listener_agree_on_its_adapter_settings() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (a, _) = servant();
    let (b, _) = servant();
    let error = Server::builder()
        .servant("Test.S.A", Listen::from(listener).max_connections(5), a)
        .servant(
            "Test.S.B",
            Listen::from(format!("tcp -h 127.0.0.1 -p {port}")).max_connections(6),
            b,
        )
        .start()
        .await
        .expect_err("different settings");
    assert!(
        matches!(&error, ServerError::ConflictingAdapters { first, second, .. } if first == "Test.S.A" && second == "Test.S.B"),
        "{error}"
    );
}
