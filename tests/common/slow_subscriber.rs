//! What broadcasts to fast subscribers and one that stopped reading show of the slow one: it
//! misses pushes while its queue is full, keeps its connection until the stall timeout, then
//! leaves the registry.

use std::time::{Duration, Instant};

use tars_rpc::push::{BroadcastReport, PushError, Subscribers};
use tars_rpc::Current;

pub struct SlowSubscriber {
    pub current: Current,
    /// The first push it missed, and when.
    pub first_missed: Option<(i64, Instant)>,
    /// The push at which its connection was found closed.
    pub cut_off_at: Option<i64>,
}

impl SlowSubscriber {
    pub fn new(current: Current) -> Self {
        Self {
            current,
            first_missed: None,
            cut_off_at: None,
        }
    }

    /// Checks the report of broadcast `seq` to `fast` fast subscribers and this one: the fast
    /// ones all got it; this one only missed it for a full queue or a closed connection, and
    /// leaves `subscribers` once its connection has closed.
    pub async fn record(
        &mut self,
        seq: i64,
        report: &BroadcastReport,
        fast: usize,
        subscribers: &Subscribers,
    ) {
        assert!(
            report.delivered >= fast && report.failed.len() <= 1,
            "push {seq}: {report:?}"
        );
        assert!(report.delivered + report.failed.len() <= fast + 1);
        if let Some(missed) = report.failed.first() {
            assert_eq!(missed.current.connection_id(), self.current.connection_id());
            match &missed.error {
                PushError::Full(_) => {
                    self.first_missed.get_or_insert((seq, Instant::now()));
                }
                PushError::Closed(_) => {}
                other => panic!("push {seq}: {other}"),
            }
        }
        if self.cut_off_at.is_none() && self.current.is_closed() {
            // gone from the registry at once
            let deadline = Instant::now() + Duration::from_secs(5);
            while subscribers.contains(self.current.connection_id()) {
                assert!(
                    Instant::now() < deadline,
                    "the registry kept the closed client"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            self.cut_off_at = Some(seq);
        }
        // the broadcaster is not held up while it waits for the cut
        if self.first_missed.is_some() && self.cut_off_at.is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
