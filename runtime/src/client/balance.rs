//! Choosing an endpoint for a hashed call exactly as TarsCpp's client does, so that C++ and
//! Rust clients send a key to the same instance.
//!
//! TarsCpp (`servant/libservant/EndpointManager.cpp`) orders an object's endpoints by the string
//! `"1:<host>:<port>"` (byte order: `127.0.0.10` before `127.0.0.2`), whatever order the
//! registry or the proxy string gave, and then:
//!
//! * modulo hashing picks `sorted[code % n]` ([`mod_hash`]); with static weights on every
//!   endpoint (`-v 1 -w W`), `sorted[T[code % len(T)]]` over a route table `T` built from the
//!   weights ([`WeightTable`]);
//! * consistent hashing looks the code up on a ketama ring ([`HashRing`]).
//!
//! The ring has TarsCpp's two quirks, kept on purpose since matching the C++ clients is the
//! point: its nodes are **hosts**, not endpoints (several ports on one host share one node,
//! and the lowest of them gets all of it), and the code is the position on the ring as it is,
//! not hashed again, so small codes (below about 2^25 for two hosts) all land on one host.
//! Hash your keys well (or use [`spread`] on them) before routing by them.
//!
//! ```
//! use tars_rpc::client::balance::{mod_hash, HashRing};
//! use tars_rpc::endpoint::Endpoint;
//!
//! let endpoints: Vec<Endpoint> = ["tcp -h 127.0.0.2 -p 10002", "tcp -h 127.0.0.1 -p 10001"]
//!     .iter()
//!     .map(|text| text.parse().unwrap())
//!     .collect();
//! // sorted as TarsCpp sorts them, 127.0.0.1 first: code 3 goes to sorted[1]
//! assert_eq!(mod_hash(3, &endpoints, |_| false), Some(0));
//! let ring = HashRing::new(&endpoints);
//! assert!(ring.pick(0xdead_beef, |_| false).is_some());
//! ```

use md5::{Digest, Md5};

use crate::endpoint::Endpoint;

/// Ring names per host without static weights (TarsCpp: 100 virtual nodes, 4 points each).
const NAMES_PER_HOST: usize = 25;

/// The limits of TarsCpp's weight ratio (`maxW / minW`) when it builds a route table.
const MIN_WEIGHT_RANGE: i64 = 10;
const MAX_WEIGHT_RANGE: i64 = 100;

/// The indices of `endpoints` in TarsCpp's order: by `"1:<host>:<port>"` as bytes.
pub fn tarscpp_order(endpoints: &[Endpoint]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..endpoints.len()).collect();
    order.sort_by_cached_key(|&index| sort_key(&endpoints[index]));
    order
}

fn sort_key(endpoint: &Endpoint) -> String {
    format!("1:{}:{}", endpoint.host(), endpoint.port())
}

/// Static weights apply only when every endpoint carries one; a mix is plain (TarsCpp).
fn static_weights(endpoints: &[Endpoint]) -> Option<Vec<i32>> {
    endpoints.iter().map(Endpoint::static_weight).collect()
}

/// TarsCpp's modulo hashing: the index (into `endpoints`) of `sorted[code % n]`, skipping
/// endpoints that `is_down`: as TarsCpp does, a down endpoint is taken out of the sorted list
/// and the modulo taken again over the rest. `None` when every endpoint is down.
///
/// With static weights on every endpoint, use [`WeightTable`] instead.
pub fn mod_hash(
    code: u64,
    endpoints: &[Endpoint],
    is_down: impl Fn(usize) -> bool,
) -> Option<usize> {
    let mut candidates = tarscpp_order(endpoints);
    while !candidates.is_empty() {
        let position = (code % candidates.len() as u64) as usize;
        let index = candidates[position];
        if !is_down(index) {
            return Some(index);
        }
        candidates.remove(position);
    }
    None
}

/// TarsCpp's route table for static weights: hashed calls go to `sorted[T[code % len(T)]]`, and
/// weighted round robin walks `T`.
///
/// Built as `EndpointManager::buildStaticWeightList` builds it: the weights `W > 0` (in
/// TarsCpp's order) are scaled to `s = W * r / maxW` with `r = clamp(maxW / minW, 10, 100)`;
/// endpoints whose `s` is 0 come first, once each; then `sum(s)` rounds of smooth weighted
/// selection, breaking ties toward the later entry as a `std::multimap` walked backwards does.
///
/// ```
/// use tars_rpc::client::balance::WeightTable;
/// use tars_rpc::endpoint::Endpoint;
///
/// let endpoints: Vec<Endpoint> = [100, 50, 10]
///     .iter()
///     .enumerate()
///     .map(|(i, &w)| Endpoint::new(format!("127.0.0.{}", i + 1), 10000).with_static_weight(w))
///     .collect();
/// let table = WeightTable::new(&endpoints).expect("every endpoint is weighted");
/// assert_eq!(table.slots(), &[0, 1, 0, 0, 1, 0, 2, 0, 1, 0, 0, 1, 0, 0, 1, 0]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightTable {
    /// Indices into the endpoints the table was built from.
    slots: Vec<usize>,
}

impl WeightTable {
    /// The table for `endpoints`, or `None` unless every endpoint has a static weight (`-v 1`)
    /// and at least one weight is above 0.
    pub fn new(endpoints: &[Endpoint]) -> Option<Self> {
        let weights = static_weights(endpoints)?;
        let weighted: Vec<(usize, i64)> = tarscpp_order(endpoints)
            .into_iter()
            .map(|index| (index, i64::from(weights[index])))
            .filter(|&(_, weight)| weight > 0)
            .collect();
        let max = weighted.iter().map(|&(_, weight)| weight).max()?;
        let min = weighted.iter().map(|&(_, weight)| weight).min()?;
        let range = (max / min).clamp(MIN_WEIGHT_RANGE, MAX_WEIGHT_RANGE);
        let scaled: Vec<(usize, i64)> = weighted
            .iter()
            .map(|&(index, weight)| (index, weight * range / max))
            .collect();
        let mut slots: Vec<usize> = scaled
            .iter()
            .filter(|&&(_, share)| share == 0)
            .map(|&(index, _)| index)
            .collect();
        // (current key, endpoint, share), ascending by key, equal keys in insertion order
        let mut entries: Vec<(i64, usize, i64)> = scaled
            .iter()
            .filter(|&&(_, share)| share > 0)
            .map(|&(index, share)| (share, index, share))
            .collect();
        entries.sort_by_key(|&(key, _, _)| key);
        let total: i64 = entries.iter().map(|&(_, _, share)| share).sum();
        for _ in 0..total {
            // walked from the largest key down; among equal keys the later entry first
            entries.reverse();
            if let Some((key, index, share)) = entries.first_mut() {
                slots.push(*index);
                *key += *share - total;
            }
            for (key, _, share) in entries.iter_mut().skip(1) {
                *key += *share;
            }
            // re-inserted in walk order, each after the entries with an equal key
            entries.sort_by_key(|&(key, _, _)| key);
        }
        (!slots.is_empty()).then_some(Self { slots })
    }

    /// The route table: indices into the endpoints it was built from.
    pub fn slots(&self) -> &[usize] {
        &self.slots
    }

    /// The endpoint for a hashed call with `code`: `T[code % len(T)]`.
    pub fn pick(&self, code: u64) -> usize {
        self.slots[(code % self.slots.len() as u64) as usize]
    }
}

/// TarsCpp's consistent-hash ring (ketama): each host gets 25 names `"<host>_<j>"` (with static
/// weights on every endpoint, `max(1, W / 4)`, and none for `W <= 0`), and each name 4 points,
/// the MD5 of the name read as four little-endian `u32`s. A host's node is its first endpoint
/// in TarsCpp's order.
#[derive(Debug, Clone)]
pub struct HashRing {
    /// (position, endpoint index), ascending by position.
    points: Vec<(u32, usize)>,
}

impl HashRing {
    /// The ring over `endpoints`, as TarsCpp builds it: one node per host.
    pub fn new(endpoints: &[Endpoint]) -> Self {
        let mut hosts: Vec<usize> = Vec::new();
        for index in tarscpp_order(endpoints) {
            if !hosts
                .iter()
                .any(|&seen| endpoints[seen].host() == endpoints[index].host())
            {
                hosts.push(index);
            }
        }
        Self::with_nodes(endpoints, hosts, |endpoint| endpoint.host().to_string())
    }

    /// A ring with one node per endpoint (`"<host>:<port>_<j>"` names), not TarsCpp's: every
    /// instance gets its share, however many share a host. For
    /// [`Route::KeyHash`](super::load_balance::Route::KeyHash).
    pub fn by_endpoint(endpoints: &[Endpoint]) -> Self {
        let nodes = tarscpp_order(endpoints);
        Self::with_nodes(endpoints, nodes, |endpoint| {
            format!("{}:{}", endpoint.host(), endpoint.port())
        })
    }

    fn with_nodes(
        endpoints: &[Endpoint],
        nodes: Vec<usize>,
        node_name: impl Fn(&Endpoint) -> String,
    ) -> Self {
        let weights = static_weights(endpoints);
        let mut points = Vec::new();
        for index in nodes {
            let names = match &weights {
                None => NAMES_PER_HOST,
                Some(weights) if weights[index] <= 0 => 0,
                Some(weights) => (weights[index] / 4).max(1) as usize,
            };
            let node = node_name(&endpoints[index]);
            for name in 0..names {
                let digest = Md5::digest(format!("{node}_{name}").as_bytes());
                for word in digest.chunks_exact(4) {
                    let position = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
                    points.push((position, index));
                }
            }
        }
        points.sort_unstable_by_key(|&(position, _)| position);
        Self { points }
    }

    /// The endpoint (an index into the endpoints the ring was built from) for a call with
    /// `code`, leaving out endpoints that `is_down` as TarsCpp leaves their hosts out of the
    /// ring. The position is the low 32 bits of `code`; the first point above it wins, and a
    /// position at or below the lowest point, or above the highest, goes to the lowest.
    /// `None` when the ring is empty or every endpoint on it is down.
    pub fn pick(&self, code: u64, is_down: impl Fn(usize) -> bool) -> Option<usize> {
        let position = code as u32;
        let mut up = self.points.iter().filter(|&&(_, index)| !is_down(index));
        let &(lowest, lowest_index) = up.next()?;
        let highest = self
            .points
            .iter()
            .rev()
            .find(|&&(_, index)| !is_down(index))
            .map_or(lowest, |&(point, _)| point);
        if position <= lowest || position >= highest {
            // equal to the highest point, TarsCpp reads past its ring; wrapping is the intent
            return Some(lowest_index);
        }
        let start = self.points.partition_point(|&(point, _)| point <= position);
        self.points[start..]
            .iter()
            .find(|&&(_, index)| !is_down(index))
            .map(|&(_, index)| index)
    }

    /// The number of points on the ring.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether the ring has no points (no endpoints, or every weight 0).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// Spreads a key over the whole ring: the ring takes a code as its position unhashed, so ids
/// that are small numbers would all go to one host. Both TarsCpp and this crate route a code the
/// same way, so spread keys the same way on every client that must agree (this is the 64-bit
/// finalizer of MurmurHash3, cheap and well mixed).
pub fn spread(key: u64) -> u64 {
    let mut mixed = key;
    mixed ^= mixed >> 33;
    mixed = mixed.wrapping_mul(0xff51_afd7_ed55_8ccd);
    mixed ^= mixed >> 33;
    mixed = mixed.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    mixed ^ (mixed >> 33)
}
