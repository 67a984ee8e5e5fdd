//! Call statistics and properties, `tars_rpc::stat`, against the real thing:
//!
//! * a Node `@tars/rpc` servant of `StatF` and `PropertyF` (`tests/node/stat_server.js`,
//!   decoding with the codecs `@tars/monitor` generated from the `.tars` files) receives the
//!   reports of a Rust client and a Rust server, each with its `StatReporter` (a 200 ms
//!   interval), and prints them. The client makes calls that succeed, fail with an exception
//!   and time out; the test checks the counts per interface both sides report, the heads
//!   (names, addresses, set, version), the latency buckets, and a property under every policy
//!   (sent by a reporter's last report, on shutdown);
//! * the other way round, `@tars/monitor`'s own reporters (`stat_server.js report`) report to
//!   Rust `StatF` and `PropertyF` servants, which decode them;
//! * the observers themselves, on the server and the client: told once per finished call,
//!   with its outcome;
//! * the report interval's default and minimum.
//!
//! Every server binds 127.0.0.1 on a port the system picks; waits are bounded. Node.js must be
//! installed; the packages are installed on first use with `npm ci` in `tests/node`.

mod common;

use std::collections::BTreeMap;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::node_peers::NodeStat;
use common::spawn_node;
use serde_json::Value;
use tars_rpc::client::{self, Communicator, TypedProxy};
use tars_rpc::packet::ReturnCode;
use tars_rpc::server::{self, Server};
use tars_rpc::stat::{
    Policy, PropertyF, PropertyFServant, StatF, StatFServant, StatMicMsgBody, StatMicMsgHead,
    StatPropMsgBody, StatPropMsgHead, StatReporter, StatSampleMsg, INTERVAL_POINTS, PROPERTY_OBJ,
    STAT_OBJ, TARS_VERSION,
};
use tars_rpc::{tars_interface, Current, Error};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long the reports may take to arrive, all together.
const WAIT: Duration = Duration::from_secs(30);
/// The report interval of the test's reporters.
const INTERVAL: Duration = Duration::from_millis(200);
/// The timeout of the calls that time out.
const SHORT: Duration = Duration::from_millis(100);
const OBJECT: &str = "TestApp.StatServer.DemoObj";
const CLIENT_MODULE: &str = "TestApp.StatClient";
const SERVER_MODULE: &str = "TestApp.StatServer";

/// The servant the client calls.
#[tars_interface]
pub trait Demo {
    /// Answers `n` at once.
    async fn fast(&self, n: i32) -> tars_rpc::Result<i32>;
    /// Fails with code 1001.
    async fn fail(&self) -> tars_rpc::Result<i32>;
    /// Answers once released, and past the request's own timeout.
    async fn slow(&self, current: &Current) -> tars_rpc::Result<i32>;
    /// Panics.
    async fn panics(&self) -> tars_rpc::Result<i32>;
}

struct DemoImp {
    release: CancellationToken,
}

impl Demo for DemoImp {
    async fn fast(&self, n: i32) -> tars_rpc::Result<i32> {
        Ok(n)
    }

    async fn fail(&self) -> tars_rpc::Result<i32> {
        Err(Error::new(ReturnCode(1001), "failed on purpose"))
    }

    async fn slow(&self, current: &Current) -> tars_rpc::Result<i32> {
        self.release.cancelled().await;
        // the server measures from when it read the request: make sure it sees the deadline
        // passed, however fast the test released it after the client gave up
        let timeout = current.timeout().unwrap_or(SHORT);
        tokio::time::sleep_until(current.received_at() + timeout + Duration::from_millis(5)).await;
        Ok(0)
    }

    async fn panics(&self) -> tars_rpc::Result<i32> {
        panic!("on purpose")
    }
}

/// Successes, timeouts and exceptions of one interface.
type Totals = (i64, i64, i64);

/// What the reports said so far.
#[derive(Default)]
struct Seen {
    /// By `bFromClient`, then interface.
    totals: BTreeMap<(bool, String), Totals>,
    /// Every stat line: `bFromClient`, head, body.
    lines: Vec<(bool, Value, Value)>,
    /// Every property line: head, body.
    properties: Vec<(Value, Value)>,
}

impl Seen {
    fn add(&mut self, report: &Value) {
        let lines = report["lines"].as_array().expect("lines").clone();
        match report["kind"].as_str() {
            Some("stat") => {
                let from_client = report["fromClient"].as_bool().expect("fromClient");
                for line in lines {
                    let (head, body) = (line["head"].clone(), line["body"].clone());
                    let interface = head["interfaceName"].as_str().expect("interfaceName");
                    let totals = self
                        .totals
                        .entry((from_client, interface.to_string()))
                        .or_default();
                    totals.0 += body["count"].as_i64().expect("count");
                    totals.1 += body["timeoutCount"].as_i64().expect("timeoutCount");
                    totals.2 += body["execCount"].as_i64().expect("execCount");
                    self.lines.push((from_client, head, body));
                }
            }
            Some("property") => {
                for line in lines {
                    self.properties
                        .push((line["head"].clone(), line["body"].clone()));
                }
            }
            other => panic!("unexpected report {other:?}: {report}"),
        }
    }

    fn totals(&self, from_client: bool) -> BTreeMap<String, Totals> {
        self.totals
            .iter()
            .filter(|((side, _), _)| *side == from_client)
            .map(|((_, interface), totals)| (interface.clone(), *totals))
            .collect()
    }

    fn property(&self, name: &str) -> Option<Vec<(String, String)>> {
        self.properties
            .iter()
            .find(|(head, _)| head["propertyName"] == name)
            .map(|(_, body)| {
                body["vInfo"]
                    .as_array()
                    .expect("vInfo")
                    .iter()
                    .map(|info| {
                        (
                            info["policy"].as_str().expect("policy").to_string(),
                            info["value"].as_str().expect("value").to_string(),
                        )
                    })
                    .collect()
            })
    }
}

fn expected_totals(fast: i64) -> BTreeMap<String, Totals> {
    BTreeMap::from([
        ("fast".to_string(), (fast, 0, 0)),
        ("fail".to_string(), (0, 0, 4)),
        ("slow".to_string(), (0, 2, 0)),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_server_report_calls_and_properties_to_node() {
    let node = NodeStat::start();

    // the client's reporter and the server's, reporting every 200 ms
    let client_stats = StatReporter::builder(Communicator::new())
        .stat(node.stat())
        .property(node.property())
        .report_interval(INTERVAL)
        .min_report_interval(INTERVAL)
        .module_name(CLIENT_MODULE)
        .build()
        .expect("a client reporter");
    let server_stats = StatReporter::builder(Communicator::new())
        .stat(node.stat())
        .report_interval(INTERVAL)
        .min_report_interval(INTERVAL)
        .module_name(SERVER_MODULE)
        .set_division("demo.sz.1")
        .build()
        .expect("a server reporter");
    assert_eq!(client_stats.report_interval(), INTERVAL);

    let release = CancellationToken::new();
    let server = Server::builder()
        .servant(
            OBJECT,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            DemoServant::new(DemoImp {
                release: release.clone(),
            }),
        )
        .call_observer(server_stats.server_observer())
        .start()
        .await
        .expect("the server starts");
    let port = server.local_addr(OBJECT).expect("bound").port();

    let communicator = Communicator::builder()
        .call_observer(client_stats.client_observer())
        .build();
    let proxy: DemoProxy = communicator
        .string_to_proxy(&format!("{OBJECT}@tcp -h 127.0.0.1 -p {port}"))
        .expect("a proxy");

    // 10 successes, 4 exceptions, 2 timeouts
    let fast = futures::future::join_all((0..10).map(|n| proxy.fast(n))).await;
    for (n, answer) in fast.into_iter().enumerate() {
        assert_eq!(answer.expect("fast answers"), i32::try_from(n).unwrap());
    }
    for _ in 0..4 {
        let error = proxy.fail().await.expect_err("fail fails");
        assert_eq!(error.code(), ReturnCode(1001));
    }
    let impatient = proxy.with_timeout(SHORT);
    let slow = futures::future::join(impatient.slow(), impatient.slow()).await;
    for answer in [slow.0, slow.1] {
        assert_eq!(
            answer.expect_err("slow times out").code(),
            ReturnCode::INVOKE_TIMEOUT
        );
    }
    release.cancel();

    // a property, reported once by a reporter of its own on shutdown, through the client's
    // communicator: its call to the property service is not counted among the client's calls
    let properties = StatReporter::builder(communicator.clone())
        .property(node.property())
        .module_name(CLIENT_MODULE)
        .build()
        .expect("a property reporter");
    let requests = properties.property(
        "requests",
        &[
            Policy::Sum,
            Policy::Count,
            Policy::Max,
            Policy::Min,
            Policy::Avg,
            Policy::Distr(vec![100, 10]),
        ],
    );
    for value in [5, 20, 200] {
        requests.clone().report(value);
    }
    properties.shutdown().await;
    // one more success, counted after the property report: once the client's reports count
    // it, they have counted everything before it
    assert_eq!(proxy.fast(10).await.expect("fast answers"), 10);

    let deadline = Instant::now() + WAIT;
    let mut seen = Seen::default();
    let mut reports = 0;
    while seen.totals(true) != expected_totals(11)
        || seen.totals(false) != expected_totals(11)
        || seen.property("requests").is_none()
    {
        let Some(report) = node.next(deadline) else {
            break;
        };
        seen.add(&report);
        reports += 1;
    }
    assert_eq!(seen.totals(true), expected_totals(11), "client side");
    assert_eq!(seen.totals(false), expected_totals(11), "server side");
    assert!(
        reports >= 3,
        "client, server and property reports: {reports}"
    );

    // the property, every policy as TarsCpp computes it
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(policy, value)| (policy.to_string(), value.to_string()))
            .collect()
    };
    assert_eq!(
        seen.property("requests"),
        Some(pairs(&[
            ("Sum", "225"),
            ("Count", "3"),
            ("Max", "200"),
            ("Min", "5"),
            ("Avg", "75"),
            ("Distr", "10|1,100|1"),
        ]))
    );
    let (head, _) = seen
        .properties
        .iter()
        .find(|(head, _)| head["propertyName"] == "requests")
        .expect("the property");
    assert_eq!(head["moduleName"], CLIENT_MODULE);
    assert_eq!(head["ip"], "");
    assert_eq!(head["iPropertyVer"], 2);

    // the heads: a client names itself (with its version) and the callee's server and
    // endpoint; a server names the caller's address and itself with its set
    for (from_client, head, body) in &seen.lines {
        if *from_client {
            assert_eq!(
                head["masterName"],
                format!("{CLIENT_MODULE}@{TARS_VERSION}")
            );
            assert_eq!(head["slaveName"], SERVER_MODULE);
            assert_eq!(head["masterIp"], "");
            assert_eq!(head["slaveIp"], "127.0.0.1");
            assert_eq!(head["slavePort"], i64::from(port));
            assert_eq!(head["slaveSetName"], "");
        } else {
            assert_eq!(head["masterName"], "stat_from_server");
            assert_eq!(head["slaveName"], format!("{SERVER_MODULE}.demosz1"));
            assert_eq!(head["masterIp"], "127.0.0.1");
            assert_eq!(head["slaveIp"], "");
            assert_eq!(head["slavePort"], 0);
            assert_eq!(
                (
                    &head["slaveSetName"],
                    &head["slaveSetArea"],
                    &head["slaveSetID"]
                ),
                (&Value::from("demo"), &Value::from("sz"), &Value::from("1"))
            );
        }
        assert_eq!(head["returnValue"], 0);
        assert!(
            ["fast", "fail", "slow"].contains(&head["interfaceName"].as_str().unwrap_or("")),
            "only the test's calls are counted: {head}"
        );

        // every bucket present; every success in one (all took under 3 s)
        let buckets = body["intervalCount"].as_object().expect("intervalCount");
        let bounds: Vec<i32> = buckets.keys().filter_map(|k| k.parse().ok()).collect();
        let mut sorted = bounds.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, INTERVAL_POINTS, "{body}");
        let in_buckets: i64 = buckets.values().filter_map(Value::as_i64).sum();
        assert_eq!(in_buckets, body["count"].as_i64().unwrap_or(-1), "{body}");
        let (total, max, min) = (
            body["totalRspTime"].as_i64().unwrap_or(-1),
            body["maxRspTime"].as_i64().unwrap_or(-1),
            body["minRspTime"].as_i64().unwrap_or(-1),
        );
        assert!(total >= max && max >= min && min >= 0, "{body}");
    }
    // the slow calls' server side: timed out, but measured past the client's timeout
    assert!(seen
        .lines
        .iter()
        .any(|(from_client, head, body)| !from_client
            && head["interfaceName"] == "slow"
            && body["timeoutCount"].as_i64() > Some(0)));

    server.shutdown().await;
    client_stats.shutdown().await;
    server_stats.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_object_is_an_error_naming_its_key() {
    let error = StatReporter::builder(Communicator::new())
        .property("tars.tarsproperty.PropertyObj@tcp -h 127.0.0.1")
        .build()
        .expect_err("no port");
    let text = error.to_string();
    assert!(
        text.contains("property") && text.contains("PropertyObj"),
        "{text}"
    );
}

/// What an observer was told: `(function, code, timed out, one-way)`, and for the client the
/// endpoint's port.
type Told = Arc<Mutex<Vec<(String, i32, bool, bool, u16)>>>;

/// The server's log, and how many calls it holds, to wait on.
struct ServerLog(Told, tokio::sync::watch::Sender<usize>);

impl server::CallObserver for ServerLog {
    fn on_call(&self, call: &server::CallRecord<'_>) {
        assert_eq!(call.servant(), OBJECT);
        assert!(call.peer_addr().ip().is_loopback());
        let port = call.current().local_addr().port();
        self.0.lock().unwrap().push((
            call.function().to_string(),
            call.code().0,
            call.timed_out(),
            call.is_oneway(),
            port,
        ));
        self.1.send_modify(|told| *told += 1);
    }
}

struct ClientLog(Told);

impl client::CallObserver for ClientLog {
    fn on_call(&self, call: &client::CallRecord<'_>) {
        assert_eq!(call.object(), OBJECT);
        assert!(call.elapsed() < WAIT);
        self.0.lock().unwrap().push((
            call.function().to_string(),
            call.code().0,
            call.timed_out(),
            call.is_oneway(),
            call.endpoint().port(),
        ));
    }
}

/// The hooks themselves: each side's observer is told once per finished call, with its
/// outcome; a handler's panic is told as the server's unknown error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observers_are_told_of_every_finished_call() {
    let (server_told, client_told) = (Told::default(), Told::default());
    let (counter, mut server_count) = tokio::sync::watch::channel(0);
    let release = CancellationToken::new();
    let server = Server::builder()
        .servant(
            OBJECT,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            DemoServant::new(DemoImp {
                release: release.clone(),
            }),
        )
        .call_observer(ServerLog(server_told.clone(), counter))
        .start()
        .await
        .expect("the server starts");
    let port = server.local_addr(OBJECT).expect("bound").port();
    let communicator = Communicator::builder()
        .call_observer(ClientLog(client_told.clone()))
        .build();
    let proxy: DemoProxy = communicator
        .string_to_proxy(&format!("{OBJECT}@tcp -h 127.0.0.1 -p {port}"))
        .expect("a proxy");

    assert_eq!(proxy.fast(1).await.expect("fast answers"), 1);
    assert_eq!(
        proxy.fail().await.expect_err("fails").code(),
        ReturnCode(1001)
    );
    let panicked = proxy.panics().await.expect_err("panics");
    assert_eq!(panicked.code(), ReturnCode::SERVER_UNKNOWN_ERR);
    let timed_out = proxy
        .with_timeout(SHORT)
        .slow()
        .await
        .expect_err("times out");
    assert_eq!(timed_out.code(), ReturnCode::INVOKE_TIMEOUT);
    proxy.proxy().ping().await.expect("a ping is answered");
    release.cancel();

    let expected_client = vec![
        ("fast".to_string(), 0, false, false, port),
        ("fail".to_string(), 1001, false, false, port),
        ("panics".to_string(), -99, false, false, port),
        ("slow".to_string(), -7, true, false, port),
        ("tars_ping".to_string(), 0, false, false, port),
    ];
    assert_eq!(*client_told.lock().unwrap(), expected_client);

    // the slow request ends once released
    tokio::time::timeout(WAIT, server_count.wait_for(|&told| told == 4))
        .await
        .expect("the server is told of every request in time")
        .expect("the server holds the sender");
    let mut told = server_told.lock().unwrap().clone();
    told.sort();
    assert_eq!(
        told,
        vec![
            ("fail".to_string(), 1001, false, false, port),
            ("fast".to_string(), 0, false, false, port),
            ("panics".to_string(), -99, false, false, port),
            ("slow".to_string(), 0, true, false, port),
        ],
        "tars_ping is the server's own: not told"
    );
    server.shutdown().await;
}

/// TarsCpp's minimum interval holds unless lowered; the default is TarsCpp's 60 s.
#[tokio::test]
async fn report_interval_respects_the_minimum() {
    let interval = |builder: tars_rpc::stat::StatReporterBuilder| {
        let reporter = builder.build().expect("a reporter");
        reporter.report_interval()
    };
    let builder = || StatReporter::builder(Communicator::new());
    assert_eq!(interval(builder()), Duration::from_secs(60));
    assert_eq!(
        interval(builder().report_interval(Duration::from_millis(1))),
        tars_rpc::stat::MIN_REPORT_INTERVAL
    );
    assert_eq!(
        interval(
            builder()
                .report_interval(Duration::from_millis(1))
                .min_report_interval(Duration::from_millis(50))
        ),
        Duration::from_millis(50)
    );
    assert_eq!(
        interval(builder().report_interval(Duration::from_secs(15))),
        Duration::from_secs(15)
    );
}

/// What the Rust stat and property servants received: `(bFromClient, msg)` per
/// `reportMicMsg`, and each `reportPropMsg`'s map; `changed` counts the reports.
#[derive(Default)]
struct Collected {
    stat: Mutex<Vec<(bool, BTreeMap<StatMicMsgHead, StatMicMsgBody>)>>,
    property: Mutex<Vec<BTreeMap<StatPropMsgHead, StatPropMsgBody>>>,
    changed: tokio::sync::watch::Sender<usize>,
}

#[derive(Clone, Default)]
struct Collector(Arc<Collected>);

impl StatF for Collector {
    async fn report_mic_msg(
        &self,
        msg: BTreeMap<StatMicMsgHead, StatMicMsgBody>,
        b_from_client: bool,
    ) -> tars_rpc::Result<i32> {
        self.0.stat.lock().unwrap().push((b_from_client, msg));
        self.0.changed.send_modify(|reports| *reports += 1);
        Ok(0)
    }

    async fn report_sample_msg(&self, _msg: Vec<StatSampleMsg>) -> tars_rpc::Result<i32> {
        Ok(0)
    }
}

impl PropertyF for Collector {
    async fn report_prop_msg(
        &self,
        statmsg: BTreeMap<StatPropMsgHead, StatPropMsgBody>,
    ) -> tars_rpc::Result<i32> {
        self.0.property.lock().unwrap().push(statmsg);
        self.0.changed.send_modify(|reports| *reports += 1);
        Ok(0)
    }
}

/// The other way round: `@tars/monitor`'s own reporters, as a Node TARS service runs them,
/// report to Rust `StatF` and `PropertyF` servants, which decode what they send (every
/// optional field written, one-way calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_servants_decode_what_tars_monitor_reports() {
    let collector = Collector::default();
    let mut reports = collector.0.changed.subscribe();
    let server = Server::builder()
        .servant(
            STAT_OBJ,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            StatFServant::new(collector.clone()),
        )
        .servant(
            PROPERTY_OBJ,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            PropertyFServant::new(collector.clone()),
        )
        .start()
        .await
        .expect("the server starts");
    let port = server.local_addr(STAT_OBJ).expect("bound").port();
    let stat = format!("{STAT_OBJ}@tcp -h 127.0.0.1 -p {port}");
    let property = format!("{PROPERTY_OBJ}@tcp -h 127.0.0.1 -p {port}");
    let (mut child, stdin, lines) = spawn_node(&["stat_server.js", "report", &stat, &property]);
    let ready = tokio::task::block_in_place(|| lines.recv_timeout(Duration::from_secs(20)));
    assert_eq!(ready.as_deref(), Ok("REPORTING"));

    tokio::time::timeout(WAIT, reports.wait_for(|&reports| reports >= 2))
        .await
        .expect("@tars/monitor reports within the wait")
        .expect("the collector holds the sender");
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();

    let stat = collector.0.stat.lock().unwrap().clone();
    assert_eq!(stat.len(), 1, "{stat:?}");
    let (from_client, msg) = &stat[0];
    assert!(from_client);
    let expected_head = StatMicMsgHead {
        master_name: "Node.Client".into(),
        slave_name: SERVER_MODULE.into(),
        interface_name: "fast".into(),
        master_ip: "127.0.0.1".into(),
        slave_ip: "127.0.0.1".into(),
        slave_port: 18015,
        ..StatMicMsgHead::default()
    };
    let body = msg.get(&expected_head).unwrap_or_else(|| panic!("{msg:?}"));
    assert_eq!((body.count, body.timeout_count, body.exec_count), (1, 1, 1));
    assert_eq!((body.total_rsp_time, body.max_rsp_time), (12, 12));
    // @tars/monitor counts a call in the first bucket at or above its time
    let buckets: Vec<i32> = body.interval_count.keys().copied().collect();
    assert_eq!(buckets, INTERVAL_POINTS);
    assert_eq!(body.interval_count[&50], 1);
    assert_eq!(body.interval_count.values().sum::<i32>(), 1);

    let property = collector.0.property.lock().unwrap().clone();
    assert_eq!(property.len(), 1, "{property:?}");
    let (head, body) = property[0].iter().next().expect("one property");
    assert_eq!(
        (
            head.module_name.as_str(),
            head.ip.as_str(),
            head.property_name.as_str(),
            head.i_property_ver
        ),
        ("Node.Client", "127.0.0.1", "nodeProp", 2)
    );
    let values: Vec<(&str, &str)> = body
        .v_info
        .iter()
        .map(|info| (info.policy.as_str(), info.value.as_str()))
        .collect();
    assert_eq!(values, [("Sum", "12"), ("Max", "9")]);
    server.shutdown().await;
}

struct Panicking;

impl server::CallObserver for Panicking {
    fn on_call(&self, _: &server::CallRecord<'_>) {
        panic!("server observer on purpose");
    }
}

impl client::CallObserver for Panicking {
    fn on_call(&self, _: &client::CallRecord<'_>) {
        panic!("client observer on purpose");
    }
}

/// An observer that panics is caught: the call is answered and returns all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_observer_changes_nothing() {
    let server = Server::builder()
        .servant(
            OBJECT,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            DemoServant::new(DemoImp {
                release: CancellationToken::new(),
            }),
        )
        .call_observer(Panicking)
        .start()
        .await
        .expect("the server starts");
    let port = server.local_addr(OBJECT).expect("bound").port();
    let communicator = Communicator::builder().call_observer(Panicking).build();
    let proxy: DemoProxy = communicator
        .string_to_proxy(&format!("{OBJECT}@tcp -h 127.0.0.1 -p {port}"))
        .expect("a proxy");
    for n in 0..3 {
        assert_eq!(proxy.fast(n).await.expect("answered"), n);
    }
    assert_eq!(
        proxy.fail().await.expect_err("fails").code(),
        ReturnCode(1001)
    );
    // the observer panics while the handler's panic unwinds: caught too
    let panicked = proxy.panics().await.expect_err("panics");
    assert_eq!(panicked.code(), ReturnCode::SERVER_UNKNOWN_ERR);
    assert_eq!(proxy.fast(7).await.expect("answered"), 7);
    server.shutdown().await;
}
