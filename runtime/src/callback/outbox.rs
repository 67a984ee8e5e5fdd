//! The durable queue behind a [`CallbackHub`](super::CallbackHub): the [`Outbox`] trait and
//! the values it stores.

use std::fmt;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;

use crate::codec::TarsType;

/// Longest registration id accepted, in bytes: ids are keys of the store and travel in every
/// callback's context.
pub const MAX_REGISTRATION_ID_LEN: usize = 256;

/// A client's registration: the TARS object the server calls back, the client's own id for
/// it, and what it wants to hear about.
///
/// The id is the client's: registering the same id again replaces the callback and topic but
/// keeps the delivery sequence going, so a client that re-registers after a restart is not
/// sent sequences its deduplication already saw.
///
/// ```
/// use tars_rpc::callback::Registration;
///
/// let registration = Registration::new(
///     "order-watcher-1",
///     "App.Client.CallbackObj@tcp -h 127.0.0.1 -p 20001",
///     "orders",
/// );
/// assert_eq!(registration.topic(), "orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    id: String,
    callback: String,
    topic: String,
}

impl Registration {
    /// A registration `id` (unique per client registration, chosen by the client) of the
    /// object `callback` (`App.Server.Obj` found through the communicator's discovery, or
    /// `Obj@tcp -h .. -p ..`) for events of `topic` (an opaque string compared for equality).
    pub fn new(
        id: impl Into<String>,
        callback: impl Into<String>,
        topic: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            callback: callback.into(),
            topic: topic.into(),
        }
    }

    /// The client's registration id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The proxy string of the callback object.
    pub fn callback(&self) -> &str {
        &self.callback
    }

    /// The topic the registration listens to.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

/// One callback call as stored: the function's wire name and its parameters encoded at tags
/// 1, 2, ... as a generated proxy encodes them, so it goes out through the raw call path and
/// the callback's ordinary `#[tars_interface]` servant decodes it.
///
/// ```
/// use tars_rpc::callback::Invocation;
///
/// // interface Notify { void onEvent(long id, string text); }
/// let call = Invocation::new("onEvent").arg(&7i64).arg(&"shipped".to_string());
/// assert_eq!(call.func(), "onEvent");
/// assert_eq!(&call.params()[..], b"\x10\x07\x26\x07shipped");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Invocation {
    func: String,
    params: Bytes,
    next_tag: u8,
}

impl Invocation {
    /// A call of the callback function whose wire name is `func`, with no parameters yet.
    pub fn new(func: impl Into<String>) -> Self {
        Self {
            func: func.into(),
            params: Bytes::new(),
            next_tag: 1,
        }
    }

    /// A call of `func` with `params` already encoded (tags 1, 2, ...).
    pub fn from_parts(func: impl Into<String>, params: Bytes) -> Self {
        Self {
            func: func.into(),
            params,
            next_tag: 0,
        }
    }

    /// Appends the next parameter, at the tag after the previous one (the first at tag 1), as
    /// a generated proxy writes an input parameter.
    ///
    /// # Panics
    /// Past 255 parameters, or after [`from_parts`](Self::from_parts): both programming
    /// errors, not input.
    #[must_use]
    pub fn arg<T: TarsType>(mut self, value: &T) -> Self {
        assert!(
            self.next_tag != 0,
            "Invocation::arg: parameters are full or were given encoded"
        );
        let mut buf = BytesMut::from(&self.params[..]);
        value.write_field(self.next_tag, &mut buf);
        self.params = buf.freeze();
        self.next_tag = self.next_tag.wrapping_add(1);
        self
    }

    /// The function's wire name.
    pub fn func(&self) -> &str {
        &self.func
    }

    /// The encoded parameters.
    pub fn params(&self) -> &Bytes {
        &self.params
    }
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invocation")
            .field("func", &self.func)
            .field("params_len", &self.params.len())
            .finish()
    }
}

/// A queued callback of one registration, not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The registration's delivery sequence, 1 for its first callback: the receiver's
    /// deduplication key together with the registration id.
    pub sequence: u64,
    /// The call to make.
    pub invocation: Invocation,
    /// When it was queued, in milliseconds since the Unix epoch.
    pub enqueued_ms: i64,
}

/// A record of the store that could not be read: reported and moved aside, never delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Where it was: the table or stream and the record's key, printable.
    pub location: String,
    /// Why it could not be read.
    pub reason: String,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.reason)
    }
}

/// What a read of the store found: the records it could read, and those it could not (which
/// the outbox has already moved aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan<T> {
    /// The records read, in order.
    pub items: Vec<T>,
    /// The records that could not be read.
    pub malformed: Vec<Malformed>,
}

impl<T> Default for Scan<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            malformed: Vec::new(),
        }
    }
}

/// Why an outbox operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The embedded store failed.
    #[error("the redb outbox at {path}: {source}")]
    Redb {
        /// The store's file.
        path: String,
        /// What redb reported.
        #[source]
        source: Box<redb::Error>,
    },
    /// The blocking task that ran a store operation panicked or was cancelled.
    #[error("the outbox task did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// An outbox of another kind failed (a networked store, a user's own).
    #[error("the {outbox} outbox: {source}")]
    Backend {
        /// Which outbox.
        outbox: &'static str,
        /// What it reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A registration id is empty or longer than [`MAX_REGISTRATION_ID_LEN`].
    #[error("registration id of {len} bytes: expected 1 to {MAX_REGISTRATION_ID_LEN}")]
    InvalidId {
        /// The id's length.
        len: usize,
    },
    /// Callbacks were queued for a registration the outbox does not hold.
    #[error("no registration `{0}` in the outbox")]
    UnknownRegistration(String),
}

/// The durable queue of a [`CallbackHub`](super::CallbackHub): registrations and, per
/// registration, the callbacks not yet acknowledged, in sequence order.
///
/// The hub writes a callback here before [`publish`](super::CallbackHub::publish) returns and
/// removes it ([`ack`](Self::ack)) only once the client answered it, so what the outbox keeps
/// survives a restart. [`RedbOutbox`](super::RedbOutbox) is the embedded one. The trait also
/// fits a shared store: a Redis Streams outbox keeps registrations in a hash, one stream per
/// registration with the sequence as a field (from `INCR` in the enqueueing `MULTI`),
/// [`pending`](Self::pending) as `XAUTOCLAIM` then `XREADGROUP` of the instance's consumer,
/// [`ack`](Self::ack) as `XACK` and `XDEL` of the ids read; instances then take over each other's backlog.
///
/// Methods return boxed futures so that the hub holds any outbox as `Arc<dyn Outbox>`.
pub trait Outbox: Send + Sync + 'static {
    /// Stores `registration`, replacing one of the same id but keeping its sequence.
    ///
    /// # Errors
    /// When the store fails, or the id is invalid.
    fn put_registration<'a>(
        &'a self,
        registration: &'a Registration,
    ) -> BoxFuture<'a, Result<(), OutboxError>>;

    /// Removes the registration `id` and its pending callbacks; returns how many were pending.
    ///
    /// # Errors
    /// When the store fails.
    fn remove_registration<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<u64, OutboxError>>;

    /// Every registration stored.
    ///
    /// # Errors
    /// When the store fails.
    fn registrations(&self) -> BoxFuture<'_, Result<Scan<Registration>, OutboxError>>;

    /// Queues `calls`, in order, for each registration of `registrations`, in one atomic
    /// write; returns the sequences given to each registration's first call, in the order of
    /// `registrations`.
    ///
    /// # Errors
    /// When the store fails, or a registration is unknown (nothing is then queued).
    fn enqueue<'a>(
        &'a self,
        registrations: &'a [String],
        calls: &'a [Invocation],
    ) -> BoxFuture<'a, Result<Vec<u64>, OutboxError>>;

    /// The first `limit` pending callbacks of `registration`, lowest sequence first.
    ///
    /// # Errors
    /// When the store fails.
    fn pending<'a>(
        &'a self,
        registration: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Scan<Pending>, OutboxError>>;

    /// Removes the callbacks of `registration` up to and including sequence `through`, all
    /// delivered (the hub delivers in order and acknowledges in groups).
    ///
    /// # Errors
    /// When the store fails.
    fn ack<'a>(
        &'a self,
        registration: &'a str,
        through: u64,
    ) -> BoxFuture<'a, Result<(), OutboxError>>;

    /// How many callbacks each registration has pending.
    ///
    /// # Errors
    /// When the store fails.
    fn backlog(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>, OutboxError>>;

    /// Reads the whole store and moves aside what cannot be read or belongs to no
    /// registration; returns those records. The hub runs it when it starts.
    ///
    /// # Errors
    /// When the store fails.
    fn sweep(&self) -> BoxFuture<'_, Result<Vec<Malformed>, OutboxError>>;
}

/// Checks a registration id's length.
pub(crate) fn check_id(id: &str) -> Result<(), OutboxError> {
    if id.is_empty() || id.len() > MAX_REGISTRATION_ID_LEN {
        return Err(OutboxError::InvalidId { len: id.len() });
    }
    Ok(())
}
