//! Objects named without endpoints, resolved through a discovery; endpoint lists that change;
//! load balancing (round robin, static weights, TarsCpp's hash routing) against real listeners;
//! failed endpoints; the endpoint cache; the communicator's shutdown.
//!
//! No test sleeps for a fixed time: each waits for the event it expects (bounded by `WAIT`),
//! or runs on paused time where no socket is involved. Servers bind 127.0.0.1, port 0.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{join_all, BoxFuture};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use tars_rpc::client::balance::{mod_hash, tarscpp_order, HashRing, WeightTable};
use tars_rpc::client::discovery::{Discovery, Instances, Lookup, StaticDiscovery};
use tars_rpc::client::load_balance::{Balancer, LoadBalance, Route, TarsBalance};
use tars_rpc::client::{Communicator, ProxyError, TypedProxy};
use tars_rpc::endpoint::Endpoint;
use tars_rpc::packet::ReturnCode;
use tars_rpc::registry::{DevRegistry, Locator, QUERY_OBJ};
use tars_rpc::server::Server;
use tars_rpc::{tars_interface, Current, Error};

const OBJECT: &str = "TestApp.HelloServer.HelloObj";

/// The longest any step may take before the test fails.
const WAIT: Duration = Duration::from_secs(10);

async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

#[tars_interface]
trait Hello {
    /// `int testHello(string sReq, out string sRsp)`: echoes.
    async fn test_hello(
        &self,
        current: &Current,
        s_req: String,
        s_rsp: &mut String,
    ) -> tars_rpc::Result<i32>;

    /// Echoes once the server is released ([`Echo::release`]).
    async fn hold(
        &self,
        current: &Current,
        s_req: String,
        s_rsp: &mut String,
    ) -> tars_rpc::Result<i32>;
}

/// What every [`Echo`] of a test reports: the port that got each request, the connection it
/// came on, and its `sReq`.
type Log = mpsc::UnboundedSender<Served>;

#[derive(Debug, Clone, PartialEq)]
struct Served {
    port: u16,
    connection: u64,
    text: String,
}

/// An echo servant: logs each request; tells when a connection it served closes.
struct EchoImp {
    port: u16,
    log: Log,
    released: watch::Receiver<bool>,
    /// The connections seen, each watched for its close.
    connections: Arc<Mutex<HashSet<u64>>>,
    closed: mpsc::UnboundedSender<u64>,
}

impl EchoImp {
    fn serve(&self, current: &Current, s_req: String, s_rsp: &mut String) {
        let connection = current.connection_id();
        if self.connections.lock().unwrap().insert(connection) {
            let closed = self.closed.clone();
            current.on_close(move || {
                let _ = closed.send(connection);
            });
        }
        let _ = self.log.send(Served {
            port: self.port,
            connection,
            text: s_req.clone(),
        });
        *s_rsp = s_req;
    }
}

impl Hello for EchoImp {
    async fn test_hello(
        &self,
        current: &Current,
        s_req: String,
        s_rsp: &mut String,
    ) -> tars_rpc::Result<i32> {
        self.serve(current, s_req, s_rsp);
        Ok(0)
    }

    async fn hold(
        &self,
        current: &Current,
        s_req: String,
        s_rsp: &mut String,
    ) -> tars_rpc::Result<i32> {
        self.serve(current, s_req, s_rsp);
        let _ = self.released.clone().wait_for(|released| *released).await;
        Ok(0)
    }
}

/// A server of [`EchoImp`] on a listener of its own.
struct Echo {
    port: u16,
    server: Server,
    connections: Arc<Mutex<HashSet<u64>>>,
    closed: mpsc::UnboundedReceiver<u64>,
    release: watch::Sender<bool>,
}

impl Echo {
    async fn start(log: &Log) -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap(), log).await
    }

    async fn on(listener: TcpListener, log: &Log) -> Self {
        let port = listener.local_addr().unwrap().port();
        let (release, released) = watch::channel(false);
        let (closed_sender, closed) = mpsc::unbounded_channel();
        let connections = Arc::new(Mutex::new(HashSet::new()));
        let imp = EchoImp {
            port,
            log: log.clone(),
            released,
            connections: connections.clone(),
            closed: closed_sender,
        };
        let server = Server::builder()
            .servant(OBJECT, listener, HelloServant::new(imp))
            .start()
            .await
            .unwrap();
        Self {
            port,
            server,
            connections,
            closed,
            release,
        }
    }

    /// The connections that made calls.
    fn connections(&self) -> usize {
        self.connections.lock().unwrap().len()
    }

    /// The connections open now, calls or none.
    fn open_connections(&self) -> usize {
        self.server.stats().connections
    }

    /// Lets every held call, and those to come, have its reply.
    fn release(&self) {
        self.release.send_replace(true);
    }

    /// Waits until a connection that made calls has closed.
    async fn connection_closed(&mut self) {
        within(self.closed.recv()).await.expect("the server runs");
    }
}

/// `count` echo servers.
async fn echoes(log: &Log, count: usize) -> Vec<Echo> {
    let mut echoes = Vec::with_capacity(count);
    for _ in 0..count {
        echoes.push(Echo::start(log).await);
    }
    echoes
}

/// `OBJECT@endpoint:endpoint...`.
fn proxy_string(endpoints: &[Endpoint]) -> String {
    let texts: Vec<String> = endpoints.iter().map(ToString::to_string).collect();
    format!("{OBJECT}@{}", texts.join(":"))
}

/// Calls `testHello` with `text` and returns the echo.
async fn hello(proxy: &HelloProxy, text: &str) -> Result<String, Error> {
    let (ret, echo) = proxy.test_hello(text.to_string()).await?;
    assert_eq!(ret, 0);
    Ok(echo)
}

fn tcp(port: u16) -> String {
    format!("tcp -h 127.0.0.1 -p {port}")
}

fn endpoint(port: u16) -> Endpoint {
    Endpoint::new("127.0.0.1", port)
}

/// A port nothing listens on: a listener's, closed.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The log of a test's servers.
fn log() -> (Log, mpsc::UnboundedReceiver<Served>) {
    mpsc::unbounded_channel()
}

/// Takes the next `count` entries of the log.
async fn next_requests(log: &mut mpsc::UnboundedReceiver<Served>, count: usize) -> Vec<Served> {
    let mut requests = Vec::with_capacity(count);
    for _ in 0..count {
        requests.push(within(log.recv()).await.expect("the servers run"));
    }
    requests
}

/// The ports of `served`.
fn ports_of(served: &[Served]) -> Vec<u16> {
    served.iter().map(|served| served.port).collect()
}

/// A lookup the [`TestDiscovery`] saw: the object, the lookup, and when (tokio's clock).
type Seen = (String, Lookup, tokio::time::Instant);

/// A discovery whose answer the test sets, reporting every lookup; lookups wait while it is
/// closed ([`TestDiscovery::close`]).
#[derive(Clone)]
struct TestDiscovery {
    answers: Arc<Mutex<VecDeque<Result<Instances, Error>>>>,
    answer: Arc<Mutex<Result<Instances, Error>>>,
    seen: mpsc::UnboundedSender<Seen>,
    open: watch::Sender<bool>,
    shut_down: Arc<AtomicUsize>,
}

impl TestDiscovery {
    fn new(answer: Result<Instances, Error>) -> (Self, mpsc::UnboundedReceiver<Seen>) {
        let (seen, lookups) = mpsc::unbounded_channel();
        let discovery = Self {
            answers: Arc::default(),
            answer: Arc::new(Mutex::new(answer)),
            seen,
            open: watch::channel(true).0,
            shut_down: Arc::default(),
        };
        (discovery, lookups)
    }

    fn of(ports: &[u16]) -> (Self, mpsc::UnboundedReceiver<Seen>) {
        Self::new(Ok(active(ports)))
    }

    /// Answers with `answer` from now on.
    fn set(&self, answer: Result<Instances, Error>) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Lookups wait until [`TestDiscovery::open`].
    fn close(&self) {
        self.open.send_replace(false);
    }

    fn open(&self) {
        self.open.send_replace(true);
    }
}

impl Discovery for TestDiscovery {
    fn discover<'a>(
        &'a self,
        object: &'a str,
        lookup: &'a Lookup,
    ) -> BoxFuture<'a, tars_rpc::Result<Instances>> {
        Box::pin(async move {
            let _ = self.seen.send((
                object.to_string(),
                lookup.clone(),
                tokio::time::Instant::now(),
            ));
            let mut open = self.open.subscribe();
            let _ = open.wait_for(|open| *open).await;
            let queued = self.answers.lock().unwrap().pop_front();
            queued.unwrap_or_else(|| self.answer.lock().unwrap().clone())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.shut_down.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

fn active(ports: &[u16]) -> Instances {
    Instances::active(ports.iter().map(|&port| endpoint(port)).collect())
}

/// The ports of a proxy's endpoints, sorted.
fn ports(proxy: &impl TypedProxy) -> Vec<u16> {
    sorted(
        proxy
            .proxy()
            .endpoints()
            .iter()
            .map(Endpoint::port)
            .collect(),
    )
}

fn sorted(mut ports: Vec<u16>) -> Vec<u16> {
    ports.sort_unstable();
    ports
}

fn registry_down() -> Error {
    Error::connect("the registry is down")
}

#[tokio::test]
async fn an_object_named_without_endpoints_is_looked_up_once_before_its_first_calls() {
    let (log_sender, mut log) = log();
    let first = Echo::start(&log_sender).await;
    let second = Echo::start(&log_sender).await;
    let (discovery, mut lookups) = TestDiscovery::of(&[first.port, second.port]);
    discovery.close();
    let communicator = Communicator::builder().discovery(discovery.clone()).build();
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    assert_eq!(proxy.proxy().servant_name(), OBJECT);
    assert!(ports(&proxy).is_empty(), "nothing is looked up yet");

    // ten first calls at once: they all wait for the one lookup
    let calls = tokio::spawn({
        let proxy = proxy.clone();
        async move {
            join_all((0..10).map(|i| {
                let proxy = proxy.clone();
                async move { hello(&proxy, &format!("call {i}")).await }
            }))
            .await
        }
    });
    let (object, lookup, _) = within(lookups.recv()).await.unwrap();
    assert_eq!((object.as_str(), lookup), (OBJECT, Lookup::SameGroup));
    discovery.open();
    for (i, result) in within(calls).await.unwrap().into_iter().enumerate() {
        assert_eq!(result.unwrap(), format!("call {i}"));
    }
    assert!(
        lookups.try_recv().is_err(),
        "one lookup for all the first calls"
    );
    assert_eq!(ports(&proxy), sorted(vec![first.port, second.port]));

    // both endpoints take calls, one connection each
    let served = ports_of(&next_requests(&mut log, 10).await);
    for echo in [&first, &second] {
        assert!(served.contains(&echo.port), "{served:?}");
        assert_eq!(echo.connections(), 1);
    }

    // the same name gives the same object, untyped too
    let untyped = communicator.proxy(OBJECT).unwrap();
    assert_eq!(untyped.endpoints().len(), 2);
    within(untyped.ping()).await.unwrap();
    assert!(lookups.try_recv().is_err());
}

#[tokio::test]
async fn inactive_endpoints_take_no_calls() {
    let (log_sender, mut log) = log();
    let active_server = Echo::start(&log_sender).await;
    let inactive_server = Echo::start(&log_sender).await;
    let (discovery, _lookups) = TestDiscovery::new(Ok(Instances {
        active: vec![endpoint(active_server.port)],
        inactive: vec![endpoint(inactive_server.port)],
    }));
    let communicator = Communicator::builder().discovery(discovery).build();
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    let served = served_ports(&proxy, &mut log, "call", 4).await;
    assert_eq!(served, [active_server.port; 4]);
    // hashed calls neither: a code that picks the inactive one goes to the active
    for code in CODES {
        within(hello(&proxy.with_hash(code), "hashed"))
            .await
            .unwrap();
    }
    let served = ports_of(&next_requests(&mut log, CODES.len()).await);
    assert!(served.iter().all(|&port| port == active_server.port));
    assert_eq!(ports(&proxy), [active_server.port]);
    assert_eq!(inactive_server.open_connections(), 0);
}

#[tokio::test]
async fn names_without_endpoints_need_a_discovery() {
    let communicator = Communicator::new();
    let error = communicator.proxy(OBJECT).unwrap_err();
    assert_eq!(error, ProxyError::NoDiscovery(OBJECT.to_string()));
    assert!(
        error.to_string().contains("CommunicatorBuilder::discovery"),
        "{error}"
    );
    assert!(matches!(
        communicator.proxy("A.B.C@tcp -h x"),
        Err(ProxyError::Address(_))
    ));

    let communicator = Communicator::builder()
        .discovery(StaticDiscovery::new())
        .build();
    for bad in ["", "  ", "two words"] {
        assert!(
            matches!(communicator.proxy(bad), Err(ProxyError::InvalidName(_))),
            "{bad:?}"
        );
    }
    // an object the discovery does not know: the call fails with its error
    let proxy = communicator.proxy("Unknown.Server.Obj").unwrap();
    let error = within(proxy.ping()).await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::ADAPTER_NULL, "{error}");
    assert!(error.message().contains("Unknown.Server.Obj"), "{error}");
    // explicit endpoints need no discovery, with one or without
    let (log_sender, _log) = log();
    let echo = Echo::start(&log_sender).await;
    let explicit: HelloProxy = communicator
        .string_to_proxy(&format!("{OBJECT}@{}", tcp(echo.port)))
        .unwrap();
    assert_eq!(ports(&explicit), [echo.port]);
    assert_eq!(within(hello(&explicit, "direct")).await.unwrap(), "direct");
}

#[tokio::test]
async fn a_set_division_looks_up_the_set_and_a_proxy_may_ask_for_more() {
    let (discovery, mut lookups) = TestDiscovery::of(&[closed_port()]);
    let communicator = Communicator::builder()
        .discovery(discovery)
        .set_division("app.sz.1")
        .build();
    let in_set = communicator.proxy(OBJECT).unwrap();
    within(in_set.refresh()).await.unwrap();
    let (_, lookup, _) = within(lookups.recv()).await.unwrap();
    assert_eq!(lookup, Lookup::SameSet("app.sz.1".into()));

    for wanted in [Lookup::All, Lookup::Any, Lookup::SameSet("app.sh.*".into())] {
        let proxy: HelloProxy = communicator
            .proxy_builder(OBJECT)
            .lookup(wanted.clone())
            .build()
            .unwrap();
        within(proxy.refresh()).await.unwrap();
        let (object, lookup, _) = within(lookups.recv()).await.unwrap();
        assert_eq!((object.as_str(), lookup), (OBJECT, wanted));
    }

    let (discovery, mut lookups) = TestDiscovery::of(&[closed_port()]);
    let plain = Communicator::builder().discovery(discovery).build();
    within(plain.proxy(OBJECT).unwrap().refresh())
        .await
        .unwrap();
    assert_eq!(within(lookups.recv()).await.unwrap().1, Lookup::SameGroup);
}

#[tokio::test(start_paused = true)]
async fn the_list_is_refreshed_in_the_background_by_one_task_per_object() {
    let (discovery, mut lookups) = TestDiscovery::of(&[1001, 1002]);
    let communicator = Communicator::builder()
        .discovery(discovery.clone())
        // raised to the 5 s minimum
        .refresh_interval(Duration::from_secs(1))
        .build();
    let proxy = communicator.proxy(OBJECT).unwrap();
    within(proxy.refresh()).await.unwrap();
    let (_, _, first) = within(lookups.recv()).await.unwrap();
    assert_eq!(ports(&proxy), [1001, 1002]);

    discovery.set(Ok(active(&[1002, 1003])));
    let (_, _, second) = within(lookups.recv()).await.unwrap();
    assert_eq!(second - first, Duration::from_secs(5));
    // the list found is in force once the next lookup begins
    let (_, _, third) = within(lookups.recv()).await.unwrap();
    assert_eq!(third - second, Duration::from_secs(5));
    assert_eq!(ports(&proxy), [1002, 1003]);

    // one task for the object, however many proxies it has; a lookup on request moves the
    // next one
    let again = communicator.proxy(OBJECT).unwrap();
    within(again.refresh()).await.unwrap();
    let (_, _, asked) = within(lookups.recv()).await.unwrap();
    let (_, _, fourth) = within(lookups.recv()).await.unwrap();
    assert_eq!(asked, third, "the refresh asked at once");
    assert_eq!(fourth - asked, Duration::from_secs(5), "one schedule");

    // the task ends with the object
    drop((proxy, again));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        lookups.try_recv().is_err(),
        "no lookup once the object is gone"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_lookup_keeps_the_last_good_list() {
    let (discovery, mut lookups) = TestDiscovery::of(&[1001, 1002]);
    let communicator = Communicator::builder().discovery(discovery.clone()).build();
    let proxy = communicator.proxy(OBJECT).unwrap();
    within(proxy.refresh()).await.unwrap();
    let (_, _, good) = within(lookups.recv()).await.unwrap();

    discovery.set(Err(registry_down()));
    let error = within(proxy.refresh()).await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR);
    assert!(error.message().contains("the registry is down"), "{error}");
    assert_eq!(ports(&proxy), [1001, 1002], "the list in force stays");
    let (_, _, failed) = within(lookups.recv()).await.unwrap();
    assert_eq!(failed, good);

    // after a failure the refresh comes sooner: 2 s, as TarsCpp's
    let (_, _, retried) = within(lookups.recv()).await.unwrap();
    assert_eq!(retried - failed, Duration::from_secs(2));
    assert_eq!(ports(&proxy), [1001, 1002]);

    // a lookup finding no active endpoint keeps the list too
    discovery.set(Ok(Instances {
        active: Vec::new(),
        inactive: vec![endpoint(1001)],
    }));
    let error = within(proxy.refresh()).await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::ADAPTER_NULL, "{error}");
    assert_eq!(ports(&proxy), [1001, 1002]);

    discovery.set(Ok(active(&[1003])));
    within(proxy.refresh()).await.unwrap();
    assert_eq!(ports(&proxy), [1003]);
}

/// A directory of its own for a test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tars-rpc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn the_cache_file_serves_when_the_first_lookup_fails_and_a_corrupt_one_is_ignored() {
    let (log_sender, _log) = log();
    let echo = Echo::start(&log_sender).await;
    let dir = TempDir::new("cache");
    let (discovery, _lookups) = TestDiscovery::of(&[echo.port]);
    let communicator = Communicator::builder()
        .discovery(discovery)
        .cache_dir(&dir.0)
        .build();
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    assert_eq!(within(hello(&proxy, "cached")).await.unwrap(), "cached");
    let file = dir.0.join(format!("{OBJECT}.endpoints"));
    let text = std::fs::read_to_string(&file).expect("the list is cached");
    assert!(text.contains(&tcp(echo.port)), "{text}");
    assert!(text.ends_with("end\n"), "{text}");

    // a client started while the registry is down finds the endpoints in the cache
    let (down, mut lookups) = TestDiscovery::new(Err(registry_down()));
    let communicator = Communicator::builder()
        .discovery(down.clone())
        .cache_dir(&dir.0)
        .build();
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    assert_eq!(
        within(hello(&proxy, "from the cache")).await.unwrap(),
        "from the cache"
    );
    assert_eq!(ports(&proxy), [echo.port]);
    within(lookups.recv()).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "a failed lookup writes nothing"
    );

    // a corrupt file is ignored: the call fails with the lookup's error
    std::fs::write(&file, "tars-rpc endpoint cache v1\nobject ").unwrap();
    let communicator = Communicator::builder()
        .discovery(down)
        .cache_dir(&dir.0)
        .build();
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    let error = within(hello(&proxy, "nowhere")).await.unwrap_err();
    assert!(error.message().contains("the registry is down"), "{error}");
    assert!(ports(&proxy).is_empty());
    // ... and the next call within 2 s gets the same error without looking up again
    let again = within(hello(&proxy, "nowhere")).await.unwrap_err();
    assert_eq!(again, error);
}

#[tokio::test]
async fn calls_in_flight_complete_across_a_list_change() {
    let (log_sender, mut log) = log();
    let mut stays = Echo::start(&log_sender).await;
    let mut goes = Echo::start(&log_sender).await;
    let comes = Echo::start(&log_sender).await;
    let (discovery, _lookups) = TestDiscovery::of(&[stays.port, goes.port]);
    let communicator = Communicator::builder().discovery(discovery.clone()).build();
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();

    // two held calls, one on each endpoint (round robin)
    let held = tokio::spawn({
        let proxy = proxy.clone();
        async move {
            join_all((0..2).map(|i| {
                let proxy = proxy.clone();
                async move { proxy.hold(format!("held {i}")).await }
            }))
            .await
        }
    });
    let arrived = ports_of(&next_requests(&mut log, 2).await);
    assert_eq!(sorted(arrived), sorted(vec![stays.port, goes.port]));

    discovery.set(Ok(active(&[stays.port, comes.port])));
    within(proxy.refresh()).await.unwrap();
    assert_eq!(ports(&proxy), sorted(vec![stays.port, comes.port]));

    // new calls go to the endpoints in force, and the one that stays keeps its connection
    for i in 0..4 {
        within(hello(&proxy, &format!("after {i}"))).await.unwrap();
    }
    let after = ports_of(&next_requests(&mut log, 4).await);
    assert!(!after.contains(&goes.port), "{after:?}");
    assert!(after.contains(&comes.port), "{after:?}");
    assert_eq!((stays.connections(), goes.connections()), (1, 1));

    // the held calls complete, on the endpoint that stays and on the one that left
    stays.release();
    goes.release();
    let mut results: Vec<String> = within(held)
        .await
        .unwrap()
        .into_iter()
        .map(|result| result.unwrap().1)
        .collect();
    results.sort();
    assert_eq!(results, ["held 0", "held 1"]);

    // then the connection to the endpoint that left closes; the other stays up
    goes.connection_closed().await;
    within(hello(&proxy, "still")).await.unwrap();
    assert_eq!(stays.connections(), 1);
    assert!(stays.closed.try_recv().is_err());
}

/// Makes `count` calls one after the other; the ports that served them.
async fn served_ports(
    proxy: &HelloProxy,
    log: &mut mpsc::UnboundedReceiver<Served>,
    label: &str,
    count: usize,
) -> Vec<u16> {
    for i in 0..count {
        within(hello(proxy, &format!("{label} {i}"))).await.unwrap();
    }
    ports_of(&next_requests(log, count).await)
}

/// An echo server, a port nothing listens on, and a proxy of both whose failed endpoints are
/// left out for `backoff`.
async fn one_up_one_down(
    backoff: Duration,
) -> (Log, mpsc::UnboundedReceiver<Served>, Echo, u16, HelloProxy) {
    let (log_sender, log) = log();
    let up = Echo::start(&log_sender).await;
    let down = closed_port();
    let proxy = Communicator::builder()
        .failed_endpoint_backoff(backoff, backoff)
        .build()
        .string_to_proxy(&format!("{OBJECT}@{}:{}", tcp(up.port), tcp(down)))
        .unwrap();
    (log_sender, log, up, down, proxy)
}

#[tokio::test]
async fn in_push_mode_a_refresh_connects_the_endpoints_added_and_lets_go_of_those_removed() {
    let (log_sender, mut log) = log();
    let mut first = Echo::start(&log_sender).await;
    let second = Echo::start(&log_sender).await;
    let (discovery, _lookups) = TestDiscovery::of(&[first.port]);
    let communicator = Communicator::builder().discovery(discovery.clone()).build();
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    proxy.set_push_handler(|_push: tars_rpc::push::PushMessage| async {});
    // "register" with each server as it is connected
    proxy.on_connect(|proxy: HelloProxy, endpoint: Endpoint| async move {
        let _ = proxy
            .test_hello(format!("registered {}", endpoint.port()))
            .await;
    });
    within(proxy.connect()).await.unwrap();
    assert_eq!(ports_of(&next_requests(&mut log, 1).await), [first.port]);

    discovery.set(Ok(active(&[first.port, second.port])));
    within(proxy.refresh()).await.unwrap();
    let registered = within(log.recv()).await.unwrap();
    assert_eq!(
        (registered.port, registered.text),
        (second.port, format!("registered {}", second.port))
    );

    // removed: its connection closes, and is not made again
    discovery.set(Ok(active(&[second.port])));
    within(proxy.refresh()).await.unwrap();
    first.connection_closed().await;
    let served = served_ports(&proxy, &mut log, "after", 4).await;
    assert!(served.iter().all(|&port| port == second.port), "{served:?}");
    assert_eq!(first.open_connections(), 0);
    assert_eq!(first.connections(), 1);
}

#[tokio::test]
async fn a_failed_endpoint_is_skipped_until_it_comes_back() {
    // a wait long enough that no retry comes within the test
    let (log_sender, mut log, up, down, proxy) = one_up_one_down(Duration::from_secs(600)).await;
    // the calls that pick the refused endpoint go to the other: none fails
    let served = served_ports(&proxy, &mut log, "call", 10).await;
    assert!(served.iter().all(|&port| port == up.port), "{served:?}");

    // the endpoint listens again, but is left out until its wait is over...
    let listener = TcpListener::bind(("127.0.0.1", down)).await.unwrap();
    let back = Echo::on(listener, &log_sender).await;
    let served = served_ports(&proxy, &mut log, "skipped", 10).await;
    assert!(served.iter().all(|&port| port == up.port), "{served:?}");
    assert_eq!(back.open_connections(), 0, "not tried while down");

    // ... or until `connect`, which tries every endpoint and marks the one that connects up
    within(proxy.connect()).await.unwrap();
    let served = served_ports(&proxy, &mut log, "back", 10).await;
    let to_back = served.iter().filter(|&&port| port == back.port).count();
    assert_eq!(to_back, 5, "in turn again: {served:?}");
    assert_eq!((up.connections(), back.connections()), (1, 1));
}

#[tokio::test]
async fn a_failed_endpoint_is_tried_again_after_its_wait() {
    let (log_sender, mut log, _up, down, proxy) = one_up_one_down(Duration::from_millis(50)).await;
    served_ports(&proxy, &mut log, "call", 2).await;
    let listener = TcpListener::bind(("127.0.0.1", down)).await.unwrap();
    let back = Echo::on(listener, &log_sender).await;
    // calls, a few milliseconds apart, until one reaches the endpoint that came back (its
    // wait is 50 ms)
    let mut pace = tokio::time::interval(Duration::from_millis(5));
    let reached = within(async {
        for i in 0..2000 {
            pace.tick().await;
            hello(&proxy, &format!("probe {i}")).await.unwrap();
            if log.recv().await.unwrap().port == back.port {
                return true;
            }
        }
        false
    })
    .await;
    assert!(reached, "the endpoint that came back got no call");
    assert_eq!(back.connections(), 1);
}

#[tokio::test]
async fn every_endpoint_down_fails_the_call_with_a_connect_error() {
    let (first, second) = (closed_port(), closed_port());
    let proxy = Communicator::new()
        .proxy(&format!("{OBJECT}@{}:{}", tcp(first), tcp(second)))
        .unwrap();
    for _ in 0..3 {
        let error = within(proxy.ping()).await.unwrap_err();
        assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
    }
}

#[tokio::test]
async fn static_weights_route_calls_by_tarscpps_table() {
    let (log_sender, mut log) = log();
    let servers = echoes(&log_sender, 3).await;
    let endpoints: Vec<Endpoint> = servers
        .iter()
        .zip([100, 50, 10])
        .map(|(server, weight)| endpoint(server.port).with_static_weight(weight))
        .collect();
    let proxy: HelloProxy = Communicator::new()
        .string_to_proxy(&proxy_string(&endpoints))
        .unwrap();
    let table = WeightTable::new(&endpoints).unwrap();
    let turns = table.slots().len() * 2;
    let got = served_ports(&proxy, &mut log, "call", turns).await;
    // the table walked cyclically from its second entry
    let expected: Vec<u16> = (1..=turns)
        .map(|i| servers[table.slots()[i % table.slots().len()]].port)
        .collect();
    assert_eq!(got, expected);
}

/// Codes that cover small values, the 32-bit boundary and the top of the range.
const CODES: [u64; 9] = [
    0,
    1,
    2,
    7,
    12_345,
    0xdead_beef,
    1 << 32,
    u64::MAX - 1,
    u64::MAX,
];

#[tokio::test]
async fn hashed_calls_reach_the_endpoint_tarscpp_chooses() {
    let (log_sender, mut log) = log();
    let servers = echoes(&log_sender, 4).await;
    let endpoints: Vec<Endpoint> = servers.iter().map(|server| endpoint(server.port)).collect();
    let (discovery, _lookups) = TestDiscovery::new(Ok(Instances::active(endpoints.clone())));
    let communicator = Communicator::builder().discovery(discovery).build();
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    let ring = HashRing::new(&endpoints);
    for code in CODES {
        // TypedProxy's provided methods, on a generated proxy
        let hashed = proxy.with_hash(code);
        assert_eq!(hashed.proxy().route(), Route::Hash(code));
        within(hello(&hashed, "modulo")).await.unwrap();
        within(hello(&proxy.with_consistent_hash(code), "consistent"))
            .await
            .unwrap();
        let got = ports_of(&next_requests(&mut log, 2).await);
        let modulo = mod_hash(code, &endpoints, |_| false).unwrap();
        let on_ring = ring.pick(code, |_| false).unwrap();
        assert_eq!(got[0], servers[modulo].port, "tars_hash({code})");
        assert_eq!(
            got[1], servers[on_ring].port,
            "tars_consistent_hash({code})"
        );
        // all on one host: the ring has one node, the lowest endpoint in TarsCpp's order
        assert_eq!(on_ring, tarscpp_order(&endpoints)[0]);
    }
}

#[tokio::test]
async fn a_hashed_call_whose_endpoint_is_down_goes_where_tarscpp_sends_it() {
    let (log_sender, mut log) = log();
    let servers = echoes(&log_sender, 2).await;
    let mut endpoints: Vec<Endpoint> = servers.iter().map(|server| endpoint(server.port)).collect();
    endpoints.push(endpoint(closed_port()));
    let proxy: HelloProxy = Communicator::builder()
        .failed_endpoint_backoff(Duration::from_secs(600), Duration::from_secs(600))
        .build()
        .string_to_proxy(&proxy_string(&endpoints))
        .unwrap();
    let is_down = |index: usize| index == 2;
    // a code that picks the closed port marks it down, then goes where TarsCpp's fallback
    // sends it; so do the codes after it
    let first = (0..u64::MAX)
        .find(|&code| mod_hash(code, &endpoints, |_| false) == Some(2))
        .unwrap();
    for code in [first].into_iter().chain(CODES) {
        within(hello(&proxy.with_hash(code), "x")).await.unwrap();
        let served = within(log.recv()).await.unwrap();
        let expected = mod_hash(code, &endpoints, is_down).unwrap();
        assert_eq!(served.port, servers[expected].port, "tars_hash({code})");
    }
}

#[test]
fn the_default_balancer_routes_every_tarscpp_vector() {
    // the recorded choices of tests/data/tarscpp-hash.tsv, through the LoadBalance layer
    let mut checked = 0;
    for line in include_str!("data/tarscpp-hash.tsv").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let endpoints: Vec<Endpoint> = fields[1].split(',').map(|e| e.parse().unwrap()).collect();
        let code: u64 = fields[2].parse().unwrap();
        let chosen: Endpoint = fields[3].parse().unwrap();
        let route = if fields[0].contains("consistent") {
            Route::ConsistentHash(code)
        } else {
            Route::Hash(code)
        };
        let balancer = TarsBalance.balancer(&Instances::active(endpoints.clone()));
        let is_down = |index: usize| endpoints[index].host() == "255.255.255.255";
        let picked = balancer
            .pick(route, &is_down)
            .map(|index| &endpoints[index]);
        assert!(
            picked.is_some_and(|p| p.host() == chosen.host() && p.port() == chosen.port()),
            "{line}: picked {picked:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 3871);
}

/// A closure is a balancer here (for the test's brevity).
struct FnBalancer<F>(F);

impl<F> Balancer for FnBalancer<F>
where
    F: Fn(Route, &dyn Fn(usize) -> bool) -> Option<usize> + Send + Sync + 'static,
{
    fn pick(&self, route: Route, is_down: &dyn Fn(usize) -> bool) -> Option<usize> {
        (self.0)(route, is_down)
    }
}

#[tokio::test]
async fn a_load_balance_of_ones_own_chooses() {
    /// Every call to the last active endpoint, whatever its route.
    struct LastOf;
    impl LoadBalance for LastOf {
        fn balancer(&self, instances: &Instances) -> Box<dyn Balancer> {
            let last = instances.active.len().checked_sub(1);
            Box::new(FnBalancer(move |_: Route, _: &dyn Fn(usize) -> bool| last))
        }
    }
    let (log_sender, mut log) = log();
    let servers = echoes(&log_sender, 2).await;
    let proxy: HelloProxy = Communicator::builder()
        .load_balance(LastOf)
        .build()
        .string_to_proxy(&format!(
            "{OBJECT}@{}:{}",
            tcp(servers[0].port),
            tcp(servers[1].port)
        ))
        .unwrap();
    for i in 0..4 {
        within(hello(&proxy.with_hash(i), "x")).await.unwrap();
    }
    let got = ports_of(&next_requests(&mut log, 4).await);
    assert!(got.iter().all(|&port| port == servers[1].port), "{got:?}");
}

#[tokio::test]
async fn shutdown_ends_every_task_and_later_calls_fail() {
    let (log_sender, mut log) = log();
    let mut resolved_server = Echo::start(&log_sender).await;
    let mut direct_server = Echo::start(&log_sender).await;
    let (discovery, mut lookups) = TestDiscovery::of(&[resolved_server.port]);
    let communicator = Communicator::builder().discovery(discovery.clone()).build();
    let resolved: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    // push mode: keep-alive and reconnection tasks too
    resolved.set_push_handler(|_push: tars_rpc::push::PushMessage| async {});
    within(hello(&resolved, "push mode")).await.unwrap();
    let direct: HelloProxy = communicator
        .string_to_proxy(&format!("{OBJECT}@{}", tcp(direct_server.port)))
        .unwrap();
    let held = tokio::spawn({
        let direct = direct.clone();
        async move { direct.hold("held".into()).await }
    });
    next_requests(&mut log, 2).await;
    within(lookups.recv()).await.unwrap();

    // returns once every task has ended
    within(communicator.shutdown()).await;
    assert_eq!(discovery.shut_down.load(Ordering::SeqCst), 1);
    let error = within(held).await.unwrap().unwrap_err();
    assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
    assert!(error.message().contains("shut down"), "{error}");
    // the server answers a half-closed connection: it closes once its held call is answered
    direct_server.release();
    resolved_server.connection_closed().await;
    direct_server.connection_closed().await;

    for proxy in [&resolved, &direct] {
        let error = within(hello(proxy, "after")).await.unwrap_err();
        assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
        assert!(error.message().contains("shut down"), "{error}");
    }
    assert!(within(resolved.refresh()).await.is_err());
    assert_eq!(
        communicator.proxy(OBJECT).unwrap_err(),
        ProxyError::ShutDown
    );
    assert!(lookups.try_recv().is_err(), "no lookup after the shutdown");
    // a second shutdown returns too
    within(communicator.shutdown()).await;
    assert_eq!(discovery.shut_down.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_client_finds_its_servers_by_name_through_a_registry() {
    let registry = DevRegistry::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry_port = listener.local_addr().unwrap().port();
    let registry_server = Server::builder()
        .servant(QUERY_OBJ, listener, registry.clone())
        .start()
        .await
        .unwrap();
    let (log_sender, mut log) = log();
    let servers = echoes(&log_sender, 2).await;
    registry.add(OBJECT, endpoint(servers[0].port));

    let locator = Locator::new(&tcp(registry_port)).unwrap();
    let communicator = Communicator::builder().discovery(locator).build();
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    let served = served_ports(&proxy, &mut log, "by name", 2).await;
    assert_eq!(served, [servers[0].port; 2]);

    registry.add(OBJECT, endpoint(servers[1].port));
    within(proxy.refresh()).await.unwrap();
    assert_eq!(
        ports(&proxy),
        sorted(vec![servers[0].port, servers[1].port])
    );
    let served = served_ports(&proxy, &mut log, "both", 4).await;
    assert!(served.contains(&servers[1].port), "{served:?}");

    assert!(registry.remove(OBJECT, endpoint(servers[0].port)));
    within(proxy.refresh()).await.unwrap();
    assert_eq!(ports(&proxy), [servers[1].port]);

    // the registry gone, the proxy keeps what it found
    registry_server.shutdown().await;
    assert!(within(proxy.refresh()).await.is_err());
    let served = served_ports(&proxy, &mut log, "registry down", 2).await;
    assert_eq!(served, [servers[1].port; 2]);
    within(communicator.shutdown()).await;
}

/// A registry that reports each connection it loses.
struct WatchedRegistry {
    registry: DevRegistry,
    closed: mpsc::UnboundedSender<()>,
}

impl tars_rpc::server::Servant for WatchedRegistry {
    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: bytes::Bytes,
    ) -> BoxFuture<'a, tars_rpc::Result<bytes::Bytes>> {
        self.registry.dispatch(current, params)
    }

    fn on_connection_closed<'a>(&'a self, _current: &'a Current) -> BoxFuture<'a, ()> {
        let _ = self.closed.send(());
        Box::pin(async {})
    }
}

#[tokio::test]
async fn shutting_down_the_communicator_closes_its_locators_connection() {
    let registry = DevRegistry::new();
    let (closed_sender, mut closed) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry_port = listener.local_addr().unwrap().port();
    let _registry_server = Server::builder()
        .servant(
            QUERY_OBJ,
            listener,
            WatchedRegistry {
                registry: registry.clone(),
                closed: closed_sender,
            },
        )
        .start()
        .await
        .unwrap();
    let (log_sender, mut log) = log();
    let servers = echoes(&log_sender, 1).await;
    registry.add(OBJECT, endpoint(servers[0].port));

    let communicator = Communicator::builder()
        .discovery(Locator::new(&tcp(registry_port)).unwrap())
        .build();
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    served_ports(&proxy, &mut log, "by name", 1).await;
    assert!(
        closed.try_recv().is_err(),
        "the locator's connection is open"
    );
    within(communicator.shutdown()).await;
    within(closed.recv())
        .await
        .expect("the registry saw the locator's connection close");
}

#[tokio::test]
async fn a_route_watch_follows_its_key_to_another_instance_and_back() {
    let (log_sender, mut log) = log();
    let mut servers = echoes(&log_sender, 3).await;
    let endpoints: Vec<Endpoint> = servers.iter().map(|server| endpoint(server.port)).collect();
    let communicator = Communicator::builder()
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .failed_endpoint_backoff(Duration::from_millis(20), Duration::from_millis(100))
        .build();
    let proxy: HelloProxy = communicator
        .string_to_proxy(&proxy_string(&endpoints))
        .unwrap();
    // push mode: the client keeps every endpoint connected, and so sees one go down and up
    let _pushes = proxy.push_stream();
    within(proxy.connect()).await.unwrap();

    let (moved_sender, mut moved) = mpsc::unbounded_channel();
    let watch = proxy.with_key_hash(7).on_route(move |pinned, endpoint| {
        let moved = moved_sender.clone();
        async move {
            // register the key where it maps now
            hello(&pinned, "register 7").await.unwrap();
            let _ = moved.send(endpoint.port());
        }
    });
    let home = within(moved.recv()).await.unwrap();
    let served = next_requests(&mut log, 1).await;
    assert_eq!(
        (served[0].port, served[0].text.as_str()),
        (home, "register 7")
    );

    // the key's instance dies: the watch registers the key where it maps without it
    let at = servers
        .iter()
        .position(|server| server.port == home)
        .unwrap();
    let listener_address = format!("127.0.0.1:{home}");
    drop(servers.remove(at));
    let elsewhere = within(moved.recv()).await.unwrap();
    assert_ne!(elsewhere, home);
    let served = next_requests(&mut log, 1).await;
    assert_eq!(
        (served[0].port, served[0].text.as_str()),
        (elsewhere, "register 7")
    );

    // it comes back: the key maps home again, and is registered there again
    let listener = TcpListener::bind(&listener_address).await.unwrap();
    servers.push(Echo::on(listener, &log_sender).await);
    assert_eq!(within(moved.recv()).await.unwrap(), home);
    let served = next_requests(&mut log, 1).await;
    assert_eq!(
        (served[0].port, served[0].text.as_str()),
        (home, "register 7")
    );

    // a dropped watch stops: its task ends and lets go of the hook, whose sender was the last
    drop(watch);
    assert!(
        within(moved.recv()).await.is_none(),
        "the watch's task and hook are gone"
    );
    within(communicator.shutdown()).await;
}

#[tokio::test]
async fn each_endpoint_makes_a_call_on_every_instance_once() {
    let (log_sender, mut log) = log();
    let servers = echoes(&log_sender, 3).await;
    let endpoints: Vec<Endpoint> = servers.iter().map(|server| endpoint(server.port)).collect();
    let discovery = StaticDiscovery::new()
        .with(
            OBJECT,
            &endpoints
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(":"),
        )
        .unwrap();
    let communicator = Communicator::builder().discovery(discovery).build();
    // found through the discovery: looked up first
    let proxy: HelloProxy = communicator.string_to_proxy(OBJECT).unwrap();
    let everywhere = within(proxy.each_endpoint()).await.unwrap();
    assert_eq!(everywhere.len(), 3);
    for pinned in &everywhere {
        within(hello(pinned, "everywhere")).await.unwrap();
    }
    let mut served = ports_of(&next_requests(&mut log, 3).await);
    served.sort_unstable();
    let mut expected: Vec<u16> = servers.iter().map(|server| server.port).collect();
    expected.sort_unstable();
    assert_eq!(served, expected, "one call on each instance");
    // a pinned handle's own list is its endpoint
    assert_eq!(
        within(everywhere[0].each_endpoint()).await.unwrap().len(),
        1
    );
    within(communicator.shutdown()).await;
    assert!(
        within(proxy.each_endpoint()).await.is_err(),
        "after the shutdown"
    );
}
