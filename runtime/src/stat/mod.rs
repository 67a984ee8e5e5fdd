//! Call statistics and properties reported to the TARS stat and property services, as
//! TarsCpp's `StatReport` and `PropertyReport` do.
//!
//! A TARS service reports, every `report-interval` (60 s by default):
//!
//! * per-call statistics to `tars.tarsstat.StatObj` through [`StatF`]'s `reportMicMsg`: for
//!   each line (caller, callee, function, addresses) the successes with their times (total,
//!   max, min, and a count per latency bucket of [`INTERVAL_POINTS`]), the timeouts and the
//!   other failures. A client reports its calls (`bFromClient` true: the caller is its module
//!   name, the callee the object's server name); a server reports the requests it served
//!   (`bFromClient` false);
//! * user properties to `tars.tarsproperty.PropertyObj` through [`PropertyF`]'s
//!   `reportPropMsg`: each [`Property`] summed up by its [`Policy`]s.
//!
//! A [`StatReporter`] does both. The client and the server know nothing of it: it counts
//! through their call observers, [`client::CallObserver`](crate::client::CallObserver)
//! ([`StatReporter::client_observer`]) and
//! [`server::CallObserver`](crate::server::CallObserver)
//! ([`StatReporter::server_observer`]). Its builder takes the TARS configuration keys
//! `<client> stat`, `property`, `report-interval` and `modulename`.
//!
//! ```no_run
//! use std::time::Duration;
//! use tars_rpc::client::Communicator;
//! use tars_rpc::server::Server;
//! use tars_rpc::stat::{Policy, StatReporter};
//!
//! # struct Hello;
//! # impl tars_rpc::server::Servant for Hello {
//! #     fn dispatch<'a>(&'a self, _: &'a tars_rpc::Current, p: bytes::Bytes)
//! #         -> futures::future::BoxFuture<'a, tars_rpc::Result<bytes::Bytes>> {
//! #         Box::pin(async move { Ok(p) })
//! #     }
//! # }
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // the reporter, calling the stat and property services through a communicator of its own
//! let reporter = StatReporter::builder(Communicator::new())
//!     .stat("tars.tarsstat.StatObj@tcp -h 10.0.0.5 -p 10003")         // <client> stat
//!     .property("tars.tarsproperty.PropertyObj@tcp -h 10.0.0.5 -p 10004") // property
//!     .report_interval(Duration::from_millis(60_000))                   // report-interval
//!     .module_name("TestApp.HelloServer")                               // modulename
//!     .build()?;
//!
//! // the calls of this communicator's proxies are reported as a client's
//! let communicator = Communicator::builder()
//!     .call_observer(reporter.client_observer())
//!     .build();
//!
//! // the requests this server serves are reported as a server's
//! let server = Server::builder()
//!     .servant("TestApp.HelloServer.HelloObj", "tcp -h 127.0.0.1 -p 18015", Hello)
//!     .call_observer(reporter.server_observer())
//!     .start()
//!     .await?;
//!
//! // a property: the largest and mean queue length of each interval
//! let queue = reporter.property("queueLength", &[Policy::Max, Policy::Avg]);
//! queue.report(3);
//!
//! // ... serve and call ...
//! server.shutdown().await;
//! reporter.shutdown().await; // reports what was counted since the last report
//! # drop(communicator);
//! # Ok(())
//! # }
//! ```
//!
//! # Where it differs from TarsCpp
//!
//! * A server reports every request it served (TarsGo's `stat_from_server`, and
//!   `one_way_client` for one-way requests; TarsCpp reports only one-way, TUP and non-TARS
//!   requests), with the caller's address; a request that ran past the timeout its client
//!   gave counts as a timeout.
//! * `returnValue` is 0 on both sides, as TarsCpp sends it (TarsGo sends the reply's code,
//!   one line per code); `tarsVersion` is left empty, the version going after the client's
//!   module name as in TarsCpp ([`TARS_VERSION`], this crate's version).
//! * A client counts the calls that reached an endpoint's connection; a call that found none
//!   (no endpoint could be connected) is not counted, as TarsCpp's adapters never see it.
//! * Latency buckets count successful calls only (TarsCpp counts a failure in the first
//!   bucket, as a call of 0 ms).
//! * The callee's set is not reported by a client: endpoints do not carry it here.
//! * `Max` starts every interval at -9999999 (TarsCpp: only the first; then 0).
//! * Reports are calls awaited one after the other by the report task, each bounded by the
//!   report timeout; TarsCpp sends them asynchronously.

mod property;
mod property_f;
mod reporter;
mod stat_f;
mod table;

pub use property::{Policy, Property};
pub use property_f::{
    PropertyF, PropertyFProxy, PropertyFServant, StatPropInfo, StatPropMsgBody, StatPropMsgHead,
};
pub use reporter::{
    ClientStats, ServerStats, StatError, StatReporter, StatReporterBuilder,
    DEFAULT_REPORT_INTERVAL, DEFAULT_REPORT_TIMEOUT, MAX_REPORT_SIZE, MIN_REPORT_INTERVAL,
    ONEWAY_MASTER_NAME, SERVER_MASTER_NAME, TARS_VERSION,
};
pub use stat_f::{
    ProxyInfo, StatF, StatFProxy, StatFServant, StatMicMsgBody, StatMicMsgHead, StatSampleMsg,
};
pub use table::INTERVAL_POINTS;

/// The stat service's object name, `tars.tarsstat.StatObj`: the usual `<client> stat`.
pub const STAT_OBJ: &str = "tars.tarsstat.StatObj";

/// The property service's object name, `tars.tarsproperty.PropertyObj`: the usual
/// `<client> property`.
pub const PROPERTY_OBJ: &str = "tars.tarsproperty.PropertyObj";
