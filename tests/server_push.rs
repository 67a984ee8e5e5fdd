//! Server push: the `Subscribers` registry, connection-close notifications (`Current::on_close`,
//! `Servant::on_connection_closed`), the close packet of a graceful shutdown, and the ordering
//! of pushes and replies on one connection.
//!
//! The clients are raw TCP streams reading response frames, so what is checked is what goes on
//! the wire. Every server binds 127.0.0.1 port 0 and every wait is bounded.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::slow_subscriber::SlowSubscriber;
use common::tars_client::{encode, TarsClient as Client};
use futures::future::BoxFuture;
use futures::StreamExt;
use tars_rpc::packet::{Context, RequestPacket, ResponsePacket, ReturnCode, STATUS_PUSH_FUNC};
use tars_rpc::push::{PushError, PushFrame, PushMessage, Subscribers, RECONNECT_MESSAGE};
use tars_rpc::server::{Current, Servant, Server, ServerBuilder};
use tars_rpc::{Error, TarsStruct};
use tokio::io::AsyncWriteExt;
use tokio::time::timeout;

const SERVANT: &str = "Test.PushServer.HelloObj";
const OTHER_SERVANT: &str = "Test.PushServer.OtherObj";
/// The bound on every wait: far above what a working server needs.
const WAIT: Duration = Duration::from_secs(5);

/// The push of TarsCpp's example: `int pushMsg(out string sRsp)`.
#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct PushMsg {
    #[tars(tag = 0)]
    ret: i32,
    #[tars(tag = 1)]
    s_rsp: String,
}

/// The parameters of `sleep`.
#[derive(TarsStruct, Debug, Clone, PartialEq)]
struct Millis {
    #[tars(tag = 0)]
    ms: i32,
}

fn push_frame(seq: i32, s_rsp: String) -> PushFrame {
    PushFrame::new("pushMsg", &PushMsg { ret: seq, s_rsp }, &Context::new())
}

/// One call of `on_connection_closed`.
#[derive(Debug, Clone, PartialEq)]
struct ClosedCall {
    servant: String,
    connection_id: u64,
    request_id: i32,
    func: String,
    /// Whether the connection was closed when the servant was told.
    was_closed: bool,
}

/// What the servants let the tests observe.
#[derive(Default)]
struct Shared {
    subscribers: Subscribers,
    /// The `Current`s of the `register` calls, in order.
    registered: Mutex<Vec<Current>>,
    closed_calls: Mutex<Vec<ClosedCall>>,
    sleeps_started: AtomicUsize,
}

impl Shared {
    fn registered(&self) -> Vec<Current> {
        self.registered.lock().unwrap().clone()
    }

    fn closed_calls(&self) -> Vec<ClosedCall> {
        self.closed_calls.lock().unwrap().clone()
    }
}

/// A hand-written servant: `register` subscribes the caller to pushes.
struct PushServant {
    shared: Arc<Shared>,
    /// Whether `on_connection_closed` panics after recording its call.
    panics_on_close: bool,
}

impl Servant for PushServant {
    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Bytes,
    ) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
        Box::pin(async move {
            match current.func_name() {
                "register" => {
                    self.shared.subscribers.add(current);
                    self.shared.registered.lock().unwrap().push(current.clone());
                    Ok(Bytes::new())
                }
                "echo" => {
                    // let pushes get in between the replies
                    tokio::task::yield_now().await;
                    Ok(params)
                }
                "sleep" => {
                    let args = Millis::decode_bytes(&params)
                        .map_err(|error| Error::server_decode(&error))?;
                    self.shared.sleeps_started.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(args.ms as u64)).await;
                    Ok(params)
                }
                other => Err(Error::new(
                    ReturnCode::SERVER_NO_FUNC,
                    format!("no function `{other}`"),
                )),
            }
        })
    }

    fn on_connection_closed<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.shared.closed_calls.lock().unwrap().push(ClosedCall {
                servant: current.servant_name().to_string(),
                connection_id: current.connection_id(),
                request_id: current.request_id(),
                func: current.func_name().to_string(),
                was_closed: current.is_closed(),
            });
            if self.panics_on_close {
                panic!("on_connection_closed exploded");
            }
        })
    }
}

/// A server with the push servant (and a second servant, whose close hook panics, on the same
/// listener) at 127.0.0.1 port 0, built by `configure`.
async fn start_with(
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> (Server, SocketAddr, Arc<Shared>) {
    let shared = Arc::new(Shared::default());
    let servant = PushServant {
        shared: shared.clone(),
        panics_on_close: false,
    };
    let other = PushServant {
        shared: shared.clone(),
        panics_on_close: true,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let builder = Server::builder()
        .servant(SERVANT, listener, servant)
        .servant(
            OTHER_SERVANT,
            format!("tcp -h {} -p {} -t 60000", addr.ip(), addr.port()),
            other,
        );
    let server = configure(builder).start().await.expect("the server starts");
    assert_eq!(server.local_addrs(), vec![addr]);
    (server, addr, shared)
}

async fn start() -> (Server, SocketAddr, Arc<Shared>) {
    start_with(|builder| builder).await
}

/// The frame as it was on the wire: length prefix and body.
fn wire_image(body: &[u8]) -> Bytes {
    let mut image = BytesMut::with_capacity(body.len() + 4);
    image.put_u32(u32::try_from(body.len() + 4).unwrap());
    image.put_slice(body);
    image.freeze()
}

/// Decodes a frame that must be a `pushMsg` push.
fn decode_push(body: &Bytes) -> PushMsg {
    let packet = ResponsePacket::decode_bytes(body).expect("a response packet");
    assert_eq!(packet.request_id, 0, "a push has request id 0");
    assert_eq!(
        packet.status.get(STATUS_PUSH_FUNC).map(String::as_str),
        Some("pushMsg")
    );
    let push = PushMessage::from_packet(packet).expect("a push");
    assert_eq!(push.function, "pushMsg");
    push.decode::<PushMsg>().expect("a PushMsg")
}

fn assert_reconnect(packet: &ResponsePacket) {
    assert_eq!(packet.request_id, 0, "{packet:?}");
    assert_eq!(packet.result_desc, RECONNECT_MESSAGE, "{packet:?}");
    assert_eq!(packet.ret, ReturnCode::SUCCESS);
    assert!(
        !packet.status.contains_key(STATUS_PUSH_FUNC),
        "not a push: {packet:?}"
    );
    assert!(PushMessage::from_packet(packet.clone()).is_none());
}

/// Polls `condition` until it holds, for at most `WAIT`.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "not in time: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// 1
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_every_subscriber_in_order_byte_for_byte() {
    const CLIENTS: usize = 50;
    const PUSHES: i32 = 20;
    let (server, addr, shared) = start().await;
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let mut client = Client::connect(addr).await;
        client.call_ok(SERVANT, "register", Bytes::new()).await;
        clients.push(client);
    }
    assert_eq!(shared.subscribers.len(), CLIENTS);
    let ids: HashSet<u64> = shared
        .subscribers
        .currents()
        .iter()
        .map(Current::connection_id)
        .collect();
    assert_eq!(ids.len(), CLIENTS);

    let frames: Vec<PushFrame> = (0..PUSHES)
        .map(|seq| push_frame(seq, format!("push message {seq}")))
        .collect();
    for frame in &frames {
        let report = shared.subscribers.broadcast(frame);
        assert!(
            report.is_complete() && report.delivered == CLIENTS,
            "{report:?}"
        );
    }

    let frames = Arc::new(frames);
    let readers = clients.into_iter().map(|mut client| {
        let frames = frames.clone();
        tokio::spawn(async move {
            for (seq, frame) in frames.iter().enumerate() {
                let body = client.recv_frame().await;
                assert_eq!(&wire_image(&body), frame.as_bytes(), "push {seq}");
                let push = decode_push(&body);
                assert_eq!(push.ret, seq as i32);
                assert_eq!(push.s_rsp, format!("push message {seq}"));
            }
            client
        })
    });
    let clients = timeout(WAIT, futures::future::join_all(readers))
        .await
        .expect("every client gets every push");
    assert_eq!(clients.len(), CLIENTS);
    for client in clients {
        client.expect("the reader succeeded");
    }
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// 2
#[tokio::test]
async fn a_client_that_disconnects_is_removed_and_told() {
    let (server, addr, shared) = start().await;
    let mut leaving = Client::connect(addr).await;
    let mut staying = Client::connect(addr).await;
    leaving.call_ok(SERVANT, "register", Bytes::new()).await;
    staying.call_ok(SERVANT, "register", Bytes::new()).await;
    let [saved, _] = &shared.registered()[..] else {
        panic!("two registrations expected");
    };
    let saved = saved.clone();
    assert_eq!(saved.peer_addr(), leaving.local_addr);
    assert_eq!(shared.subscribers.len(), 2);

    let callback_ran = Arc::new(AtomicBool::new(false));
    let flag = callback_ran.clone();
    saved.on_close(move || flag.store(true, Ordering::SeqCst));
    assert!(!callback_ran.load(Ordering::SeqCst));
    assert!(saved.try_push(push_frame(0, "before".into())).is_ok());

    drop(leaving);
    eventually("the client is removed", || shared.subscribers.len() == 1).await;
    assert!(!shared.subscribers.contains(saved.connection_id()));
    timeout(WAIT, saved.closed())
        .await
        .expect("closed() has resolved");
    assert!(saved.is_closed());
    assert!(
        callback_ran.load(Ordering::SeqCst),
        "the on_close callback ran"
    );
    let error = saved
        .push(push_frame(1, "after".into()))
        .await
        .expect_err("pushing to a closed connection fails");
    assert!(
        matches!(&error, PushError::Closed(frame) if decode_push(&frame.as_bytes().slice(4..)).ret == 1)
    );

    // a callback registered after the close runs at once
    let late = Arc::new(AtomicBool::new(false));
    let flag = late.clone();
    saved.on_close(move || flag.store(true, Ordering::SeqCst));
    assert!(late.load(Ordering::SeqCst));
    // adding it again does not bring it back
    shared.subscribers.add(&saved);
    assert!(!shared.subscribers.contains(saved.connection_id()));

    // the other client is unaffected
    let frame = push_frame(2, "still here".into());
    let report = shared.subscribers.broadcast(&frame);
    assert!(report.is_complete() && report.delivered == 1, "{report:?}");
    assert_eq!(decode_push(&staying.recv_frame().await).ret, 2);
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// 3
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_misses_pushes_then_is_cut_off_without_hurting_the_others()
{
    const FAST: usize = 3;
    const PAYLOAD: usize = 100 * 1024;
    /// Room for about 8 pushes per connection.
    const BUDGET: usize = 8 * (PAYLOAD + 64);
    const STALL: Duration = Duration::from_millis(500);
    /// How far the broadcaster may run ahead of the fast clients, below the budget.
    const WINDOW: i32 = 4;
    /// Pushes after the slow client was cut off.
    const AFTER: i32 = 20;
    /// A generous bound: the slow client's socket buffers are small.
    const MAX_PUSHES: i32 = 4000;
    let (server, addr, shared) =
        start_with(|builder| builder.queue_budget(BUDGET).stall_timeout(STALL)).await;

    let mut slow = Client::connect_with_small_buffer(addr, 4096).await;
    slow.call_ok(SERVANT, "register", Bytes::new()).await;
    let slow_current = shared.registered()[0].clone();
    let mut progress = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..FAST {
        let mut client = Client::connect(addr).await;
        client.call_ok(SERVANT, "register", Bytes::new()).await;
        let (sender, receiver) = tokio::sync::watch::channel(-1i32);
        progress.push(receiver);
        readers.push(tokio::spawn(async move {
            // the whole client: a dropped write half would close the connection
            let mut client = client;
            let mut expected = 0;
            loop {
                let body = match timeout(WAIT, client.frames.next()).await {
                    Ok(Some(Ok(body))) => body,
                    Ok(None) => break, // the server shut down
                    other => panic!("a fast client failed: {other:?}"),
                };
                let packet = ResponsePacket::decode_bytes(&body).unwrap();
                if packet.result_desc == RECONNECT_MESSAGE {
                    continue;
                }
                let push = decode_push(&body);
                assert_eq!(push.ret, expected, "pushes arrive in order, none missing");
                assert_eq!(push.s_rsp.len(), PAYLOAD);
                sender.send_replace(expected);
                expected += 1;
            }
            expected
        }));
    }
    assert_eq!(shared.subscribers.len(), FAST + 1);

    let payload = "x".repeat(PAYLOAD);
    let started = Instant::now();
    let mut watch = SlowSubscriber::new(slow_current.clone());
    let mut seq = 0;
    while seq < MAX_PUSHES
        && watch
            .cut_off_at
            .map_or(true, |at| i64::from(seq) < at + i64::from(AFTER))
    {
        for receiver in &mut progress {
            timeout(
                WAIT,
                receiver.wait_for(|&received| received >= seq - WINDOW),
            )
            .await
            .expect("a fast client fell behind")
            .unwrap();
        }
        let report = shared
            .subscribers
            .broadcast(&push_frame(seq, payload.clone()));
        watch
            .record(i64::from(seq), &report, FAST, &shared.subscribers)
            .await;
        seq += 1;
    }
    let elapsed = started.elapsed();
    let (missed_at, missed_when) = watch.first_missed.expect("the slow client missed pushes");
    let cut_off_at = watch.cut_off_at.expect("the slow client was cut off");
    assert!(slow_current.is_closed());
    assert!(
        missed_when.elapsed() >= STALL / 2,
        "{:?}",
        missed_when.elapsed()
    );
    println!("slow client missed pushes from {missed_at}, cut off at {cut_off_at}; {seq} pushes in {elapsed:?}");

    // the slow client sees some of the pushes, whole and in order, then the end
    let received = slow.drain_until_closed().await;
    let seqs: Vec<i32> = received.iter().map(|body| decode_push(body).ret).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    assert!(seqs.iter().all(|&seq| i64::from(seq) <= cut_off_at));

    timeout(WAIT, server.shutdown()).await.expect("shutdown");
    for reader in readers {
        let received = timeout(WAIT, reader).await.unwrap().unwrap();
        assert_eq!(received, seq, "every fast client got every push");
    }
}

// 4
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_and_replies_never_interleave_and_pushes_keep_their_order() {
    const CALLS: usize = 200;
    const PUSHES: i32 = 200;
    let (server, addr, shared) = start().await;
    let mut client = Client::connect(addr).await;
    client.call_ok(SERVANT, "register", Bytes::new()).await;
    let current = shared.registered()[0].clone();

    // requests with bodies of various sizes, some larger than the server's write buffer
    let requests: Vec<RequestPacket> = (0..CALLS)
        .map(|i| {
            let len = (i * 997) % 70_000;
            let body: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
            client.request(SERVANT, "echo", Bytes::from(body))
        })
        .collect();
    let expected: Vec<(i32, Bytes)> = requests
        .iter()
        .map(|request| (request.request_id, request.buffer.clone()))
        .collect();

    let Client {
        mut frames,
        mut writer,
        ..
    } = client;
    let pusher = tokio::spawn(async move {
        for seq in 0..PUSHES {
            let s_rsp = format!("{seq}:").repeat(1 + (seq as usize * 131) % 3000);
            current
                .push(push_frame(seq, s_rsp))
                .await
                .expect("the push is queued");
            tokio::task::yield_now().await;
        }
    });
    let sender = tokio::spawn(async move {
        for request in &requests {
            writer.write_all(&encode(request)).await.unwrap();
        }
        writer
    });

    let mut replies = Vec::new();
    let mut pushes = Vec::new();
    let read_all = async {
        while replies.len() < CALLS || pushes.len() < PUSHES as usize {
            let body = frames
                .next()
                .await
                .expect("the connection stays up")
                .expect("a well-formed frame");
            let packet = ResponsePacket::decode_bytes(&body).expect("a whole response packet");
            if packet.request_id == 0 {
                pushes.push(decode_push(&body));
            } else {
                replies.push(packet);
            }
        }
    };
    timeout(WAIT, read_all)
        .await
        .expect("every reply and push arrives");
    timeout(WAIT, pusher).await.unwrap().unwrap();
    let _writer = timeout(WAIT, sender).await.unwrap().unwrap();

    for (seq, push) in pushes.iter().enumerate() {
        assert_eq!(push.ret, seq as i32, "pushes arrive in the order pushed");
        let expected = format!("{seq}:").repeat(1 + (seq * 131) % 3000);
        assert_eq!(push.s_rsp, expected);
    }
    replies.sort_by_key(|reply| reply.request_id);
    assert_eq!(replies.len(), CALLS);
    for (reply, (request_id, body)) in replies.iter().zip(&expected) {
        assert_eq!(reply.request_id, *request_id);
        assert_eq!(reply.ret, ReturnCode::SUCCESS);
        assert_eq!(&reply.buffer, body, "reply {request_id} intact");
    }
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
}

// 5
#[tokio::test]
async fn each_servant_is_told_once_when_a_connection_closes_with_its_last_current() {
    let (server, addr, shared) = start().await;
    let mut client = Client::connect(addr).await;
    client.call_ok(SERVANT, "register", Bytes::new()).await; // 1
    client
        .call_ok(SERVANT, "echo", Bytes::from_static(b"a"))
        .await; // 2
    client.call_ok(OTHER_SERVANT, "echo", Bytes::new()).await; // 3
    client
        .call_ok(SERVANT, "sleep", Millis { ms: 1 }.to_bytes())
        .await; // 4: the last
    client
        .call_ok(OTHER_SERVANT, "register", Bytes::new())
        .await; // 5
    client.call_ok(SERVANT, "tars_ping", Bytes::new()).await; // 6: not dispatched
    let connection_id = shared.registered()[0].connection_id();

    // a connection that only pings tells no servant
    let mut pinger = Client::connect(addr).await;
    pinger.call_ok(SERVANT, "tars_ping", Bytes::new()).await;
    drop(pinger);

    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(shared.closed_calls().is_empty(), "nothing closed yet");
    drop(client);
    eventually("both servants are told", || {
        shared.closed_calls().len() == 2
    })
    .await;
    // nothing more comes
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut calls = shared.closed_calls();
    calls.sort_by(|a, b| a.servant.cmp(&b.servant));
    assert_eq!(
        calls,
        [
            ClosedCall {
                servant: SERVANT.into(),
                connection_id,
                request_id: 4,
                func: "sleep".into(),
                was_closed: true,
            },
            ClosedCall {
                servant: OTHER_SERVANT.into(),
                connection_id,
                request_id: 5,
                func: "register".into(),
                was_closed: true,
            },
        ]
    );

    // the panic of the other servant's hook hurt nothing
    let mut client = Client::connect(addr).await;
    client.call_ok(OTHER_SERVANT, "echo", Bytes::new()).await;
    drop(client);
    eventually("told again", || shared.closed_calls().len() == 3).await;
    timeout(WAIT, server.shutdown()).await.expect("shutdown");
    assert_eq!(shared.closed_calls().len(), 3);
}

// 6
#[tokio::test]
async fn a_graceful_shutdown_asks_every_client_to_reconnect() {
    let (server, addr, shared) = start().await;
    let mut idle = Client::connect(addr).await;
    idle.call_ok(SERVANT, "register", Bytes::new()).await;
    let mut quiet = Client::connect(addr).await; // never sent a request
    let mut busy = Client::connect(addr).await;
    busy.call_ok(SERVANT, "register", Bytes::new()).await;
    let request = busy.request(SERVANT, "sleep", Millis { ms: 300 }.to_bytes());
    busy.send(&request).await;
    eventually("the request runs", || {
        shared.sleeps_started.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(shared.subscribers.len(), 2);

    let shutdown = tokio::spawn(server.shutdown());
    for client in [&mut idle, &mut quiet] {
        assert_reconnect(&client.recv().await);
        assert!(client.drain_until_closed().await.is_empty());
    }
    // the in-flight request's reply still arrives, after the close packet
    assert_reconnect(&busy.recv().await);
    let reply = busy.recv().await;
    assert_eq!(
        (reply.request_id, reply.ret),
        (request.request_id, ReturnCode::SUCCESS)
    );
    assert_eq!(Millis::decode_bytes(&reply.buffer).unwrap().ms, 300);
    assert!(busy.drain_until_closed().await.is_empty());
    timeout(WAIT, shutdown)
        .await
        .expect("shutdown returns")
        .unwrap();

    // every connection closed, so the registry is empty and the servant was told of each
    assert!(shared.subscribers.is_empty());
    let mut told: Vec<u64> = shared
        .closed_calls()
        .iter()
        .map(|call| call.connection_id)
        .collect();
    told.sort_unstable();
    let mut registered: Vec<u64> = shared
        .registered()
        .iter()
        .map(Current::connection_id)
        .collect();
    registered.sort_unstable();
    assert_eq!(told, registered);
}
