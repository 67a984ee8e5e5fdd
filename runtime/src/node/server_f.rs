//! [`ServerF`]: what a server tells its tarsnode, TarsProtocol's `servant/NodeF.tars`.

use tars_rpc_macros::tars_interface;

use crate::error::Result;
use crate::TarsStruct;

/// `struct ServerInfo` of `NodeF.tars`: who is alive, sent with every
/// [`keepAlive`](ServerF::keep_alive) and [`keepActiving`](ServerF::keep_activing).
///
/// tarsnode finds the server by `application` and `serverName`, checks `pid` against the
/// process it started, and marks the adapter named `adapter` alive (the whole server when it is
/// empty, as in the first keep-alive after the start).
///
/// ```
/// use tars_rpc::node::ServerInfo;
/// use tars_rpc::TarsStruct;
///
/// let info = ServerInfo {
///     application: "A".into(),
///     server_name: "S".into(),
///     pid: 7,
///     adapter: String::new(), // optional: left off when empty, as TarsCpp writes it
/// };
/// assert_eq!(&info.to_bytes()[..], b"\x06\x01A\x16\x01S\x20\x07");
/// ```
#[derive(TarsStruct, Debug, Clone, PartialEq, Eq, Default)]
#[tars(crate = "crate")]
pub struct ServerInfo {
    /// `0 require string application`: the TARS application (`TestApp`).
    #[tars(tag = 0)]
    pub application: String,
    /// `1 require string serverName`: the server's name within it (`HelloServer`).
    #[tars(tag = 1)]
    pub server_name: String,
    /// `2 require int pid`: the process id.
    #[tars(tag = 2)]
    pub pid: i32,
    /// `3 optional string adapter`: the adapter this keep-alive is for (`AdminAdapter`,
    /// `TestApp.HelloServer.HelloObjAdapter`), empty for the whole server.
    #[tars(tag = 3, optional)]
    pub adapter: String,
}

/// The interface tarsnode serves to the servers it runs, `interface ServerF` of TarsProtocol's
/// `servant/NodeF.tars` (module `tars`), as `tars.tarsnode.ServerObj` at the address of the
/// server's config key `node`.
///
/// A server that does not call [`keepAlive`](Self::keep_alive) regularly is taken for hung
/// and restarted; [`KeepAlive`](super::KeepAlive) does it for a Rust server.
/// [`ServerFProxy`] calls a tarsnode; [`ServerFServant`] serves an implementation (a stand-in
/// node in tests).
///
/// ```no_run
/// use tars_rpc::client::Communicator;
/// use tars_rpc::node::{ServerFProxy, ServerInfo};
///
/// # async fn run() -> tars_rpc::Result<()> {
/// let node: ServerFProxy = Communicator::new()
///     .string_to_proxy("tars.tarsnode.ServerObj@tcp -h 127.0.0.1 -p 19386")
///     .expect("a valid proxy string");
/// let info = ServerInfo {
///     application: "TestApp".into(),
///     server_name: "HelloServer".into(),
///     pid: std::process::id() as i32,
///     adapter: "AdminAdapter".into(),
/// };
/// let ret = node.keep_alive(info).await?;
/// # Ok(())
/// # }
/// ```
#[tars_interface(crate = "crate")]
pub trait ServerF {
    /// `int keepAlive(ServerInfo serverInfo);`: the server (or one adapter of it) is alive.
    /// tarsnode answers 0.
    async fn keep_alive(&self, server_info: ServerInfo) -> Result<i32>;

    /// `int keepActiving(ServerInfo serverInfo);`: the server is still starting (its
    /// initialization runs long); tarsnode keeps it "activating" rather than kill it.
    async fn keep_activing(&self, server_info: ServerInfo) -> Result<i32>;

    /// `int reportVersion(string app, string serverName, string version);`: the version of
    /// the TARS framework the server is built with, reported once at the start.
    async fn report_version(
        &self,
        app: String,
        server_name: String,
        version: String,
    ) -> Result<i32>;

    /// `unsigned int getLatestKeepAliveTime();`: when tarsnode last sent its own keep-alive to
    /// the registry, in seconds since the epoch (TarsGo's and tarsnode's `NodeF.tars` have it;
    /// TarsProtocol's does not).
    async fn get_latest_keep_alive_time(&self) -> Result<u32>;
}
