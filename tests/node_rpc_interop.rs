//! RPC interop with the official Node package `@tars/rpc`, a real TARS peer: the Rust proxy
//! calls the Node server, and the Node client calls the Rust server, over every scenario of
//! the interop IDL (`tests/node/README.md`): every codec type, mixed in/out parameters, a void
//! method, servant errors, an unknown function, one-way calls and timeouts. And a burst: the
//! Node client fires 50,000 calls at the Rust server without awaiting any, and gets every reply,
//! also when the server's flow control has to hold the connection back.
//!
//! Node.js must be installed; the packages are installed on first use with `npm ci`.

mod common;

use std::process::{Child, ChildStdin, Output, Stdio};
use std::time::{Duration, Instant};

use common::interop::{
    check_oneway_and_timeout, check_round_trips, HelloProxy, HelloServant, InteropImp,
    InteropProxy, InteropServant,
};
use common::{describe, ensure_node, node_dir, spawn_node};
use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::packet::ReturnCode;
use tars_rpc::server::{Server, ServerBuilder};
use tokio::time::timeout;

const INTEROP: &str = "Interop.RpcServer.InteropObj";
const HELLO: &str = "TestApp.HelloServer.HelloObj";
const WAIT: Duration = Duration::from_secs(5);

/// `node rpc_server.js 0`, stopped (stdin closed, then killed) when dropped.
struct NodeServer {
    child: Child,
    stdin: Option<ChildStdin>,
    interop_port: u16,
    hello_port: u16,
}

impl NodeServer {
    fn start() -> Self {
        let (child, stdin, lines) = spawn_node(&["rpc_server.js", "0", "0"]);
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("rpc_server.js prints READY within 20 s");
        let ports: Vec<u16> = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("expected `READY <port> <port>`, got {line:?}"))
            .split_whitespace()
            .map(|port| port.parse().expect("a port number"))
            .collect();
        assert_eq!(ports.len(), 2, "{line:?}");
        Self {
            child,
            stdin: Some(stdin),
            interop_port: ports[0],
            hello_port: ports[1],
        }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_proxy_calls_the_node_server() {
    let node = NodeServer::start();
    let communicator = Communicator::new();
    let interop: InteropProxy = communicator
        .string_to_proxy(&format!(
            "{INTEROP}@tcp -h 127.0.0.1 -p {} -t 60000",
            node.interop_port
        ))
        .unwrap();
    let hello: HelloProxy = communicator
        .string_to_proxy(&format!(
            "{HELLO}@tcp -h 127.0.0.1 -p {} -t 60000",
            node.hello_port
        ))
        .unwrap();

    // every codec type, through Node's decoder and encoder
    check_round_trips(&hello, &interop).await;

    let error = timeout(WAIT, interop.fail_with(1234))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (error.code(), error.message()),
        (ReturnCode(1234), "failed on purpose")
    );

    let reply = timeout(WAIT, interop.proxy().invoke_raw("noSuchFunction", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.ret, ReturnCode::SERVER_NO_FUNC);

    // one-way: Node runs the call and sends nothing back
    check_oneway_and_timeout(&interop).await;
}

/// Runs `node rpc_client.js <scenario> <proxy>` off the runtime, so the Rust server keeps serving,
/// and checks that it printed `ok`. The client has its own watchdog (10 s, 120 s for `burst`);
/// it is killed if it runs past `limit` all the same.
async fn node_client(scenario: &'static str, proxy: String) {
    node_client_with(scenario, proxy, Duration::from_secs(30)).await;
}

/// [`node_client`] with a time limit of the caller's; returns the output.
async fn node_client_with(scenario: &'static str, proxy: String, limit: Duration) -> Output {
    let run = tokio::process::Command::new("node")
        .args(["rpc_client.js", scenario, &proxy])
        .current_dir(node_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = timeout(limit, run)
        .await
        .unwrap_or_else(|_| {
            panic!("rpc_client.js {scenario} still running after {limit:?}; killed")
        })
        .expect("node runs");
    assert!(
        output.status.success() && output.stdout == b"ok\n",
        "rpc_client.js {scenario}: {}",
        describe(&output)
    );
    output
}

/// `builder` with the `Interop` and `Hello` servants of the interop IDL, sharing one listener on
/// a port the system picks.
async fn rust_server(builder: ServerBuilder) -> Server {
    builder
        .servant(
            INTEROP,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            InteropServant::new(InteropImp::default()),
        )
        .servant(
            HELLO,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            HelloServant::new(InteropImp::default()),
        )
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_calls_the_rust_server() {
    ensure_node();
    let server = rust_server(Server::builder()).await;
    let port = server.local_addr(INTEROP).unwrap().port();
    // hello, echoAll, mixed, nothing, unknownFunction, failWith, timeout, oneway
    node_client(
        "hello",
        format!("{HELLO}@tcp -h 127.0.0.1 -p {port} -t 60000"),
    )
    .await;
    node_client(
        "all",
        format!("{INTEROP}@tcp -h 127.0.0.1 -p {port} -t 60000"),
    )
    .await;
    timeout(Duration::from_secs(15), server.shutdown())
        .await
        .expect("the server shuts down within 15 s");
}

/// The `burst` scenario: 50,000 `testHello` calls made at once by the Node client, none awaited
/// before the last is made, all pipelined on one connection; every one must come back right.
/// Against the default limits, and against limits so tight that the server's flow control must
/// hold the connection back all the time: at most 16 requests running, 16 KiB of replies queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_burst_of_unawaited_calls_gets_every_reply() {
    ensure_node();
    const TIGHT_BUDGET: usize = 16 * 1024;
    let configurations = [
        ("default limits", Server::builder(), 8 * 1024 * 1024),
        (
            "queue_budget 16 KiB, max_in_flight 16",
            Server::builder()
                .queue_budget(TIGHT_BUDGET)
                .max_in_flight(16),
            TIGHT_BUDGET,
        ),
    ];
    for (name, builder, budget) in configurations {
        let server = rust_server(builder).await;
        let address = server.local_addr(HELLO).unwrap();
        let proxy = format!("{HELLO}@tcp -h 127.0.0.1 -p {} -t 60000", address.port());

        // how full the outgoing queues get, sampled while the burst runs
        let handle = server.handle();
        let sampling = tokio_util::sync::CancellationToken::new();
        let sampler = tokio::spawn({
            let sampling = sampling.clone();
            async move {
                let mut most = 0;
                while !sampling.is_cancelled() {
                    most = most.max(handle.stats().queued_bytes);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                most
            }
        });

        let started = Instant::now();
        let output = node_client_with("burst", proxy.clone(), Duration::from_secs(150)).await;
        let elapsed = started.elapsed();
        sampling.cancel();
        let most_queued = timeout(WAIT, sampler).await.unwrap().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let measured = stderr
            .lines()
            .filter_map(|line| line.strip_prefix("rpc_client: burst: "))
            .find(|line| line.contains("replies in"))
            .unwrap_or("(no timing line)");
        eprintln!(
            "burst, {name}: {measured} (Node client's own measure); {elapsed:.2?} for the \
             whole node process; at most {most_queued} bytes queued (sampled every ms)"
        );
        // every reply is far shorter than the budget, so the queue never holds more than it
        assert!(
            most_queued <= budget,
            "{name}: {most_queued} bytes queued, over the budget of {budget}"
        );

        // still serving: one more call, from the Rust side and from a new Node client
        let communicator = Communicator::new();
        let hello: HelloProxy = communicator.string_to_proxy(&proxy).unwrap();
        let (ret, s_rsp) = timeout(WAIT, hello.test_hello("after the burst".into()))
            .await
            .expect("testHello after the burst in time")
            .expect("testHello after the burst");
        assert_eq!((ret, s_rsp.as_str()), (0, "after the burst"));
        node_client("hello", proxy).await;

        // nothing left queued once the burst's connection is gone
        let deadline = Instant::now() + WAIT;
        while server.stats().queued_bytes != 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            server.stats().queued_bytes,
            0,
            "{name}: {:?}",
            server.stats()
        );

        timeout(Duration::from_secs(15), server.shutdown())
            .await
            .unwrap_or_else(|_| panic!("{name}: the server shuts down within 15 s"));
    }
}
