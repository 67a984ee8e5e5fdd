//! Register everywhere (issue 11): three instances of one object, 300 clients (a communicator
//! each, so connections of their own) registered with every instance by an `on_connect` hook.
//! Every event published on any instance reaches every client once, each instance's in order;
//! one instance is killed and restarted on its port, the clients reconnect and register again
//! by themselves, and every event published afterwards reaches every client once too. With the
//! endpoints named in the proxy string, and through the development registry.
//!
//! The scenario is `examples/support/cluster.rs`, which `examples/push_cluster.rs` runs too;
//! every wait in it is bounded by `WAIT`, none is a fixed sleep.

use std::time::Duration;

#[path = "../examples/support/cluster.rs"]
mod cluster;

use cluster::{Outcome, Scenario};

const INSTANCES: usize = 3;
const CLIENTS: usize = 300;
const EVENTS: usize = 20;
const WAIT: Duration = Duration::from_secs(15);

async fn run(registry: bool, let_go: bool) -> Outcome {
    let scenario = Scenario {
        instances: INSTANCES,
        clients: CLIENTS,
        events: EVENTS,
        registry,
        let_go,
        wait: WAIT,
    };
    let mut log = Vec::new();
    let outcome = cluster::run(&scenario, &mut |line| log.push(line)).await;
    let outcome =
        outcome.unwrap_or_else(|error| panic!("{error}\nwhat happened:\n{}", log.join("\n")));
    println!("{}", log.join("\n"));
    outcome
}

/// What either way must give: every event of three rounds (instance 0 down for the second)
/// received by every client once, and the hooks registering once with each instance per
/// connection: once more with the restarted instance, never again with the others.
fn check(outcome: &Outcome) {
    let events = i64::try_from(EVENTS).unwrap();
    assert_eq!(outcome.published, [2 * events, 3 * events, 3 * events]);
    assert_eq!(outcome.pushes, CLIENTS * EVENTS * 8);
    assert_eq!(outcome.registrations, [2 * CLIENTS, CLIENTS, CLIENTS]);
    assert!(
        outcome.elapsed < Duration::from_secs(30),
        "took {:?}",
        outcome.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_every_client_once_across_a_restart_with_named_endpoints() {
    check(&run(false, false).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_every_client_once_across_a_restart_through_the_registry() {
    check(&run(true, false).await);
}

/// The registry's way back: every client looks the object up while instance 0 is down and
/// lets go of it (no connection, no reconnecting); after the restart, the clients' background
/// refresh (every 5 s) finds it listed again, connects, and the hook registers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_let_go_of_a_stopped_instance_register_again_when_the_registry_lists_it() {
    let outcome = run(true, true).await;
    check(&outcome);
    assert!(
        outcome.reregistered_in < WAIT,
        "{:?}",
        outcome.reregistered_in
    );
}

/// An instance down when the clients start: `connect()` succeeds with the others, and the
/// clients keep trying the missing one in push mode, registering with it once it is up (an
/// endpoint whose first connect fails, from `connect()`, a call or a refresh adding it, is
/// reconnected with backoff as a lost connection is).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_down_when_the_clients_start_is_registered_with_once_it_is_up() {
    const FEW: usize = 50;
    let mut instances = cluster::start_instances(INSTANCES, None).await.unwrap();
    let target = cluster::Target::Endpoints(cluster::proxy_string(&instances));
    instances[0].kill();
    let clients = cluster::Clients::connect(FEW, &target, || {
        tars_rpc::client::Communicator::builder()
            .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
    })
    .await
    .unwrap();
    for instance in &instances[1..] {
        instance.wait_subscribers(FEW, WAIT).await.unwrap();
    }
    instances[0].restart(None, WAIT).await.unwrap();
    instances[0].wait_subscribers(FEW, WAIT).await.unwrap();
    clients
        .wait_registrations(&instances[0].endpoint(), FEW, WAIT)
        .await
        .unwrap();
    for instance in &mut instances {
        instance.publish(EVENTS, FEW).await.unwrap();
        instance.registered_once().unwrap();
    }
    clients
        .wait_pushes(FEW * EVENTS * INSTANCES, WAIT)
        .await
        .unwrap();
    let events = i64::try_from(EVENTS).unwrap();
    clients.check(&[events; INSTANCES]).unwrap();
    clients.shutdown().await;
}

/// An instance that leaves the registry's list while it runs loses its clients (their
/// connections to it close once a lookup no longer finds it), and gets them back, registering
/// again by themselves, once their background refresh finds it listed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_let_go_of_an_instance_that_leaves_the_list_and_register_when_it_returns() {
    const FEW: usize = 50;
    let registry = cluster::Registry::start().await.unwrap();
    let locator = registry.locator().to_string();
    let mut instances = cluster::start_instances(INSTANCES, Some(&locator))
        .await
        .unwrap();
    let target = cluster::Target::Registry(locator.clone());
    let clients = cluster::Clients::connect(FEW, &target, || {
        tars_rpc::client::Communicator::builder()
            .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
            .refresh_interval(Duration::from_secs(5))
    })
    .await
    .unwrap();
    for instance in &instances {
        instance.wait_subscribers(FEW, WAIT).await.unwrap();
    }
    let leaving = instances[2].endpoint();

    instances[2].unregister().await.unwrap();
    // a lookup, as the background refresh makes: instance 2 is no longer listed
    clients.refresh().await.unwrap();
    assert_eq!(clients.listing(&leaving), 0);
    instances[2].wait_no_subscribers(WAIT).await.unwrap();
    for instance in &mut instances[..2] {
        instance.publish(EVENTS, FEW).await.unwrap();
    }
    instances[2].publish(EVENTS, 0).await.unwrap(); // to nobody
    clients.wait_pushes(FEW * EVENTS * 2, WAIT).await.unwrap();

    // listed again: the next background refresh connects, and the hook registers
    instances[2].register(&locator).await.unwrap();
    instances[2].wait_subscribers(FEW, WAIT).await.unwrap();
    clients
        .wait_registrations(&leaving, 2 * FEW, WAIT)
        .await
        .unwrap();
    for instance in &mut instances {
        instance.publish(EVENTS, FEW).await.unwrap();
        instance.registered_once().unwrap();
    }
    clients.wait_pushes(FEW * EVENTS * 5, WAIT).await.unwrap();
    assert_eq!(clients.pushes(), FEW * EVENTS * 5);
    let events = i64::try_from(EVENTS).unwrap();
    // instance 2's first events went to nobody: each client has the last ones only
    clients
        .check_from(&[(0, 2 * events), (0, 2 * events), (events, 2 * events)])
        .unwrap();
    clients.shutdown().await;
    registry.shutdown().await;
}
