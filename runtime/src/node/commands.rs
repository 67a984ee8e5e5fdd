//! [`AdminCommands`]: the commands `AdminF.notify` runs, built-in and registered.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use tracing::level_filters::LevelFilter;

use super::FRAMEWORK_VERSION;
use crate::server::ServerHandle;
use crate::support::{catch_panic, catch_panic_async, lock};

/// `tars.viewstatus`: the server's identity, log level and what it holds now.
pub const CMD_VIEW_STATUS: &str = "tars.viewstatus";
/// `tars.viewversion`: the framework's version (`$tars-rpc-0.1.0$`) and the application's.
pub const CMD_VIEW_VERSION: &str = "tars.viewversion";
/// `tars.setloglevel LEVEL`: changes the log level (`NONE`, `ERROR`, `WARN`, `INFO`, `DEBUG`,
/// `TARS`/`TRACE`) through the [`LogLevel`] control the application set.
pub const CMD_SET_LOG_LEVEL: &str = "tars.setloglevel";
/// `tars.connection`: the connections the server holds.
pub const CMD_CONNECTIONS: &str = "tars.connection";
/// `tars.loadconfig FILE`: reloads a configuration file through the application's
/// [handler](AdminCommandsBuilder::on_load_config) (only registered when there is one).
pub const CMD_LOAD_CONFIG: &str = "tars.loadconfig";
/// `tars.help`: the names of every command registered, one a line.
pub const CMD_HELP: &str = "tars.help";

/// The width of TarsCpp's `OUT_LINE` and `OUT_LINE_LONG` rules.
const RULE_WIDTH: usize = 80;
/// The width TarsCpp's `outfill` pads a label to.
const LABEL_WIDTH: usize = 29;

/// Where a registered command runs, as TarsCpp's `TARS_ADD_ADMIN_CMD_PREFIX` and
/// `TARS_ADD_ADMIN_CMD_NORMAL` register them: the handlers of a command's prefix kind all run
/// before those of its normal kind, and each kind has its header in the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// Runs first; the kind of the built-in commands. Its part of the reply starts with
    /// `[notify prefix object num:N]`.
    Prefix,
    /// Runs after the prefix handlers; the kind of a servant's own commands in TarsCpp. Its
    /// part of the reply starts with `[notify servant object num:N]`.
    Normal,
}

/// A command name that no `notify` could ever run: empty, or holding white space (the command
/// line is split at its first space into the name and the parameters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid admin command name {name:?}: it must be one word, e.g. `app.reload`")]
pub struct InvalidCommandName {
    /// The name given.
    pub name: String,
}

/// A log level name `tars.setloglevel` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level {level:?}: expected NONE, ERROR, WARN, INFO, DEBUG or TARS (TRACE)")]
pub struct UnknownLogLevel {
    /// The level given.
    pub level: String,
}

/// How the application lets `tars.setloglevel` change what is logged at run time.
///
/// The crate installs no tracing subscriber: the application owns it, and hands the admin
/// commands a way to change its level. It is implemented for closures, so that with
/// `tracing-subscriber`'s reload layer it takes a few lines (not compiled here: the crate does
/// not depend on `tracing-subscriber`):
///
/// ```text
/// use tracing_subscriber::{filter::LevelFilter, prelude::*, reload};
///
/// let (filter, reload) = reload::Layer::new(LevelFilter::INFO);
/// tracing_subscriber::registry().with(filter).with(tracing_subscriber::fmt::layer()).init();
/// let commands = AdminCommands::builder()
///     .log_level(move |level: LevelFilter| reload.modify(|filter| *filter = level).map_err(Into::into))
///     .build();
/// ```
pub trait LogLevel: Send + Sync + 'static {
    /// Makes `level` the most verbose level logged from now on.
    ///
    /// # Errors
    ///
    /// Whatever kept it from changing the level (the subscriber is gone); `tars.setloglevel`
    /// then answers `set log level [LEVEL] error`.
    fn set_level(&self, level: LevelFilter)
        -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

impl<F> LogLevel for F
where
    F: Fn(LevelFilter) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
        + Send
        + Sync
        + 'static,
{
    fn set_level(
        &self,
        level: LevelFilter,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self(level)
    }
}

/// Reads a TARS log level name, case-insensitively: `NONE` (or `OFF`), `ERROR`, `WARN`,
/// `INFO`, `DEBUG`, and `TARS` (TarsCpp's most verbose level) or `TRACE`.
///
/// ```
/// use tars_rpc::node::{parse_log_level, LevelFilter};
///
/// assert_eq!(parse_log_level("debug"), Ok(LevelFilter::DEBUG));
/// assert_eq!(parse_log_level("NONE"), Ok(LevelFilter::OFF));
/// assert!(parse_log_level("LOUD").is_err());
/// ```
///
/// # Errors
///
/// [`UnknownLogLevel`] for any other name.
pub fn parse_log_level(level: &str) -> Result<LevelFilter, UnknownLogLevel> {
    match level.trim().to_ascii_uppercase().as_str() {
        "NONE" | "OFF" => Ok(LevelFilter::OFF),
        "ERROR" => Ok(LevelFilter::ERROR),
        "WARN" => Ok(LevelFilter::WARN),
        "INFO" => Ok(LevelFilter::INFO),
        "DEBUG" => Ok(LevelFilter::DEBUG),
        "TARS" | "TRACE" => Ok(LevelFilter::TRACE),
        _ => Err(UnknownLogLevel {
            level: level.to_string(),
        }),
    }
}

type SyncHandler = Arc<dyn Fn(&str) -> String + Send + Sync>;
type AsyncHandler = Arc<dyn Fn(String) -> BoxFuture<'static, String> + Send + Sync>;

/// One handler of a command.
#[derive(Clone)]
enum Handler {
    Sync(SyncHandler),
    Async(AsyncHandler),
    Builtin(Builtin),
}

/// The built-in commands, which read the registry's own state.
#[derive(Debug, Clone, Copy)]
enum Builtin {
    ViewStatus,
    ViewVersion,
    SetLogLevel,
    Connections,
    Help,
}

/// The handlers of every command, by kind and name.
#[derive(Default)]
struct Registry {
    prefix: BTreeMap<String, Vec<Handler>>,
    normal: BTreeMap<String, Vec<Handler>>,
}

impl Registry {
    fn kind(&mut self, kind: CommandKind) -> &mut BTreeMap<String, Vec<Handler>> {
        match kind {
            CommandKind::Prefix => &mut self.prefix,
            CommandKind::Normal => &mut self.normal,
        }
    }
}

struct Shared {
    application: String,
    server_name: String,
    app_version: Mutex<String>,
    log_level: Option<Arc<dyn LogLevel>>,
    /// The level last set by `tars.setloglevel`, as given.
    level_name: Mutex<String>,
    server: Mutex<Option<ServerHandle>>,
    registry: Mutex<Registry>,
}

/// The commands an [`AdminServant`](super::AdminServant) runs for `AdminF.notify`, as TarsCpp's
/// `NotifyObserver` runs them: the built-ins ([`CMD_VIEW_STATUS`], [`CMD_VIEW_VERSION`],
/// [`CMD_SET_LOG_LEVEL`], [`CMD_CONNECTIONS`], [`CMD_HELP`], and [`CMD_LOAD_CONFIG`] when the
/// application handles it) and those the application registers.
///
/// A command line is `name params`: trimmed, then split at its first space. The reply is
/// TarsCpp's: for each kind that has handlers for the name, a header (`[notify prefix object
/// num:N]`, then `[notify servant object num:N]`) and each handler's result as `[i]:result`,
/// every line ending in `\n`. An unknown command answers `""`, as TarsCpp does (TarsGo answers
/// `<command> not support now!`).
///
/// Cheap to clone: the clones share the registry, so commands may be registered after the
/// servant started.
///
/// ```
/// use tars_rpc::node::AdminCommands;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let commands = AdminCommands::builder()
///     .application("TestApp")
///     .server_name("HelloServer")
///     .app_version("1.4.2")
///     .build();
/// commands.register("app.greet", |params: &str| format!("hello {params}"))?;
/// assert_eq!(
///     commands.notify("app.greet world").await,
///     "[notify servant object num:1]\n[1]:hello world\n"
/// );
/// assert_eq!(commands.notify("no.such.command").await, "");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AdminCommands {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AdminCommands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCommands")
            .field("application", &self.shared.application)
            .field("server_name", &self.shared.server_name)
            .field("commands", &self.names())
            .finish_non_exhaustive()
    }
}

/// Configures [`AdminCommands`]: from [`AdminCommands::builder`].
#[must_use = "a builder does nothing until `build`"]
pub struct AdminCommandsBuilder {
    application: String,
    server_name: String,
    app_version: String,
    log_level: Option<Arc<dyn LogLevel>>,
    load_config: Option<Handler>,
}

impl std::fmt::Debug for AdminCommandsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCommandsBuilder")
            .field("application", &self.application)
            .field("server_name", &self.server_name)
            .field("app_version", &self.app_version)
            .field("log_level", &self.log_level.is_some())
            .field("load_config", &self.load_config.is_some())
            .finish()
    }
}

impl Default for AdminCommands {
    fn default() -> Self {
        Self::new()
    }
}

impl AdminCommandsBuilder {
    /// The TARS application the server belongs to, shown by `tars.viewstatus`.
    pub fn application(mut self, application: impl Into<String>) -> Self {
        self.application = application.into();
        self
    }

    /// The server's name, shown by `tars.viewstatus`.
    pub fn server_name(mut self, server_name: impl Into<String>) -> Self {
        self.server_name = server_name.into();
        self
    }

    /// The application's own version, shown by `tars.viewversion` after the framework's.
    pub fn app_version(mut self, version: impl Into<String>) -> Self {
        self.app_version = version.into();
        self
    }

    /// What `tars.setloglevel` changes: without it the command answers `set log level [LEVEL]
    /// error` (the crate installs no subscriber of its own). See [`LogLevel`].
    pub fn log_level(mut self, control: impl LogLevel) -> Self {
        self.log_level = Some(Arc::new(control));
        self
    }

    /// Handles `tars.loadconfig FILE`: `handler` gets the file name (trimmed) and answers what
    /// the command replies, e.g. TarsCpp's `[succ] get remote config:FILE`
    /// ([`RemoteConfig::load_config_command`](super::RemoteConfig::load_config_command) does
    /// it). Without it the command is not registered (and answers `""`).
    pub fn on_load_config<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = String> + Send + 'static,
    {
        let handler: AsyncHandler =
            Arc::new(move |params: String| handler(params.trim().to_string()).boxed());
        self.load_config = Some(Handler::Async(handler));
        self
    }

    /// The registry, with the built-in commands.
    pub fn build(self) -> AdminCommands {
        let mut registry = Registry::default();
        for (name, builtin) in [
            (CMD_VIEW_STATUS, Builtin::ViewStatus),
            (CMD_VIEW_VERSION, Builtin::ViewVersion),
            (CMD_SET_LOG_LEVEL, Builtin::SetLogLevel),
            (CMD_CONNECTIONS, Builtin::Connections),
            (CMD_HELP, Builtin::Help),
        ] {
            registry
                .prefix
                .insert(name.to_string(), vec![Handler::Builtin(builtin)]);
        }
        if let Some(handler) = self.load_config {
            registry
                .prefix
                .insert(CMD_LOAD_CONFIG.to_string(), vec![handler]);
        }
        AdminCommands {
            shared: Arc::new(Shared {
                application: self.application,
                server_name: self.server_name,
                app_version: Mutex::new(self.app_version),
                log_level: self.log_level,
                level_name: Mutex::new(String::new()),
                server: Mutex::new(None),
                registry: Mutex::new(registry),
            }),
        }
    }
}

impl AdminCommands {
    /// The built-in commands, with no application name, version or log level control: see
    /// [`builder`](Self::builder).
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// The application's version that `tars.viewversion` shows.
    pub fn app_version(&self) -> String {
        crate::support::lock(&self.shared.app_version).clone()
    }

    /// Sets the version [`app_version`](Self::app_version) returns.
    pub fn set_app_version(&self, version: &str) {
        *crate::support::lock(&self.shared.app_version) = version.to_string();
    }

    /// Starts configuring the registry.
    pub fn builder() -> AdminCommandsBuilder {
        AdminCommandsBuilder {
            application: String::new(),
            server_name: String::new(),
            app_version: String::new(),
            log_level: None,
            load_config: None,
        }
    }

    /// Registers `handler` for the command `name` (of the [normal](CommandKind::Normal) kind,
    /// TarsCpp's `TARS_ADD_ADMIN_CMD_NORMAL`): `notify("name params")` calls it with `params`
    /// (what follows the first space, `""` if nothing does) and replies with what it returns.
    /// Several handlers of one name all run, in the order registered.
    ///
    /// ```
    /// # use tars_rpc::node::AdminCommands;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let commands = AdminCommands::new();
    /// commands.register("app.cache.clear", |_params: &str| "cleared".to_string())?;
    /// assert!(commands.register("two words", |_: &str| String::new()).is_err());
    /// assert_eq!(commands.notify("app.cache.clear").await, "[notify servant object num:1]\n[1]:cleared\n");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidCommandName`] if `name` is empty or holds white space.
    pub fn register<F>(&self, name: &str, handler: F) -> Result<(), InvalidCommandName>
    where
        F: Fn(&str) -> String + Send + Sync + 'static,
    {
        self.register_kind(CommandKind::Normal, name, Handler::Sync(Arc::new(handler)))
    }

    /// Registers an async `handler` for the command `name`, as [`register`](Self::register)
    /// does a plain one: for a command that waits (asks another service, reloads a file). The
    /// handlers of one command run one after the other.
    ///
    /// ```
    /// # use tars_rpc::node::AdminCommands;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let commands = AdminCommands::new();
    /// commands.register_async("app.flush", |params: String| async move {
    ///     tokio::task::yield_now().await;
    ///     format!("flushed {params}")
    /// })?;
    /// assert_eq!(commands.notify("app.flush all").await, "[notify servant object num:1]\n[1]:flushed all\n");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidCommandName`] if `name` is empty or holds white space.
    pub fn register_async<F, Fut>(&self, name: &str, handler: F) -> Result<(), InvalidCommandName>
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = String> + Send + 'static,
    {
        let handler: AsyncHandler = Arc::new(move |params| handler(params).boxed());
        self.register_kind(CommandKind::Normal, name, Handler::Async(handler))
    }

    /// Registers `handler` for the command `name` with the [prefix](CommandKind::Prefix) kind
    /// (TarsCpp's `TARS_ADD_ADMIN_CMD_PREFIX`): it runs before the normal handlers of the same
    /// name, e.g. to add to a built-in command.
    ///
    /// # Errors
    ///
    /// [`InvalidCommandName`] if `name` is empty or holds white space.
    pub fn register_prefix<F>(&self, name: &str, handler: F) -> Result<(), InvalidCommandName>
    where
        F: Fn(&str) -> String + Send + Sync + 'static,
    {
        self.register_kind(CommandKind::Prefix, name, Handler::Sync(Arc::new(handler)))
    }

    fn register_kind(
        &self,
        kind: CommandKind,
        name: &str,
        handler: Handler,
    ) -> Result<(), InvalidCommandName> {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(InvalidCommandName {
                name: name.to_string(),
            });
        }
        lock(&self.shared.registry)
            .kind(kind)
            .entry(name.to_string())
            .or_default()
            .push(handler);
        Ok(())
    }

    /// Gives the commands the running server whose state `tars.viewstatus` and
    /// `tars.connection` show ([`Server::handle`](crate::server::Server::handle)); until then
    /// they say that no server is attached.
    pub fn attach(&self, server: ServerHandle) {
        *lock(&self.shared.server) = Some(server);
    }

    /// The names of every command registered, sorted (what `tars.help` lists).
    pub fn names(&self) -> Vec<String> {
        let registry = lock(&self.shared.registry);
        let mut names: Vec<String> = registry
            .prefix
            .keys()
            .chain(registry.normal.keys())
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Runs the command line `command` (`name params`) and returns the reply, as
    /// `AdminF.notify` answers it: see [`AdminCommands`]. A handler that panics ends the
    /// command, with TarsCpp's `[notify break.]` and the panic's message.
    pub async fn notify(&self, command: &str) -> String {
        let line = command.trim_matches([' ', '\t', '\r', '\n']);
        let (name, params) = line.split_once(' ').unwrap_or((line, ""));
        let (prefix, normal) = {
            let registry = lock(&self.shared.registry);
            (
                registry.prefix.get(name).cloned().unwrap_or_default(),
                registry.normal.get(name).cloned().unwrap_or_default(),
            )
        };
        if prefix.is_empty() && normal.is_empty() {
            tracing::info!(command = line, "unknown admin command");
            return String::new();
        }
        tracing::info!(command = line, "admin command");
        let mut reply = String::new();
        for (header, handlers) in [("prefix", prefix), ("servant", normal)] {
            if handlers.is_empty() {
                continue;
            }
            let _ = writeln!(reply, "[notify {header} object num:{}]", handlers.len());
            for (i, handler) in handlers.into_iter().enumerate() {
                match self.run(&handler, params).await {
                    Ok(result) => {
                        let _ = writeln!(reply, "[{}]:{result}", i + 1);
                    }
                    Err(panic) => {
                        tracing::error!(command = line, panic, "an admin command handler panicked");
                        let _ = writeln!(reply, "[notify break.]\n{name} failed: {panic}");
                        return reply;
                    }
                }
            }
        }
        reply
    }

    /// Runs one handler, its panic caught.
    async fn run(&self, handler: &Handler, params: &str) -> Result<String, String> {
        match handler {
            Handler::Sync(handler) => catch_panic(|| handler(params)),
            Handler::Async(handler) => {
                let handler = Arc::clone(handler);
                let params = params.to_string();
                catch_panic_async(async move { handler(params).await }).await
            }
            Handler::Builtin(builtin) => Ok(self.builtin(*builtin, params)),
        }
    }

    fn builtin(&self, builtin: Builtin, params: &str) -> String {
        match builtin {
            Builtin::ViewStatus => self.view_status(),
            Builtin::ViewVersion => self.view_version(),
            Builtin::SetLogLevel => self.set_log_level(params),
            Builtin::Connections => self.connections(),
            Builtin::Help => self
                .names()
                .iter()
                .map(|name| format!("{name}\r\n"))
                .collect(),
        }
    }

    fn server(&self) -> Option<ServerHandle> {
        lock(&self.shared.server).clone()
    }

    /// `tars.viewstatus`: TarsCpp prints its configuration; this is the server's identity and
    /// what it holds, in the same label-and-value shape.
    fn view_status(&self) -> String {
        let shared = &self.shared;
        let mut out = String::new();
        let _ = writeln!(out, "{}", "=".repeat(RULE_WIDTH));
        let _ = writeln!(out, "{}", label("[server config]:"));
        let level = lock(&shared.level_name).clone();
        for (name, value) in [
            ("Application(app)", shared.application.clone()),
            ("ServerName(server)", shared.server_name.clone()),
            ("Pid(pid)", std::process::id().to_string()),
            ("LogLevel(loglevel)", level),
            ("Version(version)", self.app_version()),
            ("TarsVersion", FRAMEWORK_VERSION.to_string()),
        ] {
            let _ = writeln!(out, "{}{value}", label(name));
        }
        let _ = writeln!(out, "{}", "-".repeat(RULE_WIDTH));
        let _ = writeln!(out, "{}", label("[server status]:"));
        match self.server() {
            Some(server) => {
                let stats = server.stats();
                for (name, value) in [
                    ("Connections", stats.connections as u64),
                    ("RefusedConnections", stats.refused_connections),
                    ("QueuedBytes", stats.queued_bytes as u64),
                ] {
                    let _ = writeln!(out, "{}{value}", label(name));
                }
            }
            None => {
                let _ = writeln!(out, "no server attached");
            }
        }
        let _ = writeln!(out, "{}", "-".repeat(RULE_WIDTH));
        out
    }

    /// `tars.viewversion`: TarsCpp answers `$VERSION$`; the application's version follows.
    fn view_version(&self) -> String {
        let mut out = format!("${FRAMEWORK_VERSION}$");
        let app_version = self.app_version();
        if !app_version.is_empty() {
            let _ = write!(out, "\napp version: {app_version}");
        }
        out
    }

    /// `tars.setloglevel LEVEL`, answered as TarsCpp does.
    fn set_log_level(&self, params: &str) -> String {
        let level = params.trim();
        let outcome = match (parse_log_level(level), &self.shared.log_level) {
            (Err(error), _) => Err(error.to_string()),
            (Ok(_), None) => {
                Err("no log level control is set (AdminCommandsBuilder::log_level)".to_string())
            }
            (Ok(filter), Some(control)) => {
                control.set_level(filter).map_err(|error| error.to_string())
            }
        };
        match outcome {
            Ok(()) => {
                *lock(&self.shared.level_name) = level.to_ascii_uppercase();
                tracing::info!(level, "log level set by tars.setloglevel");
                format!("set log level [{level}] ok")
            }
            Err(error) => {
                tracing::warn!(level, %error, "tars.setloglevel failed");
                format!("set log level [{level}] error")
            }
        }
    }

    /// `tars.connection`: TarsCpp lists each adapter's connections; the server counts them
    /// for all its listeners together.
    fn connections(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", "=".repeat(RULE_WIDTH));
        match self.server() {
            Some(server) => {
                let stats = server.stats();
                let _ = writeln!(out, "{}", "-".repeat(RULE_WIDTH));
                let _ = writeln!(
                    out,
                    "[adapter:all] [connections:{}] [refused:{}]",
                    stats.connections, stats.refused_connections
                );
            }
            None => {
                let _ = writeln!(out, "no server attached");
            }
        }
        let _ = writeln!(out, "{}", "=".repeat(RULE_WIDTH));
        out
    }
}

/// TarsCpp's `outfill`: `text` padded with spaces to the label width.
fn label(text: &str) -> String {
    format!("{text:<LABEL_WIDTH$}")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn levels() -> (AdminCommands, Arc<Mutex<Vec<LevelFilter>>>) {
        let set = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&set);
        let commands = AdminCommands::builder()
            .application("TestApp")
            .server_name("HelloServer")
            .app_version("2.3.4")
            .log_level(move |level: LevelFilter| {
                lock(&seen).push(level);
                Ok(())
            })
            .build();
        (commands, set)
    }

    #[tokio::test]
    async fn unknown_commands_answer_nothing_as_tarscpp_does() {
        let commands = AdminCommands::new();
        assert_eq!(commands.notify("no.such").await, "");
        assert_eq!(commands.notify("").await, "");
        assert_eq!(commands.notify("   \r\n").await, "");
        // tars.loadconfig is only there with a handler
        assert_eq!(commands.notify("tars.loadconfig a.conf").await, "");
    }

    #[tokio::test]
    async fn a_command_line_is_trimmed_and_split_at_its_first_space() {
        let commands = AdminCommands::new();
        commands
            .register("app.echo", |params: &str| format!("<{params}>"))
            .unwrap();
        assert_eq!(
            commands.notify("  app.echo a  b \r\n").await,
            "[notify servant object num:1]\n[1]:<a  b>\n"
        );
        assert_eq!(
            commands.notify("app.echo").await,
            "[notify servant object num:1]\n[1]:<>\n"
        );
        // the name is matched whole, case and all
        assert_eq!(commands.notify("app.ech").await, "");
        assert_eq!(commands.notify("APP.ECHO").await, "");
    }

    #[tokio::test]
    async fn prefix_handlers_run_before_normal_ones_each_under_its_header() {
        let commands = AdminCommands::new();
        let order = Arc::new(Mutex::new(Vec::new()));
        for (kind, tag) in [
            (CommandKind::Normal, "normal-1"),
            (CommandKind::Prefix, "prefix-1"),
            (CommandKind::Normal, "normal-2"),
        ] {
            let order = Arc::clone(&order);
            let handler = move |_: &str| {
                lock(&order).push(tag);
                tag.to_string()
            };
            match kind {
                CommandKind::Normal => commands.register("app.x", handler),
                CommandKind::Prefix => commands.register_prefix("app.x", handler),
            }
            .unwrap();
        }
        assert_eq!(
            commands.notify("app.x").await,
            "[notify prefix object num:1]\n[1]:prefix-1\n\
             [notify servant object num:2]\n[1]:normal-1\n[2]:normal-2\n"
        );
        assert_eq!(*lock(&order), ["prefix-1", "normal-1", "normal-2"]);
    }

    #[tokio::test]
    async fn async_handlers_are_awaited_and_registered_later_commands_are_seen() {
        let commands = AdminCommands::new();
        let clone = commands.clone();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        clone
            .register_async("app.wait", move |params: String| {
                let counted = Arc::clone(&counted);
                async move {
                    tokio::task::yield_now().await;
                    counted.fetch_add(1, Ordering::SeqCst);
                    format!("waited {params}")
                }
            })
            .unwrap();
        assert_eq!(
            commands.notify("app.wait 3").await,
            "[notify servant object num:1]\n[1]:waited 3\n"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_panicking_handler_breaks_the_command_with_its_message() {
        let commands = AdminCommands::new();
        commands
            .register("app.boom", |_: &str| panic!("kaboom"))
            .unwrap();
        commands
            .register("app.boom", |_: &str| "never".to_string())
            .unwrap();
        let reply = commands.notify("app.boom").await;
        assert_eq!(
            reply,
            "[notify servant object num:2]\n[notify break.]\napp.boom failed: kaboom\n"
        );
        commands
            .register_async("app.later", |_: String| async { panic!("async kaboom") })
            .unwrap();
        assert!(commands
            .notify("app.later")
            .await
            .ends_with("app.later failed: async kaboom\n"));
    }

    #[test]
    fn names_with_white_space_or_empty_are_refused() {
        let commands = AdminCommands::new();
        for name in ["", "a b", "tab\there", "nl\n"] {
            let error = commands
                .register(name, |_: &str| String::new())
                .expect_err(name);
            assert_eq!(error.name, name);
        }
        assert!(!commands.names().iter().any(|name| name.is_empty()));
    }

    #[tokio::test]
    async fn help_lists_every_command_once_sorted() {
        let commands = AdminCommands::new();
        commands
            .register("zz.last", |_: &str| String::new())
            .unwrap();
        commands
            .register(CMD_VIEW_STATUS, |_: &str| String::new())
            .unwrap();
        let reply = commands.notify("tars.help").await;
        let body = reply
            .strip_prefix("[notify prefix object num:1]\n[1]:")
            .expect(&reply);
        assert_eq!(
            body,
            "tars.connection\r\ntars.help\r\ntars.setloglevel\r\ntars.viewstatus\r\n\
             tars.viewversion\r\nzz.last\r\n\n"
        );
    }

    #[tokio::test]
    async fn setloglevel_calls_the_control_and_answers_as_tarscpp() {
        let (commands, set) = levels();
        assert_eq!(
            commands.notify("tars.setloglevel DEBUG").await,
            "[notify prefix object num:1]\n[1]:set log level [DEBUG] ok\n"
        );
        assert_eq!(
            commands.notify("tars.setloglevel none").await,
            "[notify prefix object num:1]\n[1]:set log level [none] ok\n"
        );
        assert_eq!(
            commands.notify("tars.setloglevel LOUD").await,
            "[notify prefix object num:1]\n[1]:set log level [LOUD] error\n"
        );
        assert_eq!(*lock(&set), [LevelFilter::DEBUG, LevelFilter::OFF]);
        assert!(commands
            .notify("tars.viewstatus")
            .await
            .contains(&format!("{}NONE\n", label("LogLevel(loglevel)"))));

        // without a control, and with one that fails
        let plain = AdminCommands::new();
        assert!(plain
            .notify("tars.setloglevel INFO")
            .await
            .contains("set log level [INFO] error"));
        let failing = AdminCommands::builder()
            .log_level(|_: LevelFilter| Err("the subscriber is gone".into()))
            .build();
        assert!(failing
            .notify("tars.setloglevel INFO")
            .await
            .contains("set log level [INFO] error"));
    }

    #[tokio::test]
    async fn viewversion_and_viewstatus_show_the_versions_and_the_identity() {
        let (commands, _) = levels();
        assert_eq!(
            commands.notify("tars.viewversion").await,
            format!(
                "[notify prefix object num:1]\n[1]:${FRAMEWORK_VERSION}$\napp version: 2.3.4\n"
            )
        );
        let status = commands.notify("tars.viewstatus").await;
        for line in [
            format!("{}TestApp", label("Application(app)")),
            format!("{}HelloServer", label("ServerName(server)")),
            format!("{}{}", label("Pid(pid)"), std::process::id()),
            format!("{}{FRAMEWORK_VERSION}", label("TarsVersion")),
            "no server attached".to_string(),
        ] {
            assert!(status.lines().any(|l| l == line), "{line:?} in {status}");
        }
        assert!(commands
            .notify("tars.connection")
            .await
            .contains("no server attached"));
    }

    #[tokio::test]
    async fn loadconfig_calls_the_handler_with_the_file() {
        let commands = AdminCommands::builder()
            .on_load_config(
                |file: String| async move { format!("[succ] get remote config:{file}") },
            )
            .build();
        assert_eq!(
            commands.notify("tars.loadconfig  app.conf ").await,
            "[notify prefix object num:1]\n[1]:[succ] get remote config:app.conf\n"
        );
        assert!(commands.names().contains(&CMD_LOAD_CONFIG.to_string()));
    }

    #[test]
    fn log_levels_parse_as_tars_names_them() {
        for (name, level) in [
            ("NONE", LevelFilter::OFF),
            ("off", LevelFilter::OFF),
            ("ERROR", LevelFilter::ERROR),
            ("Warn", LevelFilter::WARN),
            ("INFO", LevelFilter::INFO),
            (" DEBUG ", LevelFilter::DEBUG),
            ("TARS", LevelFilter::TRACE),
            ("trace", LevelFilter::TRACE),
        ] {
            assert_eq!(parse_log_level(name), Ok(level), "{name}");
        }
        let error = parse_log_level("VERBOSE").unwrap_err();
        assert!(error.to_string().contains("\"VERBOSE\""), "{error}");
    }
}
