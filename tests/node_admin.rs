//! Life under tarsnode, `tars_rpc::node`, against real TARS peers:
//!
//! * `KeepAlive` against a stand-in tarsnode, a `ServerF` servant on `@tars/rpc`
//!   (`tests/node/serverf_server.js`): `reportVersion` and `keepAlive` for the whole server at
//!   the start, then one `keepAlive` per adapter and for `AdminAdapter` at the period, with the
//!   right `ServerInfo`; they stop before the server's listeners close;
//! * a node that is down is retried at the next period (a Rust `ServerF` servant, started
//!   late);
//! * the `AdminServant` called by a `@tars/rpc` client (`tests/node/admin_client.js`): built-in
//!   and registered commands, an unknown one, `getPid`, then `shutdown`, after which a call that
//!   was running completes and the server's graceful shutdown finishes;
//! * `shutdown_signal` on SIGTERM.
//!
//! Every server binds 127.0.0.1 on a port the system picks; waits are bounded. Node.js must be
//! installed; the packages are installed on first use with `npm ci` in `tests/node`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::interop::{HelloServant, InteropImp};
use common::node_peers::{js_string, NodePeer};
use common::{describe, ensure_node, node_dir};
use tars_rpc::client::Communicator;
use tars_rpc::node::{
    serve_until_stopped, shutdown_signal, AdminCommands, AdminServant, KeepAlive, LevelFilter,
    ServerF, ServerFServant, ServerInfo, StopReason, ADMIN_ADAPTER, ADMIN_OBJ, FRAMEWORK_VERSION,
};
use tars_rpc::server::Server;
use tokio::net::TcpStream;
use tokio::sync::{mpsc as async_mpsc, Notify};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);
const APP: &str = "TestApp";
const SERVER: &str = "HelloServer";
const HELLO: &str = "TestApp.HelloServer.HelloObj";
const HELLO_ADAPTER: &str = "TestApp.HelloServer.HelloObjAdapter";

/// The line `serverf_server.js` prints for a keep-alive of `adapter` from this process.
fn keep_alive_line(adapter: &str) -> String {
    format!(
        "KEEPALIVE {{\"application\":\"{APP}\",\"serverName\":\"{SERVER}\",\"pid\":{},\"adapter\":{}}}",
        std::process::id(),
        js_string(adapter)
    )
}

/// A server with the Hello servant and the admin servant, each on a listener of its own.
async fn start_server(admin: &AdminServant) -> Server {
    let server = Server::builder()
        .servant(
            HELLO,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            HelloServant::new(InteropImp::default()),
        )
        .servant(ADMIN_OBJ, "tcp -h 127.0.0.1 -p 0 -t 60000", admin.servant())
        .start()
        .await
        .expect("the server starts");
    admin.attach(server.handle());
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alives_reach_the_node_at_the_period_and_stop_before_the_listeners_close() {
    ensure_node();
    let node = NodePeer::node();
    let admin = AdminServant::new(AdminCommands::new());
    let server = start_server(&admin).await;
    let hello = server.local_addr(HELLO).expect("hello is served");
    let period = Duration::from_millis(200);
    let communicator = Communicator::new();
    let keep_alive = KeepAlive::builder(&communicator, node.object(), APP, SERVER)
        .adapter(HELLO_ADAPTER)
        .interval(period)
        .start()
        .expect("a valid node object");

    // at the start: the version and a keep-alive of the whole server, in either order
    let mut start = vec![
        node.next(WAIT).expect("a first call"),
        node.next(WAIT).expect("a second call"),
    ];
    start.sort();
    assert_eq!(
        start,
        [
            keep_alive_line(""),
            format!(
                "VERSION {{\"app\":\"{APP}\",\"serverName\":\"{SERVER}\",\"version\":\"{FRAMEWORK_VERSION}\"}}"
            ),
        ]
    );

    // then each adapter, AdminAdapter included, once a period
    let adapters = [HELLO_ADAPTER, ADMIN_ADAPTER];
    let rounds = 3;
    let mut seen = Vec::new();
    let mut first_round_at = None;
    let deadline = Instant::now() + WAIT;
    while seen.len() < rounds * adapters.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = node
            .next(left)
            .unwrap_or_else(|| panic!("{rounds} rounds within {WAIT:?}; got {seen:?}"));
        first_round_at.get_or_insert_with(Instant::now);
        seen.push(line);
    }
    let spent = first_round_at.expect("a round").elapsed();
    for adapter in adapters {
        let count = seen
            .iter()
            .filter(|l| **l == keep_alive_line(adapter))
            .count();
        assert_eq!(count, rounds, "{adapter} once per round: {seen:#?}");
    }
    eprintln!("keep-alive: rounds 1 to {rounds} arrived {spent:?} apart at a period of {period:?}");
    // rounds 1 to 3 are two periods apart; loosely, for a busy machine
    assert!(
        spent >= period && spent < Duration::from_secs(10),
        "{rounds} rounds in {spent:?} at a period of {period:?}"
    );

    // stopping: no more keep-alives (but those on their way: a round, two on a busy machine),
    // while the listeners still accept
    timeout(WAIT, keep_alive.stop())
        .await
        .expect("the heartbeat stops");
    let mut late = 0;
    while node.next(period * 2).is_some() {
        late += 1;
        assert!(late <= 2 * adapters.len(), "keep-alives go on after stop");
    }
    assert!(
        node.next(period * 3).is_none(),
        "no keep-alive three periods after stop"
    );
    TcpStream::connect(hello)
        .await
        .expect("the listeners are open after the heartbeat stopped");
    timeout(WAIT, server.shutdown())
        .await
        .expect("a graceful shutdown");
    assert!(
        TcpStream::connect(hello).await.is_err(),
        "closed after shutdown"
    );
    communicator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initializing_server_sends_keep_activing_until_it_has_started() {
    ensure_node();
    let node = NodePeer::node();
    let communicator = Communicator::new();
    let activating = KeepAlive::builder(&communicator, node.object(), APP, SERVER)
        .activing_interval(Duration::from_millis(100))
        .interval(Duration::from_secs(60))
        .start_activating()
        .expect("a valid node object");
    let activing = keep_alive_line("").replacen("KEEPALIVE", "KEEPACTIVING", 1);
    for _ in 0..3 {
        assert_eq!(node.next(WAIT).as_deref(), Some(activing.as_str()));
    }
    let keep_alive = activating.started();
    // then, after a keepActiving that may have been on its way, the start of the keep-alives
    let mut start = Vec::new();
    while start.len() < 2 {
        let line = node.next(WAIT).expect("the start of the keep-alives");
        if line != activing || !start.is_empty() {
            start.push(line);
        }
    }
    start.sort();
    assert_eq!(
        start,
        [
            keep_alive_line(""),
            format!(
                "VERSION {{\"app\":\"{APP}\",\"serverName\":\"{SERVER}\",\"version\":\"{FRAMEWORK_VERSION}\"}}"
            ),
        ]
    );
    // no more keepActiving: the next call would be a keep-alive, a minute later
    assert_eq!(node.next(Duration::from_millis(500)), None);
    keep_alive.stop().await;
    communicator.shutdown().await;
}

/// A Rust `ServerF` servant that fails the first `failures` keep-alives, then forwards those
/// it gets.
struct Recorder {
    failures: Arc<AtomicUsize>,
    sender: async_mpsc::UnboundedSender<ServerInfo>,
}

impl ServerF for Recorder {
    async fn keep_alive(&self, server_info: ServerInfo) -> tars_rpc::Result<i32> {
        let fail = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if fail {
            return Err(tars_rpc::Error::new(-1, "not ready"));
        }
        let _ = self.sender.send(server_info);
        Ok(0)
    }

    async fn keep_activing(&self, _server_info: ServerInfo) -> tars_rpc::Result<i32> {
        Ok(0)
    }

    async fn report_version(
        &self,
        _app: String,
        _server_name: String,
        _version: String,
    ) -> tars_rpc::Result<i32> {
        Ok(0)
    }

    async fn get_latest_keep_alive_time(&self) -> tars_rpc::Result<u32> {
        Ok(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_is_down_or_fails_is_called_again_at_the_next_period() {
    // a port nothing listens on, for now
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let communicator = Communicator::builder()
        .connect_timeout(Duration::from_millis(200))
        .call_timeout(Duration::from_millis(500))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .failed_endpoint_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .build();
    let keep_alive = KeepAlive::builder(
        &communicator,
        format!("tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p {port}"),
        APP,
        SERVER,
    )
    .interval(Duration::from_millis(50))
    .pid(4242)
    .start()
    .expect("a valid node object");

    // the node comes up later, on that port, and fails the first three keep-alives
    let failures = 3;
    let (sender, mut received) = async_mpsc::unbounded_channel();
    let left = Arc::new(AtomicUsize::new(failures));
    let recorder = Recorder {
        failures: Arc::clone(&left),
        sender,
    };
    let node = Server::builder()
        .servant(
            "tars.tarsnode.ServerObj",
            format!("tcp -h 127.0.0.1 -p {port}").as_str(),
            ServerFServant::new(recorder),
        )
        .start()
        .await
        .expect("the node starts on the port it had");
    // the heartbeat goes on: AdminAdapter (the only adapter) comes, after the failures
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|info: &ServerInfo| info.adapter == ADMIN_ADAPTER)
    {
        assert!(seen.len() < 20, "no AdminAdapter keep-alive among {seen:?}");
        let info = timeout(WAIT, received.recv())
            .await
            .expect("keep-alives go on after failures")
            .expect("the node runs");
        assert_eq!(
            (
                info.application.as_str(),
                info.server_name.as_str(),
                info.pid
            ),
            (APP, SERVER, 4242)
        );
        seen.push(info);
    }
    assert_eq!(left.load(Ordering::SeqCst), 0, "the failures happened");
    keep_alive.stop().await;
    node.shutdown().await;
    communicator.shutdown().await;
}

/// The admin commands the test server registers: `test.echo` answers its parameters,
/// `test.hold` waits for `release` (after telling `held`).
fn test_commands(
    held: Arc<Notify>,
    release: Arc<Notify>,
    levels: Arc<Mutex<Vec<LevelFilter>>>,
) -> AdminCommands {
    let commands = AdminCommands::builder()
        .application(APP)
        .server_name(SERVER)
        .app_version("1.2.3")
        .log_level(move |level: LevelFilter| {
            levels.lock().expect("not poisoned").push(level);
            Ok(())
        })
        .build();
    commands
        .register("test.echo", |params: &str| format!("echo: {params}"))
        .expect("a valid name");
    commands
        .register_async("test.hold", move |_params: String| {
            let held = Arc::clone(&held);
            let release = Arc::clone(&release);
            async move {
                let released = release.notified();
                held.notify_one();
                released.await;
                "released".to_string()
            }
        })
        .expect("a valid name");
    commands
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_client_runs_commands_then_shuts_the_server_down_gracefully() {
    ensure_node();
    let held = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let levels = Arc::new(Mutex::new(Vec::new()));
    let admin = AdminServant::new(test_commands(
        Arc::clone(&held),
        Arc::clone(&release),
        Arc::clone(&levels),
    ));
    let server = start_server(&admin).await;
    let admin_port = server
        .local_addr(ADMIN_OBJ)
        .expect("admin is served")
        .port();
    let proxy = format!("AdminObj@tcp -h 127.0.0.1 -p {admin_port} -t 60000");

    let stop = admin.stop_requested();
    let client = tokio::process::Command::new("node")
        .current_dir(node_dir())
        .arg("admin_client.js")
        .arg(&proxy)
        .args([
            "notify:tars.viewversion",
            "notify:test.echo hello  world",
            "notify:no.such.command",
            "notify:tars.setloglevel DEBUG",
            "notify:tars.connection",
            "pid",
            "hold:test.hold",
            "shutdown",
        ])
        .kill_on_drop(true)
        .output();
    let client = tokio::spawn(client);

    // the shutdown came while test.hold runs
    let reason = timeout(WAIT, async {
        let (reason, ()) = tokio::join!(stop, held.notified());
        reason
    })
    .await
    .expect("AdminF.shutdown and test.hold within the wait")
    .expect("signal handlers installed");
    assert_eq!(reason, StopReason::AdminShutdown);

    // the graceful shutdown starts, then the running call finishes, and the server ends
    let handle = server.handle();
    handle.shutdown();
    release.notify_one();
    timeout(WAIT, server.wait())
        .await
        .expect("the server's shutdown finishes");

    let output = timeout(WAIT, client)
        .await
        .expect("the client ends")
        .expect("the client task")
        .expect("node runs");
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    let version =
        format!("[notify prefix object num:1]\n[1]:${FRAMEWORK_VERSION}$\napp version: 1.2.3\n");
    assert_eq!(lines[0], format!("NOTIFY {}", js_string(&version)));
    assert_eq!(
        lines[1],
        format!(
            "NOTIFY {}",
            js_string("[notify servant object num:1]\n[1]:echo: hello  world\n")
        )
    );
    assert_eq!(
        lines[2], "NOTIFY \"\"",
        "an unknown command answers nothing"
    );
    assert_eq!(
        lines[3],
        format!(
            "NOTIFY {}",
            js_string("[notify prefix object num:1]\n[1]:set log level [DEBUG] ok\n")
        )
    );
    assert_eq!(*levels.lock().expect("not poisoned"), [LevelFilter::DEBUG]);
    assert!(
        lines[4].contains("[adapter:all] [connections:1]"),
        "the client's one connection: {}",
        lines[4]
    );
    assert_eq!(lines[5], format!("PID {}", std::process::id()));
    // the two replies race: the shutdown's is written when its handler returns, the held
    // call's once released, while the shutdown drains
    let mut last: Vec<&str> = lines[6..].to_vec();
    last.sort_unstable();
    assert_eq!(
        last,
        [
            "DONE",
            "HELD \"[notify servant object num:1]\\n[1]:released\\n\"",
            "SHUTDOWN ok"
        ],
        "{stdout}"
    );
    assert_eq!(lines.last(), Some(&"DONE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_until_stopped_stops_the_heartbeat_then_the_server_on_admin_shutdown() {
    ensure_node();
    let node = NodePeer::node();
    let admin = AdminServant::new(AdminCommands::new());
    let server = start_server(&admin).await;
    let admin_addr = server.local_addr(ADMIN_OBJ).expect("admin is served");
    let communicator = Communicator::new();
    let keep_alive = KeepAlive::builder(&communicator, node.object(), APP, SERVER)
        .adapter(HELLO_ADAPTER)
        .interval(Duration::from_millis(100))
        .start()
        .expect("a valid node object");
    // the heartbeat runs: wait for AdminAdapter's first keep-alive
    let mut calls = 0;
    loop {
        let line = node.next(WAIT).expect("keep-alives come");
        if line == keep_alive_line(ADMIN_ADAPTER) {
            break;
        }
        calls += 1;
        assert!(
            calls < 10,
            "no AdminAdapter keep-alive among the first calls"
        );
    }

    let serving = tokio::spawn({
        let admin = admin.clone();
        async move { serve_until_stopped(server, Some(keep_alive), &admin).await }
    });
    let output = timeout(
        WAIT,
        tokio::process::Command::new("node")
            .current_dir(node_dir())
            .arg("admin_client.js")
            .arg(format!(
                "AdminObj@tcp -h 127.0.0.1 -p {} -t 60000",
                admin_addr.port()
            ))
            .arg("shutdown")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the client ends")
    .expect("node runs");
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "SHUTDOWN ok\nDONE\n"
    );
    let reason = timeout(WAIT, serving)
        .await
        .expect("the server stops")
        .expect("the serving task");
    assert_eq!(reason, StopReason::AdminShutdown);
    assert!(
        TcpStream::connect(admin_addr).await.is_err(),
        "the listeners are closed"
    );
    // the heartbeat had stopped: the calls printed so far are read, then three periods pass
    // without one (were it still running, a call would come every 100 ms and the reading
    // would never end)
    let mut printed = 0;
    while node.next(Duration::from_millis(300)).is_some() {
        printed += 1;
        assert!(printed < 500, "keep-alives go on after the server stopped");
    }
    communicator.shutdown().await;
}

#[tokio::test]
async fn shutdown_signal_resolves_on_sigterm() {
    let signal = shutdown_signal();
    let sent = tokio::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(sent.success());
    let reason = timeout(WAIT, signal)
        .await
        .expect("the signal is seen")
        .expect("handlers installed");
    assert_eq!(reason, StopReason::Terminate);
}
