//! The typed view of the config tarsnode writes for a service: [`ServerConfig`], its
//! [`AdapterConfig`]s and its [`ClientConfig`].

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::document::{Config, Domain};
use super::error::ConfigError;
use crate::endpoint::{Endpoint, ProxyAddress};

const APPLICATION: &str = "/tars/application";
const SERVER: &str = "/tars/application/server";
const CLIENT: &str = "/tars/application/client";

/// What a TARS platform tells a service about itself: the `<tars><application>` part of the
/// config file tarsnode writes and passes as `--config=FILE` (TarsFramework's
/// `NodeServer/CommandLoad.cpp` writes it from the service's template).
///
/// Keys that are missing or empty take the defaults of TarsCpp's `Application.cpp` and
/// `Communicator.cpp` (given on each getter); numbers that do not parse are an error naming the
/// key, where TarsCpp would read them as 0. Everything else in the file, the service's own keys
/// included, is in [`raw`](Self::raw).
///
/// ```no_run
/// use tars_rpc::config::ServerConfig;
///
/// # fn main() -> Result<(), tars_rpc::config::ConfigError> {
/// // started by tarsnode as `HelloServer --config=/.../TestApp.HelloServer.config.conf`
/// match ServerConfig::from_args(std::env::args())? {
///     Some(config) => {
///         for adapter in config.adapters() {
///             println!("{} on {}", adapter.servant(), adapter.endpoint());
///         }
///     }
///     None => println!("not started by tarsnode: no --config"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    raw: Config,
    path: Option<PathBuf>,
    app: String,
    server: String,
    local_ip: Option<String>,
    base_path: PathBuf,
    data_path: PathBuf,
    log_path: PathBuf,
    log_size: u64,
    log_num: u32,
    log_level: String,
    local: Option<Endpoint>,
    node: Option<String>,
    node_address: Option<ProxyAddress>,
    log: Option<String>,
    config: Option<String>,
    notify: Option<String>,
    deactivating_timeout: Option<Duration>,
    enable_set: bool,
    set_division: Option<String>,
    adapters: Vec<AdapterConfig>,
    client: ClientConfig,
}

impl ServerConfig {
    /// Reads the typed view out of a parsed config.
    ///
    /// ```
    /// use tars_rpc::config::{Config, ServerConfig};
    ///
    /// let config = Config::parse(
    ///     "<tars>\n<application>\n<server>\napp=TestApp\nserver=HelloServer\n\
    ///      <TestApp.HelloServer.HelloObjAdapter>\n\
    ///      endpoint=tcp -h 127.0.0.1 -p 18015 -t 60000\nservant=TestApp.HelloServer.HelloObj\n\
    ///      </TestApp.HelloServer.HelloObjAdapter>\n</server>\n</application>\n</tars>\n",
    /// )?;
    /// let server = ServerConfig::from_config(&config)?;
    /// assert_eq!((server.app(), server.server()), ("TestApp", "HelloServer"));
    /// let adapter = server.adapter_for("TestApp.HelloServer.HelloObj").unwrap();
    /// assert_eq!(adapter.served_endpoint().map(|e| e.port()), Some(18015));
    /// assert_eq!(adapter.max_conns(), 128); // TarsCpp's default
    /// # Ok::<(), tars_rpc::config::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::BadValue`] for a number that does not parse,
    /// [`ConfigError::BadEndpoint`] for an endpoint (`local`, an adapter's tcp `endpoint`) or
    /// proxy string (`node`, `locator`) that does not parse, [`ConfigError::Missing`] for an
    /// adapter without `endpoint` or `servant`: each naming the domain path and the key.
    pub fn from_config(config: &Config) -> Result<ServerConfig, ConfigError> {
        let empty = Domain::default();
        let application = Keys::new(config, APPLICATION, &empty);
        let server = Keys::new(config, SERVER, &empty);
        let client = Keys::new(config, CLIENT, &empty);

        let enable_set = application
            .text("enableset")
            .is_some_and(|value| value.eq_ignore_ascii_case("y"));
        let set_division = application
            .text("setdivision")
            .filter(|_| enable_set)
            .map(str::to_string);
        let node = server.text("node").map(str::to_string);
        let node_address = server.parsed::<ProxyAddress>("node")?;
        let adapters = server
            .domain
            .children()
            .map(|domain| {
                AdapterConfig::from_domain(domain, &format!("{SERVER}/{}", domain.name()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ServerConfig {
            raw: config.clone(),
            path: None,
            app: server.text("app").unwrap_or("UNKNOWN").to_string(),
            server: match server.text("server") {
                Some(name) => name.to_string(),
                None => executable_name(),
            },
            local_ip: server.text("localip").map(str::to_string),
            base_path: PathBuf::from(server.text("basepath").unwrap_or(".")),
            data_path: PathBuf::from(server.text("datapath").unwrap_or(".")),
            log_path: PathBuf::from(server.text("logpath").unwrap_or(".")),
            log_size: server.size("logsize", 52_428_800)?,
            log_num: server.number("lognum", 10)?,
            log_level: server
                .text("logLevel")
                .or_else(|| server.text("loglevel"))
                .unwrap_or("DEBUG")
                .to_ascii_uppercase(),
            local: server.parsed::<Endpoint>("local")?,
            node,
            node_address,
            log: server.text("log").map(str::to_string),
            config: server.text("config").map(str::to_string),
            notify: server.text("notify").map(str::to_string),
            deactivating_timeout: server.millis_opt("deactivating-timeout")?,
            enable_set,
            set_division,
            adapters,
            client: ClientConfig::from_keys(&client)?,
        })
    }

    /// Reads the config file named by `--config=FILE` or `--config FILE` in `args` (pass
    /// `std::env::args()`); `Ok(None)` when there is no such argument, for a service started by
    /// hand.
    ///
    /// TarsCpp reads `--config=FILE` only; TarsGo (Go's `flag`) also `--config FILE`,
    /// `-config=FILE` and `-config FILE`: all four are read, the last one wins, and a `--`
    /// argument ends the search.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingArgument`] for a `--config` without a file name;
    /// [`ConfigError::Io`] if the file cannot be read; the errors of
    /// [`Config::parse`] and [`from_config`](Self::from_config), wrapped in
    /// [`ConfigError::InFile`], which names the file.
    pub fn from_args(
        args: impl IntoIterator<Item = String>,
    ) -> Result<Option<ServerConfig>, ConfigError> {
        let Some(path) = config_argument(args)? else {
            return Ok(None);
        };
        let config = Config::from_file(&path)?;
        let mut server = Self::from_config(&config).map_err(|error| error.in_file(&path))?;
        server.path = Some(path);
        Ok(Some(server))
    }

    /// The whole parsed file, for the keys this view does not type: the service's own
    /// (`/tars/application/server<myflag>`, `/tars/db<dbhost>`) and TarsCpp's less used ones.
    pub fn raw(&self) -> &Config {
        &self.raw
    }

    /// The file this was read from, when read by [`from_args`](Self::from_args).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// `app`: the application, `TestApp` in `TestApp.HelloServer.HelloObj`; `UNKNOWN` if missing
    /// (TarsCpp).
    pub fn app(&self) -> &str {
        &self.app
    }

    /// `server`: the server name, `HelloServer`; if missing, the executable's file name
    /// (TarsCpp).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// `localip`: the host's address as tarsnode sees it.
    pub fn local_ip(&self) -> Option<&str> {
        self.local_ip.as_deref()
    }

    /// `basepath`: where the binary and the config files it downloads live; `.` if missing.
    /// Kept as written (TarsCpp also simplifies it and adds a trailing `/`).
    pub fn base_path(&self) -> &Path {
        &self.base_path
    }

    /// `datapath`: the service's own data directory; `.` if missing.
    pub fn data_path(&self) -> &Path {
        &self.data_path
    }

    /// `logpath`: the root of the local logs (a service logs under `logpath/app/server/`); `.`
    /// if missing.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// `logsize` in bytes: the size at which the rolling log rolls; a plain number of bytes, or
    /// a number with `K`, `M` or `G` (powers of 1024), as TarsCpp's `TC_Common::toSize`.
    /// 50 MiB (52428800) if missing.
    pub fn log_size(&self) -> u64 {
        self.log_size
    }

    /// `lognum`: how many rolled log files are kept; 10 if missing.
    pub fn log_num(&self) -> u32 {
        self.log_num
    }

    /// `logLevel`, upper-cased (`DEBUG`, `INFO`, `WARN`, `ERROR`, `NONE`); `DEBUG` if missing.
    /// TarsCpp and TarsGo read the key `logLevel` only; `loglevel` is read when it is absent.
    pub fn log_level(&self) -> &str {
        &self.log_level
    }

    /// `local`: the admin endpoint (`tcp -h 127.0.0.1 -p PORT -t 10000`), where tarsnode sends
    /// `AdminF` commands (shutdown, notify); TarsCpp serves `AdminObj` there when it is set.
    pub fn local(&self) -> Option<&Endpoint> {
        self.local.as_ref()
    }

    /// `node`: the tarsnode's `ServerF` object as written
    /// (`tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p 19386 -t 60000`), to which a service sends
    /// its keep-alive; missing when not started by tarsnode.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// [`node`](Self::node), parsed.
    pub fn node_address(&self) -> Option<&ProxyAddress> {
        self.node_address.as_ref()
    }

    /// `log`: the remote log object, `tars.tarslog.LogObj`.
    pub fn log(&self) -> Option<&str> {
        self.log.as_deref()
    }

    /// `config`: the config center object, `tars.tarsconfig.ConfigObj`.
    pub fn config(&self) -> Option<&str> {
        self.config.as_deref()
    }

    /// `notify`: the notification object, `tars.tarsnotify.NotifyObj`.
    pub fn notify(&self) -> Option<&str> {
        self.notify.as_deref()
    }

    /// `deactivating-timeout`: how long tarsnode waits for the service to stop before it kills
    /// it (tarsnode clamps it to 60 s); missing: tarsnode's own default.
    pub fn deactivating_timeout(&self) -> Option<Duration> {
        self.deactivating_timeout
    }

    /// `/tars/application<enableset>`: whether the service is in a set (`y`, in any case, as
    /// TarsCpp reads it).
    pub fn enable_set(&self) -> bool {
        self.enable_set
    }

    /// `/tars/application<setdivision>` (`name.area.group`), when
    /// [`enable_set`](Self::enable_set) is on; `None` otherwise (tarsnode then writes `NULL`).
    /// Kept as text: [`registry::SetDivision`](crate::registry::SetDivision) parses it (TarsCpp
    /// turns sets off when it does not have three parts).
    pub fn set_division(&self) -> Option<&str> {
        self.set_division.as_deref()
    }

    /// The adapters, every domain in `<server>`, in file order: what the service listens on.
    pub fn adapters(&self) -> &[AdapterConfig] {
        &self.adapters
    }

    /// The adapter called `name` (`TestApp.HelloServer.HelloObjAdapter`).
    pub fn adapter(&self, name: &str) -> Option<&AdapterConfig> {
        self.adapters.iter().find(|adapter| adapter.name == name)
    }

    /// The adapter serving `servant` (`TestApp.HelloServer.HelloObj`).
    pub fn adapter_for(&self, servant: &str) -> Option<&AdapterConfig> {
        self.adapters
            .iter()
            .find(|adapter| adapter.servant == servant)
    }

    /// The `<client>` part: how the service calls others.
    pub fn client(&self) -> &ClientConfig {
        &self.client
    }
}

/// One adapter of a [`ServerConfig`]: a domain in `<server>` such as
/// `<TestApp.HelloServer.HelloObjAdapter>`, an endpoint to listen on and the servant served
/// there. Defaults are TarsCpp's `Application::bindAdapter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterConfig {
    name: String,
    endpoint: String,
    served_endpoint: Option<Endpoint>,
    order: Option<String>,
    servant: String,
    protocol: String,
    max_conns: u32,
    queue_cap: u32,
    queue_timeout: Duration,
    threads: u32,
    allow: Vec<String>,
    deny: Vec<String>,
}

impl AdapterConfig {
    fn from_domain(domain: &Domain, path: &str) -> Result<AdapterConfig, ConfigError> {
        let keys = Keys { path, domain };
        let endpoint = keys.required("endpoint")?.to_string();
        // the runtime serves tcp and ssl; a udp endpoint is kept as text for the caller
        let served_endpoint = if matches!(endpoint.split_whitespace().next(), Some("tcp" | "ssl")) {
            Some(
                keys.parsed::<Endpoint>("endpoint")?
                    .ok_or_else(|| keys.missing("endpoint"))?,
            )
        } else {
            None
        };
        Ok(AdapterConfig {
            name: domain.name().to_string(),
            endpoint,
            served_endpoint,
            servant: keys.required("servant")?.to_string(),
            protocol: keys.text("protocol").unwrap_or("tars").to_string(),
            max_conns: keys.number("maxconns", 128)?,
            queue_cap: keys.number("queuecap", 1024)?,
            queue_timeout: keys.millis("queuetimeout", 10_000)?,
            threads: keys.number("threads", 0)?,
            allow: keys.list("allow"),
            deny: keys.list("deny"),
            order: keys.text("order").map(str::to_string),
        })
    }

    /// The adapter's domain name, `TestApp.HelloServer.HelloObjAdapter`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `endpoint` as written: `tcp -h 10.0.0.1 -p 18015 -t 60000`, or a `udp` or `ssl` one.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// [`endpoint`](Self::endpoint) parsed by [`tars_rpc::endpoint`](crate::endpoint), when it
    /// is a `tcp` or `ssl` one; `None` for `udp`, which this runtime's server does not serve.
    /// Its `-t` is the idle timeout of the adapter's connections.
    pub fn served_endpoint(&self) -> Option<&Endpoint> {
        self.served_endpoint.as_ref()
    }

    /// `servant`: the object served, `TestApp.HelloServer.HelloObj`.
    pub fn servant(&self) -> &str {
        &self.servant
    }

    /// `protocol`: `tars` (the default), or another name (`not_tars`, `http`...) for a
    /// custom protocol.
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// Whether [`protocol`](Self::protocol) is `tars`.
    pub fn is_tars(&self) -> bool {
        self.protocol == "tars"
    }

    /// `maxconns`: the most connections at once; 128 if missing.
    pub fn max_conns(&self) -> u32 {
        self.max_conns
    }

    /// `queuecap`: the most requests queued for the servant; 1024 if missing.
    pub fn queue_cap(&self) -> u32 {
        self.queue_cap
    }

    /// `queuetimeout` (ms): how long a request may wait in the queue before it is dropped;
    /// 10 s if missing.
    pub fn queue_timeout(&self) -> Duration {
        self.queue_timeout
    }

    /// `threads`: the servant's handler threads; 0 if missing.
    pub fn threads(&self) -> u32 {
        self.threads
    }

    /// `allow`: the client addresses allowed, split at `;` and `,` and trimmed; empty (tarsnode
    /// writes a bare `allow`) allows every address.
    pub fn allow(&self) -> &[String] {
        &self.allow
    }

    /// `deny`: the client addresses refused, split at `;` and `,`.
    pub fn deny(&self) -> &[String] {
        &self.deny
    }

    /// `order`: `allow,deny` (TarsCpp's default when missing) or `deny,allow`, which of
    /// [`allow`](Self::allow) and [`deny`](Self::deny) is checked first.
    pub fn order(&self) -> Option<&str> {
        self.order.as_deref()
    }
}

/// The `<client>` part of a [`ServerConfig`] (TarsCpp's communicator properties): the registry
/// and the call timeouts. Defaults are TarsCpp's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    locator: Option<String>,
    locator_address: Option<ProxyAddress>,
    sync_invoke_timeout: Duration,
    async_invoke_timeout: Duration,
    refresh_endpoint_interval: Duration,
    report_interval: Duration,
    stat: Option<String>,
    property: Option<String>,
    module_name: String,
    sample_rate: u32,
    max_sample_count: u32,
    async_threads: u32,
}

impl ClientConfig {
    fn from_keys(keys: &Keys<'_>) -> Result<ClientConfig, ConfigError> {
        Ok(ClientConfig {
            locator: keys.text("locator").map(str::to_string),
            locator_address: keys.parsed::<ProxyAddress>("locator")?,
            sync_invoke_timeout: keys.millis("sync-invoke-timeout", 3000)?,
            async_invoke_timeout: keys.millis("async-invoke-timeout", 5000)?,
            refresh_endpoint_interval: keys.millis("refresh-endpoint-interval", 60_000)?,
            report_interval: keys.millis("report-interval", 60_000)?,
            stat: keys.text("stat").map(str::to_string),
            property: keys.text("property").map(str::to_string),
            module_name: match keys.text("modulename") {
                Some(name) => name.to_string(),
                None => executable_name(),
            },
            sample_rate: keys.number("sample-rate", 1000)?,
            max_sample_count: keys.number("max-sample-count", 100)?,
            async_threads: keys.number("asyncthread", 3)?,
        })
    }

    /// `locator` as written: the registry,
    /// `tars.tarsregistry.QueryObj@tcp -h 10.0.0.1 -p 17890:tcp -h 10.0.0.2 -p 17890`.
    pub fn locator(&self) -> Option<&str> {
        self.locator.as_deref()
    }

    /// [`locator`](Self::locator), parsed: what
    /// [`registry::Locator`](crate::registry::Locator) takes.
    pub fn locator_address(&self) -> Option<&ProxyAddress> {
        self.locator_address.as_ref()
    }

    /// `sync-invoke-timeout` (ms): the timeout of a blocking call; 3 s if missing.
    pub fn sync_invoke_timeout(&self) -> Duration {
        self.sync_invoke_timeout
    }

    /// `async-invoke-timeout` (ms): the timeout of an asynchronous call, which every call of
    /// this runtime is; 5 s if missing.
    pub fn async_invoke_timeout(&self) -> Duration {
        self.async_invoke_timeout
    }

    /// `refresh-endpoint-interval` (ms): how often endpoints are asked of the registry again;
    /// 60 s if missing.
    pub fn refresh_endpoint_interval(&self) -> Duration {
        self.refresh_endpoint_interval
    }

    /// `report-interval` (ms): how often call statistics and properties are reported; 60 s if
    /// missing.
    pub fn report_interval(&self) -> Duration {
        self.report_interval
    }

    /// `stat`: the statistics object, `tars.tarsstat.StatObj`; no reports without it.
    pub fn stat(&self) -> Option<&str> {
        self.stat.as_deref()
    }

    /// `property`: the property object, `tars.tarsproperty.PropertyObj`.
    pub fn property(&self) -> Option<&str> {
        self.property.as_deref()
    }

    /// `modulename`: the name calls are reported under, `TestApp.HelloServer`; if missing, the
    /// executable's file name (TarsCpp).
    pub fn module_name(&self) -> &str {
        &self.module_name
    }

    /// `sample-rate`: one call in this many is sampled; 1000 if missing (the default of the
    /// TarsCpp versions that still read it).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// `max-sample-count`: the most samples per report interval; 100 if missing (as
    /// [`sample_rate`](Self::sample_rate)).
    pub fn max_sample_count(&self) -> u32 {
        self.max_sample_count
    }

    /// `asyncthread`: TarsCpp's callback threads; 3 if missing.
    pub fn async_threads(&self) -> u32 {
        self.async_threads
    }
}

/// The keys of one domain, read with errors naming the domain's path.
struct Keys<'a> {
    path: &'a str,
    domain: &'a Domain,
}

impl<'a> Keys<'a> {
    fn new(config: &'a Config, path: &'a str, empty: &'a Domain) -> Self {
        Keys {
            path,
            domain: config.domain(path).unwrap_or(empty),
        }
    }

    /// The value, `None` if missing or empty (TarsCpp's `toDefault` treats both alike).
    fn text(&self, key: &str) -> Option<&'a str> {
        self.domain.get(key).filter(|value| !value.is_empty())
    }

    fn missing(&self, key: &str) -> ConfigError {
        ConfigError::Missing {
            path: self.path.to_string(),
            key: key.to_string(),
        }
    }

    fn required(&self, key: &str) -> Result<&'a str, ConfigError> {
        self.text(key).ok_or_else(|| self.missing(key))
    }

    fn bad(&self, key: &str, expected: &'static str, found: &str) -> ConfigError {
        ConfigError::BadValue {
            path: self.path.to_string(),
            key: key.to_string(),
            expected,
            found: found.to_string(),
        }
    }

    fn number<T: FromStr>(&self, key: &str, default: T) -> Result<T, ConfigError> {
        match self.text(key) {
            None => Ok(default),
            Some(text) => text.parse().map_err(|_| self.bad(key, "a number", text)),
        }
    }

    fn millis_opt(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        self.text(key)
            .map(|text| {
                text.parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| self.bad(key, "a number of milliseconds", text))
            })
            .transpose()
    }

    fn millis(&self, key: &str, default: u64) -> Result<Duration, ConfigError> {
        Ok(self
            .millis_opt(key)?
            .unwrap_or(Duration::from_millis(default)))
    }

    /// A size as TarsCpp's `TC_Common::toSize` reads it: `1048576`, `512K`, `10M`, `1.5G`.
    fn size(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        let Some(text) = self.text(key) else {
            return Ok(default);
        };
        let bad = || self.bad(key, "a size (bytes, or a number with K, M or G)", text);
        let (number, unit) = match text.as_bytes().last() {
            Some(b'K') => (&text[..text.len() - 1], 1u64 << 10),
            Some(b'M') => (&text[..text.len() - 1], 1 << 20),
            Some(b'G') => (&text[..text.len() - 1], 1 << 30),
            _ => return text.parse::<u64>().map_err(|_| bad()),
        };
        if let Ok(whole) = number.parse::<u64>() {
            return whole.checked_mul(unit).ok_or_else(bad);
        }
        // a decimal fraction only: `f64` would also take `-1`, `1e3` or `inf`
        if !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(bad());
        }
        let bytes = number.parse::<f64>().map_err(|_| bad())? * unit as f64;
        if bytes < u64::MAX as f64 {
            Ok(bytes as u64)
        } else {
            Err(bad())
        }
    }

    fn list(&self, key: &str) -> Vec<String> {
        self.text(key)
            .map(|text| {
                text.split([';', ','])
                    .map(|item| item.trim())
                    .filter(|item| !item.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn parsed<T>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr<Err = crate::endpoint::EndpointError>,
    {
        self.text(key)
            .map(|text| {
                text.parse().map_err(|source| ConfigError::BadEndpoint {
                    path: self.path.to_string(),
                    key: key.to_string(),
                    source,
                })
            })
            .transpose()
    }
}

/// The executable's file name, TarsCpp's default for `server` and `modulename`.
fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

/// The file of the last `--config=FILE`, `--config FILE`, `-config=FILE` or `-config FILE`.
fn config_argument(args: impl IntoIterator<Item = String>) -> Result<Option<PathBuf>, ConfigError> {
    let mut found = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            continue;
        };
        if flag == "config" {
            match args.next() {
                Some(file) if !file.is_empty() => found = Some(PathBuf::from(file)),
                _ => return Err(ConfigError::MissingArgument),
            }
        } else if let Some(file) = flag.strip_prefix("config=") {
            if file.is_empty() {
                return Err(ConfigError::MissingArgument);
            }
            found = Some(PathBuf::from(file));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_the_config_argument_in_every_spelling() {
        let path = |list: &[&str]| config_argument(args(list)).unwrap();
        assert_eq!(path(&["bin"]), None);
        assert_eq!(path(&["bin", "--config=a.conf"]), Some("a.conf".into()));
        assert_eq!(path(&["bin", "--config", "b.conf"]), Some("b.conf".into()));
        assert_eq!(path(&["bin", "-config=c.conf"]), Some("c.conf".into()));
        assert_eq!(path(&["bin", "-config", "d.conf"]), Some("d.conf".into()));
        assert_eq!(
            path(&["bin", "--config=a", "--other", "--config=b"]),
            Some("b".into())
        );
        assert_eq!(path(&["bin", "--", "--config=x"]), None);
        assert_eq!(path(&["bin", "--configs=x", "config=y"]), None);
        for bad in [
            &["bin", "--config"][..],
            &["bin", "--config="],
            &["bin", "--config", ""],
        ] {
            assert!(matches!(
                config_argument(args(bad)),
                Err(ConfigError::MissingArgument)
            ));
        }
    }

    fn server(text: &str) -> Result<ServerConfig, ConfigError> {
        ServerConfig::from_config(&Config::parse(text)?)
    }

    #[test]
    fn missing_keys_take_tarscpp_defaults() {
        let config =
            server("<tars>\n<application>\n<server>\n</server>\n</application>\n</tars>").unwrap();
        assert_eq!(config.app(), "UNKNOWN");
        assert_eq!(config.server(), executable_name());
        assert_eq!(config.base_path(), Path::new("."));
        assert_eq!(config.log_size(), 52_428_800);
        assert_eq!(config.log_num(), 10);
        assert_eq!(config.log_level(), "DEBUG");
        assert_eq!(config.local(), None);
        assert_eq!(config.node(), None);
        assert_eq!(config.deactivating_timeout(), None);
        assert!(!config.enable_set());
        assert_eq!(config.set_division(), None);
        assert!(config.adapters().is_empty());
        let client = config.client();
        assert_eq!(client.locator(), None);
        assert_eq!(client.sync_invoke_timeout(), Duration::from_secs(3));
        assert_eq!(client.async_invoke_timeout(), Duration::from_secs(5));
        assert_eq!(client.refresh_endpoint_interval(), Duration::from_secs(60));
        assert_eq!(client.report_interval(), Duration::from_secs(60));
        assert_eq!(
            (client.sample_rate(), client.max_sample_count()),
            (1000, 100)
        );
        assert_eq!(client.async_threads(), 3);
        // an empty file is a config with every default
        assert_eq!(server("").unwrap().app(), "UNKNOWN");
    }

    #[test]
    fn adapters_read_their_keys_and_defaults() {
        let config = server(
            "<tars>\n<application>\nenableset=Y\nsetdivision=app.sz.1\n<server>\n\
             <A>\nendpoint=tcp -h 127.0.0.1 -p 1 -t 60000\nservant=App.S.A\nallow=10.0.0.1;10.0.0.2, 10.0.0.3\n</A>\n\
             <B>\nendpoint=udp -h 127.0.0.1 -p 2\nservant=App.S.B\nprotocol=not_tars\nmaxconns=5\n\
             queuecap=6\nqueuetimeout=7\nthreads=8\ndeny=1.2.3.4\n</B>\n\
             </server>\n</application>\n</tars>",
        )
        .unwrap();
        assert!(config.enable_set());
        assert_eq!(config.set_division(), Some("app.sz.1"));
        let names: Vec<_> = config.adapters().iter().map(AdapterConfig::name).collect();
        assert_eq!(names, ["A", "B"]);
        let a = config.adapter("A").unwrap();
        assert_eq!(
            a.served_endpoint(),
            Some(&Endpoint::new("127.0.0.1", 1).with_timeout(Duration::from_secs(60)))
        );
        assert_eq!((a.max_conns(), a.queue_cap(), a.threads()), (128, 1024, 0));
        assert_eq!(a.queue_timeout(), Duration::from_secs(10));
        assert!(a.is_tars());
        assert_eq!(a.allow(), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        assert!(a.deny().is_empty());
        let b = config.adapter_for("App.S.B").unwrap();
        assert_eq!(b.endpoint(), "udp -h 127.0.0.1 -p 2");
        assert_eq!(b.served_endpoint(), None);
        assert_eq!(b.protocol(), "not_tars");
        assert!(!b.is_tars());
        assert_eq!((b.max_conns(), b.queue_cap(), b.threads()), (5, 6, 8));
        assert_eq!(b.queue_timeout(), Duration::from_millis(7));
        assert_eq!(b.deny(), ["1.2.3.4"]);
    }

    #[test]
    fn bad_values_name_the_domain_and_the_key() {
        let adapter = |body: &str| {
            server(&format!(
                "<tars>\n<application>\n<server>\n<TestApp.HelloServer.HelloObjAdapter>\n{body}\n\
                 </TestApp.HelloServer.HelloObjAdapter>\n</server>\n</application>\n</tars>"
            ))
            .unwrap_err()
            .to_string()
        };
        let ok = "endpoint=tcp -h 127.0.0.1 -p 1\nservant=TestApp.HelloServer.HelloObj";
        assert_eq!(
            adapter(&format!("{ok}\nmaxconns=abc")),
            "/tars/application/server/TestApp.HelloServer.HelloObjAdapter<maxconns>: \
             expected a number, found \"abc\""
        );
        assert_eq!(
            adapter(&format!("{ok}\nqueuetimeout=-1")),
            "/tars/application/server/TestApp.HelloServer.HelloObjAdapter<queuetimeout>: \
             expected a number of milliseconds, found \"-1\""
        );
        assert_eq!(
            adapter("servant=TestApp.HelloServer.HelloObj"),
            "/tars/application/server/TestApp.HelloServer.HelloObjAdapter<endpoint> is missing"
        );
        assert_eq!(
            adapter("endpoint=tcp -h 127.0.0.1 -p 1"),
            "/tars/application/server/TestApp.HelloServer.HelloObjAdapter<servant> is missing"
        );
        let message = adapter("endpoint=tcp -h 127.0.0.1 -p 99999\nservant=x");
        assert!(
            message.starts_with(
                "/tars/application/server/TestApp.HelloServer.HelloObjAdapter<endpoint>: invalid endpoint"
            ),
            "{message}"
        );
        let in_server = |body: &str| {
            server(&format!(
                "<tars>\n<application>\n<server>\n{body}\n</server>\n</application>\n</tars>"
            ))
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            in_server("logsize=10X"),
            "/tars/application/server<logsize>: expected a size (bytes, or a number with K, M or G), found \"10X\""
        );
        assert!(
            in_server("local=tcp -h 127.0.0.1").starts_with("/tars/application/server<local>: ")
        );
        assert!(in_server("node=ServerObj").starts_with("/tars/application/server<node>: "));
        let client = server("<tars>\n<application>\n<client>\nsync-invoke-timeout=3s\n</client>\n</application>\n</tars>")
            .unwrap_err()
            .to_string();
        assert_eq!(
            client,
            "/tars/application/client<sync-invoke-timeout>: expected a number of milliseconds, found \"3s\""
        );
    }

    #[test]
    fn sizes_read_as_tarscpp_to_size() {
        let size = |text: &str| {
            server(&format!(
                "<tars>\n<application>\n<server>\nlogsize={text}\n</server>\n</application>\n</tars>"
            ))
            .map(|config| config.log_size())
        };
        assert_eq!(size("1048576").unwrap(), 1 << 20);
        assert_eq!(size("512K").unwrap(), 512 << 10);
        assert_eq!(size("10M").unwrap(), 10 << 20);
        assert_eq!(size("1.5G").unwrap(), 3 << 29);
        for bad in ["M", "-1M", "1e3M", "10 M", "10MB", "99999999999999999999G"] {
            assert!(size(bad).is_err(), "{bad}");
        }
    }
}
