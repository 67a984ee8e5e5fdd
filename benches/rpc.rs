//! RPC echo benchmark: TarsCpp's QuickStartDemo `testHello` over loopback, the Rust client
//! against the Rust server and against the Node `@tars/rpc` server, at concurrency 1 and 100.
//!
//! ```sh
//! cargo bench --bench rpc
//! ```
//!
//! Not a criterion benchmark: it prints a table (calls/s, p50, p99 per target and concurrency).
//! The Rust server runs in this process on a tokio runtime of its own; the Node server
//! (`tests/node/rpc_server.js`) in a child process, after `npm ci` in `tests/node` if its
//! packages are missing. Without Node the Node rows are skipped. Figures in `BENCHMARKS.md`.
//!
//! Environment:
//! - `RPC_BENCH_CALLS_C1`: calls measured per run at concurrency 1 (default 20000)
//! - `RPC_BENCH_CALLS_C100`: calls measured per run at concurrency 100 (default 100000)
//! - `RPC_BENCH_WARMUP`: calls before each cell, not measured (default 2000)
//! - `RPC_BENCH_ROUNDS`: runs per cell; the table shows the run of median calls/s (default 5)
//! - `RPC_BENCH_SERVER_THREADS`: worker threads of the Rust server's runtime (default: cores)
//! - `RPC_BENCH_CLIENT_THREADS`: worker threads of the client's runtime (default: cores)
//! - `RPC_BENCH_NODE_STDERR=1`: let the Node server's diagnostics through to stderr

#[path = "../examples/support/hello.rs"]
mod hello;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hello::{
    format_latency, payload, run_load, HelloImp, HelloProxy, HelloServant, LoadReport,
    HELLO_SERVANT,
};
use tars_rpc::client::Communicator;
use tars_rpc::server::Server;

/// How long the Node server may take to print its READY line.
const NODE_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The call timeout: generous, a loaded 2-core machine may stall a call now and then.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

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

fn main() {
    let calls_c1 = env_usize("RPC_BENCH_CALLS_C1", 20_000).max(1);
    let calls_c100 = env_usize("RPC_BENCH_CALLS_C100", 100_000).max(1);
    let warmup = env_usize("RPC_BENCH_WARMUP", 2_000);
    let rounds = env_usize("RPC_BENCH_ROUNDS", 5).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_threads = env_usize("RPC_BENCH_SERVER_THREADS", cores).max(1);
    let client_threads = env_usize("RPC_BENCH_CLIENT_THREADS", cores).max(1);

    // the Rust server on a runtime of its own, as if it were another process
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .thread_name("hello-server")
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
    let proxies: Vec<(&str, HelloProxy)> = targets
        .iter()
        .zip(&communicators)
        .map(|(&(target, port), communicator)| {
            let proxy: HelloProxy = communicator
                .string_to_proxy(&format!("{HELLO_SERVANT}@tcp -h 127.0.0.1 -p {port}"))
                .expect("a valid proxy string");
            (target, proxy.with_timeout(CALL_TIMEOUT))
        })
        .collect();
    let mut rows = Vec::new();
    let mut failed = false;
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

    server_runtime.block_on(server.shutdown());
    drop(node);
    if failed {
        std::process::exit(1);
    }
}
