//! Keyed registration across instances (issue 11): 1,000 keys, one client each, every client
//! registering its key on the instance the key maps to ([`TypedProxy::on_route`] with
//! `with_key_hash`), a publisher sending each key's event to that same instance by the same
//! hash, and each instance pushing it to the key's subscribers only
//! ([`Subscribers::send_to`]). An event for a key reaches exactly that key's client, also
//! after an instance leaves the registry's list and its keys move to the others.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures::future::join_all;
use tars_rpc::client::{Communicator, RouteWatch, TypedProxy};
use tars_rpc::endpoint::Endpoint;
use tars_rpc::push::{PushStream, Subscribers};
use tars_rpc::registry::{DevRegistry, Locator, QUERY_OBJ};
use tars_rpc::server::Server;
use tars_rpc::{tars_interface, tars_push, Current};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const OBJECT: &str = "TestApp.KeyedServer.KeyedObj";
const KEYS: i64 = 1000;
const INSTANCES: usize = 3;

/// The longest any step may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

#[tars_interface]
trait Keyed {
    /// Pushes to the caller the events of `key` (until its connection closes).
    async fn register_key(&self, current: &Current, key: i64) -> tars_rpc::Result<i32>;

    /// Pushes event `sequence` of `key` to the key's subscribers here; returns how many
    /// connections it was queued on.
    async fn publish(&self, key: i64, sequence: i32) -> tars_rpc::Result<i32>;
}

// the clients read the events as values from a stream, so the trait itself goes unimplemented
#[allow(dead_code)]
#[tars_push]
trait KeyEvents {
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
        let frame = KeyEventsSender::event_frame(key, sequence);
        let report = self.subscribers.send_to(&key, &frame);
        Ok(i32::try_from(report.delivered).unwrap_or(i32::MAX))
    }
}

struct Instance {
    endpoint: Endpoint,
    subscribers: Subscribers<i64>,
    _server: Server,
}

async fn start_instance() -> Instance {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let subscribers = Subscribers::keyed();
    let server = Server::builder()
        .servant(
            OBJECT,
            listener,
            KeyedServant::new(KeyedImp {
                subscribers: subscribers.clone(),
            }),
        )
        .start()
        .await
        .unwrap();
    Instance {
        endpoint: Endpoint::new("127.0.0.1", port),
        subscribers,
        _server: server,
    }
}

/// A client of one key: its own communicator, its events, its route watch.
struct KeyClient {
    key: i64,
    communicator: Communicator,
    proxy: KeyedProxy,
    events: PushStream<tars_rpc::push::PushMessage>,
    _watch: RouteWatch,
}

/// Where each key's registration went, as the route watches report it.
type Moves = mpsc::UnboundedSender<(i64, u16)>;

async fn key_client(key: i64, locator: &str, moves: &Moves) -> KeyClient {
    let communicator = Communicator::builder()
        .discovery(Locator::new(locator).unwrap())
        .build();
    let proxy: KeyedProxy = communicator.string_to_proxy(OBJECT).unwrap();
    let events = proxy.push_stream();
    let moves = moves.clone();
    let watch = proxy
        .with_key_hash(key as u64)
        .on_route(move |pinned, endpoint| {
            let moves = moves.clone();
            async move {
                assert_eq!(pinned.register_key(key).await.unwrap(), 0);
                let _ = moves.send((key, endpoint.port()));
            }
        });
    KeyClient {
        key,
        communicator,
        proxy,
        events,
        _watch: watch,
    }
}

/// Waits for `count` registrations; returns where each key went.
async fn registrations(
    moves: &mut mpsc::UnboundedReceiver<(i64, u16)>,
    count: usize,
) -> HashMap<i64, u16> {
    let mut seen = HashMap::new();
    for _ in 0..count {
        let (key, port) = within(moves.recv()).await.expect("the watches run");
        seen.insert(key, port);
    }
    seen
}

/// Publishes event `sequence` of every key through `publisher` (routed by the key as the
/// clients are) and checks that each was queued on exactly one connection and reached its
/// key's client, and only it.
async fn publish_round(publisher: &KeyedProxy, clients: &mut [KeyClient], sequence: i32) {
    let delivered = join_all((0..KEYS).map(|key| async move {
        publisher
            .with_key_hash(key as u64)
            .publish(key, sequence)
            .await
            .unwrap()
    }))
    .await;
    for (key, delivered) in delivered.iter().enumerate() {
        assert_eq!(
            *delivered, 1,
            "event {sequence} of key {key} queued on one connection"
        );
    }
    for client in clients.iter_mut() {
        let push = within(client.events.recv())
            .await
            .expect("the push stream lives");
        let KeyEventsEvent::Event {
            key, sequence: got, ..
        } = <KeyEventsEvent as tars_rpc::push::FromPush>::decode(&push).unwrap();
        assert_eq!(
            (key, got),
            (client.key, sequence),
            "a client gets its own key's event"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_a_key_reaches_exactly_that_keys_client_also_after_an_instance_leaves() {
    let registry = DevRegistry::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let locator = format!(
        "tcp -h 127.0.0.1 -p {}",
        listener.local_addr().unwrap().port()
    );
    let _registry_server = Server::builder()
        .servant(QUERY_OBJ, listener, registry.clone())
        .start()
        .await
        .unwrap();
    let instances = join_all((0..INSTANCES).map(|_| start_instance())).await;
    for instance in &instances {
        registry.add(OBJECT, instance.endpoint.clone());
    }

    let (moves_sender, mut moves) = mpsc::unbounded_channel();
    let mut clients = join_all((0..KEYS).map(|key| key_client(key, &locator, &moves_sender))).await;
    let homes = registrations(&mut moves, KEYS as usize).await;
    let on_each: Vec<usize> = instances
        .iter()
        .map(|instance| {
            homes
                .values()
                .filter(|&&port| port == instance.endpoint.port())
                .count()
        })
        .collect();
    assert!(
        on_each.iter().all(|&keys| keys > KEYS as usize / 10),
        "keys spread: {on_each:?}"
    );
    for (instance, keys) in instances.iter().zip(&on_each) {
        assert_eq!(
            instance.subscribers.keys().len(),
            *keys,
            "each key registered where it maps"
        );
    }

    let publisher_communicator = Communicator::builder()
        .discovery(Locator::new(&locator).unwrap())
        .build();
    let publisher: KeyedProxy = publisher_communicator.string_to_proxy(OBJECT).unwrap();
    publish_round(&publisher, &mut clients, 1).await;

    // one instance leaves the list: its keys move to the others, and the clients say so
    let leaving = &instances[0];
    assert!(registry.remove(OBJECT, leaving.endpoint.clone()));
    within(publisher.refresh()).await.unwrap();
    within(join_all(
        clients.iter().map(|client| client.proxy.refresh()),
    ))
    .await;
    let moved = registrations(&mut moves, on_each[0]).await;
    assert!(moved.values().all(|&port| port != leaving.endpoint.port()));
    for (key, port) in &moved {
        assert_eq!(
            homes[key],
            leaving.endpoint.port(),
            "only the leaving instance's keys move"
        );
        assert_ne!(*port, leaving.endpoint.port());
    }
    assert!(moves.try_recv().is_err(), "no other key moved");
    publish_round(&publisher, &mut clients, 2).await;

    let shutdowns = clients.iter().map(|client| client.communicator.shutdown());
    within(join_all(shutdowns)).await;
    within(publisher_communicator.shutdown()).await;
}
