//! The aggregation of finished calls between two reports: a table of lines keyed by who called
//! what, sharded by thread so that workers recording calls at once (even calls of one hot
//! line) rarely meet on one lock, and allocating only for a line a thread sees for the first
//! time in an interval. A line may so be counted in several shards: the report merges them.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::stat_f::StatMicMsgBody;
use crate::support::lock;

/// The latency buckets of `intervalCount`, TarsCpp's default time points in milliseconds: a
/// successful call of `t` ms counts in the first bucket whose bound is above `t`; one of 3000
/// ms or more counts in none (as in TarsCpp).
pub const INTERVAL_POINTS: [i32; 9] = [5, 10, 50, 100, 200, 500, 1000, 2000, 3000];

/// How many shards a table has: threads take them in turn, so that up to this many threads
/// recording at once each have one to themselves.
const SHARDS: usize = 16;

/// The shard the next thread to record a call takes.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard, the same in every table.
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

/// The lines one shard holds at most within an interval; calls of new lines beyond it are
/// dropped (and counted), so that peers sending made-up function names cannot grow it.
const MAX_LINES_PER_SHARD: usize = 4096;

/// How a call ended, for the body's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Answered with success: counted with its time.
    Success,
    /// Timed out.
    Timeout,
    /// Failed otherwise.
    Exception,
}

/// The address of the other side of a line: a host as the endpoint names it (a client's
/// callee), or a peer's IP address (a server's caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Ip<'a> {
    Host(&'a str),
    Addr(IpAddr),
}

/// What a line is about, borrowed from the call: hashed and compared without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct LineKey<'a> {
    /// The other side's name: a client's callee object, a server's kind of caller.
    pub(super) peer: &'a str,
    pub(super) function: &'a str,
    pub(super) ip: Ip<'a>,
    pub(super) port: u16,
}

/// A [`LineKey`] kept in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OwnedKey {
    pub(super) peer: String,
    pub(super) function: String,
    pub(super) ip: OwnedIp,
    pub(super) port: u16,
}

/// An [`Ip`] kept in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum OwnedIp {
    Host(String),
    Addr(IpAddr),
}

impl OwnedIp {
    /// The address as the head's text.
    pub(super) fn text(&self) -> String {
        match self {
            Self::Host(host) => host.clone(),
            Self::Addr(addr) => addr.to_string(),
        }
    }
}

impl OwnedKey {
    fn borrowed(&self) -> LineKey<'_> {
        LineKey {
            peer: &self.peer,
            function: &self.function,
            ip: match &self.ip {
                OwnedIp::Host(host) => Ip::Host(host),
                OwnedIp::Addr(addr) => Ip::Addr(*addr),
            },
            port: self.port,
        }
    }
}

impl LineKey<'_> {
    fn to_owned_key(self) -> OwnedKey {
        OwnedKey {
            peer: self.peer.to_string(),
            function: self.function.to_string(),
            ip: match self.ip {
                Ip::Host(host) => OwnedIp::Host(host.to_string()),
                Ip::Addr(addr) => OwnedIp::Addr(addr),
            },
            port: self.port,
        }
    }
}

/// The counts of one line over an interval, as TarsCpp's `StatReport::submit` merges them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Counts {
    count: u64,
    timeout_count: u64,
    exec_count: u64,
    buckets: [u64; INTERVAL_POINTS.len()],
    total_ms: u64,
    max_ms: u64,
    /// The shortest success of at least 1 ms; 0 while there is none.
    min_ms: u64,
}

impl Counts {
    /// Counts one call.
    pub(super) fn add(&mut self, outcome: Outcome, elapsed: Duration) {
        match outcome {
            Outcome::Success => {
                let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
                self.count += 1;
                self.total_ms = self.total_ms.saturating_add(ms);
                self.max_ms = self.max_ms.max(ms);
                if ms != 0 && (self.min_ms == 0 || ms < self.min_ms) {
                    self.min_ms = ms;
                }
                if let Some(bucket) = INTERVAL_POINTS
                    .iter()
                    .position(|&point| ms < u64::from(point.unsigned_abs()))
                {
                    self.buckets[bucket] += 1;
                }
            }
            Outcome::Timeout => self.timeout_count += 1,
            Outcome::Exception => self.exec_count += 1,
        }
    }

    /// Adds another line's counts (two lines that report under one head).
    pub(super) fn merge(&mut self, other: &Counts) {
        self.count += other.count;
        self.timeout_count += other.timeout_count;
        self.exec_count += other.exec_count;
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine += theirs;
        }
        self.total_ms = self.total_ms.saturating_add(other.total_ms);
        self.max_ms = self.max_ms.max(other.max_ms);
        if other.min_ms != 0 && (self.min_ms == 0 || other.min_ms < self.min_ms) {
            self.min_ms = other.min_ms;
        }
    }

    /// The wire body: every bucket present (0 for none), as TarsCpp fills them in.
    pub(super) fn body(&self) -> StatMicMsgBody {
        let int = |value: u64| i32::try_from(value).unwrap_or(i32::MAX);
        StatMicMsgBody {
            count: int(self.count),
            timeout_count: int(self.timeout_count),
            exec_count: int(self.exec_count),
            interval_count: INTERVAL_POINTS
                .iter()
                .zip(self.buckets)
                .map(|(&point, calls)| (point, int(calls)))
                .collect::<BTreeMap<_, _>>(),
            total_rsp_time: i64::try_from(self.total_ms).unwrap_or(i64::MAX),
            max_rsp_time: int(self.max_ms),
            min_rsp_time: int(self.min_ms),
        }
    }
}

/// One shard: lines by the hash of their key (the few that collide share a list).
type Shard = HashMap<u64, Vec<(OwnedKey, Counts)>>;

/// The lines of one side (client or server) between two reports.
#[derive(Debug)]
pub(super) struct CallTable {
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
    /// Calls dropped for want of room since the last drain.
    dropped: AtomicU64,
}

impl Default for CallTable {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            dropped: AtomicU64::new(0),
        }
    }
}

impl CallTable {
    /// Counts one call of the line `key`.
    pub(super) fn record(&self, key: LineKey<'_>, outcome: Outcome, elapsed: Duration) {
        let hash = self.hasher.hash_one(key);
        // a thread being torn down has no locals left: any shard will do
        let index = SHARD.try_with(|shard| *shard).unwrap_or(0);
        let mut shard = lock(&self.shards[index]);
        if let Some(lines) = shard.get_mut(&hash) {
            if let Some((_, counts)) = lines.iter_mut().find(|(kept, _)| kept.borrowed() == key) {
                counts.add(outcome, elapsed);
                return;
            }
        }
        if shard.len() >= MAX_LINES_PER_SHARD {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut counts = Counts::default();
        counts.add(outcome, elapsed);
        shard
            .entry(hash)
            .or_default()
            .push((key.to_owned_key(), counts));
    }

    /// Takes every line counted since the last drain (a line once per shard that counted it),
    /// and how many calls were dropped.
    pub(super) fn drain(&self) -> (Vec<(OwnedKey, Counts)>, u64) {
        let mut lines = Vec::new();
        for shard in self.shards.iter() {
            let taken = std::mem::take(&mut *lock(shard));
            lines.extend(taken.into_values().flatten());
        }
        (lines, self.dropped.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(function: &'a str, host: &'a str) -> LineKey<'a> {
        LineKey {
            peer: "App.Server",
            function,
            ip: Ip::Host(host),
            port: 1,
        }
    }

    #[test]
    fn buckets_follow_tarscpp_bounds() {
        let mut counts = Counts::default();
        for ms in [0, 4, 5, 9, 10, 49, 2999, 3000, 10_000] {
            counts.add(Outcome::Success, Duration::from_millis(ms));
        }
        let body = counts.body();
        let expected: BTreeMap<i32, i32> = [
            (5, 2),
            (10, 2),
            (50, 2),
            (100, 0),
            (200, 0),
            (500, 0),
            (1000, 0),
            (2000, 0),
            (3000, 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(body.interval_count, expected);
        assert_eq!(body.count, 9);
        assert_eq!(body.max_rsp_time, 10_000);
        assert_eq!(body.min_rsp_time, 4, "0 ms does not count as the minimum");
        assert_eq!(
            body.total_rsp_time,
            4 + 5 + 9 + 10 + 49 + 2999 + 3000 + 10_000
        );
    }

    #[test]
    fn failures_count_apart_and_leave_times_alone() {
        let mut counts = Counts::default();
        counts.add(Outcome::Timeout, Duration::from_millis(3000));
        counts.add(Outcome::Exception, Duration::from_millis(7));
        counts.add(Outcome::Exception, Duration::from_millis(8));
        let body = counts.body();
        assert_eq!((body.count, body.timeout_count, body.exec_count), (0, 1, 2));
        assert_eq!(
            (body.max_rsp_time, body.min_rsp_time, body.total_rsp_time),
            (0, 0, 0)
        );
        assert!(body.interval_count.values().all(|&calls| calls == 0));
        assert_eq!(body.interval_count.len(), INTERVAL_POINTS.len());
    }

    #[test]
    fn merge_keeps_the_nonzero_minimum() {
        let mut a = Counts::default();
        a.add(Outcome::Success, Duration::from_millis(0));
        let mut b = Counts::default();
        b.add(Outcome::Success, Duration::from_millis(12));
        b.add(Outcome::Timeout, Duration::ZERO);
        a.merge(&b);
        let body = a.body();
        assert_eq!((body.count, body.timeout_count), (2, 1));
        assert_eq!((body.min_rsp_time, body.max_rsp_time), (12, 12));
        assert_eq!(body.interval_count[&5], 1);
        assert_eq!(body.interval_count[&50], 1);
    }

    #[test]
    fn table_counts_lines_apart_and_drains() {
        let table = CallTable::default();
        for _ in 0..3 {
            table.record(key("a", "h1"), Outcome::Success, Duration::from_millis(1));
        }
        table.record(key("a", "h2"), Outcome::Timeout, Duration::ZERO);
        table.record(key("b", "h1"), Outcome::Exception, Duration::ZERO);
        let (mut lines, dropped) = table.drain();
        assert_eq!(dropped, 0);
        lines.sort_by(|x, y| (&x.0.function, x.0.ip.text()).cmp(&(&y.0.function, y.0.ip.text())));
        let summary: Vec<_> = lines
            .iter()
            .map(|(key, counts)| {
                let body = counts.body();
                (
                    key.function.as_str(),
                    key.ip.text(),
                    body.count,
                    body.timeout_count,
                    body.exec_count,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a", "h1".to_string(), 3, 0, 0),
                ("a", "h2".to_string(), 0, 1, 0),
                ("b", "h1".to_string(), 0, 0, 1),
            ]
        );
        assert!(table.drain().0.is_empty(), "a drain empties the table");
    }

    #[test]
    fn table_is_bounded() {
        let table = CallTable::default();
        // one thread, one shard
        let names: Vec<String> = (0..MAX_LINES_PER_SHARD + 1000)
            .map(|i| format!("f{i}"))
            .collect();
        for name in &names {
            table.record(key(name, "h"), Outcome::Success, Duration::ZERO);
        }
        table.record(key("f0", "h"), Outcome::Success, Duration::ZERO);
        let (lines, dropped) = table.drain();
        assert!(lines.len() <= MAX_LINES_PER_SHARD);
        assert_eq!(dropped, 1000, "new lines beyond the bound are dropped");
        let f0 = lines
            .iter()
            .find(|(key, _)| key.function == "f0")
            .expect("f0");
        assert_eq!(f0.1.body().count, 2, "a line kept still counts");
    }

    #[test]
    fn threads_count_into_shards_of_their_own_and_drain_merges() {
        let table = std::sync::Arc::new(CallTable::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let table = table.clone();
                std::thread::spawn(move || {
                    for ms in 0..1000 {
                        let outcome = if ms % 10 == 0 {
                            Outcome::Timeout
                        } else {
                            Outcome::Success
                        };
                        table.record(key("hot", "h"), outcome, Duration::from_millis(ms));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("the thread records");
        }
        let (lines, dropped) = table.drain();
        assert_eq!(dropped, 0);
        assert!(!lines.is_empty() && lines.len() <= 4);
        let mut total = Counts::default();
        for (key, counts) in &lines {
            assert_eq!(key.function, "hot");
            total.merge(counts);
        }
        let body = total.body();
        assert_eq!((body.count, body.timeout_count), (3600, 400));
        assert_eq!((body.min_rsp_time, body.max_rsp_time), (1, 999));
    }
}
