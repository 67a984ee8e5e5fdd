//! What an object (the servant at its endpoints, shared by every proxy of it) shares with the
//! tasks of its connections: its wire, settings, pushes and hooks. Nothing here owns the
//! object, so that the tasks never keep it alive.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::config::Config;
use super::connection::{CloseReason, EndpointSlot, Owner};
use super::push::{PushRoute, PushState};
use super::wire::Wire;
use crate::endpoint::Endpoint;
use crate::support::lock;

/// A hook run after a connection is made, with the endpoint's slot; `None` once the object is
/// gone (the hook holds it weakly).
pub(super) type ConnectHook<W> =
    Arc<dyn Fn(Arc<EndpointSlot<W>>) -> Option<BoxFuture<'static, ()>> + Send + Sync>;

/// A hook run after a connection closes.
pub(super) type CloseHook = Arc<dyn Fn(Endpoint, CloseReason) + Send + Sync>;

/// What an object shares with the tasks of its connections.
pub(super) struct ObjectShared<W: Wire> {
    pub(super) wire: Arc<W>,
    pub(super) config: Config,
    pub(super) push: Arc<PushState<W>>,
    connect_hooks: Mutex<Vec<ConnectHook<W>>>,
    close_hooks: Mutex<Vec<CloseHook>>,
    /// The keep-alive interval in push mode ([`Duration::ZERO`]: off).
    pub(super) keepalive: Duration,
    /// The tracker every task of the object is spawned on, and the tokens that stop them.
    pub(super) owner: Owner,
    /// Cancelled when the object is dropped or the communicator shut down: every task of its
    /// connections stops (the owner's object token).
    pub(super) shutdown: CancellationToken,
}

impl<W: Wire> ObjectShared<W> {
    /// What an object speaking `wire` shares, keeping connections alive every `keepalive` in
    /// push mode (zero: not at all), its tasks owned by `owner`.
    pub(super) fn new(wire: W, config: Config, keepalive: Duration, owner: Owner) -> Self {
        let shutdown = owner.object.clone();
        Self {
            wire: Arc::new(wire),
            push: Arc::new(PushState::new(
                config.push_queue_capacity,
                shutdown.clone(),
                owner.tasks.clone(),
            )),
            config,
            connect_hooks: Mutex::default(),
            close_hooks: Mutex::default(),
            keepalive,
            owner,
            shutdown,
        }
    }

    /// Where the reader of a connection to `endpoint` hands its pushes.
    pub(super) fn push_route(&self, endpoint: &Endpoint) -> impl FnMut(W::Push) + Send + 'static {
        let mut route = PushRoute::new(self.push.clone(), endpoint.clone());
        move |push| route.route(push)
    }

    pub(super) fn add_connect_hook(&self, hook: ConnectHook<W>) {
        lock(&self.connect_hooks).push(hook);
    }

    pub(super) fn add_close_hook(&self, hook: CloseHook) {
        lock(&self.close_hooks).push(hook);
    }

    pub(super) fn connect_hooks(&self) -> Vec<ConnectHook<W>> {
        lock(&self.connect_hooks).clone()
    }

    pub(super) fn close_hooks(&self) -> Vec<CloseHook> {
        lock(&self.close_hooks).clone()
    }
}
