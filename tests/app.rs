//! `tars_rpc::app::Application` run as tarsnode runs a service, against real TARS peers: a
//! config file shaped as `NodeServer/CommandLoad.cpp` writes it, a stand-in tarsnode (the
//! `@tars/rpc` `ServerF` servant of `tests/node/serverf_server.js`) that must see the
//! keep-alives of every adapter, and a `@tars/rpc` client of `AdminObj`
//! (`tests/node/admin_client.js`) that sends commands and stops the service.
//!
//! The process tests run `examples/tars_app.rs` itself, `tars_app --config=FILE`, and check
//! that it exits 0 after `AdminF.shutdown` and after SIGTERM. Every server binds 127.0.0.1 on
//! ports the system picks; every wait is bounded.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::interop::{HelloProxy, HelloServant, InteropImp};
use common::node_peers::{js_string, NodePeer, NodeStat};
use common::{describe, ensure_node, lines_of, node_dir};
use tars_rpc::app::{AppError, Application};
use tars_rpc::client::Communicator;
use tars_rpc::config::{Config, ConfigError, ServerConfig};
use tars_rpc::node::{ConfigLoaded, StopReason, ADMIN_ADAPTER, ADMIN_OBJ};
use tars_rpc::protocol::{LengthPrefixed, RawServant};
use tars_rpc::server::Current;
use tars_rpc::stat::Policy;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);
const HELLO: &str = "TestApp.HelloServer.HelloObj";
const HELLO_ADAPTER: &str = "TestApp.HelloServer.HelloObjAdapter";
const ECHO: &str = "TestApp.HelloServer.EchoObj";
const ECHO_ADAPTER: &str = "TestApp.HelloServer.EchoObjAdapter";

/// A config as tarsnode writes it, every endpoint at port 0, the node at `node` if given.
/// The echo adapter speaks `protocol` and lets in only `allow`.
fn config_text(node: Option<&str>, protocol: &str, allow: &str) -> String {
    config_with_client(node, protocol, allow, "")
}

/// The same, with `client` added to `<client>`.
fn config_with_client(node: Option<&str>, protocol: &str, allow: &str, client: &str) -> String {
    let node = node.map_or(String::new(), |node| format!("node = {node}\n"));
    format!(
        "<tars>
  <application>
    enableset = n
    setdivision = NULL
    <server>
      app = TestApp
      server = HelloServer
      localip = 127.0.0.1
      local = tcp -h 127.0.0.1 -p 0 -t 10000
      {node}
      basepath = .
      datapath = .
      logpath = .
      logLevel = INFO
      <{HELLO_ADAPTER}>
        allow
        endpoint = tcp -h 127.0.0.1 -p 0 -t 60000
        maxconns = 100
        protocol = tars
        queuecap = 1000
        queuetimeout = 60000
        servant = {HELLO}
        threads = 5
      </{HELLO_ADAPTER}>
      <{ECHO_ADAPTER}>
        allow = {allow}
        endpoint = tcp -h 127.0.0.1 -p 0 -t 60000
        maxconns = 10
        protocol = {protocol}
        queuecap = 10
        queuetimeout = 10000
        servant = {ECHO}
        threads = 1
      </{ECHO_ADAPTER}>
    </server>
    <client>
      sync-invoke-timeout = 3000
      async-invoke-timeout = 5000
      refresh-endpoint-interval = 60000
      modulename = TestApp.HelloServer
      {client}
    </client>
  </application>
</tars>
"
    )
}

fn server_config(text: &str) -> ServerConfig {
    ServerConfig::from_config(&Config::parse(text).expect("the config parses"))
        .expect("a server config")
}

/// Every frame comes back as it is.
struct Echo;

impl RawServant for Echo {
    fn on_request<'a>(
        &'a self,
        current: &'a Current,
        request: bytes::Bytes,
    ) -> futures::future::BoxFuture<'a, ()> {
        Box::pin(async move {
            let _ = current.send_raw(request).await;
        })
    }
}

fn application(config: ServerConfig) -> Application {
    Application::from_config(config)
        .expect("the application")
        .logging(false)
        .servant("HelloObj", HelloServant::new(InteropImp::default()))
        .raw_servant("EchoObj", LengthPrefixed::new(1 << 16), Echo)
}

/// The keep-alive lines the stand-in node prints for `adapters`, from process `pid`.
fn keep_alive_line(pid: u32, adapter: &str) -> String {
    format!(
        "KEEPALIVE {{\"application\":\"TestApp\",\"serverName\":\"HelloServer\",\"pid\":{pid},\"adapter\":{}}}",
        js_string(adapter)
    )
}

/// Reads the node's lines until each of `adapters` has been kept alive at least once.
fn wait_keep_alives(node: &NodePeer, pid: u32, adapters: &[&str]) -> Vec<String> {
    let mut seen = Vec::new();
    let mut missing: Vec<String> = adapters.iter().map(|a| keep_alive_line(pid, a)).collect();
    while !missing.is_empty() {
        let line = node
            .next(WAIT)
            .unwrap_or_else(|| panic!("keep-alives missing: {missing:?}; seen: {seen:?}"));
        missing.retain(|wanted| *wanted != line);
        seen.push(line);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_binds_its_adapters_keeps_alive_and_stops_on_admin_shutdown() {
    ensure_node();
    let node = NodePeer::node();
    let config = server_config(&config_text(Some(&node.object()), "not_tars", "10.0.0.*"));
    let application = application(config).keep_alive_interval(Duration::from_millis(200));
    application
        .commands()
        .register("app.ping", |params: &str| format!("pong {params}"))
        .expect("a valid name");
    let running = application.start().await.expect("it starts");

    // every adapter, and the admin adapter, is reported alive with this process's pid
    let seen = wait_keep_alives(
        &node,
        std::process::id(),
        &[HELLO_ADAPTER, ECHO_ADAPTER, ADMIN_ADAPTER],
    );
    assert!(
        seen.iter().any(|line| line.starts_with("VERSION ")),
        "reportVersion at the start: {seen:?}"
    );

    // the TARS adapter serves calls
    let hello_addr = running.local_addr(HELLO).expect("HelloObj is bound");
    let communicator = Communicator::new();
    let hello: HelloProxy = communicator
        .string_to_proxy(&format!(
            "{HELLO}@tcp -h 127.0.0.1 -p {} -t 60000",
            hello_addr.port()
        ))
        .expect("a proxy");
    let (ret, rsp) = hello.test_hello("hi".into()).await.unwrap();
    assert_eq!((ret, rsp.as_str()), (0, "hi"));

    // the echo adapter's `allow` leaves this host out: its connections are closed at once
    let echo_addr = running.local_addr(ECHO).expect("EchoObj is bound");
    let mut refused = tokio::net::TcpStream::connect(echo_addr)
        .await
        .expect("accepted, then closed");
    let mut byte = [0u8; 1];
    let read = timeout(WAIT, tokio::io::AsyncReadExt::read(&mut refused, &mut byte))
        .await
        .expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "closed: {read:?}");
    let stats = running.server().expect("a server").stats();
    assert_eq!(stats.denied_connections, 1);

    // AdminObj at `local`: a built-in command, the application's own, then shutdown
    let admin_addr = running.local_addr(ADMIN_OBJ).expect("AdminObj at local");
    let waiting = tokio::spawn(running.wait());
    let output = admin_client(
        admin_addr,
        &["notify:tars.help", "notify:app.ping 7", "shutdown"],
    )
    .await;
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].contains("tars.viewstatus") && lines[0].contains("app.ping"),
        "tars.help lists the built-ins and the application's: {}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        format!(
            "NOTIFY {}",
            js_string("[notify servant object num:1]\n[1]:pong 7\n")
        )
    );
    let reason = timeout(WAIT, waiting)
        .await
        .expect("it stops in time")
        .expect("the wait task");
    assert_eq!(reason, StopReason::AdminShutdown);

    // stopped: the listeners are closed, and the keep-alives (every 200 ms while it ran) have
    // stopped: what the node still prints was sent before, and soon there is nothing
    assert!(tokio::net::TcpStream::connect(hello_addr).await.is_err());
    let mut late = Vec::new();
    while let Some(line) = node.next(Duration::from_millis(600)) {
        late.push(line);
        assert!(
            late.len() < 10,
            "keep-alives go on after the stop: {late:?}"
        );
    }
    communicator.shutdown().await;
}

/// `admin_client.js` run against `AdminObj` at `address` with `steps`.
async fn admin_client(address: SocketAddr, steps: &[&str]) -> std::process::Output {
    let proxy = format!("AdminObj@tcp -h 127.0.0.1 -p {} -t 60000", address.port());
    let client = tokio::process::Command::new("node")
        .current_dir(node_dir())
        .arg("admin_client.js")
        .arg(&proxy)
        .args(steps)
        .kill_on_drop(true)
        .output();
    timeout(WAIT, client)
        .await
        .expect("the admin client ends in time")
        .expect("node runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_reports_its_calls_and_properties_to_the_stat_services_of_its_config() {
    ensure_node();
    let stat = NodeStat::start();
    let client = format!("stat = {}\nproperty = {}\n", stat.stat(), stat.property());
    let config = server_config(&config_with_client(None, "not_tars", "", &client));
    let application = application(config);
    let property = application
        .stats()
        .expect("stat and property configured")
        .property("app.requests", &[Policy::Sum, Policy::Count]);
    let running = application.start().await.expect("it starts");

    // three calls served, counted by the server's observer; a property reported twice
    let hello_addr = running.local_addr(HELLO).expect("HelloObj is bound");
    let communicator = Communicator::new();
    let hello: HelloProxy = communicator
        .string_to_proxy(&format!(
            "{HELLO}@tcp -h 127.0.0.1 -p {}",
            hello_addr.port()
        ))
        .unwrap();
    for _ in 0..3 {
        assert_eq!(hello.test_hello("hi".into()).await.unwrap().0, 0);
    }
    property.report(4);
    property.report(6);
    communicator.shutdown().await;
    // the stop sends what was counted since the last report
    running.shutdown().await;

    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut served, mut property_values) = (None, None);
    while served.is_none() || property_values.is_none() {
        let report = stat.next(deadline).unwrap_or_else(|| {
            panic!("reports missing: calls {served:?}, property {property_values:?}")
        });
        for line in report["lines"].as_array().into_iter().flatten() {
            match report["kind"].as_str() {
                Some("stat") if line["head"]["interfaceName"] == "testHello" => {
                    assert_eq!(report["fromClient"], false, "the server's report: {report}");
                    assert_eq!(line["head"]["slaveName"], "TestApp.HelloServer");
                    served = line["body"]["count"].as_i64();
                }
                Some("property") if line["head"]["propertyName"] == "app.requests" => {
                    assert_eq!(line["head"]["moduleName"], "TestApp.HelloServer");
                    property_values = Some(line["body"]["vInfo"].to_string());
                }
                _ => {}
            }
        }
    }
    assert_eq!(served, Some(3), "the calls served");
    let values = property_values.expect("the property");
    assert!(
        values.contains("\"Sum\"") && values.contains("\"10\"") && values.contains("\"Count\""),
        "Sum 10 and Count 2: {values}"
    );
}

/// A directory of its own for one test, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("a scratch directory");
        Self(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_files_come_from_the_config_center_at_start_and_on_tars_loadconfig() {
    ensure_node();
    let center = NodePeer::config_center();
    let base = ScratchDir::new("config-center");
    let text = config_text(None, "not_tars", "").replace(
        "basepath = .",
        &format!(
            "basepath = {}\nconfig = {}",
            base.0.display(),
            center.object()
        ),
    );
    let application = application(server_config(&text));
    let remote = application
        .remote_config()
        .expect("a config center")
        .clone();

    // at start, as TarsCpp's addConfig in initialize()
    let loaded = remote.add_config("HelloServer.conf", false).await.unwrap();
    let path = base.0.join("HelloServer.conf");
    assert_eq!(loaded, ConfigLoaded::Downloaded { path: path.clone() });
    assert_eq!(
        center.next(WAIT).as_deref(),
        Some(r#"LOAD {"app":"TestApp","server":"HelloServer","filename":"HelloServer.conf"}"#)
    );
    let version = |path: &Path| {
        let config = Config::from_file(path).expect("a config file");
        config.get("/HelloServer.conf<version>").map(str::to_string)
    };
    assert_eq!(version(&path).as_deref(), Some("1"));

    // tars.loadconfig: downloaded again, the earlier version kept as a backup
    let running = application.start().await.unwrap();
    let admin = running.local_addr(ADMIN_OBJ).expect("AdminObj at local");
    let output = admin_client(
        admin,
        &[
            "notify:tars.loadconfig HelloServer.conf",
            "notify:tars.loadconfig missing.conf",
            "notify:tars.loadconfig ../outside.conf",
        ],
    )
    .await;
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let replies: Vec<&str> = stdout.lines().collect();
    let reply = |text: &str| {
        format!(
            "NOTIFY {}",
            js_string(&format!("[notify prefix object num:1]\n[1]:{text}\n"))
        )
    };
    assert_eq!(
        replies[0],
        reply("[succ] get remote config:HelloServer.conf")
    );
    assert_eq!(version(&path).as_deref(), Some("2"));
    assert_eq!(
        version(&base.0.join("HelloServer.conf.1.bak")).as_deref(),
        Some("1")
    );
    assert_eq!(
        replies[1],
        reply("[fail] get remote config 'missing.conf': the config center answered -1")
    );
    assert_eq!(
        replies[2],
        reply("[fail] config file name `../outside.conf`: a plain file name is expected")
    );

    // in a set: loadConfigByInfo, an application's file
    let in_set = remote.with_set_division("app.sz.1");
    let loaded = in_set.add_config("App.conf", true).await.unwrap();
    assert_eq!(loaded.path(), base.0.join("App.conf"));
    let mut calls = Vec::new();
    while let Some(line) = center.next(Duration::from_millis(300)) {
        calls.push(line);
    }
    assert!(
        calls.contains(&r#"LOADBYINFO {"appname":"TestApp","servername":"","filename":"App.conf","bAppOnly":true,"setdivision":"app.sz.1"}"#.to_string()),
        "{calls:?}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_config_and_the_servants_registered_must_agree() {
    let config = || server_config(&config_text(None, "not_tars", ""));

    // an adapter whose servant was not registered
    let missing = Application::from_config(config())
        .unwrap()
        .logging(false)
        .servant("HelloObj", HelloServant::new(InteropImp::default()))
        .start()
        .await
        .expect_err("EchoObj is not registered");
    assert!(
        matches!(&missing, AppError::UnregisteredServant { adapter, servant } if adapter == ECHO_ADAPTER && servant == ECHO),
        "{missing}"
    );

    // a raw servant on a tars adapter
    let wrong = Application::from_config(server_config(&config_text(None, "tars", "")))
        .unwrap()
        .logging(false)
        .servant("HelloObj", HelloServant::new(InteropImp::default()))
        .raw_servant("EchoObj", LengthPrefixed::new(1 << 16), Echo)
        .start()
        .await
        .expect_err("protocol tars, raw servant");
    assert!(
        matches!(&wrong, AppError::WrongProtocol { adapter, .. } if adapter == ECHO_ADAPTER),
        "{wrong}"
    );

    // a servant without an adapter or an endpoint
    let unplaced = application(config())
        .servant("OtherObj", HelloServant::new(InteropImp::default()))
        .start()
        .await
        .expect_err("OtherObj has no adapter");
    assert!(
        matches!(&unplaced, AppError::NoEndpoint { servant } if servant == "TestApp.HelloServer.OtherObj"),
        "{unplaced}"
    );

    // with `listen` it is served next to the configured ones
    let running = application(config())
        .servant("OtherObj", HelloServant::new(InteropImp::default()))
        .listen("OtherObj", "tcp -h 127.0.0.1 -p 0")
        .start()
        .await
        .expect("every servant placed");
    assert!(running.local_addr("TestApp.HelloServer.OtherObj").is_some());
    running.shutdown().await;

    // a bad value names its key
    let text = config_text(None, "not_tars", "").replace("maxconns = 10\n", "maxconns = ten\n");
    let bad = ServerConfig::from_config(&Config::parse(&text).unwrap()).expect_err("not a number");
    assert!(matches!(bad, ConfigError::BadValue { .. }), "{bad}");
    assert!(
        bad.to_string().contains(&format!(
            "/tars/application/server/{ECHO_ADAPTER}<maxconns>"
        )),
        "{bad}"
    );
}

/// `examples/tars_app.rs`, built if this test's build did not build it.
fn tars_app_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    // target/<profile>/deps/app-<hash> -> target/<profile>/examples/tars_app
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the profile directory");
    let binary = profile_dir.join("examples").join("tars_app");
    if !binary.exists() {
        let target_dir = profile_dir.parent().expect("the target directory");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let status = Command::new(cargo)
            .args(["build", "--example", "tars_app", "--target-dir"])
            .arg(target_dir)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --example tars_app");
    }
    binary
}

/// The example running as tarsnode runs it: its pid, the addresses it printed, its output.
struct TarsApp {
    child: std::process::Child,
    addresses: HashMap<String, SocketAddr>,
    _config: config_file::ConfigFile,
}

mod config_file {
    //! A config file for one test, removed when dropped (no temp-file crate needed).
    use std::path::{Path, PathBuf};

    pub struct ConfigFile(PathBuf);

    impl ConfigFile {
        pub fn new(name: &str, text: &str) -> Self {
            let path = std::env::temp_dir().join(format!("{}-{name}", std::process::id()));
            std::fs::write(&path, text).expect("the config is written");
            Self(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for ConfigFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

impl TarsApp {
    fn start(config: &str, name: &str) -> Self {
        let config = config_file::ConfigFile::new(name, config);
        let mut child = Command::new(tars_app_binary())
            .arg(format!("--config={}", config.path().display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("tars_app starts");
        let lines = lines_of(child.stdout.take().expect("piped"));
        let mut addresses = HashMap::new();
        loop {
            let line = lines.recv_timeout(WAIT).expect("tars_app prints ready");
            if line == "ready" {
                break;
            }
            if let Some(rest) = line.strip_prefix("listening ") {
                let (servant, address) = rest.split_once(' ').expect("servant and address");
                addresses.insert(servant.to_string(), address.parse().expect("an address"));
            }
        }
        Self {
            child,
            addresses,
            _config: config,
        }
    }

    /// Waits for the process to exit; its status.
    fn exit(mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "tars_app did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TarsApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_service_runs_under_a_node_and_exits_0_on_admin_shutdown() {
    ensure_node();
    let node = NodePeer::node();
    let app = TarsApp::start(
        &config_text(Some(&node.object()), "not_tars", "127.0.0.1"),
        "tars_app_admin.conf",
    );
    // the keep-alives, from the example's pid (at the default 10 s period: the first ones go
    // at the start)
    let pid = app.child.id();
    let seen = wait_keep_alives(&node, pid, &[""]);
    assert!(
        seen.iter().any(|line| line.starts_with("VERSION ")),
        "{seen:?}"
    );

    // a call, then the commands and the stop through AdminObj
    let communicator = Communicator::new();
    let hello: HelloProxy = communicator
        .string_to_proxy(&format!(
            "{HELLO}@tcp -h 127.0.0.1 -p {} -t 60000",
            app.addresses[HELLO].port()
        ))
        .unwrap();
    assert_eq!(hello.test_hello("hi".into()).await.unwrap().0, 0);
    let output = admin_client(
        app.addresses[ADMIN_OBJ],
        &[
            "notify:hello.calls",
            "notify:tars.viewversion",
            "notify:tars.setloglevel DEBUG",
            "shutdown",
        ],
    )
    .await;
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("[1]:1 calls"),
        "the example's command: {stdout}"
    );
    assert!(stdout.contains("app version: 1.0.0"), "{stdout}");
    // the application's own subscriber takes the new level
    assert!(
        stdout.contains("set log level [DEBUG] ok"),
        "tars.setloglevel: {stdout}"
    );
    let status = tokio::task::spawn_blocking(move || app.exit())
        .await
        .unwrap();
    assert!(status.success(), "tars_app exits 0: {status}");
    communicator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_service_exits_0_on_sigterm() {
    let app = TarsApp::start(
        &config_text(None, "not_tars", "127.0.0.1"),
        "tars_app_sigterm.conf",
    );
    assert!(app.addresses.contains_key(ECHO), "{:?}", app.addresses);
    let killed = Command::new("kill")
        .args(["-TERM", &app.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || app.exit())
        .await
        .unwrap();
    assert!(status.success(), "tars_app exits 0 on SIGTERM: {status}");
}
