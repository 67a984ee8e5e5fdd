//! The endpoints of an object: a fixed list (named in the proxy string), or one found through
//! a [`Discovery`], looked up before the first call and refreshed in the background.
//!
//! The list in force is an [`EndpointList`]: the endpoints, one [`EndpointSlot`] (with its
//! connection) per active endpoint, and the [`Balancer`] built for them. Calls read it without
//! waiting; a change replaces it whole. The slots of endpoints that stay are carried over, with
//! their connections and the calls in flight on them; endpoints that leave have their
//! connections retired: no new call goes there, and each closes once its calls in flight are
//! done.
//!
//! Lookups of one object never overlap: the first call's (which the concurrent first calls
//! wait for), the background refresh's and [`Proxy::refresh`](super::Proxy::refresh)'s take
//! turns. Each is bounded by [`LOOKUP_TIMEOUT`]. A lookup that fails, or finds no active
//! endpoint, keeps the list in force (with a warning); with none yet, the cache file is read
//! instead, if there is one. The refresh runs every
//! [`refresh_interval`](super::CommunicatorBuilder::refresh_interval), sooner after a failure,
//! as TarsCpp's `QueryEpBase` does: 2 s after each of the first three failures in a row, then
//! 30 s; 10 s after a lookup that found no active endpoint (never later than the interval).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::cache::CacheFile;
use super::connection::EndpointSlot;
use super::discovery::{Discovery, Instances, Lookup};
use super::load_balance::{Balancer, LoadBalance, Route, TarsBalance};
use super::object::ObjectShared;
use super::supervisor;
use super::wire::Wire;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::packet::ReturnCode;
use crate::support::{catch_panic, catch_panic_async};

/// The longest a lookup may take (TarsCpp's registry requests time out after 5 s too).
pub(super) const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The wait before looking up again after a failed lookup, for the first failures in a row.
const FAILED_LOOKUP_RETRY: Duration = Duration::from_secs(2);

/// How many failures in a row are retried after [`FAILED_LOOKUP_RETRY`].
const QUICK_RETRIES: u32 = 3;

/// The wait before looking up again after more failures in a row.
const REPEATED_FAILURE_RETRY: Duration = Duration::from_secs(30);

/// The wait before looking up again after a lookup that found no active endpoint.
const EMPTY_LIST_RETRY: Duration = Duration::from_secs(10);

/// The endpoints an object calls now, and how calls choose among them.
pub(super) struct EndpointList<W: Wire> {
    /// The endpoints: the active ones take calls.
    instances: Instances,
    /// One slot per active endpoint, in the same order.
    slots: Vec<Arc<EndpointSlot<W>>>,
    balancer: Box<dyn Balancer>,
}

impl<W: Wire> EndpointList<W> {
    /// The endpoints that take calls.
    pub(super) fn active(&self) -> &[Endpoint] {
        &self.instances.active
    }

    /// The slots of the active endpoints.
    pub(super) fn slots(&self) -> &[Arc<EndpointSlot<W>>] {
        &self.slots
    }

    /// The slot `route` maps to now, going by whether endpoints are failing (not by when they
    /// are due for a retry, which no event marks): what a route watch follows.
    pub(super) fn target(&self, route: Route) -> Option<&Arc<EndpointSlot<W>>> {
        let failing = |index: usize| self.slots.get(index).map_or(true, |slot| slot.is_failing());
        self.balancer
            .pick(route, &failing)
            .and_then(|index| self.slots.get(index))
    }

    /// The endpoint (an index into [`Self::slots`]) for a call with `route` that already
    /// tried `tried`: the balancer's pick among the endpoints that are up; if it has none,
    /// the untried endpoint due for a retry first. `None` once every endpoint was tried.
    pub(super) fn pick(&self, route: Route, tried: &[usize]) -> Option<usize> {
        let count = self.slots.len();
        let unavailable =
            |index: usize| index >= count || tried.contains(&index) || self.slots[index].is_down();
        self.balancer
            .pick(route, &unavailable)
            .filter(|&index| index < count && !tried.contains(&index))
            .or_else(|| {
                // every endpoint is down: rather than fail at once, try the one whose wait
                // ends first (a single endpoint behaves as if it had no health at all)
                (0..count)
                    .filter(|index| !tried.contains(index))
                    .min_by_key(|&index| self.slots[index].retry_at())
            })
    }
}

/// How an object named without endpoints is looked up.
pub(super) struct Discovered {
    discovery: Arc<dyn Discovery>,
    lookup: Lookup,
    refresh_interval: Duration,
    cache: Option<CacheFile>,
    /// Held while looking up: lookups take turns.
    state: tokio::sync::Mutex<LookupState>,
    /// Told after every lookup, which sets when the next is due: the refresh task waits for
    /// the time it sets, or for a lookup that moves it.
    rescheduled: tokio::sync::Notify,
}

/// What the lookups of an object have found so far.
#[derive(Default)]
struct LookupState {
    /// Lookups that failed (or found no active endpoint) in a row.
    failures: u32,
    /// Whether the last lookup found no active endpoint.
    empty: bool,
    /// When the last lookup failed and why, while it is the last.
    last_failure: Option<(Instant, Error)>,
    /// What the cache file holds, as far as this object knows.
    cached: Option<Instances>,
    /// When the refresh task looks up next: set by every lookup.
    next_due: Option<Instant>,
}

impl Discovered {
    /// Looks objects up through `discovery` with `lookup`, every `refresh_interval`, keeping
    /// the last good list in `cache` if given.
    pub(super) fn new(
        discovery: Arc<dyn Discovery>,
        lookup: Lookup,
        refresh_interval: Duration,
        cache: Option<CacheFile>,
    ) -> Self {
        Self {
            discovery,
            lookup,
            refresh_interval,
            cache,
            state: tokio::sync::Mutex::default(),
            rescheduled: tokio::sync::Notify::new(),
        }
    }

    /// The wait before the next refresh, after lookups that went as `state` tells.
    fn next_delay(&self, state: &LookupState) -> Duration {
        let delay = if state.empty {
            EMPTY_LIST_RETRY
        } else if state.failures == 0 {
            self.refresh_interval
        } else if state.failures <= QUICK_RETRIES {
            FAILED_LOOKUP_RETRY
        } else {
            REPEATED_FAILURE_RETRY
        };
        delay.min(self.refresh_interval)
    }
}

/// An object's endpoints: the list in force and, for an object found through a discovery,
/// how to look it up.
pub(super) struct Endpoints<W: Wire> {
    /// The object's name, for lookups, errors and logs.
    object: String,
    load_balance: Arc<dyn LoadBalance>,
    current: RwLock<Option<Arc<EndpointList<W>>>>,
    discovered: Option<Discovered>,
    /// Counts the changes route watches follow: a new list, an endpoint going down or up.
    topology: Arc<watch::Sender<u64>>,
}

impl<W: Wire> Endpoints<W> {
    /// The fixed list `endpoints` of `object`, as given (a proxy string's).
    pub(super) fn fixed(
        object: &str,
        endpoints: &[Endpoint],
        load_balance: Arc<dyn LoadBalance>,
    ) -> Self {
        let fixed = Self {
            object: object.to_string(),
            load_balance,
            current: RwLock::new(None),
            discovered: None,
            topology: Arc::new(watch::Sender::new(0)),
        };
        fixed.apply(Instances::active(endpoints.to_vec()));
        fixed
    }

    /// The endpoints of `object`, to be looked up as `discovered` says.
    pub(super) fn discovered(
        object: &str,
        discovered: Discovered,
        load_balance: Arc<dyn LoadBalance>,
    ) -> Self {
        Self {
            object: object.to_string(),
            load_balance,
            current: RwLock::new(None),
            discovered: Some(discovered),
            topology: Arc::new(watch::Sender::new(0)),
        }
    }

    /// A receiver told of every change route watches follow.
    pub(super) fn watch_topology(&self) -> watch::Receiver<u64> {
        self.topology.subscribe()
    }

    /// Whether the list comes from a discovery.
    pub(super) fn is_discovered(&self) -> bool {
        self.discovered.is_some()
    }

    /// The list in force, if there is one yet.
    pub(super) fn current(&self) -> Option<Arc<EndpointList<W>>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The error of a call with no endpoint to go to.
    pub(super) fn no_endpoint(&self) -> Error {
        Error::new(
            ReturnCode::ADAPTER_NULL,
            format!("{} has no active endpoint", self.object),
        )
    }

    /// The list in force; for an object not looked up yet, looks it up first (a call that
    /// comes while another looks up waits for it and shares its outcome).
    ///
    /// # Errors
    /// When the lookup fails and no cached list is found: its error, which calls in the next
    /// 2 s get too rather than looking up again.
    pub(super) async fn resolve(&self) -> Result<Arc<EndpointList<W>>> {
        if let Some(list) = self.current() {
            return Ok(list);
        }
        let Some(discovered) = &self.discovered else {
            return Err(self.no_endpoint());
        };
        let started = Instant::now();
        let mut state = discovered.state.lock().await;
        if let Some(list) = self.current() {
            return Ok(list);
        }
        if let Some((at, error)) = &state.last_failure {
            if *at >= started || at.elapsed() < FAILED_LOOKUP_RETRY {
                return Err(error.clone());
            }
        }
        let looked_up = self.look_up(discovered, &mut state).await;
        match (self.current(), looked_up) {
            (Some(list), _) => Ok(list),
            (None, Err(error)) => Err(error),
            (None, Ok(_)) => Err(self.no_endpoint()),
        }
    }

    /// Looks the object up now and applies the list found; returns the slots of the
    /// endpoints added. A fixed list stays as it is.
    ///
    /// # Errors
    /// When the lookup fails or finds no active endpoint (the list in force stays; with none
    /// yet, the cached list is applied if there is one).
    pub(super) async fn refresh(&self) -> Result<Vec<Arc<EndpointSlot<W>>>> {
        let Some(discovered) = &self.discovered else {
            return Ok(Vec::new());
        };
        let mut state = discovered.state.lock().await;
        self.look_up(discovered, &mut state).await
    }

    /// One lookup, with `state` held; applies what it finds, or keeps the list in force; sets
    /// when the next is due.
    async fn look_up(
        &self,
        discovered: &Discovered,
        state: &mut LookupState,
    ) -> Result<Vec<Arc<EndpointSlot<W>>>> {
        let outcome = self.look_up_now(discovered, state).await;
        state.next_due = Some(Instant::now() + discovered.next_delay(state));
        discovered.rescheduled.notify_waiters();
        outcome
    }

    async fn look_up_now(
        &self,
        discovered: &Discovered,
        state: &mut LookupState,
    ) -> Result<Vec<Arc<EndpointSlot<W>>>> {
        let object = &self.object;
        let found = match self.discover(discovered).await {
            Ok(found) => {
                let found = registered(object, found);
                if found.active.is_empty() {
                    Err((
                        true,
                        Error::new(
                            ReturnCode::ADAPTER_NULL,
                            format!("the lookup of {object} found no active endpoint"),
                        ),
                    ))
                } else {
                    Ok(found)
                }
            }
            Err(error) => Err((false, error)),
        };
        match found {
            Ok(found) => {
                state.failures = 0;
                state.empty = false;
                state.last_failure = None;
                let added = self.apply(found.clone());
                if let Some(cache) = &discovered.cache {
                    if state.cached.as_ref() != Some(&found) {
                        write_cache(cache, &found).await;
                        state.cached = Some(found);
                    }
                }
                Ok(added)
            }
            Err((empty, error)) => {
                state.failures += 1;
                state.empty = empty;
                state.last_failure = Some((Instant::now(), error.clone()));
                if self.current().is_some() {
                    warn!(%object, %error, "lookup failed; keeping the endpoints in force");
                } else if let Some(cached) = read_cache(discovered.cache.as_ref()).await {
                    warn!(
                        %object,
                        %error,
                        active = cached.active.len(),
                        "lookup failed; using the cached endpoints"
                    );
                    state.cached = Some(cached.clone());
                    self.apply(registered(object, cached));
                } else {
                    warn!(%object, %error, "lookup failed");
                }
                Err(error)
            }
        }
    }

    /// Asks the discovery, within [`LOOKUP_TIMEOUT`]; a panic is an error too.
    async fn discover(&self, discovered: &Discovered) -> Result<Instances> {
        let object = &self.object;
        let lookup = discovered.discovery.discover(object, &discovered.lookup);
        match tokio::time::timeout(LOOKUP_TIMEOUT, catch_panic_async(lookup)).await {
            Ok(Ok(Ok(found))) => Ok(found),
            Ok(Ok(Err(error))) => Err(Error::new(
                error.code(),
                format!("cannot look {object} up: {}", error.message()),
            )),
            Ok(Err(panic)) => Err(Error::new(
                ReturnCode::ADAPTER_NULL,
                format!("cannot look {object} up: the discovery panicked: {panic}"),
            )),
            Err(_) => Err(Error::timeout(format!(
                "cannot look {object} up: no answer within {} ms",
                LOOKUP_TIMEOUT.as_millis()
            ))),
        }
    }

    /// Puts `instances` in force unless they are the endpoints in force already: slots of the
    /// endpoints that stay are kept, new endpoints get new slots, and the connections of the
    /// endpoints that left are retired. Returns the new slots. Never runs twice at once: the
    /// object's lookups take turns, and a fixed list is applied once.
    fn apply(&self, instances: Instances) -> Vec<Arc<EndpointSlot<W>>> {
        let old = self.current();
        if old
            .as_ref()
            .is_some_and(|old| same_endpoints(&old.instances, &instances))
        {
            return Vec::new();
        }
        let old_slots = old.as_ref().map_or(&[][..], |old| &old.slots[..]);
        let mut added = Vec::new();
        let slots: Vec<Arc<EndpointSlot<W>>> = instances
            .active
            .iter()
            .map(|endpoint| {
                let kept = old_slots
                    .iter()
                    .find(|slot| same_address(slot.endpoint(), endpoint));
                kept.cloned().unwrap_or_else(|| {
                    let slot = Arc::new(EndpointSlot::new(endpoint.clone(), self.topology.clone()));
                    added.push(slot.clone());
                    slot
                })
            })
            .collect();
        let removed: Vec<Arc<EndpointSlot<W>>> = old_slots
            .iter()
            .filter(|old| !slots.iter().any(|slot| Arc::ptr_eq(slot, old)))
            .cloned()
            .collect();
        let balancer = self.balancer(&instances);
        if old.is_some() || self.is_discovered() {
            info!(
                object = %self.object,
                active = %list(&instances.active),
                inactive = instances.inactive.len(),
                added = added.len(),
                removed = removed.len(),
                "endpoints in force"
            );
        }
        let list = Arc::new(EndpointList {
            instances,
            slots,
            balancer,
        });
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(list);
        for slot in removed {
            slot.remove();
        }
        self.topology.send_modify(|changes| *changes += 1);
        added
    }

    /// The load balancer's balancer of `instances`; [`TarsBalance`]'s if it panics.
    fn balancer(&self, instances: &Instances) -> Box<dyn Balancer> {
        catch_panic(|| self.load_balance.balancer(instances)).unwrap_or_else(|panic| {
            warn!(
                object = %self.object,
                panic,
                "the load balancer panicked building a balancer; balancing as TarsCpp does"
            );
            TarsBalance.balancer(instances)
        })
    }
}

/// `tcp -h a -p 1, tcp -h b -p 2`, for logs.
fn list(endpoints: &[Endpoint]) -> String {
    let texts: Vec<String> = endpoints.iter().map(ToString::to_string).collect();
    texts.join(", ")
}

/// Whether two endpoints are one address (TarsCpp keys its adapters by type, host and port).
fn same_address(a: &Endpoint, b: &Endpoint) -> bool {
    a.host() == b.host() && a.port() == b.port()
}

/// Whether two lists hold the same endpoints, whatever their order.
fn same_endpoints(a: &Instances, b: &Instances) -> bool {
    fn sorted(list: &[Endpoint]) -> Vec<&Endpoint> {
        let mut sorted: Vec<&Endpoint> = list.iter().collect();
        sorted.sort_by(|a, b| (a.host(), a.port()).cmp(&(b.host(), b.port())));
        sorted
    }
    sorted(&a.active) == sorted(&b.active) && sorted(&a.inactive) == sorted(&b.inactive)
}

/// What a lookup found, as a registry's answer is used: endpoints that cannot be connected to
/// (no host, port 0) are left out, each address is kept once (active before inactive), and,
/// as TarsCpp does for endpoints from its registry, when every active endpoint has a static
/// weight, those of weight 0 or less are left out.
fn registered(object: &str, found: Instances) -> Instances {
    let mut kept = Instances::default();
    let weighted = !found.active.is_empty()
        && found
            .active
            .iter()
            .all(|endpoint| endpoint.static_weight().is_some());
    for (endpoint, active) in found
        .active
        .into_iter()
        .map(|endpoint| (endpoint, true))
        .chain(found.inactive.into_iter().map(|endpoint| (endpoint, false)))
    {
        if endpoint.host().is_empty() || endpoint.port() == 0 {
            warn!(%object, %endpoint, "endpoint left out: no host or port");
            continue;
        }
        if weighted && endpoint.static_weight().is_some_and(|weight| weight <= 0) {
            debug!(%object, %endpoint, "endpoint left out: static weight 0");
            continue;
        }
        let seen = kept
            .active
            .iter()
            .chain(&kept.inactive)
            .any(|other| same_address(other, &endpoint));
        if seen {
            continue;
        }
        if active {
            kept.active.push(endpoint);
        } else {
            kept.inactive.push(endpoint);
        }
    }
    kept
}

/// The cached list, read off the runtime's threads; `None` without a cache or a good file.
async fn read_cache(cache: Option<&CacheFile>) -> Option<Instances> {
    let cache = cache?.clone();
    tokio::task::spawn_blocking(move || cache.read())
        .await
        .unwrap_or_else(|error| {
            warn!(%error, "reading the endpoint cache failed");
            None
        })
}

/// Writes `found` to the cache off the runtime's threads; a failure is logged.
async fn write_cache(cache: &CacheFile, found: &Instances) {
    let (file, found) = (cache.clone(), found.clone());
    let written = tokio::task::spawn_blocking(move || file.write(&found)).await;
    match written {
        Ok(Ok(())) => debug!(path = %cache.path().display(), "endpoint cache written"),
        Ok(Err(error)) => warn!(
            path = %cache.path().display(),
            %error,
            "cannot write the endpoint cache"
        ),
        Err(error) => warn!(%error, "writing the endpoint cache failed"),
    }
}

/// The task refreshing an object's endpoints: looks them up every refresh interval (sooner
/// after a failure) until the object is dropped or the communicator shut down; in push mode,
/// connects to the endpoints added, so that their `on_connect` hooks run.
pub(super) async fn run_refresh<W: Wire>(
    endpoints: Arc<Endpoints<W>>,
    object: Arc<ObjectShared<W>>,
) {
    let Some(discovered) = &endpoints.discovered else {
        return;
    };
    let refreshing = async {
        loop {
            // told of every lookup from here on: one may move the time of the next
            let rescheduled = discovered.rescheduled.notified();
            tokio::pin!(rescheduled);
            rescheduled.as_mut().enable();
            let due = discovered.state.lock().await.next_due;
            let Some(due) = due else {
                // the first lookup has not ended yet
                rescheduled.await;
                continue;
            };
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = rescheduled => continue,
            }
            let mut state = discovered.state.lock().await;
            if state.next_due.is_some_and(|due| due > Instant::now()) {
                // another lookup came in between
                continue;
            }
            if let Ok(added) = endpoints.look_up(discovered, &mut state).await {
                drop(state);
                connect_added(&object, added);
            }
        }
    };
    tokio::select! {
        () = object.shutdown.cancelled() => {}
        () = refreshing => {}
    }
}

/// In push mode, connects to the endpoints just added, each on a task of its own.
pub(super) fn connect_added<W: Wire>(
    object: &Arc<ObjectShared<W>>,
    added: Vec<Arc<EndpointSlot<W>>>,
) {
    if added.is_empty() || !object.push.push_mode() {
        return;
    }
    for slot in added {
        let object = object.clone();
        let stop = object.shutdown.clone();
        object.owner.tasks.clone().spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                connected = supervisor::connection(&slot, &object) => if let Err(error) = connected {
                    debug!(endpoint = %slot.endpoint(), %error, "cannot connect to an endpoint added");
                },
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_keep_each_address_once_and_leave_out_what_cannot_be_called() {
        let found = Instances {
            active: vec![
                Endpoint::new("10.0.0.1", 1),
                Endpoint::new("", 1),
                Endpoint::new("10.0.0.2", 0),
                Endpoint::new("10.0.0.1", 1).with_timeout(Duration::from_secs(1)),
                Endpoint::new("10.0.0.3", 1),
            ],
            inactive: vec![Endpoint::new("10.0.0.3", 1), Endpoint::new("10.0.0.4", 1)],
        };
        let kept = registered("A.B.C", found);
        assert_eq!(
            kept.active,
            [Endpoint::new("10.0.0.1", 1), Endpoint::new("10.0.0.3", 1)]
        );
        assert_eq!(kept.inactive, [Endpoint::new("10.0.0.4", 1)]);
    }

    #[test]
    fn weight_zero_is_left_out_when_every_active_endpoint_is_weighted() {
        let weighted = |weights: &[i32]| Instances {
            active: weights
                .iter()
                .enumerate()
                .map(|(i, &w)| Endpoint::new(format!("10.0.0.{i}"), 1).with_static_weight(w))
                .collect(),
            inactive: Vec::new(),
        };
        assert_eq!(registered("A", weighted(&[10, 0, -1, 5])).active.len(), 2);
        let mut mixed = weighted(&[10, 0]);
        mixed.active.push(Endpoint::new("10.0.0.9", 1));
        assert_eq!(
            registered("A", mixed).active.len(),
            3,
            "a mix is not weighted"
        );
    }

    #[test]
    fn lists_compare_whatever_their_order() {
        let a = Instances {
            active: vec![Endpoint::new("a", 1), Endpoint::new("b", 1)],
            inactive: vec![Endpoint::new("c", 1)],
        };
        let mut b = a.clone();
        b.active.reverse();
        assert!(same_endpoints(&a, &b));
        b.active[0] = b.active[0].clone().with_static_weight(3);
        assert!(!same_endpoints(&a, &b), "a weight is part of the endpoint");
        let mut c = a.clone();
        c.inactive.clear();
        assert!(!same_endpoints(&a, &c));
    }

    #[test]
    fn refreshes_come_sooner_after_failures_as_in_tarscpp() {
        let discovered = Discovered::new(
            Arc::new(super::super::discovery::StaticDiscovery::new()),
            Lookup::SameGroup,
            Duration::from_secs(60),
            None,
        );
        let state = |failures, empty| LookupState {
            failures,
            empty,
            ..LookupState::default()
        };
        let delays: Vec<u64> = [(0, false), (1, false), (3, false), (4, false), (1, true)]
            .into_iter()
            .map(|(failures, empty)| discovered.next_delay(&state(failures, empty)).as_secs())
            .collect();
        assert_eq!(delays, [60, 2, 2, 30, 10]);
        let quick = Discovered {
            refresh_interval: Duration::from_secs(5),
            ..discovered
        };
        assert_eq!(quick.next_delay(&state(4, false)), Duration::from_secs(5));
    }
}
