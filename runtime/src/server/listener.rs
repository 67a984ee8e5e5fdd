//! The accept loop of a listener, and the task that carries out the shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::dispatch::{Servants, TarsRequests};
use super::raw::{RawBinding, RawRequests};
use super::session::{self, ConnectionConfig};

/// How long the accept loop waits after an error such as running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The server-wide shutdown tokens every task watches.
#[derive(Debug, Clone)]
pub(super) struct Signals {
    /// Graceful shutdown: stop accepting and reading, finish what runs.
    pub(super) shutdown: CancellationToken,
    /// The shutdown timeout ran out: cancel the handlers, drop the connections.
    pub(super) force: CancellationToken,
}

/// What a listener serves.
#[derive(Clone)]
pub(super) enum Served {
    /// TARS servants, by name.
    Tars(Arc<Servants>),
    /// One servant speaking its own protocol: the listener's every connection is its.
    Raw(Arc<RawBinding>),
}

/// Accepts connections until the shutdown, then closes the listener (new connections are
/// refused) and waits for its connections to end.
pub(super) async fn accept_loop(
    listener: TcpListener,
    local_addr: SocketAddr,
    served: Served,
    config: ConnectionConfig,
    signals: Signals,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = signals.shutdown.cancelled() => break,
            Some(joined) = connections.join_next(), if !connections.is_empty() => log_join(joined),
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::trace!(%peer, listener = %local_addr, "accepted a connection");
                    let signals = signals.clone();
                    match &served {
                        Served::Tars(servants) => {
                            let protocol = TarsRequests::new(servants.clone(), config.max_frame_len);
                            connections.spawn(session::serve(stream, peer, protocol, config, signals))
                        }
                        Served::Raw(binding) => {
                            let protocol = RawRequests::new(binding.clone());
                            connections.spawn(session::serve(stream, peer, protocol, config, signals))
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

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined {
        if error.is_panic() {
            tracing::error!(%error, "a connection task panicked");
        }
    }
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
