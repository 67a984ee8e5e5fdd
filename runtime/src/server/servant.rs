//! [`Servant`]: what the server dispatches a servant's requests to.

use bytes::Bytes;
use futures::future::BoxFuture;

use super::Current;
use crate::error::Result;
use crate::support::catch_panic_async;

/// A servant: decodes a request's parameters, runs the function, and encodes the reply's
/// `sBuffer` (the return value at tag 0, the out-parameters at their tags).
///
/// `#[tars_interface]` implements it for `{Trait}Servant<T>`; implement it by hand to serve
/// requests without a trait, e.g. as a gateway.
///
/// A request's handler starts in its connection's task and runs there until it first has to
/// wait; only then does it become a task of its own, and the connection reads on. A handler
/// that finishes at once (most do) costs no task. Long synchronous work inside a handler
/// therefore holds up its connection's next requests (as a busy handle thread does in
/// TarsCpp): move it to `tokio::task::spawn_blocking` and await that.
///
/// An `Err` becomes the reply's `iRet` and `sResultDesc`: return
/// [`ReturnCode::SERVER_NO_FUNC`](crate::packet::ReturnCode::SERVER_NO_FUNC) for an unknown
/// function and [`ReturnCode::SERVER_DECODE_ERR`](crate::packet::ReturnCode::SERVER_DECODE_ERR)
/// for parameters that do not decode.
///
/// ```
/// use bytes::Bytes;
/// use futures::future::BoxFuture;
/// use tars_rpc::server::{Current, Servant};
///
/// /// Answers every function with an empty buffer.
/// struct Echo;
///
/// impl Servant for Echo {
///     fn dispatch<'a>(&'a self, _current: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
///         Box::pin(async move { Ok(params) })
///     }
/// }
/// ```
pub trait Servant: Send + Sync + 'static {
    /// Handles one request whose parameters (`sBuffer`) are `params`.
    fn dispatch<'a>(&'a self, current: &'a Current, params: Bytes) -> BoxFuture<'a, Result<Bytes>>;

    /// Called once the connection of `current` has closed (TarsCpp's `doClose`); the default
    /// does nothing.
    ///
    /// It is called once per servant per connection that carried at least one request
    /// dispatched to this servant (a `tars_ping` is not), with the [`Current`] of the last such
    /// request, in a task of its own started after the connection closed (and after the
    /// [`Current::on_close`] callbacks have run). A panic is caught and logged. The server's
    /// graceful shutdown waits for these calls, within its
    /// [shutdown timeout](crate::server::ServerBuilder::shutdown_timeout). The server owns
    /// them as it owns its other tasks: a call still running when the timeout runs out, or when
    /// the [`Server`](crate::server::Server) is dropped, is cancelled (dropped at its next
    /// `.await`), and one that would start only then runs up to its first `.await` that waits.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::sync::Mutex;
    /// use bytes::Bytes;
    /// use futures::future::BoxFuture;
    /// use tars_rpc::server::{Current, Servant};
    ///
    /// /// Remembers each client's name until its connection closes.
    /// #[derive(Default)]
    /// struct Names {
    ///     by_connection: Mutex<HashMap<u64, String>>,
    /// }
    ///
    /// impl Servant for Names {
    ///     fn dispatch<'a>(&'a self, current: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    ///         Box::pin(async move {
    ///             let name = String::from_utf8_lossy(&params).into_owned();
    ///             self.by_connection.lock().unwrap().insert(current.connection_id(), name);
    ///             Ok(Bytes::new())
    ///         })
    ///     }
    ///
    ///     fn on_connection_closed<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, ()> {
    ///         Box::pin(async move {
    ///             self.by_connection.lock().unwrap().remove(&current.connection_id());
    ///         })
    ///     }
    /// }
    /// ```
    fn on_connection_closed<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, ()> {
        let _ = current;
        Box::pin(std::future::ready(()))
    }
}

impl<S: Servant + ?Sized> Servant for std::sync::Arc<S> {
    fn dispatch<'a>(&'a self, current: &'a Current, params: Bytes) -> BoxFuture<'a, Result<Bytes>> {
        (**self).dispatch(current, params)
    }

    fn on_connection_closed<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, ()> {
        (**self).on_connection_closed(current)
    }
}

/// Runs a servant's connection-closed hook for `current`, catching and logging a panic.
pub(super) async fn run_close_hook(current: &Current, hook: impl std::future::Future<Output = ()>) {
    if let Err(panic) = catch_panic_async(hook).await {
        tracing::error!(
            connection = current.connection_id(),
            peer = %current.peer_addr(),
            servant = current.servant_name(),
            panic,
            "on_connection_closed panicked"
        );
    }
}
