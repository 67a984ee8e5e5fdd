//! Long-held replies (brpc's "remote event"): 1000 long-polls held at once over 1000
//! connections, one event releases them all with its payload, clients that disconnect
//! mid-wait free what their held handler held, and the heap returns to its starting level.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::server::Server;
use tokio::sync::watch;
use tokio::time::{sleep, timeout, Instant};

/// Live heap bytes of the whole process.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_pointer = unsafe { System.realloc(pointer, layout, new_size) };
        if !new_pointer.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new_pointer
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

const SERVANT: &str = "Test.EventServer.EventObj";

#[path = "../examples/support/events.rs"]
mod events;

use events::{EventsImp, EventsProxy, EventsServant};

async fn eventually(what: &str, limit: Duration, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

/// Holds `clients` long-polls (a connection each) for an event after `last_seen`, lets `leaving`
/// of them disconnect mid-wait, fires one event and checks every remaining poll got it; drops
/// everything at the end. Returns the event's sequence number.
async fn round(
    address: &str,
    held: &Arc<AtomicUsize>,
    last_seen: i64,
    clients: usize,
    leaving: usize,
    payload: &str,
) -> i64 {
    let mut polls = Vec::with_capacity(clients);
    for _ in 0..clients {
        let proxy: EventsProxy = Communicator::new().string_to_proxy(address).unwrap();
        // a long per-call timeout: the reply may be held for a long time
        let proxy = proxy.with_timeout(Duration::from_secs(600));
        polls.push(tokio::spawn(
            async move { proxy.wait_event(last_seen).await },
        ));
    }
    eventually("every poll to be held", Duration::from_secs(60), || {
        held.load(Ordering::SeqCst) == clients
    })
    .await;

    // dropping a poll's task drops its proxy, the last handle: the connection closes and the
    // server's held handler sees `closed()` and ends
    for poll in polls.drain(..leaving) {
        poll.abort();
    }
    eventually(
        "departed clients' polls to end",
        Duration::from_secs(30),
        || held.load(Ordering::SeqCst) == clients - leaving,
    )
    .await;

    let fire: EventsProxy = Communicator::new().string_to_proxy(address).unwrap();
    let sequence = timeout(Duration::from_secs(10), fire.fire(payload.to_string()))
        .await
        .unwrap()
        .unwrap();
    for poll in polls {
        let (seen, received) = timeout(Duration::from_secs(30), poll)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!((seen, received.as_str()), (sequence, payload));
    }
    eventually(
        "the server to let go of every poll",
        Duration::from_secs(30),
        || held.load(Ordering::SeqCst) == 0,
    )
    .await;
    sequence
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_long_polls_are_released_by_one_event_and_leave_nothing_behind() {
    let held = Arc::new(AtomicUsize::new(0));
    let (latest, _) = watch::channel((0, String::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::builder()
        .servant(
            SERVANT,
            listener,
            EventsServant::new(EventsImp {
                latest,
                held: Arc::clone(&held),
            }),
        )
        // a client that closes its connection may only have stopped sending: its running
        // requests get this long to answer before the connection closes under them
        .shutdown_timeout(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let port = server.local_addr(SERVANT).unwrap().port();
    let address = format!("{SERVANT}@tcp -h 127.0.0.1 -p {port}");

    // a small round first, so that what is allocated once (runtime, timers) is in the baseline
    let warm_up = round(&address, &held, 0, 20, 5, "warm-up").await;
    sleep(Duration::from_millis(200)).await;
    let baseline = live_bytes();

    round(&address, &held, warm_up, 1000, 100, "the event").await;
    let peak_note = live_bytes() - baseline;

    // connections wind down asynchronously once their last handles are gone
    // a leak of 64 bytes per connection would show
    let limit = baseline + 64 * 1024;
    let deadline = Instant::now() + Duration::from_secs(20);
    while live_bytes() > limit && Instant::now() < deadline {
        sleep(Duration::from_millis(50)).await;
    }
    let after = live_bytes();
    eprintln!(
        "heap: {} bytes above the baseline right after 1000 long-polls, {} once their connections closed",
        peak_note,
        after - baseline
    );
    assert!(
        after <= limit,
        "heap after 1000 long-polls: {} bytes above the baseline ({} above right after the round)",
        after - baseline,
        peak_note
    );
    server.shutdown().await;
}
