//! The receiving side: the delivery id a callback carries, and a bounded filter of the ids
//! already handled.

use std::collections::HashMap;

use crate::packet::Context;
use crate::server::Current;

/// Context key of a callback's delivery sequence (decimal), per registration from 1 up.
pub const CALLBACK_ID_KEY: &str = "TARS_CALLBACK_ID";
/// Context key of a callback's registration id.
pub const CALLBACK_REGISTRATION_KEY: &str = "TARS_CALLBACK_REG";

/// Which delivery a callback is: its registration and its sequence in it. A callback may come
/// more than once (the server retries until it gets an answer): the same id means the same
/// callback.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeliveryId {
    /// The registration id the client registered with.
    pub registration: String,
    /// The registration's sequence, from 1 up, in the order the server published.
    pub sequence: u64,
}

/// Why a request's context holds no valid delivery id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryIdError {
    /// A key is missing: the request is no callback of a hub.
    #[error("the request context has no `{0}`")]
    Missing(&'static str),
    /// The sequence is not a decimal number.
    #[error("`{CALLBACK_ID_KEY}` is `{0}`, not a sequence number")]
    BadSequence(String),
}

impl DeliveryId {
    /// The delivery id a callback request carries in its context.
    ///
    /// # Errors
    /// When a key is missing or the sequence does not parse.
    pub fn from_context(context: &Context) -> Result<Self, DeliveryIdError> {
        let registration = context
            .get(CALLBACK_REGISTRATION_KEY)
            .ok_or(DeliveryIdError::Missing(CALLBACK_REGISTRATION_KEY))?;
        let sequence = context
            .get(CALLBACK_ID_KEY)
            .ok_or(DeliveryIdError::Missing(CALLBACK_ID_KEY))?;
        let sequence = sequence
            .parse()
            .map_err(|_| DeliveryIdError::BadSequence(sequence.clone()))?;
        Ok(Self {
            registration: registration.clone(),
            sequence,
        })
    }

    /// The delivery id of the callback being served, for a servant's method.
    ///
    /// # Errors
    /// As [`from_context`](Self::from_context).
    pub fn from_current(current: &Current) -> Result<Self, DeliveryIdError> {
        Self::from_context(current.context())
    }

    /// The context a callback with this id carries.
    pub fn to_context(&self) -> Context {
        Context::from([
            (CALLBACK_ID_KEY.to_string(), self.sequence.to_string()),
            (
                CALLBACK_REGISTRATION_KEY.to_string(),
                self.registration.clone(),
            ),
        ])
    }
}

/// What the filter knows of one registration.
#[derive(Debug, Clone, Copy)]
struct Track {
    /// The highest sequence accepted.
    highest: u64,
    /// Bit `i` set: sequence `highest - i` was accepted.
    seen: u128,
    /// When the registration was last touched, for eviction.
    touched: u64,
}

/// Drops callbacks already handled, so that an at-least-once delivery acts exactly once.
///
/// Per registration it keeps the highest sequence accepted and which of the `window`
/// sequences below it were: a callback is accepted once; one older than the window is taken
/// for a repeat and dropped. The hub delivers each registration's callbacks in order, so a
/// window of 1 would do for it alone; a wider one tolerates callbacks reordered by other
/// senders. Memory is bounded: at most `max_registrations` are tracked, the least recently
/// touched forgotten first (a forgotten registration accepts its next callback, whatever it
/// is).
///
/// ```
/// use tars_rpc::callback::{Deduper, DeliveryId};
///
/// let mut seen = Deduper::new(64, 10_000);
/// let id = |sequence| DeliveryId { registration: "r1".into(), sequence };
/// assert!(seen.accept(&id(1)));
/// assert!(seen.accept(&id(2)));
/// assert!(!seen.accept(&id(2))); // retried after a lost reply
/// assert!(!seen.accept(&id(1)));
/// ```
#[derive(Debug)]
pub struct Deduper {
    window: u32,
    max_registrations: usize,
    tracks: HashMap<String, Track>,
    clock: u64,
}

impl Deduper {
    /// The widest window: the filter keeps one bit per sequence in a `u128`.
    pub const MAX_WINDOW: u32 = 128;

    /// A filter remembering `window` sequences below the highest (clamped to 1 ..=
    /// [`MAX_WINDOW`](Self::MAX_WINDOW)) for at most `max_registrations` registrations (at
    /// least 1).
    pub fn new(window: u32, max_registrations: usize) -> Self {
        Self {
            window: window.clamp(1, Self::MAX_WINDOW),
            max_registrations: max_registrations.max(1),
            tracks: HashMap::new(),
            clock: 0,
        }
    }

    /// Whether the callback `id` is new: true the first time, false for a repeat (and for one
    /// older than the window).
    pub fn accept(&mut self, id: &DeliveryId) -> bool {
        self.clock += 1;
        let clock = self.clock;
        if let Some(track) = self.tracks.get_mut(&id.registration) {
            track.touched = clock;
            if id.sequence > track.highest {
                let shift = id.sequence - track.highest;
                track.seen = if shift >= 128 { 0 } else { track.seen << shift };
                track.seen |= 1;
                track.highest = id.sequence;
                return true;
            }
            let below = track.highest - id.sequence;
            if below >= u64::from(self.window) || track.seen & (1 << below) != 0 {
                return false;
            }
            track.seen |= 1 << below;
            return true;
        }
        if self.tracks.len() >= self.max_registrations {
            if let Some(oldest) = self
                .tracks
                .iter()
                .min_by_key(|(_, track)| track.touched)
                .map(|(registration, _)| registration.clone())
            {
                self.tracks.remove(&oldest);
            }
        }
        self.tracks.insert(
            id.registration.clone(),
            Track {
                highest: id.sequence,
                seen: 1,
                touched: clock,
            },
        );
        true
    }

    /// The highest sequence accepted for `registration`, if it is tracked.
    pub fn highest(&self, registration: &str) -> Option<u64> {
        self.tracks.get(registration).map(|track| track.highest)
    }

    /// How many registrations are tracked.
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    /// Whether no registration is tracked.
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(registration: &str, sequence: u64) -> DeliveryId {
        DeliveryId {
            registration: registration.to_string(),
            sequence,
        }
    }

    #[test]
    fn accepts_each_once_within_the_window() {
        let mut seen = Deduper::new(4, 10);
        assert!(seen.accept(&id("a", 5)));
        assert!(seen.accept(&id("a", 3))); // late but within the window
        assert!(!seen.accept(&id("a", 3)));
        assert!(!seen.accept(&id("a", 5)));
        assert!(seen.accept(&id("a", 6)));
        // 1 is 5 below the highest: outside a window of 4, taken for a repeat
        assert!(!seen.accept(&id("a", 1)));
        assert!(seen.accept(&id("a", 200))); // a jump past 128 clears the bits
        assert!(!seen.accept(&id("a", 200)));
        assert!(seen.accept(&id("a", 199)));
        assert_eq!(seen.highest("a"), Some(200));
    }

    #[test]
    fn in_order_redelivery_is_dropped() {
        let mut seen = Deduper::new(1, 10);
        let accepted: Vec<u64> = [1, 2, 3, 2, 3, 4, 4, 5]
            .into_iter()
            .filter(|&sequence| seen.accept(&id("r", sequence)))
            .collect();
        assert_eq!(accepted, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn memory_is_bounded_by_registrations() {
        let mut seen = Deduper::new(128, 3);
        for n in 0..1000 {
            assert!(seen.accept(&id(&format!("r{n}"), 1)));
            assert!(seen.len() <= 3);
        }
        // the most recent are still tracked
        assert!(!seen.accept(&id("r999", 1)));
        assert_eq!(seen.highest("r0"), None);
        assert_eq!(Deduper::new(100_000, 0).window, Deduper::MAX_WINDOW);
    }

    #[test]
    fn delivery_ids_travel_in_the_context() {
        let delivery = id("reg", 77);
        assert_eq!(
            DeliveryId::from_context(&delivery.to_context()).unwrap(),
            delivery
        );
        assert_eq!(
            DeliveryId::from_context(&Context::new()),
            Err(DeliveryIdError::Missing(CALLBACK_REGISTRATION_KEY))
        );
        let mut bad = delivery.to_context();
        bad.insert(CALLBACK_ID_KEY.into(), "x".into());
        assert!(matches!(
            DeliveryId::from_context(&bad),
            Err(DeliveryIdError::BadSequence(_))
        ));
    }
}
