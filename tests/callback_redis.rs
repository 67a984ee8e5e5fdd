//! Durable callbacks in Redis Streams (`--features redis-outbox`; needs `redis-server` on the
//! PATH, which `.ci/run` installs): two server instances share the backlog; the one
//! delivering is killed mid-delivery and the other delivers the rest, in order, once after
//! deduplication.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tars_rpc::callback::{CallbackHub, Invocation, Outbox, RedisOutbox, Registration};
use tars_rpc::server::Server;

#[path = "common/callback_receiver.rs"]
mod callback_receiver;

use callback_receiver::{lock, NotifyServant, Receiver, NOTIFY};

/// A `redis-server` on a free port in a temp dir, killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("tars-callback-redis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the temp dir");
        let mut child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server)");
        let stdout = child.stdout.take().expect("piped");
        // its log says when it accepts connections; bounded by its output
        let ready = BufReader::new(stdout)
            .lines()
            .take(200)
            .map_while(Result::ok)
            .any(|line| line.contains("Ready to accept connections"));
        assert!(ready, "redis-server started");
        Self { child, port, dir }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn hub(redis: &RedisServer, instance: &str) -> CallbackHub {
    let outbox = RedisOutbox::builder(redis.url())
        .instance(instance)
        .lease(Duration::from_millis(800))
        .connect()
        .await
        .expect("connected to redis");
    CallbackHub::builder(outbox)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .poll_interval(Duration::from_millis(100))
        .batch(50)
        .build()
        .await
        .expect("the hub starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_delivers_the_backlog_of_a_killed_one() {
    const TOTAL: i64 = 3000;
    let redis = RedisServer::start();
    let receiver = Receiver::with_window(128);
    let server = Server::builder()
        .servant(
            NOTIFY,
            "127.0.0.1:0",
            NotifyServant::from_arc(Arc::clone(&receiver)),
        )
        .start()
        .await
        .expect("the callback object starts");
    let port = server.local_addr(NOTIFY).expect("bound").port();
    let callback = format!("{NOTIFY}@tcp -h 127.0.0.1 -p {port}");

    let first = hub(&redis, "a").await;
    // started before the registration: follows the registrations in Redis
    let second = hub(&redis, "b").await;
    first
        .register(Registration::new("reg-1", &callback, "t"))
        .await
        .expect("registered");
    let calls: Vec<Invocation> = (1..=TOTAL)
        .map(|n| Invocation::new("onEvent").arg(&n))
        .collect();
    for chunk in calls.chunks(1000) {
        first.publish_batch("t", chunk).await.expect("queued");
    }
    assert!(
        receiver
            .wait(Duration::from_secs(30), |r| lock(&r.arrivals).len() >= 500)
            .await
    );
    // the instance dies: its tasks stop, its lease is left to lapse
    drop(first);
    let before = lock(&receiver.accepted).len();
    assert!(before < TOTAL as usize, "killed mid-delivery");

    assert!(
        receiver
            .wait(Duration::from_secs(60), |r| lock(&r.accepted).len()
                >= TOTAL as usize)
            .await,
        "the second instance delivers: {} of {TOTAL}",
        lock(&receiver.accepted).len()
    );
    assert_eq!(*lock(&receiver.accepted), (1..=TOTAL).collect::<Vec<_>>());
    // acknowledged entries are trimmed from the stream: the second instance started after the
    // first's last acknowledgement (at most a batch of 50, and one call in flight, again)
    let arrivals = lock(&receiver.arrivals).len();
    assert!(arrivals <= TOTAL as usize + 51, "{arrivals} arrivals");
    assert!(second.stats().delivered > 0);
    second.shutdown().await;

    // foreign entries in the stream are reported and skipped
    let outbox = RedisOutbox::builder(redis.url())
        .instance("b")
        .connect()
        .await
        .expect("connected");
    let client = redis::Client::open(redis.url()).expect("url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connected");
    let _: String = redis::cmd("XADD")
        .arg("tars:callback:stream:reg-1")
        .arg("999999-1")
        .arg("junk")
        .arg("x")
        .query_async(&mut connection)
        .await
        .expect("written");
    let scan = outbox.pending("reg-1", 10).await.expect("read");
    // at most the last callback, answered while the hub shut down and so not acknowledged
    assert!(scan.items.len() <= 1, "{scan:?}");
    assert!(
        scan.items.iter().all(|p| p.sequence == TOTAL as u64),
        "{scan:?}"
    );
    assert_eq!(scan.malformed.len(), 1, "{scan:?}");
    // moved aside: not read again
    let scan = outbox.pending("reg-1", 10).await.expect("read");
    assert!(scan.malformed.is_empty(), "{scan:?}");
    server.shutdown().await;
}
