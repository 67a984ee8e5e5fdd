//! Living under tarsnode: the keep-alive a TARS platform expects from every server, the
//! administration servant it calls, and the graceful shutdown.
//!
//! A TARS platform starts each server through the tarsnode of its machine and stops any that
//! does not report to it: a server that never calls `ServerF.keepAlive` stays "activating" and
//! is killed after about 30 s. The node in turn manages the server through the servant
//! `AdminObj` every TARS server serves at its `local` endpoint: `AdminF.shutdown` to stop it,
//! `AdminF.notify` for the commands an operator sends from the web platform.
//!
//! * [`ServerF`] and [`AdminF`], TarsProtocol's `servant/NodeF.tars` and `servant/AdminF.tars`
//!   as Rust traits, with [`ServerInfo`];
//! * [`KeepAlive`]: `reportVersion` at the start and a `keepAlive` per adapter (and for
//!   `AdminAdapter`) every 10 s, as TarsCpp and TarsGo send them, after `keepActiving` every
//!   5 s while the application initializes if it asks ([`Activating`]);
//! * [`AdminServant`]: `AdminF`, running [`AdminCommands`] (the built-in `tars.viewstatus`,
//!   `tars.viewversion`, `tars.setloglevel`, `tars.connection`, `tars.help`,
//!   `tars.loadconfig`, and the application's own) and turning `shutdown()` into a stop
//!   request;
//! * [`RemoteConfig`]: the service's config files from the config center
//!   (`tars.tarsconfig.ConfigObj`, [`ConfigF`]), for `tars.loadconfig`;
//! * [`shutdown_signal`]: SIGTERM and Ctrl-C, the other ways to be told to stop;
//! * [`serve_until_stopped`]: waits for a reason to stop, then stops in the right order.
//!
//! The order of a graceful stop, as TarsCpp's: wait for a reason to stop
//! ([`AdminServant::stop_requested`]), stop the heartbeats ([`KeepAlive::stop`]), then shut
//! the server down ([`Server::shutdown`](crate::server::Server::shutdown)), which finishes the
//! calls running (the `shutdown()` call's reply among them) before it closes the connections.
//!
//! ```no_run
//! use tars_rpc::client::Communicator;
//! use tars_rpc::node::{AdminCommands, AdminServant, KeepAlive, ADMIN_OBJ};
//! use tars_rpc::server::Server;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let commands = AdminCommands::builder()
//!     .application("TestApp")
//!     .server_name("HelloServer")
//!     .app_version("1.0.0")
//!     .build();
//! commands.register("app.ping", |_params: &str| "pong".to_string())?;
//! let admin = AdminServant::new(commands);
//! let server = Server::builder()
//!     .servant(ADMIN_OBJ, "tcp -h 127.0.0.1 -p 19385", admin.servant())
//!     .start()
//!     .await?;
//! admin.attach(server.handle());
//!
//! let communicator = Communicator::new();
//! let keep_alive = KeepAlive::builder(
//!     &communicator,
//!     "tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p 19386",
//!     "TestApp",
//!     "HelloServer",
//! )
//! .start()?;
//!
//! // AdminF.shutdown, SIGTERM or Ctrl-C; then the heartbeat stops, then the server
//! let why = tars_rpc::node::serve_until_stopped(server, Some(keep_alive), &admin).await;
//! communicator.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod admin;
mod admin_f;
mod commands;
mod keep_alive;
mod remote_config;
mod server_f;
mod signal;

pub use admin::{serve_until_stopped, AdminServant};
pub use admin_f::{AdminF, AdminFProxy, AdminFServant};
pub use commands::{
    parse_log_level, AdminCommands, AdminCommandsBuilder, CommandKind, InvalidCommandName,
    LogLevel, UnknownLogLevel, CMD_CONNECTIONS, CMD_HELP, CMD_LOAD_CONFIG, CMD_SET_LOG_LEVEL,
    CMD_VIEW_STATUS, CMD_VIEW_VERSION,
};
pub use keep_alive::{Activating, KeepAlive, KeepAliveBuilder, KeepAliveError};
pub use remote_config::{
    ConfigF, ConfigFProxy, ConfigFServant, ConfigInfo, ConfigLoaded, GetConfigListInfo,
    RemoteConfig, RemoteConfigError, CONFIG_OBJ, DEFAULT_BACKUPS,
};
pub use server_f::{ServerF, ServerFProxy, ServerFServant, ServerInfo};
pub use signal::{shutdown_signal, StopReason};
/// The levels `tars.setloglevel` sets through a [`LogLevel`] control (tracing's, re-exported so
/// that a control can be written without depending on `tracing`).
pub use tracing::level_filters::LevelFilter;

/// The admin servant's name, `AdminObj`, as TarsCpp and TarsGo serve it (the bare name, not
/// `App.Server.AdminObj`).
pub const ADMIN_OBJ: &str = "AdminObj";

/// The admin servant's adapter, `AdminAdapter`: [`KeepAlive`] reports it alive with the
/// others.
pub const ADMIN_ADAPTER: &str = "AdminAdapter";

/// tarsnode's object for the servers it runs, `tars.tarsnode.ServerObj` (the server config's
/// `node` is this object at the node's address).
pub const NODE_SERVER_OBJ: &str = "tars.tarsnode.ServerObj";

/// The framework version a server reports to the node (`reportVersion`) and shows with
/// `tars.viewversion`: `tars-rpc-` and this crate's version.
pub const FRAMEWORK_VERSION: &str = concat!("tars-rpc-", env!("CARGO_PKG_VERSION"));
