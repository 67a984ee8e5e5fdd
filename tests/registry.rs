//! The registry, `tars_rpc::registry`, against real peers and against itself:
//!
//! * `EndpointF` bytes against the codec the npm package `@tars/registry` ships
//!   (`tests/node/registry_codec.js`), both ways;
//! * `Locator::discover` against a Node `QueryF` server built with `@tars/rpc` and that codec
//!   (`tests/node/registry_server.js`), serving lists and sets that change while it runs,
//!   and failing, erring and answering malformed replies on request; the Node client of the
//!   same registry (`tests/node/registry_client.js resolve`) finds the same endpoints;
//! * the `DevRegistry` through a `Locator` and `QueryF`: code, the endpoints file, sets as
//!   tarsregistry matches them, servers registering themselves, the enterprise functions;
//! * a Node `@tars/rpc` client whose `locator` is the `DevRegistry`, calling Rust servers it
//!   finds there by object name (and by set).
//!
//! Every server binds 127.0.0.1 on a port the system picks; waits are bounded. Node.js must be
//! installed; the packages are installed on first use with `npm ci` in `tests/node`.

mod common;

use std::collections::BTreeMap;
use std::error::Error as _;
use std::io::Write;
use std::process::{Child, ChildStdin, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::interop::{HelloServant, InteropImp};
use common::{describe, ensure_node, hex, node_dir, run_in_node_dir, spawn_node, unhex};
use tars_rpc::client::discovery::{Discovery, Instances, Lookup};
use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::endpoint::Endpoint;
use tars_rpc::packet::ReturnCode;
use tars_rpc::registry::{
    register_with, DevRegistry, EndpointF, GetMasterSlaveLock, LoadError, Locator, QueryFProxy,
    QueryFailed, RegistrarProxy, QUERY_OBJ,
};
use tars_rpc::server::Server;
use tars_rpc::{Error, TarsStruct};
use tokio::net::TcpListener;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);
const HELLO: &str = "TestApp.HelloServer.HelloObj";
const OBJECT: &str = "App.Server.Obj";

fn tcp(host: &str, port: i32) -> EndpointF {
    EndpointF {
        host: host.into(),
        port,
        istcp: 1,
        ..EndpointF::default()
    }
}

fn weighted(port: i32, weight: i32) -> EndpointF {
    EndpointF {
        weight,
        weight_type: 1,
        ..tcp("127.0.0.1", port)
    }
}

fn endpoint(host: &str, port: u16) -> Endpoint {
    Endpoint::new(host, port)
}

/// What `call` returns, within [`WAIT`].
async fn answer<T>(call: impl std::future::Future<Output = tars_rpc::Result<T>>) -> T {
    timeout(WAIT, call)
        .await
        .expect("an answer in time")
        .unwrap()
}

async fn discover(locator: &Locator, object: &str, lookup: Lookup) -> tars_rpc::Result<Instances> {
    timeout(WAIT, locator.discover(object, &lookup))
        .await
        .unwrap_or_else(|_| panic!("discover({object}, {lookup:?}) within {WAIT:?}"))
}

/// The return value a registry answered, from a locator's error.
fn query_failed(error: &Error) -> &QueryFailed {
    error
        .source()
        .and_then(|source| source.downcast_ref::<QueryFailed>())
        .unwrap_or_else(|| panic!("not a QueryFailed: {error}"))
}

// ---------------------------------------------------------------------------------------------
// EndpointF against @tars/registry's codec
// ---------------------------------------------------------------------------------------------

/// The cases of `tests/node/registry_codec.js`.
fn codec_cases() -> Vec<(&'static str, EndpointF)> {
    vec![
        (
            "full",
            EndpointF {
                host: "10.0.0.1".into(),
                port: 18015,
                timeout: 60000,
                istcp: 1,
                grid: 2,
                groupworkid: 3,
                grouprealid: 4,
                set_id: "app.sz.1".into(),
                qos: 5,
                bak_flag: 6,
                weight: 70,
                weight_type: 1,
                ..EndpointF::default()
            },
        ),
        ("minimal", tcp("127.0.0.1", 1)),
        (
            "negative",
            EndpointF {
                host: "h".into(),
                port: 65535,
                timeout: -1,
                istcp: 0,
                grid: -2,
                weight: -5,
                weight_type: 1,
                set_id: "app.sh.*".into(),
                ..EndpointF::default()
            },
        ),
    ]
}

/// What `registry_codec.js decode` prints for `e`: the fields `@tars/registry` knows.
fn node_description(e: &EndpointF) -> String {
    format!(
        "host={} port={} timeout={} istcp={} grid={} groupworkid={} grouprealid={} setId={} \
         qos={} bakFlag={} weight={} weightType={}",
        e.host,
        e.port,
        e.timeout,
        e.istcp,
        e.grid,
        e.groupworkid,
        e.grouprealid,
        e.set_id,
        e.qos,
        e.bak_flag,
        e.weight,
        e.weight_type
    )
}

fn node_decode(bytes: &[u8]) -> String {
    let output = run_in_node_dir("node", &["registry_codec.js", "decode", &hex(bytes)]);
    assert!(
        output.status.success(),
        "@tars/registry rejects {}: {}",
        hex(bytes),
        describe(&output)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn endpoint_f_reads_and_writes_what_tars_registry_does() {
    ensure_node();
    let output = run_in_node_dir("node", &["registry_codec.js", "encode"]);
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let node: BTreeMap<&str, Vec<u8>> = stdout
        .lines()
        .map(|line| {
            let (name, hex) = line.split_once(' ').expect("`<name> <hex>`");
            (name, unhex(hex))
        })
        .collect();
    let cases = codec_cases();
    assert_eq!(node.len(), cases.len(), "{stdout}");
    for (name, expected) in &cases {
        let bytes = &node[name];
        assert_eq!(
            &EndpointF::decode_from(bytes).unwrap(),
            expected,
            "{name}: Rust decodes @tars/registry's bytes"
        );
        let ours = expected.to_bytes();
        assert_eq!(
            node_decode(&ours),
            node_description(expected),
            "{name}: @tars/registry decodes Rust's bytes"
        );
        if *name == "full" {
            // @tars/registry writes every field; with none at its default, so does Rust
            assert_eq!(hex(&ours), hex(bytes), "{name}: the same bytes");
        }
    }
    // @tars/registry's EndpointF predates authType (13) and nodeName (14): it skips them
    let newer = EndpointF {
        auth_type: 1,
        node_name: "node-1".into(),
        ..cases[0].1.clone()
    };
    assert_eq!(node_decode(&newer.to_bytes()), node_description(&newer));
}

// ---------------------------------------------------------------------------------------------
// The Node QueryF server
// ---------------------------------------------------------------------------------------------

/// `node registry_server.js 0`, driven over stdin; stopped (stdin closed, then killed) when
/// dropped.
struct NodeRegistry {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    port: u16,
}

impl NodeRegistry {
    fn start() -> Self {
        let (child, stdin, lines) = spawn_node(&["registry_server.js", "0"]);
        let ready = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("registry_server.js prints READY within 20 s");
        let port = ready
            .strip_prefix("READY ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("expected `READY <port>`, got {ready:?}"));
        Self {
            child,
            stdin: Some(stdin),
            lines,
            port,
        }
    }

    fn locator(&self) -> String {
        format!("{QUERY_OBJ}@tcp -h 127.0.0.1 -p {}", self.port)
    }

    /// Sends one command line; returns the answer.
    fn command(&mut self, json: &str) -> String {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{json}").expect("registry_server.js reads its stdin");
        stdin.flush().unwrap();
        let answer = self
            .lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("an answer to {json} within {WAIT:?}"));
        assert!(!answer.starts_with("ERROR"), "{json}: {answer}");
        answer
    }

    fn set(&mut self, object: &str, active: &[EndpointF], inactive: &[EndpointF]) {
        let (active, inactive) = (json_list(active), json_list(inactive));
        self.command(&format!(
            r#"{{"cmd":"set","object":"{object}","active":{active},"inactive":{inactive}}}"#
        ));
    }

    fn set_set(&mut self, object: &str, set: &str, active: &[EndpointF]) {
        let active = json_list(active);
        self.command(&format!(
            r#"{{"cmd":"setSet","object":"{object}","setId":"{set}","active":{active},"inactive":[]}}"#
        ));
    }

    /// The calls it received since the last time, as `function:id[:arg]`.
    fn calls(&mut self) -> Vec<String> {
        let answer = self.command(r#"{"cmd":"calls"}"#);
        answer
            .strip_prefix("CALLS")
            .unwrap_or_else(|| panic!("{answer:?}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    }
}

impl Drop for NodeRegistry {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_list(list: &[EndpointF]) -> String {
    let endpoints: Vec<String> = list
        .iter()
        .map(|e| {
            format!(
                r#"{{"host":"{}","port":{},"timeout":{},"istcp":{},"setId":"{}","weight":{},"weightType":{}}}"#,
                e.host, e.port, e.timeout, e.istcp, e.set_id, e.weight, e.weight_type
            )
        })
        .collect();
    format!("[{}]", endpoints.join(","))
}

/// Runs `node registry_client.js args...` off the runtime; kills it after 30 s.
async fn node_registry_client(args: &[&str]) -> Output {
    let run = tokio::process::Command::new("node")
        .arg("registry_client.js")
        .args(args)
        .current_dir(node_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    timeout(Duration::from_secs(30), run)
        .await
        .unwrap_or_else(|_| panic!("registry_client.js {args:?} still running after 30 s"))
        .expect("node runs")
}

/// What the Node client finds: the return value, the active and the inactive endpoints as
/// `@tars/rpc`'s EndpointManager writes them.
struct NodeFound {
    ret: i32,
    active: Vec<String>,
    inactive: Vec<String>,
}

async fn node_resolve(locator: &str, object: &str, set: Option<&str>) -> NodeFound {
    let mut args = vec!["resolve", locator, object];
    args.extend(set);
    let output = node_registry_client(&args).await;
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut found = NodeFound {
        ret: i32::MIN,
        active: Vec::new(),
        inactive: Vec::new(),
    };
    for line in stdout.lines() {
        match line.split_once(' ') {
            Some(("RET", ret)) => found.ret = ret.parse().unwrap(),
            Some(("active", endpoint)) => found.active.push(endpoint.to_string()),
            Some(("inactive", endpoint)) => found.inactive.push(endpoint.to_string()),
            _ => panic!("unexpected line {line:?} in {stdout:?}"),
        }
    }
    found
}

/// An endpoint as `registry_client.js` writes one.
fn as_node_writes(endpoint: &Endpoint) -> String {
    let timeout = endpoint.timeout().map_or(0, |timeout| timeout.as_millis());
    format!(
        "tcp -h {} -p {} -t {timeout}",
        endpoint.host(),
        endpoint.port()
    )
}

/// Checks that the Node client finds in the registry at `locator` what `found` holds (the TCP
/// endpoints: the Node client keeps UDP ones, the Rust one leaves them out).
async fn assert_node_finds(locator: &str, object: &str, set: Option<&str>, found: &Instances) {
    let node = node_resolve(locator, object, set).await;
    assert_eq!(node.ret, 0, "{object} in {set:?}");
    let tcp_only = |list: Vec<String>| -> Vec<String> {
        list.into_iter().filter(|e| e.starts_with("tcp")).collect()
    };
    let written = |list: &[Endpoint]| -> Vec<String> { list.iter().map(as_node_writes).collect() };
    assert_eq!(
        tcp_only(node.active),
        written(&found.active),
        "active, {set:?}"
    );
    assert_eq!(
        tcp_only(node.inactive),
        written(&found.inactive),
        "inactive, {set:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locator_finds_what_the_node_registry_serves_as_the_node_client_does() {
    let mut node = NodeRegistry::start();
    let locator = Locator::new(&node.locator()).unwrap();
    let udp = EndpointF {
        istcp: 0,
        ..tcp("127.0.0.9", 9)
    };
    let timed = EndpointF {
        timeout: 60000,
        ..tcp("127.0.0.1", 18015)
    };
    node.set(
        OBJECT,
        &[timed, udp, tcp("127.0.0.2", 18016)],
        &[tcp("127.0.0.3", 18017)],
    );

    let found = discover(&locator, OBJECT, Lookup::SameGroup).await.unwrap();
    assert_eq!(
        found,
        Instances {
            active: vec![
                endpoint("127.0.0.1", 18015).with_timeout(Duration::from_secs(60)),
                endpoint("127.0.0.2", 18016),
            ],
            inactive: vec![endpoint("127.0.0.3", 18017)],
        },
        "UDP left out, -t kept"
    );
    assert_node_finds(&node.locator(), OBJECT, None, &found).await;

    // the list changes while both run: the next lookup sees the new one
    node.set(OBJECT, &[tcp("127.0.0.4", 1)], &[]);
    let found = discover(&locator, OBJECT, Lookup::SameGroup).await.unwrap();
    assert_eq!(found, Instances::active(vec![endpoint("127.0.0.4", 1)]));
    assert_node_finds(&node.locator(), OBJECT, None, &found).await;

    // an object the registry does not know: no endpoints, no error (tarsregistry answers 0)
    let unknown = discover(&locator, "App.Server.Unknown", Lookup::SameGroup)
        .await
        .unwrap();
    assert_eq!(unknown, Instances::default());

    // each lookup calls its QueryF function
    node.calls();
    for lookup in [
        Lookup::Any,
        Lookup::All,
        Lookup::SameGroup,
        Lookup::SameSet("app.sz.1".into()),
    ] {
        let _ = discover(&locator, OBJECT, lookup).await;
    }
    assert_eq!(
        node.calls(),
        [
            "findObjectById4Any:App.Server.Obj",
            "findObjectById4All:App.Server.Obj",
            "findObjectByIdInSameGroup:App.Server.Obj",
            "findObjectByIdInSameSet:App.Server.Obj:app.sz.1",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locator_follows_the_sets_of_the_node_registry() {
    let mut node = NodeRegistry::start();
    let locator = Locator::new(&node.locator()).unwrap();
    node.set(OBJECT, &[tcp("127.0.0.1", 1), tcp("127.0.0.1", 2)], &[]);
    node.set_set(
        OBJECT,
        "app.sz.1",
        &[tcp("127.0.0.1", 2).in_set("app.sz.1")],
    );

    let in_set = |set: &str| discover(&locator, OBJECT, Lookup::SameSet(set.into()));
    let found = in_set("app.sz.1").await.unwrap();
    assert_eq!(found, Instances::active(vec![endpoint("127.0.0.1", 2)]));
    assert_node_finds(&node.locator(), OBJECT, Some("app.sz.1"), &found).await;

    // a set without endpoints of the object: tarsregistry answers -1
    let error = in_set("app.sz.2").await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::ADAPTER_NULL);
    assert_eq!(
        (query_failed(&error).function, query_failed(&error).ret),
        ("findObjectByIdInSameSet", -1)
    );
    assert!(
        error
            .message()
            .contains("findObjectByIdInSameSet(App.Server.Obj, app.sz.2) returned -1"),
        "{error}"
    );
    assert_eq!(
        node_resolve(&node.locator(), OBJECT, Some("app.sz.2"))
            .await
            .ret,
        -1
    );

    // the set's endpoints change
    node.set_set(
        OBJECT,
        "app.sz.1",
        &[
            tcp("127.0.0.1", 3).in_set("app.sz.1"),
            tcp("127.0.0.1", 4).in_set("app.sz.1"),
        ],
    );
    let found = in_set("app.sz.1").await.unwrap();
    assert_eq!(
        found.active,
        [endpoint("127.0.0.1", 3), endpoint("127.0.0.1", 4)]
    );
    assert_node_finds(&node.locator(), OBJECT, Some("app.sz.1"), &found).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locator_reads_static_weights_as_tarscpp_does() {
    let mut node = NodeRegistry::start();
    let locator = Locator::new(&node.locator()).unwrap();
    // all weighted: the endpoints of weight 0 or less are left out, active or not
    node.set(
        OBJECT,
        &[weighted(1, 30), weighted(2, 0), weighted(3, 250)],
        &[weighted(4, -1), weighted(5, 10)],
    );
    let found = discover(&locator, OBJECT, Lookup::SameGroup).await.unwrap();
    assert_eq!(
        found,
        Instances {
            active: vec![
                endpoint("127.0.0.1", 1).with_static_weight(30),
                endpoint("127.0.0.1", 3).with_static_weight(250),
            ],
            inactive: vec![endpoint("127.0.0.1", 5).with_static_weight(10)],
        }
    );
    assert_eq!(
        found.active[1].static_weight(),
        Some(100),
        "capped as TarsCpp does"
    );
    // a list mixing weight types is not weighted: nothing is left out for its weight
    node.set(
        OBJECT,
        &[weighted(1, 30), weighted(2, 0), tcp("127.0.0.1", 3)],
        &[],
    );
    let found = discover(&locator, OBJECT, Lookup::SameGroup).await.unwrap();
    assert_eq!(found.active.len(), 3, "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locator_reports_failed_and_malformed_replies_cleanly() {
    let mut node = NodeRegistry::start();
    let locator = Locator::new(&node.locator()).unwrap();

    // a non-zero return value
    node.command(r#"{"cmd":"fail","object":"Bad.Ret","ret":-5}"#);
    let error = discover(&locator, "Bad.Ret", Lookup::Any)
        .await
        .unwrap_err();
    assert_eq!(error.code(), ReturnCode::ADAPTER_NULL);
    assert_eq!(
        (query_failed(&error).function, query_failed(&error).ret),
        ("findObjectById4Any", -5)
    );

    // an error reply: its code, its description, the call's error as the source
    node.command(r#"{"cmd":"error","object":"Bad.Error","code":1234,"message":"registry broke"}"#);
    let error = discover(&locator, "Bad.Error", Lookup::SameGroup)
        .await
        .unwrap_err();
    assert_eq!(error.code(), ReturnCode(1234));
    assert!(error.message().contains("registry broke"), "{error}");
    let source = error.source().and_then(|s| s.downcast_ref::<Error>());
    assert_eq!(source.map(Error::code), Some(ReturnCode(1234)));

    // replies whose sBuffer does not decode: -12, naming the registry and the function
    for (object, reply) in [
        ("Bad.Empty", ""),
        // activeEp is a string
        ("Bad.Type", "0c2603616263"),
        // an EndpointF without its required port
        ("Bad.Struct", "0c2900010a0601680b390c"),
        // a list of 5 that ends at once
        ("Bad.Truncated", "0c290005"),
    ] {
        node.command(&format!(
            r#"{{"cmd":"raw","object":"{object}","hex":"{reply}"}}"#
        ));
        let error = discover(&locator, object, Lookup::SameGroup)
            .await
            .unwrap_err();
        assert_eq!(
            error.code(),
            ReturnCode::CLIENT_DECODE_ERR,
            "{object}: {error}"
        );
        assert!(
            error.message().starts_with(&format!(
                "registry {}: findObjectByIdInSameGroup({object}) failed: ",
                node.locator()
            )),
            "{object}: {error}"
        );
        assert!(error.source().is_some(), "{object}");
    }

    // no reply at all: the call's timeout
    node.command(r#"{"cmd":"silent","object":"Bad.Silent"}"#);
    let quick = Communicator::builder()
        .call_timeout(Duration::from_millis(300))
        .build();
    let impatient = Locator::with_communicator(&quick, &node.locator()).unwrap();
    let error = discover(&impatient, "Bad.Silent", Lookup::SameGroup)
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");

    // the registry answers the other objects all along
    node.set(OBJECT, &[tcp("127.0.0.1", 1)], &[]);
    assert_eq!(
        discover(&locator, OBJECT, Lookup::SameGroup)
            .await
            .unwrap()
            .active,
        [endpoint("127.0.0.1", 1)]
    );
}

#[tokio::test]
async fn a_registry_that_is_down_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let communicator = Communicator::builder()
        .connect_timeout(Duration::from_secs(1))
        .call_timeout(Duration::from_secs(1))
        .build();
    let locator =
        Locator::with_communicator(&communicator, &format!("tcp -h 127.0.0.1 -p {port}")).unwrap();
    let error = discover(&locator, OBJECT, Lookup::SameGroup)
        .await
        .unwrap_err();
    assert!(
        error.code() == ReturnCode::PROXY_CONNECT_ERR || error.is_timeout(),
        "{error}"
    );
    assert!(error.source().is_some());
    assert!(Locator::new("tars.tarsregistry.QueryObj@").is_err());
}

// ---------------------------------------------------------------------------------------------
// The development registry
// ---------------------------------------------------------------------------------------------

/// Serves `registry` as `tars.tarsregistry.QueryObj` on a port the system picks; returns the
/// server and the locator string.
async fn serve(registry: &DevRegistry) -> (Server, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::builder()
        .servant(QUERY_OBJ, listener, registry.clone())
        .start()
        .await
        .unwrap();
    let port = server.local_addr(QUERY_OBJ).unwrap().port();
    (server, format!("{QUERY_OBJ}@tcp -h 127.0.0.1 -p {port}"))
}

/// A Hello servant named `servant` on a port the system picks; returns the server and port.
async fn hello_server(servant: &str) -> (Server, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::builder()
        .servant(servant, listener, HelloServant::new(InteropImp::default()))
        .start()
        .await
        .unwrap();
    let port = server.local_addr(servant).unwrap().port();
    (server, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locator_reads_the_dev_registry() {
    let registry = DevRegistry::new();
    let (_server, address) = serve(&registry).await;
    let locator = Locator::new(&address).unwrap();
    let find = |lookup| discover(&locator, OBJECT, lookup);

    registry.add(OBJECT, endpoint("127.0.0.1", 1));
    registry.add(OBJECT, weighted(2, 40));
    registry.add_inactive(OBJECT, endpoint("127.0.0.1", 3));
    registry.add(
        OBJECT,
        EndpointF {
            istcp: 0,
            ..tcp("127.0.0.1", 4)
        },
    );
    let expected = Instances {
        active: vec![
            endpoint("127.0.0.1", 1),
            endpoint("127.0.0.1", 2).with_static_weight(40),
        ],
        inactive: vec![endpoint("127.0.0.1", 3)],
    };
    for lookup in [Lookup::SameGroup, Lookup::Any, Lookup::All] {
        assert_eq!(find(lookup.clone()).await.unwrap(), expected, "{lookup:?}");
    }

    // replace, remove, set
    registry.add(OBJECT, endpoint("127.0.0.1", 3)); // active now
    assert!(registry.remove(OBJECT, endpoint("127.0.0.1", 1)));
    assert!(!registry.remove(OBJECT, endpoint("127.0.0.1", 1)));
    let found = find(Lookup::SameGroup).await.unwrap();
    assert_eq!(
        found.active,
        [
            endpoint("127.0.0.1", 2).with_static_weight(40),
            endpoint("127.0.0.1", 3)
        ]
    );
    assert!(found.inactive.is_empty());
    let instances = Instances {
        active: vec![endpoint("127.0.0.1", 5).with_timeout(Duration::from_millis(3000))],
        inactive: vec![endpoint("127.0.0.1", 6)],
    };
    registry.set(OBJECT, instances.clone());
    assert_eq!(find(Lookup::SameGroup).await.unwrap(), instances);
    registry.set(OBJECT, Instances::default());
    assert_eq!(registry.objects(), Vec::<String>::new());
    assert_eq!(find(Lookup::SameGroup).await.unwrap(), Instances::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_registry_matches_sets_as_tarsregistry_does() {
    let registry = DevRegistry::new();
    let (_server, address) = serve(&registry).await;
    let locator = Locator::new(&address).unwrap();
    registry
        .load_text(
            "\
App.Server.Obj tcp -h 127.0.0.1 -p 1
App.Server.Obj tcp -h 127.0.0.1 -p 2 -s app.sz.1
App.Server.Obj tcp -h 127.0.0.1 -p 3 -s app.sz.2
App.Server.Obj tcp -h 127.0.0.1 -p 4 -s app.sz.*
App.Server.Obj tcp -h 127.0.0.1 -p 5 -s app.sh.1 inactive
",
        )
        .unwrap();
    let ports = |found: Instances| -> (Vec<u16>, Vec<u16>) {
        let ports = |list: Vec<Endpoint>| list.iter().map(Endpoint::port).collect();
        (ports(found.active), ports(found.inactive))
    };
    for (set, expected) in [
        ("app.sz.1", Ok((vec![2], vec![]))),
        ("app.sz.9", Ok((vec![4], vec![]))), // no group 9: the area's `*` group
        ("app.sz.*", Ok((vec![2, 3, 4], vec![]))), // the whole area
        ("app.sh.1", Ok((vec![], vec![5]))),
        ("app.sh.2", Err(-1)), // sets of `app` in sh, but not this one
        ("app.gz.1", Err(-1)),
        ("other.sz.1", Ok((vec![1, 2, 3, 4], vec![5]))), // no set `other`: the group's
        ("app.sz", Err(-1)),                             // malformed
        ("*.sz.1", Err(-1)),
    ] {
        let found = discover(&locator, OBJECT, Lookup::SameSet(set.into())).await;
        let found = found.map(ports).map_err(|error| query_failed(&error).ret);
        assert_eq!(found, expected, "{set}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_registry_answers_every_query_function() {
    let registry = DevRegistry::new();
    let (_server, address) = serve(&registry).await;
    let query: QueryFProxy = Communicator::new().string_to_proxy(&address).unwrap();
    registry.add(OBJECT, endpoint("127.0.0.1", 1));
    registry.add_inactive(OBJECT, endpoint("127.0.0.1", 2));

    let active = answer(query.find_object_by_id(OBJECT.into())).await;
    assert_eq!(active, [EndpointF::from(endpoint("127.0.0.1", 1))]);
    let (ret, active, inactive) =
        answer(query.find_object_by_id_in_same_station(OBJECT.into(), "sz".into())).await;
    assert_eq!((ret, active.len(), inactive.len()), (0, 1, 1));
    let (ret, active, inactive) =
        answer(query.find_object_by_id_in_same_group("Unknown.Obj".into())).await;
    assert_eq!((ret, active, inactive), (0, vec![], vec![]));

    // the enterprise functions: not supported, their own failure value
    let registered = answer(query.register_query(OBJECT.into(), "client".into())).await;
    let changes = answer(query.register_change(BTreeMap::new(), "client".into())).await;
    let lock = answer(query.get_locker(GetMasterSlaveLock {
        application: "App".into(),
        server_name: "Server".into(),
        ..GetMasterSlaveLock::default()
    }))
    .await;
    assert_eq!((registered, changes, lock), (-1, -1, -1));

    let reply = timeout(WAIT, query.proxy().invoke_raw("noSuchFunction", &[]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.ret, ReturnCode::SERVER_NO_FUNC);
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        Self(std::env::temp_dir().join(format!("tars-rpc-registry-{}-{name}", std::process::id())))
    }

    fn write(&self, text: &str) {
        std::fs::write(&self.0, text).unwrap();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_registry_loads_and_reloads_its_endpoints_file() {
    let registry = DevRegistry::new();
    let (_server, address) = serve(&registry).await;
    let locator = Locator::new(&address).unwrap();
    let ports = || async {
        let found = discover(&locator, OBJECT, Lookup::SameGroup).await.unwrap();
        let ports = |list: Vec<Endpoint>| -> Vec<u16> { list.iter().map(Endpoint::port).collect() };
        (ports(found.active), ports(found.inactive))
    };
    assert!(matches!(registry.reload(), Err(LoadError::NoFile)));

    let file = TempFile::new("endpoints.txt");
    file.write(
        "# two\nApp.Server.Obj tcp -h 127.0.0.1 -p 1\nApp.Server.Obj 127.0.0.1:2 inactive\n",
    );
    assert_eq!(registry.load_file(&file.0).unwrap(), 2);
    registry.add(OBJECT, endpoint("127.0.0.1", 9)); // from code: a reload leaves it
    assert_eq!(ports().await, (vec![1, 9], vec![2]));

    file.write(
        "App.Server.Obj tcp -h 127.0.0.1 -p 3 -t 5000\nOther.Server.Obj tcp -h 127.0.0.1 -p 4\n",
    );
    assert_eq!(registry.reload().unwrap(), 2);
    assert_eq!(ports().await, (vec![9, 3], vec![]));
    assert_eq!(registry.objects(), [OBJECT, "Other.Server.Obj"]);

    // a broken file changes nothing, and names its line
    file.write("App.Server.Obj tcp -h 127.0.0.1 -p 5\nApp.Server.Obj tcp -h 127.0.0.1\n");
    let error = registry.reload().unwrap_err();
    assert!(
        matches!(&error, LoadError::Parse { line: 2, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("missing `-p PORT`"), "{error}");
    assert_eq!(ports().await, (vec![9, 3], vec![]));

    let missing = TempFile::new("missing.txt");
    assert!(matches!(
        registry.load_file(&missing.0),
        Err(LoadError::Io { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_register_themselves_and_turn_inactive_when_they_stop() {
    let registry = DevRegistry::new();
    let (_server, address) = serve(&registry).await;
    let locator = Locator::new(&address).unwrap();
    let (_hello, port) = hello_server(HELLO).await;
    let at = endpoint("127.0.0.1", port);
    let state = |registry: &DevRegistry| {
        let (active, inactive) = registry.endpoints(HELLO);
        (active.len(), inactive.len())
    };

    let registration = answer(register_with(&address, HELLO, at.clone())).await;
    assert_eq!(registration.object(), HELLO);
    assert_eq!(
        discover(&locator, HELLO, Lookup::SameGroup).await.unwrap(),
        Instances::active(vec![at.clone()])
    );

    // the server goes away (its registration is dropped): the endpoint turns inactive
    drop(registration);
    wait_for_endpoints(&registry, HELLO, 0, 1).await;
    assert_eq!(
        discover(&locator, HELLO, Lookup::SameGroup)
            .await
            .unwrap()
            .inactive,
        std::slice::from_ref(&at)
    );

    // it comes back, in a set, and leaves for good
    let registration = answer(register_with(
        &address,
        HELLO,
        EndpointF::from(&at).in_set("app.sz.1"),
    ))
    .await;
    assert_eq!(state(&registry), (1, 0));
    let found = discover(&locator, HELLO, Lookup::SameSet("app.sz.1".into()))
        .await
        .unwrap();
    assert_eq!(found.active, std::slice::from_ref(&at));
    timeout(WAIT, registration.unregister())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state(&registry), (0, 0));

    // what cannot be registered
    for bad in [
        EndpointF {
            istcp: 0,
            ..EndpointF::from(&at)
        },
        EndpointF::from(&at).in_set("app.sz"),
        tcp("", 1),
    ] {
        let error = timeout(WAIT, register_with(&address, HELLO, bad.clone()))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(error.code(), ReturnCode::ADAPTER_NULL, "{bad}: {error}");
    }
    // the registry checks too: registerEndpoint from any client
    let registrar: RegistrarProxy = Communicator::new().string_to_proxy(&address).unwrap();
    let refused = timeout(
        WAIT,
        registrar.register_endpoint(HELLO.into(), tcp("127.0.0.1", 0), false),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(refused, -1);
    let kept = timeout(
        WAIT,
        registrar.register_endpoint(HELLO.into(), EndpointF::from(&at), false),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((kept, state(&registry)), (0, (1, 0)));
    let gone = registrar.unregister_endpoint(HELLO.into(), "127.0.0.1".into(), port.into());
    assert_eq!(timeout(WAIT, gone).await.unwrap().unwrap(), 0);
    let again = registrar.unregister_endpoint(HELLO.into(), "127.0.0.1".into(), port.into());
    assert_eq!(timeout(WAIT, again).await.unwrap().unwrap(), 1);
}

/// Waits (within [`WAIT`]) until `registry` has `active` and `inactive` endpoints of `object`.
async fn wait_for_endpoints(registry: &DevRegistry, object: &str, active: usize, inactive: usize) {
    let mut changes = registry.changes();
    let counts = || {
        let (a, i) = registry.endpoints(object);
        (a.len(), i.len())
    };
    timeout(WAIT, async {
        while counts() != (active, inactive) {
            changes.changed().await.unwrap();
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{object}: {:?} endpoints (active, inactive), not ({active}, {inactive})",
            counts()
        )
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_is_made_again_when_the_registry_restarts() {
    let registry = DevRegistry::new();
    let (server, address) = serve(&registry).await;
    let registry_address = server.local_addr(QUERY_OBJ).unwrap();
    let (_hello, port) = hello_server(HELLO).await;
    let _registration = answer(register_with(&address, HELLO, endpoint("127.0.0.1", port))).await;
    wait_for_endpoints(&registry, HELLO, 1, 0).await;

    // the registry stops: the registration's connection closes with it
    timeout(WAIT, server.shutdown()).await.unwrap();
    wait_for_endpoints(&registry, HELLO, 0, 1).await;

    // it starts again at the same address, keeping what it had: the registration connects
    // again by itself and registers again
    let listener = TcpListener::bind(registry_address).await.unwrap();
    let _server = Server::builder()
        .servant(QUERY_OBJ, listener, registry.clone())
        .start()
        .await
        .unwrap();
    wait_for_endpoints(&registry, HELLO, 1, 0).await;
}

// ---------------------------------------------------------------------------------------------
// A Node client with the development registry as its locator
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_client_finds_in_the_dev_registry_what_the_locator_finds() {
    ensure_node();
    let registry = DevRegistry::new();
    let (_server, address) = serve(&registry).await;
    let locator = Locator::new(&address).unwrap();
    registry
        .load_text(
            "\
App.Server.Obj tcp -h 127.0.0.1 -p 1 -t 60000
App.Server.Obj tcp -h 127.0.0.1 -p 2 -s app.sz.1
App.Server.Obj tcp -h 127.0.0.1 -p 3 -s app.sz.*
App.Server.Obj tcp -h 127.0.0.1 -p 4 inactive
",
        )
        .unwrap();
    for set in [None, Some("app.sz.1"), Some("app.sz.2")] {
        let lookup = set.map_or(Lookup::SameGroup, |set| Lookup::SameSet(set.into()));
        let found = discover(&locator, OBJECT, lookup).await.unwrap();
        assert_node_finds(&address, OBJECT, set, &found).await;
    }
    assert_eq!(
        node_resolve(&address, OBJECT, Some("app.sh.1")).await.ret,
        -1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_client_calls_rust_servers_it_finds_through_the_dev_registry() {
    ensure_node();
    let registry = DevRegistry::new();
    let (_server, address) = serve(&registry).await;

    // a server registering itself, as one in another process would
    let (_hello, port) = hello_server(HELLO).await;
    let _registration = answer(register_with(&address, HELLO, endpoint("127.0.0.1", port))).await;
    let output = node_registry_client(&["call", &address, HELLO]).await;
    assert_eq!(output.stdout, b"ok\n", "{}", describe(&output));

    // by set: the object's endpoint outside the set is not listening, so only a lookup in the
    // set finds one that answers
    let set_object = "TestApp.HelloServer.SetObj";
    let (_in_set, port) = hello_server(set_object).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    registry.add(set_object, endpoint("127.0.0.1", closed_port));
    registry.add(
        set_object,
        EndpointF::from(endpoint("127.0.0.1", port)).in_set("app.sz.1"),
    );
    let output = node_registry_client(&["call", &address, set_object, "app.sz.1"]).await;
    assert_eq!(output.stdout, b"ok\n", "{}", describe(&output));
    // and the Node client does look up by set: a set the object is not in (-1) finds nothing,
    // so the call times out (after @tars/rpc's 3 s), where the group's lookup would find it
    let output = node_registry_client(&["call", &address, set_object, "app.sh.1"]).await;
    assert!(
        !output.status.success() && String::from_utf8_lossy(&output.stderr).contains("-13001"),
        "{}",
        describe(&output)
    );
}
