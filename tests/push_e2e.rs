//! Push end to end through the macros: a `#[tars_interface]` servant keeps `Current`s in a
//! `Subscribers` registry, pushes with the `#[tars_push]` sender, and `#[tars_push]` callbacks
//! and streams receive them in generated-proxy clients over loopback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tars_rpc::client::{Communicator, CommunicatorBuilder, Encoding, TypedProxy};
use tars_rpc::push::Subscribers;
use tars_rpc::server::{Listen, Server};
use tars_rpc::{tars_interface, tars_push, Current};
use tokio::net::TcpListener;
use tokio::time::{sleep, timeout, Instant};

const SERVANT: &str = "Test.PushServer.PushObj";
const WAIT: Duration = Duration::from_secs(10);

#[tars_interface]
trait Hello {
    async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32>;
    /// Pushes `count` numbered messages to the caller alone, then returns.
    async fn push_me(&self, current: &Current, count: i32) -> tars_rpc::Result<()>;
}

#[tars_push]
trait Push {
    async fn push_msg(&self, ret: i32, s_rsp: String);
    async fn numbered(&self, ret: i32, seq: i64);
}

struct HelloImp {
    subscribers: Subscribers,
    saved: Mutex<Vec<Current>>,
    /// How many times each connection registered, by connection id.
    registrations: Mutex<HashMap<u64, usize>>,
}

impl Hello for HelloImp {
    async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32> {
        self.subscribers.add(current);
        self.saved.lock().unwrap().push(current.clone());
        *self
            .registrations
            .lock()
            .unwrap()
            .entry(current.connection_id())
            .or_default() += 1;
        Ok(0)
    }

    async fn push_me(&self, current: &Current, count: i32) -> tars_rpc::Result<()> {
        let sender = PushSender::new(current);
        for seq in 0..count {
            sender.numbered(0, i64::from(seq)).await?;
        }
        Ok(())
    }
}

/// Records every push in arrival order.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<i64>>>);

impl Push for Recorder {
    async fn push_msg(&self, _ret: i32, s_rsp: String) {
        self.0.lock().unwrap().push(s_rsp.parse().unwrap_or(-1));
    }

    async fn numbered(&self, _ret: i32, seq: i64) {
        self.0.lock().unwrap().push(seq);
    }
}

impl Recorder {
    fn seen(&self) -> Vec<i64> {
        self.0.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<i64> {
        let deadline = Instant::now() + WAIT;
        while self.0.lock().unwrap().len() < count && Instant::now() < deadline {
            sleep(Duration::from_millis(10)).await;
        }
        self.seen()
    }
}

/// A listener at 127.0.0.1, on a port the system chose.
async fn bound() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

async fn start(listen: impl Into<Listen>, subscribers: &Subscribers) -> (Server, Arc<HelloImp>) {
    let imp = Arc::new(HelloImp {
        subscribers: subscribers.clone(),
        saved: Mutex::new(Vec::new()),
        registrations: Mutex::default(),
    });
    let server = Server::builder()
        .servant(SERVANT, listen, HelloServant::from_arc(Arc::clone(&imp)))
        .start()
        .await
        .expect("the server starts");
    (server, imp)
}

fn client(port: u16, config: CommunicatorBuilder) -> HelloProxy {
    config
        .build()
        .string_to_proxy(&format!("{SERVANT}@tcp -h 127.0.0.1 -p {port}"))
        .expect("a valid proxy string")
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_receives_every_broadcast_in_order() {
    let subscribers = Subscribers::new();
    let (server, _) = start(bound().await, &subscribers).await;
    let port = server.local_addr(SERVANT).unwrap().port();
    let mut clients = Vec::new();
    for _ in 0..20 {
        // a communicator each: a connection each
        let proxy = client(port, Communicator::builder());
        let recorder = Recorder::default();
        proxy.set_push_handler(PushCallback(recorder.clone()));
        assert_eq!(
            timeout(WAIT, proxy.register_push()).await.unwrap().unwrap(),
            0
        );
        clients.push((proxy, recorder));
    }
    assert_eq!(subscribers.len(), 20);
    for seq in 0..50 {
        let report = subscribers.broadcast(&PushSender::push_msg_frame(0, seq.to_string()));
        assert!(report.is_complete() && report.delivered == 20, "{report:?}");
    }
    let expected: Vec<i64> = (0..50).collect();
    for (_, recorder) in &clients {
        assert_eq!(recorder.wait_for(50).await, expected);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_client_is_forgotten_and_pushing_to_it_fails() {
    let subscribers = Subscribers::new();
    let (server, imp) = start(bound().await, &subscribers).await;
    let port = server.local_addr(SERVANT).unwrap().port();
    let staying = client(port, Communicator::builder());
    let leaving = client(port, Communicator::builder());
    timeout(WAIT, staying.register_push())
        .await
        .unwrap()
        .unwrap();
    timeout(WAIT, leaving.register_push())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(subscribers.len(), 2);
    let gone = imp.saved.lock().unwrap()[1].clone();

    drop(leaving); // the last handle: its connection closes
    timeout(WAIT, gone.closed())
        .await
        .expect("the server sees the close");
    eventually("the registry to forget the client", || {
        subscribers.len() == 1
    })
    .await;
    let error = PushSender::new(&gone)
        .push_msg(0, "too late".into())
        .await
        .unwrap_err();
    assert!(error.is_closed(), "{error}");
    assert!(PushSender::new(&gone)
        .try_push_msg(0, "too late".into())
        .is_err());
    // the other client is unaffected
    let recorder = Recorder::default();
    staying.set_push_handler(PushCallback(recorder.clone()));
    subscribers.broadcast(&PushSender::push_msg_frame(0, "7".into()));
    assert_eq!(recorder.wait_for(1).await, [7]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_reconnect_and_reregister_after_a_server_restart() {
    let subscribers = Subscribers::new();
    let (server, _) = start(bound().await, &subscribers).await;
    let address = server.local_addr(SERVANT).unwrap();
    let config = Communicator::builder()
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200));
    let mut clients = Vec::new();
    for _ in 0..5 {
        let proxy = client(address.port(), config.clone());
        let recorder = Recorder::default();
        proxy.set_push_handler(PushCallback(recorder.clone()));
        // what a push client does after every (re)connect: register again
        proxy.on_connect(|proxy: HelloProxy, _endpoint| async move {
            let _ = proxy.register_push().await;
        });
        timeout(WAIT, proxy.connect()).await.unwrap().unwrap();
        clients.push((proxy, recorder));
    }
    assert_eq!(subscribers.len(), 5);
    subscribers.broadcast(&PushSender::push_msg_frame(0, "1".into()));
    for (_, recorder) in &clients {
        assert_eq!(recorder.wait_for(1).await, [1]);
    }

    server.shutdown().await;
    let restarted_subscribers = Subscribers::new();
    let (restarted, _) = start(&address.to_string(), &restarted_subscribers).await;
    // no call from the test: the clients come back and register by themselves
    eventually("every client to re-register", || {
        restarted_subscribers.len() == 5
    })
    .await;
    restarted_subscribers.broadcast(&PushSender::push_msg_frame(0, "2".into()));
    for (_, recorder) in &clients {
        assert_eq!(recorder.wait_for(2).await, [1, 2]);
    }
    restarted.shutdown().await;
}

/// The keep-alive is checked on events, not on the clock: the test waits for two plain
/// connections, made one after the other, to be closed by the idle timeout; the push connection,
/// idle for longer than both, is still open then only if its keep-alive held it. (Paused time
/// cannot stand in for the waits: the server's idle timer, the client's keep-alive timer and
/// the bytes between them on real sockets would all have to progress on one auto-advancing
/// clock, which jumps to the next timer whenever the runtime has nothing ready, whether or not
/// the kernel has handed over the bytes in flight.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_holds_an_idle_push_connection_past_the_idle_timeout() {
    let subscribers = Subscribers::new();
    // the server closes connections idle for 300 ms
    let (server, imp) = start("tcp -h 127.0.0.1 -p 0 -t 300", &subscribers).await;
    let port = server.local_addr(SERVANT).unwrap().port();
    let quick = || Communicator::builder().keepalive_interval(Duration::from_millis(100));

    let pushed = client(port, quick());
    let recorder = Recorder::default();
    pushed.set_push_handler(PushCallback(recorder.clone()));
    timeout(WAIT, pushed.register_push())
        .await
        .unwrap()
        .unwrap();
    let pushed_current = imp.saved.lock().unwrap()[0].clone();

    // plain clients, without a push handler, are closed by the idle timeout: the second one
    // connects after the first is closed, so that the push connection has been idle for two
    // idle timeouts when the second is closed
    for index in 1..=2 {
        let plain = client(port, quick());
        timeout(WAIT, plain.register_push()).await.unwrap().unwrap();
        let plain_current = imp.saved.lock().unwrap()[index].clone();
        timeout(WAIT, plain_current.closed())
            .await
            .expect("the idle plain connection is closed");
    }
    assert!(
        !pushed_current.is_closed(),
        "keep-alive held the push connection"
    );
    PushSender::new(&pushed_current)
        .push_msg(0, "42".into())
        .await
        .unwrap();
    assert_eq!(recorder.wait_for(1).await, [42]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_registering_in_on_connect_registers_once_per_connection() {
    let subscribers = Subscribers::new();
    let (server, imp) = start("127.0.0.1:0", &subscribers).await;
    let port = server.local_addr(SERVANT).unwrap().port();
    let proxy = client(
        port,
        Communicator::builder()
            .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200)),
    );
    let recorder = Recorder::default();
    proxy.set_push_handler(PushCallback(recorder.clone()));
    proxy.on_connect(|proxy: HelloProxy, _endpoint| async move {
        proxy.register_push().await.expect("registered");
    });
    let registrations = || imp.registrations.lock().unwrap().clone();

    // connect returns once the hook has registered
    timeout(WAIT, proxy.connect()).await.unwrap().unwrap();
    let first = registrations();
    assert_eq!(
        first.values().copied().collect::<Vec<_>>(),
        [1],
        "{first:?}"
    );
    // calls and connecting again use the connection as it is
    timeout(WAIT, proxy.push_me(1)).await.unwrap().unwrap();
    assert_eq!(recorder.wait_for(1).await, [0]);
    timeout(WAIT, proxy.connect()).await.unwrap().unwrap();
    assert_eq!(registrations(), first);

    // the server drops the connection: the client reconnects and registers once more
    imp.saved.lock().unwrap()[0].close_connection();
    eventually("the client to register again", || {
        registrations().len() == 2
    })
    .await;
    timeout(WAIT, proxy.push_me(1)).await.unwrap().unwrap();
    assert_eq!(recorder.wait_for(2).await, [0, 0]);
    let after = registrations();
    assert!(after.values().all(|&count| count == 1), "{after:?}");
    assert_eq!(imp.saved.lock().unwrap().len(), 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_arrive_as_typed_events_and_alongside_replies() {
    let subscribers = Subscribers::new();
    let (server, _) = start(bound().await, &subscribers).await;
    let proxy = client(
        server.local_addr(SERVANT).unwrap().port(),
        Communicator::builder(),
    );
    let mut events = proxy.push_stream().events::<PushEvent>();
    // the pushes are queued before the reply on the same connection
    timeout(WAIT, proxy.push_me(100)).await.unwrap().unwrap();
    for expected in 0..100 {
        match timeout(WAIT, events.next()).await.unwrap() {
            Some(Ok(PushEvent::Numbered { ret, seq })) => assert_eq!((ret, seq), (0, expected)),
            Some(Ok(PushEvent::PushMsg { .. })) => panic!("unexpected pushMsg"),
            Some(Err(error)) => panic!("a push did not decode: {error}"),
            None => panic!("the stream ended"),
        }
    }
    server.shutdown().await;
}

/// Pushes stay TARS frames whatever the proxy's requests are encoded in: a proxy speaking TUP
/// or JSON gets the pushes its call caused, typed, before that call's reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_stay_tars_for_a_proxy_speaking_tup_or_json() {
    let subscribers = Subscribers::new();
    let (server, _) = start(bound().await, &subscribers).await;
    let port = server.local_addr(SERVANT).unwrap().port();
    for encoding in [Encoding::Tup3, Encoding::Tup2, Encoding::Json] {
        let proxy = client(port, Communicator::builder()).with_encoding(encoding);
        let mut events = proxy.push_stream().events::<PushEvent>();
        timeout(WAIT, proxy.push_me(3)).await.unwrap().unwrap();
        for expected in 0..3 {
            match timeout(WAIT, events.next()).await.unwrap() {
                Some(Ok(PushEvent::Numbered { ret, seq })) => {
                    assert_eq!((ret, seq), (0, expected), "{encoding:?}")
                }
                other => panic!("{encoding:?}: expected push {expected}, got {other:?}"),
            }
        }
    }
    server.shutdown().await;
}
