//! Which endpoint a call goes to: the [`LoadBalance`] trait, its per-list [`Balancer`], the
//! call's [`Route`], and [`TarsBalance`], the default, which routes as TarsCpp's client does.
//!
//! A communicator has one `LoadBalance`
//! ([`CommunicatorBuilder::load_balance`](super::CommunicatorBuilder::load_balance)). Each time
//! an object's endpoint list is set (at creation, or when a refresh finds it changed), the
//! `LoadBalance` builds a [`Balancer`] for that list: the place for anything worth computing
//! once per list (a route table, a hash ring) rather than per call. Every call then asks the
//! balancer for an endpoint, giving its [`Route`] and which endpoints are down.
//!
//! [`TarsBalance`] does what TarsCpp's `EndpointManager` does:
//!
//! * **round robin** over the active endpoints in TarsCpp's order
//!   ([`balance::tarscpp_order`](super::balance::tarscpp_order)), starting at the second, as TarsCpp's
//!   `getNextValidProxy` does; an endpoint that is down is passed over;
//! * **static weights** when every active endpoint has `-v 1`: the calls walk TarsCpp's route
//!   table ([`WeightTable`]) cyclically, starting at its second entry;
//! * **hashed calls** ([`Proxy::with_hash`](super::Proxy::with_hash),
//!   [`Proxy::with_consistent_hash`](super::Proxy::with_consistent_hash)) go where TarsCpp sends
//!   the same code over the same list: see [`Route`].
//!
//! A balancer of your own:
//!
//! ```
//! use tars_rpc::client::discovery::Instances;
//! use tars_rpc::client::load_balance::{Balancer, LoadBalance, Route};
//!
//! /// Every call to the first active endpoint that is up: a primary and its standbys.
//! struct Failover;
//!
//! struct FailoverBalancer {
//!     active: usize,
//! }
//!
//! impl LoadBalance for Failover {
//!     fn balancer(&self, instances: &Instances) -> Box<dyn Balancer> {
//!         Box::new(FailoverBalancer { active: instances.active.len() })
//!     }
//! }
//!
//! impl Balancer for FailoverBalancer {
//!     fn pick(&self, _route: Route, is_down: &dyn Fn(usize) -> bool) -> Option<usize> {
//!         (0..self.active).find(|&index| !is_down(index))
//!     }
//! }
//!
//! let communicator = tars_rpc::client::Communicator::builder().load_balance(Failover).build();
//! # let _ = communicator;
//! ```

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::balance::{spread, tarscpp_order, HashRing, WeightTable};
use super::discovery::Instances;
use crate::endpoint::Endpoint;

/// How a call chooses its endpoint: the handle's route, set with
/// [`Proxy::with_hash`](super::Proxy::with_hash) or
/// [`Proxy::with_consistent_hash`](super::Proxy::with_consistent_hash).
///
/// For the hashed routes, [`TarsBalance`] chooses exactly the endpoint TarsCpp's client
/// chooses for the same endpoint list and code (`tars_hash(code)`,
/// `tars_consistent_hash(code)`), so that C++ and Rust clients send a key to the same
/// instance; see [`balance`](super::balance) for how, and for TarsCpp's quirks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Route {
    /// No key: round robin, or static weights.
    #[default]
    Any,
    /// TarsCpp's `tars_hash(code)`: modulo hashing over TarsCpp's order of the endpoints (the
    /// active and the inactive ones, as the registry reports them), or over the static-weight
    /// route table when every endpoint is weighted. When the endpoint chosen is inactive or
    /// down, the code is taken modulo the active endpoints instead, leaving out those that are
    /// down one by one.
    Hash(u64),
    /// TarsCpp's `tars_consistent_hash(code)`: the ketama ring over the active endpoints' hosts,
    /// the low 32 bits of the code as the position; an endpoint that is down is left out of the
    /// ring.
    ConsistentHash(u64),
    /// Not TarsCpp's: a consistent-hash ring with a node per endpoint (host and port), the key
    /// mixed by [`spread`] before it is looked up. Keys spread evenly
    /// over every instance, also several on one host and also small ids, and a key moves only
    /// when its endpoint comes or goes. Use [`ConsistentHash`](Self::ConsistentHash) where C++
    /// clients must send a key where this client does.
    KeyHash(u64),
}

/// A load-balancing policy: builds the [`Balancer`] of each endpoint list. See the
/// [module documentation](self) for an example.
pub trait LoadBalance: Send + Sync + 'static {
    /// The balancer of an object's endpoint list, built when the list is set and used by
    /// every call until it changes. Indices into `instances` are the active endpoints first
    /// (`0..active.len()`), then the inactive ones: only active endpoints take calls, but
    /// TarsCpp counts the inactive ones when it hashes.
    fn balancer(&self, instances: &Instances) -> Box<dyn Balancer>;
}

/// The load balancing of one endpoint list, from [`LoadBalance::balancer`].
pub trait Balancer: Send + Sync + 'static {
    /// The endpoint for a call with `route`: an index of an active endpoint in the list the
    /// balancer was built for. `is_down(index)` tells an endpoint to avoid: inactive, failed
    /// recently (and not yet due for a retry), or already tried by this call.
    ///
    /// `None`, or an index that is not of an active endpoint, lets the call go to the
    /// endpoint that is due to be retried first (every endpoint is down, or the balancer
    /// knows no better). When the connection to the endpoint chosen cannot be made, the
    /// endpoint is marked down and the call asks again.
    fn pick(&self, route: Route, is_down: &dyn Fn(usize) -> bool) -> Option<usize>;
}

/// The default [`LoadBalance`]: TarsCpp's routing (round robin, static weights, modulo and
/// consistent hashing), as the [module documentation](self) describes.
///
/// The route table and the order are built with each list; the consistent-hash ring on the
/// first consistent-hashed call of the list, never per call.
#[derive(Debug, Clone, Copy, Default)]
pub struct TarsBalance;

impl LoadBalance for TarsBalance {
    fn balancer(&self, instances: &Instances) -> Box<dyn Balancer> {
        Box::new(TarsBalancer::new(instances))
    }
}

/// [`TarsBalance`]'s balancer of one list.
struct TarsBalancer {
    /// The active endpoints, then the inactive ones.
    all: Vec<Endpoint>,
    active: usize,
    /// Indices of `all` in TarsCpp's order.
    all_order: Vec<usize>,
    /// Indices of the active endpoints in TarsCpp's order.
    active_order: Vec<usize>,
    /// Hashed calls with static weights: the route table over every endpoint.
    hash_table: Option<WeightTable>,
    /// Calls without a key, with static weights: the route table over the active endpoints.
    round_table: Option<WeightTable>,
    /// The position of the next call without a key.
    next: AtomicUsize,
    /// The consistent-hash ring over the active endpoints, built when first needed.
    ring: OnceLock<HashRing>,
    /// The ring of [`Route::KeyHash`], one node per active endpoint, built when first needed.
    endpoint_ring: OnceLock<HashRing>,
}

impl fmt::Debug for TarsBalancer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TarsBalancer")
            .field("active", &self.active)
            .field("all", &self.all.len())
            .field("weighted", &self.round_table.is_some())
            .finish_non_exhaustive()
    }
}

impl TarsBalancer {
    fn new(instances: &Instances) -> Self {
        let active = &instances.active;
        let all: Vec<Endpoint> = active.iter().chain(&instances.inactive).cloned().collect();
        // TarsCpp weighs only when every active endpoint is weighted (`-v 1`)
        let weighted = !active.is_empty() && active.iter().all(|e| e.static_weight().is_some());
        Self {
            all_order: tarscpp_order(&all),
            active_order: tarscpp_order(active),
            hash_table: weighted.then(|| WeightTable::new(&all)).flatten(),
            round_table: weighted.then(|| WeightTable::new(active)).flatten(),
            // TarsCpp moves its position before it reads it: the first call takes the second
            next: AtomicUsize::new(1),
            ring: OnceLock::new(),
            endpoint_ring: OnceLock::new(),
            active: active.len(),
            all,
        }
    }

    /// Round robin: the next endpoint in turn (in the route table, with static weights) that
    /// is not down. As in TarsCpp, the position moves past the endpoints passed over.
    fn next_in_turn(&self, is_down: &dyn Fn(usize) -> bool) -> Option<usize> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let turns: &[usize] = match &self.round_table {
            Some(table) => table.slots(),
            None => &self.active_order,
        };
        let (step, index) = (0..turns.len())
            .map(|step| (step, turns[(start + step) % turns.len()]))
            .find(|&(_, index)| !is_down(index))?;
        if step > 0 {
            self.next.fetch_add(step, Ordering::Relaxed);
        }
        Some(index)
    }

    /// Modulo hashing: `sorted[code % n]` over every endpoint (or the weighted route table);
    /// if that one is inactive or down, modulo over the active endpoints, as TarsCpp's
    /// `getHashProxyForNormal` and `getHashProxyForWeight` do.
    fn hash(&self, code: u64, is_down: &dyn Fn(usize) -> bool) -> Option<usize> {
        if self.all.is_empty() {
            return None;
        }
        let first = match &self.hash_table {
            Some(table) => table.pick(code),
            None => self.all_order[position(code, self.all_order.len())],
        };
        if first < self.active && !is_down(first) {
            return Some(first);
        }
        // the chosen endpoint is out: hash again over the active ones, leaving out each one
        // that is down in turn
        let mut candidates = self.active_order.clone();
        while !candidates.is_empty() {
            let at = position(code, candidates.len());
            if !is_down(candidates[at]) {
                return Some(candidates[at]);
            }
            candidates.remove(at);
        }
        None
    }

    fn consistent_hash(&self, code: u64, is_down: &dyn Fn(usize) -> bool) -> Option<usize> {
        let ring = self
            .ring
            .get_or_init(|| HashRing::new(&self.all[..self.active]));
        ring.pick(code, is_down)
    }

    fn key_hash(&self, key: u64, is_down: &dyn Fn(usize) -> bool) -> Option<usize> {
        let ring = self
            .endpoint_ring
            .get_or_init(|| HashRing::by_endpoint(&self.all[..self.active]));
        ring.pick(spread(key), is_down)
    }
}

/// `code % len`, the code taken as unsigned 64 bits (TarsCpp's int64 modulo, fixed up when
/// negative, comes to the same).
fn position(code: u64, len: usize) -> usize {
    (code % len as u64) as usize
}

impl Balancer for TarsBalancer {
    fn pick(&self, route: Route, is_down: &dyn Fn(usize) -> bool) -> Option<usize> {
        match route {
            Route::Any => self.next_in_turn(is_down),
            Route::Hash(code) => self.hash(code, is_down),
            Route::ConsistentHash(code) => self.consistent_hash(code, is_down),
            Route::KeyHash(key) => self.key_hash(key, is_down),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::balance::mod_hash;
    use std::collections::HashSet;

    fn endpoints(hosts: &[&str]) -> Vec<Endpoint> {
        hosts
            .iter()
            .map(|host| Endpoint::new(*host, 10000))
            .collect()
    }

    #[test]
    fn round_robin_walks_tarscpp_order_from_the_second_and_skips_the_down() {
        // given out of order: TarsCpp's order compares "1:127.0.0.10:10000" below
        // "1:127.0.0.1:10000" ('0' < ':'), so it is .10, .1, .2: indices [1, 2, 0]
        let balancer = TarsBalance.balancer(&Instances::active(endpoints(&[
            "127.0.0.2",
            "127.0.0.10",
            "127.0.0.1",
        ])));
        let up = |_: usize| false;
        let picks: Vec<usize> = (0..6)
            .map(|_| balancer.pick(Route::Any, &up).unwrap())
            .collect();
        // from the second
        assert_eq!(picks, [2, 0, 1, 2, 0, 1]);
        // .2 (index 0) down: passed over, and the turn moves past it
        let picks: Vec<usize> = (0..4)
            .map(|_| balancer.pick(Route::Any, &|index| index == 0).unwrap())
            .collect();
        assert_eq!(picks, [2, 1, 2, 1]);
        assert_eq!(balancer.pick(Route::Any, &|_| true), None);
    }

    #[test]
    fn static_weights_walk_the_route_table_from_its_second_entry() {
        let weighted: Vec<Endpoint> = [100, 50, 10]
            .iter()
            .enumerate()
            .map(|(i, &w)| Endpoint::new(format!("127.0.0.{}", i + 1), 1).with_static_weight(w))
            .collect();
        let table = WeightTable::new(&weighted).unwrap();
        let balancer = TarsBalance.balancer(&Instances::active(weighted));
        let picks: Vec<usize> = (0..table.slots().len())
            .map(|_| balancer.pick(Route::Any, &|_| false).unwrap())
            .collect();
        let mut expected = table.slots()[1..].to_vec();
        expected.push(table.slots()[0]);
        assert_eq!(picks, expected);
    }

    #[test]
    fn hashing_without_inactive_endpoints_is_balance_mod_hash() {
        let list = endpoints(&["10.0.0.3", "10.0.0.1", "10.0.0.20", "10.0.0.4"]);
        let balancer = TarsBalance.balancer(&Instances::active(list.clone()));
        for code in (0..200u64).chain([u64::MAX, u64::MAX - 7, 1 << 63]) {
            for down in [None, Some(0), Some(1), Some(3)] {
                let is_down = |index: usize| Some(index) == down;
                assert_eq!(
                    balancer.pick(Route::Hash(code), &is_down),
                    mod_hash(code, &list, is_down),
                    "code {code}, down {down:?}"
                );
            }
        }
    }

    #[test]
    fn an_inactive_endpoint_chosen_sends_the_code_over_the_active_ones() {
        // TarsCpp: reg = [A, B(inactive), C(inactive), D, E] sorted; code 6 picks B (6 % 5 = 1),
        // so it hashes again over the active [A, D, E]: 6 % 3 = 0, A
        let instances = Instances {
            active: endpoints(&["10.0.0.1", "10.0.0.4", "10.0.0.5"]),
            inactive: endpoints(&["10.0.0.2", "10.0.0.3"]),
        };
        let balancer = TarsBalance.balancer(&instances);
        let is_down = |index: usize| index >= 3;
        assert_eq!(balancer.pick(Route::Hash(6), &is_down), Some(0));
        // code 3 picks D (3 % 5 = 3), which is active
        assert_eq!(balancer.pick(Route::Hash(3), &is_down), Some(1));
        // the consistent ring has the active hosts only
        for code in [0u64, 1 << 31, u64::from(u32::MAX)] {
            let picked = balancer.pick(Route::ConsistentHash(code), &is_down);
            assert!(picked.is_some_and(|index| index < 3), "{picked:?}");
        }
    }

    #[test]
    fn an_empty_list_picks_nothing() {
        let balancer = TarsBalance.balancer(&Instances::default());
        for route in [Route::Any, Route::Hash(3), Route::ConsistentHash(3)] {
            assert_eq!(balancer.pick(route, &|_| false), None);
        }
    }

    #[test]
    fn key_hash_spreads_over_every_endpoint_and_moves_only_the_keys_of_one_that_goes() {
        // three instances, two on one host: TarsCpp's ring gives that host one share
        let endpoints: Vec<Endpoint> = [
            ("10.0.0.1", 10000),
            ("10.0.0.1", 10001),
            ("10.0.0.2", 10000),
        ]
        .iter()
        .map(|&(host, port)| Endpoint::new(host, port))
        .collect();
        let balancer = TarsBalance.balancer(&Instances::active(endpoints.clone()));
        let up = |_: usize| false;
        let mut counts = [0usize; 3];
        let mut before = Vec::new();
        for key in 0..3000u64 {
            let index = balancer
                .pick(Route::KeyHash(key), &up)
                .expect("an endpoint");
            counts[index] += 1;
            before.push(index);
        }
        assert!(
            counts.iter().all(|&count| count > 500),
            "every endpoint gets a share: {counts:?}"
        );
        let consistent: HashSet<usize> = (0..3000u64)
            .filter_map(|code| balancer.pick(Route::ConsistentHash(code), &up))
            .collect();
        assert!(
            consistent.len() < 3,
            "TarsCpp's ring: small codes on one host, {consistent:?}"
        );

        // the second instance goes: only its keys move
        let down = |index: usize| index == 1;
        for (key, &was) in before.iter().enumerate() {
            let now = balancer
                .pick(Route::KeyHash(key as u64), &down)
                .expect("an endpoint");
            if was == 1 {
                assert_ne!(now, 1);
            } else {
                assert_eq!(now, was, "key {key} stays where it was");
            }
        }
    }
}
