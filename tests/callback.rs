//! Durable callbacks (issue 15): a client's callback object gets every published event, in
//! order and once after deduplication, through its own downtime, a SIGKILL of the server
//! mid-delivery, and foreign records in the outbox; a registration failing too long is
//! dropped and reported.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tars_rpc::callback::{
    CallbackHub, HubEvent, Invocation, Outbox, RedbOutbox, Registration, ADMIN_COMMAND,
};
use tars_rpc::client::discovery::StaticDiscovery;
use tars_rpc::client::Communicator;
use tars_rpc::node::AdminCommands;
use tars_rpc::server::Server;

#[path = "common/callback_receiver.rs"]
mod callback_receiver;

use callback_receiver::{lock, NotifyServant, Receiver, NOTIFY};

async fn serve(receiver: &Arc<Receiver>, listen: &str) -> Server {
    Server::builder()
        .servant(
            NOTIFY,
            listen,
            NotifyServant::from_arc(Arc::clone(receiver)),
        )
        .start()
        .await
        .expect("the callback object starts")
}

/// A directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("tars-callback-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("the temp dir is made");
        Self(path)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn events(range: std::ops::RangeInclusive<i64>) -> Vec<Invocation> {
    range.map(|n| Invocation::new("onEvent").arg(&n)).collect()
}

/// How long the receiver stays down: the 30 s, or `CALLBACK_DOWN_MS` (a shorter run
/// while working on the hub).
fn down_period() -> Duration {
    let ms = std::env::var("CALLBACK_DOWN_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(30_000);
    Duration::from_millis(ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_while_the_receiver_is_down_arrive_in_order_once() {
    let dir = TempDir::new("down");
    let receiver = Receiver::new();
    let server = serve(&receiver, "127.0.0.1:0").await;
    let address = server.local_addr(NOTIFY).expect("bound");
    let hub = CallbackHub::builder(RedbOutbox::open(dir.file("outbox.redb")).expect("opens"))
        .call_timeout(Duration::from_millis(500))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .await
        .expect("the hub starts");
    let callback = format!("{NOTIFY}@tcp -h 127.0.0.1 -p {}", address.port());
    hub.register(Registration::new("reg-a", &callback, "t"))
        .await
        .expect("registered");
    assert_eq!(
        hub.publish_batch("t", &events(1..=5))
            .await
            .expect("queued"),
        1
    );
    assert_eq!(
        hub.publish("other", &Invocation::new("onEvent").arg(&99i64))
            .await
            .expect("queued"),
        0
    );
    assert!(
        receiver
            .wait(Duration::from_secs(10), |r| r.accepted().len() == 5)
            .await
    );

    server.shutdown().await;
    let down = down_period();
    let started = tokio::time::Instant::now();
    let mut n = 6;
    while started.elapsed() < down && n <= 30 {
        hub.publish("t", &Invocation::new("onEvent").arg(&n))
            .await
            .expect("queued");
        n += 1;
        tokio::time::sleep(down / 30).await;
    }
    let published = n - 1;
    let backlog = hub.backlog().await.expect("backlog");
    assert_eq!(backlog.len(), 1);
    assert!(backlog[0].pending > 0, "{backlog:?}");
    assert!(backlog[0].failing_for.is_some(), "{backlog:?}");
    tokio::time::sleep(down.saturating_sub(started.elapsed())).await;

    let server = serve(&receiver, &address.to_string()).await;
    assert!(
        receiver
            .wait(Duration::from_secs(20), |r| r.accepted().len() as i64
                == published)
            .await,
        "got {:?}",
        receiver.accepted()
    );
    assert_eq!(receiver.accepted(), (1..=published).collect::<Vec<_>>());
    let stats = hub.stats();
    assert!(stats.retried > 0, "{stats:?}");
    for (id, n) in lock(&receiver.arrivals).iter() {
        assert_eq!(id.registration, "reg-a");
        assert_eq!(id.sequence, u64::try_from(*n).expect("positive"));
    }
    hub.shutdown().await;
    server.shutdown().await;
}

/// `examples/callback`, built if this test's build did not build it.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the profile directory");
    let binary = profile_dir.join("examples").join("callback");
    if !binary.exists() {
        let target_dir = profile_dir.parent().expect("the target directory");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .args(["build", "--example", "callback", "--target-dir"])
            .arg(target_dir)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --example callback");
    }
    binary
}

/// The server process, killed when dropped.
struct ServerProcess(std::process::Child);

impl ServerProcess {
    fn start(db: &Path, callback: &str, publish: u32) -> Self {
        let child = Command::new(example_binary())
            .args(["serve", "--db"])
            .arg(db)
            .args(["--callback", callback, "--publish", &publish.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("the example starts");
        Self(child)
    }

    /// SIGKILL, and waits for the exit.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_10000_survives_a_sigkill_mid_delivery() {
    const TOTAL: u32 = 10_000;
    let dir = TempDir::new("restart");
    let db = dir.file("outbox.redb");
    let receiver = Receiver::new();
    let server = serve(&receiver, "127.0.0.1:0").await;
    let address = server.local_addr(NOTIFY).expect("bound");
    let callback = format!("{NOTIFY}@tcp -h 127.0.0.1 -p {}", address.port());

    let mut first = ServerProcess::start(&db, &callback, TOTAL);
    assert!(
        receiver
            .wait(Duration::from_secs(60), |r| lock(&r.arrivals).len() >= 1500)
            .await,
        "the first server delivers"
    );
    first.kill();
    let before = receiver.accepted().len();
    assert!(before < TOTAL as usize, "killed mid-delivery ({before})");

    let _second = ServerProcess::start(&db, &callback, 0);
    assert!(
        receiver
            .wait(Duration::from_secs(120), |r| r.accepted().len()
                >= TOTAL as usize)
            .await,
        "after the restart: {} of {TOTAL}",
        receiver.accepted().len()
    );
    assert_eq!(
        receiver.accepted(),
        (1..=i64::from(TOTAL)).collect::<Vec<_>>()
    );
    // at least once: every sequence arrived, some maybe twice around the kill
    let arrivals = lock(&receiver.arrivals).len();
    assert!(arrivals >= TOTAL as usize);
    println!("{before} delivered before the kill, {arrivals} arrivals for {TOTAL} events");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_records_in_the_outbox_are_reported_and_skipped() {
    let dir = TempDir::new("malformed");
    let db = dir.file("outbox.redb");
    let receiver = Receiver::new();
    let server = serve(&receiver, "127.0.0.1:0").await;
    let address = server.local_addr(NOTIFY).expect("bound");
    let callback = format!("{NOTIFY}@tcp -h 127.0.0.1 -p {}", address.port());
    {
        // queued through the trait, with nothing delivering
        let outbox = RedbOutbox::open(&db).expect("opens");
        outbox
            .put_registration(&Registration::new("reg-1", &callback, "t"))
            .await
            .expect("stored");
        assert_eq!(
            outbox
                .enqueue(&["reg-1".to_string()], &events(1..=5))
                .await
                .expect("queued"),
            [1]
        );
    }
    {
        // then damaged by another writer of the same file
        let foreign = redb::Database::create(&db).expect("redb opens the file");
        let txn = foreign.begin_write().expect("writes");
        {
            let pending: redb::TableDefinition<&[u8], &[u8]> =
                redb::TableDefinition::new("callback_pending");
            let mut table = txn.open_table(pending).expect("the table");
            let mut third = vec![0u8, 5];
            third.extend_from_slice(b"reg-1");
            third.extend_from_slice(&3u64.to_be_bytes());
            table
                .insert(third.as_slice(), b"\xff\xff garbage".as_slice())
                .expect("written");
            table
                .insert(b"no key format".as_slice(), b"x".as_slice())
                .expect("written");
            let registrations: redb::TableDefinition<&[u8], &[u8]> =
                redb::TableDefinition::new("callback_registrations");
            let mut table = txn.open_table(registrations).expect("the table");
            table
                .insert(b"ghost".as_slice(), b"\x0f".as_slice())
                .expect("written");
        }
        txn.commit().expect("committed");
    }
    let hub = CallbackHub::builder(RedbOutbox::open(&db).expect("opens"))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .await
        .expect("the hub starts");
    assert!(
        receiver
            .wait(Duration::from_secs(10), |r| r.accepted().len() == 4)
            .await
    );
    assert_eq!(receiver.accepted(), [1, 2, 4, 5]);
    tokio::time::timeout(Duration::from_secs(10), hub.drained())
        .await
        .expect("every callback acknowledged");
    let stats = hub.stats();
    assert_eq!(stats.malformed, 3, "{stats:?}");
    assert_eq!(hub.backlog().await.expect("backlog").len(), 1);
    // the admin view, as `tarsnode`'s notify asks for it
    let commands = AdminCommands::new();
    hub.add_admin_command(&commands).expect("a valid name");
    let report = commands.notify(ADMIN_COMMAND).await;
    assert!(report.contains("malformed=3"), "{report}");
    assert!(report.contains("reg-1 topic=t"), "{report}");
    assert!(report.contains("last_delivered=5"), "{report}");
    hub.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_registration_failing_too_long_is_dropped_and_reported() {
    let dir = TempDir::new("drop");
    // nothing listens on the port of a listener just closed
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let hub = CallbackHub::builder(RedbOutbox::open(dir.file("outbox.redb")).expect("opens"))
        .call_timeout(Duration::from_secs(1))
        .backoff(Duration::from_secs(1), Duration::from_secs(8))
        .max_failing(Duration::from_secs(30))
        .build()
        .await
        .expect("the hub starts");
    let mut events_rx = hub.events();
    let registration =
        Registration::new("gone", format!("{NOTIFY}@tcp -h 127.0.0.1 -p {port}"), "t");
    hub.register(registration.clone())
        .await
        .expect("registered");
    let started = tokio::time::Instant::now();
    hub.publish_batch("t", &events(1..=3))
        .await
        .expect("queued");
    let event = tokio::time::timeout(Duration::from_secs(600), events_rx.recv())
        .await
        .expect("dropped within 600 s of paused time")
        .expect("an event");
    let HubEvent::Dropped {
        registration: dropped,
        pending,
        failing_for,
        ..
    } = event
    else {
        panic!("unexpected {event:?}");
    };
    assert_eq!(dropped, registration);
    assert_eq!(pending, 3);
    assert!(failing_for >= Duration::from_secs(30), "{failing_for:?}");
    // retried with backoff, not dropped long after the limit: 1+2+4+8+8+8 s of pauses
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let stats = hub.stats();
    assert_eq!(
        (stats.dropped, stats.dropped_callbacks, stats.pending),
        (1, 3, 0)
    );
    assert!(stats.retried >= 4, "{stats:?}");
    assert!(hub.backlog().await.expect("backlog").is_empty());
    // the registration is gone from the store too
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_named_by_object_is_found_through_the_communicators_discovery() {
    let dir = TempDir::new("discovery");
    let receiver = Receiver::new();
    let server = serve(&receiver, "127.0.0.1:0").await;
    let port = server.local_addr(NOTIFY).expect("bound").port();
    let discovery = StaticDiscovery::new()
        .with(NOTIFY, &format!("tcp -h 127.0.0.1 -p {port}"))
        .expect("valid endpoints");
    let hub = CallbackHub::builder(RedbOutbox::open(dir.file("outbox.redb")).expect("opens"))
        .communicator(Communicator::builder().discovery(discovery).build())
        .build()
        .await
        .expect("the hub starts");
    // `App.Server.Obj` alone, as a client registered through the registry gives it
    hub.register(Registration::new("by-name", NOTIFY, "t"))
        .await
        .expect("registered");
    hub.publish_batch("t", &events(1..=3))
        .await
        .expect("queued");
    assert!(
        receiver
            .wait(Duration::from_secs(10), |r| r.accepted().len() == 3)
            .await
    );
    assert_eq!(receiver.accepted(), [1, 2, 3]);
    // a callback that is no proxy string is refused at registration
    let error = hub
        .register(Registration::new("bad", "not an object@nonsense", "t"))
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("registration `bad`"), "{error}");
    hub.shutdown().await;
    server.shutdown().await;
}
