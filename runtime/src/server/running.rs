//! A running [`Server`]: its addresses, its [`ServerHandle`], its [`ServerStats`], and the
//! task that carries out its shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::listener::Gauges;
use super::outgoing::TotalBudget;
use super::tasks::{spawn_owned, OwnedTask, Signals};
use crate::support::log_join;

/// A running server, from [`ServerBuilder::start`](super::ServerBuilder::start).
///
/// Stop it gracefully with [`shutdown`](Self::shutdown), or from elsewhere with a
/// [`ServerHandle`].
///
/// The server owns every task it runs: dropping it stops them all at once, without the
/// graceful shutdown. Its listeners close (new connections are refused), its connections are
/// dropped, the handlers still running and the [`on_connection_closed`](super::Servant::on_connection_closed)
/// calls are cancelled (dropped at their next `.await`), and the connections'
/// [close callbacks](super::Current::on_close) run. So keep it for as long as it is to serve,
/// e.g. until [`wait`](Self::wait) resolves.
///
/// ```
/// # use bytes::Bytes;
/// # use futures::future::BoxFuture;
/// use tars_rpc::server::{Current, Servant, Server};
/// use tokio::net::{TcpListener, TcpStream};
/// # struct Echo;
/// # impl Servant for Echo {
/// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
/// #         Box::pin(async move { Ok(params) })
/// #     }
/// # }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let address = listener.local_addr()?;
/// let server = Server::builder().servant("App.Server.EchoObj", listener, Echo).start().await?;
/// let client = TcpStream::connect(address).await?;
/// server.shutdown().await; // the client is told to reconnect elsewhere, then closed
/// assert!(TcpStream::connect(address).await.is_err());
/// # drop(client);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "dropping a Server stops it"]
pub struct Server {
    servant_addrs: HashMap<String, SocketAddr>,
    local_addrs: Vec<SocketAddr>,
    handle: ServerHandle,
    /// The shutdown task, which owns the accept loops, which own the connections: aborted
    /// when the server is dropped, it takes them all down.
    _tasks: OwnedTask<()>,
}

/// What [`Server::launch`] needs: the accept loops, spawned, and what they share.
pub(super) struct Launch {
    pub(super) accept_loops: JoinSet<()>,
    pub(super) servant_addrs: HashMap<String, SocketAddr>,
    pub(super) local_addrs: Vec<SocketAddr>,
    pub(super) signals: Signals,
    pub(super) total_budget: Arc<TotalBudget>,
    pub(super) gauges: Arc<Gauges>,
    pub(super) shutdown_timeout: Duration,
}

impl Server {
    /// A server whose accept loops have been spawned: spawns the task that waits for the
    /// shutdown and carries it out, which owns the accept loops from now on.
    pub(super) fn launch(launch: Launch) -> Self {
        let done = CancellationToken::new();
        let handle = ServerHandle {
            shutdown: launch.signals.shutdown.clone(),
            done: done.clone(),
            total_budget: launch.total_budget,
            gauges: launch.gauges,
        };
        let shutdown = supervise(
            launch.accept_loops,
            launch.signals,
            launch.shutdown_timeout,
            done,
        );
        Self {
            servant_addrs: launch.servant_addrs,
            local_addrs: launch.local_addrs,
            handle,
            _tasks: spawn_owned(shutdown),
        }
    }

    /// The address the servant `servant` is served at, with the port the system chose if its
    /// endpoint said port 0; `None` for a servant not registered.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// # use tars_rpc::server::{Current, Servant, Server};
    /// # struct Echo;
    /// # impl Servant for Echo {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::builder()
    ///     .servant("App.Server.EchoObj", "tcp -h 127.0.0.1 -p 0", Echo)
    ///     .start()
    ///     .await?;
    /// let address = server.local_addr("App.Server.EchoObj").unwrap();
    /// assert_ne!(address.port(), 0); // the port the system chose
    /// assert_eq!(server.local_addr("App.Server.OtherObj"), None);
    /// # server.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_addr(&self, servant: &str) -> Option<SocketAddr> {
        self.servant_addrs.get(servant).copied()
    }

    /// The addresses of every listener, in the order their endpoints were first registered.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// # use tars_rpc::server::{Current, Servant, Server};
    /// # struct Echo;
    /// # impl Servant for Echo {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::builder()
    ///     .servant("App.Server.EchoObj", "127.0.0.1:0", Echo)
    ///     .servant("App.Server.AdminObj", "127.0.0.1:0", Echo) // the same listener
    ///     .start()
    ///     .await?;
    /// assert_eq!(server.local_addrs().len(), 1);
    /// # server.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.local_addrs.clone()
    }

    /// A handle that can shut the server down from elsewhere.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// # use tars_rpc::server::{Current, Servant, Server};
    /// # struct Echo;
    /// # impl Servant for Echo {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::builder().servant("App.Server.EchoObj", "127.0.0.1:0", Echo).start().await?;
    /// let handle = server.handle();
    /// handle.shutdown(); // e.g. from a signal handler
    /// server.wait().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// What the server holds now: see [`ServerStats`].
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// # use tars_rpc::server::{Current, Servant, Server};
    /// # struct Echo;
    /// # impl Servant for Echo {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::builder().servant("App.Server.EchoObj", "127.0.0.1:0", Echo).start().await?;
    /// let stats = server.stats();
    /// assert_eq!(stats.refused_connections, 0);
    /// # server.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn stats(&self) -> ServerStats {
        self.handle.stats()
    }

    /// Shuts the server down gracefully and returns when it is done.
    ///
    /// The listeners stop accepting (new connections are refused) and the connections stop
    /// reading requests. Every open TARS connection (not those of
    /// [raw servants](super::ServerBuilder::raw_servant)) is sent TarsGo's close packet
    /// ([`PushFrame::reconnect`](super::PushFrame::reconnect): request id 0,
    /// `sResultDesc` `_reconnect_`) so that its client reconnects elsewhere; the requests
    /// already running finish and their replies are written after it; then every connection is
    /// closed (and its [close callbacks](super::Current::on_close) and servants'
    /// [`on_connection_closed`](super::Servant::on_connection_closed) run, which the shutdown waits for
    /// too). Whatever is still running after the
    /// [shutdown timeout](super::ServerBuilder::shutdown_timeout) is cut short: its handlers are
    /// cancelled and its connections dropped (and the `on_connection_closed` calls that have
    /// not finished are cancelled too).
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it resolves drops the server, which stops everything at once (see
    /// [`Server`]); to shut down gracefully without waiting, use
    /// [`ServerHandle::shutdown`].
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// # use tars_rpc::server::{Current, Servant, Server};
    /// # struct Echo;
    /// # impl Servant for Echo {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::builder().servant("App.Server.EchoObj", "127.0.0.1:0", Echo).start().await?;
    /// let address = server.local_addr("App.Server.EchoObj").unwrap();
    /// server.shutdown().await;
    /// assert!(tokio::net::TcpStream::connect(address).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn shutdown(self) {
        self.handle.shutdown();
        self.wait().await;
    }

    /// Resolves when the server has shut down, e.g. after [`ServerHandle::shutdown`]; at once if
    /// it already has.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// # use tars_rpc::server::{Current, Servant, Server};
    /// # struct Echo;
    /// # impl Servant for Echo {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::builder().servant("App.Server.EchoObj", "127.0.0.1:0", Echo).start().await?;
    /// let handle = server.handle();
    /// tokio::spawn(async move { handle.shutdown() });
    /// server.wait().await; // the shutdown the spawned task started has finished
    /// server.wait().await; // and at once from now on
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait(&self) {
        self.handle.done.cancelled().await;
    }
}

/// A handle on a running [`Server`]: cheap to clone, it triggers the graceful shutdown from
/// anywhere (a signal handler, an admin command).
///
/// ```
/// # use bytes::Bytes;
/// # use futures::future::BoxFuture;
/// # use tars_rpc::server::{Current, Servant, Server};
/// # struct Echo;
/// # impl Servant for Echo {
/// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
/// #         Box::pin(async move { Ok(params) })
/// #     }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tars_rpc::server::ServerError> {
/// let server = Server::builder().servant("App.Server.EchoObj", "127.0.0.1:0", Echo).start().await?;
/// let handle = server.handle();
/// tokio::spawn(async move { handle.shutdown() });
/// server.wait().await; // returns once the spawned task has shut the server down
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ServerHandle {
    /// Cancelled to start the graceful shutdown.
    shutdown: CancellationToken,
    /// Cancelled once the shutdown has finished.
    done: CancellationToken,
    total_budget: Arc<TotalBudget>,
    gauges: Arc<Gauges>,
}

impl ServerHandle {
    /// Starts the graceful shutdown described at [`Server::shutdown`] and returns at once.
    /// Calling it again, or after the server has stopped (or was dropped), does nothing.
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// # use tars_rpc::server::{Current, Servant, Server};
    /// # struct Echo;
    /// # impl Servant for Echo {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::builder().servant("App.Server.EchoObj", "127.0.0.1:0", Echo).start().await?;
    /// let handle = server.handle();
    /// handle.shutdown();
    /// handle.shutdown(); // does nothing more
    /// server.wait().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// What the server holds now: see [`ServerStats`].
    ///
    /// ```
    /// # use bytes::Bytes;
    /// # use futures::future::BoxFuture;
    /// # use tars_rpc::server::{Current, Servant, Server};
    /// # struct Echo;
    /// # impl Servant for Echo {
    /// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
    /// #         Box::pin(async move { Ok(params) })
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = Server::builder().servant("App.Server.EchoObj", "127.0.0.1:0", Echo).start().await?;
    /// let handle = server.handle();
    /// assert_eq!(handle.stats(), server.stats());
    /// # server.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            connections: self.gauges.connections.load(Ordering::Relaxed),
            refused_connections: self.gauges.refused.load(Ordering::Relaxed),
            tls_handshake_failures: self.gauges.tls_handshake_failures.load(Ordering::Relaxed),
            denied_connections: self.gauges.denied.load(Ordering::Relaxed),
            overloaded_requests: self.gauges.overloaded.load(Ordering::Relaxed),
            queued_bytes: self.total_budget.used(),
        }
    }
}

/// A snapshot of what a server holds, from [`Server::stats`] or [`ServerHandle::stats`].
///
/// ```
/// # use bytes::Bytes;
/// # use futures::future::BoxFuture;
/// # use tars_rpc::server::{Current, Servant, Server};
/// # struct Echo;
/// # impl Servant for Echo {
/// #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
/// #         Box::pin(async move { Ok(params) })
/// #     }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tars_rpc::server::ServerError> {
/// let server = Server::builder().servant("App.Server.EchoObj", "127.0.0.1:0", Echo).start().await?;
/// let stats = server.stats();
/// assert_eq!((stats.connections, stats.queued_bytes), (0, 0));
/// # server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections open on all listeners.
    pub connections: usize,
    /// Connections refused since the start because their listener was at its
    /// [limit](super::ServerBuilder::max_connections).
    pub refused_connections: u64,
    /// TLS handshakes on `ssl` listeners that failed or did not finish within the
    /// [handshake timeout](super::ServerBuilder::tls_handshake_timeout), since the start.
    pub tls_handshake_failures: u64,
    /// Connections closed as soon as they were accepted, since the start, because their
    /// listener does not [allow](super::Listen::access) their peer's address.
    pub denied_connections: u64,
    /// Requests answered with [`SERVER_OVERLOAD`](crate::packet::ReturnCode::SERVER_OVERLOAD)
    /// since the start, because their listener's [queue](super::Listen::queue_capacity) was full.
    pub overloaded_requests: u64,
    /// Bytes of replies and pushes queued on all connections and not yet written (bounded by
    /// the [total queue budget](super::ServerBuilder::total_queue_budget)).
    pub queued_bytes: usize,
}

/// Waits for the shutdown, lets the accept loops (and so every connection) finish within
/// `timeout`, forces the rest, then marks the server done.
async fn supervise(
    mut accept_loops: JoinSet<()>,
    signals: Signals,
    timeout: Duration,
    done: CancellationToken,
) {
    signals.shutdown.cancelled().await;
    tracing::info!("shutting down");
    let finished = async {
        while let Some(joined) = accept_loops.join_next().await {
            // the accept loops log their connections' panics; their own cannot happen short
            // of a bug
            log_join(joined);
        }
    };
    if tokio::time::timeout(timeout, finished).await.is_err() {
        tracing::warn!(?timeout, "shutdown timeout reached; cancelling the remaining requests and closing their connections");
        signals.force.cancel();
        while let Some(joined) = accept_loops.join_next().await {
            log_join(joined);
        }
    }
    tracing::info!("shut down");
    done.cancel();
}
