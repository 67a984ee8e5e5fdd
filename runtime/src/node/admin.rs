//! [`AdminServant`]: the server's `AdminObj`.

use std::io;

use tokio_util::sync::CancellationToken;

use super::admin_f::{AdminF, AdminFServant};
use super::commands::AdminCommands;
use super::keep_alive::KeepAlive;
use super::signal::{shutdown_signal, StopReason};
use crate::error::Result;
use crate::server::{Server, ServerHandle};

/// The server's administration servant: [`AdminF`] for tarsnode and the TARS web platform,
/// served as [`ADMIN_OBJ`](super::ADMIN_OBJ) (`AdminObj`) at the server's `local` endpoint.
///
/// * `notify(command)` runs the command through its [`AdminCommands`];
/// * `shutdown()` asks the application to stop: it cancels the servant's shutdown token, which
///   [`shutdown_requested`](Self::shutdown_requested) and [`stop_requested`](Self::stop_requested)
///   wait for. The application then stops its [`KeepAlive`](super::KeepAlive) and shuts the
///   server down gracefully ([`Server::shutdown`](crate::server::Server::shutdown)), which lets
///   the requests running finish and writes their replies, the `shutdown` call's own reply
///   among them;
/// * `getPid()` answers the process id.
///
/// Cheap to clone: the clones share the commands and the token.
///
/// ```no_run
/// use tars_rpc::node::{AdminCommands, AdminServant, KeepAlive, ADMIN_OBJ};
/// use tars_rpc::client::Communicator;
/// use tars_rpc::server::Server;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let admin = AdminServant::new(AdminCommands::builder().application("TestApp").server_name("HelloServer").build());
/// let server = Server::builder()
///     // .servant("TestApp.HelloServer.HelloObj", "tcp -h 0.0.0.0 -p 18015", ...)
///     .servant(ADMIN_OBJ, "tcp -h 127.0.0.1 -p 19385", admin.servant()) // the config's `local`
///     .start()
///     .await?;
/// admin.attach(server.handle());
/// let communicator = Communicator::new();
/// let keep_alive = KeepAlive::builder(&communicator, "tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p 19386", "TestApp", "HelloServer")
///     .adapter("TestApp.HelloServer.HelloObjAdapter")
///     .start()?;
///
/// let why = admin.stop_requested().await?; // AdminF.shutdown, SIGTERM or Ctrl-C
/// keep_alive.stop().await;                  // heartbeats end before the listeners close
/// server.shutdown().await;                  // graceful: running calls finish
/// communicator.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AdminServant {
    commands: AdminCommands,
    shutdown: CancellationToken,
}

impl AdminServant {
    /// An admin servant running `commands`, with a shutdown token of its own.
    pub fn new(commands: AdminCommands) -> Self {
        Self::with_shutdown_token(commands, CancellationToken::new())
    }

    /// An admin servant running `commands` whose `shutdown()` cancels `token`: the token the
    /// application already stops on.
    pub fn with_shutdown_token(commands: AdminCommands, token: CancellationToken) -> Self {
        Self {
            commands,
            shutdown: token,
        }
    }

    /// The servant to register with a [`ServerBuilder`](crate::server::ServerBuilder), under
    /// [`ADMIN_OBJ`](super::ADMIN_OBJ).
    pub fn servant(&self) -> AdminFServant<AdminServant> {
        AdminFServant::new(self.clone())
    }

    /// The commands it runs, to register more.
    pub fn commands(&self) -> &AdminCommands {
        &self.commands
    }

    /// Gives the commands the running server they report on: see [`AdminCommands::attach`].
    pub fn attach(&self, server: ServerHandle) {
        self.commands.attach(server);
    }

    /// The token `shutdown()` cancels.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Resolves once `AdminF.shutdown` was called (or the token was cancelled otherwise); at
    /// once if it already was.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn shutdown_requested(&self) {
        self.shutdown.cancelled().await;
    }

    /// Resolves with the first reason to stop: `AdminF.shutdown`, SIGTERM or Ctrl-C (see
    /// [`shutdown_signal`]). The signal handlers are installed when it is called.
    ///
    /// # Errors
    ///
    /// The error of installing a signal handler.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn stop_requested(
        &self,
    ) -> impl std::future::Future<Output = io::Result<StopReason>> + Send + 'static {
        let signal = shutdown_signal();
        let shutdown = self.shutdown.clone();
        async move {
            tokio::select! {
                () = shutdown.cancelled() => Ok(StopReason::AdminShutdown),
                signal = signal => signal,
            }
        }
    }
}

impl AdminF for AdminServant {
    async fn shutdown(&self) -> Result<()> {
        tracing::warn!("shutdown requested through AdminF (from the node)");
        self.shutdown.cancel();
        Ok(())
    }

    async fn notify(&self, command: String) -> Result<String> {
        Ok(self.commands.notify(&command).await)
    }

    async fn get_pid(&self) -> Result<i64> {
        Ok(i64::from(std::process::id()))
    }
}

/// Serves until a reason to stop comes, then stops in TarsCpp's order: the
/// [`KeepAlive`] first (the node sees no adapter alive whose listener is closing), then the
/// server's graceful shutdown ([`Server::shutdown`]: the calls running finish, the
/// `AdminF.shutdown` call's reply among them). Returns why it stopped.
///
/// The reasons are those of [`AdminServant::stop_requested`]: `AdminF.shutdown`, SIGTERM and
/// Ctrl-C. If the signal handlers cannot be installed it logs a warning and waits for
/// `AdminF.shutdown` alone.
///
/// ```no_run
/// use tars_rpc::node::{serve_until_stopped, AdminCommands, AdminServant, ADMIN_OBJ};
/// use tars_rpc::server::Server;
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let admin = AdminServant::new(AdminCommands::new());
/// let server = Server::builder()
///     .servant(ADMIN_OBJ, "tcp -h 127.0.0.1 -p 19385", admin.servant())
///     .start()
///     .await?;
/// admin.attach(server.handle());
/// let why = serve_until_stopped(server, None, &admin).await;
/// println!("stopped: {why:?}");
/// # Ok(())
/// # }
/// ```
pub async fn serve_until_stopped(
    server: Server,
    keep_alive: Option<KeepAlive>,
    admin: &AdminServant,
) -> StopReason {
    let reason = match admin.stop_requested().await {
        Ok(reason) => reason,
        Err(error) => {
            tracing::warn!(%error, "cannot watch SIGTERM and Ctrl-C; stopping on AdminF.shutdown only");
            admin.shutdown_requested().await;
            StopReason::AdminShutdown
        }
    };
    tracing::info!(?reason, "stopping");
    if let Some(keep_alive) = keep_alive {
        keep_alive.stop().await;
    }
    server.shutdown().await;
    reason
}
