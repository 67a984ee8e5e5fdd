//! Keyed registration across instances (issue 11), the scenario of
//! `examples/push_cluster.rs -- --keyed`: 1,000 keys over three instances behind the
//! development registry, one client per key registered where its key maps, an event for a
//! key reaching exactly that key's client, also after an instance leaves the list and exactly
//! its keys move. Every wait is bounded.

use std::time::Duration;

#[path = "../examples/support/keyed.rs"]
mod keyed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_a_key_reaches_exactly_that_keys_client_also_after_an_instance_leaves() {
    let scenario = keyed::Scenario {
        instances: 3,
        keys: 1000,
        wait: Duration::from_secs(20),
    };
    let mut said = Vec::new();
    let outcome = keyed::run(&scenario, &mut |line| said.push(line))
        .await
        .unwrap_or_else(|error| panic!("{error}\nwhat happened before:\n{}", said.join("\n")));
    assert_eq!(outcome.keys_on.iter().sum::<usize>(), 1000);
    assert!(
        outcome.keys_on.iter().all(|&keys| keys > 100),
        "keys spread over the instances: {:?}",
        outcome.keys_on
    );
    assert_eq!(
        outcome.moved, outcome.keys_on[0],
        "exactly instance 0's keys moved"
    );
    assert_eq!(outcome.delivered, 2000);
}
