//! Keyed registration across instances, for `examples/push_cluster.rs -- --keyed` (also run
//! by `tests/push_keyed.rs`): one client per key, each registering its key on the instance the
//! key maps to ([`TypedProxy::on_route`] with `with_key_hash`), a publisher sending each key's
//! event to that same instance by the same hash, and each instance pushing it to the key's
//! subscribers only ([`Subscribers::send_to`]). An event for a key reaches exactly that key's
//! client, also after an instance leaves the registry's list and its keys move to the others.
//!
//! Not an example of its own: each user includes it with `#[path = "..."] mod keyed;`, and
//! each reads a part of what a run returns.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tars_rpc::client::{Communicator, RouteWatch, TypedProxy};
use tars_rpc::endpoint::Endpoint;
use tars_rpc::push::{FromPush, PushMessage, PushStream, Subscribers};
use tars_rpc::registry::{DevRegistry, Locator, QUERY_OBJ};
use tars_rpc::server::Server;
use tars_rpc::{tars_interface, tars_push, Current};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The object every instance serves.
pub const OBJECT: &str = "TestApp.KeyedServer.KeyedObj";

#[tars_interface]
pub trait Keyed {
    /// Pushes to the caller the events of `key` (until its connection closes).
    async fn register_key(&self, current: &Current, key: i64) -> tars_rpc::Result<i32>;

    /// Pushes event `sequence` of `key` to the key's subscribers here; returns how many
    /// connections it was queued on.
    async fn publish(&self, key: i64, sequence: i32) -> tars_rpc::Result<i32>;
}

// the clients read the events as values from a stream, so the trait itself goes unimplemented
#[allow(dead_code)]
#[tars_push]
pub trait KeyEvents {
    async fn event(&self, key: i64, sequence: i32);
}

struct KeyedImp {
    subscribers: Subscribers<i64>,
}

impl Keyed for KeyedImp {
    async fn register_key(&self, current: &Current, key: i64) -> tars_rpc::Result<i32> {
        self.subscribers.join(key, current);
        Ok(0)
    }

    async fn publish(&self, key: i64, sequence: i32) -> tars_rpc::Result<i32> {
        // encoded once, queued on the connections that joined `key` here
        let frame = KeyEventsSender::event_frame(key, sequence);
        let report = self.subscribers.send_to(&key, &frame);
        Ok(i32::try_from(report.delivered).unwrap_or(i32::MAX))
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub instances: usize,
    /// One client per key, keys `0..keys`.
    pub keys: i64,
    /// Every wait's bound.
    pub wait: Duration,
}

/// What a run saw.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// How many keys registered on each instance at first.
    pub keys_on: Vec<usize>,
    /// How many keys moved when instance 0 left the list.
    pub moved: usize,
    /// Events delivered, each to exactly its key's client.
    pub delivered: usize,
    pub elapsed: Duration,
}

struct Instance {
    endpoint: Endpoint,
    subscribers: Subscribers<i64>,
    server: Server,
}

async fn start_instance() -> Result<Instance, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| format!("cannot bind: {error}"))?;
    let port = listener
        .local_addr()
        .map_err(|error| format!("no address: {error}"))?
        .port();
    let subscribers = Subscribers::keyed();
    let servant = KeyedServant::new(KeyedImp {
        subscribers: subscribers.clone(),
    });
    let server = Server::builder()
        .servant(OBJECT, listener, servant)
        .start()
        .await
        .map_err(|error| format!("cannot start an instance: {error}"))?;
    Ok(Instance {
        endpoint: Endpoint::new("127.0.0.1", port),
        subscribers,
        server,
    })
}

/// A client of one key: its own communicator, its events, its route watch.
struct KeyClient {
    key: i64,
    communicator: Communicator,
    proxy: KeyedProxy,
    events: PushStream<PushMessage>,
    _watch: RouteWatch,
}

/// Where each key's registration went, as the route watches report it, or why it failed.
type Moves = mpsc::UnboundedSender<Result<(i64, u16), String>>;

fn key_client(key: i64, locator: &str, moves: &Moves) -> Result<KeyClient, String> {
    // each with a locator and a communicator of its own, as separate processes would be
    let locator = Locator::new(locator).map_err(|error| format!("bad locator: {error}"))?;
    let communicator = Communicator::builder().discovery(locator).build();
    let proxy: KeyedProxy = communicator
        .string_to_proxy(OBJECT)
        .map_err(|error| format!("bad proxy string: {error}"))?;
    let events = proxy.push_stream();
    let moves = moves.clone();
    // run on the key's first route and on every move: registers where the key maps now
    let watch = proxy
        .with_key_hash(key as u64)
        .on_route(move |pinned, endpoint| {
            let moves = moves.clone();
            async move {
                let registered = match pinned.register_key(key).await {
                    Ok(0) => Ok((key, endpoint.port())),
                    Ok(ret) => Err(format!("key {key}: registerKey returned {ret}")),
                    Err(error) => Err(format!("key {key}: {error}")),
                };
                let _ = moves.send(registered);
            }
        });
    Ok(KeyClient {
        key,
        communicator,
        proxy,
        events,
        _watch: watch,
    })
}

async fn within<F: Future>(wait: Duration, what: &str, future: F) -> Result<F::Output, String> {
    tokio::time::timeout(wait, future)
        .await
        .map_err(|_| format!("{what}: nothing after {wait:?}"))
}

/// Waits for `count` registrations; returns where each key went.
async fn registrations(
    moves: &mut mpsc::UnboundedReceiver<Result<(i64, u16), String>>,
    count: usize,
    wait: Duration,
) -> Result<HashMap<i64, u16>, String> {
    let mut seen = HashMap::new();
    for _ in 0..count {
        let registered = within(wait, "a registration", moves.recv())
            .await?
            .ok_or("the route watches stopped")?;
        let (key, port) = registered?;
        seen.insert(key, port);
    }
    Ok(seen)
}

/// Publishes event `sequence` of every key through `publisher` (routed by the key as the
/// clients are) and checks that each was queued on exactly one connection and reached its
/// key's client, and only it.
async fn publish_round(
    publisher: &KeyedProxy,
    clients: &mut [KeyClient],
    sequence: i32,
    wait: Duration,
) -> Result<(), String> {
    let keys = clients.iter().map(|client| client.key);
    let delivered = join_all(keys.map(|key| async move {
        let published = publisher
            .with_key_hash(key as u64)
            .publish(key, sequence)
            .await;
        (key, published)
    }))
    .await;
    for (key, published) in delivered {
        match published {
            Ok(1) => {}
            Ok(count) => {
                return Err(format!(
                    "event {sequence} of key {key} queued on {count} connections, not 1"
                ))
            }
            Err(error) => return Err(format!("publishing to key {key}: {error}")),
        }
    }
    for client in clients.iter_mut() {
        let push = within(wait, "a push", client.events.recv())
            .await?
            .ok_or("the push stream ended")?;
        let KeyEventsEvent::Event { key, sequence: got } = KeyEventsEvent::decode(&push)
            .map_err(|error| format!("key {}: {error}", client.key))?;
        if (key, got) != (client.key, sequence) {
            return Err(format!(
                "the client of key {} got event {got} of key {key}, not event {sequence} of its own",
                client.key
            ));
        }
    }
    Ok(())
}

/// Runs it: a development registry, the instances listed in it, a client per key registered
/// where its key maps; a round of events; instance 0 leaves the list and exactly its keys
/// move; another round. `say` is told what happens.
pub async fn run(scenario: &Scenario, say: &mut impl FnMut(String)) -> Result<Outcome, String> {
    let started = Instant::now();
    let Scenario {
        instances: instance_count,
        keys,
        wait,
    } = scenario.clone();
    if instance_count < 2 || keys < 1 {
        return Err("at least two instances (one leaves the list) and one key".to_string());
    }
    let registry = DevRegistry::new();
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| format!("cannot bind: {error}"))?;
    let registry_port = listener
        .local_addr()
        .map_err(|error| format!("no address: {error}"))?
        .port();
    let registry_server = Server::builder()
        .servant(QUERY_OBJ, listener, registry.clone())
        .start()
        .await
        .map_err(|error| format!("cannot start the registry: {error}"))?;
    let locator = format!("tcp -h 127.0.0.1 -p {registry_port}");
    let instances = join_all((0..instance_count).map(|_| start_instance()))
        .await
        .into_iter()
        .collect::<Result<Vec<_>, String>>()?;
    for instance in &instances {
        registry.add(OBJECT, instance.endpoint.clone());
    }
    say(format!(
        "registry at 127.0.0.1:{registry_port} listing {OBJECT} at {instance_count} instances"
    ));

    let (moves_sender, mut moves) = mpsc::unbounded_channel();
    let mut clients = (0..keys)
        .map(|key| key_client(key, &locator, &moves_sender))
        .collect::<Result<Vec<_>, String>>()?;
    let homes = registrations(&mut moves, clients.len(), wait).await?;
    let keys_on: Vec<usize> = instances
        .iter()
        .map(|instance| {
            let port = instance.endpoint.port();
            homes.values().filter(|&&home| home == port).count()
        })
        .collect();
    for (number, (instance, &count)) in instances.iter().zip(&keys_on).enumerate() {
        let joined = instance.subscribers.keys().len();
        if joined != count {
            return Err(format!(
                "instance {number}: {joined} keys joined where {count} registered"
            ));
        }
    }
    say(format!(
        "{keys} clients, one per key, each registered where its key maps: keys per instance {keys_on:?}"
    ));

    let publisher_locator =
        Locator::new(&locator).map_err(|error| format!("bad locator: {error}"))?;
    let publisher_communicator = Communicator::builder().discovery(publisher_locator).build();
    let publisher: KeyedProxy = publisher_communicator
        .string_to_proxy(OBJECT)
        .map_err(|error| format!("bad proxy string: {error}"))?;
    publish_round(&publisher, &mut clients, 1, wait).await?;
    say("round 1: an event for each key, routed by the key's hash; each reached its key's client only".to_string());

    // instance 0 leaves the list: its keys move to the others, and the route watches say so
    let leaving = instances[0].endpoint.clone();
    registry.remove(OBJECT, leaving.clone());
    within(wait, "the publisher's lookup", publisher.refresh())
        .await?
        .map_err(|error| format!("the publisher's lookup: {error}"))?;
    let lookups = join_all(clients.iter().map(|client| client.proxy.refresh()));
    for looked_up in within(wait, "the clients' lookups", lookups).await? {
        looked_up.map_err(|error| format!("a client's lookup: {error}"))?;
    }
    let moved = registrations(&mut moves, keys_on[0], wait).await?;
    for (key, port) in &moved {
        if homes[key] != leaving.port() || *port == leaving.port() {
            return Err(format!(
                "key {key} moved from port {} to {port}: only the leaving instance's keys move, and away from it",
                homes[key]
            ));
        }
    }
    if let Ok(extra) = moves.try_recv() {
        return Err(format!("a key moved that should not have: {extra:?}"));
    }
    say(format!(
        "instance 0 left the registry's list: its {} keys, and only those, registered again on the others",
        moved.len()
    ));
    publish_round(&publisher, &mut clients, 2, wait).await?;
    say("round 2: every event again reached its key's client only".to_string());

    let shutdowns = clients.iter().map(|client| client.communicator.shutdown());
    within(wait, "the clients' shutdown", join_all(shutdowns)).await?;
    within(
        wait,
        "the publisher's shutdown",
        publisher_communicator.shutdown(),
    )
    .await?;
    for instance in instances {
        instance.server.shutdown().await;
    }
    registry_server.shutdown().await;
    Ok(Outcome {
        keys_on,
        moved: moved.len(),
        delivered: 2 * clients.len(),
        elapsed: started.elapsed(),
    })
}
