//! Push across server instances: TarsCpp's push-callback demo leaves it to the reader that a
//! service runs several instances and `registerPush` reaches only the one round robin picks.
//! Here every client registers with every instance, from an `on_connect` hook that runs on
//! each connection made (the first, every reconnect, every endpoint the registry adds), so that
//! an event on any instance reaches every client once, also after an instance restarts.
//!
//! ```text
//! cargo run --example push_cluster                       # 3 instances, 20 clients, both ways
//! cargo run --example push_cluster -- --clients 300 --events 20 --mode registry
//! cargo run --example push_cluster -- --mode registry --let-go  # back through the registry's list
//! cargo run --example push_cluster -- --keyed            # 1000 keys, each on the instance it maps to
//! ```
//!
//! In one process: the instances (`TestApp.PushServer.PushObj` on free ports of 127.0.0.1),
//! with `--mode registry` a development registry they register with, and the clients, each
//! with a communicator (connections) of its own. Each instance publishes numbered events; the
//! run checks that every client received every event once, each instance's in order, kills
//! instance 0 (stops it, with the registry), lets the others publish, restarts it on its port,
//! waits until every client has registered with it again by itself, and checks a last round.
//! With `--let-go`, the clients look the object up while instance 0 is down, so that they let
//! go of it, and get it back when their background refresh (every 5 s) finds it listed again.
//! It exits with 0 when every check passed.
//!
//! With `--keyed`, registration by key instead: one client per key (`--clients` keys, 1000 by
//! default), each registering its key on the instance the key's hash maps to
//! (`with_key_hash(key).on_route(..)`), which runs again wherever the key moves; a publisher
//! routes each key's event by the same hash, and the instance pushes it to that key's
//! subscribers only (`Subscribers::send_to`). Instance 0 then leaves the registry's list:
//! exactly its keys move, and every event still reaches its key's client only.

use std::process::ExitCode;
use std::time::Duration;

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/keyed.rs"]
mod keyed;

use cluster::Scenario;

const USAGE: &str = "usage: push_cluster [--instances N] [--clients N] [--events N] [--mode endpoints|registry|both] [--let-go] [--keyed] [--wait-ms N]";

struct Options {
    scenario: Scenario,
    modes: Vec<bool>,
    keyed: bool,
    /// Whether `--clients` was given: `--keyed` has a default of its own.
    clients_given: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        scenario: Scenario {
            instances: 3,
            clients: 20,
            events: 5,
            registry: false,
            let_go: false,
            wait: Duration::from_secs(15),
        },
        modes: vec![false, true],
        keyed: false,
        clients_given: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        let number = |text: String| {
            text.parse::<usize>()
                .map_err(|_| format!("{flag} takes a number\n{USAGE}"))
        };
        match flag.as_str() {
            "--instances" => options.scenario.instances = number(value()?)?,
            "--clients" => {
                options.scenario.clients = number(value()?)?;
                options.clients_given = true;
            }
            "--events" => options.scenario.events = number(value()?)?,
            "--wait-ms" => {
                options.scenario.wait = Duration::from_millis(number(value()?)? as u64);
            }
            "--mode" => {
                options.modes = match value()?.as_str() {
                    "endpoints" => vec![false],
                    "registry" => vec![true],
                    "both" => vec![false, true],
                    other => return Err(format!("unknown mode `{other}`\n{USAGE}")),
                }
            }
            // with the registry: the clients look up while instance 0 is down, let go of it,
            // and find it again by their background refresh (every 5 s)
            "--let-go" => options.scenario.let_go = true,
            "--keyed" => options.keyed = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if options.scenario.instances == 0 || options.scenario.clients == 0 {
        return Err(format!("at least one instance and one client\n{USAGE}"));
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    // a usage error exits with 2, as the other examples do
    let options = parse_args().unwrap_or_else(|message| {
        eprintln!("{message}");
        std::process::exit(2)
    });
    if options.keyed {
        return run_keyed(&options).await;
    }
    for registry in options.modes {
        let scenario = Scenario {
            registry,
            ..options.scenario.clone()
        };
        println!(
            "== {} instances, {} clients, {} events per instance and round, {}",
            scenario.instances,
            scenario.clients,
            scenario.events,
            if registry {
                "found through the development registry"
            } else {
                "endpoints named in the proxy string"
            }
        );
        match cluster::run(&scenario, &mut |line| println!("{line}")).await {
            Ok(outcome) => println!(
                "ok: {} pushes, each received once; instance 0 had every client back {} ms after its restart; {} ms in all",
                outcome.pushes,
                outcome.reregistered_in.as_millis(),
                outcome.elapsed.as_millis()
            ),
            Err(error) => {
                eprintln!("FAILED: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

async fn run_keyed(options: &Options) -> ExitCode {
    let scenario = keyed::Scenario {
        instances: options.scenario.instances,
        keys: match options.clients_given {
            true => options.scenario.clients as i64,
            false => 1000,
        },
        wait: options.scenario.wait,
    };
    println!(
        "== {} instances behind the development registry, {} keys with a client each",
        scenario.instances, scenario.keys
    );
    match keyed::run(&scenario, &mut |line| println!("{line}")).await {
        Ok(outcome) => {
            println!(
                "ok: {} events, each to exactly its key's client; {} keys moved with instance 0; {} ms in all",
                outcome.delivered,
                outcome.moved,
                outcome.elapsed.as_millis()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("FAILED: {error}");
            ExitCode::FAILURE
        }
    }
}
