//! Durable callbacks: the second push pattern of brpc's server-push note, with TARS objects.
//!
//! A client serves a callback object (an ordinary `#[tars_interface]` trait) and registers it
//! with the server under an id of its own, saying what it wants to hear about (a topic). The
//! server answers the registration at once. When an event happens, the server's
//! [`CallbackHub`] writes a callback for each matching registration to a durable
//! [`Outbox`], then calls it through the client's object, retrying with capped exponential
//! backoff through network errors and restarts of either side until the client answers: at
//! least once, in order per registration. Each call carries its [`DeliveryId`] (keys
//! [`CALLBACK_REGISTRATION_KEY`] and [`CALLBACK_ID_KEY`] of the request context); the
//! client's [`Deduper`] drops repeats, so the callback acts exactly once.
//!
//! The default outbox, [`RedbOutbox`], is an embedded redb file: pending callbacks and
//! registrations survive a restart or a crash of the server. A registration that keeps
//! failing longer than a set time is dropped and reported ([`HubEvent::Dropped`]); records of
//! the outbox that cannot be read are moved aside and reported ([`HubEvent::Malformed`]).
//! With the `redis-outbox` feature, `RedisOutbox` keeps them in Redis Streams instead, shared
//! by several server instances that take over each other's backlog.
//!
//! # How a callback is stored and sent
//!
//! A callback is an [`Invocation`]: the function's wire name and its parameters encoded as a
//! generated proxy encodes them (tags 1, 2, ...), sent through [`Proxy::invoke_raw`] with the
//! delivery id in the context and the hub's call timeout. The stored bytes are thus the
//! request itself, the generated code is unchanged, and the client's servant decodes the
//! call as any other.
//!
//! [`Proxy::invoke_raw`]: crate::client::Proxy::invoke_raw

// outbox <- embedded <- redis_streams; outbox, dedupe <- hub
mod dedupe;
mod embedded;
mod hub;
mod outbox;
#[cfg(feature = "redis-outbox")]
mod redis_streams;

pub use dedupe::{
    Deduper, DeliveryId, DeliveryIdError, CALLBACK_ID_KEY, CALLBACK_REGISTRATION_KEY,
};
pub use embedded::RedbOutbox;
pub use hub::{
    Backlog, CallbackHub, CallbackHubBuilder, HubError, HubEvent, HubStats, ADMIN_COMMAND,
};
pub use outbox::{
    Invocation, Malformed, Outbox, OutboxError, Pending, Registration, Scan,
    MAX_REGISTRATION_ID_LEN,
};
#[cfg(feature = "redis-outbox")]
pub use redis_streams::{RedisOutbox, RedisOutboxBuilder};
