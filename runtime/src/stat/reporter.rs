//! [`StatReporter`]: collects call statistics (through the client's and the server's call
//! observers) and properties, and sends them every interval, as TarsCpp's `StatReport` does.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::property::{Policy, Property, PropertyState};
use super::property_f::{PropertyFProxy, StatPropMsgBody, StatPropMsgHead};
use super::stat_f::{StatFProxy, StatMicMsgBody, StatMicMsgHead};
use super::table::{CallTable, Counts, Ip, LineKey, Outcome, OwnedKey};
use crate::client::{self, Communicator, ProxyError, TypedProxy};
use crate::error::Error;
use crate::packet::ReturnCode;
use crate::server;
use crate::support::lock;

/// The default report interval: TarsCpp's `report-interval`, 60 s.
pub const DEFAULT_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// The shortest report interval the builder accepts unless told otherwise
/// ([`StatReporterBuilder::min_report_interval`]): TarsCpp's 10 s.
pub const MIN_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// The default (and shortest) time a report call may take: TarsCpp's 5 s.
pub const DEFAULT_REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes one report call carries, by TarsCpp's estimate (a UDP datagram within the
/// MTU): bigger maps go in several calls.
pub const MAX_REPORT_SIZE: usize = 1400;

/// The smallest report size the builder accepts.
const MIN_REPORT_SIZE: usize = 500;

/// TarsCpp's estimate of the bytes a stat head takes beyond its strings.
const STAT_PROTOCOL_LEN: usize = 100;

/// TarsCpp's estimate of the bytes a property line takes beyond its values.
const PROPERTY_PROTOCOL_LEN: usize = 50;

/// The longest name in a head, as TarsCpp cuts them.
const MAX_NAME_LEN: usize = 127;

/// The longest address in a head, as TarsCpp cuts them.
const MAX_IP_LEN: usize = 50;

/// The version a client's reports carry after its module name (`App.Server@VERSION`), where
/// TarsCpp writes its own.
pub const TARS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The caller's name in a server's report of a request (TarsGo's name for it).
pub const SERVER_MASTER_NAME: &str = "stat_from_server";

/// The caller's name in a server's report of a one-way request (TarsCpp's and TarsGo's).
pub const ONEWAY_MASTER_NAME: &str = "one_way_client";

/// Why a reporter could not be built, or a report could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatError {
    /// The stat or property object's proxy string is not valid.
    #[error("invalid {key} object `{object}`: {source}")]
    Object {
        /// `stat` or `property`: the configuration key it came from.
        key: &'static str,
        /// The proxy string given.
        object: String,
        /// Why it is not valid.
        #[source]
        source: ProxyError,
    },
    /// A report call failed (the statistics it carried are lost, as in TarsCpp).
    #[error("reporting to {object} failed: {source}")]
    Report {
        /// The stat or property object called.
        object: String,
        /// The call's error.
        #[source]
        source: Error,
    },
    /// The stat or property service answered a report with a code other than 0.
    #[error("{object} answered a report with {ret}")]
    Refused {
        /// The stat or property object called.
        object: String,
        /// What it answered.
        ret: i32,
    },
}

/// A service's set (`name.area.group`), as TarsCpp splits `setdivision`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SetInfo {
    name: String,
    area: String,
    id: String,
}

impl SetInfo {
    /// The set of a division `name.area.group`; `None` for another form or a `*` name or
    /// area, which TarsCpp takes as no set.
    fn parse(division: &str) -> Option<Self> {
        let parts: Vec<&str> = division.split('.').collect();
        match parts.as_slice() {
            [name, area, id] if *name != "*" && *area != "*" => Some(Self {
                name: (*name).to_string(),
                area: (*area).to_string(),
                id: (*id).to_string(),
            }),
            _ => None,
        }
    }

    /// `.nameareagroup`, what TarsCpp appends to a module name in a set.
    fn suffix(&self) -> String {
        format!(".{}{}{}", self.name, self.area, self.id)
    }
}

/// What the observers and the report task share: the tables, and the names that tell the
/// reporter's own calls apart.
#[derive(Debug)]
struct Tables {
    client: CallTable,
    server: CallTable,
    /// The objects reports go to (before any `@`): calls to them are not counted.
    own_objects: Vec<String>,
}

/// The client side's [`CallObserver`](client::CallObserver): counts each call of the
/// communicator it is installed on under its callee's server name, function and endpoint.
/// From [`StatReporter::client_observer`].
#[derive(Clone)]
pub struct ClientStats {
    tables: Arc<Tables>,
}

impl fmt::Debug for ClientStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientStats").finish_non_exhaustive()
    }
}

impl client::CallObserver for ClientStats {
    fn on_call(&self, call: &client::CallRecord<'_>) {
        let object = call.object();
        if self.tables.own_objects.iter().any(|own| own == object) {
            return;
        }
        let code = call.code();
        let outcome = if code.is_success() {
            Outcome::Success
        } else if code == ReturnCode::INVOKE_TIMEOUT {
            Outcome::Timeout
        } else {
            Outcome::Exception
        };
        let endpoint = call.endpoint();
        let key = LineKey {
            peer: object,
            function: call.function(),
            ip: Ip::Host(endpoint.host()),
            port: endpoint.port(),
        };
        self.tables.client.record(key, outcome, call.elapsed());
    }
}

/// The server side's [`CallObserver`](server::CallObserver): counts each request of the
/// server it is installed on under its function and caller's address. From
/// [`StatReporter::server_observer`].
#[derive(Clone)]
pub struct ServerStats {
    tables: Arc<Tables>,
}

impl fmt::Debug for ServerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerStats").finish_non_exhaustive()
    }
}

impl server::CallObserver for ServerStats {
    fn on_call(&self, call: &server::CallRecord<'_>) {
        let outcome = if call.timed_out() {
            Outcome::Timeout
        } else if call.code().is_success() {
            Outcome::Success
        } else {
            Outcome::Exception
        };
        let key = LineKey {
            peer: if call.is_oneway() {
                ONEWAY_MASTER_NAME
            } else {
                SERVER_MASTER_NAME
            },
            function: call.function(),
            ip: Ip::Addr(call.peer_addr().ip()),
            port: 0,
        };
        self.tables.server.record(key, outcome, call.elapsed());
    }
}

/// What the report task needs: the tables, the properties, the proxies and the names.
struct Reporting {
    tables: Arc<Tables>,
    properties: Mutex<BTreeMap<String, Arc<PropertyState>>>,
    stat: Option<(String, StatFProxy)>,
    property: Option<(String, PropertyFProxy)>,
    module: String,
    set: Option<SetInfo>,
    max_report_size: usize,
}

/// Collects call statistics and properties and reports them every interval to the stat
/// service (`StatF.reportMicMsg`) and the property service (`PropertyF.reportPropMsg`), as
/// TarsCpp's `StatReport` does. See [the module](super) for how to wire it.
///
/// It owns a task that reports every [interval](StatReporterBuilder::report_interval): the
/// task stops when the reporter is dropped (what was counted since the last report is lost),
/// or reports a last time and stops on [`shutdown`](Self::shutdown).
pub struct StatReporter {
    reporting: Arc<Reporting>,
    stop: CancellationToken,
    task: Mutex<Option<AbortOnDropHandle<()>>>,
    interval: Duration,
}

impl fmt::Debug for StatReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatReporter")
            .field("module", &self.reporting.module)
            .field("stat", &self.reporting.stat.as_ref().map(|(name, _)| name))
            .field(
                "property",
                &self.reporting.property.as_ref().map(|(name, _)| name),
            )
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl StatReporter {
    /// A builder of a reporter calling the stat and property services through
    /// `communicator`.
    ///
    /// Give it a communicator of its own, or one without this reporter's
    /// [client observer](Self::client_observer): the observer is installed when a
    /// communicator is built, after the reporter (its calls to the stat and property objects
    /// are never counted either way).
    pub fn builder(communicator: Communicator) -> StatReporterBuilder {
        StatReporterBuilder {
            communicator,
            stat: None,
            property: None,
            interval: DEFAULT_REPORT_INTERVAL,
            min_interval: MIN_REPORT_INTERVAL,
            module: "unknown".to_string(),
            set_division: None,
            report_timeout: DEFAULT_REPORT_TIMEOUT,
            max_report_size: MAX_REPORT_SIZE,
        }
    }

    /// The observer to install on a communicator
    /// ([`CommunicatorBuilder::call_observer`](client::CommunicatorBuilder::call_observer)):
    /// its calls are reported as a client's (`bFromClient` true).
    pub fn client_observer(&self) -> ClientStats {
        ClientStats {
            tables: self.reporting.tables.clone(),
        }
    }

    /// The observer to install on a server
    /// ([`ServerBuilder::call_observer`](server::ServerBuilder::call_observer)): its requests
    /// are reported as a server's (`bFromClient` false).
    pub fn server_observer(&self) -> ServerStats {
        ServerStats {
            tables: self.reporting.tables.clone(),
        }
    }

    /// The property `name`, summed up by `policies`; the property made earlier under that
    /// name, with its policies, if there is one (as TarsCpp's `createPropertyReport`).
    pub fn property(&self, name: &str, policies: &[Policy]) -> Property {
        let mut properties = lock(&self.reporting.properties);
        let state = properties
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(PropertyState::new(name.to_string(), policies)));
        Property::new(state.clone())
    }

    /// The interval between reports.
    pub fn report_interval(&self) -> Duration {
        self.interval
    }

    /// Reports now what was counted since the last report, without waiting for the interval.
    ///
    /// # Errors
    ///
    /// The first failed report call ([`StatError::Report`], [`StatError::Refused`]); the
    /// other calls are made all the same. What a failed call carried is lost.
    pub async fn flush(&self) -> Result<(), StatError> {
        self.reporting.report().await
    }

    /// Stops the report task after one last report of what was counted since the previous
    /// one (each call bounded by the [report timeout](StatReporterBuilder::report_timeout)).
    /// Calls counted afterwards by the observers are not reported.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let task = lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Reporting {
    /// One report of both tables and the properties.
    async fn report(&self) -> Result<(), StatError> {
        let mut first_error = None;
        let mut keep = |result: Result<(), StatError>| {
            if let Err(error) = result {
                tracing::debug!(%error, "stat report failed");
                first_error.get_or_insert(error);
            }
        };
        let (client_lines, client_dropped) = self.tables.client.drain();
        let (server_lines, server_dropped) = self.tables.server.drain();
        if client_dropped + server_dropped > 0 {
            tracing::warn!(
                client = client_dropped,
                server = server_dropped,
                "calls not counted: too many distinct lines in one interval"
            );
        }
        if let Some((object, proxy)) = &self.stat {
            let client = self.client_heads(client_lines);
            for chunk in chunks(client, self.max_report_size, stat_len) {
                keep(check(object, proxy.report_mic_msg(chunk, true).await));
            }
            let server = self.server_heads(server_lines);
            for chunk in chunks(server, self.max_report_size, stat_len) {
                keep(check(object, proxy.report_mic_msg(chunk, false).await));
            }
        }
        if let Some((object, proxy)) = &self.property {
            let properties = self.property_lines();
            for chunk in chunks(properties, self.max_report_size, property_len) {
                keep(check(object, proxy.report_prop_msg(chunk).await));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The module's name as a head names it: with its set, if any.
    fn module_in_set(&self) -> String {
        match &self.set {
            Some(set) => format!("{}{}", self.module, set.suffix()),
            None => self.module.clone(),
        }
    }

    /// A client's lines as TarsCpp heads them: the caller is this module (with its set) and
    /// version, the callee the object's server name and endpoint.
    fn client_heads(
        &self,
        lines: Vec<(OwnedKey, Counts)>,
    ) -> Vec<(StatMicMsgHead, StatMicMsgBody)> {
        let master = limit(
            &format!("{}@{TARS_VERSION}", self.module_in_set()),
            MAX_NAME_LEN,
        );
        merge_heads(lines.into_iter().map(|(key, counts)| {
            let head = StatMicMsgHead {
                master_name: master.clone(),
                slave_name: limit(server_name(&key.peer), MAX_NAME_LEN),
                interface_name: limit(&key.function, MAX_NAME_LEN),
                master_ip: String::new(),
                slave_ip: limit(&key.ip.text(), MAX_IP_LEN),
                slave_port: i32::from(key.port),
                ..StatMicMsgHead::default()
            };
            (head, counts)
        }))
    }

    /// A server's lines as TarsCpp heads them: the caller is named by its kind and address,
    /// the callee is this module, with its set.
    fn server_heads(
        &self,
        lines: Vec<(OwnedKey, Counts)>,
    ) -> Vec<(StatMicMsgHead, StatMicMsgBody)> {
        let slave = limit(&self.module_in_set(), MAX_NAME_LEN);
        let set = self.set.clone();
        merge_heads(lines.into_iter().map(|(key, counts)| {
            let mut head = StatMicMsgHead {
                master_name: limit(&key.peer, MAX_NAME_LEN),
                slave_name: slave.clone(),
                interface_name: limit(&key.function, MAX_NAME_LEN),
                master_ip: limit(&key.ip.text(), MAX_IP_LEN),
                ..StatMicMsgHead::default()
            };
            if let Some(set) = &set {
                head.slave_set_name.clone_from(&set.name);
                head.slave_set_area.clone_from(&set.area);
                head.slave_set_id.clone_from(&set.id);
            }
            (head, counts)
        }))
    }

    /// Every property's values since the last report, as TarsCpp heads them.
    fn property_lines(&self) -> Vec<(StatPropMsgHead, StatPropMsgBody)> {
        let states: Vec<Arc<PropertyState>> = lock(&self.properties).values().cloned().collect();
        let module = self.module_in_set();
        let mut lines: Vec<_> = states
            .iter()
            .map(|state| {
                let mut head = StatPropMsgHead {
                    module_name: module.clone(),
                    property_name: state.name().to_string(),
                    i_property_ver: 2,
                    ..StatPropMsgHead::default()
                };
                if let Some(set) = &self.set {
                    head.set_name.clone_from(&set.name);
                    head.set_area.clone_from(&set.area);
                    head.set_id.clone_from(&set.id);
                }
                let body = StatPropMsgBody {
                    v_info: state.take(),
                };
                (head, body)
            })
            .collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        lines
    }
}

/// Lines with their wire bodies, in head order, lines under one head merged.
fn merge_heads(
    lines: impl Iterator<Item = (StatMicMsgHead, Counts)>,
) -> Vec<(StatMicMsgHead, StatMicMsgBody)> {
    let mut merged: BTreeMap<StatMicMsgHead, Counts> = BTreeMap::new();
    for (head, counts) in lines {
        merged.entry(head).or_default().merge(&counts);
    }
    merged
        .into_iter()
        .map(|(head, counts)| (head, counts.body()))
        .collect()
}

/// TarsCpp's size estimate of a stat line.
fn stat_len(head: &StatMicMsgHead, _: &StatMicMsgBody) -> usize {
    STAT_PROTOCOL_LEN
        + head.master_name.len()
        + head.slave_name.len()
        + head.interface_name.len()
        + head.slave_set_name.len()
        + head.slave_set_area.len()
        + head.slave_set_id.len()
}

/// TarsCpp's size estimate of a property line: a fixed part and one per value (TarsCpp
/// computes the strings' lengths too, then overwrites the sum with this).
fn property_len(_: &StatPropMsgHead, body: &StatPropMsgBody) -> usize {
    PROPERTY_PROTOCOL_LEN + body.v_info.len()
}

/// Cuts sorted lines into maps of at most `max` estimated bytes, as TarsCpp's `reportMicMsg`
/// and `reportPropMsg` do: a line that would take a map over the limit starts the next one (a
/// line over the limit by itself goes alone).
pub(super) fn chunks<K: Ord, V>(
    lines: Vec<(K, V)>,
    max: usize,
    len: impl Fn(&K, &V) -> usize,
) -> Vec<BTreeMap<K, V>> {
    let mut chunks = Vec::new();
    let mut current = BTreeMap::new();
    let mut size = 0;
    for (key, value) in lines {
        let line = len(&key, &value);
        size += line;
        if size > max && !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
            size = line;
        }
        current.insert(key, value);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// A report call's outcome as the reporter's error.
fn check(object: &str, result: crate::Result<i32>) -> Result<(), StatError> {
    match result {
        Ok(0) => Ok(()),
        Ok(ret) => Err(StatError::Refused {
            object: object.to_string(),
            ret,
        }),
        Err(source) => Err(StatError::Report {
            object: object.to_string(),
            source,
        }),
    }
}

/// The server name of an object, `App.Server` of `App.Server.Obj` (the name itself if it has
/// fewer parts).
fn server_name(object: &str) -> &str {
    match object.match_indices('.').nth(1) {
        Some((second_dot, _)) => &object[..second_dot],
        None => object,
    }
}

/// TarsCpp's `trimAndLimitStr`: `\r` and `\t` trimmed off both ends, cut to `max` bytes (at a
/// character boundary).
fn limit(text: &str, max: usize) -> String {
    let trimmed = text.trim_matches(['\r', '\t']);
    let mut end = trimmed.len().min(max);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    trimmed[..end].to_string()
}

/// The object of a proxy string: before any `@`.
fn object_name(proxy: &str) -> String {
    proxy.split('@').next().unwrap_or(proxy).trim().to_string()
}

/// Builds a [`StatReporter`] from the TARS client configuration keys `stat`, `property`,
/// `report-interval` and `modulename` (and the server's `setdivision`), each method naming its
/// key. From [`StatReporter::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct StatReporterBuilder {
    communicator: Communicator,
    stat: Option<String>,
    property: Option<String>,
    interval: Duration,
    min_interval: Duration,
    module: String,
    set_division: Option<String>,
    report_timeout: Duration,
    max_report_size: usize,
}

impl fmt::Debug for StatReporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatReporterBuilder")
            .field("stat", &self.stat)
            .field("property", &self.property)
            .field("interval", &self.interval)
            .field("module", &self.module)
            .field("set_division", &self.set_division)
            .finish_non_exhaustive()
    }
}

impl StatReporterBuilder {
    /// The stat object (`<client> stat`), e.g. `tars.tarsstat.StatObj` (found through the
    /// communicator's discovery) or `tars.tarsstat.StatObj@tcp -h HOST -p PORT`. Without it,
    /// call statistics are counted but not sent.
    pub fn stat(mut self, object: impl Into<String>) -> Self {
        self.stat = Some(object.into());
        self
    }

    /// The property object (`<client> property`), e.g. `tars.tarsproperty.PropertyObj`.
    /// Without it, properties are not sent.
    pub fn property(mut self, object: impl Into<String>) -> Self {
        self.property = Some(object.into());
        self
    }

    /// The interval between reports (`<client> report-interval`, in milliseconds there):
    /// default 60 s; shorter than the [minimum](Self::min_report_interval) (10 s, as TarsCpp)
    /// means the minimum.
    pub fn report_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Lowers (or raises) the shortest interval [`report_interval`](Self::report_interval)
    /// accepts, 10 s by default as in TarsCpp: for tests, which cannot wait that long. At
    /// least 1 ms.
    pub fn min_report_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The module's name (`<client> modulename`), `App.Server`: the caller in client reports,
    /// the callee in server reports, the owner of the properties. Default `unknown`.
    pub fn module_name(mut self, name: impl Into<String>) -> Self {
        self.module = name.into();
        self
    }

    /// The service's set (`<application> setdivision`, `name.area.group`, when `enableset`
    /// is on): added to the module's name and sent in the set fields. A division of another
    /// form, or whose name or area is `*`, means no set, as in TarsCpp.
    pub fn set_division(mut self, division: impl Into<String>) -> Self {
        self.set_division = Some(division.into());
        self
    }

    /// How long one report call may take, default and at least 5 s (TarsCpp's).
    pub fn report_timeout(mut self, timeout: Duration) -> Self {
        self.report_timeout = timeout.max(DEFAULT_REPORT_TIMEOUT);
        self
    }

    /// The estimated size above which a report is cut into several calls: 1400 bytes by
    /// default; outside 500..=1400, the default (as TarsCpp).
    pub fn max_report_size(mut self, bytes: usize) -> Self {
        self.max_report_size = if (MIN_REPORT_SIZE..=MAX_REPORT_SIZE).contains(&bytes) {
            bytes
        } else {
            MAX_REPORT_SIZE
        };
        self
    }

    /// The reporter, with its report task started.
    ///
    /// # Errors
    ///
    /// [`StatError::Object`] when the stat or property object is not a valid proxy string.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, which the report task needs.
    pub fn build(self) -> Result<StatReporter, StatError> {
        let interval = self.interval.max(self.min_interval);
        let proxy = |key: &'static str, object: &String| {
            self.communicator
                .proxy(object)
                .map(|proxy| proxy.with_timeout(self.report_timeout))
                .map_err(|source| StatError::Object {
                    key,
                    object: object.clone(),
                    source,
                })
        };
        let stat = match &self.stat {
            Some(object) => Some((
                object_name(object),
                StatFProxy::from_proxy(proxy("stat", object)?),
            )),
            None => None,
        };
        let property = match &self.property {
            Some(object) => Some((
                object_name(object),
                PropertyFProxy::from_proxy(proxy("property", object)?),
            )),
            None => None,
        };
        let own_objects = stat
            .iter()
            .map(|(name, _)| name.clone())
            .chain(property.iter().map(|(name, _)| name.clone()))
            .collect();
        let reporting = Arc::new(Reporting {
            tables: Arc::new(Tables {
                client: CallTable::default(),
                server: CallTable::default(),
                own_objects,
            }),
            properties: Mutex::default(),
            stat,
            property,
            module: limit(&self.module, MAX_NAME_LEN),
            set: self.set_division.as_deref().and_then(SetInfo::parse),
            max_report_size: self.max_report_size,
        });
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(reporting.clone(), interval, stop.clone()));
        Ok(StatReporter {
            reporting,
            stop,
            task: Mutex::new(Some(AbortOnDropHandle::new(task))),
            interval,
        })
    }
}

/// The report task: a report every `interval`, and a last one when `stop` is cancelled.
async fn run(reporting: Arc<Reporting>, interval: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {
                // errors are logged (at debug: a stat service down is no news every minute)
                let _ = reporting.report().await;
            }
        }
    }
    let _ = reporting.report().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cut_as_tarscpp() {
        // 100 + 3 names of 100 bytes: 400 bytes a line, three to a 1400-byte call
        let name = "x".repeat(100);
        let lines: Vec<(StatMicMsgHead, StatMicMsgBody)> = (0..7)
            .map(|i| {
                let head = StatMicMsgHead {
                    master_name: name.clone(),
                    slave_name: name.clone(),
                    interface_name: format!("{i:0>100}"),
                    ..StatMicMsgHead::default()
                };
                (head, StatMicMsgBody::default())
            })
            .collect();
        let sizes: Vec<usize> = chunks(lines, 1400, stat_len)
            .iter()
            .map(BTreeMap::len)
            .collect();
        assert_eq!(sizes, [3, 3, 1]);
    }

    #[test]
    fn a_line_over_the_limit_goes_alone() {
        let big = StatMicMsgHead {
            master_name: "y".repeat(2000),
            ..StatMicMsgHead::default()
        };
        let small = StatMicMsgHead::default();
        let sizes: Vec<usize> = chunks(
            vec![
                (small.clone(), StatMicMsgBody::default()),
                (big, StatMicMsgBody::default()),
            ],
            1400,
            stat_len,
        )
        .iter()
        .map(BTreeMap::len)
        .collect();
        assert_eq!(sizes, [1, 1]);
    }

    #[test]
    fn property_chunks_count_values() {
        // 50 + 2 per line: 26 lines fill 1352 bytes, the 27th would pass 1400
        let lines: Vec<_> = (0..30)
            .map(|i| {
                let head = StatPropMsgHead {
                    property_name: format!("p{i:02}"),
                    ..StatPropMsgHead::default()
                };
                let body = StatPropMsgBody {
                    v_info: vec![Default::default(); 2],
                };
                (head, body)
            })
            .collect();
        let sizes: Vec<usize> = chunks(lines, 1400, property_len)
            .iter()
            .map(BTreeMap::len)
            .collect();
        assert_eq!(sizes, [26, 4]);
    }

    #[test]
    fn names_as_tarscpp_cuts_them() {
        assert_eq!(
            server_name("TestApp.HelloServer.HelloObj"),
            "TestApp.HelloServer"
        );
        assert_eq!(server_name("Solo"), "Solo");
        assert_eq!(limit("\tabc\r", 2), "ab");
        assert_eq!(limit("é", 1), "");
        assert_eq!(
            object_name("tars.tarsstat.StatObj@tcp -h 1.2.3.4 -p 1"),
            "tars.tarsstat.StatObj"
        );
        assert_eq!(
            SetInfo::parse("mtt.s.1").map(|set| set.suffix()),
            Some(".mtts1".to_string())
        );
        assert_eq!(SetInfo::parse("*.s.1"), None);
        assert_eq!(SetInfo::parse("mtt.s"), None);
    }
}
