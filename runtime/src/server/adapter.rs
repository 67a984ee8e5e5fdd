//! What TarsCpp sets per adapter (a listener and its servants) rather than per server: the
//! connection limit, the request queue's capacity and timeout, and which peers may connect.
//! Given with [`Listen`](super::Listen)'s methods; the builder's settings are the defaults.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The settings one listener overrides. `None`: the builder's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct AdapterSettings {
    pub(super) max_connections: Option<usize>,
    pub(super) queue_capacity: Option<usize>,
    pub(super) queue_timeout: Option<Duration>,
    pub(super) access: Option<AccessList>,
}

impl AdapterSettings {
    /// Whether nothing is overridden.
    pub(super) fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// In which order a listener's `allow` and `deny` patterns are checked (TarsCpp's `order`
/// key): the first list a peer's address matches decides; a peer matching neither is let in
/// only if there are no `allow` patterns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AccessOrder {
    /// `allow,deny`, TarsCpp's default: an address matching both is let in.
    #[default]
    AllowDeny,
    /// `deny,allow`: an address matching both is refused.
    DenyAllow,
}

/// Which peers a listener serves: TarsCpp's `allow`, `deny` and `order` keys of an adapter.
/// Patterns are IP addresses in which a part between dots may be `*` (`10.0.*.*`), compared
/// with the peer's address as text, part by part, as TarsCpp's `TC_Common::matchPeriod` does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct AccessList {
    pub(super) allow: Vec<String>,
    pub(super) deny: Vec<String>,
    pub(super) order: AccessOrder,
}

impl AccessList {
    /// Whether a peer at `ip` may connect.
    pub(super) fn admits(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            // an IPv4 peer of a dual-stack listener is written as IPv4, as TarsCpp sees it
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(IpAddr::V6(v6), IpAddr::V4)
                .to_string(),
            IpAddr::V4(v4) => v4.to_string(),
        };
        let matches = |patterns: &[String]| patterns.iter().any(|p| match_period(&ip, p));
        match self.order {
            AccessOrder::AllowDeny => {
                if matches(&self.allow) {
                    return true;
                }
                if matches(&self.deny) {
                    return false;
                }
            }
            AccessOrder::DenyAllow => {
                if matches(&self.deny) {
                    return false;
                }
                if matches(&self.allow) {
                    return true;
                }
            }
        }
        self.allow.is_empty()
    }
}

/// Whether `text` matches `pattern` part by part between dots, `*` matching any one part.
fn match_period(text: &str, pattern: &str) -> bool {
    let mut parts = text.split('.');
    let mut wanted = pattern.split('.');
    loop {
        match (parts.next(), wanted.next()) {
            (None, None) => return true,
            (Some(part), Some(want)) if want == "*" || want == part => {}
            _ => return false,
        }
    }
}

/// The requests of one listener waiting or running, against its queue capacity.
#[derive(Debug)]
pub(super) struct RequestLoad {
    capacity: usize,
    current: AtomicUsize,
    /// Where refusals are counted: the server's count, shared by its listeners.
    refused: Arc<AtomicU64>,
}

impl RequestLoad {
    pub(super) fn new(capacity: usize, refused: &Arc<AtomicU64>) -> Arc<Self> {
        Arc::new(Self {
            capacity: capacity.max(1),
            current: AtomicUsize::new(0),
            refused: Arc::clone(refused),
        })
    }

    /// A place for one more request, held until the guard is dropped; `None` at capacity,
    /// counted as a refusal.
    pub(super) fn admit(self: &Arc<Self>) -> Option<LoadGuard> {
        let admitted = self
            .current
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current < self.capacity).then_some(current + 1)
            });
        match admitted {
            Ok(_) => Some(LoadGuard(Arc::clone(self))),
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// One request counted in a [`RequestLoad`] until dropped.
#[derive(Debug)]
pub(super) struct LoadGuard(Arc<RequestLoad>);

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(allow: &[&str], deny: &[&str], order: AccessOrder) -> AccessList {
        AccessList {
            allow: allow.iter().map(ToString::to_string).collect(),
            deny: deny.iter().map(ToString::to_string).collect(),
            order,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn patterns_match_part_by_part() {
        assert!(match_period("10.0.3.4", "10.0.*.*"));
        assert!(match_period("10.0.3.4", "10.0.3.4"));
        assert!(!match_period("10.0.3.4", "10.0.*"), "as many parts");
        assert!(!match_period("10.1.3.4", "10.0.*.*"));
        assert!(!match_period("10.0.3.45", "10.0.3.4"));
    }

    #[test]
    fn allow_and_deny_in_either_order() {
        let open = AccessList::default();
        assert!(open.admits(ip("1.2.3.4")), "no patterns: everyone");

        let only_local = list(&["127.0.0.1", "10.*.*.*"], &[], AccessOrder::AllowDeny);
        assert!(only_local.admits(ip("127.0.0.1")) && only_local.admits(ip("10.9.8.7")));
        assert!(
            !only_local.admits(ip("192.168.0.1")),
            "allow patterns: only those"
        );
        assert!(
            only_local.admits(ip("::ffff:10.1.2.3")),
            "an IPv4 peer of a dual-stack listener"
        );

        let no_bad = list(&[], &["10.0.0.*"], AccessOrder::AllowDeny);
        assert!(!no_bad.admits(ip("10.0.0.9")) && no_bad.admits(ip("10.0.1.9")));

        let both = [&["10.*.*.*"][..], &["10.0.0.1"][..]];
        assert!(list(both[0], both[1], AccessOrder::AllowDeny).admits(ip("10.0.0.1")));
        assert!(!list(both[0], both[1], AccessOrder::DenyAllow).admits(ip("10.0.0.1")));
        assert!(list(both[0], both[1], AccessOrder::DenyAllow).admits(ip("10.0.0.2")));
    }

    #[test]
    fn the_load_admits_up_to_its_capacity() {
        let refused = Arc::new(AtomicU64::new(0));
        let load = RequestLoad::new(2, &refused);
        let first = load.admit().expect("room");
        let second = load.admit().expect("room");
        assert!(load.admit().is_none(), "full");
        assert_eq!(refused.load(Ordering::Relaxed), 1);
        drop(first);
        let third = load.admit().expect("room again");
        drop((second, third));
        assert_eq!(load.current.load(Ordering::Acquire), 0);
    }
}
