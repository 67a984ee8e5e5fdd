//! Server-push benchmark: TarsCpp's PushCallbackDemo (`registerPush`, then `pushMsg` to every
//! registered client) measured three ways, server and clients in this one process over
//! loopback.
//!
//! ```sh
//! cargo bench --bench push
//! ```
//!
//! 1. **Fan-out**: N clients (1, 100, 1000), each on a connection of its own (a `Communicator`
//!    per client), all registered; the server broadcasts one pre-encoded frame per push with
//!    `Subscribers::broadcast` as fast as the clients take them. It sends in batches and lets
//!    no client fall more than a window of pushes behind (default 4 batches of 128), so that no
//!    queue (the server's outgoing queue of 8 MiB per connection and 1 GiB in all, the
//!    client's push queue of 1024) can overflow: a valid run drops nothing. Figure: pushes delivered per
//!    second, counted in the clients' push callbacks.
//! 2. **Latency**: the server pushes its send time every millisecond to 1 and to 100 clients;
//!    each client's callback records receive time minus send time (one `Instant` base, one
//!    process). Figures: p50 and p99 over every sample of every client.
//! 3. **Memory per idle registered client**: a counting global allocator (switched on only
//!    for this phase) gives the bytes still allocated after N clients (1000 by default) have
//!    connected, registered and gone idle, and the sizes of the blocks they added. With raw
//!    TCP clients that send one hand-made `registerPush` frame (a process of their own, which
//!    allocates nothing in this one) it is the server's cost; raw clients that only connect
//!    give the server's cost of an idle connection that is not a subscriber; with real clients,
//!    the server's and the client's. VmRSS is reported beside it as a cross-check. The real
//!    clients' rows are skipped when both ends of their connections would pass this process's
//!    open-file limit (10,000 clients under a limit of 20,000).
//!
//! Not a criterion benchmark: it prints tables. The server runs on a tokio runtime of its own
//! and the clients on another, sharing the machine's cores. Figures in `BENCHMARKS.md`.
//! Exits non-zero if a run loses or fails a push, a client cannot register, or a wait times
//! out.
//!
//! Environment:
//! - `PUSH_BENCH_CLIENTS`: fan-out client counts, comma-separated (default `1,100,1000`; empty:
//!   no fan-out)
//! - `PUSH_BENCH_DELIVERIES`: pushes delivered per fan-out run, all clients together, rounded
//!   down to whole batches (default 1000000 for `"push message"`, 400000 for the 1 KiB payload;
//!   when set, both)
//! - `PUSH_BENCH_ROUNDS`: fan-out runs per cell; the run of median pushes/s is shown (default 5)
//! - `PUSH_BENCH_BATCH`: pushes per batch (default 128)
//! - `PUSH_BENCH_WINDOW`: batches a client may be behind (default 4)
//! - `PUSH_BENCH_CLUSTER_CLIENTS`: client counts of the three-instance fan-out, each client
//!   registered with every instance through an `on_connect` hook (default `1000`; empty: none)
//! - `PUSH_BENCH_LATENCY_CLIENTS`: latency client counts (default `1,100`; empty: none)
//! - `PUSH_BENCH_SAMPLES`: latency samples per client, after 100 warm-up pushes (default 2000)
//! - `PUSH_BENCH_IDLE_CLIENTS`: clients of the memory phase (default 1000; 0: no memory phase)
//! - `PUSH_BENCH_SERVER_THREADS`, `PUSH_BENCH_CLIENT_THREADS`: worker threads of the two
//!   runtimes (default: cores)
//! - `PUSH_BENCH_DEADLINE_SECS`: the whole run is abandoned (exit code 2) after this long
//!   (default 900)

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::framing::FrameCodec;
use tars_rpc::packet::{RequestPacket, ResponsePacket};
use tars_rpc::push::{PushFrame, Subscribers};
use tars_rpc::server::Server;
use tars_rpc::{tars_interface, tars_push, Current, TarsStruct};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

// ---------------------------------------------------------------------------------------------
// The counting allocator

/// Counts the bytes (as requested, not malloc's overhead) and blocks allocated and not yet
/// freed while switched on. Switched off, it costs one relaxed load per call. The difference
/// between two readings taken while it is on is exactly the change in live heap bytes, even
/// when blocks allocated earlier are freed in between.
struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static LIVE_BLOCKS: AtomicI64 = AtomicI64::new(0);

/// Live blocks by requested size: one counter per size up to [`LARGE_BLOCK`], one for all
/// the larger ones.
const LARGE_BLOCK: usize = 16 * 1024;
static LIVE_BY_SIZE: [AtomicI64; LARGE_BLOCK + 1] = [const { AtomicI64::new(0) }; LARGE_BLOCK + 1];

fn count(bytes: i64, blocks: i64) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed);
        LIVE_BLOCKS.fetch_add(blocks, Ordering::Relaxed);
    }
}

/// Counts a block of `size` bytes in (`blocks` 1) or out (-1) of its size's counter.
fn count_size(size: usize, blocks: i64) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE_BY_SIZE[size.min(LARGE_BLOCK)].fetch_add(blocks, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            count(layout.size() as i64, 1);
            count_size(layout.size(), 1);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            count(layout.size() as i64, 1);
            count_size(layout.size(), 1);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            count(new_size as i64 - layout.size() as i64, 0);
            count_size(layout.size(), -1);
            count_size(new_size, 1);
        }
        new
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        count(-(layout.size() as i64), -1);
        count_size(layout.size(), -1);
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Live heap bytes and blocks (since counting was switched on) and VmRSS, at one moment.
#[derive(Debug, Clone, Copy)]
struct MemorySnapshot {
    bytes: i64,
    blocks: i64,
    rss_kib: i64,
}

impl MemorySnapshot {
    fn take() -> Self {
        Self {
            bytes: LIVE_BYTES.load(Ordering::SeqCst),
            blocks: LIVE_BLOCKS.load(Ordering::SeqCst),
            rss_kib: vm_rss_kib().unwrap_or(-1),
        }
    }
}

/// Live blocks by size at one moment (see [`LIVE_BY_SIZE`]).
struct BlockSizes(Vec<i64>);

impl BlockSizes {
    fn take() -> Self {
        Self(
            LIVE_BY_SIZE
                .iter()
                .map(|live| live.load(Ordering::SeqCst))
                .collect(),
        )
    }

    /// The sizes of which at least half a block per client more is live than `before`:
    /// `(size, blocks per client)`, by size (the last size stands for all larger ones).
    fn grown_since(&self, before: &Self, clients: usize) -> Vec<(usize, f64)> {
        self.0
            .iter()
            .zip(&before.0)
            .enumerate()
            .map(|(size, (after, before))| (size, (after - before) as f64 / clients as f64))
            .filter(|&(_, per_client)| per_client >= 0.5)
            .collect()
    }
}

/// CPU time (user and system), from `/proc`: the whole process's, and that of the server's
/// and the clients' runtime threads.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTimes {
    total: Duration,
    server: Duration,
    clients: Duration,
}

/// The names of the two runtimes' threads (at most 15 bytes, what `/proc` shows).
const SERVER_THREADS: &str = "bench-server";
const CLIENT_THREADS: &str = "bench-client";

impl CpuTimes {
    fn take() -> Option<Self> {
        let (_, total) = thread_cpu("/proc/self/stat")?;
        let mut times = Self {
            total,
            ..Self::default()
        };
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let Some((name, cpu)) = thread_cpu(&task.path().join("stat").to_string_lossy()) else {
                continue;
            };
            if name == SERVER_THREADS {
                times.server += cpu;
            } else if name == CLIENT_THREADS {
                times.clients += cpu;
            }
        }
        Some(times)
    }

    fn since(self, before: Self) -> Self {
        Self {
            total: self.total.saturating_sub(before.total),
            server: self.server.saturating_sub(before.server),
            clients: self.clients.saturating_sub(before.clients),
        }
    }

    /// `0.84 µs (server 0.30, clients 0.50)`: per item of `count`.
    fn per(&self, count: u64) -> String {
        let micros = |cpu: Duration| cpu.as_secs_f64() * 1e6 / count.max(1) as f64;
        format!(
            "{:.2} µs (server {:.2}, clients {:.2})",
            micros(self.total),
            micros(self.server),
            micros(self.clients)
        )
    }
}

/// The command name and CPU time of a process or thread, from its `stat` file. The times are
/// in clock ticks of 10 ms (`CLK_TCK` is 100 on Linux).
fn thread_cpu(stat: &str) -> Option<(String, Duration)> {
    let stat = std::fs::read_to_string(stat).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_string();
    // the fields after the name: state, ppid, ...; utime and stime are fields 14 and 15 of
    // the whole line
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
    let ticks = ticks(11)? + ticks(12)?;
    Some((name, Duration::from_millis(ticks * 10)))
}

/// The system's load averages, from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

/// VmRSS of this process from `/proc/self/status`, in KiB.
fn vm_rss_kib() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// The interface: TarsCpp's PushCallbackDemo, plus a timestamped push

const SERVANT: &str = "TestApp.PushCallbackServer.PushObj";

#[tars_interface]
pub trait Hello {
    /// `int registerPush();`: the server keeps the caller's `Current` to push to it later.
    async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32>;
}

#[tars_push]
pub trait Push {
    /// `int pushMsg(out string sRsp);`
    async fn push_msg(&self, ret: i32, s_rsp: String);

    /// `int stamp(out long sentNanos);`: the server's send time, in nanoseconds since the
    /// process's base `Instant`; `ret` 1 marks a warm-up push.
    async fn stamp(&self, ret: i32, sent_nanos: i64);
}

struct HelloImp {
    subscribers: Subscribers,
}

impl Hello for HelloImp {
    async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32> {
        self.subscribers.add(current);
        Ok(0)
    }
}

// ---------------------------------------------------------------------------------------------
// The client side

/// Lets the pusher wait until every client has received a given number of pushes: level `k`
/// counts the clients that have received at least `(k + 1) * batch`.
struct Gate {
    batch: u64,
    levels: Box<[AtomicUsize]>,
    clients: usize,
    notify: Notify,
}

impl Gate {
    fn new(clients: usize, batch: u64, levels: usize) -> Arc<Self> {
        Arc::new(Self {
            batch: batch.max(1),
            levels: (0..levels).map(|_| AtomicUsize::new(0)).collect(),
            clients,
            notify: Notify::new(),
        })
    }

    /// A client has now received `received` pushes.
    fn passed(&self, received: u64) {
        if received % self.batch != 0 {
            return;
        }
        let level = (received / self.batch - 1) as usize;
        if let Some(level) = self.levels.get(level) {
            if level.fetch_add(1, Ordering::AcqRel) + 1 == self.clients {
                // every waiter: with several instances, each instance's pusher waits
                self.notify.notify_waiters();
            }
        }
    }

    /// Waits until every client has reached `level`, for at most `timeout`.
    async fn wait(&self, level: usize, timeout: Duration) -> Result<(), String> {
        let reached = async {
            loop {
                // registered before the check, so that a notification after it is not missed
                let notified = self.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.levels[level].load(Ordering::Acquire) >= self.clients {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, reached).await.map_err(|_| {
            format!(
                "timed out after {timeout:?}: {} of {} clients have received {} pushes",
                self.levels[level].load(Ordering::Acquire),
                self.clients,
                (level as u64 + 1) * self.batch
            )
        })
    }
}

/// What one client's push callback records.
struct ClientState {
    received: AtomicU64,
    gate: Arc<Gate>,
    base: Instant,
    /// Receive time minus send time of each measured `stamp` push, in nanoseconds.
    latencies: Mutex<Vec<i64>>,
}

struct Recorder(Arc<ClientState>);

impl Recorder {
    fn received(&self) {
        let received = self.0.received.fetch_add(1, Ordering::AcqRel) + 1;
        self.0.gate.passed(received);
    }
}

impl Push for Recorder {
    async fn push_msg(&self, _ret: i32, _s_rsp: String) {
        self.received();
    }

    async fn stamp(&self, ret: i32, sent_nanos: i64) {
        let now = self.0.base.elapsed().as_nanos() as i64;
        if ret == 0 {
            self.0
                .latencies
                .lock()
                .expect("no panic while recording")
                .push(now - sent_nanos);
        }
        self.received();
    }
}

struct Client {
    _proxy: HelloProxy,
    state: Arc<ClientState>,
}

/// Connects `count` clients, each with a communicator of its own (so a connection per
/// instance), sets their push callback and registers them, `PARALLEL_CONNECTS` at a time: with
/// one instance by calling `registerPush`, with several from an `on_connect` hook, as a client
/// of a service with several instances does.
async fn connect_clients(
    count: usize,
    ports: &[u16],
    gate: &Arc<Gate>,
    base: Instant,
) -> Result<Vec<Client>, String> {
    const PARALLEL_CONNECTS: usize = 50;
    let endpoints: Vec<String> = ports
        .iter()
        .map(|port| format!("tcp -h 127.0.0.1 -p {port}"))
        .collect();
    let address = format!("{SERVANT}@{}", endpoints.join(":"));
    let everywhere = ports.len() > 1;
    let config = Communicator::builder()
        .call_timeout(TIMEOUT)
        .connect_timeout(TIMEOUT);
    let connects = futures::stream::iter(0..count)
        .map(|_| {
            let config = config.clone();
            let address = address.clone();
            let state = Arc::new(ClientState {
                received: AtomicU64::new(0),
                gate: gate.clone(),
                base,
                latencies: Mutex::new(Vec::new()),
            });
            async move {
                let proxy: HelloProxy = config
                    .build()
                    .string_to_proxy(&address)
                    .map_err(|error| format!("bad proxy string: {error}"))?;
                proxy.set_push_handler(PushCallback(Recorder(state.clone())));
                if everywhere {
                    proxy.on_connect(|proxy: HelloProxy, endpoint| async move {
                        if let Err(error) = proxy.register_push().await {
                            eprintln!("push bench: registering with {endpoint} failed: {error}");
                        }
                    });
                    proxy
                        .connect()
                        .await
                        .map_err(|error| format!("cannot connect: {error}"))?;
                } else {
                    match proxy.register_push().await {
                        Ok(0) => {}
                        Ok(ret) => return Err(format!("registerPush returned {ret}")),
                        Err(error) => return Err(format!("registerPush failed: {error}")),
                    }
                }
                Ok(Client {
                    _proxy: proxy,
                    state,
                })
            }
        })
        .buffer_unordered(PARALLEL_CONNECTS);
    connects.collect::<Vec<_>>().await.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// The harness

/// The capacity of the server's outgoing queue per connection and of the client's push queue
/// per connection (both defaults); the fan-out window must stay below it.
const QUEUE_CAPACITY: u64 = 1024;

/// The instances of the cluster fan-out.
const CLUSTER_INSTANCES: usize = 3;

/// How long any one wait may take before the run is declared failed.
const TIMEOUT: Duration = Duration::from_secs(30);

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not `{text}`")),
        Err(_) => default,
    }
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(text) => text
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .map(|item| {
                item.trim().parse().unwrap_or_else(|_| {
                    panic!("{name} must be comma-separated whole numbers, not `{text}`")
                })
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}

/// `12 µs`, `1.25 ms`, `3.1 s`.
fn format_duration(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else if micros < 1e6 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

/// The bench's two runtimes and its server.
struct Bench {
    server_runtime: Runtime,
    client_runtime: Runtime,
    server: Option<Server>,
    subscribers: Subscribers,
    port: u16,
    /// More instances of the servant, for the cluster fan-out: their servers, subscribers and
    /// ports.
    others: Vec<(Server, Subscribers, u16)>,
    base: Instant,
    batch: u64,
    window: usize,
}

impl Bench {
    /// Runs `future` as a task of the server's runtime and waits for it.
    fn on_server<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> T {
        let task = self.server_runtime.spawn(future);
        self.server_runtime
            .block_on(task)
            .expect("a server task panicked")
    }

    /// The subscribers of the first `instances` instances.
    fn subscribers_of(&self, instances: usize) -> Vec<Subscribers> {
        let others = self
            .others
            .iter()
            .map(|(_, subscribers, _)| subscribers.clone());
        std::iter::once(self.subscribers.clone())
            .chain(others)
            .take(instances)
            .collect()
    }

    /// Waits until `len` clients are registered (with each of the first `instances`).
    fn wait_registered_with(&self, instances: usize, len: usize) -> Result<(), String> {
        let deadline = Instant::now() + TIMEOUT;
        let subscribers = self.subscribers_of(instances);
        loop {
            let registered = subscribers.iter().map(Subscribers::len).min().unwrap_or(0);
            let most = subscribers.iter().map(Subscribers::len).max().unwrap_or(0);
            if registered == len && most == len {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{registered} clients registered after {TIMEOUT:?}, expected {len}"
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the first server has `len` connections open.
    fn wait_connections(&self, len: usize) -> Result<(), String> {
        let server = self.server.as_ref().ok_or("no server")?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let open = server.stats().connections;
            if open == len {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{open} connections open after {TIMEOUT:?}, expected {len}"
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until `len` clients are registered.
    fn wait_registered(&self, len: usize) -> Result<(), String> {
        self.wait_registered_with(1, len)
    }

    /// Connects `count` clients to the first `instances` instances and registers them.
    fn connect(
        &self,
        instances: usize,
        count: usize,
        gate: &Arc<Gate>,
    ) -> Result<Vec<Client>, String> {
        let others = self.others.iter().map(|(_, _, port)| *port);
        let ports: Vec<u16> = std::iter::once(self.port)
            .chain(others)
            .take(instances)
            .collect();
        let clients = self
            .client_runtime
            .block_on(connect_clients(count, &ports, gate, self.base))?;
        // one connection per client and instance: the registries are keyed by connection
        self.wait_registered_with(instances, count)?;
        Ok(clients)
    }

    /// Drops `clients` and waits until the servers have forgotten them.
    fn disconnect(&self, instances: usize, clients: Vec<Client>) -> Result<(), String> {
        // the connections' tasks run on the client runtime; dropping the proxies stops them
        let _entered = self.client_runtime.enter();
        drop(clients);
        self.wait_registered_with(instances, 0)
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Fan-out

struct FanOutRun {
    elapsed: Duration,
    /// CPU time during the run.
    cpu: Option<CpuTimes>,
    delivered: u64,
    failed: usize,
}

impl FanOutRun {
    fn per_sec(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU time per delivered push.
    fn cpu_per_push(&self) -> String {
        self.cpu
            .map_or_else(|| "?".to_string(), |cpu| cpu.per(self.delivered))
    }
}

/// Sends batches `from..to` of `frame` to every subscriber, no client more than `window`
/// batches behind, and waits until every client has received them all. Every client must
/// have received `from` batches already.
async fn drive(
    subscribers: Subscribers,
    gate: Arc<Gate>,
    frame: PushFrame,
    levels: (usize, usize),
    per_level: u64,
    window: usize,
) -> Result<(Duration, usize), String> {
    let (from, to) = levels;
    let started = Instant::now();
    let mut failed = 0;
    for level in from..to {
        for _ in 0..per_level {
            failed += subscribers.broadcast(&frame).failed.len();
        }
        if failed > 0 {
            return Err(format!(
                "{failed} pushes could not be queued ({} clients left registered)",
                subscribers.len()
            ));
        }
        // with `level + 1` batches sent, let no client be more than `window - 1` behind, so
        // that the next batch leaves it at most `window` behind
        if let Some(wait_for) = (level + 1).checked_sub(window) {
            if wait_for >= from {
                gate.wait(wait_for, TIMEOUT).await?;
            }
        }
    }
    gate.wait(to - 1, TIMEOUT).await?;
    Ok((started.elapsed(), failed))
}

struct FanOutRow {
    instances: usize,
    clients: usize,
    payload: &'static str,
    pushes_per_client: u64,
    runs: Vec<FanOutRun>,
}

/// What a fan-out runs: on how many instances, to how many clients, what.
struct FanOut<'a> {
    instances: usize,
    clients: usize,
    payload: &'static str,
    text: &'a str,
}

/// Every instance broadcasts `batches` of `batch` pushes from `levels.0` to `levels.1`, at
/// once, and all are waited for.
async fn drive_all(
    subscribers: Vec<Subscribers>,
    gate: Arc<Gate>,
    frame: PushFrame,
    levels: (usize, usize),
    batch: u64,
    window: usize,
) -> Result<(Duration, usize), String> {
    let started = Instant::now();
    let runs = subscribers.into_iter().map(|subscribers| {
        drive(
            subscribers,
            gate.clone(),
            frame.clone(),
            levels,
            batch,
            window,
        )
    });
    let mut failed = 0;
    for run in futures::future::join_all(runs).await {
        failed += run?.1;
    }
    Ok((started.elapsed(), failed))
}

fn fan_out(
    bench: &Bench,
    what: FanOut<'_>,
    deliveries: usize,
    rounds: usize,
) -> Result<FanOutRow, String> {
    let FanOut {
        instances,
        clients,
        payload,
        text,
    } = what;
    let batch = bench.batch;
    let per_instance = deliveries as u64 / instances as u64;
    let batches = (per_instance / clients as u64 / batch).max(1) as usize;
    // one warm-up batch, then `rounds` runs of `batches`; a level is a batch from every instance
    let gate = Gate::new(clients, batch * instances as u64, 1 + rounds * batches);
    let connected = Instant::now();
    let all = bench.connect(instances, clients, &gate)?;
    eprintln!(
        "push bench: fan-out to {clients} clients of {instances} instance(s) ({payload}): connected and registered in {}",
        format_duration(connected.elapsed())
    );
    let frame = PushSender::push_msg_frame(0, text.to_string());
    let window = bench.window;
    let subscribers = bench.subscribers_of(instances);
    let warm = bench.on_server({
        let (subscribers, gate, frame) = (subscribers.clone(), gate.clone(), frame.clone());
        drive_all(subscribers, gate, frame, (0, 1), batch, window)
    });
    let mut runs = Vec::new();
    let mut outcome = warm.map(|_| ());
    for round in 0..rounds {
        if outcome.is_err() {
            break;
        }
        let from = 1 + round * batches;
        let cpu_before = CpuTimes::take();
        let run = bench.on_server({
            let (subscribers, gate, frame) = (subscribers.clone(), gate.clone(), frame.clone());
            drive_all(
                subscribers,
                gate,
                frame,
                (from, from + batches),
                batch,
                window,
            )
        });
        match run {
            Ok((elapsed, failed)) => runs.push(FanOutRun {
                elapsed,
                cpu: CpuTimes::take()
                    .zip(cpu_before)
                    .map(|(after, before)| after.since(before)),
                delivered: instances as u64 * clients as u64 * batches as u64 * batch,
                failed,
            }),
            Err(error) => outcome = Err(error),
        }
    }
    // every client got every push exactly once
    if outcome.is_ok() {
        let expected = (1 + runs.len() as u64 * batches as u64) * batch * instances as u64;
        let wrong = all
            .iter()
            .filter(|client| client.state.received.load(Ordering::Acquire) != expected)
            .count();
        if wrong > 0 {
            outcome = Err(format!(
                "{wrong} clients did not receive exactly {expected} pushes"
            ));
        }
    }
    let closed = bench.disconnect(instances, all);
    outcome?;
    closed?;
    let rates: Vec<String> = runs
        .iter()
        .map(|run| format!("{:.0}", run.per_sec()))
        .collect();
    eprintln!(
        "push bench: fan-out to {clients} clients of {instances} instance(s) ({payload}): pushes/s of each run {}",
        rates.join(", ")
    );
    Ok(FanOutRow {
        instances,
        clients,
        payload,
        pushes_per_client: batches as u64 * batch * instances as u64,
        runs,
    })
}

// ---------------------------------------------------------------------------------------------
// 2. Latency

const LATENCY_WARMUP: usize = 100;
const LATENCY_INTERVAL: Duration = Duration::from_millis(1);

struct LatencyRow {
    clients: usize,
    samples: Vec<i64>,
    elapsed: Duration,
    /// CPU time while pushing, warm-up included.
    cpu: Option<CpuTimes>,
    /// Pushes delivered, warm-up included.
    delivered: u64,
}

impl LatencyRow {
    /// The `p`-th percentile (nearest rank) of the sorted samples.
    fn percentile(&self, p: f64) -> Duration {
        let n = self.samples.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        Duration::from_nanos(self.samples[rank.clamp(1, n) - 1].max(0) as u64)
    }
}

fn latency(bench: &Bench, clients: usize, samples: usize) -> Result<LatencyRow, String> {
    let total = LATENCY_WARMUP + samples;
    let gate = Gate::new(clients, total as u64, 1);
    let all = bench.connect(1, clients, &gate)?;
    for client in &all {
        client
            .state
            .latencies
            .lock()
            .expect("no panic while recording")
            .reserve(samples);
    }
    let subscribers = bench.subscribers.clone();
    let base = bench.base;
    let started = Instant::now();
    let cpu_before = CpuTimes::take();
    let outcome = bench.on_server({
        let gate = gate.clone();
        async move {
            let mut ticks = tokio::time::interval(LATENCY_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for i in 0..total {
                ticks.tick().await;
                let ret = i32::from(i < LATENCY_WARMUP);
                let sent = base.elapsed().as_nanos() as i64;
                let report = subscribers.broadcast(&PushSender::stamp_frame(ret, sent));
                if !report.is_complete() {
                    return Err(format!(
                        "{} pushes could not be queued",
                        report.failed.len()
                    ));
                }
            }
            gate.wait(0, TIMEOUT).await
        }
    });
    let elapsed = started.elapsed();
    let cpu = CpuTimes::take()
        .zip(cpu_before)
        .map(|(after, before)| after.since(before));
    let mut all_samples = Vec::with_capacity(clients * samples);
    for client in &all {
        all_samples.extend_from_slice(&client.state.latencies.lock().expect("no panic"));
    }
    let closed = bench.disconnect(1, all);
    outcome?;
    closed?;
    if all_samples.len() != clients * samples {
        return Err(format!(
            "{} latency samples, expected {}",
            all_samples.len(),
            clients * samples
        ));
    }
    all_samples.sort_unstable();
    Ok(LatencyRow {
        clients,
        samples: all_samples,
        elapsed,
        cpu,
        delivered: (clients * total) as u64,
    })
}

// ---------------------------------------------------------------------------------------------
// 3. Memory per idle registered client

/// The `registerPush` request of a raw client, as one frame.
fn register_frame() -> Bytes {
    let packet = RequestPacket {
        request_id: 1,
        servant_name: SERVANT.to_string(),
        func_name: "registerPush".to_string(),
        timeout: 10_000,
        ..RequestPacket::default()
    };
    let mut frame = BytesMut::new();
    FrameCodec::default()
        .write_frame(&mut frame, |buf| packet.write_fields(buf))
        .expect("a small frame");
    frame.freeze()
}

/// A client that is nothing but a blocking socket: sends `frame` (a `registerPush`) and reads
/// the reply. It allocates nothing that outlives the call.
fn raw_register(port: u16, frame: &[u8]) -> Result<TcpStream, String> {
    let io = |error: std::io::Error| format!("raw client: {error}");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(io)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.write_all(frame).map_err(io)?;
    let mut prefix = [0; 4];
    stream.read_exact(&mut prefix).map_err(io)?;
    let len = u32::from_be_bytes(prefix) as usize;
    let mut body = [0; 512];
    let body = body
        .get_mut(..len.saturating_sub(4))
        .ok_or_else(|| format!("raw client: a reply of {len} bytes"))?;
    stream.read_exact(body).map_err(io)?;
    let reply = ResponsePacket::decode_from(body).map_err(|error| error.to_string())?;
    if reply.request_id != 1 || !reply.ret.is_success() {
        return Err(format!("raw client: registerPush answered {reply:?}"));
    }
    Ok(stream)
}

struct MemoryRow {
    what: String,
    clients: usize,
    before: MemorySnapshot,
    after: MemorySnapshot,
    /// After the clients were dropped and the server forgot them.
    released: Option<MemorySnapshot>,
    /// The sizes of the blocks the clients added, with how many per client.
    sizes: Vec<(usize, f64)>,
}

impl MemoryRow {
    fn bytes_per_client(&self) -> f64 {
        (self.after.bytes - self.before.bytes) as f64 / self.clients as f64
    }

    fn blocks_per_client(&self) -> f64 {
        (self.after.blocks - self.before.blocks) as f64 / self.clients as f64
    }

    fn rss_per_client(&self) -> f64 {
        (self.after.rss_kib - self.before.rss_kib) as f64 * 1024.0 / self.clients as f64
    }
}

/// How long the clients stay idle before the reading.
const SETTLE: Duration = Duration::from_millis(500);

/// The environment variable that makes this program the raw clients' process (see
/// [`raw_clients_child`]): `register,PORT,COUNT` or `plain,PORT,COUNT`.
const RAW_CHILD: &str = "PUSH_BENCH_RAW_CHILD";

/// The raw clients' process: opens the connections (registered or not), says `ready` on its
/// standard output (or why not), and keeps them open until its standard input closes. Raw
/// clients live in a process of their own so that 10,000 of them and the server's 10,000
/// sockets fit in the open-file limits of two processes, not one, and so that the server's
/// process holds nothing of them.
fn raw_clients_child(spec: &str) -> ! {
    let opened = (|| -> Result<Vec<TcpStream>, String> {
        let mut parts = spec.split(',');
        let (Some(kind), Some(port), Some(count)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("{RAW_CHILD}={spec}: expected KIND,PORT,COUNT"));
        };
        let port: u16 = port.parse().map_err(|_| format!("bad port {port}"))?;
        let count: usize = count.parse().map_err(|_| format!("bad count {count}"))?;
        let frame = register_frame();
        let io = |error: std::io::Error| format!("plain client: {error}");
        (0..count)
            .map(|_| match kind {
                "register" => raw_register(port, &frame),
                _ => TcpStream::connect(("127.0.0.1", port)).map_err(io),
            })
            .collect()
    })();
    let code = match &opened {
        Ok(_) => {
            println!("ready");
            0
        }
        Err(error) => {
            println!("{error}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    // until the bench closes our standard input (or dies)
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    drop(opened);
    std::process::exit(code);
}

/// The raw clients' process, seen from the bench.
struct RawClients(std::process::Child);

impl RawClients {
    /// Starts `count` raw clients of `kind` (`register` or `plain`) in a process of their own
    /// and waits until they are connected (and registered).
    fn start(kind: &str, port: u16, count: usize) -> Result<Self, String> {
        use std::io::BufRead;
        let exe = std::env::current_exe().map_err(|error| format!("raw clients: {error}"))?;
        let mut child = std::process::Command::new(exe)
            .env(RAW_CHILD, format!("{kind},{port},{count}"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|error| format!("raw clients: {error}"))?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        }
        let clients = Self(child);
        match line.trim() {
            "ready" => Ok(clients),
            said => Err(format!("raw clients: {said}")),
        }
    }
}

impl Drop for RawClients {
    /// Closes the clients' connections: the process ends when its standard input closes.
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

fn memory_raw(bench: &Bench, clients: usize) -> Result<MemoryRow, String> {
    let before = MemorySnapshot::take();
    let sizes_before = BlockSizes::take();
    let raw = RawClients::start("register", bench.port, clients)?;
    bench.wait_registered(clients)?;
    std::thread::sleep(SETTLE);
    let after = MemorySnapshot::take();
    let sizes = BlockSizes::take().grown_since(&sizes_before, clients);
    drop(raw);
    bench.wait_registered(0)?;
    bench.wait_connections(0)?;
    std::thread::sleep(SETTLE);
    Ok(MemoryRow {
        what: "raw sockets, registered: the server's side".to_string(),
        clients,
        before,
        after,
        released: Some(MemorySnapshot::take()),
        sizes,
    })
}

/// Raw sockets that connect and send nothing: the server's cost of an idle connection that is
/// not a subscriber.
fn memory_plain(bench: &Bench, clients: usize) -> Result<MemoryRow, String> {
    let before = MemorySnapshot::take();
    let sizes_before = BlockSizes::take();
    let raw = RawClients::start("plain", bench.port, clients)?;
    bench.wait_connections(clients)?;
    std::thread::sleep(SETTLE);
    let after = MemorySnapshot::take();
    let sizes = BlockSizes::take().grown_since(&sizes_before, clients);
    drop(raw);
    bench.wait_connections(0)?;
    std::thread::sleep(SETTLE);
    Ok(MemoryRow {
        what: "raw sockets, connected only: the server's side".to_string(),
        clients,
        before,
        after,
        released: Some(MemorySnapshot::take()),
        sizes,
    })
}

/// The most open files this process may have, from `/proc/self/limits`.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Batches of 1 KiB pushes each client receives in the burst of [`memory_real`].
const BURST_BATCHES: usize = 4;

/// Idle tars-rpc clients, then the same clients idle again after a burst of 1 KiB pushes
/// (which touches the connections' buffers).
fn memory_real(bench: &Bench, clients: usize) -> Result<[MemoryRow; 2], String> {
    let batch = bench.batch;
    let gate = Gate::new(clients, batch, BURST_BATCHES);
    let before = MemorySnapshot::take();
    let all = bench.connect(1, clients, &gate)?;
    std::thread::sleep(SETTLE);
    let after = MemorySnapshot::take();
    let frame = PushSender::push_msg_frame(0, "x".repeat(1024));
    let burst = bench.on_server(drive(
        bench.subscribers.clone(),
        gate,
        frame,
        (0, BURST_BATCHES),
        batch,
        bench.window,
    ));
    std::thread::sleep(SETTLE);
    let after_burst = MemorySnapshot::take();
    let closed = bench.disconnect(1, all);
    burst?;
    closed?;
    std::thread::sleep(SETTLE);
    let released = MemorySnapshot::take();
    Ok([
        MemoryRow {
            what: "tars-rpc clients: the server's and the clients' sides".to_string(),
            clients,
            before,
            after,
            released: None,
            sizes: Vec::new(),
        },
        MemoryRow {
            what: format!(
                "the same, idle again after a burst of {} pushes of 1 KiB each",
                BURST_BATCHES as u64 * batch
            ),
            clients,
            before,
            after: after_burst,
            released: Some(released),
            sizes: Vec::new(),
        },
    ])
}

// ---------------------------------------------------------------------------------------------

fn main() {
    if let Ok(spec) = std::env::var(RAW_CHILD) {
        raw_clients_child(&spec);
    }
    let fan_out_clients = env_list("PUSH_BENCH_CLIENTS", &[1, 100, 1000]);
    let deliveries = env_usize("PUSH_BENCH_DELIVERIES", 1_000_000).max(1);
    let rounds = env_usize("PUSH_BENCH_ROUNDS", 5).max(1);
    let batch = env_usize("PUSH_BENCH_BATCH", 128).max(1) as u64;
    let window = env_usize("PUSH_BENCH_WINDOW", 4).max(1);
    let cluster_clients = env_list("PUSH_BENCH_CLUSTER_CLIENTS", &[1000]);
    let latency_clients = env_list("PUSH_BENCH_LATENCY_CLIENTS", &[1, 100]);
    let samples = env_usize("PUSH_BENCH_SAMPLES", 2000).max(1);
    let idle_clients = env_usize("PUSH_BENCH_IDLE_CLIENTS", 1000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_threads = env_usize("PUSH_BENCH_SERVER_THREADS", cores).max(1);
    let client_threads = env_usize("PUSH_BENCH_CLIENT_THREADS", cores).max(1);

    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .thread_name(SERVER_THREADS)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .thread_name(CLIENT_THREADS)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let subscribers = Subscribers::new();
    let server = server_runtime
        .block_on(
            Server::builder()
                .servant(
                    SERVANT,
                    "127.0.0.1:0",
                    HelloServant::new(HelloImp {
                        subscribers: subscribers.clone(),
                    }),
                )
                .start(),
        )
        .expect("the server starts");
    let port = server
        .local_addr(SERVANT)
        .expect("the servant is registered")
        .port();
    let others = (1..CLUSTER_INSTANCES)
        .map(|_| {
            let subscribers = Subscribers::new();
            let server = server_runtime
                .block_on(
                    Server::builder()
                        .servant(
                            SERVANT,
                            "127.0.0.1:0",
                            HelloServant::new(HelloImp {
                                subscribers: subscribers.clone(),
                            }),
                        )
                        .start(),
                )
                .expect("an instance starts");
            let port = server
                .local_addr(SERVANT)
                .expect("the servant is registered")
                .port();
            (server, subscribers, port)
        })
        .collect();
    let bench = Bench {
        server_runtime,
        client_runtime,
        server: Some(server),
        subscribers,
        port,
        others,
        base: Instant::now(),
        batch,
        window,
    };
    println!(
        "push bench: server and clients in one process over loopback, sharing {cores} cores: \
         server runtime of {server_threads} worker threads, clients' runtime of {client_threads}; \
         every client on a connection of its own; server queue {QUEUE_CAPACITY} frames per \
         connection, client push queue {QUEUE_CAPACITY}; load average at start {}",
        load_average()
    );

    if batch * window as u64 > QUEUE_CAPACITY {
        eprintln!(
            "push bench: warning: a window of {} pushes is more than the queues hold \
             ({QUEUE_CAPACITY}); pushes may be dropped and the runs fail",
            batch * window as u64
        );
    }
    // a last resort against a hang that the waits' timeouts do not catch
    let deadline = Duration::from_secs(env_usize("PUSH_BENCH_DEADLINE_SECS", 900) as u64);
    std::thread::spawn(move || {
        std::thread::sleep(deadline);
        eprintln!("push bench: FAILED: still running after {deadline:?}");
        std::process::exit(2);
    });

    let mut failures = Vec::new();

    // 3. memory first, while the heap and RSS have not been grown by the other phases
    let mut memory_rows = Vec::new();
    COUNTING.store(true, Ordering::SeqCst);
    if idle_clients > 0 {
        // registered first, from the heap as the server started it (the rows after it may
        // reuse some capacity it left: see "still allocated" in the output)
        match memory_raw(&bench, idle_clients) {
            Ok(row) => memory_rows.push(row),
            Err(error) => failures.push(format!("memory (raw clients): {error}")),
        }
        match memory_plain(&bench, idle_clients) {
            Ok(row) => memory_rows.push(row),
            Err(error) => failures.push(format!("memory (plain connections): {error}")),
        }
        // a tars-rpc client's connection has both its ends in this process
        let room = open_file_limit().map_or(true, |limit| 2 * idle_clients + 256 <= limit);
        if room {
            match memory_real(&bench, idle_clients) {
                Ok(rows) => memory_rows.extend(rows),
                Err(error) => failures.push(format!("memory (tars-rpc clients): {error}")),
            }
        } else {
            eprintln!(
                "push bench: {idle_clients} tars-rpc clients would pass this process's open-file \
                 limit ({:?}): their memory rows are skipped",
                open_file_limit()
            );
        }
    }
    COUNTING.store(false, Ordering::SeqCst);

    // 1. fan-out
    let big = "x".repeat(1024);
    let mut fan_out_rows = Vec::new();
    for (payload, text, deliveries) in [
        ("\"push message\"", "push message", deliveries),
        (
            "1 KiB",
            big.as_str(),
            env_usize("PUSH_BENCH_DELIVERIES", 400_000).max(1),
        ),
    ] {
        let cells = fan_out_clients.iter().map(|&clients| (1, clients)).chain(
            cluster_clients
                .iter()
                .map(|&clients| (CLUSTER_INSTANCES, clients)),
        );
        for (instances, clients) in cells {
            let what = FanOut {
                instances,
                clients: clients.max(1),
                payload,
                text,
            };
            let cell =
                format!("fan-out to {clients} clients of {instances} instance(s) ({payload})");
            match fan_out(&bench, what, deliveries, rounds) {
                Ok(row) => fan_out_rows.push(row),
                Err(error) => {
                    eprintln!("push bench: {cell}: {error}");
                    failures.push(format!("{cell}: {error}"));
                    // a wedged run may leave clients registered: start from none
                    if let Err(error) = bench.wait_registered_with(instances, 0) {
                        failures.push(format!("after the failed run: {error}"));
                    }
                }
            }
        }
    }

    // 2. latency
    let mut latency_rows = Vec::new();
    for &clients in &latency_clients {
        match latency(&bench, clients.max(1), samples) {
            Ok(row) => {
                eprintln!(
                    "push bench: latency with {clients} clients: {} samples in {}",
                    row.samples.len(),
                    format_duration(row.elapsed)
                );
                latency_rows.push(row);
            }
            Err(error) => failures.push(format!("latency with {clients} clients: {error}")),
        }
    }

    if !fan_out_rows.is_empty() {
        println!();
        println!(
            "Fan-out: pushes delivered per second (counted in the clients' callbacks), batches of \
             {batch}, no client more than {} pushes behind; median of {rounds} runs; CPU per push: the process's CPU time (every thread, 10 ms \
             ticks) per push delivered, and the shares of the server's and the clients' runtimes",
            batch * window as u64
        );
        println!();
        println!(
            "| instances | clients | payload | pushes per client | delivered per run | pushes/s delivered | broadcasts/s | CPU per push | runs (pushes/s) | failed |"
        );
        println!("|---:|---:|---|---:|---:|---:|---:|---:|---|---:|");
        for row in &mut fan_out_rows {
            let rates: Vec<String> = row
                .runs
                .iter()
                .map(|run| format!("{:.0}", run.per_sec()))
                .collect();
            let failed: usize = row.runs.iter().map(|run| run.failed).sum();
            row.runs.sort_by(|a, b| a.per_sec().total_cmp(&b.per_sec()));
            let median = &row.runs[row.runs.len() / 2];
            println!(
                "| {} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {} | {} |",
                row.instances,
                row.clients,
                row.payload,
                row.pushes_per_client,
                median.delivered,
                median.per_sec(),
                median.per_sec() / row.clients as f64,
                median.cpu_per_push(),
                rates.join(", "),
                failed
            );
        }
    }

    if !latency_rows.is_empty() {
        println!();
        println!(
            "Latency: one push every {} ms carrying its send time, {samples} samples per client \
             after {LATENCY_WARMUP} warm-up pushes; receive time taken in the client's callback",
            LATENCY_INTERVAL.as_millis()
        );
        println!();
        println!("| clients | samples | p50 | p99 | p99.9 | max | CPU per push |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for row in &latency_rows {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                row.clients,
                row.samples.len(),
                format_duration(row.percentile(50.0)),
                format_duration(row.percentile(99.0)),
                format_duration(row.percentile(99.9)),
                format_duration(row.percentile(100.0)),
                row.cpu
                    .map_or_else(|| "?".to_string(), |cpu| cpu.per(row.delivered))
            );
        }
    }

    if !memory_rows.is_empty() {
        println!();
        println!(
            "Memory: live heap bytes (counting allocator, requested sizes) and VmRSS, before and \
             after {idle_clients} clients connect, register and stay idle for {} ms",
            SETTLE.as_millis()
        );
        println!();
        println!(
            "| clients | heap bytes | per client | heap blocks per client | VmRSS | per client |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for row in &memory_rows {
            println!(
                "| {} | {} | {:.0} | {:.1} | {} KiB | {:.0} |",
                row.what,
                row.after.bytes - row.before.bytes,
                row.bytes_per_client(),
                row.blocks_per_client(),
                row.after.rss_kib - row.before.rss_kib,
                row.rss_per_client(),
            );
        }
        if let [raw, _, real, ..] = memory_rows.as_slice() {
            println!(
                "the clients' side (the difference): {:.0} bytes and {:.1} blocks per client",
                real.bytes_per_client() - raw.bytes_per_client(),
                real.blocks_per_client() - raw.blocks_per_client()
            );
        }
        for row in &memory_rows {
            if !row.sizes.is_empty() {
                let sizes: Vec<String> = row
                    .sizes
                    .iter()
                    .map(|&(size, per_client)| {
                        let size = if size == LARGE_BLOCK {
                            format!(">={size}")
                        } else {
                            size.to_string()
                        };
                        format!("{size} B x {per_client:.2}")
                    })
                    .collect();
                println!(
                    "blocks per client of \"{}\" by requested size: {}",
                    row.what,
                    sizes.join(", ")
                );
            }
        }
        for row in &memory_rows {
            if let Some(released) = row.released {
                println!(
                    "heap bytes still allocated once the clients of \"{}\" had left: {}",
                    row.what,
                    released.bytes - row.before.bytes
                );
            }
        }
    }

    let Bench {
        server_runtime,
        mut server,
        ..
    } = bench;
    if let Some(server) = server.take() {
        server_runtime.block_on(server.shutdown());
    }
    if !failures.is_empty() {
        for failure in &failures {
            eprintln!("push bench: FAILED: {failure}");
        }
        std::process::exit(1);
    }
}
