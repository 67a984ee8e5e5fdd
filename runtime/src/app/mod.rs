//! A TARS service as a TARS platform runs it: [`Application`] reads the config file tarsnode
//! writes (`BINARY --config=FILE`), binds every adapter of it to the servant registered under
//! its name, sets up the client side from `<client>`, serves the admin servant `AdminObj` on
//! the `local` endpoint, sends tarsnode its keep-alives, and stops gracefully on
//! `AdminF.shutdown`, SIGTERM or Ctrl-C.
//!
//! ```no_run
//! use tars_rpc::app::Application;
//! # use tars_rpc::{tars_interface, Result};
//! # #[tars_interface]
//! # trait Hello {
//! #     async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> Result<i32>;
//! # }
//! # struct HelloImp;
//! # impl Hello for HelloImp {
//! #     async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> Result<i32> {
//! #         *s_rsp = s_req;
//! #         Ok(0)
//! #     }
//! # }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), tars_rpc::app::AppError> {
//!     Application::from_args()?.servant("HelloObj", HelloServant::new(HelloImp)).run().await
//! }
//! ```
//!
//! Started by hand without `--config`, the same binary serves each servant where
//! [`Application::listen`] says, with no admin servant and no node.
//!
//! # What the config sets
//!
//! From `<tars><application><server>`: `app` and `server` (servant names without dots are
//! completed to `app.server.Name`), each adapter domain (`endpoint`, `servant`, `protocol`,
//! `maxconns`, `queuecap`, `queuetimeout`, `allow`, `deny`, `order`; `threads` is ignored: the
//! tokio runtime runs every request), `local` (the admin servant), `node` (the keep-alives),
//! `logLevel`, `config` (the config center, for [`Application::remote_config`] and
//! `tars.loadconfig`), and TLS (`cert`, `key`, `ca`, `verifyclient`) for `ssl` endpoints. From
//! `<client>`: `locator` (a [`Locator`] as the communicator's discovery),
//! `sync-invoke-timeout` (every call's timeout: an awaited call is TarsCpp's synchronous one),
//! `refresh-endpoint-interval`, the set division of `<application>`, TLS (`ca`, `cert`,
//! `key`) for `ssl` endpoints of other services, and `stat`, `property`, `report-interval` and
//! `modulename` for the [statistics reports](crate::stat) of the server's and the client's
//! calls. Everything else is in
//! [`Application::config`]`.raw()`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::client::{Communicator, CommunicatorBuilder};
use crate::config::{AdapterConfig, ConfigError, ServerConfig};
use crate::endpoint::{Endpoint, EndpointError};
use crate::node::{
    parse_log_level, AdminCommands, AdminServant, InvalidCommandName, KeepAlive, KeepAliveError,
    LevelFilter, RemoteConfig, RemoteConfigError, StopReason, ADMIN_OBJ,
};
use crate::protocol::FrameSplitter;
use crate::registry::Locator;
use crate::server::{
    AccessOrder, Listen, RawServant, Servant, Server, ServerBuilder, ServerError, ServerHandle,
};
use crate::stat::{StatError, StatReporter};
use crate::tls::{TlsClientConfig, TlsError, TlsServerConfig};

mod logging;

/// Why an [`Application`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The config file: missing, unreadable, or with a bad value (the error names the file,
    /// the domain and the key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An adapter of the config names a servant the application did not register.
    #[error("adapter {adapter} serves `{servant}`, which the application did not register; register it with Application::servant (or raw_servant)")]
    UnregisteredServant {
        /// The adapter's domain name.
        adapter: String,
        /// Its `servant` key.
        servant: String,
    },
    /// A servant was registered that no adapter of the config serves and no
    /// [`listen`](Application::listen) places.
    #[error("servant `{servant}` has no adapter in the config and no endpoint given with Application::listen")]
    NoEndpoint {
        /// The servant's full name.
        servant: String,
    },
    /// The adapter's protocol and the servant registered for it disagree: a `tars` adapter
    /// needs a TARS servant, any other protocol a raw servant.
    #[error("adapter {adapter} speaks protocol `{protocol}`, but `{servant}` is registered as a {registered} servant")]
    WrongProtocol {
        /// The adapter's domain name.
        adapter: String,
        /// Its `protocol` key.
        protocol: String,
        /// The servant.
        servant: String,
        /// `TARS` or `raw`.
        registered: &'static str,
    },
    /// An endpoint (an adapter's or the `local` one) the server cannot serve.
    #[error("{what}: {source}")]
    Endpoint {
        /// Where it was given: the adapter's domain, or `local`.
        what: String,
        /// Why it cannot be served.
        #[source]
        source: EndpointError,
    },
    /// The `locator` of `<client>` is not a proxy string.
    #[error("/tars/application/client<locator>: {0}")]
    Locator(#[source] crate::client::ProxyError),
    /// The TLS files the config names cannot be used.
    #[error("{what}: {source}")]
    Tls {
        /// The domain that names them.
        what: &'static str,
        /// Why.
        #[source]
        source: TlsError,
    },
    /// The `config` object of `<server>` is not a proxy string.
    #[error(transparent)]
    RemoteConfig(#[from] RemoteConfigError),
    /// The node object of the config is not a proxy string.
    #[error(transparent)]
    KeepAlive(#[from] KeepAliveError),
    /// The `stat` or `property` object of `<client>` is not a proxy string.
    #[error(transparent)]
    Stat(#[from] StatError),
    /// An admin command name that cannot be registered.
    #[error(transparent)]
    Command(#[from] InvalidCommandName),
    /// The server could not start: an address in use, a servant given twice, ...
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// How a registered servant joins the server, whichever listener it gets.
type Attach = Box<dyn FnOnce(ServerBuilder, String, Listen) -> ServerBuilder + Send>;

struct Registered {
    name: String,
    tars: bool,
    attach: Attach,
}

/// A TARS service being put together: its config, its servants, its admin commands. See the
/// [module docs](self).
#[must_use = "an application does nothing until it is run"]
pub struct Application {
    config: Option<ServerConfig>,
    app: String,
    server: String,
    communicator: Communicator,
    /// With `stat` or `property` in `<client>`: the reporter, and the communicator it reports
    /// through (of its own, so that its calls are not observed).
    stats: Option<(StatReporter, Communicator)>,
    remote_config: Option<RemoteConfig>,
    servants: Vec<Registered>,
    listen: HashMap<String, Listen>,
    commands: AdminCommands,
    log_control: Arc<OnceLock<logging::Control>>,
    logging: bool,
    keep_alive_interval: Duration,
    configure_server: Option<Box<dyn FnOnce(ServerBuilder) -> ServerBuilder + Send>>,
}

impl fmt::Debug for Application {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servants: Vec<&str> = self.servants.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("Application")
            .field("app", &self.app)
            .field("server", &self.server)
            .field("config", &self.config.as_ref().and_then(ServerConfig::path))
            .field("servants", &servants)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// The application of this process: configured by the file of `--config=FILE` (or
    /// `--config FILE`) if the command line has one, as tarsnode starts a service; otherwise
    /// named after the executable, for a run by hand.
    ///
    /// Its [communicator](Self::communicator) is made here, from the config's `<client>`, so
    /// that servants can be given proxies to other services before the application runs.
    ///
    /// # Errors
    ///
    /// [`AppError::Config`] for a config file that cannot be read or has a bad value;
    /// [`AppError::Locator`] and [`AppError::Tls`] for a `<client>` that cannot be used.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as [`Communicator::new`].
    pub fn from_args() -> Result<Self, AppError> {
        match ServerConfig::from_args(std::env::args())? {
            Some(config) => Self::from_config(config),
            None => Ok(Self::named("", &executable_name())),
        }
    }

    /// The application a parsed config describes, as [`from_args`](Self::from_args) makes it.
    ///
    /// # Errors
    ///
    /// As [`from_args`](Self::from_args), but for reading the file.
    pub fn from_config(config: ServerConfig) -> Result<Self, AppError> {
        let stats = stat_reporter(&config)?;
        let mut communicator = communicator_for(&config)?;
        if let Some((reporter, _)) = &stats {
            communicator = communicator.call_observer(reporter.client_observer());
        }
        let communicator = communicator.build();
        let remote_config = match config.config() {
            Some(object) => Some(
                RemoteConfig::new(
                    &communicator,
                    object,
                    config.app(),
                    config.server(),
                    config.base_path(),
                )?
                .with_set_division(config.set_division().unwrap_or_default()),
            ),
            None => None,
        };
        let mut application =
            Self::with_communicator(config.app(), config.server(), communicator, remote_config);
        application.config = Some(config);
        application.stats = stats;
        Ok(application)
    }

    /// An application without a config file: `app` and `server` name it (a servant name
    /// without dots becomes `app.server.Name`); each servant is served where
    /// [`listen`](Self::listen) says.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as [`Communicator::new`].
    pub fn named(app: &str, server: &str) -> Self {
        Self::with_communicator(app, server, Communicator::new(), None)
    }

    fn with_communicator(
        app: &str,
        server: &str,
        communicator: Communicator,
        remote_config: Option<RemoteConfig>,
    ) -> Self {
        let log_control = Arc::new(OnceLock::new());
        let mut commands = AdminCommands::builder()
            .application(app)
            .server_name(server)
            .log_level(logging::setter(&log_control));
        if let Some(remote) = &remote_config {
            let remote = remote.clone();
            commands = commands.on_load_config(move |file: String| {
                let remote = remote.clone();
                async move { remote.load_config_command(&file).await }
            });
        }
        let commands = commands.build();
        Self {
            config: None,
            app: app.to_string(),
            server: server.to_string(),
            communicator,
            stats: None,
            remote_config,
            servants: Vec::new(),
            listen: HashMap::new(),
            commands,
            log_control,
            logging: true,
            keep_alive_interval: KeepAlive::DEFAULT_INTERVAL,
            configure_server: None,
        }
    }

    /// The config, if the application was started with one: its
    /// [`raw`](ServerConfig::raw) document has the service's own keys.
    pub fn config(&self) -> Option<&ServerConfig> {
        self.config.as_ref()
    }

    /// The communicator configured from `<client>`, for the servants' proxies to other
    /// services; the application shuts it down when it stops.
    pub fn communicator(&self) -> &Communicator {
        &self.communicator
    }

    /// The reporter of call statistics and properties to `tarsstat` and `tarsproperty`, when
    /// `<client>` names `stat` or `property`: it counts the calls of the server and of the
    /// [communicator](Self::communicator) by itself; the application's own properties come
    /// from its [`property`](StatReporter::property).
    pub fn stats(&self) -> Option<&StatReporter> {
        self.stats.as_ref().map(|(reporter, _)| reporter)
    }

    /// The config center (`<server>`'s `config`, `tars.tarsconfig.ConfigObj`): the service's
    /// files, downloaded into its base path with
    /// [`add_config`](RemoteConfig::add_config) (TarsCpp's `addConfig`), and again by the
    /// admin command `tars.loadconfig FILE`.
    pub fn remote_config(&self) -> Option<&RemoteConfig> {
        self.remote_config.as_ref()
    }

    /// The admin commands `AdminF.notify` runs, to register the application's own with
    /// [`AdminCommands::register`].
    pub fn commands(&self) -> &AdminCommands {
        &self.commands
    }

    /// The full name of a servant: `name` itself if it has a dot, else `app.server.name`.
    pub fn servant_name(&self, name: &str) -> String {
        if name.contains('.') || self.app.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}.{name}", self.app, self.server)
        }
    }

    /// Registers the TARS servant `name` (`HelloObj`, or the full `App.Server.HelloObj`): it is
    /// served on the adapter of the config whose `servant` it is.
    pub fn servant(mut self, name: &str, servant: impl Servant) -> Self {
        let attach: Attach =
            Box::new(move |builder, name, listen| builder.servant(name, listen, servant));
        self.servants.push(Registered {
            name: self.servant_name(name),
            tars: true,
            attach,
        });
        self
    }

    /// Registers the servant `name` speaking its own protocol (an adapter whose `protocol` is
    /// not `tars`), its requests cut by `splitter`: see
    /// [`ServerBuilder::raw_servant`].
    pub fn raw_servant(
        mut self,
        name: &str,
        splitter: impl FrameSplitter,
        servant: impl RawServant,
    ) -> Self {
        let attach: Attach = Box::new(move |builder, name, listen| {
            builder.raw_servant(name, listen, splitter, servant)
        });
        self.servants.push(Registered {
            name: self.servant_name(name),
            tars: false,
            attach,
        });
        self
    }

    /// Where servant `name` listens when the config has no adapter for it, as when the
    /// service is run by hand without `--config`. `AdminObj` may be given too.
    pub fn listen(mut self, name: &str, listen: impl Into<Listen>) -> Self {
        let name = match name == ADMIN_OBJ {
            true => ADMIN_OBJ.to_string(),
            false => self.servant_name(name),
        };
        self.listen.insert(name, listen.into());
        self
    }

    /// The application's version, which `tars.viewversion` shows and the node is told.
    pub fn version(self, version: &str) -> Self {
        self.commands.set_app_version(version);
        self
    }

    /// Whether the application installs its `tracing` subscriber when it starts (to standard
    /// error, at the config's `logLevel`, changed by `tars.setloglevel`); default `true`. Turn
    /// it off to install your own (then `tars.setloglevel` answers an error).
    pub fn logging(mut self, install: bool) -> Self {
        self.logging = install;
        self
    }

    /// The period of the keep-alives to the node, default
    /// [`KeepAlive::DEFAULT_INTERVAL`] (10 s, what tarsnode expects).
    pub fn keep_alive_interval(mut self, interval: Duration) -> Self {
        self.keep_alive_interval = interval;
        self
    }

    /// Settings of the server the config has no key for (frame size, queue budgets, ...).
    pub fn configure_server(
        mut self,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder + Send + 'static,
    ) -> Self {
        self.configure_server = Some(Box::new(configure));
        self
    }

    /// Starts it, runs until `AdminF.shutdown`, SIGTERM or Ctrl-C, then stops gracefully:
    /// [`start`](Self::start), then [`RunningApplication::wait`].
    ///
    /// # Errors
    ///
    /// Those of [`start`](Self::start).
    pub async fn run(self) -> Result<(), AppError> {
        self.start().await?.wait().await;
        Ok(())
    }

    /// Binds every adapter and the admin servant and starts serving and sending keep-alives;
    /// returns the running application.
    ///
    /// # Errors
    ///
    /// [`AppError::UnregisteredServant`] for an adapter without its servant,
    /// [`AppError::NoEndpoint`] for a servant without an adapter,
    /// [`AppError::WrongProtocol`], [`AppError::Endpoint`], [`AppError::Tls`],
    /// [`AppError::KeepAlive`], and [`AppError::Server`] when the server cannot start.
    pub async fn start(mut self) -> Result<RunningApplication, AppError> {
        if self.logging {
            let level = self
                .config
                .as_ref()
                .and_then(|config| parse_log_level(config.log_level()).ok())
                .unwrap_or(LevelFilter::INFO);
            if let Some(control) = logging::install(level) {
                let _ = self.log_control.set(control);
            }
        }
        let admin = AdminServant::new(self.commands.clone());
        let mut builder = Server::builder();
        if let Some(configure) = self.configure_server.take() {
            builder = configure(builder);
        }
        if let Some((reporter, _)) = &self.stats {
            builder = builder.call_observer(reporter.server_observer());
        }
        let mut adapters = Vec::new();
        let (builder, served) = self.attach_servants(builder, &admin, &mut adapters)?;
        let builder = match self.config.as_ref().map(server_tls).transpose()?.flatten() {
            Some(tls) => builder.tls(tls),
            None => builder,
        };
        let activating = match self.config.as_ref().and_then(ServerConfig::node) {
            Some(node) => Some(
                KeepAlive::builder(&self.communicator, node, &self.app, &self.server)
                    .adapters(adapters)
                    .interval(self.keep_alive_interval)
                    .version(self.commands.app_version())
                    .start_activating()?,
            ),
            None => None,
        };
        let server = match served {
            0 => None,
            _ => match builder.start().await {
                Ok(server) => Some(server),
                Err(error) => {
                    if let Some(activating) = activating {
                        activating.stop().await;
                    }
                    if let Some((reporter, communicator)) = self.stats {
                        reporter.shutdown().await;
                        communicator.shutdown().await;
                    }
                    return Err(error.into());
                }
            },
        };
        if let Some(server) = &server {
            admin.attach(server.handle());
        }
        let keep_alive = activating.map(|activating| activating.started());
        // the signal handlers are installed now, before anyone is told the service is up, so
        // that a SIGTERM right after never meets the default action
        let stop = Box::pin(admin.stop_requested());
        tracing::info!(app = %self.app, server = %self.server, "started");
        Ok(RunningApplication {
            server,
            keep_alive,
            admin,
            stop,
            communicator: self.communicator,
            stats: self.stats,
        })
    }

    /// Adds each servant to `builder` where the config or [`listen`](Self::listen) says, and
    /// the admin servant at `local`; fills `adapters` with the names of the adapters bound,
    /// for the keep-alives. Returns the builder and how many servants it has.
    fn attach_servants(
        &mut self,
        mut builder: ServerBuilder,
        admin: &AdminServant,
        adapters: &mut Vec<String>,
    ) -> Result<(ServerBuilder, usize), AppError> {
        let mut servants: HashMap<String, Registered> = self
            .servants
            .drain(..)
            .map(|registered| (registered.name.clone(), registered))
            .collect();
        let mut served = 0;
        let configured: &[AdapterConfig] =
            self.config.as_ref().map_or(&[], |config| config.adapters());
        for adapter in configured {
            let Some(registered) = servants.remove(adapter.servant()) else {
                return Err(AppError::UnregisteredServant {
                    adapter: adapter.name().to_string(),
                    servant: adapter.servant().to_string(),
                });
            };
            if registered.tars != adapter.is_tars() {
                return Err(AppError::WrongProtocol {
                    adapter: adapter.name().to_string(),
                    protocol: adapter.protocol().to_string(),
                    servant: registered.name,
                    registered: if registered.tars { "TARS" } else { "raw" },
                });
            }
            let listen = adapter_listen(adapter)?;
            builder = (registered.attach)(builder, registered.name, listen);
            adapters.push(adapter.name().to_string());
            served += 1;
        }
        // what the config does not place, `listen` does
        let mut rest: Vec<Registered> = servants.into_values().collect();
        rest.sort_by(|a, b| a.name.cmp(&b.name));
        for registered in rest {
            let Some(listen) = self.listen.remove(&registered.name) else {
                return Err(AppError::NoEndpoint {
                    servant: registered.name,
                });
            };
            builder = (registered.attach)(builder, registered.name, listen);
            served += 1;
        }
        let local = self.config.as_ref().and_then(ServerConfig::local).cloned();
        let admin_listen = match local {
            Some(local) => Some(Listen::from(local)),
            None => self.listen.remove(ADMIN_OBJ),
        };
        if let Some(listen) = admin_listen {
            builder = builder.servant(ADMIN_OBJ, listen, admin.servant());
            served += 1;
        }
        Ok((builder, served))
    }
}

/// A running [`Application`]: serving, sending keep-alives, until it is told to stop.
#[must_use = "dropping it stops the server at once; call wait() or shutdown()"]
pub struct RunningApplication {
    server: Option<Server>,
    keep_alive: Option<KeepAlive>,
    admin: AdminServant,
    /// Resolves on `AdminF.shutdown`, SIGTERM or Ctrl-C; its signal handlers are installed.
    stop: Pin<Box<dyn Future<Output = io::Result<StopReason>> + Send>>,
    communicator: Communicator,
    stats: Option<(StatReporter, Communicator)>,
}

impl fmt::Debug for RunningApplication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningApplication")
            .field("server", &self.server)
            .field("keep_alive", &self.keep_alive)
            .field("admin", &self.admin)
            .field("communicator", &self.communicator)
            .finish_non_exhaustive()
    }
}

impl RunningApplication {
    /// The address servant `name` (a full name, or `AdminObj`) listens on.
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.server.as_ref()?.local_addr(name)
    }

    /// A handle on the running server: its stats, and a shutdown that does not wait.
    pub fn server(&self) -> Option<ServerHandle> {
        self.server.as_ref().map(Server::handle)
    }

    /// The communicator of the application's proxies.
    pub fn communicator(&self) -> &Communicator {
        &self.communicator
    }

    /// Waits until `AdminF.shutdown`, SIGTERM or Ctrl-C, then stops as
    /// [`shutdown`](Self::shutdown) does. Returns why it stopped.
    ///
    /// # Cancel safety
    ///
    /// Dropped while it waits, the application stops at once, without draining.
    pub async fn wait(mut self) -> StopReason {
        let reason = match (&mut self.stop).await {
            Ok(reason) => reason,
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM and Ctrl-C; stopping on AdminF.shutdown only");
                self.admin.shutdown_requested().await;
                StopReason::AdminShutdown
            }
        };
        tracing::info!(?reason, "stopping");
        self.shutdown().await;
        reason
    }

    /// The statistics reporter, as [`Application::stats`].
    pub fn stats(&self) -> Option<&StatReporter> {
        self.stats.as_ref().map(|(reporter, _)| reporter)
    }

    /// Stops in TarsCpp's order: the keep-alives first (the node sees no adapter alive whose
    /// listener is closing), then the server gracefully (running calls finish within its
    /// shutdown timeout), then the communicator, then a last statistics report.
    pub async fn shutdown(self) {
        if let Some(keep_alive) = self.keep_alive {
            keep_alive.stop().await;
        }
        if let Some(server) = self.server {
            server.shutdown().await;
        }
        self.communicator.shutdown().await;
        if let Some((reporter, communicator)) = self.stats {
            reporter.shutdown().await;
            communicator.shutdown().await;
        }
        tracing::info!("stopped");
    }
}

/// The communicator `<client>` describes.
fn communicator_for(config: &ServerConfig) -> Result<CommunicatorBuilder, AppError> {
    let client = config.client();
    let mut builder = Communicator::builder()
        .call_timeout(client.sync_invoke_timeout())
        .refresh_interval(client.refresh_endpoint_interval());
    if let Some(locator) = client.locator() {
        builder = builder.discovery(Locator::new(locator).map_err(AppError::Locator)?);
    }
    if let Some(division) = config.set_division() {
        builder = builder.set_division(division);
    }
    if let Some(tls) = client_tls(config)? {
        builder = builder.tls(tls);
    }
    Ok(builder)
}

/// The reporter `<client>`'s `stat` and `property` ask for, with a communicator of its own
/// that finds them as the application's does.
fn stat_reporter(config: &ServerConfig) -> Result<Option<(StatReporter, Communicator)>, AppError> {
    let client = config.client();
    if client.stat().is_none() && client.property().is_none() {
        return Ok(None);
    }
    let communicator = communicator_for(config)?.build();
    let mut builder = StatReporter::builder(communicator.clone())
        .report_interval(client.report_interval())
        .module_name(client.module_name());
    if let Some(stat) = client.stat() {
        builder = builder.stat(stat);
    }
    if let Some(property) = client.property() {
        builder = builder.property(property);
    }
    if let Some(division) = config.set_division() {
        builder = builder.set_division(division);
    }
    Ok(Some((builder.build()?, communicator)))
}

/// Where and how an adapter listens.
fn adapter_listen(adapter: &AdapterConfig) -> Result<Listen, AppError> {
    let endpoint: Endpoint = adapter
        .endpoint()
        .parse()
        .map_err(|source| AppError::Endpoint {
            what: format!("/tars/application/server/{}<endpoint>", adapter.name()),
            source,
        })?;
    let order = match adapter.order() {
        Some(order) if order.replace(' ', "").eq_ignore_ascii_case("deny,allow") => {
            AccessOrder::DenyAllow
        }
        _ => AccessOrder::AllowDeny,
    };
    Ok(Listen::from(endpoint)
        .max_connections(adapter.max_conns() as usize)
        .queue_capacity(adapter.queue_cap() as usize)
        .queue_timeout(adapter.queue_timeout())
        .access(adapter.allow().to_vec(), adapter.deny().to_vec(), order))
}

/// The server's TLS, from `cert`, `key`, `ca` and `verifyclient` of `<server>`, if it has a
/// `cert`.
fn server_tls(config: &ServerConfig) -> Result<Option<TlsServerConfig>, AppError> {
    const WHAT: &str = "/tars/application/server (TLS)";
    let raw = config.raw();
    let key = |name: &str| raw.get(&format!("/tars/application/server<{name}>"));
    let Some(cert) = key("cert") else {
        return Ok(None);
    };
    let mut tls = TlsServerConfig::builder().cert_chain_file(Path::new(cert));
    if let Some(private_key) = key("key") {
        tls = tls.key_file(Path::new(private_key));
    }
    if let Some(ca) = key("ca") {
        tls = tls.client_ca_file(Path::new(ca));
    }
    let verify = key("verifyclient").is_some_and(|v| matches!(v, "1" | "true" | "y" | "Y"));
    let tls = tls
        .verify_client(verify)
        .build()
        .map_err(|source| AppError::Tls { what: WHAT, source })?;
    Ok(Some(tls))
}

/// The client's TLS, from `ca`, `cert` and `key` of `<client>`, if it has a `ca`.
fn client_tls(config: &ServerConfig) -> Result<Option<TlsClientConfig>, AppError> {
    const WHAT: &str = "/tars/application/client (TLS)";
    let raw = config.raw();
    let key = |name: &str| raw.get(&format!("/tars/application/client<{name}>"));
    let Some(ca) = key("ca") else {
        return Ok(None);
    };
    let mut tls = TlsClientConfig::builder().ca_file(Path::new(ca));
    if let (Some(cert), Some(private_key)) = (key("cert"), key("key")) {
        tls = tls.client_cert_files(Path::new(cert), Path::new(private_key));
    }
    let tls = tls
        .build()
        .map_err(|source| AppError::Tls { what: WHAT, source })?;
    Ok(Some(tls))
}

fn executable_name() -> String {
    std::env::args()
        .next()
        .as_deref()
        .map(Path::new)
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .unwrap_or("server")
        .to_string()
}
