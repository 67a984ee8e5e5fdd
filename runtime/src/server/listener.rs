//! The accept loop of a listener.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::dispatch::{Servants, TarsRequests};
use super::raw::{RawBinding, RawRequests};
use super::session::{self, ConnectionConfig};
use super::tasks::Signals;
use crate::support::log_join;

/// How long the accept loop waits after an error such as running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What a listener serves.
#[derive(Clone)]
pub(super) enum Served {
    /// TARS servants, by name.
    Tars(Arc<Servants>),
    /// One servant speaking its own protocol: the listener's every connection is its.
    Raw(Arc<RawBinding>),
}

impl Served {
    /// Whether the listener serves a raw servant.
    pub(super) fn is_raw(&self) -> bool {
        matches!(self, Self::Raw(_))
    }
}

/// How often a listener at its connection limit says so.
const REFUSAL_WARNING_INTERVAL: Duration = Duration::from_secs(1);

/// What a listener needs besides its socket.
pub(super) struct Listening {
    pub(super) local_addr: SocketAddr,
    pub(super) served: Served,
    pub(super) config: Arc<ConnectionConfig>,
    /// The most connections open at once; more are accepted and closed at once.
    pub(super) max_connections: usize,
    pub(super) gauges: Arc<Gauges>,
}

/// What the server counts across its listeners.
#[derive(Debug, Default)]
pub(super) struct Gauges {
    /// Connections open now.
    pub(super) connections: AtomicUsize,
    /// Connections refused, ever, because their listener was at its limit.
    pub(super) refused: AtomicU64,
}

/// Counts a connection as open until dropped.
struct Open(Arc<Gauges>);

impl Open {
    fn new(gauges: &Arc<Gauges>) -> Self {
        gauges.connections.fetch_add(1, Ordering::Relaxed);
        Self(gauges.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A listener's accept loop: it owns the listener and its connections' tasks.
///
/// Its fields are dropped in order: the listener first, so that a dropped accept loop refuses
/// new connections before its connections' tasks are aborted.
pub(super) struct AcceptLoop {
    listener: TcpListener,
    connections: JoinSet<()>,
    listening: Listening,
    signals: Signals,
    /// Refusals not yet logged, and when the last warning was.
    refused_unsaid: u64,
    last_warning: Option<Instant>,
}

impl AcceptLoop {
    pub(super) fn new(listener: TcpListener, listening: Listening, signals: Signals) -> Self {
        Self {
            listener,
            connections: JoinSet::new(),
            listening,
            signals,
            refused_unsaid: 0,
            last_warning: None,
        }
    }

    /// Accepts connections until the shutdown, then closes the listener (new connections are
    /// refused) and waits for its connections to end.
    pub(super) async fn run(mut self) {
        let local_addr = self.listening.local_addr;
        loop {
            tokio::select! {
                biased;
                _ = self.signals.shutdown.cancelled() => break,
                Some(joined) = self.connections.join_next(), if !self.connections.is_empty() => log_join(joined),
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => self.serve(stream, peer),
                    Err(error) => self.accept_failed(error).await,
                },
            }
        }
        let Self {
            listener,
            mut connections,
            ..
        } = self;
        drop(listener);
        tracing::debug!(listener = %local_addr, connections = connections.len(), "stopped accepting");
        // every connection ends by itself: it sees the shutdown, and the force after the timeout
        while let Some(joined) = connections.join_next().await {
            log_join(joined);
        }
    }

    /// Serves a new connection in a task of its own; at the connection limit, closes it at once
    /// as TarsCpp does.
    fn serve(&mut self, stream: TcpStream, peer: SocketAddr) {
        let Listening {
            local_addr,
            served,
            config,
            max_connections,
            gauges,
        } = &self.listening;
        if self.connections.len() >= *max_connections {
            drop(stream);
            self.refused(peer);
            return;
        }
        tracing::trace!(%peer, listener = %local_addr, "accepted a connection");
        let (signals, config, open) = (self.signals.clone(), config.clone(), Open::new(gauges));
        match served {
            Served::Tars(servants) => {
                let protocol =
                    TarsRequests::new(servants.clone(), config.max_frame_len, config.queue_timeout);
                self.connections.spawn(async move {
                    session::serve(stream, peer, protocol, config, signals).await;
                    drop(open);
                })
            }
            Served::Raw(binding) => {
                let protocol = RawRequests::new(binding.clone(), config.queue_timeout);
                self.connections.spawn(async move {
                    session::serve(stream, peer, protocol, config, signals).await;
                    drop(open);
                })
            }
        };
    }

    /// Counts a connection refused at the limit, saying so at most once a second.
    fn refused(&mut self, peer: SocketAddr) {
        let Listening {
            local_addr,
            max_connections,
            gauges,
            ..
        } = &self.listening;
        gauges.refused.fetch_add(1, Ordering::Relaxed);
        self.refused_unsaid += 1;
        let due = |at: &Instant| at.elapsed() >= REFUSAL_WARNING_INTERVAL;
        if self.last_warning.as_ref().map_or(true, due) {
            tracing::warn!(listener = %local_addr, %peer, max_connections, refused = self.refused_unsaid, "at the connection limit: refusing new connections");
            self.last_warning = Some(Instant::now());
            self.refused_unsaid = 0;
        }
    }

    /// Logs a failed accept; after one that concerns the listener (such as running out of file
    /// descriptors), waits a little before accepting again.
    async fn accept_failed(&self, error: io::Error) {
        let local_addr = self.listening.local_addr;
        if is_transient(&error) {
            tracing::debug!(listener = %local_addr, %error, "accept failed");
            return;
        }
        tracing::warn!(listener = %local_addr, %error, "accept failed; retrying shortly");
        tokio::select! {
            _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
            _ = self.signals.shutdown.cancelled() => {}
        }
    }
}

/// Errors that concern one incoming connection rather than the listener.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}
