//! The push cluster of `examples/push_cluster.rs` (also run by `tests/push_cluster.rs`):
//! several server instances of one object, each pushing its own numbered events to the
//! clients registered with it, and clients that register with every instance through an
//! `on_connect` hook, so that an event on any instance reaches every client, once, also after
//! an instance has been killed and restarted.
//!
//! Not an example of its own: each user includes it with `#[path = "..."] mod cluster;`.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tars_rpc::client::{Communicator, CommunicatorBuilder, TypedProxy};
use tars_rpc::endpoint::Endpoint;
use tars_rpc::push::{PushMessage, Subscribers};
use tars_rpc::registry::{register_with, DevRegistry, Locator, Registration, QUERY_OBJ};
use tars_rpc::server::Server;
use tars_rpc::{tars_interface, tars_push, Current};
use tokio::sync::watch;

/// The object every instance serves.
pub const OBJECT: &str = "TestApp.PushServer.PushObj";

#[tars_interface]
pub trait Publisher {
    /// `int registerPush();`: adds the caller to this instance's subscribers.
    async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32>;
}

#[tars_push]
pub trait Feed {
    /// `int event(int instance, long sequence);`: event number `sequence` of instance
    /// `instance`, each instance numbering its own from 0. `push` (not on the wire) says which
    /// endpoint sent it.
    async fn event(&self, ret: i32, instance: i32, sequence: i64, push: &PushMessage);
}

/// What an instance knows of its registrations: how many times each connection called
/// `registerPush`.
type Registrations = watch::Sender<HashMap<u64, usize>>;

struct PublisherImp {
    subscribers: Subscribers,
    registrations: Arc<Registrations>,
}

impl Publisher for PublisherImp {
    async fn register_push(&self, current: &Current) -> tars_rpc::Result<i32> {
        self.subscribers.add(current);
        // after the add: whoever waits for the subscribers sees them
        self.registrations.send_modify(|by_connection| {
            *by_connection.entry(current.connection_id()).or_default() += 1;
        });
        Ok(0)
    }
}

/// A server instance of [`OBJECT`] at a fixed address, which it keeps across restarts.
pub struct Instance {
    index: usize,
    address: SocketAddr,
    /// Events published so far: the next event's sequence number.
    published: i64,
    running: Option<Running>,
}

/// An instance while it runs.
struct Running {
    server: Server,
    subscribers: Subscribers,
    registrations: Arc<Registrations>,
    /// With the development registry: active while this lives.
    registration: Option<Registration>,
}

impl Running {
    async fn start(listen: &str, registry: Option<&str>) -> Result<Self, String> {
        let subscribers = Subscribers::new();
        let registrations = Arc::new(Registrations::new(HashMap::new()));
        let servant = PublisherServant::new(PublisherImp {
            subscribers: subscribers.clone(),
            registrations: Arc::clone(&registrations),
        });
        let server = Server::builder()
            .servant(OBJECT, listen, servant)
            .start()
            .await
            .map_err(|error| format!("cannot start an instance at {listen}: {error}"))?;
        let registration = match registry {
            None => None,
            Some(locator) => {
                let address = server.local_addr(OBJECT).expect("the servant is bound");
                let endpoint = Endpoint::new(address.ip().to_string(), address.port());
                let registration = register_with(locator, OBJECT, endpoint)
                    .await
                    .map_err(|error| format!("cannot register with {locator}: {error}"))?;
                Some(registration)
            }
        };
        Ok(Self {
            server,
            subscribers,
            registrations,
            registration,
        })
    }
}

impl Instance {
    /// Starts instance `index` at `listen` (`127.0.0.1:0` for a free port), registered with
    /// the development registry at `registry` if given.
    pub async fn start(index: usize, listen: &str, registry: Option<&str>) -> Result<Self, String> {
        let running = Running::start(listen, registry).await?;
        let address = running
            .server
            .local_addr(OBJECT)
            .expect("the servant is bound");
        Ok(Self {
            index,
            address,
            published: 0,
            running: Some(running),
        })
    }

    pub fn index(&self) -> usize {
        self.index
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.address.ip().to_string(), self.address.port())
    }

    /// How many events it has published, over all its runs.
    pub fn published(&self) -> i64 {
        self.published
    }

    /// The clients registered with it now (none while it is down).
    pub fn subscribers(&self) -> usize {
        self.running
            .as_ref()
            .map_or(0, |running| running.subscribers.len())
    }

    /// How many times its connections called `registerPush`, since it last started.
    pub fn registrations(&self) -> usize {
        self.running.as_ref().map_or(0, |running| {
            running.registrations.borrow().values().sum::<usize>()
        })
    }

    /// Whether every connection that registered did so once, since it last started.
    pub fn registered_once(&self) -> Result<(), String> {
        let Some(running) = &self.running else {
            return Ok(());
        };
        let by_connection = running.registrations.borrow();
        let twice = by_connection.values().filter(|&&count| count > 1).count();
        if twice > 0 {
            return Err(format!(
                "instance {}: {twice} connections registered more than once",
                self.index
            ));
        }
        Ok(())
    }

    /// Waits, up to `within`, until `count` clients are registered with it.
    pub async fn wait_subscribers(&self, count: usize, within: Duration) -> Result<(), String> {
        let Some(running) = &self.running else {
            return Err(format!("instance {} is down", self.index));
        };
        let mut len = running.subscribers.watch_len();
        let waited = tokio::time::timeout(within, len.wait_for(|&len| len >= count)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => Err(format!(
                "instance {}: {} of {count} clients registered after {within:?}",
                self.index,
                running.subscribers.len()
            )),
        }
    }

    /// Pushes its next `count` events to every registered client; fails unless each reached
    /// exactly `clients` connections.
    pub async fn publish(&mut self, count: usize, clients: usize) -> Result<(), String> {
        let Some(running) = &self.running else {
            return Err(format!("instance {} is down", self.index));
        };
        let instance = i32::try_from(self.index).expect("few instances");
        for _ in 0..count {
            // encoded once, queued on every registered connection
            let frame = FeedSender::event_frame(0, instance, self.published);
            let report = running
                .subscribers
                .broadcast_timeout(&frame, Duration::from_secs(5))
                .await;
            if !report.is_complete() || report.delivered != clients {
                return Err(format!(
                    "instance {}: event {} queued on {} connections, {} failed, {clients} expected",
                    self.index,
                    self.published,
                    report.delivered,
                    report.failed.len()
                ));
            }
            self.published += 1;
        }
        Ok(())
    }

    /// Takes it out of the registry's list, still running.
    pub async fn unregister(&mut self) -> Result<(), String> {
        let registration = self
            .running
            .as_mut()
            .and_then(|running| running.registration.take());
        match registration {
            Some(registration) => registration
                .unregister()
                .await
                .map_err(|error| format!("instance {}: cannot unregister: {error}", self.index)),
            None => Err(format!("instance {} is not registered", self.index)),
        }
    }

    /// Adds it to the registry's list again.
    pub async fn register(&mut self, locator: &str) -> Result<(), String> {
        let endpoint = self.endpoint();
        let Some(running) = &mut self.running else {
            return Err(format!("instance {} is down", self.index));
        };
        let registration = register_with(locator, OBJECT, endpoint)
            .await
            .map_err(|error| format!("cannot register with {locator}: {error}"))?;
        running.registration = Some(registration);
        Ok(())
    }

    /// Waits, up to `within`, until no client is registered with it (their connections
    /// closed).
    pub async fn wait_no_subscribers(&self, within: Duration) -> Result<(), String> {
        let Some(running) = &self.running else {
            return Err(format!("instance {} is down", self.index));
        };
        let mut len = running.subscribers.watch_len();
        let waited = tokio::time::timeout(within, len.wait_for(|&len| len == 0)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => Err(format!(
                "instance {}: {} clients still registered after {within:?}",
                self.index,
                self.subscribers()
            )),
        }
    }

    /// Kills it: the server is dropped, its connections cut, as when its process dies.
    pub fn kill(&mut self) {
        self.running = None;
    }

    /// Stops it gracefully: clients are told to reconnect (`_reconnect_`), then closed.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            drop(running.registration);
            running.server.shutdown().await;
        }
    }

    /// Starts it again at the same address (registered again with `registry` if given):
    /// binding is tried again for up to `within`, in case the old listener is still closing.
    pub async fn restart(
        &mut self,
        registry: Option<&str>,
        within: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let listen = self.address.to_string();
        loop {
            match Running::start(&listen, registry).await {
                Ok(running) => {
                    self.running = Some(running);
                    return Ok(());
                }
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

/// Starts `count` instances on free ports of 127.0.0.1.
pub async fn start_instances(
    count: usize,
    registry: Option<&str>,
) -> Result<Vec<Instance>, String> {
    let mut instances = Vec::with_capacity(count);
    for index in 0..count {
        instances.push(Instance::start(index, "127.0.0.1:0", registry).await?);
    }
    Ok(instances)
}

/// `OBJECT@tcp -h .. -p ..:tcp -h .. -p ..`: every instance, named.
pub fn proxy_string(instances: &[Instance]) -> String {
    let endpoints: Vec<String> = instances
        .iter()
        .map(|instance| instance.endpoint().to_string())
        .collect();
    format!("{OBJECT}@{}", endpoints.join(":"))
}

/// A development registry on a free port, for instances to register with and clients to
/// find them through.
pub struct Registry {
    registry: DevRegistry,
    server: Server,
    locator: String,
}

impl Registry {
    pub async fn start() -> Result<Self, String> {
        let registry = DevRegistry::new();
        let server = Server::builder()
            .servant(QUERY_OBJ, "127.0.0.1:0", registry.clone())
            .start()
            .await
            .map_err(|error| format!("cannot start the registry: {error}"))?;
        let port = server.local_addr(QUERY_OBJ).expect("bound").port();
        Ok(Self {
            registry,
            server,
            locator: format!("tcp -h 127.0.0.1 -p {port}"),
        })
    }

    /// Its address, for `register_with` and `Locator::new`.
    pub fn locator(&self) -> &str {
        &self.locator
    }

    /// Whether it lists `endpoint` of [`OBJECT`] as active.
    pub fn is_active(&self, endpoint: &Endpoint) -> bool {
        self.registry.endpoints(OBJECT).0.iter().any(|listed| {
            listed.host == endpoint.host() && listed.port == i32::from(endpoint.port())
        })
    }

    /// Waits, up to `within`, until it lists `endpoint` as active, or as not active.
    pub async fn wait_active(
        &self,
        endpoint: &Endpoint,
        active: bool,
        within: Duration,
    ) -> Result<(), String> {
        let mut changes = self.registry.changes();
        let waited = tokio::time::timeout(
            within,
            changes.wait_for(|_| self.is_active(endpoint) == active),
        )
        .await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => Err(format!(
                "the registry did not list {endpoint} as {} within {within:?}",
                if active { "active" } else { "inactive" }
            )),
        }
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// How clients find the instances.
#[derive(Clone, Debug)]
pub enum Target {
    /// A proxy string naming every endpoint.
    Endpoints(String),
    /// [`OBJECT`] alone, looked up through the registry at this locator.
    Registry(String),
}

/// What every client has seen, together.
#[derive(Default)]
struct Seen {
    /// Every push received by any client.
    pushes: watch::Sender<usize>,
    /// Successful registrations by the hooks, by the port of the endpoint registered with.
    registered: watch::Sender<HashMap<u16, usize>>,
    /// Registrations that failed.
    failed: Mutex<Vec<String>>,
}

/// What one client received: the sequence numbers of each instance's events, in arrival order,
/// and the ports of the endpoints they came from.
struct Received {
    by_instance: Mutex<HashMap<i32, Vec<i64>>>,
    origins: Mutex<HashMap<i32, BTreeSet<u16>>>,
    seen: Arc<Seen>,
}

impl Feed for Arc<Received> {
    async fn event(&self, _ret: i32, instance: i32, sequence: i64, push: &PushMessage) {
        crate_lock(&self.by_instance)
            .entry(instance)
            .or_default()
            .push(sequence);
        // a push from a connection always knows its endpoint: port 0 marks a missing origin
        let port = push.origin().map_or(0, Endpoint::port);
        crate_lock(&self.origins)
            .entry(instance)
            .or_default()
            .insert(port);
        self.seen.pushes.send_modify(|pushes| *pushes += 1);
    }
}

fn crate_lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A client: a communicator of its own (its own connections), registered with every
/// instance by an `on_connect` hook.
struct Client {
    communicator: Communicator,
    proxy: PublisherProxy,
    received: Arc<Received>,
}

impl Client {
    async fn connect(
        target: &Target,
        config: CommunicatorBuilder,
        seen: &Arc<Seen>,
    ) -> Result<Self, String> {
        let (communicator, name) = match target {
            Target::Endpoints(proxy) => (config.build(), proxy.as_str()),
            Target::Registry(locator) => {
                let locator =
                    Locator::new(locator).map_err(|error| format!("bad locator: {error}"))?;
                (config.discovery(locator).build(), OBJECT)
            }
        };
        let proxy: PublisherProxy = communicator
            .string_to_proxy(name)
            .map_err(|error| format!("bad proxy string: {error}"))?;
        let received = Arc::new(Received {
            by_instance: Mutex::default(),
            origins: Mutex::default(),
            seen: Arc::clone(seen),
        });
        proxy.set_push_handler(FeedCallback(Arc::clone(&received)));
        // on every connection made: the first to each instance, every reconnect, and every
        // endpoint the registry adds; the proxy given is pinned to that connection's endpoint
        let hook_seen = Arc::downgrade(seen);
        proxy.on_connect(move |proxy: PublisherProxy, endpoint: Endpoint| {
            let seen = hook_seen.clone();
            async move {
                let outcome = proxy.register_push().await;
                let Some(seen) = seen.upgrade() else { return };
                match outcome {
                    Ok(0) => seen.registered.send_modify(|by_port| {
                        *by_port.entry(endpoint.port()).or_default() += 1;
                    }),
                    Ok(ret) => crate_lock(&seen.failed)
                        .push(format!("{endpoint}: registerPush returned {ret}")),
                    Err(error) => crate_lock(&seen.failed).push(format!("{endpoint}: {error}")),
                }
            }
        });
        // every instance connected, and registered with by the hook, when this returns
        proxy
            .connect()
            .await
            .map_err(|error| format!("cannot connect: {error}"))?;
        Ok(Self {
            communicator,
            proxy,
            received,
        })
    }
}

impl Client {
    /// Each instance's events came from one endpoint, known, and no two instances' from the
    /// same.
    fn check_origins(&self) -> Result<(), String> {
        let origins = crate_lock(&self.received.origins);
        let mut ports = BTreeSet::new();
        for (instance, seen) in origins.iter() {
            match seen.iter().collect::<Vec<_>>()[..] {
                [0] => return Err(format!("pushes of instance {instance} without an origin")),
                [&port] if ports.insert(port) => {}
                [port] => {
                    return Err(format!(
                        "pushes of two instances from the same origin, port {port}"
                    ))
                }
                _ => {
                    return Err(format!(
                        "pushes of instance {instance} from several origins, ports {seen:?}"
                    ))
                }
            }
        }
        Ok(())
    }
}

/// Many clients of the instances.
pub struct Clients {
    clients: Vec<Client>,
    seen: Arc<Seen>,
}

impl Clients {
    /// `count` clients of `target`, each with a communicator of its own made from `config`,
    /// connected and registered (as far as the instances could be reached) when this returns.
    pub async fn connect(
        count: usize,
        target: &Target,
        config: impl Fn() -> CommunicatorBuilder,
    ) -> Result<Self, String> {
        let seen = Arc::new(Seen::default());
        let connects = (0..count).map(|_| Client::connect(target, config(), &seen));
        let clients = futures::future::join_all(connects)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { clients, seen })
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Every push received, by all clients together.
    pub fn pushes(&self) -> usize {
        *self.seen.pushes.borrow()
    }

    /// Waits, up to `within`, until the clients have received `count` pushes together.
    pub async fn wait_pushes(&self, count: usize, within: Duration) -> Result<(), String> {
        let mut pushes = self.seen.pushes.subscribe();
        let waited = tokio::time::timeout(within, pushes.wait_for(|&pushes| pushes >= count)).await;
        match waited.map(|reached| reached.is_ok()) {
            Ok(true) => Ok(()),
            _ => Err(format!(
                "{} of {count} pushes received after {within:?}{}",
                self.pushes(),
                self.failures()
            )),
        }
    }

    /// Looks the object up again for every client now, as their background refreshes do.
    pub async fn refresh(&self) -> Result<(), String> {
        let refreshes = self.clients.iter().map(|client| client.proxy.refresh());
        for outcome in futures::future::join_all(refreshes).await {
            outcome.map_err(|error| format!("a lookup failed: {error}"))?;
        }
        Ok(())
    }

    /// How many clients have `endpoint` in their list of endpoints.
    pub fn listing(&self, endpoint: &Endpoint) -> usize {
        self.clients
            .iter()
            .filter(|client| client.proxy.proxy().endpoints().contains(endpoint))
            .count()
    }

    /// How many times the hooks registered with the instance at `endpoint`.
    pub fn registrations_with(&self, endpoint: &Endpoint) -> usize {
        registrations_with(&self.seen.registered.borrow(), endpoint)
    }

    /// Waits, up to `within`, until the hooks have registered `count` times with the instance
    /// at `endpoint` (a hook counts once `registerPush` has returned).
    pub async fn wait_registrations(
        &self,
        endpoint: &Endpoint,
        count: usize,
        within: Duration,
    ) -> Result<(), String> {
        let mut registered = self.seen.registered.subscribe();
        let waited = tokio::time::timeout(
            within,
            registered.wait_for(|by_port| registrations_with(by_port, endpoint) >= count),
        )
        .await;
        match waited.map(|reached| reached.is_ok()) {
            Ok(true) => Ok(()),
            _ => Err(format!(
                "{} of {count} registrations with {endpoint} after {within:?}{}",
                self.registrations_with(endpoint),
                self.failures()
            )),
        }
    }

    /// The registrations that failed, for an error message.
    fn failures(&self) -> String {
        let failed = crate_lock(&self.seen.failed);
        match failed.first() {
            None => String::new(),
            Some(first) => format!(
                " ({} registrations failed, the first: {first})",
                failed.len()
            ),
        }
    }

    /// Checks that every client received the events of each instance, `published[i]` for
    /// instance `i`, each once and in the order published.
    pub fn check(&self, published: &[i64]) -> Result<(), String> {
        let ranges: Vec<(i64, i64)> = published.iter().map(|&count| (0, count)).collect();
        self.check_from(&ranges)
    }

    /// Checks that every client received events `from..to` of instance `i`, `(from, to)` at
    /// `ranges[i]`, each once and in order, and no other; and that the callback was told the
    /// endpoint each came from: one per instance, a different one for each.
    pub fn check_from(&self, ranges: &[(i64, i64)]) -> Result<(), String> {
        for (number, client) in self.clients.iter().enumerate() {
            client
                .check_origins()
                .map_err(|problem| format!("client {number}: {problem}"))?;
            let by_instance = crate_lock(&client.received.by_instance);
            if let Some(unknown) = by_instance
                .keys()
                .find(|&&instance| usize::try_from(instance).map_or(true, |i| i >= ranges.len()))
            {
                return Err(format!(
                    "client {number}: events of unknown instance {unknown}"
                ));
            }
            for (instance, &(from, to)) in ranges.iter().enumerate() {
                let got = by_instance
                    .get(&i32::try_from(instance).expect("few instances"))
                    .map_or(&[][..], Vec::as_slice);
                if let Some(problem) = problem(got, from..to) {
                    return Err(format!("client {number}, instance {instance}: {problem}"));
                }
            }
        }
        Ok(())
    }

    /// How many events each client received from each instance.
    pub fn delivered(&self, instances: usize) -> Vec<Vec<usize>> {
        self.clients
            .iter()
            .map(|client| {
                let by_instance = crate_lock(&client.received.by_instance);
                (0..instances)
                    .map(|instance| {
                        by_instance
                            .get(&i32::try_from(instance).expect("few instances"))
                            .map_or(0, Vec::len)
                    })
                    .collect()
            })
            .collect()
    }

    /// Shuts every client's communicator down.
    pub async fn shutdown(self) {
        let shutdowns = self
            .clients
            .iter()
            .map(|client| client.communicator.shutdown());
        futures::future::join_all(shutdowns).await;
    }
}

fn registrations_with(by_port: &HashMap<u16, usize>, endpoint: &Endpoint) -> usize {
    by_port.get(&endpoint.port()).copied().unwrap_or(0)
}

/// What is wrong with `got`, the sequence numbers received of an instance, where `expected`
/// (each once, in order) should be: duplicates, gaps, strays, or disorder.
fn problem(got: &[i64], expected: Range<i64>) -> Option<String> {
    if got.iter().copied().eq(expected.clone()) {
        return None;
    }
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for &sequence in got {
        *counts.entry(sequence).or_default() += 1;
    }
    let mut twice: Vec<i64> = counts
        .iter()
        .filter(|&(_, &count)| count > 1)
        .map(|(&sequence, _)| sequence)
        .collect();
    twice.sort_unstable();
    let missing: Vec<i64> = expected
        .clone()
        .filter(|sequence| !counts.contains_key(sequence))
        .collect();
    let mut strays: Vec<i64> = counts
        .keys()
        .copied()
        .filter(|sequence| !expected.contains(sequence))
        .collect();
    strays.sort_unstable();
    let disorder = got.windows(2).position(|pair| pair[0] >= pair[1]);
    Some(format!(
        "received {} events where {expected:?} was expected: twice {twice:?}, missing {missing:?}, not expected {strays:?}, out of order {}",
        got.len(),
        disorder.map_or("nowhere".to_string(), |at| format!(
            "at {at}: {} then {}",
            got[at],
            got[at + 1]
        )),
    ))
}

/// What to run: how many instances, clients and events, and how clients find the instances.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub instances: usize,
    pub clients: usize,
    /// Events each instance publishes in each round.
    pub events: usize,
    /// Through the development registry rather than a proxy string naming the endpoints.
    pub registry: bool,
    /// With the registry: while instance 0 is down, every client looks the object up (as its
    /// background refresh, every 5 s here, does), so that it lets go of instance 0, and gets
    /// it back only when a background refresh finds it listed again.
    pub let_go: bool,
    /// Every wait's bound.
    pub wait: Duration,
}

/// What a run saw, for the caller to check and show.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Pushes received by all clients together.
    pub pushes: usize,
    /// Events published by each instance.
    pub published: Vec<i64>,
    /// Registrations the hooks made with each instance, over the whole run.
    pub registrations: Vec<usize>,
    /// How long the restarted instance took to get every client back.
    pub reregistered_in: Duration,
    pub elapsed: Duration,
}

/// Runs the scenario: instances up, every client registered with every instance, a round of
/// events from each instance, instance 0 killed (dropped; stopped gracefully with the
/// registry) while the others publish a round, instance 0 restarted on its port and every
/// client back by itself, a last round from each instance. Every client must have received
/// every event once, each instance's in order. `say` is told what happens.
pub async fn run(scenario: &Scenario, say: &mut impl FnMut(String)) -> Result<Outcome, String> {
    let started = Instant::now();
    let Scenario {
        instances: instance_count,
        clients: client_count,
        events,
        registry: with_registry,
        let_go,
        wait,
    } = scenario.clone();
    let registry = if with_registry {
        let registry = Registry::start().await?;
        say(format!("registry: {QUERY_OBJ} at {}", registry.locator()));
        Some(registry)
    } else {
        None
    };
    let locator = registry
        .as_ref()
        .map(|registry| registry.locator().to_string());
    let mut instances = start_instances(instance_count, locator.as_deref()).await?;
    for instance in &instances {
        say(format!(
            "instance {}: {OBJECT} at {}{}",
            instance.index(),
            instance.address(),
            if with_registry {
                ", registered with the registry"
            } else {
                ""
            }
        ));
    }
    let target = match &locator {
        Some(locator) => Target::Registry(locator.clone()),
        None => Target::Endpoints(proxy_string(&instances)),
    };
    let clients = Clients::connect(client_count, &target, || {
        Communicator::builder()
            .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
            .refresh_interval(Duration::from_secs(5))
    })
    .await?;
    for instance in &instances {
        instance.wait_subscribers(client_count, wait).await?;
        instance.registered_once()?;
        clients
            .wait_registrations(&instance.endpoint(), client_count, wait)
            .await?;
    }
    say(format!(
        "{client_count} clients, each with connections of its own, registered with all {instance_count} instances ({})",
        match &target {
            Target::Endpoints(proxy) => format!("connecting to {proxy}"),
            Target::Registry(_) => format!("finding {OBJECT} through the registry"),
        }
    ));

    say(round(&mut instances, &clients, events, wait, "round 1").await?);

    // kill instance 0, and let the others publish meanwhile
    let restarted = instances[0].endpoint();
    let registrations_before = clients.registrations_with(&restarted);
    if let Some(registry) = &registry {
        instances[0].stop().await;
        registry.wait_active(&restarted, false, wait).await?;
        say(format!(
            "instance 0 stopped; the registry lists {restarted} as inactive"
        ));
    } else {
        instances[0].kill();
        say("instance 0 killed".to_string());
    }
    say(round(
        &mut instances,
        &clients,
        events,
        wait,
        "round 2, instance 0 down",
    )
    .await?);
    if with_registry && let_go {
        clients.refresh().await?;
        let listing = clients.listing(&restarted);
        if listing > 0 {
            return Err(format!(
                "{listing} clients still list instance 0 after a lookup that found it inactive"
            ));
        }
        say("every client looked the object up and let go of instance 0".to_string());
    }

    let down_at = Instant::now();
    instances[0].restart(locator.as_deref(), wait).await?;
    say(format!(
        "instance 0 restarted at {}{}",
        instances[0].address(),
        if with_registry {
            ", registered again"
        } else {
            ""
        }
    ));
    // no call from here: the clients reconnect and register by themselves
    instances[0].wait_subscribers(client_count, wait).await?;
    clients
        .wait_registrations(&restarted, registrations_before + client_count, wait)
        .await?;
    let reregistered_in = down_at.elapsed();
    for instance in &instances {
        instance.registered_once()?;
    }
    let reregistered = clients.registrations_with(&restarted) - registrations_before;
    say(format!(
        "re-registrations seen: {reregistered} clients registered again with instance 0 in {} ms",
        reregistered_in.as_millis()
    ));
    say(round(
        &mut instances,
        &clients,
        events,
        wait,
        "round 3, after the restart",
    )
    .await?);

    let delivered = clients.delivered(instance_count);
    for (number, counts) in delivered.iter().enumerate().take(SHOWN_CLIENTS) {
        say(format!(
            "client {number}: events delivered by instance {counts:?}"
        ));
    }
    if delivered.len() > SHOWN_CLIENTS {
        let same = delivered.iter().all(|counts| counts == &delivered[0]);
        say(format!(
            "... and {} more clients{}",
            delivered.len() - SHOWN_CLIENTS,
            if same { ", each with the same" } else { "" }
        ));
    }
    let outcome = Outcome {
        pushes: clients.pushes(),
        published: instances.iter().map(Instance::published).collect(),
        registrations: instances
            .iter()
            .map(|instance| clients.registrations_with(&instance.endpoint()))
            .collect(),
        reregistered_in,
        elapsed: started.elapsed(),
    };
    if outcome.pushes != expected_pushes(&instances, clients.len()) {
        return Err(format!(
            "{} pushes received, {} expected",
            outcome.pushes,
            expected_pushes(&instances, clients.len())
        ));
    }
    clients.shutdown().await;
    for instance in &mut instances {
        instance.stop().await;
    }
    if let Some(registry) = registry {
        registry.shutdown().await;
    }
    Ok(outcome)
}

/// How many clients `run` shows the deliveries of, one by one.
const SHOWN_CLIENTS: usize = 5;

/// Pushes every client should have received once the instances have published what they have.
fn expected_pushes(instances: &[Instance], clients: usize) -> usize {
    let events: i64 = instances.iter().map(Instance::published).sum();
    usize::try_from(events).expect("positive") * clients
}

/// A round: every live instance publishes `events` events; waits until every client has them
/// and checks what each received.
async fn round(
    instances: &mut [Instance],
    clients: &Clients,
    events: usize,
    wait: Duration,
    which: &str,
) -> Result<String, String> {
    let mut live = Vec::new();
    for instance in instances.iter_mut() {
        if instance.running.is_some() {
            instance.publish(events, clients.len()).await?;
            live.push(instance.index());
        }
    }
    clients
        .wait_pushes(expected_pushes(instances, clients.len()), wait)
        .await?;
    let published: Vec<i64> = instances.iter().map(Instance::published).collect();
    clients.check(&published)?;
    Ok(format!(
        "{which}: instances {live:?} published {events} events each; every client received every event once, each instance's in order ({} pushes so far)",
        clients.pushes()
    ))
}
