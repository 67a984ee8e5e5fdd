//! [`CallObserver`]: a hook told of every call a communicator's proxies finish, for statistics
//! (TarsCpp's client-side `StatReport`) without the client knowing who collects them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::packet::ReturnCode;
use crate::support::catch_panic;

/// Told of every TARS call a [`Communicator`](super::Communicator)'s proxies finish, once per
/// call: what [`CommunicatorBuilder::call_observer`](super::CommunicatorBuilder::call_observer)
/// installs, e.g. the stat reporter of `tars_rpc::stat`.
///
/// It runs on the caller's task when the reply (or the error) is in, before the call returns,
/// so it must be quick and must not block: count, and send elsewhere later. A panic in it is
/// caught and logged; the call returns all the same.
///
/// Told of calls that reached an endpoint's connection (answered, failed, timed out, or lost
/// with their connection) and of one-way requests once queued; not of calls that found no
/// connection (no endpoint could be reached, as TarsCpp's adapters never see them), nor of
/// raw proxies' calls. A communicator without an observer pays nothing for the hook but one
/// check.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tars_rpc::client::{CallObserver, CallRecord, Communicator};
///
/// /// Counts timeouts.
/// #[derive(Default)]
/// struct Timeouts(AtomicU64);
///
/// impl CallObserver for Timeouts {
///     fn on_call(&self, call: &CallRecord<'_>) {
///         if call.timed_out() {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
///
/// let communicator = Communicator::builder().call_observer(Timeouts::default()).build();
/// ```
pub trait CallObserver: Send + Sync + 'static {
    /// Called once per finished call, with what is known of it.
    fn on_call(&self, call: &CallRecord<'_>);
}

impl<O: CallObserver + ?Sized> CallObserver for Arc<O> {
    fn on_call(&self, call: &CallRecord<'_>) {
        (**self).on_call(call);
    }
}

/// One finished call, as a [`CallObserver`] sees it: borrowed from the call, so that telling
/// the observer allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct CallRecord<'a> {
    pub(super) object: &'a str,
    pub(super) endpoint: &'a Endpoint,
    pub(super) function: &'a str,
    pub(super) code: ReturnCode,
    pub(super) elapsed: Duration,
    pub(super) oneway: bool,
}

impl<'a> CallRecord<'a> {
    /// The object called, `App.Server.Obj`.
    pub fn object(&self) -> &'a str {
        self.object
    }

    /// The endpoint the call went to.
    pub fn endpoint(&self) -> &'a Endpoint {
        self.endpoint
    }

    /// The function called.
    pub fn function(&self) -> &'a str {
        self.function
    }

    /// The outcome: the reply's `iRet` ([`ReturnCode::SUCCESS`] for a success), or the
    /// framework's code for a call that got no reply ([`ReturnCode::INVOKE_TIMEOUT`],
    /// [`ReturnCode::PROXY_CONNECT_ERR`] for a lost connection, ...).
    pub fn code(&self) -> ReturnCode {
        self.code
    }

    /// Whether the call timed out waiting for its reply.
    pub fn timed_out(&self) -> bool {
        self.code == ReturnCode::INVOKE_TIMEOUT
    }

    /// The time from the call's start (before its connection was picked) to its end.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Whether the call was a one-way request (done once queued).
    pub fn is_oneway(&self) -> bool {
        self.oneway
    }
}

/// The observer a communicator's settings carry, if any: compared by identity.
#[derive(Clone, Default)]
pub(super) struct ObserverSlot(Option<Arc<dyn CallObserver>>);

impl ObserverSlot {
    pub(super) fn new(observer: Arc<dyn CallObserver>) -> Self {
        Self(Some(observer))
    }

    pub(super) fn get(&self) -> Option<&dyn CallObserver> {
        self.0.as_deref()
    }
}

impl fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

impl PartialEq for ObserverSlot {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Eq for ObserverSlot {}

/// Runs the observer on one finished call, catching and logging its panic.
pub(super) fn tell(observer: &dyn CallObserver, record: &CallRecord<'_>) {
    if let Err(panic) = catch_panic(|| observer.on_call(record)) {
        tracing::error!(
            object = record.object,
            function = record.function,
            panic,
            "call observer panicked"
        );
    }
}
