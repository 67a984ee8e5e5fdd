//! The accept loop of a listener.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::adapter::{AccessList, RequestLoad};
use super::dispatch::{Servants, TarsRequests};
use super::raw::{RawBinding, RawRequests};
use super::session::{self, ConnectionConfig, RequestProtocol};
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
    /// Set on a listener of `ssl` endpoints: every connection starts with a TLS handshake.
    pub(super) tls: Option<Arc<TlsListening>>,
    /// Which peers it serves, if not everyone.
    pub(super) access: Option<Arc<AccessList>>,
    /// The requests of all its connections, against its queue capacity, if it has one.
    pub(super) load: Option<Arc<RequestLoad>>,
}

/// How a listener of `ssl` endpoints accepts TLS.
pub(super) struct TlsListening {
    pub(super) acceptor: tokio_rustls::TlsAcceptor,
    /// How long a peer may take to finish its handshake: one that does not loses its
    /// connection, and nobody else waits on it.
    pub(super) timeout: Duration,
}

impl TlsListening {
    /// Runs the server's side of the handshake on `stream` within the timeout; `None` (the
    /// connection dropped) when it fails, times out, or the server shuts down meanwhile. A
    /// failure is logged and counted in `gauges`.
    async fn handshake(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        signals: &Signals,
        gauges: &Gauges,
    ) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
        let accept = tokio::time::timeout(self.timeout, self.acceptor.accept(stream));
        let failure = tokio::select! {
            biased;
            () = signals.shutdown.cancelled() => return None,
            accepted = accept => match accepted {
                Ok(Ok(stream)) => return Some(stream),
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("not finished within {} ms", self.timeout.as_millis()),
            },
        };
        gauges
            .tls_handshake_failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(%peer, reason = %failure, "TLS handshake failed; closing the connection");
        None
    }
}

/// What the server counts across its listeners.
#[derive(Debug, Default)]
pub(super) struct Gauges {
    /// Connections open now.
    pub(super) connections: AtomicUsize,
    /// Connections refused, ever, because their listener was at its limit.
    pub(super) refused: AtomicU64,
    /// TLS handshakes that failed or timed out, ever.
    pub(super) tls_handshake_failures: AtomicU64,
    /// Connections closed at once, ever, because their peer's address was not allowed.
    pub(super) denied: AtomicU64,
    /// Requests answered with `SERVER_OVERLOAD`, ever, because their listener's queue was full.
    pub(super) overloaded: Arc<AtomicU64>,
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
            tls,
            access,
            load,
        } = &self.listening;
        if access
            .as_ref()
            .is_some_and(|access| !access.admits(peer.ip()))
        {
            drop(stream);
            gauges.denied.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, listener = %local_addr, "peer not allowed: connection closed");
            return;
        }
        if self.connections.len() >= *max_connections {
            drop(stream);
            self.refused(peer);
            return;
        }
        tracing::trace!(%peer, listener = %local_addr, "accepted a connection");
        let (signals, config, open) = (self.signals.clone(), config.clone(), Open::new(gauges));
        let tls = tls.clone();
        match served {
            Served::Tars(servants) => {
                let protocol = TarsRequests::new(
                    servants.clone(),
                    config.max_frame_len,
                    config.queue_timeout,
                    load.clone(),
                );
                self.spawn_connection(stream, peer, protocol, config, signals, tls, open);
            }
            Served::Raw(binding) => {
                let protocol = RawRequests::new(binding.clone(), config.queue_timeout);
                self.spawn_connection(stream, peer, protocol, config, signals, tls, open);
            }
        };
    }

    /// Serves one accepted connection in a task of its own, over TLS once the handshake is
    /// done on a listener of `ssl` endpoints; `open` counts it until it ends. A plain
    /// connection's task is not sized for the handshake's state nor for a TLS session's.
    #[allow(clippy::too_many_arguments)]
    fn spawn_connection<P: RequestProtocol>(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
        protocol: P,
        config: Arc<ConnectionConfig>,
        signals: Signals,
        tls: Option<Arc<TlsListening>>,
        open: Open,
    ) {
        match tls {
            None => {
                self.connections.spawn(session::serve(
                    stream, peer, protocol, config, signals, open,
                ));
            }
            Some(tls) => {
                self.connections.spawn(async move {
                    if let Some(stream) = tls.handshake(stream, peer, &signals, &open.0).await {
                        session::serve(stream, peer, protocol, config, signals, open).await;
                    }
                });
            }
        }
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
