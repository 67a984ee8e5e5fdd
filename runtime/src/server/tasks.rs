//! Who owns the server's tasks, and the signals they watch.
//!
//! Every task the server spawns has an owner that stops it when dropped, so that dropping a
//! [`Server`](super::Server) stops everything it started:
//!
//! * the [`Server`](super::Server) owns its shutdown task ([`OwnedTask`]);
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
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;

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
#[derive(Debug)]
pub(super) struct OwnedTask<T>(JoinHandle<T>);

impl<T: Send + 'static> OwnedTask<T> {
    /// Spawns `task` on the current tokio runtime.
    pub(super) fn spawn(task: impl Future<Output = T> + Send + 'static) -> Self {
        Self(tokio::spawn(task))
    }
}

impl<T> Future for OwnedTask<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for OwnedTask<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
