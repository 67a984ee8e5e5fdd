//! A connection's supervisor: a task per connection that runs the `on_connect` hooks once it
//! is made, keeps it alive in push mode (sending the keep-alive its wire gives: `tars_ping`
//! for TARS, the heartbeat a raw proxy is given), runs the `on_close` hooks once it closes
//! and, in push mode, connects to its endpoint again.
//!
//! The supervisor holds the object's [`ObjectShared`] (hooks, handler, config: nothing that
//! owns the object) and only weak references to the connection and its endpoint slot, so it
//! keeps neither the object nor the connection alive. It stops when the connection closes
//! (after reconnecting, in push mode, unless the endpoint left the object's list) or at once
//! when the object is dropped or the communicator shut down. A connection that closes on a
//! failure ([`CloseReason::is_failure`]) marks its endpoint down.

use std::sync::{Arc, Weak};
use std::time::Instant;

use tokio::time::sleep_until;
use tracing::{debug, warn};

use super::connection::{CloseReason, Connection, EndpointSlot, Shared};
use super::object::ObjectShared;
use super::wire::Wire;
use crate::error::{Error, Result};
use crate::packet::ReturnCode;
use crate::support::{catch_panic, catch_panic_async, log_join};

/// The open connection of `slot`, connecting first if there is none; a new connection gets
/// its supervisor, which runs the `on_connect` hooks.
pub(super) async fn connection<W: Wire>(
    slot: &Arc<EndpointSlot<W>>,
    object: &Arc<ObjectShared<W>>,
) -> Result<Arc<Connection<W>>> {
    let backoff = &object.config.failed_endpoint_backoff;
    let connected = slot
        .connection(backoff, |endpoint| async move {
            let pushes = object.push_route(&endpoint);
            let wire = object.wire.clone();
            Connection::open(&endpoint, &object.config, wire, pushes, &object.owner).await
        })
        .await;
    match connected {
        Ok((connection, made)) => {
            if made {
                spawn(&connection, slot, object);
            }
            Ok(connection)
        }
        Err(error) => {
            // in push mode an endpoint is kept connected: one down when first tried (by a
            // call, `connect()` or a refresh adding it) is tried again until it is up
            if object.push.push_mode() {
                spawn_reconnect(slot, object);
            }
            Err(error)
        }
    }
}

/// Starts a task that reconnects `slot` in push mode, unless one runs already. (A function of
/// its own, as [`spawn`] is: the task's future holds a `connection` future, which cannot be
/// checked to be `Send` inside `connection` itself.)
fn spawn_reconnect<W: Wire>(slot: &Arc<EndpointSlot<W>>, object: &Arc<ObjectShared<W>>) {
    let (slot, object) = (Arc::downgrade(slot), object.clone());
    let tasks = object.owner.tasks.clone();
    tasks.spawn(async move { reconnect_unless_running(&slot, &object).await });
}

/// Starts the supervisor of `connection`, just made through `slot`.
fn spawn<W: Wire>(
    connection: &Arc<Connection<W>>,
    slot: &Arc<EndpointSlot<W>>,
    object: &Arc<ObjectShared<W>>,
) {
    object.owner.tasks.spawn(supervise(
        Arc::downgrade(connection),
        connection.shared().clone(),
        Arc::downgrade(slot),
        object.clone(),
    ));
}

async fn supervise<W: Wire>(
    connection: Weak<Connection<W>>,
    shared: Arc<Shared<W>>,
    slot: Weak<EndpointSlot<W>>,
    object: Arc<ObjectShared<W>>,
) {
    if let Some(slot) = slot.upgrade() {
        run_connect_hooks(&object, &slot, &shared);
    } else {
        shared.hooks_done().cancel();
    }
    keep_alive(&connection, &shared, &object).await;
    drop(connection);
    // the connection takes no more calls: it closed, or the server asked to reconnect and it
    // closes once its calls in flight are done; reconnect now rather than then
    let backoff = object.config.reconnect_backoff;
    if shared.opened_at().elapsed() >= backoff.max {
        if let Some(slot) = slot.upgrade() {
            slot.reset_reconnect_delay();
        }
    }
    let report = async {
        shared.closed().cancelled().await;
        if shared.close_reason().is_failure() {
            if let Some(slot) = slot.upgrade() {
                slot.record_failure(&object.config.failed_endpoint_backoff);
            }
        }
        run_close_hooks(&object, &shared);
    };
    tokio::join!(report, reconnect_unless_running(&slot, &object));
}

/// Starts each `on_connect` hook on a task of its own, with a proxy pinned to the endpoint;
/// marks the hooks done on the connection once they all are. A hook still running when the
/// communicator shuts down is dropped.
fn run_connect_hooks<W: Wire>(
    object: &ObjectShared<W>,
    slot: &Arc<EndpointSlot<W>>,
    shared: &Shared<W>,
) {
    let endpoint = shared.endpoint();
    let tasks: Vec<_> = object
        .connect_hooks()
        .into_iter()
        // none if the object is being dropped
        .filter_map(|hook| hook(slot.clone()))
        .map(|hook| {
            let endpoint = endpoint.clone();
            let stop = object.shutdown.clone();
            object.owner.tasks.spawn(async move {
                tokio::select! {
                    () = stop.cancelled() => {}
                    hooked = catch_panic_async(hook) => if let Err(panic) = hooked {
                        warn!(%endpoint, panic, "an on_connect hook panicked");
                    },
                }
            })
        })
        .collect();
    let done = shared.hooks_done().clone();
    if tasks.is_empty() {
        done.cancel();
        return;
    }
    object.owner.tasks.spawn(async move {
        for task in tasks {
            log_join(task.await);
        }
        done.cancel();
    });
}

/// Runs the `on_close` hooks with the reason the connection closed.
fn run_close_hooks<W: Wire>(object: &ObjectShared<W>, shared: &Shared<W>) {
    let hooks = object.close_hooks();
    if hooks.is_empty() {
        return;
    }
    let reason = shared.close_reason();
    for hook in hooks {
        let endpoint = shared.endpoint().clone();
        let reason = reason.clone();
        if let Err(panic) = catch_panic(|| hook(endpoint, reason)) {
            warn!(
                endpoint = %shared.endpoint(),
                panic,
                "an on_close hook panicked"
            );
        }
    }
}

/// In push mode, sends the wire's keep-alive whenever the connection has sent nothing for the
/// keep-alive interval, and closes it if that fails. Returns once the connection is retired
/// or closed, or the object is dropped.
async fn keep_alive<W: Wire>(
    connection: &Weak<Connection<W>>,
    shared: &Shared<W>,
    object: &ObjectShared<W>,
) {
    let stop = async {
        tokio::select! {
            () = shared.retired().cancelled() => {}
            () = object.shutdown.cancelled() => {}
        }
    };
    tokio::pin!(stop);
    let interval = object.keepalive;
    if interval.is_zero() {
        return stop.await;
    }
    let mut checked = Instant::now();
    loop {
        let deadline = shared.last_sent().max(checked) + interval;
        tokio::select! {
            biased;
            () = &mut stop => return,
            () = sleep_until(deadline.into()) => {}
        }
        checked = Instant::now();
        if !object.push.push_mode() || shared.last_sent() + interval > checked {
            continue;
        }
        let Some(connection) = connection.upgrade() else {
            return;
        };
        let kept = tokio::select! {
            biased;
            () = object.shutdown.cancelled() => return,
            kept = connection.keep_alive(object.config.call_timeout) => kept,
        };
        if let Err(error) = kept {
            debug!(endpoint = %shared.endpoint(), %error, "keep-alive failed");
            let message = format!(
                "connection to {} closed: keep-alive failed: {}",
                shared.endpoint(),
                error.message()
            );
            shared.close(
                CloseReason::KeepAliveFailed(error.clone()),
                Error::with_source(ReturnCode::PROXY_CONNECT_ERR, message, error),
            );
        }
    }
}

/// [`reconnect`]s the endpoint of `slot` unless another task already does.
async fn reconnect_unless_running<W: Wire>(
    slot: &Weak<EndpointSlot<W>>,
    object: &Arc<ObjectShared<W>>,
) {
    let Some(claimed) = slot.upgrade().filter(|slot| slot.start_reconnecting()) else {
        return;
    };
    reconnect(slot, object).await;
    claimed.end_reconnecting();
}

/// In push mode, connects to the endpoint again, waiting longer after every attempt, until a
/// connection is made (by this or by a call), push mode ends or the object is dropped. The new
/// connection's supervisor runs the `on_connect` hooks.
async fn reconnect<W: Wire>(slot: &Weak<EndpointSlot<W>>, object: &Arc<ObjectShared<W>>) {
    let backoff = object.config.reconnect_backoff;
    loop {
        let delay = {
            if object.shutdown.is_cancelled() || !object.push.push_mode() {
                return;
            }
            let Some(slot) = slot.upgrade() else {
                return;
            };
            if slot.live().is_some() || slot.is_removed() {
                return;
            }
            slot.next_reconnect_delay(&backoff)
        };
        if !delay.is_zero() {
            tokio::select! {
                biased;
                () = object.shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            if !object.push.push_mode() {
                return;
            }
        }
        let Some(slot) = slot.upgrade() else {
            return;
        };
        let connected = tokio::select! {
            biased;
            () = object.shutdown.cancelled() => return,
            connected = connection(&slot, object) => connected,
        };
        match connected {
            Ok(_) => return,
            Err(error) => debug!(
                endpoint = %slot.endpoint(),
                %error,
                "reconnect failed; trying again"
            ),
        }
    }
}
