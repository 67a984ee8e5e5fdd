//! The settings every proxy of a [`Communicator`](super::Communicator) shares, set through its
//! [builder](super::CommunicatorBuilder), and the [`ReconnectBackoff`] among them.

use std::path::PathBuf;
use std::time::Duration;

use super::observer::ObserverSlot;
use crate::framing::DEFAULT_MAX_FRAME_LEN;
use crate::tls::TlsClientConfig;

/// The default interval between lookups of an object resolved through a discovery (TarsCpp's
/// `refresh-endpoint-interval`).
pub(super) const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The shortest interval between lookups the builder accepts.
pub(super) const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// The settings of a communicator's proxies (the builder's documentation tells each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Config {
    pub(super) call_timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) max_frame_len: usize,
    pub(super) keepalive_interval: Duration,
    pub(super) reconnect_backoff: ReconnectBackoff,
    pub(super) push_queue_capacity: usize,
    /// How long an endpoint that failed is passed over, doubling with each failure in a row.
    pub(super) failed_endpoint_backoff: ReconnectBackoff,
    /// The interval between lookups of an object resolved through the discovery.
    pub(super) refresh_interval: Duration,
    /// The set division (`name.area.group`) lookups ask for, if any.
    pub(super) division: Option<String>,
    /// Where each resolved object's last good endpoint list is kept, if anywhere.
    pub(super) cache_dir: Option<PathBuf>,
    /// How `ssl` endpoints are reached; calls to them fail without it.
    pub(super) tls: Option<TlsClientConfig>,
    /// Told of every finished call, if set.
    pub(super) observer: ObserverSlot,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            keepalive_interval: Duration::from_secs(10),
            reconnect_backoff: ReconnectBackoff::default(),
            push_queue_capacity: 1024,
            failed_endpoint_backoff: ReconnectBackoff::new(
                Duration::from_secs(1),
                Duration::from_secs(30),
            ),
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            division: None,
            cache_dir: None,
            tls: None,
            observer: ObserverSlot::default(),
        }
    }
}

/// The shortest wait between reconnect attempts.
const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(1);

/// How long to wait between reconnect attempts: `initial`, then twice as long after every
/// attempt, up to `max` (see
/// [`CommunicatorBuilder::reconnect_backoff`](super::CommunicatorBuilder::reconnect_backoff));
/// also how long a failed endpoint is passed over (see
/// [`CommunicatorBuilder::failed_endpoint_backoff`](super::CommunicatorBuilder::failed_endpoint_backoff)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReconnectBackoff {
    /// The first wait. Default: 100 ms.
    pub(super) initial: Duration,
    /// The longest wait. Default: 5 s.
    pub(super) max: Duration,
}

impl Default for ReconnectBackoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

impl ReconnectBackoff {
    /// Waits from `initial`, doubling up to `max` (at least `initial`).
    pub(super) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
        }
    }

    /// The wait after `previous`: `initial` after no wait, else twice `previous` up to `max`;
    /// never less than 1 ms, so that a zero `initial` cannot make attempts back to back.
    pub(super) fn next(&self, previous: Duration) -> Duration {
        let floor = self.initial.max(MIN_RECONNECT_DELAY);
        if previous.is_zero() {
            floor
        } else {
            previous.saturating_mul(2).min(self.max).max(floor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_initial_up_to_max() {
        let backoff = ReconnectBackoff::new(Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(backoff, ReconnectBackoff::default());
        assert_eq!(backoff.next(Duration::ZERO), Duration::from_millis(100));
        assert_eq!(
            backoff.next(Duration::from_millis(100)),
            Duration::from_millis(200)
        );
        assert_eq!(backoff.next(Duration::from_secs(4)), Duration::from_secs(5));
        assert_eq!(backoff.next(Duration::from_secs(5)), Duration::from_secs(5));
        // max is at least initial; never less than 1 ms
        let odd = ReconnectBackoff::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(odd.next(Duration::ZERO), MIN_RECONNECT_DELAY);
        let backwards = ReconnectBackoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(backwards.max, Duration::from_secs(2));
    }
}
