//! The accept loop of a listener, and the task that carries out the shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::dispatch::{Servants, TarsRequests};
use super::raw::{RawBinding, RawRequests};
use super::session::{self, ConnectionConfig, Signals};
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

/// Accepts connections until the shutdown, then closes the listener (new connections are
/// refused) and waits for its connections to end. At its connection limit it accepts each new
/// connection and closes it at once, as TarsCpp does, saying so at most once a second.
pub(super) async fn accept_loop(listener: TcpListener, listening: Listening, signals: Signals) {
    let Listening {
        local_addr,
        served,
        config,
        max_connections,
        gauges,
    } = listening;
    let mut connections = JoinSet::new();
    let mut refused_unsaid = 0u64;
    let mut last_warning: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            _ = signals.shutdown.cancelled() => break,
            Some(joined) = connections.join_next(), if !connections.is_empty() => log_join(joined),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if connections.len() >= max_connections => {
                    drop(stream);
                    gauges.refused.fetch_add(1, Ordering::Relaxed);
                    refused_unsaid += 1;
                    if last_warning.map_or(true, |at| at.elapsed() >= REFUSAL_WARNING_INTERVAL) {
                        tracing::warn!(listener = %local_addr, %peer, max_connections, refused = refused_unsaid, "at the connection limit: refusing new connections");
                        last_warning = Some(Instant::now());
                        refused_unsaid = 0;
                    }
                }
                Ok((stream, peer)) => {
                    tracing::trace!(%peer, listener = %local_addr, "accepted a connection");
                    let (signals, config, open) = (signals.clone(), config.clone(), Open::new(&gauges));
                    match &served {
                        Served::Tars(servants) => {
                            let protocol = TarsRequests::new(servants.clone(), config.max_frame_len, config.queue_timeout);
                            connections.spawn(async move {
                                session::serve(stream, peer, protocol, config, signals).await;
                                drop(open);
                            })
                        }
                        Served::Raw(binding) => {
                            let protocol = RawRequests::new(binding.clone(), config.queue_timeout);
                            connections.spawn(async move {
                                session::serve(stream, peer, protocol, config, signals).await;
                                drop(open);
                            })
                        }
                    };
                }
                Err(error) if is_transient(&error) => {
                    tracing::debug!(listener = %local_addr, %error, "accept failed");
                }
                Err(error) => {
                    tracing::warn!(listener = %local_addr, %error, "accept failed; retrying shortly");
                    tokio::select! {
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                        _ = signals.shutdown.cancelled() => {}
                    }
                }
            },
        }
    }
    drop(listener);
    tracing::debug!(listener = %local_addr, connections = connections.len(), "stopped accepting");
    // every connection ends by itself: it sees the shutdown, and the force after the timeout
    while let Some(joined) = connections.join_next().await {
        log_join(joined);
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

/// Waits for the shutdown, lets the accept loops (and so every connection) finish within
/// `timeout`, forces the rest, then marks the server done.
pub(super) async fn supervise(
    accept_loops: Vec<JoinHandle<()>>,
    signals: Signals,
    timeout: Duration,
    done: CancellationToken,
) {
    signals.shutdown.cancelled().await;
    tracing::info!("shutting down");
    let mut finished = futures::future::join_all(accept_loops);
    if tokio::time::timeout(timeout, &mut finished).await.is_err() {
        tracing::warn!(?timeout, "shutdown timeout reached; cancelling the remaining requests and closing their connections");
        signals.force.cancel();
        finished.await;
    }
    // the accept loops log their connections' panics; their own cannot happen short of a bug
    tracing::info!("shut down");
    done.cancel();
}
