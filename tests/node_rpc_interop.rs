//! RPC interop with the official Node package `@tars/rpc`, a real TARS peer: the Rust proxy
//! calls the Node server, and the Node client calls the Rust server, over every scenario of
//! the interop IDL (`tests/node/README.md`): every codec type, mixed in/out parameters, a void
//! method, servant errors, an unknown function, one-way calls and timeouts.
//!
//! Node.js must be installed; the packages are installed on first use with `npm ci`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use common::interop::{
    check_oneway_and_timeout, check_round_trips, HelloProxy, HelloServant, InteropImp,
    InteropProxy, InteropServant,
};
use common::{describe, ensure_node, node_dir};
use tars_rpc::client::{Communicator, Proxy};
use tars_rpc::packet::{PacketType, ReturnCode};
use tars_rpc::server::Server;
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
        ensure_node();
        let mut child = Command::new("node")
            .args(["rpc_server.js", "0", "0"])
            .current_dir(node_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = receiver
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
            stdin,
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

    let reply = timeout(
        WAIT,
        interop
            .servant_proxy()
            .invoke_raw("noSuchFunction", Bytes::new(), PacketType::NORMAL),
    )
    .await
    .unwrap()
    .unwrap()
    .expect("a reply");
    assert_eq!(reply.ret, ReturnCode::SERVER_NO_FUNC);

    // one-way: Node runs the call and sends nothing back
    check_oneway_and_timeout(&interop).await;
}

/// Runs `node rpc_client.js <scenario> <proxy>` off the runtime, so the Rust server keeps serving.
async fn node_client(scenario: &'static str, proxy: String) {
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["rpc_client.js", scenario, &proxy])
            .current_dir(node_dir())
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success() && output.stdout == b"ok\n",
        "rpc_client.js {scenario}: {}",
        describe(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_calls_the_rust_server() {
    ensure_node();
    let server = Server::builder()
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
        .unwrap();
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
    server.shutdown().await;
}
