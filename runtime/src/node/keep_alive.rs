//! [`KeepAlive`]: the heartbeat a server sends its tarsnode.

use std::time::Duration;

use futures::future::join_all;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::server_f::{ServerFProxy, ServerInfo};
use super::{ADMIN_ADAPTER, FRAMEWORK_VERSION};
use crate::client::{Communicator, ProxyError};

/// How often a failing node is reported at most: the first failure is logged at once, the
/// following ones are counted and logged together a minute later.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Why a [`KeepAlive`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeepAliveError {
    /// The node's object (the server config's `node`) is no proxy string.
    #[error("the node object `{node}` is not a proxy string (expected `tars.tarsnode.ServerObj@tcp -h HOST -p PORT`)")]
    BadNode {
        /// The node object as given.
        node: String,
        /// What is wrong with it.
        #[source]
        source: ProxyError,
    },
}

/// The heartbeat of a server to its tarsnode, as TarsCpp's `KeepAliveNodeFHelper` and TarsGo's
/// `NodeFHelper` send it: `reportVersion` once and `keepAlive` with an empty adapter at the
/// start, then every [interval](KeepAliveBuilder::interval) (10 s by default) one `keepAlive`
/// per adapter, `AdminAdapter` included.
///
/// A TARS platform restarts a server that stops reporting (after about a minute without
/// keep-alive), and leaves one that never reports "activating", killing it after about 30 s.
/// A node that cannot be reached or fails a call is logged (a warning, at most once a minute)
/// and called again at the next period: it never stops the heartbeat.
///
/// The heartbeat runs in a task the `KeepAlive` owns. Stop it with [`stop`](Self::stop) before
/// the server's listeners close (the graceful shutdown), so that the node does not see an
/// adapter alive that refuses connections; dropping it stops it too, without waiting.
///
/// ```no_run
/// use std::time::Duration;
/// use tars_rpc::client::Communicator;
/// use tars_rpc::node::KeepAlive;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let communicator = Communicator::new();
/// let keep_alive = KeepAlive::builder(
///     &communicator,
///     "tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p 19386 -t 60000", // the config's `node`
///     "TestApp",
///     "HelloServer",
/// )
/// .adapter("TestApp.HelloServer.HelloObjAdapter")
/// .start()?;
/// // ... serve, then on shutdown:
/// keep_alive.stop().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct KeepAlive {
    stop: CancellationToken,
    task: AbortOnDropHandle<()>,
}

/// Configures a [`KeepAlive`]: from [`KeepAlive::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `start`"]
pub struct KeepAliveBuilder {
    communicator: Communicator,
    node: String,
    info: ServerInfo,
    adapters: Vec<String>,
    interval: Duration,
    activing_interval: Duration,
    version: String,
}

/// The heartbeat of a server that is still initializing, from
/// [`KeepAliveBuilder::start_activating`]: `keepActiving` every
/// [activing interval](KeepAliveBuilder::activing_interval) (5 s by default), as TarsCpp sends
/// it while the application's `initialize()` runs, so that tarsnode does not take a long
/// start for a hung one. [`started`](Self::started) turns it into the [`KeepAlive`] of the
/// running server.
///
/// ```no_run
/// use tars_rpc::client::Communicator;
/// use tars_rpc::node::KeepAlive;
///
/// # async fn load_caches() {}
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let communicator = Communicator::new();
/// let activating = KeepAlive::builder(&communicator, "tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p 19386", "TestApp", "HelloServer")
///     .start_activating()?;
/// load_caches().await; // a long initialization
/// let keep_alive = activating.started(); // reportVersion, keepAlive, then every period
/// # keep_alive.stop().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "dropping it stops the heartbeat"]
pub struct Activating {
    initialized: CancellationToken,
    keep_alive: KeepAlive,
}

impl Activating {
    /// The initialization is over: stops the `keepActiving` calls and starts the keep-alives
    /// of [`KeepAliveBuilder::start`] (`reportVersion` and `keepAlive` at once, then a
    /// `keepAlive` per adapter every period).
    pub fn started(self) -> KeepAlive {
        self.initialized.cancel();
        self.keep_alive
    }

    /// Stops the heartbeat without starting the keep-alives (the initialization failed), and
    /// returns once it has stopped.
    pub async fn stop(self) {
        self.keep_alive.stop().await;
    }
}

impl KeepAlive {
    /// The period of the keep-alives unless [set](KeepAliveBuilder::interval): 10 s, as
    /// TarsCpp's adapters and TarsGo's main loop send them.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

    /// The period of the `keepActiving` calls of a server that initializes, unless
    /// [set](KeepAliveBuilder::activing_interval): 5 s, as TarsCpp sends them.
    pub const DEFAULT_ACTIVING_INTERVAL: Duration = Duration::from_secs(5);

    /// Starts configuring the heartbeat of the server `server_name` of `application` to the
    /// node `node` (`tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p 19386`, the server config's
    /// `node`), called through `communicator`.
    pub fn builder(
        communicator: &Communicator,
        node: impl Into<String>,
        application: impl Into<String>,
        server_name: impl Into<String>,
    ) -> KeepAliveBuilder {
        KeepAliveBuilder {
            communicator: communicator.clone(),
            node: node.into(),
            info: ServerInfo {
                application: application.into(),
                server_name: server_name.into(),
                pid: i32::try_from(std::process::id()).unwrap_or(i32::MAX),
                adapter: String::new(),
            },
            adapters: Vec::new(),
            interval: Self::DEFAULT_INTERVAL,
            activing_interval: Self::DEFAULT_ACTIVING_INTERVAL,
            version: FRAMEWORK_VERSION.to_string(),
        }
    }

    /// Stops the heartbeat and returns once it has stopped: no keep-alive is sent after it
    /// returns (one already written may still be on its way), and a call waiting for the node
    /// is given up.
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it resolves still stops the heartbeat (the task is aborted).
    pub async fn stop(self) {
        self.stop.cancel();
        // the task only ends by the token; a panic in it is a bug logged by the runtime
        if let Err(error) = self.task.await {
            if error.is_panic() {
                tracing::error!(%error, "the keep-alive task panicked");
            }
        }
    }
}

impl KeepAliveBuilder {
    /// Adds an adapter to report alive every period (TarsCpp names them
    /// `App.Server.ObjAdapter`). `AdminAdapter` is always reported, and a name given twice is
    /// reported once.
    pub fn adapter(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.adapters.contains(&name) {
            self.adapters.push(name);
        }
        self
    }

    /// Adds adapters, as [`adapter`](Self::adapter) does one.
    pub fn adapters<I>(self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        names.into_iter().fold(self, Self::adapter)
    }

    /// The period of the keep-alives: 10 s unless set ([`KeepAlive::DEFAULT_INTERVAL`]). A
    /// zero period is taken as 1 ms.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The period of the `keepActiving` calls while the server initializes (see
    /// [`start_activating`](Self::start_activating)): 5 s unless set. A zero period is taken as
    /// 1 ms.
    pub fn activing_interval(mut self, interval: Duration) -> Self {
        self.activing_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The process id reported: this process's unless set (a server run by a wrapper may report
    /// the process tarsnode started).
    pub fn pid(mut self, pid: i32) -> Self {
        self.info.pid = pid;
        self
    }

    /// The version `reportVersion` sends at the start: `tars-rpc-` and the crate's version
    /// unless set ([`FRAMEWORK_VERSION`]).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Starts the heartbeat, in a task on the current tokio runtime: `reportVersion` and a
    /// `keepAlive` for the whole server at once, then a `keepAlive` per adapter every period.
    ///
    /// # Errors
    ///
    /// [`KeepAliveError::BadNode`] if the node object is no proxy string.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start(self) -> Result<KeepAlive, KeepAliveError> {
        self.spawn(None)
    }

    /// Starts the heartbeat of a server that is still initializing: a `keepActiving` at once
    /// and every [activing interval](Self::activing_interval), until
    /// [`Activating::started`] starts the keep-alives of [`start`](Self::start).
    ///
    /// # Errors
    ///
    /// [`KeepAliveError::BadNode`] if the node object is no proxy string.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn start_activating(self) -> Result<Activating, KeepAliveError> {
        let initialized = CancellationToken::new();
        let keep_alive = self.spawn(Some(initialized.clone()))?;
        Ok(Activating {
            initialized,
            keep_alive,
        })
    }

    /// Spawns the heartbeat task, which sends `keepActiving` until `initialized` is cancelled
    /// when there is one.
    fn spawn(self, initialized: Option<CancellationToken>) -> Result<KeepAlive, KeepAliveError> {
        let node: ServerFProxy =
            self.communicator
                .string_to_proxy(&self.node)
                .map_err(|source| KeepAliveError::BadNode {
                    node: self.node.clone(),
                    source,
                })?;
        let mut adapters = self.adapters;
        if !adapters.iter().any(|name| name == ADMIN_ADAPTER) {
            adapters.push(ADMIN_ADAPTER.to_string());
        }
        let heartbeat = Heartbeat {
            node,
            node_name: self.node,
            info: self.info,
            adapters,
            interval: self.interval,
            activing_interval: self.activing_interval,
            version: self.version,
            warnings: Warnings::default(),
        };
        let stop = CancellationToken::new();
        let task = AbortOnDropHandle::new(tokio::spawn(heartbeat.run(stop.clone(), initialized)));
        Ok(KeepAlive { stop, task })
    }
}

/// What the heartbeat task holds.
struct Heartbeat {
    node: ServerFProxy,
    node_name: String,
    info: ServerInfo,
    adapters: Vec<String>,
    interval: Duration,
    activing_interval: Duration,
    version: String,
    warnings: Warnings,
}

impl Heartbeat {
    /// Runs until `stop` is cancelled: `keepActiving` until `initialized` is cancelled (if
    /// there is one), then the keep-alives.
    async fn run(mut self, stop: CancellationToken, initialized: Option<CancellationToken>) {
        if let Some(initialized) = initialized {
            let activing = async {
                loop {
                    let outcome = self.node.keep_activing(self.info.clone()).await;
                    self.warnings
                        .outcome("keepActiving", &self.node_name, outcome);
                    tokio::time::sleep(self.activing_interval).await;
                }
            };
            tokio::select! {
                biased;
                () = stop.cancelled() => return,
                () = initialized.cancelled() => {}
                () = activing => {}
            }
        }
        let start = async {
            let (version, alive) = futures::join!(
                self.node.report_version(
                    self.info.application.clone(),
                    self.info.server_name.clone(),
                    self.version.clone()
                ),
                self.node.keep_alive(self.info.clone())
            );
            self.warnings
                .outcome("reportVersion", &self.node_name, version);
            self.warnings.outcome("keepAlive", &self.node_name, alive);
        };
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            () = start => {}
        }
        let mut ticks = tokio::time::interval_at(Instant::now() + self.interval, self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let round = async {
                ticks.tick().await;
                let calls = self.adapters.iter().map(|adapter| {
                    self.node.keep_alive(ServerInfo {
                        adapter: adapter.clone(),
                        ..self.info.clone()
                    })
                });
                join_all(calls).await
            };
            let outcomes = tokio::select! {
                biased;
                () = stop.cancelled() => return,
                outcomes = round => outcomes,
            };
            for outcome in outcomes {
                self.warnings.outcome("keepAlive", &self.node_name, outcome);
            }
        }
    }
}

/// The failures not logged yet, so that a node that is down is logged once a minute, not at
/// every period.
#[derive(Debug, Default)]
struct Warnings {
    last_warned: Option<Instant>,
    unlogged: u64,
    failing: bool,
}

impl Warnings {
    /// Logs what a call to the node gave, if it failed (and no warning was logged in the last
    /// minute) or if it succeeded after failures.
    fn outcome(&mut self, call: &str, node: &str, outcome: crate::Result<i32>) {
        let failure = match outcome {
            Ok(0) => None,
            Ok(ret) => Some(format!("the node answered {ret}")),
            Err(error) => Some(error.to_string()),
        };
        let Some(failure) = failure else {
            if std::mem::take(&mut self.failing) {
                tracing::info!(node, "the node answers again");
            }
            return;
        };
        self.failing = true;
        let now = Instant::now();
        if self
            .last_warned
            .is_some_and(|last| now.duration_since(last) < WARN_EVERY)
        {
            self.unlogged += 1;
            return;
        }
        let earlier = std::mem::take(&mut self.unlogged);
        self.last_warned = Some(now);
        tracing::warn!(
            node,
            call,
            earlier_failures_not_logged = earlier,
            "{call} to the node failed, trying again at the next period: {failure}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[tokio::test(start_paused = true)]
    async fn failures_are_counted_between_warnings() {
        let mut warnings = Warnings::default();
        let failed = || Err(Error::new(-1, "down"));
        warnings.outcome("keepAlive", "n", failed());
        assert_eq!(warnings.unlogged, 0);
        let first = warnings.last_warned.expect("the first failure is logged");
        warnings.outcome("keepAlive", "n", failed());
        warnings.outcome("keepAlive", "n", Ok(3));
        assert_eq!(warnings.unlogged, 2, "within a minute: counted, not logged");
        tokio::time::advance(WARN_EVERY).await;
        warnings.outcome("keepAlive", "n", failed());
        assert_eq!(warnings.unlogged, 0);
        assert!(warnings.last_warned.expect("logged") > first);
        warnings.outcome("keepAlive", "n", Ok(0));
        assert!(!warnings.failing, "a success ends the failure");
    }

    #[tokio::test]
    async fn a_bad_node_object_is_an_error_naming_it() {
        let communicator = Communicator::new();
        let error = KeepAlive::builder(&communicator, "@@", "A", "S")
            .start()
            .expect_err("no proxy string");
        assert!(error.to_string().contains("`@@`"), "{error}");
        assert!(std::error::Error::source(&error).is_some());
    }

    #[test]
    fn admin_adapter_is_reported_once() {
        let communicator = Communicator::new();
        let builder = KeepAlive::builder(&communicator, "N@tcp -h 127.0.0.1 -p 1", "A", "S")
            .adapters(["X", "X", ADMIN_ADAPTER]);
        assert_eq!(builder.adapters, ["X", ADMIN_ADAPTER]);
        assert_eq!(builder.info.pid, std::process::id() as i32);
    }
}
