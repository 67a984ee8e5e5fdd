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
use std::task::Poll;

use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::support::catch_panic;

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

/// Runs a request's handler here, in the connection's task, as far as it goes without
/// waiting; only a handler that has to wait (for its servant, or for room in the outgoing
/// queue) is moved to a task of its own, owned by `requests`.
///
/// Most handlers finish in one poll: TarsCpp's async proxy sends thousands of such requests
/// before it reads a reply, and a task per request cost a task allocation, an entry in the
/// set, and a wake-up of another worker thread for each. Run here, their replies are queued in
/// order and the writer is woken once for the lot.
///
/// The first poll is made with a waker that does nothing: a handler that is not finished is
/// spawned, which polls it again at once with its task's waker. A panic (the handlers catch
/// the servants' own) is logged and ends that request alone, as it would in a task.
pub(super) fn run_or_spawn(
    requests: &mut tokio::task::JoinSet<()>,
    handler: impl Future<Output = ()> + Send + 'static,
) {
    let mut handler = Box::pin(handler);
    let mut first_poll = std::task::Context::from_waker(futures::task::noop_waker_ref());
    match catch_panic(|| handler.as_mut().poll(&mut first_poll)) {
        Ok(Poll::Ready(())) => {}
        Ok(Poll::Pending) => {
            requests.spawn(handler);
        }
        Err(panic) => tracing::error!(panic, "a request's handler panicked"),
    }
}
