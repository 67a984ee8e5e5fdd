//! [`AdminF`]: how tarsnode and the TARS web platform manage a running server, TarsProtocol's
//! `servant/AdminF.tars`.

use tars_rpc_macros::tars_interface;

use crate::error::Result;

/// The administration interface every TARS server serves, `interface AdminF` of TarsProtocol's
/// `servant/AdminF.tars` (module `tars`), as the servant `AdminObj` of the adapter
/// `AdminAdapter` at the server's `local` endpoint (`tcp -h 127.0.0.1 -p 19385`).
///
/// tarsnode calls [`shutdown`](Self::shutdown) to stop the server, and
/// [`notify`](Self::notify) with the commands an operator sends from the web platform
/// (`tars.viewstatus`, `tars.setloglevel DEBUG`, ...). [`AdminServant`](super::AdminServant)
/// implements it; serve it with [`AdminFServant`], call a server's with [`AdminFProxy`].
///
/// ```no_run
/// use tars_rpc::client::Communicator;
/// use tars_rpc::node::AdminFProxy;
///
/// # async fn run() -> tars_rpc::Result<()> {
/// let admin: AdminFProxy = Communicator::new()
///     .string_to_proxy("AdminObj@tcp -h 127.0.0.1 -p 19385")
///     .expect("a valid proxy string");
/// println!("{}", admin.notify("tars.viewstatus".into()).await?);
/// # Ok(())
/// # }
/// ```
#[tars_interface(crate = "crate")]
pub trait AdminF {
    /// `void shutdown();`: stop the server (gracefully: TarsCpp's `AdminServant` sends itself
    /// SIGINT).
    async fn shutdown(&self) -> Result<()>;

    /// `string notify(string command);`: run an administration command, `name params`, and
    /// answer what it printed; an unknown command answers `""`.
    async fn notify(&self, command: String) -> Result<String>;

    /// `long getPid();`: the server's process id.
    async fn get_pid(&self) -> Result<i64>;
}
