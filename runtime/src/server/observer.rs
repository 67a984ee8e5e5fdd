//! [`CallObserver`]: a hook told of every request a TARS servant finished, for statistics
//! (TarsCpp's server-side `StatReport`) without the server knowing who collects them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use super::servant::Servant;
use super::Current;
use crate::error::Result;
use crate::packet::ReturnCode;
use crate::support::catch_panic;

/// Told of every request a TARS servant of the server finished, once per request: what
/// [`ServerBuilder::call_observer`](super::ServerBuilder::call_observer) installs, e.g. the
/// stat reporter of `tars_rpc::stat`.
///
/// It runs on the request's task right after the handler returns, before the reply is queued,
/// so it must be quick and must not block: count, and send elsewhere later. A panic in it is
/// caught and logged; the reply goes out all the same.
///
/// Not told of: `tars_ping`, requests the server answers itself (unknown servant, protocol
/// version, a request that waited past its queue timeout and never ran), nor requests of raw
/// servants. A server without an observer pays nothing for the hook: no wrapper is installed.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tars_rpc::server::{CallObserver, CallRecord, Server};
///
/// /// Counts failed calls.
/// #[derive(Default)]
/// struct Failures(AtomicU64);
///
/// impl CallObserver for Failures {
///     fn on_call(&self, call: &CallRecord<'_>) {
///         if !call.code().is_success() {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// let builder = Server::builder().call_observer(Failures::default());
/// ```
pub trait CallObserver: Send + Sync + 'static {
    /// Called once per finished request, with what is known of it.
    fn on_call(&self, call: &CallRecord<'_>);
}

impl<O: CallObserver + ?Sized> CallObserver for Arc<O> {
    fn on_call(&self, call: &CallRecord<'_>) {
        (**self).on_call(call);
    }
}

/// One finished request, as a [`CallObserver`] sees it: borrowed from the request, so that
/// telling the observer allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct CallRecord<'a> {
    current: &'a Current,
    code: ReturnCode,
    elapsed: Duration,
}

impl<'a> CallRecord<'a> {
    /// The request's [`Current`], for anything the other accessors do not give (its context,
    /// the connection, the local address).
    pub fn current(&self) -> &'a Current {
        self.current
    }

    /// The servant's name, `App.Server.Obj`.
    pub fn servant(&self) -> &'a str {
        self.current.servant_name()
    }

    /// The function called.
    pub fn function(&self) -> &'a str {
        self.current.func_name()
    }

    /// The caller's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.current.peer_addr()
    }

    /// The reply's code: [`ReturnCode::SUCCESS`], the handler's error code, or
    /// [`ReturnCode::SERVER_UNKNOWN_ERR`] for a handler that panicked.
    pub fn code(&self) -> ReturnCode {
        self.code
    }

    /// The time from when the request was read in full to when its handler returned (queueing
    /// included, as TarsCpp measures it from the receive time).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Whether the request took longer than its own timeout (the `iTimeout` the client sent):
    /// the caller gave up on it before the reply could come.
    pub fn timed_out(&self) -> bool {
        self.current
            .timeout()
            .is_some_and(|timeout| self.elapsed > timeout)
    }

    /// Whether the request was one-way (no reply is sent).
    pub fn is_oneway(&self) -> bool {
        self.current.is_oneway()
    }
}

/// A TARS servant whose every finished request is told to an observer: how
/// [`ServerBuilder::call_observer`](super::ServerBuilder::call_observer) hooks the dispatch
/// path, wrapping each servant at start.
pub(super) struct Observed {
    servant: Arc<dyn Servant>,
    observer: Arc<dyn CallObserver>,
}

impl Observed {
    /// `servant`, telling `observer` of its requests.
    pub(super) fn wrap(servant: Arc<dyn Servant>, observer: Arc<dyn CallObserver>) -> Arc<Self> {
        Arc::new(Self { servant, observer })
    }
}

impl Servant for Observed {
    fn dispatch<'a>(&'a self, current: &'a Current, params: Bytes) -> BoxFuture<'a, Result<Bytes>> {
        Box::pin(async move {
            let mut unwinding = PanicGuard {
                observer: &*self.observer,
                current,
                armed: true,
            };
            let result = self.servant.dispatch(current, params).await;
            unwinding.armed = false;
            let code = match &result {
                Ok(_) => ReturnCode::SUCCESS,
                Err(error) => error.code(),
            };
            tell(&*self.observer, current, code);
            result
        })
    }

    fn on_connection_closed<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, ()> {
        self.servant.on_connection_closed(current)
    }
}

/// Tells the observer of a handler that panicked (the server replies
/// [`ReturnCode::SERVER_UNKNOWN_ERR`]); a handler dropped unfinished (the server stopped) is
/// not a finished request and is not told.
struct PanicGuard<'a> {
    observer: &'a dyn CallObserver,
    current: &'a Current,
    armed: bool,
}

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if self.armed && std::thread::panicking() {
            tell(self.observer, self.current, ReturnCode::SERVER_UNKNOWN_ERR);
        }
    }
}

/// Runs the observer on one finished request, catching and logging its panic.
fn tell(observer: &dyn CallObserver, current: &Current, code: ReturnCode) {
    let record = CallRecord {
        current,
        code,
        elapsed: current.received_at().elapsed(),
    };
    if let Err(panic) = catch_panic(|| observer.on_call(&record)) {
        tracing::error!(
            servant = current.servant_name(),
            function = current.func_name(),
            panic,
            "call observer panicked"
        );
    }
}
