//! The client's side of the durable-callback tests (`tests/callback.rs`,
//! `tests/callback_redis.rs`): the callback interface and an object serving it that records
//! every arrival and lets a `Deduper` drop repeats. Included with
//! `#[path = "common/callback_receiver.rs"] mod callback_receiver;`.
#![allow(dead_code)] // each test file takes part of it

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tars_rpc::callback::{Deduper, DeliveryId};
use tars_rpc::packet::ReturnCode;
use tars_rpc::{tars_interface, Current};
use tokio::sync::Notify as Wake;

pub const NOTIFY: &str = "Test.Callback.NotifyObj";

#[tars_interface]
pub trait Notify {
    async fn on_event(&self, current: &Current, n: i64) -> tars_rpc::Result<()>;
}

/// The client's callback object: every arrival, and those the deduper let through.
pub struct Receiver {
    pub seen: Mutex<Deduper>,
    pub arrivals: Mutex<Vec<(DeliveryId, i64)>>,
    pub accepted: Mutex<Vec<i64>>,
    wake: Wake,
}

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Notify for Receiver {
    async fn on_event(&self, current: &Current, n: i64) -> tars_rpc::Result<()> {
        let id = DeliveryId::from_current(current).map_err(|error| {
            tars_rpc::Error::new(ReturnCode::SERVER_DECODE_ERR, error.to_string())
        })?;
        lock(&self.arrivals).push((id.clone(), n));
        if lock(&self.seen).accept(&id) {
            lock(&self.accepted).push(n);
        }
        self.wake.notify_waiters();
        Ok(())
    }
}

impl Receiver {
    /// A receiver whose deduper keeps a window of 8 sequences.
    pub fn new() -> Arc<Self> {
        Self::with_window(8)
    }

    /// A receiver whose deduper keeps a window of `window` sequences.
    pub fn with_window(window: u32) -> Arc<Self> {
        Arc::new(Self {
            seen: Mutex::new(Deduper::new(window, 100)),
            arrivals: Mutex::new(Vec::new()),
            accepted: Mutex::new(Vec::new()),
            wake: Wake::new(),
        })
    }

    /// Waits until `check` holds, for at most `limit`; whether it holds.
    pub async fn wait(&self, limit: Duration, check: impl Fn(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let woken = self.wake.notified();
            if check(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return check(self);
            }
        }
    }

    pub fn accepted(&self) -> Vec<i64> {
        lock(&self.accepted).clone()
    }
}
