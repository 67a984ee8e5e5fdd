//! Long-held replies, brpc's "remote event": a client's call registers interest in an event,
//! and the server holds the reply until the event fires. No thread is blocked while it waits;
//! when the client goes away, the held handler learns of it (`Current::closed()`, within the
//! server's shutdown timeout) and ends, freeing what it held.
//!
//! ```text
//! cargo run --release --example long_poll -- [--clients 1000] [--payload "event payload"]
//! ```
//!
//! It starts a server, opens `--clients` connections (a communicator each), holds one long-poll
//! on each, lets a tenth of the clients disconnect mid-wait, fires one event, and prints how many
//! polls it released, how long that took, and the process's memory before, during and after.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::server::Server;

use tokio::net::TcpListener;
use tokio::sync::watch;

const SERVANT: &str = "Test.EventServer.EventObj";

#[path = "support/events.rs"]
mod events;

use events::{EventsImp, EventsProxy, EventsServant};

fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn memory() -> String {
    resident_kib().map_or_else(
        || "n/a".to_string(),
        |kib| format!("{:.1} MiB RSS", kib as f64 / 1024.0),
    )
}

async fn wait_until(
    what: &str,
    timeout: Duration,
    condition: impl Fn() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while !condition() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

async fn run(clients: usize, payload: String) -> Result<(), String> {
    let held = Arc::new(AtomicUsize::new(0));
    let servant = EventsServant::new(EventsImp {
        latest: watch::channel((0, String::new())).0,
        held: Arc::clone(&held),
    });
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| format!("cannot listen: {error}"))?;
    let server = Server::builder()
        .servant(SERVANT, listener, servant)
        // when a client closes its connection the server cannot tell whether it went away or
        // only stopped sending, so its running requests get this long to answer (default 10 s)
        // before the connection closes under them and `Current::closed()` resolves
        .shutdown_timeout(Duration::from_secs(1))
        .start()
        .await
        .map_err(|error| format!("cannot start the server: {error}"))?;
    let port = server
        .local_addr(SERVANT)
        .map(|address| address.port())
        .unwrap_or_default();
    let address = format!("{SERVANT}@tcp -h 127.0.0.1 -p {port}");
    println!("before: {}", memory());

    // one communicator, so one connection, per client; each call may wait up to an hour
    let mut polls = Vec::with_capacity(clients);
    for _ in 0..clients {
        let proxy: EventsProxy = Communicator::new()
            .string_to_proxy(&address)
            .map_err(|error| error.to_string())?;
        let proxy = proxy.with_timeout(Duration::from_secs(3600));
        polls.push(tokio::spawn(async move { proxy.wait_event(0).await }));
    }
    wait_until("every poll to be held", Duration::from_secs(60), || {
        held.load(Ordering::SeqCst) == clients
    })
    .await?;
    println!(
        "holding {clients} long-polls on {clients} connections: {}",
        memory()
    );

    // a tenth of the clients go away mid-wait: their held handlers end
    let leaving = clients / 10;
    for poll in polls.drain(..leaving) {
        poll.abort();
    }
    let staying = clients - leaving;
    wait_until(
        "the departed clients' polls to end",
        Duration::from_secs(30),
        || held.load(Ordering::SeqCst) == staying,
    )
    .await?;
    println!("{leaving} clients disconnected; {staying} polls still held");

    let fire: EventsProxy = Communicator::new()
        .string_to_proxy(&address)
        .map_err(|error| error.to_string())?;
    let started = Instant::now();
    let sequence = fire
        .fire(payload.clone())
        .await
        .map_err(|error| error.to_string())?;
    let mut released = 0;
    for poll in polls {
        match poll.await {
            Ok(Ok((seen, received))) if seen == sequence && received == payload => released += 1,
            other => return Err(format!("a poll ended unexpectedly: {other:?}")),
        }
    }
    println!(
        "one event released {released} polls in {:.1} ms, each with the payload {payload:?}",
        started.elapsed().as_secs_f64() * 1000.0
    );
    drop(fire);
    wait_until(
        "the server to let go of every poll",
        Duration::from_secs(30),
        || held.load(Ordering::SeqCst) == 0,
    )
    .await?;
    server.shutdown().await;
    println!("after: {}", memory());
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut clients = 1000;
    let mut payload = "event payload".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--clients", Some(value)) if value.parse::<usize>().is_ok_and(|n| n > 0) => {
                clients = value.parse().unwrap_or(clients);
            }
            ("--payload", Some(value)) => payload = value,
            _ => {
                eprintln!("usage: long_poll [--clients N] [--payload TEXT]");
                return ExitCode::from(2);
            }
        }
    }
    match run(clients, payload).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
