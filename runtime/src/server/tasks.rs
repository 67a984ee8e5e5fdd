//! Who owns the server's tasks, and the signals they watch.
//!
//! Every task the server spawns has an owner that stops it when dropped, so that dropping a
//! [`Server`](super::Server) stops everything it started:
//!
//! * the [`Server`](super::Server) owns its shutdown task ([`OwnedTask`], aborted when dropped);
//! * the shutdown task owns the accept loops (a [`JoinSet`](tokio::task::JoinSet));
//! * each accept loop owns its connections' tasks (a `JoinSet`), and closes its listener before
//!   it lets them go;
//! * each connection's task owns its writer ([`OwnedTask`]), its requests' handlers and its
//!   servants' `on_connection_closed` calls (`JoinSet`s).
//!
//! A task dropped by its owner drops its own: dropping the `Server` aborts its shutdown task,
//! whose accept loops are aborted in turn, and so on down to the handlers. A connection's close
//! callbacks ([`Current::on_close`](super::Current::on_close)) still run then.
//!
//! The graceful shutdown goes the other way: the [`Signals`] tell every task to wind down, and
//! each owner waits for its tasks to end.

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

/// The server-wide shutdown tokens every task watches.
#[derive(Debug, Clone, Default)]
pub(super) struct Signals {
    /// Graceful shutdown: stop accepting and reading, finish what runs.
    pub(super) shutdown: CancellationToken,
    /// The shutdown timeout ran out: cancel the handlers, drop the connections.
    pub(super) force: CancellationToken,
}

/// A spawned task, aborted when this is dropped (a `JoinHandle` would let it run on). Awaiting
/// it waits for the task to end.
pub(super) type OwnedTask<T> = AbortOnDropHandle<T>;

/// Spawns `task` on the current tokio runtime, owned by the handle returned.
pub(super) fn spawn_owned<T: Send + 'static>(
    task: impl Future<Output = T> + Send + 'static,
) -> OwnedTask<T> {
    AbortOnDropHandle::new(tokio::spawn(task))
}
