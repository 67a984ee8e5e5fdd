//! Durable callbacks, brpc's "RESTful callback" push pattern with TARS objects: a client
//! serves a callback object and registers it; the server answers at once and, when events
//! happen, calls the client back, through the client's downtime and its own restart.
//!
//! ```text
//! cargo run --example callback                      # the whole story in one process
//! cargo run --example callback -- --down-secs 30    # the client down for 30 s
//! cargo run --example callback -- serve --db FILE --callback PROXY [--publish N]
//! cargo run --release --example callback -- bench [--count 20000] [--registrations 8]
//! cargo run --release --features redis-outbox --example callback -- bench --redis redis://127.0.0.1:6379/
//! ```
//!
//! `bench` measures callbacks delivered per second through the embedded outbox against plain
//! calls of the same function and plain pushes of the same event (TarsCpp's push pattern: no
//! reply, nothing kept), one registration and then several at once.
//!
//! `serve` is the server alone, as `tests/callback.rs` runs it: it registers `reg-1` for the
//! callback object `PROXY` (`Test.Callback.NotifyObj@tcp -h .. -p ..`), queues `N` events
//! `onEvent(1..=N)` in the redb file `FILE`, and delivers until killed. Started again on the
//! same file without `--publish`, it delivers what was left.
//!
//! ```text
//! interface Registrar { int register(string id, string callback, string topic); };
//! interface Notify    { void onEvent(long n); };
//! ```

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tars_rpc::callback::{
    CallbackHub, Deduper, DeliveryId, HubError, Invocation, RedbOutbox, Registration,
};
use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::packet::ReturnCode;
use tars_rpc::server::Server;
use tars_rpc::{tars_interface, tars_push, Current};
use tokio::sync::Notify as Wake;

const REGISTRAR: &str = "Test.Callback.RegistrarObj";
const NOTIFY: &str = "Test.Callback.NotifyObj";
const TOPIC: &str = "events";
/// The benchmark's baseline: the same events as plain pushes.
const PUSH_BENCH: &str = "Test.Callback.PushBenchObj";

/// The server's registration RPC.
#[tars_interface]
pub trait Registrar {
    /// Registers the callback object `callback` under the client's `id` for `topic`.
    async fn register(&self, id: String, callback: String, topic: String) -> tars_rpc::Result<i32>;
}

/// The callback interface the client serves.
#[tars_interface]
pub trait Notify {
    /// An event: `n` counts up from 1.
    async fn on_event(&self, current: &Current, n: i64) -> tars_rpc::Result<()>;
}

/// The benchmark's baseline, TarsCpp's push pattern: the client subscribes, and the server
/// pushes on the client's own connection, with no reply and nothing kept.
#[tars_interface]
pub trait PushBench {
    /// Keeps the caller's `Current` to push to.
    async fn subscribe(&self, current: &Current) -> tars_rpc::Result<i32>;
}

/// The event, pushed.
#[tars_push]
pub trait EventPush {
    async fn pushed_event(&self, n: i64);
}

/// The server's registrar: hands registrations to the hub and answers at once.
struct RegistrarImp {
    hub: Arc<CallbackHub>,
}

impl Registrar for RegistrarImp {
    async fn register(&self, id: String, callback: String, topic: String) -> tars_rpc::Result<i32> {
        self.hub
            .register(Registration::new(id, callback, topic))
            .await
            .map_err(|error| {
                tars_rpc::Error::new(ReturnCode::SERVER_UNKNOWN_ERR, error.to_string())
            })?;
        Ok(0)
    }
}

/// The client's callback: drops repeats, prints and records the events.
struct NotifyImp {
    seen: Mutex<Deduper>,
    events: Mutex<Vec<i64>>,
    wake: Wake,
}

impl Notify for NotifyImp {
    async fn on_event(&self, current: &Current, n: i64) -> tars_rpc::Result<()> {
        let id = DeliveryId::from_current(current).map_err(|error| {
            tars_rpc::Error::new(ReturnCode::SERVER_DECODE_ERR, error.to_string())
        })?;
        let fresh = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .accept(&id);
        if fresh {
            println!(
                "client: event {n} (callback {} of {})",
                id.sequence, id.registration
            );
            self.events
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(n);
            self.wake.notify_waiters();
        } else {
            println!("client: callback {} again, dropped", id.sequence);
        }
        Ok(())
    }
}

impl NotifyImp {
    fn count(&self) -> usize {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Waits until `count` events arrived, for at most `limit`.
    async fn wait_for(&self, count: usize, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let woken = self.wake.notified();
            if self.count() >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return self.count() >= count;
            }
        }
    }
}

fn hub_error(error: HubError) -> String {
    format!("callback hub: {error}")
}

/// Starts a hub on `db` and the registrar servant in front of it.
async fn start_server(db: &std::path::Path) -> Result<(Arc<CallbackHub>, Server), String> {
    let outbox = RedbOutbox::open(db).map_err(|error| error.to_string())?;
    let hub = CallbackHub::builder(outbox)
        .call_timeout(Duration::from_secs(1))
        .backoff(Duration::from_millis(50), Duration::from_millis(500))
        .build()
        .await
        .map_err(hub_error)?;
    let hub = Arc::new(hub);
    let server = Server::builder()
        .servant(
            REGISTRAR,
            "127.0.0.1:0",
            RegistrarServant::new(RegistrarImp {
                hub: Arc::clone(&hub),
            }),
        )
        .start()
        .await
        .map_err(|error| format!("cannot start the server: {error}"))?;
    Ok((hub, server))
}

async fn start_client(imp: Arc<NotifyImp>, listen: &str) -> Result<Server, String> {
    Server::builder()
        .servant(NOTIFY, listen, NotifyServant::from_arc(imp))
        .start()
        .await
        .map_err(|error| format!("cannot start the client's callback object: {error}"))
}

/// The whole story in one process.
async fn demo(down: Duration) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("tars-callback-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
    let db = dir.join("outbox.redb");
    let result = demo_in(&db, down).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn demo_in(db: &std::path::Path, down: Duration) -> Result<(), String> {
    let (hub, server) = start_server(db).await?;
    let registrar_addr = server.local_addr(REGISTRAR).ok_or("registrar not bound")?;
    println!(
        "server: {REGISTRAR} on {registrar_addr}, outbox {}",
        db.display()
    );

    let imp = Arc::new(NotifyImp {
        seen: Mutex::new(Deduper::new(64, 1024)),
        events: Mutex::new(Vec::new()),
        wake: Wake::new(),
    });
    let client = start_client(Arc::clone(&imp), "127.0.0.1:0").await?;
    let client_addr = client.local_addr(NOTIFY).ok_or("callback not bound")?;
    let callback = format!("{NOTIFY}@tcp -h 127.0.0.1 -p {}", client_addr.port());

    let communicator = Communicator::new();
    let registrar: RegistrarProxy = communicator
        .string_to_proxy(&format!(
            "{REGISTRAR}@tcp -h 127.0.0.1 -p {}",
            registrar_addr.port()
        ))
        .map_err(|error| error.to_string())?;
    let ret = registrar
        .register("reg-1".into(), callback.clone(), TOPIC.into())
        .await
        .map_err(|error| format!("register: {error}"))?;
    println!("client: registered `reg-1` ({callback}) -> {ret}");

    let mut next = 1i64;
    let mut publish = |count: i64| {
        let calls: Vec<Invocation> = (next..next + count)
            .map(|n| Invocation::new("onEvent").arg(&n))
            .collect();
        next += count;
        calls
    };
    hub.publish_batch(TOPIC, &publish(3))
        .await
        .map_err(hub_error)?;
    println!("server: published events 1..=3");
    if !imp.wait_for(3, Duration::from_secs(10)).await {
        return Err("events 1..=3 not delivered".into());
    }

    println!("client: going down for {} s", down.as_secs_f64());
    client.shutdown().await;
    hub.publish_batch(TOPIC, &publish(3))
        .await
        .map_err(hub_error)?;
    println!("server: published events 4..=6 while the client is down");
    tokio::time::sleep(down / 2).await;
    println!("server: restarting, stats before: {:?}", hub.stats());
    server.shutdown().await;
    match Arc::try_unwrap(hub) {
        Ok(hub) => hub.shutdown().await,
        Err(_) => return Err("the hub is still shared".into()),
    }
    let (hub, server) = start_server(db).await?;
    hub.publish_batch(TOPIC, &publish(3))
        .await
        .map_err(hub_error)?;
    println!("server: restarted on the same outbox, published events 7..=9");
    for backlog in hub.backlog().await.map_err(hub_error)? {
        println!(
            "server: backlog of `{}`: {} pending, failing for {:?}",
            backlog.registration.id(),
            backlog.pending,
            backlog.failing_for
        );
    }
    tokio::time::sleep(down / 2).await;

    let client = start_client(Arc::clone(&imp), &client_addr.to_string()).await?;
    println!("client: back on {client_addr}");
    if !imp.wait_for(9, Duration::from_secs(30)).await {
        return Err(format!("only {} of 9 events delivered", imp.count()));
    }
    let events = imp
        .events
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    println!("client: received {events:?}");
    println!("server: {:?}", hub.stats());
    client.shutdown().await;
    server.shutdown().await;
    if let Ok(hub) = Arc::try_unwrap(hub) {
        hub.shutdown().await;
    }
    if events != (1..=9).collect::<Vec<i64>>() {
        return Err("events lost or out of order".into());
    }
    println!("every event delivered once, in order");
    Ok(())
}

/// The server alone, for the restart test.
async fn serve(db: &str, callback: &str, publish: i64) -> Result<(), String> {
    let (hub, server) = start_server(std::path::Path::new(db)).await?;
    if publish > 0 {
        hub.register(Registration::new("reg-1", callback, TOPIC))
            .await
            .map_err(hub_error)?;
        let mut n = 1;
        while n <= publish {
            let end = (n + 999).min(publish);
            let calls: Vec<Invocation> = (n..=end)
                .map(|n| Invocation::new("onEvent").arg(&n))
                .collect();
            hub.publish_batch(TOPIC, &calls).await.map_err(hub_error)?;
            n = end + 1;
        }
    }
    println!("published {publish}");
    let pending = hub.stats().pending;
    println!("pending {pending}");
    server.wait().await;
    Ok(())
}

/// Callbacks per second through the hub against plain calls.
async fn bench(count: i64, registrations: usize, redis: Option<String>) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("tars-callback-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
    let result = bench_in(&dir, count, registrations, redis).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn bench_in(
    dir: &std::path::Path,
    count: i64,
    registrations: usize,
    redis: Option<String>,
) -> Result<(), String> {
    let quiet = Arc::new(QuietNotify::default());
    let client = Server::builder()
        .servant(
            NOTIFY,
            "127.0.0.1:0",
            NotifyServant::from_arc(Arc::clone(&quiet)),
        )
        .start()
        .await
        .map_err(|error| error.to_string())?;
    let port = client.local_addr(NOTIFY).ok_or("not bound")?.port();
    let callback = format!("{NOTIFY}@tcp -h 127.0.0.1 -p {port}");

    // plain calls, one after the other, with the same context a callback carries
    let communicator = Communicator::new();
    let proxy: NotifyProxy = communicator
        .string_to_proxy(&callback)
        .map_err(|error| error.to_string())?;
    let proxy = proxy.with_context(
        DeliveryId {
            registration: "plain".into(),
            sequence: 1,
        }
        .to_context(),
    );
    let started = std::time::Instant::now();
    for n in 1..=count {
        proxy.on_event(n).await.map_err(|error| error.to_string())?;
    }
    let plain = started.elapsed();
    report("plain calls, sequential", count, plain, None);
    let pushed = push_baseline(count).await?;
    report("plain pushes, one client", count, pushed, None);
    let baselines = Baselines {
        call: plain.as_secs_f64() / count as f64,
        push: pushed.as_secs_f64() / count as f64,
    };

    for (label, regs) in [
        ("registration", 1usize),
        ("registrations at once", registrations),
    ] {
        let db = dir.join(format!("outbox-{regs}.redb"));
        let hub = bench_hub(&db, redis.as_deref(), regs).await?;
        for r in 0..regs {
            hub.register(Registration::new(
                format!("bench-{r}"),
                callback.as_str(),
                TOPIC,
            ))
            .await
            .map_err(hub_error)?;
        }
        let per_registration = count / i64::try_from(regs).unwrap_or(1);
        let started = std::time::Instant::now();
        let mut n = 1;
        while n <= per_registration {
            let end = (n + 999).min(per_registration);
            let calls: Vec<Invocation> = (n..=end)
                .map(|n| Invocation::new("onEvent").arg(&n))
                .collect();
            hub.publish_batch(TOPIC, &calls).await.map_err(hub_error)?;
            n = end + 1;
        }
        let queued = started.elapsed();
        hub.drained().await;
        let total = started.elapsed();
        let delivered = per_registration * i64::try_from(regs).unwrap_or(1);
        report(
            &format!("hub, {regs} {label}"),
            delivered,
            total,
            Some((queued, &baselines)),
        );
        hub.shutdown().await;
    }
    client.shutdown().await;
    Ok(())
}

/// The subscriber of the push baseline.
#[derive(Default)]
struct PushBenchImp {
    subscriber: Mutex<Option<Current>>,
}

impl PushBench for PushBenchImp {
    async fn subscribe(&self, current: &Current) -> tars_rpc::Result<i32> {
        *self
            .subscriber
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(current.clone());
        Ok(0)
    }
}

/// How far the pusher may run ahead of what the client has handled: a client drops pushes
/// its handler's queue (1024 by default) has no room for, as pushes are not kept.
const PUSH_WINDOW: i64 = 512;

/// Counts the pushes the client gets; wakes the pusher every half window and at the last.
struct CountPushes {
    count: std::sync::atomic::AtomicI64,
    wanted: i64,
    progress: Wake,
}

impl CountPushes {
    fn count(&self) -> i64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl EventPush for Arc<CountPushes> {
    async fn pushed_event(&self, _n: i64) {
        let count = self
            .count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if count == self.wanted || count % (PUSH_WINDOW / 2) == 0 {
            // stored if the pusher is not waiting yet
            self.progress.notify_one();
        }
    }
}

/// Waits until the client has handled at least `count` pushes, for at most 60 s.
async fn handled(counter: &CountPushes, count: i64) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while counter.count() < count {
        tokio::time::timeout_at(deadline, counter.progress.notified())
            .await
            .map_err(|_| {
                format!(
                    "the client handled {} pushes of {count} in 60 s",
                    counter.count()
                )
            })?;
    }
    Ok(())
}

/// `count` plain pushes to one client, one after the other, at most [`PUSH_WINDOW`] ahead of
/// the client, until the client has them all.
async fn push_baseline(count: i64) -> Result<Duration, String> {
    let imp = Arc::new(PushBenchImp::default());
    let server = Server::builder()
        .servant(
            PUSH_BENCH,
            "127.0.0.1:0",
            PushBenchServant::from_arc(Arc::clone(&imp)),
        )
        .start()
        .await
        .map_err(|error| error.to_string())?;
    let port = server.local_addr(PUSH_BENCH).ok_or("not bound")?.port();
    let communicator = Communicator::new();
    let proxy: PushBenchProxy = communicator
        .string_to_proxy(&format!("{PUSH_BENCH}@tcp -h 127.0.0.1 -p {port}"))
        .map_err(|error| error.to_string())?;
    let counter = Arc::new(CountPushes {
        count: std::sync::atomic::AtomicI64::new(0),
        wanted: count,
        progress: Wake::new(),
    });
    proxy.set_push_handler(EventPushCallback(Arc::clone(&counter)));
    proxy.subscribe().await.map_err(|error| error.to_string())?;
    let current = imp
        .subscriber
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .ok_or("the client did not subscribe")?;
    let started = std::time::Instant::now();
    for n in 1..=count {
        if n > PUSH_WINDOW {
            handled(&counter, n - PUSH_WINDOW).await?;
        }
        current
            .push(EventPushSender::pushed_event_frame(n))
            .await
            .map_err(|error| error.to_string())?;
    }
    handled(&counter, count).await?;
    let elapsed = started.elapsed();
    communicator.shutdown().await;
    server.shutdown().await;
    Ok(elapsed)
}

/// The benchmark's hub: on a redb file, or on Redis with `--redis URL` (built with
/// `--features redis-outbox`).
async fn bench_hub(
    db: &std::path::Path,
    redis: Option<&str>,
    run: usize,
) -> Result<CallbackHub, String> {
    let builder = match redis {
        None => CallbackHub::builder(RedbOutbox::open(db).map_err(|error| error.to_string())?),
        #[cfg(feature = "redis-outbox")]
        Some(url) => CallbackHub::builder(
            tars_rpc::callback::RedisOutbox::builder(url)
                .prefix(format!("tars-callback-bench:{}:{run}", std::process::id()))
                .connect()
                .await
                .map_err(|error| error.to_string())?,
        ),
        #[cfg(not(feature = "redis-outbox"))]
        Some(_) => {
            let _ = run;
            return Err("--redis needs --features redis-outbox".into());
        }
    };
    builder.build().await.map_err(hub_error)
}

/// A callback object that only counts, for the benchmark.
#[derive(Default)]
struct QuietNotify {
    count: std::sync::atomic::AtomicU64,
}

impl Notify for QuietNotify {
    async fn on_event(&self, _current: &Current, _n: i64) -> tars_rpc::Result<()> {
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// What a callback is compared with: seconds per plain call and per plain push.
struct Baselines {
    call: f64,
    push: f64,
}

fn report(label: &str, count: i64, elapsed: Duration, hub: Option<(Duration, &Baselines)>) {
    let per_second = count as f64 / elapsed.as_secs_f64();
    let micros = elapsed.as_secs_f64() * 1e6 / count as f64;
    match hub {
        None => println!("{label}: {count} in {elapsed:.2?}: {per_second:.0}/s, {micros:.1} us each"),
        Some((queued, baselines)) => println!(
            "{label}: {count} queued in {queued:.2?}, delivered in {elapsed:.2?}: {per_second:.0}/s, \
             {micros:.1} us each ({:+.1} us over a plain call, {:+.1} us over a plain push)",
            micros - baselines.call * 1e6,
            micros - baselines.push * 1e6
        ),
    }
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|at| args.get(at + 1).cloned())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("bench") {
        let count = option(&args, "--count")
            .and_then(|n| n.parse().ok())
            .unwrap_or(20_000);
        let registrations = option(&args, "--registrations")
            .and_then(|n| n.parse().ok())
            .unwrap_or(8);
        bench(count, registrations, option(&args, "--redis")).await
    } else if args.first().map(String::as_str) == Some("serve") {
        match (option(&args, "--db"), option(&args, "--callback")) {
            (Some(db), Some(callback)) => {
                let publish = option(&args, "--publish")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                serve(&db, &callback, publish).await
            }
            _ => Err("serve needs --db FILE --callback PROXY".into()),
        }
    } else {
        let down = option(&args, "--down-secs")
            .and_then(|secs| secs.parse::<f64>().ok())
            .unwrap_or(2.0);
        demo(Duration::from_secs_f64(down)).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
