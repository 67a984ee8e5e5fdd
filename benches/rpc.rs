//! RPC echo benchmark: TarsCpp's QuickStartDemo `testHello` over loopback against the Rust
//! server and against the Node `@tars/rpc` server, in two modes:
//!
//! - **closed**: the Rust client (one proxy, so one connection) at concurrency 1 and 100; each
//!   caller makes its next call when its last one is answered. Figures: calls/s, p50, p99.
//!   The Rust server is called twice per cell: through a proxy naming its endpoint, and through
//!   one resolved by object name (`StaticDiscovery`; the row `Rust server, resolved`), which
//!   must not be slower: the lookup is made once, off the call path.
//! - **pipelined**: how TarsCpp's async proxy loads a server. One raw TCP connection; one task
//!   writes N pre-encoded `testHello` request frames (the bytes the Rust proxy sends, checked
//!   against it at start-up) as fast as the socket takes them, in 64 KiB `write_all`s, while
//!   another task reads the replies concurrently. Every reply is checked: each request id
//!   comes back exactly once, `iRet` 0, return value 0, `sRsp == sReq`. Figures: calls/s (N
//!   over the time from the first write to the last reply read) and the server's CPU per call:
//!   utime + stime (`/proc`, in `getconf CLK_TCK` ticks) of the Rust server runtime's worker
//!   threads (`/proc/self/task/*`, by thread name), or of the whole Node process, over the run,
//!   divided by N. A run that does not end within 120 s fails the bench, saying how far the
//!   writer and the reader got.
//!
//! ```sh
//! cargo bench --bench rpc
//! RPC_BENCH_MODES=pipelined cargo bench --bench rpc
//! ```
//!
//! Not a criterion benchmark: it prints a table per mode. The Rust server runs in this process
//! on a tokio runtime of its own; the Node server (`tests/node/rpc_server.js`) in a child
//! process, after `npm ci` in `tests/node` if its packages are missing. Without Node the Node
//! rows are skipped. Exits non-zero if a call fails or a reply is wrong or missing. Figures in
//! `BENCHMARKS.md`.
//!
//! Environment:
//! - `RPC_BENCH_MODES`: the modes to run, comma-separated: `closed`, `pipelined` (default both)
//! - `RPC_BENCH_CALLS_C1`: calls measured per run at concurrency 1 (default 20000)
//! - `RPC_BENCH_CALLS_C100`: calls measured per run at concurrency 100 (default 100000)
//! - `RPC_BENCH_PIPELINED_CALLS`: requests per pipelined run (default 200000)
//! - `RPC_BENCH_WARMUP`: calls before each cell, not measured (default 2000); in the pipelined
//!   mode one pipelined run of that many requests per target
//! - `RPC_BENCH_ROUNDS`: runs per cell; the table shows the run of median calls/s (default 5)
//! - `RPC_BENCH_SERVER_THREADS`: worker threads of the Rust server's runtime (default: cores)
//! - `RPC_BENCH_CLIENT_THREADS`: worker threads of the client's runtime (default: cores)
//! - `RPC_BENCH_NODE_STDERR=1`: let the Node server's diagnostics through to stderr

#[path = "../examples/support/hello.rs"]
mod hello;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use hello::{
    format_latency, payload, run_load, HelloImp, HelloProxy, HelloServant, LoadReport,
    HELLO_SERVANT,
};
use tars_rpc::client::discovery::StaticDiscovery;
use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::framing::FrameCodec;
use tars_rpc::packet::{RequestPacket, ResponsePacket, ReturnCode};
use tars_rpc::server::Server;
use tars_rpc::TarsStruct;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Encoder, FramedRead};

/// How long the Node server may take to print its READY line.
const NODE_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The call timeout: generous, a loaded 2-core machine may stall a call now and then.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a pipelined run may take, from connecting to its last reply.
const PIPELINED_DEADLINE: Duration = Duration::from_secs(120);
/// The pipelined writer's `write_all` size.
const WRITE_CHUNK: usize = 64 * 1024;
/// How long a connection, or the capture of the proxy's request, may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// The name of the Rust server runtime's threads (at most 15 bytes, what `/proc` shows).
const SERVER_THREAD_NAME: &str = "hello-server";
/// `testHello`'s name on the wire.
const TEST_HELLO: &str = "testHello";
/// The closed mode's row of the Rust server called through a proxy resolved by object name.
const RESOLVED: &str = "Rust server, resolved";

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not `{text}`")),
        Err(_) => default,
    }
}

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// The Node `@tars/rpc` server of `tests/node/rpc_server.js`, killed when dropped.
struct NodeServer {
    child: Child,
    stdin: Option<ChildStdin>,
    hello_port: u16,
}

impl NodeServer {
    /// Installs the Node packages if needed, starts the server and waits for its READY line.
    fn start() -> Result<Self, String> {
        let dir = node_dir();
        if !dir.join("node_modules/@tars/rpc").is_dir() {
            eprintln!("rpc bench: running `npm ci` in {}", dir.display());
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .stdout(Stdio::null())
                .status()
                .map_err(|error| format!("cannot run npm: {error}"))?;
            if !status.success() {
                return Err(format!("`npm ci` in {} failed: {status}", dir.display()));
            }
        }
        let stderr = if std::env::var_os("RPC_BENCH_NODE_STDERR").is_some_and(|v| v == "1") {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let mut child = Command::new("node")
            .args(["rpc_server.js", "0", "0"])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|error| format!("cannot run node: {error}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        // from here on, dropping `server` kills the child
        let mut server = Self {
            child,
            stdin,
            hello_port: 0,
        };
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = sender.send(read);
        });
        let line = match receiver.recv_timeout(NODE_READY_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(error)) => return Err(format!("reading the Node server's stdout: {error}")),
            Err(_) => {
                return Err(format!(
                    "the Node server printed no READY line within {NODE_READY_TIMEOUT:?} \
                     (RPC_BENCH_NODE_STDERR=1 shows its diagnostics)"
                ))
            }
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        server.hello_port = match fields.as_slice() {
            ["READY", _, hello] => hello
                .parse()
                .map_err(|_| format!("bad READY line from the Node server: {line:?}"))?,
            _ => {
                return Err(format!(
                    "expected `READY <interopPort> <helloPort>` from the Node server, got {line:?} \
                     (RPC_BENCH_NODE_STDERR=1 shows its diagnostics)"
                ))
            }
        };
        Ok(server)
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        // closing stdin makes it exit at once; kill it if it has not within a moment
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One row of the table: the run of median calls/s of a cell, and the errors of all its runs.
struct Row<'a> {
    target: &'a str,
    concurrency: usize,
    calls: usize,
    errors: usize,
    calls_per_sec: f64,
    p50: Duration,
    p99: Duration,
}

/// Which modes to run, from `RPC_BENCH_MODES`.
struct Modes {
    closed: bool,
    pipelined: bool,
}

impl Modes {
    fn from_env() -> Self {
        let Ok(text) = std::env::var("RPC_BENCH_MODES") else {
            return Self {
                closed: true,
                pipelined: true,
            };
        };
        let mut modes = Self {
            closed: false,
            pipelined: false,
        };
        for mode in text
            .split(',')
            .map(str::trim)
            .filter(|mode| !mode.is_empty())
        {
            match mode {
                "closed" => modes.closed = true,
                "pipelined" => modes.pipelined = true,
                _ => panic!(
                    "RPC_BENCH_MODES must list `closed` and/or `pipelined`, comma-separated, \
                     not `{text}`"
                ),
            }
        }
        modes
    }
}

/// `testHello`'s parameters as the proxy encodes them, as TarsCpp's does: `sReq` at tag 1 and
/// the out-parameter `sRsp`, empty, at tag 2.
#[derive(TarsStruct)]
struct TestHelloArgs {
    #[tars(tag = 1)]
    s_req: String,
    #[tars(tag = 2)]
    s_rsp: String,
}

/// `testHello`'s reply body: the return value at tag 0, `sRsp` at tag 2.
#[derive(TarsStruct)]
struct TestHelloResult {
    #[tars(tag = 0)]
    ret: i32,
    #[tars(tag = 2)]
    s_rsp: String,
}

/// The `testHello(s_req)` request with id `request_id`, as the bench's proxies send it (no
/// context, `iTimeout` = [`CALL_TIMEOUT`]).
fn hello_request(request_id: i32, s_req: &str) -> RequestPacket {
    RequestPacket {
        request_id,
        servant_name: HELLO_SERVANT.into(),
        func_name: TEST_HELLO.into(),
        buffer: TestHelloArgs {
            s_req: s_req.into(),
            s_rsp: String::new(),
        }
        .to_bytes(),
        timeout: CALL_TIMEOUT.as_millis() as i32,
        ..RequestPacket::default()
    }
}

/// `calls` request frames, ids 1 to `calls`, one after the other.
struct RequestFrames {
    bytes: Bytes,
    /// Where each frame ends in `bytes` (frames differ in length: a small id takes fewer bytes).
    ends: Vec<usize>,
}

impl RequestFrames {
    fn new(calls: usize, s_req: &str) -> Self {
        let mut request = hello_request(1, s_req);
        let mut codec = FrameCodec::default();
        let mut bytes = BytesMut::new();
        let mut ends = Vec::with_capacity(calls);
        for request_id in 1..=calls {
            request.request_id = i32::try_from(request_id).expect("ids fit in i32");
            codec.encode(&request, &mut bytes).expect("a frame");
            ends.push(bytes.len());
        }
        Self {
            bytes: bytes.freeze(),
            ends,
        }
    }

    /// The first `calls` frames.
    fn first(&self, calls: usize) -> Bytes {
        let end = calls.checked_sub(1).map_or(0, |last| self.ends[last]);
        self.bytes.slice(..end)
    }

    /// How many whole frames the first `bytes` bytes hold.
    fn whole_frames(&self, bytes: usize) -> usize {
        self.ends.partition_point(|&end| end <= bytes)
    }
}

/// Checks that the pipelined frames are the bytes the Rust proxy sends: captures one
/// `testHello` request of a proxy on a listener of our own and compares it with ours.
async fn check_against_proxy(s_req: &str) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| format!("cannot listen: {error}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let communicator = Communicator::new();
    let proxy: HelloProxy = communicator
        .string_to_proxy(&format!("{HELLO_SERVANT}@tcp -h 127.0.0.1 -p {port}"))
        .expect("a valid proxy string");
    let proxy = proxy.with_timeout(CALL_TIMEOUT);
    let request = s_req.to_string();
    let call = tokio::spawn(async move { proxy.test_hello(request).await });
    let captured = tokio::time::timeout(SETUP_TIMEOUT, async {
        let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut frames = FramedRead::new(stream, FrameCodec::default());
        loop {
            let frame = frames
                .next()
                .await
                .ok_or("the proxy closed the connection")?
                .map_err(|error| error.to_string())?;
            let packet = RequestPacket::decode_bytes(&frame).map_err(|e| e.to_string())?;
            if packet.func_name == TEST_HELLO {
                return Ok::<_, String>((frame, packet.request_id));
            }
        }
    })
    .await;
    call.abort();
    let (frame, request_id) = captured
        .map_err(|_| format!("no request from the proxy within {SETUP_TIMEOUT:?}"))?
        .map_err(|error| format!("reading the proxy's request: {error}"))?;
    let mut ours = BytesMut::new();
    FrameCodec::default()
        .encode(&hello_request(request_id, s_req), &mut ours)
        .expect("a frame");
    // the captured frame comes without its 4-byte length prefix
    if ours[4..] != frame[..] {
        return Err(format!(
            "the proxy sent {:02x?}, the pipelined mode would send {:02x?}",
            &frame[..],
            &ours[4..]
        ));
    }
    drop(communicator);
    Ok(())
}

/// Whose CPU time a pipelined run charges to the server.
enum ServerCpu {
    /// The threads of this process named [`SERVER_THREAD_NAME`]: the Rust server's runtime.
    Threads { expected: usize },
    /// A whole process: the Node server.
    Process(u32),
}

impl ServerCpu {
    /// utime + stime so far, in clock ticks; `None` if `/proc` cannot tell.
    fn ticks(&self) -> Option<u64> {
        match self {
            Self::Process(pid) => stat_ticks(&format!("/proc/{pid}/stat")),
            Self::Threads { expected } => {
                let mut ticks = 0;
                let mut threads = 0;
                for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
                    let comm = std::fs::read_to_string(task.path().join("comm")).ok();
                    if comm.as_deref().map(str::trim_end) != Some(SERVER_THREAD_NAME) {
                        continue;
                    }
                    ticks += stat_ticks(&task.path().join("stat").to_string_lossy())?;
                    threads += 1;
                }
                // tokio gives its blocking-pool threads the workers' name: there must be none
                if threads != *expected {
                    eprintln!(
                        "rpc bench: {threads} threads named {SERVER_THREAD_NAME}, expected the \
                         {expected} workers alone: the server CPU figures include others"
                    );
                }
                Some(ticks)
            }
        }
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/.../stat` file, in clock ticks.
fn stat_ticks(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // the command name, in parentheses, may hold spaces: count fields after its end
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state)
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    Some(field(14)? + field(15)?)
}

/// Clock ticks per second of `/proc`'s CPU times: `getconf CLK_TCK`, or 100 if that fails.
fn clock_ticks_per_sec() -> u64 {
    let ticks = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|&ticks| ticks > 0);
    ticks.unwrap_or_else(|| {
        eprintln!("rpc bench: `getconf CLK_TCK` gave no answer; assuming 100 ticks/s");
        100
    })
}

/// What one pipelined run measured.
struct PipelinedRun {
    calls: usize,
    /// Replies that were wrong, duplicated or unexpected, and requests never answered.
    errors: usize,
    first_error: Option<String>,
    /// From the first write to the last reply read.
    elapsed: Duration,
    /// The server's CPU time over the run, if `/proc` told.
    server_cpu: Option<Duration>,
}

impl PipelinedRun {
    fn calls_per_sec(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn cpu_per_call(&self) -> Option<Duration> {
        self.server_cpu
            .map(|cpu| cpu / u32::try_from(self.calls.max(1)).unwrap_or(u32::MAX))
    }
}

/// How a reply to a pipelined request is wrong, if it is; marks its id as answered.
fn check_reply(frame: &Bytes, answered: &mut [bool], s_req: &str) -> Option<String> {
    let reply = match ResponsePacket::decode_bytes(frame) {
        Ok(reply) => reply,
        Err(error) => return Some(format!("undecodable reply ({error}): {:02x?}", &frame[..])),
    };
    let id = reply.request_id;
    match usize::try_from(id).ok().and_then(|i| answered.get_mut(i)) {
        Some(seen) if id != 0 && !*seen => *seen = true,
        Some(_) if id != 0 => return Some(format!("request id {id} answered twice")),
        _ => {
            return Some(format!(
                "a packet with unexpected request id {id}: iRet {}, sResultDesc {:?}",
                reply.ret.0, reply.result_desc
            ))
        }
    }
    if reply.ret != ReturnCode::SUCCESS {
        return Some(format!(
            "request {id}: iRet {}, sResultDesc {:?}",
            reply.ret.0, reply.result_desc
        ));
    }
    match TestHelloResult::decode_bytes(&reply.buffer) {
        Ok(result) if result.ret == 0 && result.s_rsp == s_req => None,
        Ok(result) => Some(format!(
            "request {id}: return value {}, sRsp of {} bytes (expected 0 and the {} bytes sent)",
            result.ret,
            result.s_rsp.len(),
            s_req.len()
        )),
        Err(error) => Some(format!("request {id}: undecodable sBuffer ({error})")),
    }
}

/// One pipelined run: the first `calls` of `requests` written on a new connection to `port` by one
/// task while another reads and checks the replies. Fails if the server closes the connection,
/// a read or write fails, or the run takes longer than [`PIPELINED_DEADLINE`].
async fn pipelined_run(
    port: u16,
    requests: &RequestFrames,
    calls: usize,
    s_req: &str,
    server_cpu: &ServerCpu,
    ticks_per_sec: u64,
) -> Result<PipelinedRun, String> {
    let deadline = tokio::time::Instant::now() + PIPELINED_DEADLINE;
    let stream = tokio::time::timeout(SETUP_TIMEOUT, TcpStream::connect(("127.0.0.1", port)))
        .await
        .map_err(|_| format!("no connection within {SETUP_TIMEOUT:?}"))?
        .map_err(|error| format!("cannot connect: {error}"))?;
    // as the Rust client does
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (read_half, mut write_half) = stream.into_split();
    let frames = requests.first(calls);
    let total_bytes = frames.len();
    let written = Arc::new(AtomicUsize::new(0));
    let read = Arc::new(AtomicUsize::new(0));
    let cpu_before = server_cpu.ticks();

    let writer = tokio::spawn({
        let written = written.clone();
        async move {
            let first_write = Instant::now();
            for chunk in frames.chunks(WRITE_CHUNK) {
                write_half
                    .write_all(chunk)
                    .await
                    .map_err(|error| format!("write failed: {error}"))?;
                written.fetch_add(chunk.len(), Ordering::Relaxed);
            }
            // hand the write half back: dropping it would half-close the connection
            Ok::<_, String>((first_write, write_half))
        }
    });
    let reader = tokio::spawn({
        let read = read.clone();
        let s_req = s_req.to_string();
        async move {
            let mut replies =
                FramedRead::with_capacity(read_half, FrameCodec::default(), WRITE_CHUNK);
            let mut answered = vec![false; calls + 1];
            let mut errors = 0;
            let mut first_error = None;
            for got in 0..calls {
                let frame = match replies.next().await {
                    Some(Ok(frame)) => frame,
                    None => {
                        return Err(format!(
                            "the server closed the connection after {got} of {calls} replies"
                        ))
                    }
                    Some(Err(error)) => {
                        return Err(format!(
                            "reading reply {} of {calls} failed: {error}",
                            got + 1
                        ))
                    }
                };
                read.store(got + 1, Ordering::Relaxed);
                if let Some(error) = check_reply(&frame, &mut answered, &s_req) {
                    errors += 1;
                    first_error.get_or_insert(error);
                }
            }
            let last_reply = Instant::now();
            let unanswered = answered[1..].iter().filter(|seen| !**seen).count();
            if unanswered > 0 {
                errors += unanswered;
                first_error.get_or_insert(format!("{unanswered} request(s) never answered"));
            }
            Ok::<_, String>((last_reply, errors, first_error))
        }
    });

    let progress = |written: &AtomicUsize, read: &AtomicUsize| {
        let written = written.load(Ordering::Relaxed);
        format!(
            "the writer had written {written} of {total_bytes} bytes ({} of {calls} requests), \
             the reader had read {} replies",
            requests.whole_frames(written),
            read.load(Ordering::Relaxed)
        )
    };
    let read_result = match tokio::time::timeout_at(deadline, reader).await {
        Err(_) => {
            writer.abort();
            return Err(format!(
                "the run did not end within {PIPELINED_DEADLINE:?}: {}",
                progress(&written, &read)
            ));
        }
        Ok(joined) => joined.expect("the reader task panicked"),
    };
    let (last_reply, errors, first_error) = match read_result {
        Ok(read_result) => read_result,
        Err(error) => {
            let writer_state = if writer.is_finished() {
                match writer.await.expect("the writer task panicked") {
                    Ok(_) => "the writer had finished".to_string(),
                    Err(error) => format!("the writer had stopped: {error}"),
                }
            } else {
                writer.abort();
                "the writer was still writing".to_string()
            };
            return Err(format!(
                "{error}; {}; {writer_state}",
                progress(&written, &read)
            ));
        }
    };
    let cpu_after = server_cpu.ticks();
    let (first_write, write_half) = match tokio::time::timeout_at(deadline, writer).await {
        Err(_) => {
            return Err(format!(
                "every reply came, but the writer did not finish within {PIPELINED_DEADLINE:?}: {}",
                progress(&written, &read)
            ))
        }
        Ok(joined) => joined.expect("the writer task panicked")?,
    };
    drop(write_half);
    let server_cpu = match (cpu_before, cpu_after) {
        (Some(before), Some(after)) => Some(Duration::from_secs_f64(
            after.saturating_sub(before) as f64 / ticks_per_sec as f64,
        )),
        _ => None,
    };
    Ok(PipelinedRun {
        calls,
        errors,
        first_error,
        elapsed: last_reply.duration_since(first_write),
        server_cpu,
    })
}

/// One row of the pipelined table: the run of median calls/s of a target.
struct PipelinedRow<'a> {
    target: &'a str,
    cpu_scope: &'static str,
    calls: usize,
    errors: usize,
    calls_per_sec: f64,
    cpu_per_call: Option<Duration>,
}

/// `1.23 µs`, or `n/a`.
fn format_cpu(cpu: Option<Duration>) -> String {
    cpu.map_or_else(
        || "n/a".to_string(),
        |cpu| format!("{:.2} µs", cpu.as_secs_f64() * 1e6),
    )
}

/// The pipelined mode: a warm-up run and `rounds` measured runs per target, the targets taking
/// turns; prints its table. Returns whether anything failed.
#[allow(clippy::too_many_arguments)]
fn run_pipelined(
    client_runtime: &tokio::runtime::Runtime,
    targets: &[(&str, u16)],
    server_cpus: &[(ServerCpu, &'static str)],
    request: &str,
    calls: usize,
    warmup: usize,
    rounds: usize,
    closed_rows: &[Row<'_>],
) -> bool {
    let ticks_per_sec = clock_ticks_per_sec();
    let requests = RequestFrames::new(calls.max(warmup), request);
    println!();
    println!(
        "rpc bench, pipelined: {calls} testHello(\"{request}\") requests per run ({} bytes of \
         frames) written in {} KiB chunks on one connection while another task reads the \
         replies; per target one warm-up run of {warmup}, then {rounds} runs taking turns; \
         server CPU from /proc at {ticks_per_sec} ticks/s",
        requests.first(calls).len(),
        WRITE_CHUNK / 1024
    );
    if let Err(error) = client_runtime.block_on(check_against_proxy(request)) {
        eprintln!("rpc bench, pipelined: the request frames differ from the proxy's: {error}");
        return true;
    }
    let mut failed = false;
    // None once a run of the target has failed: its later runs are skipped
    let mut runs: Vec<Option<Vec<PipelinedRun>>> =
        targets.iter().map(|_| Some(Vec::new())).collect();
    client_runtime.block_on(async {
        for ((target, port), (cpu, _)) in targets.iter().zip(server_cpus) {
            if warmup == 0 {
                continue;
            }
            let warm = pipelined_run(*port, &requests, warmup, request, cpu, ticks_per_sec).await;
            match warm {
                Ok(run) => {
                    if let Some(error) = run.first_error {
                        eprintln!("rpc bench, pipelined: {target}: warm-up reply wrong: {error}");
                    }
                }
                Err(error) => eprintln!("rpc bench, pipelined: {target}: warm-up failed: {error}"),
            }
        }
        for round in 1..=rounds {
            for (((target, port), (cpu, _)), target_runs) in
                targets.iter().zip(server_cpus).zip(&mut runs)
            {
                let Some(done) = target_runs else { continue };
                match pipelined_run(*port, &requests, calls, request, cpu, ticks_per_sec).await {
                    Ok(run) => done.push(run),
                    Err(error) => {
                        eprintln!(
                            "rpc bench, pipelined: {target}: run {round} of {rounds} FAILED: {error}"
                        );
                        failed = true;
                        *target_runs = None;
                    }
                }
            }
        }
    });

    let mut rows = Vec::new();
    for (((target, _), (_, cpu_scope)), target_runs) in targets.iter().zip(server_cpus).zip(runs) {
        let Some(mut target_runs) = target_runs else {
            continue;
        };
        let all: Vec<String> = target_runs
            .iter()
            .map(|run| {
                format!(
                    "{:.0} ({})",
                    run.calls_per_sec(),
                    format_cpu(run.cpu_per_call())
                )
            })
            .collect();
        eprintln!(
            "rpc bench, pipelined: {target}: calls/s (server CPU per call) of each run: {}",
            all.join(", ")
        );
        let errors: usize = target_runs.iter().map(|run| run.errors).sum();
        if let Some(error) = target_runs.iter().find_map(|run| run.first_error.as_ref()) {
            eprintln!(
                "rpc bench, pipelined: {target}: {errors} wrong or missing repl(ies); the first: {error}"
            );
            failed = true;
        }
        target_runs.sort_by(|a, b| a.calls_per_sec().total_cmp(&b.calls_per_sec()));
        let run = target_runs.swap_remove(target_runs.len() / 2);
        rows.push(PipelinedRow {
            target,
            cpu_scope,
            calls: run.calls,
            errors,
            calls_per_sec: run.calls_per_sec(),
            cpu_per_call: run.cpu_per_call(),
        });
    }

    println!();
    if rows.is_empty() {
        println!("rpc bench, pipelined: no target completed its runs (see above)");
        return failed;
    }
    println!("| target | mode | calls | errors | calls/s | server CPU per call |");
    println!("|---|---|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | pipelined, 1 connection | {} | {} | {:.0} | {} ({}) |",
            row.target,
            row.calls,
            row.errors,
            row.calls_per_sec,
            format_cpu(row.cpu_per_call),
            row.cpu_scope
        );
    }
    let row = |target: &str| rows.iter().find(|row| row.target == target);
    if let (Some(rust), Some(node)) = (row("Rust server"), row("Node server")) {
        println!(
            "Rust server / Node server, pipelined: {:.2}x the calls/s",
            rust.calls_per_sec / node.calls_per_sec
        );
        if let (Some(rust_cpu), Some(node_cpu)) = (rust.cpu_per_call, node.cpu_per_call) {
            println!(
                "Rust server / Node server, pipelined: {:.2}x the server CPU per call",
                rust_cpu.as_secs_f64() / node_cpu.as_secs_f64().max(1e-12)
            );
        }
    }
    for row in &rows {
        let closed = closed_rows
            .iter()
            .find(|closed| closed.target == row.target && closed.concurrency == 100);
        if let Some(closed) = closed {
            println!(
                "{}: pipelined / closed loop at concurrency 100: {:.2}x the calls/s",
                row.target,
                row.calls_per_sec / closed.calls_per_sec
            );
        }
    }
    failed
}

fn main() {
    let modes = Modes::from_env();
    let calls_c1 = env_usize("RPC_BENCH_CALLS_C1", 20_000).max(1);
    let calls_c100 = env_usize("RPC_BENCH_CALLS_C100", 100_000).max(1);
    let pipelined_calls = env_usize("RPC_BENCH_PIPELINED_CALLS", 200_000).max(1);
    assert!(
        i32::try_from(pipelined_calls).is_ok(),
        "RPC_BENCH_PIPELINED_CALLS must fit request ids (i32)"
    );
    let warmup = env_usize("RPC_BENCH_WARMUP", 2_000);
    let rounds = env_usize("RPC_BENCH_ROUNDS", 5).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_threads = env_usize("RPC_BENCH_SERVER_THREADS", cores).max(1);
    let client_threads = env_usize("RPC_BENCH_CLIENT_THREADS", cores).max(1);

    // the Rust server on a runtime of its own, as if it were another process
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .thread_name(SERVER_THREAD_NAME)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let server = server_runtime
        .block_on(
            Server::builder()
                .servant(HELLO_SERVANT, "127.0.0.1:0", HelloServant::new(HelloImp))
                .start(),
        )
        .expect("the Rust server starts");
    let rust_port = server
        .local_addr(HELLO_SERVANT)
        .expect("the servant is registered")
        .port();

    let node = match NodeServer::start() {
        Ok(node) => Some(node),
        Err(error) => {
            eprintln!("rpc bench: skipping the Node server: {error}");
            None
        }
    };

    let mut targets = vec![("Rust server", rust_port)];
    if let Some(node) = &node {
        targets.push(("Node server", node.hello_port));
    }
    // whose CPU time the pipelined mode charges to each target
    let server_cpus: Vec<(ServerCpu, &str)> = targets
        .iter()
        .map(|&(target, _)| match &node {
            Some(node) if target == "Node server" => {
                (ServerCpu::Process(node.child.id()), "Node process")
            }
            _ => (
                ServerCpu::Threads {
                    expected: server_threads,
                },
                "server runtime threads",
            ),
        })
        .collect();

    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .thread_name("hello-client")
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let request = payload(5);
    println!(
        "rpc bench: testHello(\"{request}\") over loopback; {cores} cores, Rust server on \
         {server_threads} worker threads, client on its own runtime of {client_threads}; per cell {warmup} warm-up calls, \
         then {rounds} runs taking turns between the targets; the run of median calls/s is shown"
    );
    // a communicator per target: one connection, shared by every concurrent caller
    let communicators: Vec<Communicator> = targets.iter().map(|_| Communicator::new()).collect();
    let mut proxies: Vec<(&str, HelloProxy)> = targets
        .iter()
        .zip(&communicators)
        .map(|(&(target, port), communicator)| {
            let proxy: HelloProxy = communicator
                .string_to_proxy(&format!("{HELLO_SERVANT}@tcp -h 127.0.0.1 -p {port}"))
                .expect("a valid proxy string");
            (target, proxy.with_timeout(CALL_TIMEOUT))
        })
        .collect();
    // the Rust server again, by object name: looked up once, before the warm-up's first call
    let discovery = StaticDiscovery::new()
        .with(HELLO_SERVANT, &format!("tcp -h 127.0.0.1 -p {rust_port}"))
        .expect("a valid endpoint");
    let resolving = Communicator::builder().discovery(discovery).build();
    let resolved: HelloProxy = resolving
        .string_to_proxy(HELLO_SERVANT)
        .expect("an object name");
    proxies.insert(1, (RESOLVED, resolved.with_timeout(CALL_TIMEOUT)));
    let mut rows = Vec::new();
    let mut failed = false;
    if modes.closed {
        for (concurrency, calls) in [(1, calls_c1), (100, calls_c100)] {
            // the targets take turns, run by run, so that a change in the machine's speed (other
            // tenants, CPU frequency) falls on both rather than on one
            let mut runs: Vec<Vec<LoadReport>> = proxies.iter().map(|_| Vec::new()).collect();
            client_runtime.block_on(async {
                for (target, proxy) in &proxies {
                    let warm = run_load(proxy, warmup, concurrency, &request).await;
                    if let Some(error) = warm.first_error {
                        eprintln!("rpc bench: {target}: warm-up call failed: {error}");
                    }
                }
                for _ in 0..rounds {
                    for ((_, proxy), runs) in proxies.iter().zip(&mut runs) {
                        runs.push(run_load(proxy, calls, concurrency, &request).await);
                    }
                }
            });
            for ((target, _), mut runs) in proxies.iter().zip(runs) {
                let all: Vec<String> = runs
                    .iter()
                    .map(|run| format!("{:.0}", run.calls_per_sec()))
                    .collect();
                eprintln!(
                    "rpc bench: {target}, concurrency {concurrency}: calls/s of each run {}",
                    all.join(", ")
                );
                let errors: usize = runs.iter().map(|run| run.errors).sum();
                if let Some(error) = runs.iter().find_map(|run| run.first_error.as_ref()) {
                    eprintln!(
                        "rpc bench: {target}, concurrency {concurrency}: {errors} call(s) failed; the first: {error}"
                    );
                    failed = true;
                }
                runs.sort_by(|a, b| a.calls_per_sec().total_cmp(&b.calls_per_sec()));
                let report = runs.swap_remove(runs.len() / 2);
                rows.push(Row {
                    target,
                    concurrency,
                    calls: report.calls,
                    errors,
                    calls_per_sec: report.calls_per_sec(),
                    p50: report.percentile(50.0),
                    p99: report.percentile(99.0),
                });
            }
        }

        println!();
        println!("| target | concurrency | calls | errors | calls/s | p50 | p99 |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for row in &rows {
            println!(
                "| {} | {} | {} | {} | {:.0} | {} | {} |",
                row.target,
                row.concurrency,
                row.calls,
                row.errors,
                row.calls_per_sec,
                format_latency(row.p50),
                format_latency(row.p99)
            );
        }
        let rate = |target: &str, concurrency: usize| {
            rows.iter()
                .find(|row| row.target == target && row.concurrency == concurrency)
                .map(|row| row.calls_per_sec)
        };
        for concurrency in [1, 100] {
            if let (Some(named), Some(resolved)) = (
                rate("Rust server", concurrency),
                rate(RESOLVED, concurrency),
            ) {
                println!(
                    "resolved by name / endpoint named at concurrency {concurrency}: {:.2}x the calls/s",
                    resolved / named
                );
            }
            if let (Some(rust), Some(node)) = (
                rate("Rust server", concurrency),
                rate("Node server", concurrency),
            ) {
                println!(
                    "Rust server / Node server at concurrency {concurrency}: {:.2}x the calls/s",
                    rust / node
                );
            }
        }
    }

    if modes.pipelined {
        failed |= run_pipelined(
            &client_runtime,
            &targets,
            &server_cpus,
            &request,
            pipelined_calls,
            warmup,
            rounds,
            &rows,
        );
    }

    server_runtime.block_on(server.shutdown());
    drop(node);
    if failed {
        std::process::exit(1);
    }
}
