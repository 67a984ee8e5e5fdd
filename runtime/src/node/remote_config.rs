//! Config files from the TARS platform's config center, `tars.tarsconfig.ConfigObj`: the
//! interface `ConfigF` (the platform's `ConfigF.tars`, module `tars`), and [`RemoteConfig`],
//! which downloads a file into the service's base path as TarsCpp's `RemoteConfig::addConfig`
//! does, for the `tars.loadconfig FILE` admin command and for a service reading its files at
//! start.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tars_rpc_macros::tars_interface;

use crate::client::{Communicator, ProxyError};
use crate::error::Result;
use crate::TarsStruct;

/// The config center's object, `tars.tarsconfig.ConfigObj` (the server config's `config` is
/// this object at its address, or found through the registry).
pub const CONFIG_OBJ: &str = "tars.tarsconfig.ConfigObj";

/// How many earlier versions of a downloaded file are kept (`FILE.1.bak` the newest), as
/// TarsCpp keeps them.
pub const DEFAULT_BACKUPS: usize = 5;

/// `ConfigInfo`: which file, for which service, set and host.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, Default)]
#[tars(crate = "crate", name = "tars.ConfigInfo")]
pub struct ConfigInfo {
    /// `appname`: the application.
    #[tars(tag = 0)]
    pub appname: String,
    /// `servername`: the server; empty for an application's file.
    #[tars(tag = 1)]
    pub servername: String,
    /// `filename`.
    #[tars(tag = 2)]
    pub filename: String,
    /// `bAppOnly`: the application's file rather than the server's.
    #[tars(tag = 3)]
    pub b_app_only: bool,
    /// `host`: the node's address, for a machine's file.
    #[tars(tag = 4, optional)]
    pub host: String,
    /// `setdivision`: the set, `name.area.group`.
    #[tars(tag = 5, optional)]
    pub setdivision: String,
}

/// `GetConfigListInfo`: whose files to list.
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, Default)]
#[tars(crate = "crate", name = "tars.GetConfigListInfo")]
pub struct GetConfigListInfo {
    /// `appname`.
    #[tars(tag = 0)]
    pub appname: String,
    /// `servername`.
    #[tars(tag = 1, optional)]
    pub servername: String,
    /// `bAppOnly`.
    #[tars(tag = 2, optional)]
    pub b_app_only: bool,
    /// `host`.
    #[tars(tag = 3, optional)]
    pub host: String,
    /// `setdivision`.
    #[tars(tag = 4, optional)]
    pub setdivision: String,
    /// `containername`.
    #[tars(tag = 5, optional)]
    pub containername: String,
}

/// The config center's interface (`interface Config` of the platform's `ConfigF.tars`).
#[tars_interface(crate = "crate")]
pub trait ConfigF {
    /// `int ListConfig(string app, string server, out vector<string> vf);`
    #[tars(name = "ListConfig")]
    async fn list_config(&self, app: String, server: String, vf: &mut Vec<String>) -> Result<i32>;

    /// `int loadConfig(string app, string server, string filename, out string config);`
    async fn load_config(
        &self,
        app: String,
        server: String,
        filename: String,
        config: &mut String,
    ) -> Result<i32>;

    /// `int loadConfigByHost(string appServerName, string filename, string host, out string config);`
    async fn load_config_by_host(
        &self,
        app_server_name: String,
        filename: String,
        host: String,
        config: &mut String,
    ) -> Result<i32>;

    /// `int checkConfig(string appServerName, string filename, string host, out string result);`
    async fn check_config(
        &self,
        app_server_name: String,
        filename: String,
        host: String,
        result: &mut String,
    ) -> Result<i32>;

    /// `int ListConfigByInfo(ConfigInfo configInfo, out vector<string> vf);`
    #[tars(name = "ListConfigByInfo")]
    async fn list_config_by_info(
        &self,
        config_info: ConfigInfo,
        vf: &mut Vec<String>,
    ) -> Result<i32>;

    /// `int loadConfigByInfo(ConfigInfo configInfo, out string config);`
    async fn load_config_by_info(
        &self,
        config_info: ConfigInfo,
        config: &mut String,
    ) -> Result<i32>;

    /// `int checkConfigByInfo(ConfigInfo configInfo, out string result);`
    async fn check_config_by_info(
        &self,
        config_info: ConfigInfo,
        result: &mut String,
    ) -> Result<i32>;

    /// `int ListAllConfigByInfo(GetConfigListInfo configInfo, out vector<string> vf);`
    #[tars(name = "ListAllConfigByInfo")]
    async fn list_all_config_by_info(
        &self,
        config_info: GetConfigListInfo,
        vf: &mut Vec<String>,
    ) -> Result<i32>;
}

/// Why a file could not be had from the config center, and no local copy stood in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteConfigError {
    /// The config center's object is not a proxy string.
    #[error("the config object `{object}`: {source}")]
    Object {
        /// As given.
        object: String,
        /// Why it is not one.
        #[source]
        source: ProxyError,
    },
    /// A file name that would leave the base path (`..`, an absolute path) or is empty.
    #[error("config file name `{0}`: a plain file name is expected")]
    BadName(String),
    /// The config center failed, or answered with an error code or an empty file, and there
    /// is no local copy.
    #[error("get remote config '{file}': {reason}")]
    Download {
        /// The file asked for.
        file: String,
        /// What the config center said or why it could not be reached.
        reason: String,
    },
    /// Writing the file, or moving the earlier versions aside, failed.
    #[error("get remote config '{file}': {source}")]
    Io {
        /// The file asked for.
        file: String,
        /// The error of the file system.
        #[source]
        source: io::Error,
    },
}

/// What [`RemoteConfig::add_config`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigLoaded {
    /// The config center's file is now at `path` (earlier versions moved to `.N.bak`).
    Downloaded {
        /// Where it is.
        path: PathBuf,
    },
    /// The config center could not give it, and the local file at `path` stays in use (as
    /// TarsCpp does, with a warning).
    LocalKept {
        /// The local file.
        path: PathBuf,
        /// Why the download failed.
        reason: String,
    },
}

impl ConfigLoaded {
    /// The file in use.
    pub fn path(&self) -> &Path {
        match self {
            Self::Downloaded { path } | Self::LocalKept { path, .. } => path,
        }
    }
}

/// Downloads a service's config files from the config center into its base path, as
/// TarsCpp's `RemoteConfig`: `loadConfig(app, server, file)` (`loadConfigByInfo` in a set),
/// tried twice, written to `FILE.<time>` first, then moved over `FILE` after the older
/// versions moved to `FILE.1.bak`, `FILE.2.bak`, ... (five kept).
///
/// ```no_run
/// use tars_rpc::client::Communicator;
/// use tars_rpc::node::RemoteConfig;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let communicator = Communicator::new();
/// let remote = RemoteConfig::new(
///     &communicator,
///     "tars.tarsconfig.ConfigObj@tcp -h 127.0.0.1 -p 17890",
///     "TestApp",
///     "HelloServer",
///     "/usr/local/app/tars/tarsnode/data/TestApp.HelloServer/bin",
/// )?;
/// let loaded = remote.add_config("HelloServer.conf", false).await?;
/// println!("config at {}", loaded.path().display());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    proxy: ConfigFProxy,
    app: String,
    server: String,
    base_path: PathBuf,
    set_division: Option<String>,
    backups: usize,
}

impl RemoteConfig {
    /// A downloader of the files of `server` of `app` from the config center `object`
    /// (a proxy string, or the object name alone with a registry), into `base_path`.
    ///
    /// # Errors
    ///
    /// [`RemoteConfigError::Object`] if `object` is not a proxy string.
    pub fn new(
        communicator: &Communicator,
        object: &str,
        app: &str,
        server: &str,
        base_path: impl Into<PathBuf>,
    ) -> std::result::Result<Self, RemoteConfigError> {
        let proxy =
            communicator
                .string_to_proxy(object)
                .map_err(|source| RemoteConfigError::Object {
                    object: object.to_string(),
                    source,
                })?;
        Ok(Self {
            proxy,
            app: app.to_string(),
            server: server.to_string(),
            base_path: base_path.into(),
            set_division: None,
            backups: DEFAULT_BACKUPS,
        })
    }

    /// Asks for the files of the set `division` (`loadConfigByInfo`).
    #[must_use]
    pub fn with_set_division(mut self, division: &str) -> Self {
        self.set_division = Some(division.to_string()).filter(|division| !division.is_empty());
        self
    }

    /// The config center's proxy, for the calls this does not make itself (`ListConfig`,
    /// `checkConfig`, ...).
    pub fn proxy(&self) -> &ConfigFProxy {
        &self.proxy
    }

    /// Keeps `backups` earlier versions of each file (default [`DEFAULT_BACKUPS`]).
    #[must_use]
    pub fn with_backups(mut self, backups: usize) -> Self {
        self.backups = backups;
        self
    }

    /// Downloads `file` (the application's rather than the server's if `app_only`) into the
    /// base path, keeping the earlier versions as backups; if the config center cannot give
    /// it but a local copy exists, keeps that one ([`ConfigLoaded::LocalKept`]).
    ///
    /// # Errors
    ///
    /// [`RemoteConfigError::BadName`] for a name that is not a plain file name,
    /// [`RemoteConfigError::Download`] when the config center fails and there is no local
    /// copy, [`RemoteConfigError::Io`] when the files cannot be written or moved.
    pub async fn add_config(
        &self,
        file: &str,
        app_only: bool,
    ) -> std::result::Result<ConfigLoaded, RemoteConfigError> {
        let plain = Path::new(file)
            .file_name()
            .is_some_and(|name| name == std::ffi::OsStr::new(file));
        if file.is_empty() || !plain {
            return Err(RemoteConfigError::BadName(file.to_string()));
        }
        let path = self.base_path.join(file);
        let content = match self.download(file, app_only).await {
            Ok(content) => content,
            Err(reason) if path.is_file() => return Ok(ConfigLoaded::LocalKept { path, reason }),
            Err(reason) => {
                return Err(RemoteConfigError::Download {
                    file: file.to_string(),
                    reason,
                })
            }
        };
        let io_error = |source| RemoteConfigError::Io {
            file: file.to_string(),
            source,
        };
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let fresh = self.base_path.join(format!("{file}.{seconds}"));
        tokio::fs::write(&fresh, content.as_bytes())
            .await
            .map_err(io_error)?;
        let changed = match tokio::fs::read(&path).await {
            Ok(old) => old != content.as_bytes(),
            Err(_) => true,
        };
        if changed {
            self.shift_backups(&path).await.map_err(io_error)?;
        }
        tokio::fs::rename(&fresh, &path).await.map_err(io_error)?;
        Ok(ConfigLoaded::Downloaded { path })
    }

    /// What TarsCpp's `tars.loadconfig FILE` replies: `[succ] get remote config:FILE`, or the
    /// `[fail] ...` line of what went wrong.
    pub async fn load_config_command(&self, file: &str) -> String {
        match self.add_config(file, false).await {
            Ok(ConfigLoaded::Downloaded { .. }) => format!("[succ] get remote config:{file}"),
            Ok(ConfigLoaded::LocalKept { path, .. }) => format!(
                "[fail] get remote config:{file}fail,use the local config: {}",
                path.display()
            ),
            Err(error) => format!("[fail] {error}"),
        }
    }

    /// The file's content, or why the config center did not give it: asked twice.
    async fn download(&self, file: &str, app_only: bool) -> std::result::Result<String, String> {
        let server = if app_only { "" } else { &self.server };
        let mut last = String::new();
        for _ in 0..2 {
            let answer = match &self.set_division {
                None => {
                    self.proxy
                        .load_config(self.app.clone(), server.to_string(), file.to_string())
                        .await
                }
                Some(division) => {
                    let info = ConfigInfo {
                        appname: self.app.clone(),
                        servername: server.to_string(),
                        filename: file.to_string(),
                        b_app_only: app_only,
                        setdivision: division.clone(),
                        ..ConfigInfo::default()
                    };
                    self.proxy.load_config_by_info(info).await
                }
            };
            match answer {
                Ok((0, content)) if !content.is_empty() => return Ok(content),
                Ok((0, _)) => return Err("the config center's file is empty".to_string()),
                Ok((ret, _)) => return Err(format!("the config center answered {ret}")),
                Err(error) => last = error.to_string(),
            }
        }
        Err(last)
    }

    /// Moves `FILE.N.bak` to `FILE.N+1.bak` (the oldest dropped), then `FILE` to `FILE.1.bak`.
    async fn shift_backups(&self, path: &Path) -> io::Result<()> {
        if self.backups == 0 {
            return Ok(());
        }
        let backup = |index: usize| {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".{index}.bak"));
            PathBuf::from(name)
        };
        for index in (1..self.backups).rev() {
            if backup(index).is_file() {
                tokio::fs::rename(backup(index), backup(index + 1)).await?;
            }
        }
        if path.is_file() {
            tokio::fs::rename(path, backup(1)).await?;
        }
        Ok(())
    }
}
